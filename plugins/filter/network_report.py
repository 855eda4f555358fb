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
        br = net.get('bridge') or {}
        out += ['## Network %s' % bridge, '']
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
    foreign = info.get('foreign')
    if foreign is not None:
        out += ['## Not ours', '',
                '- namespaces: %s' % _cell(_foreign_names(foreign.get('namespaces'))),
                '- bridges: %s' % _cell(_foreign_names(foreign.get('bridges'))), '']
    return '\n'.join(out)


def _route_text(route):
    if isinstance(route, dict):
        dst = route.get('dst') or route.get('subnet') or '?'
        via = route.get('gateway') or route.get('via')
        text = '%s via %s' % (dst, via) if via else str(dst)
        if route.get('backend') == 'vxlan':
            text += ' dev %s (vxlan to %s)' % (route.get('dev'), route.get('underlay') or '?')
        return text
    return str(route)


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


# ---------------------------------------------------------------- Graphviz DOT

def _q(text):
    """A DOT double-quoted string (labels: lines joined by \\n)."""
    return '"%s"' % str(text).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def _label(*lines):
    return _q('\n'.join(str(x) for x in lines if x not in (None, '')))


def _attrs(**kw):
    return '[%s]' % ', '.join('%s=%s' % (k, v) for k, v in sorted(kw.items()))


def _port_label(entry):
    port = entry['port']
    fams = sorted(set(f for f in entry['families'] if f))
    host = port.get('host_ip')
    where = ('[%s]:%s' % (host, port.get('host_port')) if host and ':' in str(host) else
             '%s:%s' % (host, port.get('host_port')) if host else str(port.get('host_port')))
    text = '%s %s -> %s:%s' % (port.get('protocol'), where,
                               port.get('container') or port.get('container_address'),
                               port.get('container_port'))
    if fams == ['ipv6']:
        text += ' (IPv6)'
    elif fams == ['ipv4', 'ipv6']:
        text += ' (IPv4+IPv6)'
    return text


