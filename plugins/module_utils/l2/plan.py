# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diff between wanted and observed L2 state, as an explicit list of actions.

Pure functions of (want, have): no kernel access, so they are unit-tested with
hand-made snapshots. ``have`` objects come from :mod:`observe`.

Longer than ~300 lines because it plans all four L2 resources, which share the owner
checks and the address allocation.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress

from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import owner_of, owner_tag
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    Action, PlanError,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.validate import (
    IPV6_MIN_MTU,
)


class NetnsHave(object):
    """Existing namespace names, and a view (links) of those we looked into."""

    def __init__(self, existing, views):
        self.existing = set(existing)
        self.views = views


class L2Have(object):
    """Host namespace view, views of named namespaces we looked into, existing names."""

    def __init__(self, host, views=None, existing=()):
        self.host = host
        self.views = views or {}
        self.existing = set(existing)
        self.allocation = None  # (want, {pair: address}): computed once, by allocate()

    def view(self, ns):
        return self.host if ns is None else self.views.get(ns)


# ---------------------------------------------------------------------------
# netns


def _check_owner(link, tag, what):
    """Refuse to take over an object tagged by another owner (another network)."""
    alias = link.alias if link is not None else None
    if tag and owner_of(alias) and alias != tag:
        raise PlanError('%s belongs to %s, not %s: two networks cannot share it; rename it '
                        'in one of them' % (what, owner_of(alias), owner_of(tag)))


def plan_netns(want, have):
    actions = []
    tag = owner_tag(want.owner)
    if want.state == 'absent':
        return [Action('netns_delete', n) for n in want.names if n in have.existing]
    for name in want.names:
        if name not in have.existing:
            actions.append(Action('netns_create', name, alias=tag))
            continue
        lo = have.views[name].get('lo')
        _check_owner(lo, tag, "network namespace '%s'" % name)
        if lo is not None and not lo.up:
            actions.append(Action('link_set', 'lo', netns=name, up=True))
        if tag and lo is not None and lo.alias != tag:
            actions.append(Action('link_set', 'lo', netns=name, alias=tag))
    if want.exclusive:
        listed = set(want.names) | set(want.keep or ())
        for name in sorted(have.existing - listed):
            lo = have.views[name].get('lo') if name in have.views else None
            if lo is not None and lo.alias == tag:
                actions.append(Action('netns_delete', name))
    return actions


# ---------------------------------------------------------------------------
# bridge


def _addr_actions(target, ns, wanted, link):
    """Add missing / delete extra addresses (only when the addresses are managed)."""
    if wanted is None:
        return []
    have = set(str(a) for a in (link.addresses if link else []))
    want = [str(a) for a in wanted]
    acts = [Action('addr_del', target, netns=ns, address=a) for a in sorted(have - set(want))]
    acts += [Action('addr_add', target, netns=ns, address=a) for a in want if a not in have]
    return acts


def check_overlaps(bridges, have):
    """Refuse a present bridge address whose subnet overlaps a host route through
    another interface (``have.routes``: {IP version: [(network, oif)]})."""
    routes = getattr(have, 'routes', None) or {}
    for b in bridges:
        if b.state != 'present':
            continue
        link = have.host.get(b.name)
        for a in b.addresses or ():
            for net, oif in routes.get(a.version, ()):
                if link is not None and oif == link.index:
                    continue
                if net.overlaps(a.network):
                    dev = have.host.by_index.get(oif)
                    raise PlanError('subnet %s overlaps the route %s dev %s that the host '
                                    'already has: choose another subnet' % (
                                        a.network, net, dev.name if dev else oif))


def _check_ipv6_mtu(link, mtu, addresses, kind, name):
    """An IPv6 address on a link whose MTU (as it is, when not managed) is below 1280:
    the kernel turns IPv6 off on such a link, so refuse it clearly, before any change."""
    current = mtu if mtu is not None else (link.mtu if link is not None else None)
    if current is not None and current < IPV6_MIN_MTU and \
            any(a.version == 6 for a in addresses or ()):
        raise PlanError("%s '%s' has MTU %d, below the %d IPv6 needs, and is to get an IPv6 "
                        'address: raise its MTU (e.g. ip link set %s mtu 1500) or give it no '
                        'IPv6 address' % (kind, name, current, IPV6_MIN_MTU, name))


