# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carrying L2 actions out over netlink (in-process, one socket per namespace)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import os

from ansible_collections.linuxnet.container_network.plugins.module_utils.applier import OpApplier
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import rtnl
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    Action, ApplyError,
)

# What undoes an action that created something, for rollback after a failure.
_UNDO = {
    'netns_create': lambda a: Action('netns_delete', a.target),
    'veth_create': lambda a: Action('link_delete', a.target),
    'bridge_create': lambda a: Action('link_delete', a.target),
}


def _code(e):
    return getattr(e, 'code', None) or getattr(e, 'errno', None)


# A new bridge's IPv6 link-local address would be tentative for 1-2 s after its first
# port comes up (duplicate address detection). The kernel sends the neighbour
# solicitations for packets it forwards (published ports, routed traffic) from that
# address only: none go out while it is tentative, and the first connections to a
# container are lost. Nothing else on the bridge's link can hold its address.
ACCEPT_DAD = '/proc/sys/net/ipv6/conf/%s/accept_dad'


def no_dad(name):
    """``net.ipv6.conf.NAME.accept_dad = 0`` for a link of this process's namespace
    (no-op where the host has IPv6 disabled)."""
    try:
        with open(ACCEPT_DAD % name, 'w') as f:
            f.write('0\n')
    except (IOError, OSError) as e:
        if e.errno != errno.ENOENT:
            raise


# Operations after which cached interface indices may be stale. Deleting a link can
# delete others (a veth's peer, in another namespace): the whole cache goes then.
_RESETS_INDEX = frozenset(('link_delete',))


