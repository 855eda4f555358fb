# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the kernel: one dump per object kind per namespace, never one query per object."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket

from ansible_collections.linuxnet.container_network.plugins.module_utils.model import Record

IFF_UP = 1
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RT_SCOPE_LINK = 253


class Link(Record):
    """One interface as the kernel reports it."""
    __slots__ = ('index', 'name', 'kind', 'up', 'mtu', 'mac', 'master', 'alias', 'peer_index',
                 'addresses', 'hairpin')


class NsView(object):
    """What one namespace holds: links by name (with addresses), default routes."""

    def __init__(self, links, default_routes=None):
        self.links = dict((l.name, l) for l in links)
        self.by_index = dict((l.index, l) for l in links)
        self.default_routes = default_routes or {}

    def get(self, name):
        return self.links.get(name)

    def master_name(self, link):
        m = self.by_index.get(link.master) if link.master else None
        return m.name if m else None


def _kind(msg):
    info = msg.get_attr('IFLA_LINKINFO')
    return info.get_attr('IFLA_INFO_KIND') if info is not None else None


def read_ns(ipr, addresses=True, routes=False, hairpin=False):
    """Snapshot of one namespace through its netlink socket.

    ``routes``: True reads the default routes of both IP versions; a collection of
    versions (e.g. ``{4}``) reads only those (one dump fewer per namespace).
    """
    addrs = {}
    if addresses:
        for a in ipr.get_addr():
            if a['family'] == socket.AF_INET6 and a['scope'] == RT_SCOPE_LINK:
                continue
            ip = a.get_attr('IFA_LOCAL') or a.get_attr('IFA_ADDRESS')
            addrs.setdefault(a['index'], []).append(
                ipaddress.ip_interface('%s/%d' % (ip, a['prefixlen'])))
    modes = {}
    if hairpin:
        for m in ipr.get_links(family=socket.AF_BRIDGE):
            pi = m.get_attr('IFLA_PROTINFO')
            if pi is not None:
                modes[m['index']] = bool(pi.get_attr('IFLA_BRPORT_MODE'))
    links = []
    for m in ipr.get_links():
        links.append(Link(
            index=m['index'], name=m.get_attr('IFLA_IFNAME'), kind=_kind(m),
            up=bool(m['flags'] & IFF_UP), mtu=m.get_attr('IFLA_MTU'),
            mac=m.get_attr('IFLA_ADDRESS'), master=m.get_attr('IFLA_MASTER') or None,
            alias=m.get_attr('IFLA_IFALIAS') or None, peer_index=m.get_attr('IFLA_LINK'),
            addresses=addrs.get(m['index'], []), hairpin=modes.get(m['index'])))
    gws = {}
    if routes:
        versions = (4, 6) if routes is True else routes
        for family, version in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
            if version not in versions:
                continue
            for r in ipr.get_routes(family=family):
                if r['dst_len'] == 0 and r['type'] == RTN_UNICAST and \
                        (r.get_attr('RTA_TABLE') or r['table']) == RT_TABLE_MAIN:
                    gw = r.get_attr('RTA_GATEWAY')
                    gws[version] = ipaddress.ip_address(gw) if gw else 'direct'
    return NsView(links, gws)
