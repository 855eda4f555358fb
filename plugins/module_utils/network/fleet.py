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

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import rtnl
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.fleet_kernel import (
    RTPROT_LINUXNET, FleetApplier)
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.fleet_model import (
    VXLAN_OVERHEAD, fleet_want, vtep_mac)
from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import owner_tag
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    Action, PlanError)

OPS = ('vxlan_create', 'vxlan_delete', 'vxlan_mtu', 'vtep_address', 'fdb_add', 'fdb_del',
       'neigh_set', 'neigh_del', 'route_set', 'route_del')


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
                       addresses=[(a.address, a.prefixlen) for a in addrs
                                  if a.index == found['index']])
        underlay = None
        if want['self'] is not None:
            local = [a for a in addrs if a.address == str(want['self']['underlay'])]
            if local:
                link = rtnl.link(sock, local[0].index)
                underlay = {'index': local[0].index, 'name': link['name'], 'mtu': link['mtu']}
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
                    sorted(set(a.address for a in have['addresses']))) or 'none'))
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
        FleetApplier(ctx.raw()).apply(actions)

    @staticmethod
    def rollback(ctx, done):
        """Undo this call's fleet actions (newest first): created devices and routes."""
        return FleetApplier(ctx.raw()).rollback([d for d in done if d.op in OPS])

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