def plan_bridges(bridges, have):
    actions = []
    for b in bridges:
        link = have.host.get(b.name)
        if link is not None and link.kind != 'bridge':
            raise PlanError("'%s' exists but is a %s link, not a bridge: rename the bridge or "
                            "remove that link first" % (b.name, link.kind or 'plain'))
        if b.state == 'absent':
            if link is not None:
                actions.append(Action('link_delete', b.name))
            continue
        _check_ipv6_mtu(link, b.mtu, b.addresses, 'bridge', b.name)
        if link is None:
            actions.append(Action('bridge_create', b.name, mtu=b.mtu))
            actions.append(Action('link_set', b.name, up=True))
        else:
            if b.mtu is not None and link.mtu != b.mtu:
                actions.append(Action('link_set', b.name, mtu=b.mtu))
            if not link.up:
                actions.append(Action('link_set', b.name, up=True))
        actions += _addr_actions(b.name, None, b.addresses, link)
    return actions


# ---------------------------------------------------------------------------
# veth pairs


def _paired(host, peer):
    return (host is not None and peer is not None and host.kind == 'veth' and
            peer.kind == 'veth' and host.peer_index == peer.index and
            peer.peer_index == host.index)


def allocate(want, have):
    """Addresses for pairs that ask for 'auto': {pair name: ip_interface}.

    Stable: a pair whose peer already holds an address in the pool keeps it;
    a new one gets the first free address probing from a hash of its name, so
    adding or removing other containers never moves it.
    """
    if have.allocation is not None and have.allocation[0] is want:
        return have.allocation[1]  # the plan's, also for the diff and the result
    result = _allocate(want, have)
    have.allocation = (want, result)
    return result


def _allocate(want, have):
    """{pair name: [ip_interface, ...]}: one address from each pool (IPv4, IPv6) of a
    family the pair lists no address of (``[172.18.0.10/16, auto]``: IPv6 allocated)."""
    result = {}
    for pool in want.pools():
        for name, iface in _allocate_from(pool, want, have).items():
            result.setdefault(name, []).append(iface)
    return result


def _allocate_from(pool, want, have):
    used = set(want.reserved)
    used.update(a.ip for p in want.pairs for a in p.addresses or [])
    used.update(a.ip for l in have.host.links.values() for a in l.addresses)
    used.update(g for p in want.pairs for g in p.gateways or ())
    result = {}
    pending = []
    for p in want.pairs:
        if not p.auto_address or p.state != 'present' or \
                any(a.version == pool.version for a in p.addresses or ()):
            continue
        view = have.view(p.netns)
        peer = view.get(p.peer) if view else None
        keep = None
        if peer is not None and _paired(have.host.get(p.name), peer):
            for a in peer.addresses:
                if a.version == pool.version and a.ip in pool and a.network == pool and \
                        a.ip not in used:
                    keep = a
                    break
        if keep is not None:
            result[p.name] = keep
            used.add(keep.ip)
        else:
            pending.append(p)
    size = pool.num_addresses
    first, span = (1, size - 2) if size > 2 else (0, size)
    for p in pending:
        key = (p.netns or p.name).encode()
        start = int(hashlib.sha1(key).hexdigest(), 16) % span
        for i in range(min(span, len(used) + 1)):
            ip = pool.network_address + first + (start + i) % span
            if ip not in used:
                used.add(ip)
                result[p.name] = ipaddress.ip_interface('%s/%d' % (ip, pool.prefixlen))
                break
        else:
            raise PlanError('pool %s has no free address left for pair %s: use a larger '
                            'subnet' % (pool, p.name))
    return result


def wanted_addresses(pair, allocated):
    if pair.addresses is None and not pair.auto_address:
        return None
    return list(pair.addresses or []) + list(allocated.get(pair.name, ()))