class Applier(OpApplier):
    """L2 actions over netlink: namespaces, links, addresses, routes, ports; link
    deletes in one namespace go as one batch."""

    UNDO = _UNDO

    def __init__(self, kernel, have=None):
        self.k = kernel
        self._index = {}
        self._groups = {}  # ns -> link groups in use, as observed (new links are in 0)
        if have is not None:
            self.prime(have)

    def prime(self, have):
        """Take interface indices (and link groups) from the observation instead of
        looking each one up."""
        views = list(getattr(have, 'views', {}).items())
        if getattr(have, 'host', None) is not None:
            views.append((None, have.host))
        for ns, view in views:
            self._groups[ns] = set([0]) | set(l.group for l in view.links.values())
            for name, link in view.links.items():
                if link.index is not None and link.index > 0:
                    self._index[(ns, name)] = link.index

    def index(self, name, ns=None):
        """ifindex of a link, looked up once per name until links are created or deleted."""
        idx = self._index.get((ns, name))
        if idx is None:
            idx = rtnl.link_index(self.k.raw(ns), name)
            if idx is None:
                raise RuntimeError("no link '%s' in %s" % (name, ns or 'the host namespace'))
            self._index[(ns, name)] = idx
        return idx

    # -- operations -------------------------------------------------------

    def netns_create(self, a):
        self.k.create_netns(a.target)
        # lo is ifindex 1 in every new namespace
        rtnl.set_link(self.k.raw(a.target), 1, up=True, alias=a.args.get('alias') or None)

    def netns_delete(self, a):
        self.k.delete_netns(a.target)

    def bridge_create(self, a):
        rtnl.new_link(self.k.raw(), a.target, 'bridge')
        no_dad(a.target)  # before it has a port, so before its link-local address exists
        if a.args.get('mtu'):
            # Not IFLA_MTU on RTM_NEWLINK: only a change of MTU marks a bridge's MTU as set
            # by the user; otherwise the kernel re-adjusts it to its ports' as they join.
            rtnl.set_link(self.k.raw(), self.index(a.target), mtu=a.args['mtu'])

    def veth_create(self, a):
        peer = {'name': a.args['peer'], 'mtu': a.args.get('mtu') or None,
                'mac': a.args.get('mac') or None}
        fd = None
        if a.args.get('netns'):
            fd = peer['netns_fd'] = self.k.ns_fd(a.args['netns'])
        try:
            rtnl.new_link(self.k.raw(), a.target, 'veth', mtu=a.args.get('mtu') or None,
                          alias=a.args.get('alias') or None, peer=peer,
                          up=bool(a.args.get('up')))
        finally:
            if fd is not None:
                os.close(fd)
        if a.args.get('alias'):
            # IFLA_IFALIAS is ignored on RTM_NEWLINK by some kernels: set it explicitly.
            rtnl.set_link(self.k.raw(), self.index(a.target), alias=a.args['alias'])

    def link_delete(self, a):
        ns = a.args.get('netns')
        try:
            rtnl.del_link(self.k.raw(ns), self.index(a.target, ns))
        except RuntimeError:
            pass  # already gone (e.g. the peer of a pair deleted just before)
        except Exception as e:
            if _code(e) != errno.ENODEV:
                raise

    def link_delete_many(self, acts):
        """Several link deletes in one namespace: one group delete (one grace period)."""
        ns = acts[0].args.get('netns')
        indices = []
        for a in acts:
            try:
                indices.append(self.index(a.target, ns))
            except RuntimeError:
                pass  # already gone
        self.k.delete_links(ns, indices, self._groups.get(ns))

    def link_set(self, a):
        ns = a.args.get('netns')
        master = None
        if a.args.get('master'):
            master = self.index(a.args['master'], ns)
        if a.args.get('nomaster'):
            master = 0
        rtnl.set_link(self.k.raw(ns), self.index(a.target, ns), up=bool(a.args.get('up')),
                      mtu=a.args.get('mtu') or None, mac=a.args.get('mac') or None,
                      alias=a.args.get('alias') or None, master=master)

    def brport_set(self, a):
        rtnl.set_hairpin(self.k.raw(), self.index(a.target), a.args['hairpin'])

    def addr_add(self, a):
        ns = a.args.get('netns')
        iface = ipaddress.ip_interface(a.args['address'])
        broadcast = None
        if iface.version == 4 and iface.network.prefixlen < 31:
            broadcast = str(iface.network.broadcast_address)
        try:
            rtnl.address(self.k.raw(ns), True, self.index(a.target, ns), str(iface.ip),
                         iface.network.prefixlen, broadcast)
        except Exception as e:
            if _code(e) != errno.EEXIST:
                raise

    def addr_del(self, a):
        ns = a.args.get('netns')
        iface = ipaddress.ip_interface(a.args['address'])
        rtnl.address(self.k.raw(ns), False, self.index(a.target, ns), str(iface.ip),
                     iface.network.prefixlen)

    def route_default(self, a):
        ns = a.args.get('netns')
        gw = ipaddress.ip_address(a.args['gateway'])
        rtnl.replace_default_route(self.k.raw(ns), str(gw), self.index(a.target, ns))

    # -- driver -----------------------------------------------------------

    def _forget(self, a):
        """Drop the cached indices the action may have made stale."""
        if a.op in _RESETS_INDEX:
            self._index = {}
        elif a.op in ('veth_create', 'bridge_create'):
            self._index.pop((None, a.target), None)
            self._index.pop((a.args.get('netns'), a.args.get('peer')), None)
        elif a.op in ('netns_create', 'netns_delete'):
            for key in [k for k in self._index if k[0] == a.target]:
                del self._index[key]

    def _batch(self, actions, i):
        """actions[i] and the link deletes in the same namespace right after it."""
        a = actions[i]
        j = i + 1
        if a.op == 'link_delete':
            while j < len(actions) and actions[j].op == 'link_delete' and \
                    actions[j].args.get('netns') == a.args.get('netns'):
                j += 1
        return actions[i:j]

    def apply(self, actions):
        done = []
        i = 0
        while i < len(actions):
            batch = self._batch(actions, i)
            a = batch[0]
            try:
                if len(batch) > 1:
                    self.link_delete_many(batch)
                else:
                    getattr(self, a.op)(a)
            except Exception as e:
                self._index = {}
                raise ApplyError(a, e, done, self.rollback(done))
            finally:
                self._forget(a)
            done.extend(batch)
            i += len(batch)
        return done

    def reset(self):
        self._index = {}
