# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carrying L2 actions out over netlink (in-process, one socket per namespace)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import os

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


# Operations after which cached interface indices may be stale (links created,
# deleted, or moved: deleting a veth end deletes its peer in another namespace).
_RESETS_INDEX = frozenset(('netns_create', 'netns_delete', 'veth_create', 'bridge_create',
                           'link_delete'))


class Applier(object):
    def __init__(self, kernel, have=None):
        self.k = kernel
        self._index = {}
        if have is not None:
            self.prime(have)

    def prime(self, have):
        """Take interface indices from the observation instead of looking each one up."""
        views = list(getattr(have, 'views', {}).items())
        if getattr(have, 'host', None) is not None:
            views.append((None, have.host))
        for ns, view in views:
            for name, link in view.links.items():
                if link.index is not None and link.index > 0:
                    self._index[(ns, name)] = link.index

    def index(self, name, ns=None):
        """ifindex of a link, looked up once per name until links are created or deleted."""
        idx = self._index.get((ns, name))
        if idx is None:
            found = self.k.ipr(ns).link_lookup(ifname=name)
            if not found:
                raise RuntimeError("no link '%s' in %s" % (name, ns or 'the host namespace'))
            idx = self._index[(ns, name)] = found[0]
        return idx

    # -- operations -------------------------------------------------------

    def netns_create(self, a):
        self.k.create_netns(a.target)
        ipr = self.k.ipr(a.target)
        kw = {'state': 'up'}
        if a.args.get('alias'):
            kw['ifalias'] = a.args['alias']
        ipr.link('set', index=self.index('lo', a.target), **kw)

    def netns_delete(self, a):
        self.k.delete_netns(a.target)

    def bridge_create(self, a):
        ipr = self.k.ipr()
        ipr.link('add', ifname=a.target, kind='bridge')
        if a.args.get('mtu'):
            # Not IFLA_MTU on RTM_NEWLINK: only a change of MTU marks a bridge's MTU as set
            # by the user; otherwise the kernel re-adjusts it to its ports' as they join.
            ipr.link('set', index=self.index(a.target), mtu=a.args['mtu'])

    def veth_create(self, a):
        peer = {'ifname': a.args['peer']}
        if a.args.get('mtu'):
            peer['mtu'] = a.args['mtu']
        if a.args.get('mac'):
            peer['address'] = a.args['mac']
        fd = None
        if a.args.get('netns'):
            fd = self.k.ns_fd(a.args['netns'])
            peer['net_ns_fd'] = fd
        kw = {'ifname': a.target, 'kind': 'veth', 'peer': peer}
        if a.args.get('mtu'):
            kw['mtu'] = a.args['mtu']
        if a.args.get('alias'):
            kw['ifalias'] = a.args['alias']
        try:
            self.k.ipr().link('add', **kw)
        finally:
            if fd is not None:
                os.close(fd)
        if a.args.get('alias'):
            # IFLA_IFALIAS is ignored on RTM_NEWLINK by some kernels: set it explicitly.
            self.k.ipr().link('set', index=self.index(a.target), ifalias=a.args['alias'])

    def link_delete(self, a):
        ns = a.args.get('netns')
        try:
            self.k.ipr(ns).link('del', index=self.index(a.target, ns))
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
        self.k.delete_links(ns, indices)

    def link_set(self, a):
        ns = a.args.get('netns')
        kw = {}
        if a.args.get('up'):
            kw['state'] = 'up'
        if a.args.get('mtu'):
            kw['mtu'] = a.args['mtu']
        if a.args.get('mac'):
            kw['address'] = a.args['mac']
        if a.args.get('alias'):
            kw['ifalias'] = a.args['alias']
        if a.args.get('master'):
            kw['master'] = self.index(a.args['master'], ns)
        if a.args.get('nomaster'):
            kw['master'] = 0
        self.k.ipr(ns).link('set', index=self.index(a.target, ns), **kw)

    def brport_set(self, a):
        self.k.ipr().brport('set', index=self.index(a.target), mode=1 if a.args['hairpin'] else 0)

    def addr_add(self, a):
        ns = a.args.get('netns')
        iface = ipaddress.ip_interface(a.args['address'])
        kw = {}
        if iface.version == 4 and iface.network.prefixlen < 31:
            kw['broadcast'] = str(iface.network.broadcast_address)
        try:
            self.k.ipr(ns).addr('add', index=self.index(a.target, ns), address=str(iface.ip),
                                prefixlen=iface.network.prefixlen, **kw)
        except Exception as e:
            if _code(e) != errno.EEXIST:
                raise

    def addr_del(self, a):
        ns = a.args.get('netns')
        iface = ipaddress.ip_interface(a.args['address'])
        self.k.ipr(ns).addr('del', index=self.index(a.target, ns), address=str(iface.ip),
                            prefixlen=iface.network.prefixlen)

    def route_default(self, a):
        ns = a.args.get('netns')
        gw = ipaddress.ip_address(a.args['gateway'])
        dst = '0.0.0.0/0' if gw.version == 4 else '::/0'
        self.k.ipr(ns).route('replace', dst=dst, gateway=str(gw),
                             oif=self.index(a.target, ns))

    # -- driver -----------------------------------------------------------

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
                if a.op in _RESETS_INDEX:
                    self._index = {}
            done.extend(batch)
            i += len(batch)
        return done

    def rollback(self, done):
        """Undo what this run created, newest first; report what was undone."""
        undone = []
        for a in reversed(done):
            undo = _UNDO.get(a.op)
            if undo is None:
                continue
            u = undo(a)
            try:
                getattr(self, u.op)(u)
                undone.append(u)
            except Exception:
                pass
            self._index = {}
        return undone