def plan_veth(want, have):
    actions = []
    tag = owner_tag(want.owner)
    allocated = allocate(want, have)
    for p in want.pairs:
        host = have.host.get(p.name)
        if host is not None and host.kind != 'veth':
            raise PlanError("host end '%s' exists but is a %s link, not a veth: rename the "
                            "pair or remove that link" % (p.name, host.kind or 'plain'))
        view = have.view(p.netns)
        peer = view.get(p.peer) if view is not None else None
        if p.state == 'absent':
            if host is not None:
                actions.append(Action('link_delete', p.name))
            elif peer is not None and peer.kind == 'veth':
                actions.append(Action('link_delete', p.peer, netns=p.netns))
            continue
        if p.netns is not None and p.netns not in have.existing:
            raise PlanError("pair '%s': network namespace '%s' does not exist; create it "
                            "first (linuxnet.container_network.netns)" % (p.name, p.netns))
        _check_owner(host, tag, "host end '%s'" % p.name)
        ok = _paired(host, peer)
        if peer is not None and peer.kind != 'veth' and not ok:
            raise PlanError("pair '%s': '%s' in %s is a %s link, not a veth: rename the peer or "
                            "remove that link" % (p.name, p.peer, p.netns or 'the host',
                                                  peer.kind or 'plain'))
        addrs = wanted_addresses(p, allocated)
        _check_ipv6_mtu(host if ok else None, p.mtu, addrs, 'pair', p.name)
        if not ok:
            if host is not None:
                actions.append(Action('link_delete', p.name))
            if peer is not None:
                actions.append(Action('link_delete', p.peer, netns=p.netns))
            # the host end is brought up by its RTM_NEWLINK; the peer cannot be (the kernel
            # opens it before the pair is linked), so it gets its own link_set below
            actions.append(Action('veth_create', p.name, peer=p.peer, netns=p.netns, mtu=p.mtu,
                                  mac=p.mac, alias=tag, up=True))
            host_view, peer_view = None, None
        else:
            host_view, peer_view = host, peer
        actions += _veth_ends(p, tag, host_view, peer_view, view, addrs)
    if want.exclusive:
        listed = set(p.name for p in want.pairs)
        for link in sorted(have.host.links.values(), key=lambda l: l.name):
            if link.kind == 'veth' and link.alias == tag and link.name not in listed:
                actions.append(Action('link_delete', link.name))
    return actions


def _veth_ends(p, tag, host_view, peer_view, view, addrs):
    """What a pair's two ends need once the pair exists (``*_view`` None: just created):
    MTU, alias, MAC, up; the peer's addresses and default routes."""
    actions = []
    if host_view is not None:
        if p.mtu is not None and host_view.mtu != p.mtu:
            actions.append(Action('link_set', p.name, mtu=p.mtu))
        if tag and host_view.alias != tag:
            actions.append(Action('link_set', p.name, alias=tag))
        if not host_view.up:
            actions.append(Action('link_set', p.name, up=True))
    if peer_view is not None:
        if p.mtu is not None and peer_view.mtu != p.mtu:
            actions.append(Action('link_set', p.peer, netns=p.netns, mtu=p.mtu))
        if p.mac is not None and peer_view.mac != p.mac:
            actions.append(Action('link_set', p.peer, netns=p.netns, mac=p.mac))
    addr_actions = _addr_actions(p.peer, p.netns, addrs, peer_view)
    actions += addr_actions
    if peer_view is None or not peer_view.up:
        actions.append(Action('link_set', p.peer, netns=p.netns, up=True))
    for gw in p.gateways or ():
        current = view.default_routes.get(gw.version) if view else None
        # Deleting an address can take the default route with it (the kernel flushes
        # routes whose nexthop was reachable only through it): set it again then.
        if peer_view is None or current != gw or \
                any(a.op == 'addr_del' for a in addr_actions):
            actions.append(Action('route_default', p.peer, netns=p.netns, gateway=str(gw)))
    return actions


# ---------------------------------------------------------------------------
# bridge ports


def plan_ports(want, have):
    actions = []
    bridge = have.host.get(want.bridge)
    if bridge is None or bridge.kind != 'bridge':
        if any(p.state == 'present' for p in want.ports):
            raise PlanError("bridge '%s' %s: create it first (linuxnet.container_network."
                            "bridge)" % (want.bridge, 'does not exist' if bridge is None else
                                         'is a %s link, not a bridge' % bridge.kind))
        return actions
    for p in want.ports:
        link = have.host.get(p.name)
        if p.state == 'absent':
            if link is not None and link.master == bridge.index:
                actions.append(Action('link_set', p.name, nomaster=True))
            continue
        if link is None:
            raise PlanError("port '%s' does not exist: create it first (e.g. the host end of a "
                            "linuxnet.container_network.veth_pair)" % p.name)
        if link.kind == 'bridge':
            # the kernel refuses it; failing here keeps the call from applying half of it
            raise PlanError("port '%s' is a bridge: a bridge cannot be a port of another "
                            "bridge; attach the host ends of veth pairs instead" % p.name)
        attached = link.master == bridge.index
        if not attached:
            actions.append(Action('link_set', p.name, master=want.bridge))
        if p.hairpin is not None and (not attached or bool(link.hairpin) != p.hairpin):
            if attached or p.hairpin:
                actions.append(Action('brport_set', p.name, hairpin=p.hairpin))
    return actions
