# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rtnetlink requests of the L2 modules: pyroute2's messages on a plain socket.

Messages are pyroute2's own (``ifinfmsg``, ``ifaddrmsg``, ``rtmsg``: encoding, nested
attributes, decoding; attributes read with its accessors, ``get_attr``), sent on a
netlink socket opened inside the namespace (:meth:`nlsock.Kernel.raw`) and answered
synchronously here. The L2 modules need a handful of requests: one dump per object kind,
link create (bridge; veth with its peer directly in a namespace), set, delete (by index
or by group), address, default route and the bridge port hairpin flag.

Why not ``IPRoute(fileno=...)`` on the same socket: pyroute2's socket layer costs more
than the requests themselves (0.9: an asyncio core, an event loop run per request, an
IPRoute object per namespace; 0.7: its marshal and locking), on top of the same message
decoding. Measured per namespace (40 namespaces, each lo + a veth end with an address and
a default route; socket opened in the namespace, then dumps of links, addresses, IPv4 and
IPv6 routes; inside ``scripts/sandbox``, 2 busy CPUs, median (best) of 9 rounds):

=================  ==================  ==========================
pyroute2           this module         ``IPRoute(fileno=)``
=================  ==================  ==========================
0.9.7              1.25 (1.21) ms      4.24 (3.68) ms
0.7.2              1.64 (0.98) ms      3.68 (1.85) ms
=================  ==================  ==========================

(opening the sockets, one thread entering each namespace in turn: 0.03 ms of it; most of
the rest is pyroute2 decoding the messages, ~0.25 ms per link.) A change costs one
request and its acknowledgement.

A dump is retried when the kernel flags it ``NLM_F_DUMP_INTR`` (inconsistent: what it
lists changed while it was read), :data:`netlink.DUMP_ATTEMPTS` times at most, then
:class:`netlink.DumpInterrupted` (:mod:`netlink`: the requests and dumps themselves).

pyroute2 is imported the plain way (its public submodules; Python runs the package's
``__init__``, which loads the whole library): importing :mod:`nlsock` costs ~0.1 s more
than with the stand-in package pyroute2_lite registered before (0.9.7: median 235 ms
against 350 ms CPU; 0.7.2: 120 ms against 265 ms), once per module process, not per
namespace. nftables is the ``nft_*`` modules' business.

Longer than ~300 lines because every rtnetlink request the L2 modules make (links,
addresses, routes, bridge ports; dumps and changes) is here, each a few lines.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import errno
import socket
import struct

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.netlink import (
    HDR, answers, dump, error, request, send)

PYROUTE2_IMPORT_ERROR = None
try:
    # pyroute2's public submodules. Python runs the package's __init__ first (the whole
    # library is loaded, as its authors intend): the module start-up cost of that is
    # in the docstring above.
    from pyroute2.netlink import (
        NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_ERROR,
        NLA_F_NESTED,
    )
    from pyroute2.netlink.rtnl import (
        RTM_DELADDR, RTM_DELLINK, RTM_DELNEIGH, RTM_DELROUTE, RTM_GETADDR, RTM_GETLINK,
        RTM_GETNEIGH, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE,
        RTM_SETLINK,
    )
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.ndmsg import ndmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
    HAS_PYROUTE2 = True
    try:
        from importlib.metadata import version as _dist_version
        PYROUTE2_VERSION = _dist_version('pyroute2')
    except Exception:  # pragma: no cover - e.g. pyroute2 not installed as a distribution
        PYROUTE2_VERSION = 'unknown'
except ImportError:  # pragma: no cover - exercised by the missing-library path
    import traceback
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()
    HAS_PYROUTE2 = False
    PYROUTE2_VERSION = None

IFF_UP = 1
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
RTPROT_RA = 9          # a route learned from a router advertisement
IFA_F_NODAD = 0x02     # linux/if_addr.h: no duplicate address detection
RTN_UNICAST = 1
RTNH_F_ONLINK = 4      # a gateway taken as on-link (a VXLAN peer's VTEP address)
NTF_SELF = 0x02        # an FDB entry of the device itself (a VXLAN remote)
NUD_PERMANENT = 0x80
VXLAN_PORT = 4789      # IANA