def report_dot(record):
    """One host's topology as Graphviz DOT, in the spirit of the seed article's figures:
    the host as a cluster, the uplink on the left, the bridge in the middle, one cluster
    per container namespace on the right, veth pairs as edges, NAT on the bridge-uplink
    edge, published ports as edges from the uplink to the container."""
    info = _info(record)
    name = record['name']
    nets = _networks(info)
    ups = _uplinks(record)
    out = ['digraph %s {' % _q(name),
           '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.7,'
           ' compound=true];',
           '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled",'
           ' fillcolor="#ffffff"];',
           '  edge [fontname="Helvetica", fontsize=9];',
           '  "outside" [shape=ellipse, label="outside", fillcolor="#f4f4f4"];',
           '  subgraph "cluster_host" {',
           '    label=%s; style="rounded"; color="#555555";' % _q('host %s' % name)]
    up_ids = {}
    for up in ups:
        nid = 'up:%s' % up['name']
        for fam in up['families']:
            up_ids[fam] = nid
        out.append('    %s %s;' % (_q(nid), _attrs(
            label=_label('uplink %s' % up['name'], *up['addresses']), fillcolor='"#dde8f7"')))
    if not ups:
        up_ids = {'ipv4': 'up:?', 'ipv6': 'up:?'}
        out.append('    "up:?" [label="uplink unknown\\n(no default route)", style="dashed"];')
    has_lo = any((p.get('host_ip') or '').startswith(LOOPBACKS)
                 for _b, net in nets for p in (net.get('published_ports') or []))
    if has_lo:
        out.append('    "host:lo" [label="host lo\\n127.0.0.1, ::1", fillcolor="#eeeeee"];')
    edges = ['  "outside" -> %s [dir=both, arrowhead=none, arrowtail=none];' % _q(i)
             for i in sorted(set(up_ids.values()))]
    for bridge, net in nets:
        br = net.get('bridge') or {}
        bid = 'br:%s' % bridge
        ok = br.get('present', True) and br.get('up', True)
        out.append('    %s %s;' % (_q(bid), _attrs(
            label=_label('bridge %s' % bridge, *((br.get('addresses') or []) + [
                '' if br.get('present', True) else '(missing)',
                '' if ok or not br.get('present', True) else 'DOWN'])),
            fillcolor='"#fde9c9"' if ok else '"#f7d4d4"',
            style='"rounded,filled"' if ok else '"rounded,filled,dashed"')))
        nat = []
        masq = net.get('masquerade') or {}
        if masq.get('ipv4') and net.get('subnet'):
            nat.append('masquerade %s' % net['subnet'])
        if masq.get('ipv6') and net.get('ipv6_subnet'):
            nat.append('NAT66 %s' % net['ipv6_subnet'])
        # one edge per uplink: its NAT (or "routed" for a family without it)
        per_up = {}
        for fam in ('ipv4', 'ipv6'):
            subnet = net.get('subnet' if fam == 'ipv4' else 'ipv6_subnet')
            if not subnet:
                continue
            fam_nat = [t for t in nat if (':' in t) == (fam == 'ipv6')]
            per_up.setdefault(up_ids.get(fam, 'up:?'), []).extend(
                fam_nat or ['routed %s' % subnet])
        for uid in sorted(per_up):
            # uplink -> bridge keeps the bridge right of the uplink; the arrow points
            # the way the traffic leaves
            edges.append('  %s -> %s %s;' % (_q(uid), _q(bid), _attrs(
                label=_q('\n'.join(per_up[uid])), color='"#3b6fb6"', dir='back',
                style='bold' if nat else 'solid')))
        for ctr in net.get('containers') or []:
            # a veth pair whose namespace is gone has no name: its host end names it
            cname = ctr.get('name') or '?%s' % ctr.get('host_ifname')
            nsid = 'ns:%s/%s' % (bridge, cname)
            ifname = ctr.get('ifname')
            present = ctr.get('namespace', True)
            out.append('    subgraph %s {' % _q('cluster_ns_%s_%s' % (bridge, cname)))
            out.append('      label=%s; style="rounded,filled"; fillcolor="#eef6ea";'
                       ' color="%s";' % (_q('netns %s%s' % (cname, '' if present else ' (missing)')),
                                         '#5a9a4a' if present
                                         else '#c03030'))
            v4, v6 = _split(ctr.get('addresses'))
            mtu = ctr.get('mtu')
            state = ('' if ctr.get('up', True) else 'DOWN') if ifname else ''
            out.append('      %s %s;' % (_q(nsid), _attrs(
                label=_label(ifname or '(no interface)', *(v4 + v6 + [
                    'mtu %s' % mtu if mtu else '', state])),
                style='"rounded,filled"' if (ifname and ctr.get('up', True))
                else '"rounded,filled,dashed"')))
            out.append('    }')
            host_if = ctr.get('host_ifname')
            if host_if:
                hid = 'veth:%s' % host_if
                out.append('    %s %s;' % (_q(hid), _attrs(label=_q(host_if),
                                                           fillcolor='"#f2f2f2"')))
                attached = ctr.get('attached', True)
                edges.append('  %s -> %s %s;' % (_q(bid), _q(hid), _attrs(
                    arrowhead='none', style='solid' if attached else 'dashed',
                    label=_q('' if attached else 'detached'))))
                if ifname:
                    edges.append('  %s -> %s %s;' % (_q(hid), _q(nsid), _attrs(
                        dir='both', arrowhead='none', arrowtail='none', penwidth='2',
                        label=_q('veth'))))
        for entry in _merged_ports(net.get('published_ports')):
            port = entry['port']
            src = 'host:lo' if (port.get('host_ip') or '').startswith(LOOPBACKS) else \
                up_ids.get(entry['families'][0] or 'ipv4', up_ids.get('ipv4', 'up:?'))
            dst = 'ns:%s/%s' % (bridge, port.get('container'))
            if not port.get('container'):
                # its DNAT target is no container's address (any more)
                dst = 'gone:%s/%s' % (bridge, port.get('container_address'))
                out.append('    %s %s;' % (_q(dst), _attrs(
                    label=_label('no container', port.get('container_address')),
                    style='"rounded,dashed"', color='"#c03030"')))
            edges.append('  %s -> %s %s;' % (_q(src), _q(dst), _attrs(
                label=_q(_port_label(entry)), color='"#c0392b"', fontcolor='"#c0392b"',
                style='dashed', constraint='false')))
    foreign = info.get('foreign') or {}
    f_ns = _foreign_names(foreign.get('namespaces'))
    f_br = _foreign_names(foreign.get('bridges'))
    if f_ns or f_br:
        out.append('    "foreign" %s;' % _attrs(label=_label(
            'not ours', *(['bridge %s' % b for b in f_br] + ['netns %s' % n for n in f_ns])),
            style='"rounded,dashed"', color='"#999999"', fontcolor='"#777777"'))
    out.append('  }')
    out += edges
    out.append('}')
    return '\n'.join(out) + '\n'


def report_fleet_dot(records):
    """The fleet: one node per host with its subnets, one edge per fleet route (to the
    host whose uplink address is the route's gateway, else to that gateway)."""
    out = ['digraph "fleet" {',
           '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, label="fleet",'
           ' labelloc=t];',
           '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded"];',
           '  edge [fontname="Helvetica", fontsize=9];']
    by_addr = {}
    for record in records:
        for up in _uplinks(record):
            for addr in up['addresses']:
                by_addr[addr.split('/')[0]] = record['name']
    edges = []
    for record in sorted(records, key=lambda r: str(r['name'])):
        info = _info(record)
        subnets = [s for _b, n in _networks(info)
                   for s in (n.get('subnet'), n.get('ipv6_subnet')) if s]
        out.append('  %s [label=%s];' % (_q('host:' + record['name']),
                                         _label(record['name'], *subnets)))
        for _bridge, route in _fleet_routes(info):
            # the peer's address: a host-gw gateway, or a VXLAN VTEP's FDB destination
            via = (route.get('underlay') or route.get('gateway') or route.get('via')
                   if isinstance(route, dict) else None)
            target = ('host:' + by_addr[str(via)]) if str(via) in by_addr else \
                'gw:%s' % (via or '?')
            edges.append('  %s -> %s [label=%s];' % (_q('host:' + record['name']), _q(target),
                                                     _q(_route_text(route))))
    out += edges + ['}']
    return '\n'.join(out) + '\n'


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
