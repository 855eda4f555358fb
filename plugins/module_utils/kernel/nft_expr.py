# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables expressions: builders for the statements and matches our rules use.

Each ``match_*`` returns the expression list ``nft`` itself generates for that match
(payload/meta/fib/ct loads, bitwise masks, comparisons), so the kernel hands the rule back
exactly as ``nft list`` would show it. Pure Python on top of :mod:`nft_codec`.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import struct

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec as c

# ---------------------------------------------------------------- expressions


class Expr(object):
    """One nftables expression: its name and its (type, payload) attributes."""

    __slots__ = ('name', 'attrs')

    def __init__(self, name, attrs=None):
        self.name = name
        self.attrs = list(attrs or [])

    def encode(self):
        elem = [(c.NFTA_EXPR_NAME, c.asciiz(self.name))]
        if self.attrs:
            elem.append((c.NFTA_EXPR_DATA, self.attrs))
        return c.nla(c.NFTA_LIST_ELEM, elem)

    def __repr__(self):
        return 'Expr(%s)' % self.name


def encode_exprs(exprs):
    return b''.join(e.encode() for e in exprs)


def decode_exprs(data):
    """NFTA_RULE_EXPRESSIONS payload -> list of (name, {attr type: payload})."""
    out = []
    for atype, elem in c.decode_attrs(data):
        if atype != c.NFTA_LIST_ELEM:
            continue
        m = c.attr_map(elem)
        name = c.unasciiz(m.get(c.NFTA_EXPR_NAME, b''))
        out.append((name, c.attr_map(m.get(c.NFTA_EXPR_DATA, b''))))
    return out


def _data(value):
    return [(c.NFTA_DATA_VALUE, value)]


def payload(base, offset, length, dreg=c.NFT_REG_1):
    return Expr('payload', [(c.NFTA_PAYLOAD_DREG, c.be32(dreg)), (c.NFTA_PAYLOAD_BASE, c.be32(base)),
                            (c.NFTA_PAYLOAD_OFFSET, c.be32(offset)), (c.NFTA_PAYLOAD_LEN, c.be32(length))])


def cmp(op, value, sreg=c.NFT_REG_1):
    return Expr('cmp', [(c.NFTA_CMP_SREG, c.be32(sreg)), (c.NFTA_CMP_OP, c.be32(op)),
                        (c.NFTA_CMP_DATA, _data(value))])


def bitwise(mask, xor=None, sreg=c.NFT_REG_1, dreg=c.NFT_REG_1):
    xor = xor if xor is not None else b'\0' * len(mask)
    return Expr('bitwise', [(c.NFTA_BITWISE_SREG, c.be32(sreg)), (c.NFTA_BITWISE_DREG, c.be32(dreg)),
                            (c.NFTA_BITWISE_LEN, c.be32(len(mask))),
                            (c.NFTA_BITWISE_MASK, _data(mask)), (c.NFTA_BITWISE_XOR, _data(xor))])


def meta(key, dreg=c.NFT_REG_1):
    return Expr('meta', [(c.NFTA_META_DREG, c.be32(dreg)), (c.NFTA_META_KEY, c.be32(key))])


def fib_daddr_type(dreg=c.NFT_REG_1):
    return Expr('fib', [(c.NFTA_FIB_DREG, c.be32(dreg)), (c.NFTA_FIB_RESULT, c.be32(c.NFT_FIB_RESULT_ADDRTYPE)),
                        (c.NFTA_FIB_FLAGS, c.be32(c.NFTA_FIB_F_DADDR))])


def ct(key, dreg=c.NFT_REG_1):
    return Expr('ct', [(c.NFTA_CT_DREG, c.be32(dreg)), (c.NFTA_CT_KEY, c.be32(key))])


def immediate_data(value, dreg):
    return Expr('immediate', [(c.NFTA_IMMEDIATE_DREG, c.be32(dreg)),
                              (c.NFTA_IMMEDIATE_DATA, _data(value))])


def verdict(code):
    return Expr('immediate', [(c.NFTA_IMMEDIATE_DREG, c.be32(c.NFT_REG_VERDICT)),
                              (c.NFTA_IMMEDIATE_DATA, [(c.NFTA_DATA_VERDICT,
                                                        [(c.NFTA_VERDICT_CODE, c.be32s(code))])])])


def masq():
    return Expr('masq')


def nat_dnat(addr_reg, proto_reg=None, family=c.NFPROTO_IPV4):
    attrs = [(c.NFTA_NAT_TYPE, c.be32(c.NFT_NAT_DNAT)), (c.NFTA_NAT_FAMILY, c.be32(family)),
             (c.NFTA_NAT_REG_ADDR_MIN, c.be32(addr_reg))]
    if proto_reg is not None:
        attrs.append((c.NFTA_NAT_REG_PROTO_MIN, c.be32(proto_reg)))
    return Expr('nat', attrs)


# ---------------------------------------------------------------- matches (nft-like)
def prefix_mask(prefixlen, length=4):
    """The ``length``-byte netmask of a prefix length (any length 0..8*length): 4 bytes for
    IPv4, 16 for IPv6. Built bit by bit (pyroute2's masks are wrong off byte boundaries)."""
    bits = 8 * length
    if not 0 <= prefixlen <= bits:
        raise ValueError('bad prefix length %r for a %d-bit address' % (prefixlen, bits))
    value = ((1 << prefixlen) - 1) << (bits - prefixlen)
    return b''.join(struct.pack('B', (value >> (8 * (length - 1 - i))) & 0xff)
                    for i in range(length))