# what addresses() and neighbours() return (tuples: unpacked as before, read by name)
Address = collections.namedtuple('Address', 'family prefixlen scope index address')
Neighbour = collections.namedtuple('Neighbour', 'dst lladdr state flags')


def _get_link(sock, fields, attrs):
    """One RTM_GETLINK (not a dump): (data, offset, length) of the answer, None if ENODEV."""
    seq = send(sock, ifinfmsg, RTM_GETLINK, NLM_F_REQUEST, fields, attrs)
    for kind, _flags, data, offset, length in answers(sock, seq):
        if kind == NLMSG_ERROR:
            try:
                error(data, offset)
            except OSError as e:
                if e.errno == errno.ENODEV:
                    return None
                raise
            return None
        return data, offset, length


def link_index(sock, name):
    """ifindex of the link called ``name``, None if there is none (one RTM_GETLINK)."""
    answer = _get_link(sock, {}, [('IFLA_IFNAME', name)])
    if answer is None:
        return None
    # only the index is wanted: read it from the fixed ifinfomsg header (family, pad,
    # type, index) instead of decoding every attribute of the link
    return struct.unpack_from('=i', answer[0], answer[1] + HDR.size + 4)[0]


def _link_attrs(name=None, mtu=None, mac=None, alias=None, master=None, group=None,
                netns_fd=None):
    attrs = []
    for key, value in (('IFLA_IFNAME', name), ('IFLA_MTU', mtu), ('IFLA_ADDRESS', mac),
                       ('IFLA_IFALIAS', alias), ('IFLA_MASTER', master),
                       ('IFLA_GROUP', group), ('IFLA_NET_NS_FD', netns_fd)):
        if value is not None:
            attrs.append((key, value))
    return attrs


def set_link(sock, index, up=False, mtu=None, mac=None, alias=None, master=None, group=None):
    """Like ``ip link set``: bring up, MTU, MAC, alias, master (0: no master), group."""
    flags = IFF_UP if up else 0
    request(sock, ifinfmsg, RTM_SETLINK, 0, {'index': index, 'flags': flags, 'change': flags},
            _link_attrs(mtu=mtu, mac=mac, alias=alias, master=master, group=group))


def new_link(sock, name, kind, mtu=None, alias=None, peer=None, up=False):
    """Like ``ip link add NAME [mtu M] [up] type KIND [peer name P [mtu M] [address A]
    [netns FD]]``. ``peer``: a dict with name, and optionally mtu, mac, netns_fd.
    ``up`` brings the new link (not a veth's peer) up in the same request."""
    info = [('IFLA_INFO_KIND', kind)]
    if peer is not None:
        info.append(('IFLA_INFO_DATA', {'attrs': [('VETH_INFO_PEER', {'attrs': _link_attrs(
            name=peer['name'], mtu=peer.get('mtu'), mac=peer.get('mac'),
            netns_fd=peer.get('netns_fd'))})]}))
    request(sock, ifinfmsg, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
            {'flags': IFF_UP, 'change': IFF_UP} if up else {},
            _link_attrs(name=name, mtu=mtu, alias=alias) +
            [('IFLA_LINKINFO', {'attrs': info})])


def del_link(sock, index=0, group=None):
    """Delete a link by index, or every link of a group (one RCU grace period for all)."""
    request(sock, ifinfmsg, RTM_DELLINK, 0, {'index': index}, _link_attrs(group=group))


def set_hairpin(sock, index, on):
    """Like ``bridge link set dev X hairpin on|off`` (the port's IFLA_BRPORT_MODE)."""
    request(sock, ifinfmsg, RTM_SETLINK, 0, {'family': socket.AF_BRIDGE, 'index': index},
            [('IFLA_PROTINFO', {'attrs': [('IFLA_BRPORT_MODE', 1 if on else 0)]},
              NLA_F_NESTED)])


