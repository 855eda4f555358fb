# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The L2 resources handed to :func:`runner.run`: netns, bridge, veth_pair, bridge_port.

Each one only wires the shared pieces together: :mod:`model` (want),
:mod:`observe` (have), :mod:`plan` (the diff) and :mod:`apply`.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import model
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import observe
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import plan
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.apply import Applier
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import (
    Kernel, list_netns,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import PlanError


class _Resource(object):
    """Shared parts: kernel context and applying through :class:`Applier`."""

    def context(self, inv):
        return observe.Reading(Kernel(), predict_missing=inv.check_mode)

    def apply(self, ctx, actions, have=None):
        try:
            Applier(ctx.kernel, have).apply(actions)
        except Exception:
            ctx.views.clear()
            raise
        ctx.applied(actions)

    def result(self, want, have, actions):
        return {}


def _link_view(link, fields):
    if link is None:
        return None
    v = {}
    for f in fields:
        val = getattr(link, f)
        v[f] = sorted(str(a) for a in val) if f == 'addresses' else val
    return v


def _read_namespaces(k, names, required, lo_only=False, **what):
    """Views of named namespaces; a stale /run/netns entry fails if required, else is skipped.
    ``lo_only``: just their lo (:func:`observe.lo_view`), e.g. to read owner tags."""
    views = {}
    k.open_many([n for n in names if n not in k.views])
    for n in names:
        try:
            views[n] = observe.lo_view(k, n) if lo_only else observe.ns_view(k, n, **what)
        except OSError as e:
            if n in required:
                raise PlanError("'/run/netns/%s' exists but is not a network namespace (%s): "
                                "a stale entry; remove it with 'ip netns delete %s' and rerun"
                                % (n, e.strerror or e, n))
    return views


class NetnsResource(_Resource):
    def want(self, params):
        return model.netns_want(params)

    def observe(self, k, want):
        existing = list_netns()
        listed = [n for n in want.names if n in existing] if want.state == 'present' else []
        views = _read_namespaces(k, listed, set(want.names), addresses=False)
        if want.exclusive:  # the owner tags of those it may remove
            others = existing - set(want.names) - set(want.keep or ())
            views.update(_read_namespaces(k, sorted(others), (), lo_only=True))
        return plan.NetnsHave(existing, views)

    def plan(self, want, have):
        return plan.plan_netns(want, have)

    def render(self, want, have, actions):
        before = set(have.existing)
        after = set(before)
        for a in actions:
            if a.op == 'netns_create':
                after.add(a.target)
            elif a.op == 'netns_delete':
                after.discard(a.target)

        def view(names, present):
            return {'namespaces': dict(
                (n, {'lo': 'up', 'owner': want.owner} if n in present else 'absent')
                for n in names)}
        names = sorted(set(want.names) | (before - after))
        return view(names, before), view(names, after)

    def result(self, want, have, actions):
        return {'namespaces': want.names}


class BridgeResource(_Resource):
    FIELDS = ('kind', 'up', 'mtu', 'addresses')

    def want(self, params):
        self.refuse_overlap = bool(params.get('refuse_overlap'))
        return model.bridge_want(params)

    def observe(self, k, want):
        have = plan.L2Have(observe.ns_view(k))
        if self.refuse_overlap:
            versions = set(a.version for b in want if b.state == 'present'
                           for a in b.addresses or ())
            have.routes = dict((v, observe.read_routes(k.raw(), v)) for v in versions)
        return have

    def plan(self, want, have):
        if self.refuse_overlap:
            plan.check_overlaps(want, have)
        return plan.plan_bridges(want, have)

    def render(self, want, have, actions):
        before, after = {}, {}
        for b in want:
            link = have.host.get(b.name)
            before[b.name] = _link_view(link, self.FIELDS) or 'absent'
            if b.state == 'absent':
                after[b.name] = 'absent'
                continue
            after[b.name] = {'kind': 'bridge', 'up': True,
                             'mtu': b.mtu if b.mtu is not None else (link.mtu if link else 1500),
                             'addresses': sorted(str(a) for a in b.addresses)
                             if b.addresses is not None else
                             (before[b.name]['addresses'] if link else [])}
        return {'bridges': before}, {'bridges': after}


# the --diff key of a pair's default route, by IP version
_GATEWAY_KEY = {4: 'gateway', 6: 'ipv6_gateway'}


class VethResource(_Resource):
    def want(self, params):
        return model.veth_want(params)

    def observe(self, k, want):
        existing = list_netns()
        namespaces = set(p.netns for p in want.pairs if p.netns and p.netns in existing)
        versions = {}  # namespace -> IP versions of the wanted default routes
        for p in want.pairs:
            for gw in p.gateways or ():
                versions.setdefault(p.netns, set()).add(gw.version)
        views = dict((ns, _read_namespaces(k, [ns], namespaces,
                                           routes=versions.get(ns, ()))[ns])
                     for ns in sorted(namespaces))
        if k.predict_missing:
            for p in want.pairs:
                if p.netns and p.netns not in existing and p.state == 'present':
                    existing.add(p.netns)
                    views[p.netns] = observe.NsView([])
        return plan.L2Have(observe.ns_view(k, routes=versions.get(None, ())),
                           views, existing)

    def plan(self, want, have):
        return plan.plan_veth(want, have)

    def _pair_have(self, p, have):
        host = have.host.get(p.name)
        view = have.view(p.netns)
        peer = view.get(p.peer) if view else None
        if host is None and peer is None:
            return 'absent'
        d = {'host': _link_view(host, ('kind', 'up', 'mtu')),
             'peer': _link_view(peer, ('kind', 'up', 'mtu', 'mac', 'addresses')),
             'netns': p.netns, 'paired': plan._paired(host, peer)}
        for gw in p.gateways or ():
            if view is not None:
                cur = view.default_routes.get(gw.version)
                d[_GATEWAY_KEY[gw.version]] = str(cur) if cur else None
        return d

    def render(self, want, have, actions):
        allocated = plan.allocate(want, have)
        before, after = {}, {}
        for p in want.pairs:
            before[p.name] = self._pair_have(p, have)
            if p.state == 'absent':
                after[p.name] = 'absent'
                continue
            b = before[p.name] if before[p.name] != 'absent' else {}
            old_peer = (b.get('peer') or {}) if b.get('paired') else {}
            old_host = (b.get('host') or {}) if b.get('paired') else {}
            addrs = plan.wanted_addresses(p, allocated)
            a = {'host': {'kind': 'veth', 'up': True,
                          'mtu': p.mtu or old_host.get('mtu', 1500)},
                 'peer': {'kind': 'veth', 'up': True, 'mtu': p.mtu or old_peer.get('mtu', 1500),
                          'mac': p.mac or old_peer.get('mac'),
                          'addresses': sorted(str(x) for x in addrs) if addrs is not None
                          else old_peer.get('addresses', [])},
                 'netns': p.netns, 'paired': True}
            if p.mac is None and not old_peer:
                a['peer']['mac'] = '(assigned by the kernel)'
            for gw in p.gateways or ():
                a[_GATEWAY_KEY[gw.version]] = str(gw)
            after[p.name] = a
        for act in actions:
            if act.op == 'link_delete' and act.target not in after and act.args.get(
                    'netns') is None:
                before[act.target] = {'host': {'kind': 'veth'}, 'owner': want.owner}
                after[act.target] = 'absent'
        return {'pairs': before}, {'pairs': after}

    def result(self, want, have, actions):
        allocated = plan.allocate(want, have)
        out = {}
        for p in want.pairs:
            if p.state == 'present':
                addrs = plan.wanted_addresses(p, allocated) or []
                v6 = [a for a in addrs if a.version == 6]
                out[p.name] = {'peer': p.peer, 'netns': p.netns,
                               'addresses': [str(a) for a in addrs],
                               'address': str(addrs[0].ip) if addrs else None,
                               'address6': str(v6[0].ip) if v6 else None}
        return {'pairs': out}


class PortsResource(_Resource):
    def want(self, params):
        return model.ports_want(params)

    def observe(self, k, want):
        host = observe.ns_view(k, addresses=False, hairpin=True)
        if k.predict_missing:
            links = list(host.links.values())
            for i, name in enumerate([want.bridge] + [p.name for p in want.ports]):
                if host.get(name) is None:
                    links.append(observe.Link(index=-1 - i, name=name, addresses=[],
                                              kind='bridge' if name == want.bridge else None))
            host = observe.NsView(links)
        return plan.L2Have(host)

    def plan(self, want, have):
        return plan.plan_ports(want, have)

    def render(self, want, have, actions):
        before, after = {}, {}
        for p in want.ports:
            link = have.host.get(p.name)
            if link is None:
                before[p.name] = 'absent'
            else:
                before[p.name] = {'master': have.host.master_name(link),
                                  'hairpin': bool(link.hairpin) if link.master else None}
            if p.state == 'absent':
                stays = link is not None and have.host.master_name(link) not in (
                    None, want.bridge)
                after[p.name] = before[p.name] if stays else (
                    {'master': None, 'hairpin': None} if link is not None else 'absent')
            else:
                was = before[p.name] if before[p.name] != 'absent' and \
                    before[p.name]['master'] == want.bridge else {}
                after[p.name] = {'master': want.bridge,
                                 'hairpin': p.hairpin if p.hairpin is not None
                                 else bool(was.get('hairpin'))}
        return {'bridge': want.bridge, 'ports': before}, {'bridge': want.bridge, 'ports': after}
