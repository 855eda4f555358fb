# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the kernel: one dump per object kind per namespace, never one query per object."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import rtnl
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.model import Record

IFF_UP = 1
RTN_UNICAST = 1
RT_SCOPE_LINK = 253


class Link(Record):
    """One interface as the kernel reports it."""
    __slots__ = ('index', 'name', 'kind', 'up', 'mtu', 'mac', 'master', 'alias', 'peer_index',
                 'addresses', 'hairpin', 'group')


class NsView(object):
    """What one namespace holds: links by name (with addresses), default routes.

    ``read`` says what was read: (addresses?, IP versions of default routes, hairpin?).
    """

    def __init__(self, links, default_routes=None, read=(True, frozenset((4, 6)), True)):
        self.links = dict((l.name, l) for l in links)
        self.by_index = dict((l.index, l) for l in links)
        self.default_routes = default_routes or {}
        self.read = read

    def get(self, name):
        return self.links.get(name)

    def master_name(self, link):
        m = self.by_index.get(link.master) if link.master else None
        return m.name if m else None


def _versions(routes):
    return frozenset((4, 6) if routes is True else (routes or ()))


class Reading(object):
    """What one module run has read of the kernel, over a :class:`nlsock.Kernel` (the
    sockets): the views of the namespaces read so far, what to read in addition to what
    is asked (``read_hint``: ``{'host'|'netns': {'addresses', 'routes', 'hairpin'}}``, so
    a composite reads each namespace once) and, in check mode, ``predict_missing``: what
    an earlier task of the same play would have created (a namespace, a bridge) is
    observed as new and empty instead of failing the run.

    The context of the L2 resources. Changes flow one way: after applying, the resource
    hands the actions to :meth:`applied`, which drops what they made stale.
    """

    def __init__(self, kernel, predict_missing=False, read_hint=None):
        self.kernel = kernel
        self.predict_missing = predict_missing
        self.read_hint = read_hint or {}
        self.views = {}

    def raw(self, ns=None):
        return self.kernel.raw(ns)

    def open_many(self, names):
        self.kernel.open_many(names)

    def forget(self, ns):
        """A change was made in ``ns`` (None: host): its view is stale."""
        self.views.pop(ns, None)

    def applied(self, actions):
        """What these (applied) L2 actions make stale; a namespace just created holds
        its ``lo`` only, known without reading it (:func:`fresh_view`)."""
        for a in actions:
            if a.op == 'netns_delete':
                self.forget(a.target)
            elif a.op == 'link_delete':  # may take a veth peer in another namespace
                self.views.clear()
            elif a.op == 'netns_create':
                self.views[a.target] = fresh_view(a.args.get('alias'))
            else:
                self.forget(a.args.get('netns'))
                if a.op == 'veth_create':
                    self.forget(None)

    def close(self):
        self.kernel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def ns_view(k, ns=None, addresses=True, routes=(), hairpin=False):
    """:func:`read_ns` of namespace ``ns`` (None: host) through the :class:`Reading` ``k``.

    A view read earlier in this module run is reused while it holds what is asked
    and nothing was applied in that namespace since (:meth:`Reading.applied`). A read
    also takes what ``k.read_hint`` says later stages will ask for, so that a composite
    (several resources in one call) reads each namespace once.
    """
    versions = _versions(routes)
    v = k.views.get(ns)
    if v is not None and (v.read[0] or not addresses) and versions <= v.read[1] and \
            (v.read[2] or not hairpin):
        return v
    hint = k.read_hint.get('host' if ns is None else 'netns', {})
    addresses = addresses or hint.get('addresses', False)
    versions = versions | _versions(hint.get('routes'))
    hairpin = hairpin or hint.get('hairpin', False)
    v = read_ns(k.raw(ns), addresses, versions, hairpin)
    k.views[ns] = v
    return v


def lo_view(k, ns):
    """A view of namespace ``ns`` holding its ``lo`` only (one RTM_GETLINK; lo is ifindex 1
    in every namespace): enough to read an owner tag. A cached full view is reused;
    this one is not cached (it lacks the other links)."""
    v = k.views.get(ns)
    if v is not None:
        return v
    m = rtnl.link(k.raw(ns), 1)
    return NsView([_link(m, [], None)] if m is not None else [], read=(False, frozenset(), False))


def fresh_view(alias=None):
    """The view of a namespace this run has just created: ``lo`` (up, tagged) and nothing
    else, no routes. What the planners look at, known without a read (lo's own
    addresses are not tracked: no plan looks at them)."""
    return NsView([Link(index=1, name='lo', kind=None, up=True, mtu=65536,
                        mac='00:00:00:00:00:00', master=None, alias=alias or None,
                        peer_index=None, addresses=[], hairpin=None, group=0)],
                  {}, (True, frozenset((4, 6)), True))


def _link(m, addresses, hairpin):
    return Link(index=m['index'], name=m['name'], kind=m['kind'],
                up=bool(m['flags'] & IFF_UP), mtu=m['mtu'], mac=m['mac'],
                master=m['master'] or None, alias=m['alias'] or None, peer_index=m['link'],
                addresses=addresses, hairpin=hairpin, group=m['group'])


def read_ns(sock, addresses=True, routes=False, hairpin=False):
    """Snapshot of one namespace through a netlink socket opened in it (:mod:`rtnl`).

    ``routes``: True reads the default routes of both IP versions; a collection of
    versions (e.g. ``{4}``) reads only those (one dump fewer per namespace).
    """
    addrs = {}
    if addresses:
        for family, prefixlen, scope, index, ip in rtnl.addresses(sock):
            if family == socket.AF_INET6 and scope == RT_SCOPE_LINK:
                continue
            addrs.setdefault(index, []).append(
                ipaddress.ip_interface('%s/%d' % (ip, prefixlen)))
    modes = {}
    if hairpin:
        for m in rtnl.links(sock, family=socket.AF_BRIDGE):
            if m['hairpin'] is not None:
                modes[m['index']] = m['hairpin']
    links = []
    for m in rtnl.links(sock):
        links.append(_link(m, addrs.get(m['index'], []), modes.get(m['index'])))
    gws = {}
    versions = _versions(routes)
    for version in sorted(versions):
        for dst, gw, _oif in main_routes(sock, version):
            if dst.prefixlen == 0:
                gws[version] = gw or 'direct'
    return NsView(links, gws, (bool(addresses), versions, bool(hairpin)))


def main_routes(sock, version):
    """(destination network, gateway or None, output ifindex) of each unicast route of
    the main table, for one IP version (one dump)."""
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    out = []
    for r in rtnl.routes(sock, family):
        if r['type'] == RTN_UNICAST:  # rtnl.routes() returns the main table's only
            dst = r['dst'] or ('0.0.0.0' if version == 4 else '::')
            out.append((ipaddress.ip_network('%s/%d' % (dst, r['dst_len']), strict=False),
                        ipaddress.ip_address(r['gateway']) if r['gateway'] else None,
                        r['oif']))
    return out


def read_routes(sock, version):
    """(destination network, output ifindex) of the main table's routes of one IP version
    that are not default routes."""
    return [(dst, oif) for dst, _gw, oif in main_routes(sock, version) if dst.prefixlen]
