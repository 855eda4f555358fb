# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables wire format, pure Python: constants, netlink attribute (TLV) codec, rule userdata.

Why our own encoder: pyroute2's nftables helpers build wrong masks for prefixes that are
not a multiple of 8, and its message classes differ between 0.7.x and 0.9.x exactly where
we need them (NFTA_RULE_USERDATA is ``hex`` in 0.7 and a ``comment`` class in 0.9; the
``fib`` result/flags attributes are declared swapped in both). So the payloads that carry
logic (rule expressions, userdata, chain hook) are encoded and decoded here, byte for byte
as the kernel and libnftnl define them (``include/uapi/linux/netfilter/nf_tables.h``), and
handed to pyroute2 (:mod:`nft_socket`) as opaque bytes. No kernel, no pyroute2 here:
expressions are built in :mod:`nft_expr`, rendered as text in :mod:`nft_render`.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct

from ansible_collections.linuxnet.container_network.plugins.module_utils.validate import (  # noqa: F401  pylint: disable=unused-import
    IFNAMSIZ)  # the one definition; ifname_bytes (nft_expr) checks against it

# ---------------------------------------------------------------- constants
NFPROTO_UNSPEC = 0
NFPROTO_INET = 1
NFPROTO_IPV4 = 2
NFPROTO_BRIDGE = 7
NFPROTO_IPV6 = 10
FAMILY_NAMES = {NFPROTO_INET: 'inet', NFPROTO_IPV4: 'ip', NFPROTO_BRIDGE: 'bridge',
                NFPROTO_IPV6: 'ip6'}
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3fff

NFT_MSG_NEWTABLE = 0
NFT_MSG_GETTABLE = 1
NFT_MSG_DELTABLE = 2
NFT_MSG_NEWCHAIN = 3
NFT_MSG_GETCHAIN = 4
NFT_MSG_DELCHAIN = 5
NFT_MSG_NEWRULE = 6
NFT_MSG_GETRULE = 7
NFT_MSG_DELRULE = 8
NFT_MSG_NEWSET = 9
NFT_MSG_DELSET = 11
NFNL_SUBSYS_NFTABLES = 10
NFNLGRP_NFTABLES = 7  # the multicast group of every nf_tables change (module heal)
NFNL_MSG_BATCH_BEGIN = 0x10
NFNL_MSG_BATCH_END = 0x11

# hooks (enum nf_inet_hooks)
NF_INET_PRE_ROUTING = 0
NF_INET_LOCAL_IN = 1
NF_INET_FORWARD = 2
NF_INET_LOCAL_OUT = 3
NF_INET_POST_ROUTING = 4
HOOK_NAMES = {0: 'prerouting', 1: 'input', 2: 'forward', 3: 'output', 4: 'postrouting'}

# registers
NFT_REG_VERDICT = 0
NFT_REG_1 = 1
NFT_REG_2 = 2

# verdicts
NF_DROP = 0
NF_ACCEPT = 1

# expression attributes (include/uapi/linux/netfilter/nf_tables.h)
NFTA_LIST_ELEM = 1
NFTA_EXPR_NAME = 1
NFTA_EXPR_DATA = 2
NFTA_DATA_VALUE = 1
NFTA_DATA_VERDICT = 2
NFTA_VERDICT_CODE = 1
NFTA_PAYLOAD_DREG, NFTA_PAYLOAD_BASE, NFTA_PAYLOAD_OFFSET, NFTA_PAYLOAD_LEN = 1, 2, 3, 4
NFT_PAYLOAD_NETWORK_HEADER = 1
NFT_PAYLOAD_TRANSPORT_HEADER = 2
NFTA_CMP_SREG, NFTA_CMP_OP, NFTA_CMP_DATA = 1, 2, 3
NFT_CMP_EQ, NFT_CMP_NEQ, NFT_CMP_LT, NFT_CMP_LTE, NFT_CMP_GT, NFT_CMP_GTE = range(6)
CMP_OPS = {NFT_CMP_EQ: '==', NFT_CMP_NEQ: '!=', NFT_CMP_LT: '<', NFT_CMP_LTE: '<=',
           NFT_CMP_GT: '>', NFT_CMP_GTE: '>='}
NFTA_BITWISE_SREG, NFTA_BITWISE_DREG, NFTA_BITWISE_LEN, NFTA_BITWISE_MASK, NFTA_BITWISE_XOR = \
    1, 2, 3, 4, 5
NFTA_META_DREG, NFTA_META_KEY = 1, 2
NFT_META_IIFNAME = 6
NFT_META_OIFNAME = 7
NFT_META_NFPROTO = 15
NFT_META_L4PROTO = 16
META_KEYS = {NFT_META_IIFNAME: 'iifname', NFT_META_OIFNAME: 'oifname',
             NFT_META_NFPROTO: 'nfproto', NFT_META_L4PROTO: 'l4proto'}
