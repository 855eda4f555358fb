# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one validation layer: every module, the ``network`` module and the role use it.

Each validator takes the value and the :class:`Path` the user wrote it at and returns
the parsed value, or raises :class:`~runner.ValidationError` with ONE message shape::

    <path>: <value> <what is wrong>; <how to fix it>

    containers[2].address: '10.0.0.1' is not a host address of subnet 172.18.0.0/16
    (it is outside it); use an address inside it or leave it out to have one allocated

The path is the option the user wrote (``pairs[1].peer``, ``publications[3].host_port``);
a role run's names carry the role's variable prefix
(``container_bridge_network_containers[2].address``): ``Path(prefix=...)``.
Each rule (interface names, namespace names, subnets, addresses, ports, ...) exists
here once; ``IFNAMSIZ`` is defined here only.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError,
)

IFNAMSIZ = 16          # linux/if.h: the name and its NUL
MTU_MIN, MTU_MAX = 68, 65535
IPV6_MIN_MTU = 1280    # RFC 8200: the least MTU of a link that carries IPv6
PORT_MIN, PORT_MAX = 1, 65535
NAME_RE = re.compile(r'^[A-Za-z0-9_.-]{1,32}$')
_MAC_RE = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
_PORTS_RE = re.compile(r'^(\d+)(?:\s*-\s*(\d+))?$')
_WS = re.compile(r'\s')
_IP_TYPES = (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network,
             ipaddress.IPv6Network, ipaddress.IPv4Interface, ipaddress.IPv6Interface)


class Path(object):
    """Where a value was written: ``Path().containers[2].address`` ->
    ``containers[2].address``; ``Path(prefix='container_bridge_network_').subnet`` ->
    ``container_bridge_network_subnet``; ``Path('pool')`` -> ``pool``."""

    __slots__ = ('_text', '_open')

    def __init__(self, name='', prefix=''):
        self._text = (prefix or '') + name
        self._open = not name  # the next name is appended to the prefix as it is

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        return Path(self._text + name if self._open else '%s.%s' % (self._text, name))

    def __getitem__(self, index):
        return Path('%s[%d]' % (self._text, index))

    def __str__(self):
        return self._text

    __repr__ = __str__


def show(value):
    """A value as the message shows it: strings quoted (invisible characters escaped)."""
    if isinstance(value, _IP_TYPES):
        return repr(str(value))
    return repr(value)


def fail(path, value, problem, fix):
    """Raise THE message: ``<path>: <value> <problem>; <fix>``."""
    raise ValidationError('%s: %s %s; %s' % (path, show(value), problem, fix))


def missing(path, fix):
    """A required value that is not there: ``<path>: missing; <fix>``."""
    raise ValidationError('%s: missing; %s' % (path, fix))


# --------------------------------------------------------------------------- names
def ifname(value, path):
    """An interface name: 1 to IFNAMSIZ-1 bytes, no '/', ':', whitespace, NUL, '.', '..'."""
    limit = IFNAMSIZ - 1
    if value is None:
        missing(path, 'give an interface name of 1 to %d bytes' % limit)
    if not isinstance(value, str) or not value:
        fail(path, value, 'is empty', 'give an interface name of 1 to %d bytes' % limit)
    size = len(value.encode('utf-8'))
    if size > limit:
        fail(path, value, 'is %d bytes long, Linux allows at most %d' % (size, limit),
             'shorten it')
    if value in ('.', '..') or '/' in value or ':' in value or _WS.search(value) \
            or '\0' in value:
        fail(path, value, 'is not a valid interface name',
             "use no '/', ':', whitespace or NUL, and not '.' or '..'")
    return value


def netns_name(value, path):
    """A network namespace name: one safe path component under /run/netns."""
    if value is None:
        missing(path, 'give a network namespace name like netns0')
    if not isinstance(value, str) or not value:
        fail(path, value, 'is empty', 'give a network namespace name like netns0')
    if value in ('.', '..') or '/' in value or '\0' in value or value.startswith('.') \
            or len(value.encode('utf-8')) > 255:
        fail(path, value, 'is not a network namespace name that is one safe path component '
             'under /run/netns', "use no '/' or NUL, no leading '.', at most 255 bytes")
    return value


def name(value, path):
    """A network's name (owner of its NAT rules): 1 to 32 of A-Z a-z 0-9 _ . -."""
    if value is None:
        missing(path, 'give a network name of 1 to 32 of A-Z a-z 0-9 _ . -')
    if not isinstance(value, str) or not NAME_RE.match(value):
        fail(path, value, 'is not a valid network name', 'use 1 to 32 of A-Z a-z 0-9 _ . -')
    return value


def owner_name(value, path):
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 100 or _WS.search(value):
        fail(path, value, 'is not a valid owner', 'use 1 to 100 characters without whitespace')
    return value


