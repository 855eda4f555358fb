# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rtnetlink requests of the L2 modules on a plain netlink socket, with :mod:`struct`.

Going through pyroute2 cost ~1 ms per namespace to observe it (an IPRoute built
around the socket, 0.9's asyncio core running an event loop per request, every
attribute decoded into objects), as much again per change, and ~0.15 s per module
process to import it. The L2 modules need a handful of requests and fields: one
dump per object kind (decoding only what :mod:`observe` uses), link create (bridge,
veth with its peer directly in a namespace), set, delete (by index or by group),
address, default route and the bridge port hairpin flag; they are encoded here.
The socket is opened in the namespace (:meth:`nlsock.Kernel.raw`). nftables
(:mod:`nft_netlink`) still uses pyroute2's NETLINK_NETFILTER socket.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import select
import socket
import struct

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_SETLINK = 19
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_NEWROUTE = 24
IFF_UP = 1
IFA_BROADCAST = 4
RTA_OIF = 4
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
RTN_UNICAST = 1
RTM_GETLINK = 18
RTM_GETADDR = 22
RTM_GETROUTE = 26
NLA_TYPE_MASK = 0x3fff

IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_LINK = 5
IFLA_MASTER = 10
IFLA_PROTINFO = 12
IFLA_LINKINFO = 18
IFLA_INFO_KIND = 1
IFLA_IFALIAS = 20
IFLA_INFO_DATA = 2
IFLA_GROUP = 27
IFLA_NET_NS_FD = 28
VETH_INFO_PEER = 1
NLA_F_NESTED = 0x8000
IFLA_BRPORT_MODE = 4
IFA_ADDRESS = 1
IFA_LOCAL = 2
RTA_DST = 1
RTA_GATEWAY = 5
RTA_TABLE = 15

_HDR = struct.Struct('=IHHII')
_IFINFO = struct.Struct('=BxHiII')
_IFADDR = struct.Struct('=BBBBI')
_RTMSG = struct.Struct('=BBBBBBBBI')
_NLA = struct.Struct('=HH')
_U32 = struct.Struct('=I')

_seq = [0]


def _attrs(data, offset, end):
    """{type: raw bytes} of the netlink attributes in data[offset:end]."""
    out = {}
    while offset + 4 <= end:
        length, kind = _NLA.unpack_from(data, offset)
        if length < 4:
            break
        out[kind & NLA_TYPE_MASK] = data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return out


def _str(raw):
    return raw.split(b'\0', 1)[0].decode('utf-8', 'replace') if raw is not None else None


def _u32(raw):
    return _U32.unpack_from(raw)[0] if raw is not None and len(raw) >= 4 else None


def _next_seq():
    _seq[0] = (_seq[0] + 1) & 0x7fffffff or 1
    return _seq[0]


def _answers(sock, seq):
    """(type, data, offset, length) of each message answering request ``seq``."""
    while True:
        try:
            data = sock.recv(1 << 18)
        except (BlockingIOError, InterruptedError):
            # pyroute2 0.9 may have made the socket non-blocking: wait for the answer
            select.select([sock], [], [])
            continue
        offset = 0
        while offset + _HDR.size <= len(data):
            length, kind, _flags, mseq, _pid = _HDR.unpack_from(data, offset)
            if length < _HDR.size:
                break
            if mseq == seq:
                yield kind, data, offset, length
            offset += (length + 3) & ~3


def _error(data, offset):
    code = -struct.unpack_from('=i', data, offset + _HDR.size)[0]
    if code:
        raise OSError(code, os.strerror(code))


