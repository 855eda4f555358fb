# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report of playbooks/report.yml: network_info results -> Markdown and Graphviz DOT.

Pure functions of the data (no I/O, no kernel): the playbook gathers, these render,
``dot`` lays the pictures out. Every filter takes a *host record*::

    {'name': 'lab-host1',                       # inventory name
     'info': <the network_info result>,         # networks, host, foreign, drift
     'uplink': {'ipv4': ansible_default_ipv4,   # facts ({} when the host has none)
                'ipv6': ansible_default_ipv6}}

or a list of them (``report_index``, ``report_fleet_dot``).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.linuxnet.container_network.plugins.plugin_utils.report_data import (
    _cell, _fleet_routes, _foreign_names, _info, _networks, _port_key,
    _route_text, _split, _table, _uplinks, _yes_no_families, drift_lines)
from ansible_collections.linuxnet.container_network.plugins.plugin_utils.report_dot import report_dot, report_fleet_dot


def report_markdown(record, picture=True):
    """One host's report (Markdown): networks, containers, published ports, NAT, drift."""
    info = _info(record)
    name = record['name']
    host = info.get('host') or {}
    out = ['# %s' % name, '']
    ups = _uplinks(record)
    if ups:
        out.append('Uplink: ' + '; '.join(
            '%s %s' % (u['name'], ', '.join(u['addresses']) or '(no address)') for u in ups))
    else:
        out.append('Uplink: none (no default route)')
    out.append('Forwarding: IPv4 %s, IPv6 %s' % (
        _cell(host.get('ip_forward')), _cell(host.get('ipv6_forwarding'))))
    out.append('')
    if picture:
        out += ['![%s](%s.svg)' % (name, name), '']
    nets = _networks(info)
    if not nets:
        out += ['No container network of this collection on this host.', '']
    for bridge, net in nets:
        out += _network_markdown(info, bridge, net)
    foreign = info.get('foreign')
    if foreign is not None:
        out += ['## Not ours', '',
                '- namespaces: %s' % _cell(_foreign_names(foreign.get('namespaces'))),
                '- bridges: %s' % _cell(_foreign_names(foreign.get('bridges'))), '']
    return '\n'.join(out)


def _network_markdown(info, bridge, net):
    """One network's section: bridge, options, containers, published ports, routes, drift."""
    br = net.get('bridge') or {}
    out = ['## Network %s' % bridge, '']
    out += _table(
        ['bridge', 'present', 'up', 'MTU', 'MAC', 'addresses', 'subnet', 'gateway',
         'IPv6 subnet', 'IPv6 gateway'],
        [[br.get('name', bridge), br.get('present'), br.get('up'), br.get('mtu'),
          br.get('mac'), br.get('addresses'), net.get('subnet'), net.get('gateway'),
          net.get('ipv6_subnet'), net.get('ipv6_gateway')]])
    persistent = net.get('persistent') or {}
    out += ['',
            '- masquerade: %s' % _yes_no_families(net.get('masquerade')),
            '- ingress protection: %s' % _yes_no_families(net.get('ingress_protection')),
            '- localhost guard: %s' % _cell(net.get('localhost_guard')),
            '- persistent: %s' % (
                ('yes (%s)' % persistent.get('unit')) if persistent.get('enabled') else 'no'),
            '']
    out += ['### Containers', '']
    rows = []
    for ctr in net.get('containers') or []:
        v4, v6 = _split(ctr.get('addresses'))
        rows.append([ctr.get('name'), ctr.get('namespace'), ctr.get('host_ifname'),
                     ctr.get('ifname'), v4, v6, ctr.get('mtu'), ctr.get('up')])
    if rows:
        out += _table(['name', 'namespace', 'host ifname', 'ifname', 'IPv4', 'IPv6',
                       'MTU', 'up'], rows)
    else:
        out.append('none')
    out += ['', '### Published ports', '']
    rows = []
    for port in sorted(net.get('published_ports') or [], key=_port_key):
        rows.append([port.get('protocol'), port.get('family'), port.get('host_ip') or '*',
                     port.get('host_port'), port.get('container'),
                     port.get('container_address'), port.get('container_port'),
                     port.get('rules')])
    if rows:
        out += _table(['protocol', 'family', 'host IP', 'host port', 'container',
                       'container address', 'container port', 'rules'], rows)
    else:
        out.append('none')
    routes = net.get('fleet_routes') or []
    if routes:
        out += ['', '### Fleet routes', '']
        out += ['- `%s`' % _route_text(r) for r in routes]
    out += ['', '### Drift', ''] + drift_lines(info, bridge) + ['']
    return out


def report_index(records, failed=None):
    """The index (README.md of the report directory): hosts, counts, drift, pictures."""
    if not isinstance(records, list):
        raise AnsibleFilterError('report_index: wants a list of host records')
    out = ['# Container networks', '',
           '| host | networks | containers | published ports | drift | report | picture |',
           '|---|---|---|---|---|---|---|']
    fleet = False
    for record in sorted(records, key=lambda r: str(r.get('name'))):
        info = _info(record)
        nets = _networks(info)
        drift = info.get('drift') or {}
        drifting = sorted(b for b, _n in nets
                          if (drift.get(b) or {}).get('actions') or
                          (drift.get(b) or {}).get('error'))
        unknown = [b for b, _n in nets if b not in drift]
        state = (('changes: ' + ', '.join(drifting)) if drifting else
                 ('unknown: ' + ', '.join(unknown)) if unknown else 'none')
        name = record['name']
        out.append('| ' + ' | '.join([
            _cell(name), _cell([b for b, _n in nets]),
            str(sum(len(n.get('containers') or []) for _b, n in nets)),
            str(sum(len(n.get('published_ports') or []) for _b, n in nets)),
            _cell(state), '[%s.md](%s.md)' % (name, name),
            '[svg](%s.svg), [png](%s.png)' % (name, name)]) + ' |')
        fleet = fleet or bool(_fleet_routes(info))
    for name in sorted(failed or []):
        out.append('| %s | no data (unreachable or failed) | - | - | - | - | - |' % _cell(name))
    out.append('')
    if fleet:
        out.append('Fleet: ![fleet](fleet.svg) ([png](fleet.png))')
    else:
        out.append('Fleet: no picture, no host has fleet routes (no fleet group: see the'
                   ' role\'s container_bridge_network_fleet_group).')
    out.append('')
    return '\n'.join(out)


def report_has_fleet(records):
    """Whether any host has fleet routes (then the fleet picture is drawn)."""
    return any(_fleet_routes(_info(r)) for r in records)


class FilterModule(object):
    """Filters rendering the container network report (see playbooks/report.yml)."""

    def filters(self):
        return {
            'report_markdown': report_markdown,
            'report_dot': report_dot,
            'report_index': report_index,
            'report_fleet_dot': report_fleet_dot,
            'report_has_fleet': report_has_fleet,
        }
