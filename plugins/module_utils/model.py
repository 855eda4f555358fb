# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state: validated from module parameters, before anything is touched.

Every validator raises :class:`ValidationError` with a message that names the
offending item, says what is wrong and how to fix it. All items of a call are
validated before the first kernel change.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress
import re

from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError,
)

IFNAMSIZ = 16
MTU_MIN, MTU_MAX = 68, 65535
OWNER_PREFIX = 'linuxnet:'
_MAC_RE = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
_WS = re.compile(r'\s')


def _where(item):
    return ' (in %s)' % item if item else ''


def ifname(value, item=None, what='interface name'):
    if not isinstance(value, str) or not value:
        raise ValidationError('%s%s is empty: give a name of 1 to 15 characters'
                              % (what, _where(item)))
    if len(value.encode()) >= IFNAMSIZ:
        raise ValidationError("%s '%s'%s is %d bytes long: Linux allows at most %d; shorten it"
                              % (what, value, _where(item), len(value.encode()), IFNAMSIZ - 1))
    if value in ('.', '..') or '/' in value or ':' in value or _WS.search(value) \
            or '\0' in value:
        raise ValidationError("%s '%s'%s is not valid: no '/', ':', whitespace, NUL, "
                              "'.' or '..'" % (what, value, _where(item)))
    return value


def netns_name(value, item=None):
    if not isinstance(value, str) or not value:
        raise ValidationError('network namespace name%s is empty: give a name like netns0'
                              % _where(item))
    if value in ('.', '..') or '/' in value or '\0' in value or value.startswith('.') \
            or len(value.encode()) > 255:
        raise ValidationError("network namespace name %r%s is not one safe path component "
                              "under /run/netns: no '/', NUL, leading '.', at most 255 bytes"
                              % (value, _where(item)))
    return value


def mtu(value, item=None):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not MTU_MIN <= value <= MTU_MAX:
        raise ValidationError('mtu %r%s is out of range: use %d to %d'
                              % (value, _where(item), MTU_MIN, MTU_MAX))
    return value


def mac(value, item=None):
    if value is None:
        return None
    v = str(value).lower().replace('-', ':')
    if not _MAC_RE.match(v):
        raise ValidationError("mac %r%s is not a MAC address: use six hex octets like "
                              "02:42:ac:12:00:0a" % (value, _where(item)))
    if int(v[:2], 16) & 1:
        raise ValidationError("mac %r%s is a multicast address: the first octet must be even "
                              "(e.g. 02:...)" % (value, _where(item)))
    return v


def cidr(value, item=None, what='address'):
    """'172.18.0.10/16' -> ip_interface; the prefix is required."""
    if not isinstance(value, str) or '/' not in value:
        raise ValidationError("%s %r%s has no prefix length: write it as CIDR, e.g. "
                              "172.18.0.10/16" % (what, value, _where(item)))
    try:
        iface = ipaddress.ip_interface(value.strip())
    except ValueError as e:
        raise ValidationError('%s %r%s is not a valid CIDR address: %s' % (what, value,
                                                                           _where(item), e))
    return iface


def subnet(value, item=None, what='subnet'):
    if not isinstance(value, str) or '/' not in value:
        raise ValidationError("%s %r%s has no prefix length: write it like 172.18.0.0/16"
                              % (what, value, _where(item)))
    try:
        return ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as e:
        raise ValidationError('%s %r%s is not a valid network (host bits must be zero): %s'
                              % (what, value, _where(item), e))


def address(value, item=None, what='address'):
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise ValidationError('%s %r%s is not an IP address' % (what, value, _where(item)))


def gateway(value, addresses, item=None):
    """The gateway must be inside the subnet of one of the interface's addresses."""
    if value is None:
        return None
    gw = address(value, item, 'gateway')
    same_family = [a for a in addresses if a.version == gw.version]
    if not any(gw in a.network for a in same_family):
        raise ValidationError(
            'gateway %s%s is outside the subnet of %s: the gateway must be reachable on '
            'the link; use an address in %s or change the interface address'
            % (gw, _where(item), ', '.join(str(a) for a in same_family) or 'no address of '
               'its family', ', '.join(str(a.network) for a in same_family) or 'that subnet'))
    if any(gw == a.ip for a in same_family):
        raise ValidationError('gateway %s%s is the interface\'s own address; use the '
                              'address of the router (e.g. the bridge)' % (gw, _where(item)))
    return gw


def unique(items, key, what):
    seen = set()
    for it in items:
        k = key(it)
        if k in seen:
            raise ValidationError('%s %r is listed twice: each may appear once per call; '
                                  'merge the entries' % (what, k))
        seen.add(k)


def owner_tag(owner):
    return OWNER_PREFIX + owner if owner else None


def owner_name(owner, item='owner'):
    if owner is None:
        return None
    if not isinstance(owner, str) or not owner or len(owner) > 100 or _WS.search(owner):
        raise ValidationError('%s %r must be 1 to 100 characters without whitespace'
                              % (item, owner))
    return owner


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
    __slots__ = ('name', 'peer', 'netns', 'addresses', 'auto_address', 'gateway', 'mtu',
                 'mac', 'state')