def dump(sock, msg_type, family, fixed):
    """Send one dump request; yield (fixed header fields, attribute dict) per answer."""
    seq = _next_seq()
    if msg_type == RTM_GETLINK:
        body = _IFINFO.pack(family, 0, 0, 0, 0)
    elif msg_type == RTM_GETADDR:
        body = _IFADDR.pack(family, 0, 0, 0, 0)
    else:
        body = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    sock.sendall(_HDR.pack(_HDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
                 + body)
    for kind, data, offset, length in _answers(sock, seq):
        if kind == NLMSG_DONE:
            return
        if kind == NLMSG_ERROR:
            _error(data, offset)
            return
        start = offset + _HDR.size
        yield fixed.unpack_from(data, start), _attrs(data, start + fixed.size, offset + length)


def _nla(kind, payload):
    length = 4 + len(payload)
    return _NLA.pack(length, kind) + payload + b'\0' * (-length % 4)


def request(sock, msg_type, flags, body):
    """Send one request and wait for its acknowledgement (OSError on a kernel error)."""
    seq = _next_seq()
    sock.sendall(_HDR.pack(_HDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_ACK | flags,
                           seq, 0) + body)
    for kind, data, offset, _length in _answers(sock, seq):
        if kind == NLMSG_ERROR:
            _error(data, offset)
            return


def link_index(sock, name):
    """ifindex of the link called ``name``, None if there is none (one RTM_GETLINK)."""
    seq = _next_seq()
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _nla(IFLA_IFNAME, name.encode() + b'\0')
    sock.sendall(_HDR.pack(_HDR.size + len(body), RTM_GETLINK, NLM_F_REQUEST, seq, 0) + body)
    for kind, data, offset, _length in _answers(sock, seq):
        if kind == NLMSG_ERROR:
            try:
                _error(data, offset)
            except OSError as e:
                if e.errno == errno.ENODEV:
                    return None
                raise
            return None
        return _IFINFO.unpack_from(data, offset + _HDR.size)[2]


def _link_attrs(name=None, mtu=None, mac=None, alias=None, master=None, group=None,
                netns_fd=None):
    out = b''
    if name is not None:
        out += _nla(IFLA_IFNAME, name.encode('utf-8') + b'\0')
    if mtu is not None:
        out += _nla(IFLA_MTU, _U32.pack(mtu))
    if mac is not None:
        out += _nla(IFLA_ADDRESS, bytes(bytearray(int(x, 16) for x in mac.split(':'))))
    if alias is not None:
        out += _nla(IFLA_IFALIAS, alias.encode('utf-8'))
    if master is not None:
        out += _nla(IFLA_MASTER, _U32.pack(master))
    if group is not None:
        out += _nla(IFLA_GROUP, _U32.pack(group))
    if netns_fd is not None:
        out += _nla(IFLA_NET_NS_FD, _U32.pack(netns_fd))
    return out


def set_link(sock, index, up=False, mtu=None, mac=None, alias=None, master=None, group=None):
    """Like ``ip link set``: bring up, MTU, MAC, alias, master (0: no master), group."""
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP if up else 0)
    request(sock, RTM_SETLINK, 0, body + _link_attrs(mtu=mtu, mac=mac, alias=alias,
                                                     master=master, group=group))


def new_link(sock, name, kind, mtu=None, alias=None, peer=None):
    """Like ``ip link add NAME [mtu M] type KIND [peer name P [mtu M] [address A]
    [netns FD]]``. ``peer``: a dict with name, and optionally mtu, mac, netns_fd."""
    data = b''
    if peer is not None:
        data = _nla(IFLA_INFO_DATA, _nla(VETH_INFO_PEER, _IFINFO.pack(
            socket.AF_UNSPEC, 0, 0, 0, 0) + _link_attrs(
                name=peer['name'], mtu=peer.get('mtu'), mac=peer.get('mac'),
                netns_fd=peer.get('netns_fd'))))
    info = _nla(IFLA_LINKINFO, _nla(IFLA_INFO_KIND, kind.encode()) + data)
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _link_attrs(
        name=name, mtu=mtu, alias=alias) + info
    request(sock, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)


def del_link(sock, index=0, group=None):
    """Delete a link by index, or every link of a group (one RCU grace period for all)."""
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0) + _link_attrs(group=group)
    request(sock, RTM_DELLINK, 0, body)


