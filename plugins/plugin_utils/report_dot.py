# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report's pictures: a host record (or the fleet's records) -> Graphviz DOT. Pure."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.plugin_utils.report_data import (
    LOOPBACKS, _fleet_routes, _foreign_names, _info, _merged_ports, _networks, _route_text,
    _split, _uplinks)


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
    up_ids, lines = _dot_uplinks(ups)
    out += lines
    has_lo = any((p.get('host_ip') or '').startswith(LOOPBACKS)
                 for _b, net in nets for p in (net.get('published_ports') or []))
    if has_lo:
        out.append('    "host:lo" [label="host lo\\n127.0.0.1, ::1", fillcolor="#eeeeee"];')
    edges = ['  "outside" -> %s [dir=both, arrowhead=none, arrowtail=none];' % _q(i)
             for i in sorted(set(up_ids.values()))]
    for bridge, net in nets:
        lines, more = _dot_network(bridge, net, up_ids)
        out += lines
        edges += more
    out += _dot_foreign(info)
    out.append('  }')
    out += edges
    out.append('}')
    return '\n'.join(out) + '\n'


def _dot_uplinks(ups):
    """The uplink nodes, and which node carries each family."""
    up_ids, out = {}, []
    for up in ups:
        nid = 'up:%s' % up['name']
        for fam in up['families']:
            up_ids[fam] = nid
        out.append('    %s %s;' % (_q(nid), _attrs(
            label=_label('uplink %s' % up['name'], *up['addresses']), fillcolor='"#dde8f7"')))
    if not ups:
        up_ids = {'ipv4': 'up:?', 'ipv6': 'up:?'}
        out.append('    "up:?" [label="uplink unknown\\n(no default route)", style="dashed"];')
    return up_ids, out


def _dot_network(bridge, net, up_ids):
    """One network: its bridge and NAT edges, its containers, its published ports."""
    out, edges = _dot_bridge(bridge, net, up_ids)
    bid = 'br:%s' % bridge
    for ctr in net.get('containers') or []:
        lines, more = _dot_container(bridge, ctr, bid)
        out += lines
        edges += more
    lines, more = _dot_ports(bridge, net, up_ids)
    return out + lines, edges + more


def _dot_bridge(bridge, net, up_ids):
    """The bridge node, and one edge per uplink with its NAT (or "routed")."""
    out, edges = [], []
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
    return out, edges


def _dot_container(bridge, ctr, bid):
    """A container's namespace cluster, its host-side veth end and their edges."""
    out, edges = [], []
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
    return out, edges


def _dot_ports(bridge, net, up_ids):
    """One edge per published port (merged over families), uplink or lo -> container."""
    out, edges = [], []
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
    return out, edges


def _dot_foreign(info):
    """One node listing the bridges and namespaces that are not ours."""
    out = []
    foreign = info.get('foreign') or {}
    f_ns = _foreign_names(foreign.get('namespaces'))
    f_br = _foreign_names(foreign.get('bridges'))
    if f_ns or f_br:
        out.append('    "foreign" %s;' % _attrs(label=_label(
            'not ours', *(['bridge %s' % b for b in f_br] + ['netns %s' % n for n in f_ns])),
            style='"rounded,dashed"', color='"#999999"', fontcolor='"#777777"'))
    return out


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