def address(sock, add, index, ip, prefixlen, broadcast=None):
    """Add (EEXIST if present) or delete one address of a link. An IPv6 address is added
    ``nodad`` (IFA_F_NODAD): usable at once, no first packets lost to duplicate address
    detection (the addresses of a network are allocated without duplicates)."""
    family = socket.AF_INET6 if ':' in ip else socket.AF_INET
    attrs = [('IFA_LOCAL', ip), ('IFA_ADDRESS', ip)]
    if broadcast is not None:
        attrs.append(('IFA_BROADCAST', broadcast))
    flags = IFA_F_NODAD if add and family == socket.AF_INET6 else 0
    request(sock, ifaddrmsg, RTM_NEWADDR if add else RTM_DELADDR,
            NLM_F_CREATE | NLM_F_EXCL if add else 0,
            {'family': family, 'prefixlen': prefixlen, 'index': index, 'flags': flags}, attrs)


def replace_default_route(sock, gateway, oif):
    """Like ``ip route replace default via GATEWAY dev OIF`` (main table)."""
    family = socket.AF_INET6 if ':' in gateway else socket.AF_INET
    request(sock, rtmsg, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
            {'family': family, 'table': RT_TABLE_MAIN, 'proto': RTPROT_BOOT,
             'type': RTN_UNICAST}, [('RTA_GATEWAY', gateway), ('RTA_OIF', oif)])


def _link_dict(m):
    """A decoded RTM_NEWLINK as a dict, read with pyroute2's accessors."""
    get = m.get_attr
    info = get('IFLA_LINKINFO')
    protinfo = get('IFLA_PROTINFO')
    hairpin = None
    if protinfo is not None and hasattr(protinfo, 'get_attr'):
        # a bridge port's IFLA_PROTINFO (AF_BRIDGE dumps) is nested; other families
        # carry other data there
        mode = protinfo.get_attr('IFLA_BRPORT_MODE')
        hairpin = None if mode is None else bool(mode)
    return {'index': m['index'], 'flags': m['flags'], 'name': get('IFLA_IFNAME'),
            'kind': info.get_attr('IFLA_INFO_KIND') if info is not None else None,
            'mtu': get('IFLA_MTU'), 'mac': get('IFLA_ADDRESS'),
            'master': get('IFLA_MASTER'), 'alias': get('IFLA_IFALIAS'),
            'link': get('IFLA_LINK'), 'group': get('IFLA_GROUP'), 'hairpin': hairpin}


def links(sock, family=socket.AF_UNSPEC):
    """One dict per link: index, flags, name, kind, mtu, mac, master, alias, link, hairpin."""
    return [_link_dict(m) for m in dump(sock, ifinfmsg, RTM_GETLINK, {'family': family})]


def _link_msg(sock, index):
    """One link's decoded RTM_NEWLINK, by index (one RTM_GETLINK); None if none."""
    answer = _get_link(sock, {'index': index}, [])
    if answer is None:
        return None
    data, offset, length = answer
    msg = ifinfmsg(data[offset:offset + length])
    msg.decode()
    return msg


def link(sock, index):
    """The dict of :func:`links` of one link, by index (one RTM_GETLINK); None if none."""
    msg = _link_msg(sock, index)
    return None if msg is None else _link_dict(msg)


def addresses(sock, family=socket.AF_UNSPEC):
    """(family, prefixlen, scope, index, address string) per address (of one family:
    the kernel filters the dump)."""
    out = []
    for m in dump(sock, ifaddrmsg, RTM_GETADDR, {'family': family}):
        if m['family'] not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = m.get_attr('IFA_LOCAL') or m.get_attr('IFA_ADDRESS')
        if ip is None:
            continue
        out.append(Address(m['family'], m['prefixlen'], m['scope'], m['index'], ip))
    return out


def routes(sock, family, table=RT_TABLE_MAIN):
    """One dict per route of the family in ``table`` (asked of the kernel, which filters
    on a strict-checking socket; also filtered here): dst (string or None), dst_len,
    type, table, gateway (string or None), oif (ifindex or None), proto (who added it:
    RTPROT_RA for a route learned from a router advertisement)."""
    out = []
    for m in dump(sock, rtmsg, RTM_GETROUTE, {'family': family, 'table': table}):
        rt_table = m.get_attr('RTA_TABLE') or m['table']
        if rt_table != table:
            continue
        out.append({'dst': m.get_attr('RTA_DST'), 'dst_len': m['dst_len'], 'type': m['type'],
                    'table': rt_table, 'gateway': m.get_attr('RTA_GATEWAY'),
                    'oif': m.get_attr('RTA_OIF'), 'proto': m['proto'],
                    'realm': m.get_attr('RTA_FLOW'), 'flags': m['flags']})
    return out