# (version, field) -> offset of the address in the network header; its length
_ADDR_OFFSETS = {(4, 'saddr'): 12, (4, 'daddr'): 16, (6, 'saddr'): 8, (6, 'daddr'): 24}
ADDR_LEN = {4: 4, 6: 16}


def as_network(network):
    """An ipaddress network (IPv4 or IPv6) or anything ``ip_network`` reads (host bits
    dropped)."""
    if isinstance(network, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return network
    return ipaddress.ip_network(network, strict=False)


def match_ip_addr(field, network, negate=False):
    """``ip saddr|daddr NETWORK`` or ``ip6 saddr|daddr NETWORK`` (the family is the
    network's): the whole address loaded, masked below its full length."""
    net = as_network(network)
    size = ADDR_LEN[net.version]
    exprs = [payload(c.NFT_PAYLOAD_NETWORK_HEADER, _ADDR_OFFSETS[(net.version, field)], size)]
    if net.prefixlen < 8 * size:
        exprs.append(bitwise(prefix_mask(net.prefixlen, size)))
    exprs.append(cmp(c.NFT_CMP_NEQ if negate else c.NFT_CMP_EQ, net.network_address.packed))
    return exprs


def ifname_bytes(name):
    raw = name.encode('utf-8')
    if not raw or len(raw) >= c.IFNAMSIZ:
        raise ValueError('bad interface name %r' % name)
    return raw + b'\0' * (c.IFNAMSIZ - len(raw))


def match_ifname(direction, name, negate=False):
    key = {'iif': c.NFT_META_IIFNAME, 'oif': c.NFT_META_OIFNAME}[direction]
    return [meta(key), cmp(c.NFT_CMP_NEQ if negate else c.NFT_CMP_EQ, ifname_bytes(name))]


def match_nfproto(version):
    """``meta nfproto ipv4|ipv6``: what an ``ip``/``ip6`` match depends on in an inet table."""
    return [meta(c.NFT_META_NFPROTO), cmp(c.NFT_CMP_EQ, struct.pack('B', c.NFPROTO_BY_VERSION[version]))]


def match_l4proto(proto):
    return [meta(c.NFT_META_L4PROTO), cmp(c.NFT_CMP_EQ, struct.pack('B', c.IPPROTO[proto]))]


def match_dport(lo, hi=None):
    """Transport destination port (the l4proto match must precede it)."""
    exprs = [payload(c.NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)]
    if hi is None or hi == lo:
        exprs.append(cmp(c.NFT_CMP_EQ, struct.pack('>H', lo)))
    else:
        exprs.append(cmp(c.NFT_CMP_GTE, struct.pack('>H', lo)))
        exprs.append(cmp(c.NFT_CMP_LTE, struct.pack('>H', hi)))
    return exprs


def match_fib_daddr_local():
    return [fib_daddr_type(), cmp(c.NFT_CMP_EQ, c.ne32(c.RTN_LOCAL))]


def match_ct_bits(key, bits, present):
    """``ct state|status & bits != 0`` (present) or ``== 0`` (absent)."""
    return [ct(key), bitwise(c.ne32(bits)),
            cmp(c.NFT_CMP_NEQ if present else c.NFT_CMP_EQ, c.ne32(0))]


def stmt_dnat(address, port=None):
    """``dnat to ADDR[:PORT]`` (IPv4) or ``dnat ip6 to [ADDR]:PORT`` (IPv6)."""
    ip = ipaddress.ip_address(str(address))
    family = c.NFPROTO_BY_VERSION[ip.version]
    exprs = [immediate_data(ip.packed, c.NFT_REG_1)]
    if port is not None:
        exprs.append(immediate_data(struct.pack('>H', port), c.NFT_REG_2))
        exprs.append(nat_dnat(c.NFT_REG_1, c.NFT_REG_2, family))
    else:
        exprs.append(nat_dnat(c.NFT_REG_1, family=family))
    return exprs


def dnat_target(exprs):
    """The inverse of :func:`stmt_dnat` on decoded expressions: ``(address, port)`` of the
    first ``dnat`` (each None when not set), or None when there is no dnat."""
    regs = {}
    for name, a in exprs:
        if name == 'immediate' and c.NFTA_DATA_VALUE in c.attr_map(a[c.NFTA_IMMEDIATE_DATA]):
            regs[c.unbe32(a[c.NFTA_IMMEDIATE_DREG])] = \
                c.attr_map(a[c.NFTA_IMMEDIATE_DATA])[c.NFTA_DATA_VALUE]
        elif name == 'nat' and c.unbe32(a[c.NFTA_NAT_TYPE]) == c.NFT_NAT_DNAT:
            addr = regs.get(c.unbe32(a[c.NFTA_NAT_REG_ADDR_MIN])) \
                if c.NFTA_NAT_REG_ADDR_MIN in a else None
            port = regs.get(c.unbe32(a[c.NFTA_NAT_REG_PROTO_MIN])) \
                if c.NFTA_NAT_REG_PROTO_MIN in a else None
            return (str(ipaddress.ip_address(addr)) if addr is not None and len(addr) in (4, 16)
                    else None,
                    struct.unpack('>H', port)[0] if port is not None and len(port) == 2 else None)
    return None
