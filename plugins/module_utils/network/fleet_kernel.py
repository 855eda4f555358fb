# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet's kernel side (:mod:`fleet` plans): its actions carried out over rtnetlink
by :class:`FleetApplier` (the shared :class:`applier.OpApplier`: a method per operation,
the undo of what a failed call created), and the host's fleet routes as module
``network_info`` reports them."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import socket

from ansible_collections.linuxnet.container_network.plugins.module_utils.applier import OpApplier
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import rtnl
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import Action

RTPROT_LINUXNET = 76      # our routes' protocol (rt_protos has nothing at 76)


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


class FleetApplier(OpApplier):
    """The fleet's actions over rtnetlink (the host's namespace): the VXLAN device, its
    VTEP address, FDB and neighbour entries, the routes (protocol linuxnet)."""

    UNDO = {
        'vxlan_create': lambda a: Action('vxlan_delete', a.target),
        'route_set': lambda a: (Action('route_del', a.target, via=a.args['via'])
                                if a.args.get('_old') is None else None),
    }

    def __init__(self, sock):
        self.sock = sock

    def _dev(self, a):
        return rtnl.link_index(self.sock, a.args.get('dev') or a.target)

    def vxlan_create(self, a):
        rtnl.new_vxlan(self.sock, a.target, a.args['vni'], a.args['local'], a.args['mtu'],
                       a.args['mac'], a.args['_alias'])
        # IFLA_IFALIAS is ignored on RTM_NEWLINK by some kernels: set it explicitly
        rtnl.set_link(self.sock, rtnl.link_index(self.sock, a.target), alias=a.args['_alias'])

    def vxlan_delete(self, a):
        index = self._dev(a)
        if index is not None:
            rtnl.del_link(self.sock, index)

    def vxlan_mtu(self, a):
        rtnl.set_link(self.sock, self._dev(a), mtu=a.args['mtu'])

    def vtep_address(self, a):
        ip, plen = a.args['address'].split('/')
        rtnl.address(self.sock, True, self._dev(a), ip, int(plen))

    def fdb_add(self, a, add=True):
        rtnl.neighbour(self.sock, add, socket.AF_BRIDGE, self._dev(a), a.target, a.args['dst'])

    def fdb_del(self, a):
        self.fdb_add(a, add=False)

    def neigh_set(self, a, add=True):
        rtnl.neighbour(self.sock, add, socket.AF_INET, self._dev(a), a.args['lladdr'], a.target)

    def neigh_del(self, a):
        self.neigh_set(a, add=False)

    def route_set(self, a, add=True):
        net = ipaddress.ip_network(a.target)
        old = a.args.get('_route')
        try:
            rtnl.route(self.sock, add, str(net.network_address), net.prefixlen, a.args['via'],
                       oif=self._dev(a) if a.args.get('dev') else None, proto=RTPROT_LINUXNET,
                       realm=a.args.get('_realm') if add else (old['realm'] if old else None),
                       onlink=bool(a.args.get('dev')))
        except OSError as e:
            if add or e.errno != errno.ESRCH:  # a route_del: already gone with its device
                raise

    def route_del(self, a):
        self.route_set(a, add=False)