# ------------------------------------------------------------------ fleet (module network)
def new_vxlan(sock, name, vni, local, mtu, mac, alias):
    """Like ``ip link add NAME mtu M address MAC type vxlan id VNI local LOCAL dstport
    4789 nolearning`` and ``ip link set NAME alias ALIAS up``: unicast only (its remotes
    are static FDB entries), no source learning."""
    info = [('IFLA_INFO_KIND', 'vxlan'),
            ('IFLA_INFO_DATA', {'attrs': [('IFLA_VXLAN_ID', vni), ('IFLA_VXLAN_LOCAL', local),
                                          ('IFLA_VXLAN_PORT', VXLAN_PORT),
                                          ('IFLA_VXLAN_LEARNING', 0)]})]
    request(sock, ifinfmsg, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
            {'flags': IFF_UP, 'change': IFF_UP},
            _link_attrs(name=name, mtu=mtu, mac=mac, alias=alias) +
            [('IFLA_LINKINFO', {'attrs': info})])


def vxlan_info(sock, index):
    """(vni, local address, port, learning) of a VXLAN link, None if it is none."""
    msg = _link_msg(sock, index)
    info = msg.get_attr('IFLA_LINKINFO') if msg is not None else None
    if info is None or info.get_attr('IFLA_INFO_KIND') != 'vxlan':
        return None
    d = info.get_attr('IFLA_INFO_DATA')
    return (d.get_attr('IFLA_VXLAN_ID'), d.get_attr('IFLA_VXLAN_LOCAL'),
            d.get_attr('IFLA_VXLAN_PORT'), d.get_attr('IFLA_VXLAN_LEARNING'))


def route(sock, add, dst, dst_len, gateway, oif=None, proto=RTPROT_BOOT, realm=None,
          onlink=False):
    """Like ``ip route replace|del DST/LEN via GATEWAY [dev OIF] [onlink] proto P
    [realm R]`` (IPv4, main table)."""
    attrs = [('RTA_DST', dst), ('RTA_GATEWAY', gateway)]
    if oif is not None:
        attrs.append(('RTA_OIF', oif))
    if realm is not None:
        attrs.append(('RTA_FLOW', realm))
    request(sock, rtmsg, RTM_NEWROUTE if add else RTM_DELROUTE,
            NLM_F_CREATE | NLM_F_REPLACE if add else 0,
            {'family': socket.AF_INET, 'dst_len': dst_len, 'table': RT_TABLE_MAIN,
             'proto': proto, 'type': RTN_UNICAST, 'flags': RTNH_F_ONLINK if onlink else 0,
             'scope': 0}, attrs)


def neighbours(sock, family, index):
    """(destination, lladdr, state, flags) of each neighbour (AF_INET) or FDB
    (AF_BRIDGE) entry of link ``index``."""
    out = []
    for m in dump(sock, ndmsg, RTM_GETNEIGH, {'family': family}):
        if m['ifindex'] != index:
            continue
        out.append(Neighbour(m.get_attr('NDA_DST'), m.get_attr('NDA_LLADDR'), m['state'],
                             m['flags']))
    return out


def neighbour(sock, add, family, index, lladdr, dst):
    """Like ``ip neigh replace DST lladdr MAC dev IF nud permanent`` (AF_INET) or
    ``bridge fdb append MAC dev IF dst DST self permanent`` (AF_BRIDGE); or their del."""
    flags = NTF_SELF if family == socket.AF_BRIDGE else 0
    how = 0
    if add:
        how = NLM_F_CREATE | (NLM_F_APPEND if family == socket.AF_BRIDGE else NLM_F_REPLACE)
    request(sock, ndmsg, RTM_NEWNEIGH if add else RTM_DELNEIGH, how,
            {'family': family, 'ifindex': index, 'state': NUD_PERMANENT, 'flags': flags},
            [('NDA_LLADDR', lladdr), ('NDA_DST', dst)])