# --------------------------------------------------------------------------- addresses
def subnet(value, path, nat=False):
    """A subnet with its host bits zero (``ip_network``). ``nat``: NATed by this
    collection, so IPv4 only and not the whole address space."""
    if value is None:
        missing(path, 'give a subnet like 172.18.0.0/16')
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or '/' not in text:
        fail(path, value, 'has no prefix length', 'write it as CIDR, like 172.18.0.0/16')
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as e:
        fail(path, value, 'is not a subnet (%s)' % e, 'write it like 172.18.0.0/16')
    if net.network_address != ipaddress.ip_interface(text).ip:
        fail(path, value, 'has host bits set', 'write the network address %s' % net)
    if nat and net.version != 4:
        fail(path, value, 'is IPv6, this field is the IPv4 subnet',
             'give an IPv4 subnet here and the IPv6 one in ipv6_subnet')
    if nat and net.prefixlen == 0:
        fail(path, value, 'would cover every address', 'use the containers\' subnet, like '
             '172.18.0.0/16')
    return net


def address(value, path):
    """An IP address (no prefix)."""
    if value is None:
        missing(path, 'give an IP address like 172.18.0.10')
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        fail(path, value, 'is not an IP address', 'write one like 172.18.0.10')


def is_host_of(ip, net):
    """``ip`` is usable by a host of ``net``: inside it and, in an IPv4 subnet larger
    than /31, neither its network nor its broadcast address."""
    if ip.version != net.version or ip not in net:
        return False
    return not (ip.version == 4 and net.prefixlen < 31
                and ip in (net.network_address, net.broadcast_address))


def host_address(value, net, path, fix):
    """An address (or parsed ip) that must be a host address of ``net``."""
    ip = address(value, path)
    if not is_host_of(ip, net):
        why = 'the network or broadcast address' if ip in net else 'outside it'
        fail(path, value, 'is not a host address of subnet %s (it is %s)' % (net, why), fix)
    return ip


def cidr(value, path):
    """An interface address with its prefix length: '172.18.0.10/16' -> ip_interface,
    a host address of its subnet."""
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or '/' not in text:
        fail(path, value, 'has no prefix length', 'write it as CIDR, like 172.18.0.10/16')
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError as e:
        fail(path, value, 'is not a valid CIDR address (%s)' % e,
             'write it like 172.18.0.10/16')
    if not is_host_of(iface.ip, iface.network):
        fail(path, value, 'is the network or broadcast address of %s' % iface.network,
             'pick a host address')
    return iface


def mac(value, path):
    if value is None:
        return None
    v = str(value).lower().replace('-', ':')
    if not _MAC_RE.match(v):
        fail(path, value, 'is not a MAC address', 'use six hex octets like 02:42:ac:12:00:0a')
    if int(v[:2], 16) & 1:
        fail(path, value, 'is a multicast address', 'use an even first octet, like 02:...')
    return v


# --------------------------------------------------------------------------- numbers, choices
def mtu(value, path):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not MTU_MIN <= value <= MTU_MAX:
        fail(path, value, 'is not a valid MTU', 'use %d to %d' % (MTU_MIN, MTU_MAX))
    return value


def ports(value, path):
    """8080, "8080" or "8000-8010" -> (lo, hi)."""
    fix = 'use a port from %d to %d or a range like 8000-8010' % (PORT_MIN, PORT_MAX)
    if value is None:
        missing(path, fix)
    if isinstance(value, int) and not isinstance(value, bool):
        lo = hi = value
    else:
        m = _PORTS_RE.match(str(value).strip()) if not isinstance(value, bool) else None
        if not m:
            fail(path, value, 'is not a port or port range', fix)
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
    if not (PORT_MIN <= lo <= PORT_MAX and PORT_MIN <= hi <= PORT_MAX):
        fail(path, value, 'is out of range', fix)
    if hi < lo:
        fail(path, value, 'is a reversed range', 'write it low-high, like %d-%d' % (hi, lo))
    return lo, hi


def ports_text(rng):
    return '%d' % rng[0] if rng[0] == rng[1] else '%d-%d' % rng


def one_of(value, choices, path):
    if value not in choices:
        fail(path, value, 'is not one of: %s' % ', '.join(choices),
             'use one of them')
    return value


# --------------------------------------------------------------------------- lists
def unique(entries, fix='list it once'):
    """``entries``: ``(path, value, key[, where])`` in order; the second of two equal keys
    fails, naming the first (``where``: e.g. "in netns0", said after "listed twice")."""
    seen = {}
    for e in entries:
        path, value, key = e[:3]
        if key in seen:
            where = (' ' + e[3]) if len(e) > 3 and e[3] else ''
            fail(path, value, 'is listed twice%s (also at %s)' % (where, seen[key]), fix)
        seen[key] = path