class VethWant(Record):
    __slots__ = ('pairs', 'state', 'owner', 'exclusive', 'pool', 'reserved')


class Port(Record):
    __slots__ = ('name', 'hairpin', 'state')


class PortsWant(Record):
    __slots__ = ('bridge', 'ports')


# ---------------------------------------------------------------------------
# From module parameters


def netns_want(params):
    state = params.get('state') or 'present'
    names = [netns_name(n, 'name') for n in params.get('name') or []]
    unique(names, lambda n: n, 'network namespace')
    owner = owner_name(params.get('owner'))
    exclusive = bool(params.get('exclusive'))
    if exclusive and not owner:
        raise ValidationError('exclusive needs owner: only namespaces tagged with that owner '
                              'are ever removed')
    return NetnsWant(names=names, state=state, owner=owner, exclusive=exclusive,
                     keep=frozenset(params.get('keep') or ()))


def _addresses(values, item, what='address'):
    if values is None:
        return None
    out = []
    for v in values:
        a = cidr(v, item, what)
        if a.version == 4 and a.network.prefixlen < 32 and a.ip in (
                a.network.network_address, a.network.broadcast_address):
            raise ValidationError('%s %s%s is the network or broadcast address of %s; pick a '
                                  'host address' % (what, a, _where(item), a.network))
        out.append(a)
    unique(out, lambda a: str(a.ip), what)
    return out


def bridge_want(params):
    bridges = []
    for b in params.get('bridges') or []:
        name = ifname(b.get('name'), 'bridges', 'bridge name')
        item = "bridge '%s'" % name
        bridges.append(Bridge(name=name, state=b.get('state') or params.get('state') or 'present',
                              addresses=_addresses(b.get('addresses'), item),
                              mtu=mtu(b.get('mtu'), item)))
    unique(bridges, lambda b: b.name, 'bridge')
    return bridges


def veth_want(params):
    state = params.get('state') or 'present'
    owner = owner_name(params.get('owner'))
    exclusive = bool(params.get('exclusive'))
    if exclusive and not owner:
        raise ValidationError('exclusive needs owner: only pairs tagged with that owner are '
                              'ever removed')
    pool = subnet(params['pool'], 'pool') if params.get('pool') else None
    reserved = set(address(r, 'reserved') for r in params.get('reserved') or [])
    pairs = []
    for p in params.get('pairs') or []:
        name = ifname(p.get('name'), 'pairs', 'host end name')
        item = "pair '%s'" % name
        if not p.get('peer'):
            raise ValidationError('%s has no peer: name the end that goes into the namespace'
                                  % item)
        peer = ifname(p['peer'], item, 'peer name')
        netns = netns_name(p['netns'], item) if p.get('netns') is not None else None
        if netns is None and peer == name:
            raise ValidationError('%s: peer and host end have the same name in the same '
                                  'namespace; rename one' % item)
        raw = p.get('addresses')
        auto = False
        if raw is not None and 'auto' in raw:
            if not pool:
                raise ValidationError("%s asks for an 'auto' address but no pool is given; "
                                      "set pool (e.g. 172.18.0.0/16)" % item)
            auto = True
            raw = [r for r in raw if r != 'auto']
        addrs = _addresses(raw, item)
        if pool and addrs:
            for a in addrs:
                if a.version == pool.version and a.ip not in pool:
                    raise ValidationError('address %s (in %s) is outside the pool %s'
                                          % (a, item, pool))
        if netns is None and p.get('gateway') is not None:
            raise ValidationError('%s: a gateway without netns would replace the host\'s own '
                                  'default route; put the peer in a namespace or drop gateway'
                                  % item)
        if auto and p.get('gateway') is not None:
            gw = address(p['gateway'], item, 'gateway')
            if gw not in pool:
                raise ValidationError('gateway %s (in %s) is outside the pool %s it gets its '
                                      'address from' % (gw, item, pool))
        else:
            gw = gateway(p.get('gateway'), addrs or [], item)
        pairs.append(Pair(name=name, peer=peer, netns=netns, addresses=addrs, auto_address=auto,
                          gateway=gw,
                          mtu=mtu(p.get('mtu'), item), mac=mac(p.get('mac'), item),
                          state=p.get('state') or state))
    unique(pairs, lambda p: p.name, 'host end')
    unique([p for p in pairs if p.netns], lambda p: '%s in %s' % (p.peer, p.netns), 'peer')
    ips = [(a.ip, p.name) for p in pairs if p.state == 'present' for a in p.addresses or []]
    unique(ips, lambda x: str(x[0]), 'address')
    return VethWant(pairs=pairs, state=state, owner=owner, exclusive=exclusive, pool=pool,
                    reserved=reserved)


def ports_want(params):
    bridge = ifname(params.get('bridge'), 'bridge', 'bridge name')
    ports = []
    for p in params.get('ports') or []:
        name = ifname(p.get('name'), 'ports', 'port name')
        if name == bridge:
            raise ValidationError("port '%s' is the bridge itself" % name)
        ports.append(Port(name=name, hairpin=p.get('hairpin'),
                          state=p.get('state') or params.get('state') or 'present'))
    unique(ports, lambda p: p.name, 'port')
    return PortsWant(bridge=bridge, ports=ports)
