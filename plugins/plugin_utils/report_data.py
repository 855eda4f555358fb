# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report's reading of its input: host records (network_info results and facts) ->
uplinks, networks, ports, drift lines. Pure; shared by the Markdown and the DOT renderers
(plugins/filter/network_report.py, :mod:`report_dot`)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible.errors import AnsibleFilterError

LOOPBACKS = ('127.', '::1')


# ---------------------------------------------------------------- the data, read once

def _family(addr):
    return 'ipv6' if ':' in str(addr) else 'ipv4'


def _split(addrs):
    """CIDR addresses -> (IPv4 ones, IPv6 ones), order kept."""
    addrs = [str(a) for a in (addrs or [])]
    return ([a for a in addrs if _family(a) == 'ipv4'],
            [a for a in addrs if _family(a) == 'ipv6'])


def _uplinks(record):
    """The host's uplink(s) from its default-route facts: [{name, addresses, families}].

    IPv4 and IPv6 default routes on one interface make one uplink; on two, two.
    """
    found = []
    facts = record.get('uplink') or {}
    for fam in ('ipv4', 'ipv6'):
        fact = facts.get(fam) or {}
        name = fact.get('interface')
        if not name:
            continue
        addr = fact.get('address')
        prefix = fact.get('prefix')
        if addr and not prefix and fact.get('netmask'):
            prefix = ipaddress.ip_network('0.0.0.0/%s' % fact['netmask']).prefixlen
        for up in found:
            if up['name'] == name:
                break
        else:
            up = {'name': name, 'addresses': [], 'families': []}
            found.append(up)
        up['families'].append(fam)
        if addr:
            up['addresses'].append('%s/%s' % (addr, prefix) if prefix else str(addr))
    return found


def _info(record):
    if not isinstance(record, dict) or 'name' not in record:
        raise AnsibleFilterError(
            'network report: a host record is a dict with name, info and uplink (got %s);'
            ' build it as playbooks/report.yml does' % type(record).__name__)
    info = record.get('info') or {}
    if not isinstance(info, dict) or not isinstance(info.get('networks', {}), dict):
        raise AnsibleFilterError(
            'network report: host %s: info is not a network_info result (no networks dict);'
            ' register linuxnet.container_network.network_info and pass that'
            % record['name'])
    return info


def _networks(info):
    return [(name, info['networks'][name]) for name in sorted(info.get('networks') or {})]


def _port_key(port):
    return (str(port.get('protocol')), str(port.get('host_ip') or ''),
            _int_or(port.get('host_port')), str(port.get('container')),
            str(port.get('family')))


def _int_or(value):
    try:
        return (0, int(str(value).split('-', maxsplit=1)[0]), str(value))
    except ValueError:
        return (1, 0, str(value))


def _merged_ports(ports):
    """Published ports by (protocol, host_ip, host_port, container, container_port):
    one entry with the families it serves (the picture draws one edge for both)."""
    merged = {}
    for port in sorted(ports or [], key=_port_key):
        key = (port.get('protocol'), port.get('host_ip') or None, str(port.get('host_port')),
               port.get('container'), str(port.get('container_port')))
        entry = merged.setdefault(key, {'port': port, 'families': []})
        entry['families'].append(port.get('family'))
    return list(merged.values())


def _foreign_names(items):
    return sorted(str(i.get('name')) if isinstance(i, dict) else str(i) for i in (items or []))


def _fleet_routes(info):
    return [(name, route) for name, net in _networks(info)
            for route in (net.get('fleet_routes') or [])]


# ---------------------------------------------------------------- Markdown

def _cell(value):
    if value is None or value == '' or value == []:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, (list, tuple)):
        value = ', '.join(str(v) for v in value)
    return str(value).replace('\\', '\\\\').replace('|', '\\|').replace('\n', ' ')


def _table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(_cell(v) for v in row) + ' |' for row in rows]
    return lines


def _yes_no_families(value):
    """{ipv4: true, ipv6: false} -> 'IPv4 yes, IPv6 no'; a plain bool -> yes/no."""
    if isinstance(value, dict):
        return ', '.join('%s %s' % ({'ipv4': 'IPv4', 'ipv6': 'IPv6'}.get(k, k), _cell(value[k]))
                         for k in sorted(value))
    return _cell(value)


def _action_text(action):
    if not isinstance(action, dict):
        return str(action)
    text = '%s %s' % (action.get('op', '?'), action.get('target', ''))
    extra = ['%s=%s' % (k, action[k]) for k in sorted(action)
             if k not in ('op', 'target', 'stage')]
    if action.get('stage'):
        text = '[%s] %s' % (action['stage'], text)
    if extra:
        text += ' (%s)' % ', '.join(extra)
    return text.strip()


def drift_lines(info, bridge):
    """The drift of one network as Markdown lines: its actions, 'none', or why unknown."""
    drift = info.get('drift')
    if drift is None or bridge not in drift:
        return ['not known: network_info had no description of this network'
                ' (not persistent, and none given)']
    entry = drift[bridge] or {}
    actions = entry.get('actions') or []
    if entry.get('error'):
        return ['a converge would fail: %s' % entry['error']]
    if not actions:
        return ['none']
    return ['%d action(s) a converge would take:' % len(actions), ''] + [
        '1. `%s`' % _action_text(a).replace('`', "'") for a in actions]


def _route_text(route):
    if isinstance(route, dict):
        dst = route.get('dst') or route.get('subnet') or '?'
        via = route.get('gateway') or route.get('via')
        text = '%s via %s' % (dst, via) if via else str(dst)
        if route.get('backend') == 'vxlan':
            text += ' dev %s (vxlan to %s)' % (route.get('dev'), route.get('underlay') or '?')
        return text
    return str(route)