NFPROTO_BY_VERSION = {4: NFPROTO_IPV4, 6: NFPROTO_IPV6}
NFPROTO_TEXT = {NFPROTO_IPV4: 'ipv4', NFPROTO_IPV6: 'ipv6'}
NFTA_FIB_DREG, NFTA_FIB_RESULT, NFTA_FIB_FLAGS = 1, 2, 3
NFT_FIB_RESULT_ADDRTYPE = 3
NFTA_FIB_F_DADDR = 1 << 1
RTN_LOCAL = 2
NFTA_CT_DREG, NFTA_CT_KEY = 1, 2
NFT_CT_STATE = 0
NFT_CT_STATUS = 2
CT_STATE_BITS = ((1, 'invalid'), (2, 'established'), (4, 'related'), (8, 'new'),
                 (64, 'untracked'))
IPS_SRC_NAT = 0x10
IPS_DST_NAT = 0x20
CT_STATUS_BITS = ((0x10, 'snat'), (0x20, 'dnat'))
NFTA_IMMEDIATE_DREG, NFTA_IMMEDIATE_DATA = 1, 2
NFTA_NAT_TYPE, NFTA_NAT_FAMILY, NFTA_NAT_REG_ADDR_MIN, NFTA_NAT_REG_ADDR_MAX, \
    NFTA_NAT_REG_PROTO_MIN, NFTA_NAT_REG_PROTO_MAX, NFTA_NAT_FLAGS = 1, 2, 3, 4, 5, 6, 7
NFT_NAT_SNAT, NFT_NAT_DNAT = 0, 1

# table / chain / rule attributes
NFTA_TABLE_NAME, NFTA_TABLE_USE = 1, 3
NFTA_CHAIN_TABLE, NFTA_CHAIN_HANDLE, NFTA_CHAIN_NAME, NFTA_CHAIN_HOOK, NFTA_CHAIN_POLICY, \
    NFTA_CHAIN_TYPE = 1, 2, 3, 4, 5, 7
NFTA_HOOK_HOOKNUM, NFTA_HOOK_PRIORITY = 1, 2
NFTA_RULE_TABLE, NFTA_RULE_CHAIN, NFTA_RULE_HANDLE, NFTA_RULE_EXPRESSIONS, \
    NFTA_RULE_USERDATA = 1, 2, 3, 4, 7
NFTNL_UDATA_RULE_COMMENT = 0

IPPROTO = {'tcp': socket.IPPROTO_TCP, 'udp': socket.IPPROTO_UDP}
IPPROTO_NAMES = dict((v, k) for k, v in IPPROTO.items())


# ---------------------------------------------------------------- TLV codec
def _align4(n):
    return (n + 3) & ~3


def nla(atype, payload):
    """One netlink attribute. ``payload`` is bytes or a list of (type, payload) (nested)."""
    if isinstance(payload, list):
        payload = encode_attrs(payload)
        atype |= NLA_F_NESTED
    length = 4 + len(payload)
    return struct.pack('=HH', length, atype) + payload + b'\0' * (_align4(length) - length)


def encode_attrs(attrs):
    return b''.join(nla(t, p) for t, p in attrs)


def decode_attrs(data):
    """bytes -> list of (type, payload bytes); the nested flag is stripped."""
    out = []
    off = 0
    while off + 4 <= len(data):
        length, atype = struct.unpack_from('=HH', data, off)
        if length < 4 or off + length > len(data):
            raise ValueError('malformed netlink attribute at offset %d' % off)
        out.append((atype & NLA_TYPE_MASK, bytes(data[off + 4:off + length])))
        off += _align4(length)
    return out


def attr_map(data):
    return dict(decode_attrs(data))


def be32(v):
    return struct.pack('>I', v)


def be32s(v):
    return struct.pack('>i', v)


def be64(v):
    return struct.pack('>Q', v)


def ne32(v):
    """Host byte order u32 (fib/ct/meta values are host order in registers)."""
    return struct.pack('=I', v)


def asciiz(s):
    return s.encode('utf-8') + b'\0'


def unbe32(b):
    return struct.unpack('>I', b[:4])[0]


def unbe32s(b):
    return struct.unpack('>i', b[:4])[0]


def unbe64(b):
    return struct.unpack('>Q', b[:8])[0]


def unasciiz(b):
    return b.split(b'\0', 1)[0].decode('utf-8', 'replace')


# ---------------------------------------------------------------- userdata (comment)
def encode_comment(text):
    """libnftnl rule userdata: TLV type NFTNL_UDATA_RULE_COMMENT, NUL-terminated."""
    value = asciiz(text)
    if len(value) > 255:
        raise ValueError('nft comment too long (%d bytes): %s' % (len(value), text))
    return struct.pack('BB', NFTNL_UDATA_RULE_COMMENT, len(value)) + value


def decode_comment(udata):
    """The comment in a rule's userdata, or None."""
    off = 0
    data = bytearray(udata or b'')
    while off + 2 <= len(data):
        utype, ulen = data[off], data[off + 1]
        off += 2
        value = bytes(data[off:off + ulen])
        off += ulen
        if utype == NFTNL_UDATA_RULE_COMMENT:
            return unasciiz(value)
    return None
