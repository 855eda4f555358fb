# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""L2 desired state: validated from module parameters, before anything is touched.

The rules and the message shape are :mod:`validate`'s; each message names the path of
the offending value (``pairs[1].peer``). All items of a call are validated before the
first kernel change.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

from ansible_collections.linuxnet.container_network.plugins.module_utils import validate as v
from ansible_collections.linuxnet.container_network.plugins.module_utils.validate import (
    IFNAMSIZ, IPV6_MIN_MTU, Path,
)


def gateway(value, addresses, path):
    """The gateway must be inside the subnet of one of the interface's addresses."""
    if value is None:
        return None
    gw = v.address(value, path)
    same_family = [a for a in addresses if a.version == gw.version]
    if not any(gw in a.network for a in same_family):
        v.fail(path, value, 'is outside the subnet of %s, so not reachable on the link' % (
            ', '.join(str(a) for a in same_family) or 'any address of its family'),
            'use an address in %s or change the interface address' % (
                ', '.join(str(a.network) for a in same_family) or 'that subnet'))
    if any(gw == a.ip for a in same_family):
        v.fail(path, value, "is the interface's own address",
               'use the address of the router (e.g. the bridge)')
    return gw


def derive_ifname(prefix, *parts):
    """A deterministic interface name <= 15 chars from any identifying strings."""
    digest = hashlib.sha1('/'.join(parts).encode()).hexdigest()
    return (prefix + digest)[:IFNAMSIZ - 1]


# ---------------------------------------------------------------------------
# Desired-state records


class Record(object):
    """A small value object: fields set from kwargs, compared and printed by value."""

    __slots__ = ()

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def as_dict(self):
        return dict((k, getattr(self, k)) for k in self.__slots__)

    def __eq__(self, other):
        return type(self) is type(other) and self.as_dict() == other.as_dict()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return '%s(%s)' % (type(self).__name__, ', '.join(
            '%s=%r' % kv for kv in sorted(self.as_dict().items())))


class NetnsWant(Record):
    # keep: namespaces that exclusive must not remove, without creating them (the
    # network composite removes unlisted namespaces in a stage of their own)
    __slots__ = ('names', 'state', 'owner', 'exclusive', 'keep')


class Bridge(Record):
    __slots__ = ('name', 'state', 'addresses', 'mtu')


class Pair(Record):
    """A veth pair: ``name`` on the host, ``peer`` in ``netns`` (None: host)."""
    __slots__ = ('name', 'peer', 'netns', 'addresses', 'auto_address', 'gateways', 'mtu',
                 'mac', 'state')

    def gateway(self, version):
        """The default route's gateway of one IP version, or None."""
        for gw in self.gateways or ():
            if gw.version == version:
                return gw
        return None


class VethWant(Record):
    __slots__ = ('pairs', 'state', 'owner', 'exclusive', 'pool', 'pool6', 'reserved')

    def pools(self):
        """The pools 'auto' allocates from: one address from each."""
        return [p for p in (self.pool, self.pool6) if p is not None]


class Port(Record):
    __slots__ = ('name', 'hairpin', 'state')


class PortsWant(Record):
    __slots__ = ('bridge', 'ports')


# ---------------------------------------------------------------------------
# From module parameters


def _exclusive(params, owner, what):
    exclusive = bool(params.get('exclusive'))
    if exclusive and not owner:
        v.fail(Path().exclusive, exclusive, 'needs owner',
               'set owner: only %s tagged with it are ever removed' % what)
    return exclusive


def netns_want(params):
    state = params.get('state') or 'present'
    at = Path().name
    names = [v.netns_name(n, at[i]) for i, n in enumerate(params.get('name') or [])]
    v.unique((at[i], n, n) for i, n in enumerate(names))
    owner = v.owner_name(params.get('owner'), Path().owner)
    exclusive = _exclusive(params, owner, 'namespaces')
    return NetnsWant(names=names, state=state, owner=owner, exclusive=exclusive,
                     keep=frozenset(params.get('keep') or ()))


def _addresses(values, at):
    """A list of interface addresses (CIDR) at path ``at``, each listed once."""
    if values is None:
        return None
    out = [v.cidr(a, at[j]) for j, a in enumerate(values)]
    v.unique((at[j], str(a), str(a.ip)) for j, a in enumerate(out))
    return out


def bridge_want(params):
    bridges = []
    for i, b in enumerate(params.get('bridges') or []):
        at = Path().bridges[i]
        addresses = _addresses(b.get('addresses'), at.addresses)
        has6 = any(a.version == 6 for a in addresses or ())
        bridges.append(Bridge(name=v.ifname(b.get('name'), at.name),
                              state=b.get('state') or params.get('state') or 'present',
                              addresses=addresses,
                              mtu=ipv6_mtu(v.mtu(b.get('mtu'), at.mtu), has6, at.mtu)))
    v.unique((Path().bridges[i].name, b.name, b.name) for i, b in enumerate(bridges))
    return bridges


def ipv6_mtu(mtu, has_ipv6, path):
    """An MTU below 1280 refused for a link that has (or gets) an IPv6 address."""
    if has_ipv6 and mtu is not None and mtu < IPV6_MIN_MTU:
        v.fail(path, mtu, 'is below %d, the least IPv6 needs, on a link with an IPv6 '
               'address' % IPV6_MIN_MTU, 'raise it to %d or more, or drop the IPv6 address'
               % IPV6_MIN_MTU)
    return mtu