def set_hairpin(sock, index, on):
    """Like ``bridge link set dev X hairpin on|off`` (the port's IFLA_BRPORT_MODE)."""
    body = _IFINFO.pack(socket.AF_BRIDGE, 0, index, 0, 0) + _nla(
        IFLA_PROTINFO | NLA_F_NESTED, _nla(IFLA_BRPORT_MODE, struct.pack('=B', 1 if on else 0)))
    request(sock, RTM_SETLINK, 0, body)


def address(sock, add, index, ip, prefixlen, broadcast=None):
    """Add (EEXIST if present) or delete one address of a link."""
    family = socket.AF_INET6 if ':' in ip else socket.AF_INET
    raw = socket.inet_pton(family, ip)
    body = _IFADDR.pack(family, prefixlen, 0, 0, index) + _nla(IFA_LOCAL, raw) + \
        _nla(IFA_ADDRESS, raw)
    if broadcast is not None:
        body += _nla(IFA_BROADCAST, socket.inet_pton(family, broadcast))
    request(sock, RTM_NEWADDR if add else RTM_DELADDR,
            NLM_F_CREATE | NLM_F_EXCL if add else 0, body)


def replace_default_route(sock, gateway, oif):
    """Like ``ip route replace default via GATEWAY dev OIF`` (main table)."""
    family = socket.AF_INET6 if ':' in gateway else socket.AF_INET
    body = _RTMSG.pack(family, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST, 0) + \
        _nla(RTA_GATEWAY, socket.inet_pton(family, gateway)) + _nla(RTA_OIF, _U32.pack(oif))
    request(sock, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, body)


def links(sock, family=socket.AF_UNSPEC):
    """One dict per link: index, flags, name, kind, mtu, mac, master, alias, link, hairpin."""
    out = []
    for (_fam, _type, index, flags, _change), a in dump(sock, RTM_GETLINK, family, _IFINFO):
        kind = None
        if IFLA_LINKINFO in a:
            info = a[IFLA_LINKINFO]
            kind = _str(_attrs(info, 0, len(info)).get(IFLA_INFO_KIND))
        mac = a.get(IFLA_ADDRESS)
        hairpin = None
        if IFLA_PROTINFO in a:
            pi = _attrs(a[IFLA_PROTINFO], 0, len(a[IFLA_PROTINFO]))
            if IFLA_BRPORT_MODE in pi:
                hairpin = bool(bytearray(pi[IFLA_BRPORT_MODE])[0])
        out.append({
            'index': index, 'flags': flags, 'name': _str(a.get(IFLA_IFNAME)), 'kind': kind,
            'mtu': _u32(a.get(IFLA_MTU)),
            'mac': ':'.join('%02x' % b for b in bytearray(mac)) if mac is not None else None,
            'master': _u32(a.get(IFLA_MASTER)), 'alias': _str(a.get(IFLA_IFALIAS)),
            'link': _u32(a.get(IFLA_LINK)), 'group': _u32(a.get(IFLA_GROUP)),
            'hairpin': hairpin})
    return out


def addresses(sock):
    """(family, prefixlen, scope, index, address string) per address."""
    out = []
    for (family, prefixlen, _flags, scope, index), a in dump(sock, RTM_GETADDR,
                                                             socket.AF_UNSPEC, _IFADDR):
        raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS)
        if raw is None or family not in (socket.AF_INET, socket.AF_INET6):
            continue
        out.append((family, prefixlen, scope, index, socket.inet_ntop(family, raw)))
    return out


def routes(sock, family):
    """One dict per route of the family: dst (string or None), dst_len, type, table,
    gateway (string or None), oif (ifindex or None)."""
    out = []
    for f, a in dump(sock, RTM_GETROUTE, family, _RTMSG):
        dst, gw = a.get(RTA_DST), a.get(RTA_GATEWAY)
        out.append({'dst': socket.inet_ntop(family, dst) if dst else None, 'dst_len': f[1],
                    'type': f[7], 'table': _u32(a.get(RTA_TABLE)) or f[4],
                    'gateway': socket.inet_ntop(family, gw) if gw else None,
                    'oif': _u32(a.get(RTA_OIF))})
    return out
