# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet networking (a stage of module ``network``): containers on different hosts
reach each other by their own addresses.

Every host of a fleet owns one container subnet; the description lists all members
(host name, container subnet, underlay address: what the role reads from the
inventory), so a host is configured with routes to every peer without contacting it.

* ``host-gw`` (peers on one L2 segment): a route per peer subnet via the peer's
  underlay address (like flannel's host-gw backend);
* ``vxlan`` (any IP reachability): one VXLAN device per network (``lnvx<VNI>``,
  unicast, no learning, UDP 4789), whose VTEP address is the host's container subnet's
  network address (/32) and whose MAC is derived from it (``02:4c:`` + the four bytes),
  so every host knows every peer's VTEP without asking; per peer a static FDB entry
  (MAC -> underlay address), a permanent neighbour entry (VTEP -> MAC) and a route
  (subnet via VTEP, onlink), as flannel's vxlan backend does. The containers' MTU is the
  underlay link's minus the VXLAN overhead (:data:`VXLAN_OVERHEAD`).

The routes are ours by their protocol (:data:`RTPROT_LINUXNET`) and realm (derived from
the bridge's name: one network's routes are told from another's); the VXLAN device by
its alias (``linuxnet:BRIDGE``). A peer that left the description loses its route, FDB
and neighbour entries; no fleet (``fleet`` not given) removes all of them and the device.
Traffic between fleet subnets is neither masqueraded nor dropped by ingress protection:
the NAT stage gets the peers' subnets (:func:`peer_subnets`).

Before any change (the stage runs first in the pipeline): the underlay address must be
this host's, no peer subnet may overlap a route of this host that is not ours, and with
host-gw every peer must be on-link.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket
import zlib

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import rtnl
from ansible_collections.linuxnet.container_network.plugins.module_utils import validate as v
from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import owner_tag
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    Action, ApplyError, PlanError, ValidationError)

BACKENDS = ('host-gw', 'vxlan')
RTPROT_LINUXNET = 76      # our routes' protocol (rt_protos has nothing at 76)
VXLAN_OVERHEAD = 50       # outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14)
MAX_VNI = (1 << 24) - 1
OPS = ('vxlan_create', 'vxlan_delete', 'vxlan_mtu', 'vtep_address', 'fdb_add', 'fdb_del',
       'neigh_set', 'neigh_del', 'route_set', 'route_del')


def device_name(vni):
    return 'lnvx%d' % vni


def realm(bridge):
    """The routes' realm of network ``bridge`` (1..65535)."""
    return (zlib.crc32(bridge.encode('utf-8')) & 0xffff) or 1


def vtep_mac(subnet):
    """The VXLAN device MAC of the host owning ``subnet``: known to every peer."""
    return '02:4c:' + ':'.join('%02x' % b for b in subnet.network_address.packed)


# ------------------------------------------------------------------ want
def fleet_want(fleet, bridge, subnet, prefix=''):
    """The ``fleet`` option -> the desired record, or one with no backend (no fleet: what
    there is goes). ValidationError naming the hosts concerned."""
    base = {'bridge': bridge, 'backend': None, 'realm': realm(bridge), 'self': None,
            'peers': [], 'vni': None, 'device': None,
            'at_boot': bool(fleet and fleet.get('at_boot'))}
    if not fleet:
        return base
    at = v.Path(prefix=prefix).fleet
    backend = v.one_of(fleet.get('backend') or 'host-gw', BACKENDS, at.backend)
    host = fleet.get('host')
    if not host:
        v.missing(at.host, "give this host's inventory name")
    vni = None
    if backend == 'vxlan':
        vni = fleet.get('vxlan_id')
        if not isinstance(vni, int) or isinstance(vni, bool) or not 1 <= vni <= MAX_VNI:
            v.fail(at.vxlan_id, vni, 'is not a VXLAN id', 'give a number from 1 to %d' % MAX_VNI)
    members = []
    for i, m in enumerate(fleet.get('members') or []):
        name = m.get('host')
        if not name:
            v.missing(at.members[i].host, "give the member's inventory name")
        members.append({'host': name, 'subnet': _subnet(m.get('subnet'), name, prefix),
                        'underlay': _underlay(m.get('underlay_address'), name, prefix)})
    v.unique((at.members[i].host, m['host'], m['host']) for i, m in enumerate(members))
    mine = [m for m in members if m['host'] == host]
    if not mine:
        v.fail(at.members, sorted(m['host'] for m in members), 'does not list this host (%s)'
               % host, 'list every host of the fleet, this one included')
    if mine[0]['subnet'] != subnet:
        raise ValidationError(
            'host %s: its fleet entry says container subnet %s, its %ssubnet is %s; the '
            'fleet is built from each host\'s own subnet, give one value'
            % (host, mine[0]['subnet'], prefix, subnet))
    for k, m in enumerate(members):
        for other in members[:k]:
            if m['subnet'].overlaps(other['subnet']):
                raise ValidationError(
                    'hosts %s and %s of the fleet have overlapping container subnets (%s and '
                    '%s): every host of the fleet needs its own %ssubnet, disjoint from the '
                    'others\' (set it in each host\'s host_vars)'
                    % (other['host'], m['host'], other['subnet'], m['subnet'], prefix))
            if m['underlay'] == other['underlay']:
                raise ValidationError(
                    'hosts %s and %s of the fleet have the same underlay address %s: give '
                    'each host the address its peers reach it at (%sunderlay_address)'
                    % (other['host'], m['host'], m['underlay'], prefix))
    return dict(base, backend=backend, vni=vni, self=mine[0],
                device=device_name(vni) if vni else None,
                peers=[m for m in members if m['host'] != host])


def _subnet(value, host, prefix):
    try:
        return v.subnet(value, v.Path(prefix=prefix).subnet, nat=True)
    except ValidationError as e:
        raise ValidationError('fleet host %s: %s' % (host, e))


def _underlay(value, host, prefix):
    try:
        ip = ipaddress.ip_address(str(value).strip()) if value is not None else None
    except ValueError:
        ip = None
    if ip is None or ip.version != 4:
        raise ValidationError(
            'fleet host %s: %sunderlay_address %s is not an IPv4 address; give the IPv4 '
            'address its peers reach it at (an IP, not a name: ansible_host may be a '
            'name, then set %sunderlay_address)' % (host, prefix, v.show(value), prefix))
    return ip


def peer_subnets(want):
    """The peers' container subnets (what the NAT stage neither masquerades nor drops)."""
    return [p['subnet'] for p in want['peers']] if want else []


def fleet_firewall(want):
    """What the firewall stage lets in for the fleet: the peers' subnets (forwarded to
    the bridge) and, with VXLAN, the peers' underlay addresses (UDP 4789 to the host);
    None without a fleet."""
    if not want or want['backend'] is None:
        return None
    return {'subnets': [str(p['subnet']) for p in want['peers']],
            'vteps': [str(p['underlay']) for p in want['peers']]
            if want['backend'] == 'vxlan' else []}


# ------------------------------------------------------------------ have
class FleetResource(object):
    """The fleet stage: want -> observe -> plan -> apply on the host's routing."""

    @staticmethod
    def want(params):
        return fleet_want(params.get('fleet'), params['bridge'], params.get('subnet'),
                          params.get('variable_prefix') or '')

    def observe(self, ctx, want):
        sock = ctx.raw()
        routes = rtnl.routes(sock, socket.AF_INET)
        addrs = rtnl.addresses(sock, socket.AF_INET)
        dev = None
        name = want['device'] or None
        # the device of this network: the wanted one, or (no fleet, other VNI) ours
        cands = [name] if name else []
        found = None
        for n in cands:
            index = rtnl.link_index(sock, n)
            if index is not None:
                found = rtnl.link(sock, index)
        if found is None:  # a VXLAN device of ours under another VNI (changed or removed)
            oifs = set(r['oif'] for r in routes if self._ours(want, r))
            for index in sorted(i for i in oifs if i):
                link = rtnl.link(sock, index)
                if link and link['kind'] == 'vxlan' and link['alias'] == owner_tag(want['bridge']):
                    found = link
                    break
        if found is not None:
            dev = dict(found, vxlan=rtnl.vxlan_info(sock, found['index']),
                       fdb=rtnl.neighbours(sock, socket.AF_BRIDGE, found['index']),
                       neigh=rtnl.neighbours(sock, socket.AF_INET, found['index']),
                       addresses=[(a[4], a[1]) for a in addrs if a[3] == found['index']])
        underlay = None
        if want['self'] is not None:
            local = [a for a in addrs if a[4] == str(want['self']['underlay'])]
            if local:
                link = rtnl.link(sock, local[0][3])
                underlay = {'index': local[0][3], 'name': link['name'], 'mtu': link['mtu']}
        return {'routes': routes, 'addresses': addrs, 'device': dev, 'underlay': underlay}

    @staticmethod
    def _ours(want, r):
        return r['proto'] == RTPROT_LINUXNET and r['realm'] == want['realm']

    # -------------------------------------------------------------- plan
    def plan(self, want, have):
        try:
            self.check(want, have)
        except PlanError as e:
            if not want['at_boot']:
                raise
            # at boot the uplink may not be up yet: nothing of the fleet is changed, the
            # rest of the network is restored, the next run of the role adds the fleet
            have['deferred'] = str(e)
            return []
        routes = dict(('%s/%d' % (r['dst'], r['dst_len']), r)
                      for r in have['routes'] if self._ours(want, r))
        dev = have['device']
        actions = []
        if want['backend'] == 'vxlan':
            actions += self._device_actions(want, have)
        wanted = self.routes(want)
        recreated = any(a.op == 'vxlan_create' for a in actions)
        for dst in sorted(routes):
            if dst not in wanted and not (recreated and dev and routes[dst]['oif'] == dev['index']):
                actions.append(Action('route_del', dst, via=routes[dst]['gateway'],
                                      _route=routes[dst]))
        for dst, (via, onlink) in sorted(wanted.items()):
            cur = routes.get(dst)
            dev_ok = not onlink or (dev is not None and not recreated and cur is not None
                                    and cur['oif'] == dev['index'])
            if cur is None or cur['gateway'] != via or not dev_ok:
                actions.append(Action('route_set', dst, via=via,
                                      dev=want['device'] if onlink else None,
                                      _old=cur, _realm=want['realm']))
        if want['backend'] != 'vxlan' and dev is not None:
            actions.append(Action('vxlan_delete', dev['name']))
        return actions

    @staticmethod
    def routes(want):
        """{'SUBNET': (via, onlink)} of the wanted routes."""
        out = {}
        for p in want['peers']:
            if want['backend'] == 'vxlan':
                out[str(p['subnet'])] = (str(p['subnet'].network_address), True)
            else:
                out[str(p['subnet'])] = (str(p['underlay']), False)
        return out

    def _device_actions(self, want, have):
        me, dev = want['self'], have['device']
        mtu = have['underlay']['mtu']
        actions = []
        spec = (want['vni'], str(me['underlay']), rtnl.VXLAN_PORT, 0)
        if dev is not None and (dev['name'] != want['device'] or dev['vxlan'] != spec
                                or dev['mac'] != vtep_mac(me['subnet'])):
            actions.append(Action('vxlan_delete', dev['name']))
            dev = None
        if dev is None:
            actions.append(Action('vxlan_create', want['device'], vni=want['vni'],
                                  local=str(me['underlay']), mtu=mtu - VXLAN_OVERHEAD,
                                  mac=vtep_mac(me['subnet']), _alias=owner_tag(want['bridge'])))
            fdb, neigh, addrs = set(), {}, []
        else:
            if dev['mtu'] != mtu - VXLAN_OVERHEAD:
                actions.append(Action('vxlan_mtu', dev['name'], mtu=mtu - VXLAN_OVERHEAD))
            fdb = set((mac, dst) for dst, mac, _s, _f in dev['fdb']
                      if dst and mac != '00:00:00:00:00:00')
            neigh = dict((dst, (mac, state)) for dst, mac, state, _f in dev['neigh'])
            addrs = dev['addresses']
        vtep = str(me['subnet'].network_address)
        if (vtep, 32) not in addrs:
            actions.append(Action('vtep_address', want['device'], address=vtep + '/32'))
        want_fdb = set((vtep_mac(p['subnet']), str(p['underlay'])) for p in want['peers'])
        for mac, dst in sorted(fdb - want_fdb):
            actions.append(Action('fdb_del', mac, dst=dst, dev=want['device']))
        for mac, dst in sorted(want_fdb - fdb):
            actions.append(Action('fdb_add', mac, dst=dst, dev=want['device']))
        want_neigh = dict((str(p['subnet'].network_address), vtep_mac(p['subnet']))
                          for p in want['peers'])
        for dst in sorted(set(neigh) - set(want_neigh)):
            if neigh[dst][1] & rtnl.NUD_PERMANENT:
                actions.append(Action('neigh_del', dst, lladdr=neigh[dst][0], dev=want['device']))
        for dst, mac in sorted(want_neigh.items()):
            cur = neigh.get(dst)
            if cur is None or cur[0] != mac or not cur[1] & rtnl.NUD_PERMANENT:
                actions.append(Action('neigh_set', dst, lladdr=mac, dev=want['device']))
        return actions

    @classmethod
    def check(cls, want, have):
        """PlanError (nothing changed yet) for what no plan can fix."""
        if want['backend'] is None:
            return
        me = want['self']
        if have['underlay'] is None:
            raise PlanError(
                'host %s: underlay address %s is not an address of this host (its IPv4 '
                'addresses: %s); set its underlay_address to the address its fleet peers '
                'reach it at' % (me['host'], me['underlay'], ', '.join(
                    sorted(set(a[4] for a in have['addresses']))) or 'none'))
        dev = have['device']
        for r in have['routes']:
            if cls._ours(want, r) or (dev is not None and r['oif'] == dev['index']) \
                    or not r['dst_len'] or r['dst'] is None:
                continue
            net = ipaddress.ip_network('%s/%d' % (r['dst'], r['dst_len']))
            for p in want['peers']:
                if net.overlaps(p['subnet']):
                    raise PlanError(
                        'fleet: host %s\'s container subnet %s overlaps the route %s%s on '
                        'host %s; give %s a subnet no fleet host routes otherwise, or remove '
                        'that route' % (p['host'], p['subnet'], net,
                                        (' via %s' % r['gateway']) if r['gateway'] else '',
                                        me['host'], p['host']))
        if want['backend'] == 'host-gw':
            for p in want['peers']:
                via = _route_to(have['routes'], p['underlay'], want)
                if via is None or via['gateway'] is not None:
                    raise PlanError(
                        'fleet: host %s (underlay %s) is not on-link from host %s%s: host-gw '
                        'routes container subnets via the peers\' own addresses, so every '
                        'host must be on one L2 segment; use fleet_backend: vxlan'
                        % (p['host'], p['underlay'], me['host'],
                           (' (reached via %s)' % via['gateway']) if via else ''))
        if want['backend'] == 'vxlan' and have['underlay']['mtu'] - VXLAN_OVERHEAD < 576:
            raise PlanError('fleet: the underlay link %s has MTU %d: too small for VXLAN '
                            '(%d bytes of overhead)' % (have['underlay']['name'],
                                                        have['underlay']['mtu'], VXLAN_OVERHEAD))

    @staticmethod
    def container_mtu(want, have):
        """The containers' MTU the fleet needs (None: no constraint)."""
        if want['backend'] != 'vxlan' or have['underlay'] is None or have.get('deferred'):
            return None
        return have['underlay']['mtu'] - VXLAN_OVERHEAD

    # -------------------------------------------------------------- apply
    def apply(self, ctx, actions, have=None):
        sock = ctx.raw()
        done = []
        for a in actions:
            try:
                _apply_one(sock, a)
            except (OSError, IOError) as e:
                raise ApplyError(a, e, done, self.rollback(ctx, done))
            done.append(a)

    @staticmethod
    def rollback(ctx, done):
        """Undo this call's fleet actions (newest first): created devices and routes."""
        sock = ctx.raw()
        undone = []
        for a in reversed([d for d in done if d.op in OPS]):
            u = None
            if a.op == 'vxlan_create':
                u = Action('vxlan_delete', a.target)
            elif a.op == 'route_set' and a.args.get('_old') is None:
                u = Action('route_del', a.target, via=a.args['via'])
            if u is None:
                continue
            try:
                _apply_one(sock, u)
                undone.append(u)
            except (OSError, IOError):
                pass
        return undone

    # -------------------------------------------------------------- render / result
    def render(self, want, have, actions):
        before = _lines(have, want)
        after = list(before)
        for a in actions:
            line = _line(a)
            if a.op in ('route_del', 'fdb_del', 'neigh_del', 'vxlan_delete'):
                after = [x for x in after if not x.startswith(line)]
            elif a.op == 'route_set':
                after = [x for x in after if not x.startswith('route %s ' % a.target)] + [line]
            elif a.op == 'vxlan_mtu':
                after = [x if not x.startswith('vxlan %s ' % a.target) else
                         '%s mtu %d' % (x.rsplit(' mtu ', 1)[0], a.args['mtu']) for x in after]
            else:
                after.append(line)
        return ''.join(x + '\n' for x in sorted(before)), ''.join(x + '\n' for x in sorted(after))

    def result(self, want, have, actions):
        if have.get('deferred'):
            return {'fleet': None, 'warnings': [
                'the fleet was not restored at boot (%s); the next run of the role adds it'
                % have['deferred']]}
        if want['backend'] is None:
            return {'fleet': None}
        return {'fleet': {
            'backend': want['backend'], 'host': want['self']['host'],
            'underlay_address': str(want['self']['underlay']),
            'device': want['device'], 'vxlan_id': want['vni'],
            'mtu': self.container_mtu(want, have),
            'routes': ['%s via %s%s' % (dst, via, (' dev %s onlink' % want['device'])
                                        if onlink else '')
                       for dst, (via, onlink) in sorted(self.routes(want).items())],
            'peers': [{'host': p['host'], 'subnet': str(p['subnet']),
                       'underlay_address': str(p['underlay'])} for p in want['peers']]}}


def observed_routes(sock):
    """Every fleet route of this host, for module network_info: dst, gateway, dev,
    backend (a route through a VXLAN device: vxlan), underlay (the peer's address: the
    gateway, or the FDB destination of the VTEP's MAC), realm (tells the network)."""
    routes = [r for r in rtnl.routes(sock, socket.AF_INET) if r['proto'] == RTPROT_LINUXNET]
    devs = {}
    for index in sorted(set(r['oif'] for r in routes if r['oif'])):
        link = rtnl.link(sock, index)
        if link is None:
            continue
        peers = {}
        if link['kind'] == 'vxlan':
            macs = dict((mac, dst) for dst, mac, _s, _f in rtnl.neighbours(
                sock, socket.AF_BRIDGE, index) if dst)
            peers = dict((dst, macs.get(mac)) for dst, mac, _s, _f in rtnl.neighbours(
                sock, socket.AF_INET, index))
        devs[index] = (link['name'], link['kind'], peers)
    out = []
    for r in routes:
        name, kind, peers = devs.get(r['oif'], (None, None, {}))
        vx = kind == 'vxlan'
        out.append({'dst': '%s/%d' % (r['dst'], r['dst_len']), 'gateway': r['gateway'],
                    'dev': name, 'backend': 'vxlan' if vx else 'host-gw',
                    'underlay': peers.get(r['gateway']) if vx else r['gateway'],
                    'realm': r['realm']})
    return sorted(out, key=lambda x: x['dst'])


def _route_to(routes, ip, want):
    """The main-table route (not one of ours) the kernel would take to ``ip``."""
    best = None
    for r in routes:
        if r['proto'] == RTPROT_LINUXNET and r['realm'] == want['realm']:
            continue
        if r['type'] != rtnl.RTN_UNICAST:
            continue
        net = ipaddress.ip_network('%s/%d' % (r['dst'] or '0.0.0.0', r['dst_len']))
        if ip in net and (best is None or r['dst_len'] > best['dst_len']):
            best = r
    return best


def _lines(have, want):
    out = []
    dev = have['device']
    for r in have['routes']:
        if r['proto'] == RTPROT_LINUXNET and r['realm'] == want['realm']:
            dst = '%s/%d' % (r['dst'], r['dst_len'])
            out.append(_line(Action('route_set', dst, via=r['gateway'],
                                    dev=dev['name'] if dev and r['oif'] == dev['index']
                                    else None)))
    if dev is not None:
        vni, local = (dev['vxlan'] or (None, None))[:2]
        out.append('vxlan %s id %s local %s address %s mtu %s'
                   % (dev['name'], vni, local, dev['mac'], dev['mtu']))
        for ip, plen in dev['addresses']:
            out.append('address %s/%d dev %s' % (ip, plen, dev['name']))
        for dst, mac, _s, _f in dev['fdb']:
            if dst and mac != '00:00:00:00:00:00':
                out.append(_line(Action('fdb_add', mac, dst=dst, dev=dev['name'])))
        for dst, mac, state, _f in dev['neigh']:
            if state & rtnl.NUD_PERMANENT:
                out.append(_line(Action('neigh_set', dst, lladdr=mac, dev=dev['name'])))
    return out


def _line(a):
    """The ``--diff`` line of what an action makes (or, for a delete, removes)."""
    if a.op in ('route_set', 'route_del'):
        return 'route %s via %s' % (a.target, a.args.get('via')) + (
            ' dev %s onlink' % a.args['dev'] if a.args.get('dev') else '')
    if a.op in ('fdb_add', 'fdb_del'):
        return 'fdb %s dev %s dst %s' % (a.target, a.args['dev'], a.args['dst'])
    if a.op in ('neigh_set', 'neigh_del'):
        return 'neigh %s lladdr %s dev %s' % (a.target, a.args['lladdr'], a.args['dev'])
    if a.op == 'vtep_address':
        return 'address %s dev %s' % (a.args['address'], a.target)
    if a.op == 'vxlan_create':
        return 'vxlan %s id %s local %s address %s mtu %s' % (
            a.target, a.args['vni'], a.args['local'], a.args['mac'], a.args['mtu'])
    return 'vxlan %s ' % a.target


def _apply_one(sock, a):
    if a.op == 'vxlan_create':
        rtnl.new_vxlan(sock, a.target, a.args['vni'], a.args['local'], a.args['mtu'],
                       a.args['mac'], a.args['_alias'])
        # IFLA_IFALIAS is ignored on RTM_NEWLINK by some kernels: set it explicitly
        rtnl.set_link(sock, rtnl.link_index(sock, a.target), alias=a.args['_alias'])
        return
    index = rtnl.link_index(sock, a.args.get('dev') or a.target) \
        if a.op not in ('route_set', 'route_del') or a.args.get('dev') else None
    if a.op == 'vxlan_delete':
        if index is not None:
            rtnl.del_link(sock, index)
    elif a.op == 'vxlan_mtu':
        rtnl.set_link(sock, index, mtu=a.args['mtu'])
    elif a.op == 'vtep_address':
        ip, plen = a.args['address'].split('/')
        rtnl.address(sock, True, index, ip, int(plen))
    elif a.op in ('fdb_add', 'fdb_del'):
        rtnl.neighbour(sock, a.op == 'fdb_add', socket.AF_BRIDGE, index, a.target,
                       a.args['dst'])
    elif a.op in ('neigh_set', 'neigh_del'):
        rtnl.neighbour(sock, a.op == 'neigh_set', socket.AF_INET, index, a.args['lladdr'],
                       a.target)
    elif a.op in ('route_set', 'route_del'):
        net = ipaddress.ip_network(a.target)
        old = a.args.get('_route')
        realm_id = old['realm'] if old else None
        try:
            rtnl.route(sock, a.op == 'route_set', str(net.network_address), net.prefixlen,
                       a.args['via'], oif=index, proto=RTPROT_LINUXNET,
                       realm=realm_id if a.op == 'route_del' else a.args.get('_realm'),
                       onlink=bool(a.args.get('dev')))
        except OSError as e:
            if a.op != 'route_del' or e.errno != 3:  # ESRCH: already gone with its device
                raise