def _gateways(p, at, addrs, pools, auto, netns):
    """The pair's default routes: ``gateway`` (either family) and ``ipv6_gateway``; at most
    one per family, each reachable on the link (in an address's subnet or, for an
    allocated address, in the pool it comes from)."""
    given = [(at.gateway, p.get('gateway'), False), (at.ipv6_gateway, p.get('ipv6_gateway'), True)]
    given = [g for g in given if g[1] is not None]
    if netns is None and given:
        v.fail(given[0][0], given[0][1], "would replace the host's own default route (the "
               'peer has no netns)', 'put the peer in a namespace or drop %s'
               % str(given[0][0]).rsplit('.', 1)[-1])
    out = []
    for path, value, ipv6_only in given:
        gw = v.address(value, path)
        if ipv6_only:
            if gw.version != 6:
                v.fail(path, value, 'is not an IPv6 address', 'give the IPv6 router, like '
                       'fd00:18::1, or use gateway for IPv4')
        pool = pools.get(gw.version)
        if auto and pool is not None:
            if gw not in pool:
                v.fail(path, value, 'is outside the pool %s the pair gets its address from'
                       % pool, 'use an address in the pool')
        else:
            gw = gateway(value, addrs or [], path)
        if any(g.version == gw.version for g in out):
            v.fail(path, value, 'is a second IPv%d gateway (gateway is IPv%d too)' % (
                gw.version, gw.version), 'give one default route per IP version')
        out.append(gw)
    return tuple(out)


def _pair(p, at, pools, default_state):
    name = v.ifname(p.get('name'), at.name)
    if not p.get('peer'):
        v.missing(at.peer, 'name the end that goes into the namespace')
    peer = v.ifname(p['peer'], at.peer)
    netns = v.netns_name(p['netns'], at.netns) if p.get('netns') is not None else None
    if netns is None and peer == name:
        v.fail(at.peer, peer, "is the host end's name, in the same namespace",
               'rename one or give netns')
    raw = p.get('addresses')
    auto = False
    if raw is not None and 'auto' in raw:
        if not pools:
            v.fail(at.addresses[raw.index('auto')], 'auto', 'needs a pool to allocate from',
                   'set pool (e.g. 172.18.0.0/16) or ipv6_pool')
        auto = True
    addrs = None
    if raw is not None:
        at_addr = at.addresses
        addrs = [v.cidr(a, at_addr[j]) for j, a in enumerate(raw) if a != 'auto']
        listed = [(at_addr[j], a) for j, a in enumerate(raw) if a != 'auto']
        v.unique((path, a, str(ip.ip)) for (path, a), ip in zip(listed, addrs))
        for (path, a), ip in zip(listed, addrs):
            pool = pools.get(ip.version)
            if pool and ip.ip not in pool:
                v.fail(path, a, 'is outside the pool %s' % pool, 'use an address in it')
    gws = _gateways(p, at, addrs, pools, auto, netns)
    has6 = any(a.version == 6 for a in addrs or ()) or (auto and 6 in pools)
    return Pair(name=name, peer=peer, netns=netns, addresses=addrs, auto_address=auto,
                gateways=gws, mtu=ipv6_mtu(v.mtu(p.get('mtu'), at.mtu), has6, at.mtu),
                mac=v.mac(p.get('mac'), at.mac), state=p.get('state') or default_state)


def veth_want(params):
    state = params.get('state') or 'present'
    owner = v.owner_name(params.get('owner'), Path().owner)
    exclusive = _exclusive(params, owner, 'pairs')
    pool = v.subnet(params['pool'], Path().pool) if params.get('pool') else None
    pool6 = None
    if params.get('ipv6_pool'):
        pool6 = v.subnet(params['ipv6_pool'], Path().ipv6_pool)
        if pool6.version != 6:
            v.fail(Path().ipv6_pool, params['ipv6_pool'], 'is not an IPv6 subnet',
                   'give one like fd00:18::/64, or use pool for IPv4')
    if pool is not None and pool6 is not None and pool.version == 6:
        v.fail(Path().pool, params['pool'], 'is IPv6 and so is ipv6_pool',
               'give pool an IPv4 subnet')
    pools = dict((p.version, p) for p in (pool, pool6) if p is not None)
    reserved = set(v.address(r, Path().reserved[i])
                   for i, r in enumerate(params.get('reserved') or []))
    at = Path().pairs
    pairs = [_pair(p, at[i], pools, state) for i, p in enumerate(params.get('pairs') or [])]
    v.unique((at[i].name, p.name, p.name) for i, p in enumerate(pairs))
    v.unique((at[i].peer, p.peer, (p.peer, p.netns), 'in %s' % p.netns)
             for i, p in enumerate(pairs) if p.netns)
    v.unique((at[i].addresses[j], str(a), a.ip)
             for i, p in enumerate(pairs) if p.state == 'present'
             for j, a in enumerate(p.addresses or []))
    return VethWant(pairs=pairs, state=state, owner=owner, exclusive=exclusive, pool=pool,
                    pool6=pool6, reserved=reserved)


def ports_want(params):
    bridge = v.ifname(params.get('bridge'), Path().bridge)
    ports = []
    for i, p in enumerate(params.get('ports') or []):
        at = Path().ports[i].name
        name = v.ifname(p.get('name'), at)
        if name == bridge:
            v.fail(at, name, 'is the bridge itself', "list the bridge's ports, not the bridge")
        ports.append(Port(name=name, hairpin=p.get('hairpin'),
                          state=p.get('state') or params.get('state') or 'present'))
    v.unique((Path().ports[i].name, p.name, p.name) for i, p in enumerate(ports))
    return PortsWant(bridge=bridge, ports=ports)
