# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables over nfnetlink: expression builder, rule renderer, atomic batches.

Why our own attribute encoder: pyroute2's nftables helpers build wrong masks
for prefixes that are not a multiple of 8, and its message classes differ
between 0.7.x and 0.9.x exactly where we need them (NFTA_RULE_USERDATA is
``hex`` in 0.7 and a ``comment`` class in 0.9; the ``fib`` result/flags
attributes are declared swapped in both). So:

* the attribute payloads that carry logic (rule expressions, rule userdata,
  chain hook) are encoded and decoded here, byte for byte as the kernel and
  libnftnl define them, and are handed to pyroute2 as opaque ``cdata``;
* pyroute2 provides the NETLINK_NETFILTER socket, message headers, sequence
  numbers, the batch transport and error reporting (``NetlinkError``), which
  behave the same in 0.7.2 and 0.9.7.

Everything above the socket (encode, decode, render) is pure Python and unit
tested without a kernel.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket
import struct

NFT_IMPORT_ERROR = None
try:
    # before the first pyroute2 import: its package __init__ is not needed
    from ansible_collections.linuxnet.container_network.plugins.module_utils import pyroute2_lite
    pyroute2_lite.prepare()
    from pyroute2.netlink import NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE, NLM_F_APPEND, NLM_F_DUMP
    from pyroute2.netlink.nfnetlink import nfgen_msg, NFNL_SUBSYS_NFTABLES
    from pyroute2.netlink.nfnetlink.nftsocket import NFTSocket
    from pyroute2.netlink.exceptions import NetlinkError
    HAS_NFT = True
except ImportError:  # pragma: no cover - reported by the module's HAS_PYROUTE2 check
    import traceback
    NFT_IMPORT_ERROR = traceback.format_exc()
    HAS_NFT = False
    nfgen_msg = object
    NetlinkError = OSError
    NLM_F_REQUEST = 1
    NLM_F_ACK = 4
    NLM_F_CREATE = 0x400
    NLM_F_APPEND = 0x800
    NLM_F_DUMP = 0x300
    NFNL_SUBSYS_NFTABLES = 10

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
NFT_META_L4PROTO = 16
META_KEYS = {NFT_META_IIFNAME: 'iifname', NFT_META_OIFNAME: 'oifname',
             NFT_META_L4PROTO: 'l4proto'}
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
IFNAMSIZ = 16


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


# ---------------------------------------------------------------- expressions
class Expr(object):
    """One nftables expression: its name and its (type, payload) attributes."""

    __slots__ = ('name', 'attrs')

    def __init__(self, name, attrs=None):
        self.name = name
        self.attrs = list(attrs or [])

    def encode(self):
        elem = [(NFTA_EXPR_NAME, asciiz(self.name))]
        if self.attrs:
            elem.append((NFTA_EXPR_DATA, self.attrs))
        return nla(NFTA_LIST_ELEM, elem)

    def __repr__(self):
        return 'Expr(%s)' % self.name


def encode_exprs(exprs):
    return b''.join(e.encode() for e in exprs)


def decode_exprs(data):
    """NFTA_RULE_EXPRESSIONS payload -> list of (name, {attr type: payload})."""
    out = []
    for atype, elem in decode_attrs(data):
        if atype != NFTA_LIST_ELEM:
            continue
        m = attr_map(elem)
        name = unasciiz(m.get(NFTA_EXPR_NAME, b''))
        out.append((name, attr_map(m.get(NFTA_EXPR_DATA, b''))))
    return out


def _data(value):
    return [(NFTA_DATA_VALUE, value)]


def payload(base, offset, length, dreg=NFT_REG_1):
    return Expr('payload', [(NFTA_PAYLOAD_DREG, be32(dreg)), (NFTA_PAYLOAD_BASE, be32(base)),
                            (NFTA_PAYLOAD_OFFSET, be32(offset)), (NFTA_PAYLOAD_LEN, be32(length))])


def cmp(op, value, sreg=NFT_REG_1):
    return Expr('cmp', [(NFTA_CMP_SREG, be32(sreg)), (NFTA_CMP_OP, be32(op)),
                        (NFTA_CMP_DATA, _data(value))])


def bitwise(mask, xor=None, sreg=NFT_REG_1, dreg=NFT_REG_1):
    xor = xor if xor is not None else b'\0' * len(mask)
    return Expr('bitwise', [(NFTA_BITWISE_SREG, be32(sreg)), (NFTA_BITWISE_DREG, be32(dreg)),
                            (NFTA_BITWISE_LEN, be32(len(mask))),
                            (NFTA_BITWISE_MASK, _data(mask)), (NFTA_BITWISE_XOR, _data(xor))])


def meta(key, dreg=NFT_REG_1):
    return Expr('meta', [(NFTA_META_DREG, be32(dreg)), (NFTA_META_KEY, be32(key))])


def fib_daddr_type(dreg=NFT_REG_1):
    return Expr('fib', [(NFTA_FIB_DREG, be32(dreg)), (NFTA_FIB_RESULT, be32(NFT_FIB_RESULT_ADDRTYPE)),
                        (NFTA_FIB_FLAGS, be32(NFTA_FIB_F_DADDR))])


def ct(key, dreg=NFT_REG_1):
    return Expr('ct', [(NFTA_CT_DREG, be32(dreg)), (NFTA_CT_KEY, be32(key))])


def immediate_data(value, dreg):
    return Expr('immediate', [(NFTA_IMMEDIATE_DREG, be32(dreg)),
                              (NFTA_IMMEDIATE_DATA, _data(value))])


def verdict(code):
    return Expr('immediate', [(NFTA_IMMEDIATE_DREG, be32(NFT_REG_VERDICT)),
                              (NFTA_IMMEDIATE_DATA, [(NFTA_DATA_VERDICT,
                                                      [(NFTA_VERDICT_CODE, be32s(code))])])])


def masq():
    return Expr('masq')


def nat_dnat(addr_reg, proto_reg=None):
    attrs = [(NFTA_NAT_TYPE, be32(NFT_NAT_DNAT)), (NFTA_NAT_FAMILY, be32(NFPROTO_IPV4)),
             (NFTA_NAT_REG_ADDR_MIN, be32(addr_reg))]
    if proto_reg is not None:
        attrs.append((NFTA_NAT_REG_PROTO_MIN, be32(proto_reg)))
    return Expr('nat', attrs)


# ---------------------------------------------------------------- matches (nft-like)
def prefix_mask(prefixlen):
    """The 4-byte IPv4 netmask of a prefix length (any length 0..32)."""
    if not 0 <= prefixlen <= 32:
        raise ValueError('bad IPv4 prefix length %r' % prefixlen)
    return struct.pack('>I', (0xffffffff << (32 - prefixlen)) & 0xffffffff)


def match_ip_addr(field, network, negate=False):
    """``ip saddr|daddr NETWORK`` for an ipaddress.IPv4Network (or address string)."""
    net = ipaddress.IPv4Network(network, strict=False) if not isinstance(
        network, ipaddress.IPv4Network) else network
    offset = {'saddr': 12, 'daddr': 16}[field]
    exprs = [payload(NFT_PAYLOAD_NETWORK_HEADER, offset, 4)]
    if net.prefixlen < 32:
        exprs.append(bitwise(prefix_mask(net.prefixlen)))
    exprs.append(cmp(NFT_CMP_NEQ if negate else NFT_CMP_EQ, net.network_address.packed))
    return exprs


def ifname_bytes(name):
    raw = name.encode('utf-8')
    if not raw or len(raw) >= IFNAMSIZ:
        raise ValueError('bad interface name %r' % name)
    return raw + b'\0' * (IFNAMSIZ - len(raw))


def match_ifname(direction, name, negate=False):
    key = {'iif': NFT_META_IIFNAME, 'oif': NFT_META_OIFNAME}[direction]
    return [meta(key), cmp(NFT_CMP_NEQ if negate else NFT_CMP_EQ, ifname_bytes(name))]


def match_l4proto(proto):
    return [meta(NFT_META_L4PROTO), cmp(NFT_CMP_EQ, struct.pack('B', IPPROTO[proto]))]


def match_dport(lo, hi=None):
    """Transport destination port (the l4proto match must precede it)."""
    exprs = [payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)]
    if hi is None or hi == lo:
        exprs.append(cmp(NFT_CMP_EQ, struct.pack('>H', lo)))
    else:
        exprs.append(cmp(NFT_CMP_GTE, struct.pack('>H', lo)))
        exprs.append(cmp(NFT_CMP_LTE, struct.pack('>H', hi)))
    return exprs


def match_fib_daddr_local():
    return [fib_daddr_type(), cmp(NFT_CMP_EQ, ne32(RTN_LOCAL))]


def match_ct_bits(key, bits, present):
    """``ct state|status & bits != 0`` (present) or ``== 0`` (absent)."""
    return [ct(key), bitwise(ne32(bits)),
            cmp(NFT_CMP_NEQ if present else NFT_CMP_EQ, ne32(0))]


def stmt_dnat(address, port=None):
    addr = ipaddress.IPv4Address(address).packed
    exprs = [immediate_data(addr, NFT_REG_1)]
    if port is not None:
        exprs.append(immediate_data(struct.pack('>H', port), NFT_REG_2))
        exprs.append(nat_dnat(NFT_REG_1, NFT_REG_2))
    else:
        exprs.append(nat_dnat(NFT_REG_1))
    return exprs


# ---------------------------------------------------------------- renderer
def _mask_prefix(mask):
    v = struct.unpack('>I', mask)[0]
    n = bin(v).count('1')
    if v != ((0xffffffff << (32 - n)) & 0xffffffff):
        return None
    return n


def _bits_text(value, names):
    words = [n for b, n in names if value & b]
    rest = value & ~sum(pair[0] for pair in names)
    if rest:
        words.append('0x%x' % rest)
    return ','.join(words) if words else '0'


def render_exprs(exprs):
    """Decoded expressions -> an nft-like rule string (for diffs and logs).

    Understands the expressions this module builds; anything else is shown
    as ``<name>`` so a foreign or tampered rule is visible, never hidden.
    """
    words = []
    reg = {}      # register -> description of what is loaded
    l4 = None
    for name, a in exprs:
        try:
            if name == 'payload':
                base, off, ln = (unbe32(a[NFTA_PAYLOAD_BASE]), unbe32(a[NFTA_PAYLOAD_OFFSET]),
                                 unbe32(a[NFTA_PAYLOAD_LEN]))
                what = {(1, 12, 4): 'ip saddr', (1, 16, 4): 'ip daddr',
                        (2, 0, 2): 'sport', (2, 2, 2): 'dport'}.get((base, off, ln))
                if what in ('sport', 'dport'):
                    what = '%s %s' % (IPPROTO_NAMES.get(l4, 'th'), what)
                reg[unbe32(a[NFTA_PAYLOAD_DREG])] = {
                    'what': what or 'payload(%d,%d,%d)' % (base, off, ln), 'kind': 'raw'}
            elif name == 'meta':
                key = unbe32(a[NFTA_META_KEY])
                reg[unbe32(a[NFTA_META_DREG])] = {'what': META_KEYS.get(key, 'meta key %d' % key),
                                                  'kind': 'meta%d' % key}
            elif name == 'fib':
                reg[unbe32(a[NFTA_FIB_DREG])] = {'what': 'fib daddr type', 'kind': 'fib'}
            elif name == 'ct':
                key = unbe32(a[NFTA_CT_KEY])
                reg[unbe32(a[NFTA_CT_DREG])] = {
                    'what': {NFT_CT_STATE: 'ct state', NFT_CT_STATUS: 'ct status'}.get(
                        key, 'ct key %d' % key), 'kind': 'ct%d' % key}
            elif name == 'bitwise':
                r = reg.setdefault(unbe32(a[NFTA_BITWISE_SREG]), {'what': '?', 'kind': 'raw'})
                r['mask'] = attr_map(a[NFTA_BITWISE_MASK])[NFTA_DATA_VALUE]
            elif name == 'cmp':
                r = reg.get(unbe32(a[NFTA_CMP_SREG]), {'what': '?', 'kind': 'raw'})
                op = unbe32(a[NFTA_CMP_OP])
                val = attr_map(a[NFTA_CMP_DATA])[NFTA_DATA_VALUE]
                words.append(_render_cmp(r, op, val))
                if r['kind'] == 'meta%d' % NFT_META_L4PROTO and op == NFT_CMP_EQ:
                    l4 = val[0]
            elif name == 'immediate':
                dreg = unbe32(a[NFTA_IMMEDIATE_DREG])
                d = attr_map(a[NFTA_IMMEDIATE_DATA])
                if NFTA_DATA_VERDICT in d:
                    code = unbe32s(attr_map(d[NFTA_DATA_VERDICT])[NFTA_VERDICT_CODE])
                    words.append({NF_DROP: 'drop', NF_ACCEPT: 'accept'}.get(code, 'verdict %d' % code))
                else:
                    reg[dreg] = {'what': 'imm', 'kind': 'imm', 'value': d.get(NFTA_DATA_VALUE, b'')}
            elif name == 'nat':
                ntype = unbe32(a[NFTA_NAT_TYPE])
                text = 'dnat to ' if ntype == NFT_NAT_DNAT else 'snat to '
                if NFTA_NAT_REG_ADDR_MIN in a:
                    v = reg.get(unbe32(a[NFTA_NAT_REG_ADDR_MIN]), {}).get('value', b'')
                    text += str(ipaddress.IPv4Address(v)) if len(v) == 4 else '?'
                if NFTA_NAT_REG_PROTO_MIN in a:
                    v = reg.get(unbe32(a[NFTA_NAT_REG_PROTO_MIN]), {}).get('value', b'')
                    text += ':%d' % struct.unpack('>H', v)[0] if len(v) == 2 else ':?'
                words.append(text)
            elif name == 'masq':
                words.append('masquerade')
            elif name == 'counter':
                words.append('counter')
            else:
                words.append('<%s>' % name)
        except (KeyError, ValueError, struct.error, IndexError):
            words.append('<%s?>' % name)
    return ' '.join(_tidy(words))


def _tidy(words):
    """nft's spelling: ``tcp dport 1-2`` for a >=/<= pair; no ``meta l4proto`` before a port."""
    out = []
    for w in words:
        if out and ' dport <= ' in w and ' dport >= ' in out[-1]:
            head, lo = out[-1].split(' >= ')
            if w.startswith(head + ' <= '):
                out[-1] = '%s %s-%s' % (head, lo, w.split(' <= ')[1])
                continue
        if out and out[-1].startswith('meta l4proto ') and w.startswith(
                out[-1][len('meta l4proto '):] + ' '):
            out[-1] = w
            continue
        out.append(w)
    return out


def _render_cmp(r, op, val):
    opname = CMP_OPS.get(op, '?')
    kind = r['kind']
    what = r['what']
    mask = r.get('mask')
    if what in ('ip saddr', 'ip daddr') and len(val) == 4:
        addr = str(ipaddress.IPv4Address(val))
        if mask is not None:
            plen = _mask_prefix(mask)
            addr = '%s/%s' % (addr, plen if plen is not None else
                              str(ipaddress.IPv4Address(mask)))
        return '%s %s%s' % (what, '' if op == NFT_CMP_EQ else opname + ' ', addr)
    if what.endswith('port') and len(val) == 2:
        return '%s %s%d' % (what, '' if op == NFT_CMP_EQ else opname + ' ',
                            struct.unpack('>H', val)[0])
    if kind in ('meta%d' % NFT_META_IIFNAME, 'meta%d' % NFT_META_OIFNAME):
        return '%s %s"%s"' % (what, '' if op == NFT_CMP_EQ else opname + ' ', unasciiz(val))
    if kind == 'meta%d' % NFT_META_L4PROTO and len(val) == 1:
        return 'meta l4proto %s%s' % ('' if op == NFT_CMP_EQ else opname + ' ',
                                      IPPROTO_NAMES.get(val[0], str(val[0])))
    if kind == 'fib' and len(val) == 4:
        v = struct.unpack('=I', val)[0]
        return 'fib daddr type %s%s' % ('' if op == NFT_CMP_EQ else opname + ' ',
                                        {RTN_LOCAL: 'local'}.get(v, str(v)))
    if kind in ('ct%d' % NFT_CT_STATE, 'ct%d' % NFT_CT_STATUS) and len(val) == 4:
        names = CT_STATE_BITS if kind == 'ct%d' % NFT_CT_STATE else CT_STATUS_BITS
        v = struct.unpack('=I', val)[0]
        if mask is not None and v == 0 and len(mask) == 4:
            m = struct.unpack('=I', mask)[0]
            return '%s %s%s' % (what, '' if op == NFT_CMP_NEQ else '! ', _bits_text(m, names))
        return '%s %s %s' % (what, opname, _bits_text(v, names))
    return '%s %s 0x%s' % (what, opname, bytes(val).hex())


# ---------------------------------------------------------------- netlink messages
if HAS_NFT:
    class _table_msg(nfgen_msg):
        prefix = 'NFTA_TABLE_'
        nla_map = (
            ('NFTA_TABLE_UNSPEC', 'none'),
            ('NFTA_TABLE_NAME', 'asciiz'),
            ('NFTA_TABLE_FLAGS', 'be32'),
            ('NFTA_TABLE_USE', 'be32'),
            ('NFTA_TABLE_HANDLE', 'be64'),
            ('NFTA_TABLE_PAD', 'cdata'),
            ('NFTA_TABLE_USERDATA', 'cdata'),
        )

    class _chain_msg(nfgen_msg):
        prefix = 'NFTA_CHAIN_'
        nla_map = (
            ('NFTA_CHAIN_UNSPEC', 'none'),
            ('NFTA_CHAIN_TABLE', 'asciiz'),
            ('NFTA_CHAIN_HANDLE', 'be64'),
            ('NFTA_CHAIN_NAME', 'asciiz'),
            ('NFTA_CHAIN_HOOK', 'cdata'),
            ('NFTA_CHAIN_POLICY', 'be32'),
            ('NFTA_CHAIN_USE', 'be32'),
            ('NFTA_CHAIN_TYPE', 'asciiz'),
            ('NFTA_CHAIN_COUNTERS', 'cdata'),
            ('NFTA_CHAIN_PAD', 'cdata'),
            ('NFTA_CHAIN_FLAGS', 'be32'),
            ('NFTA_CHAIN_ID', 'be32'),
            ('NFTA_CHAIN_USERDATA', 'cdata'),
        )

    class _rule_msg(nfgen_msg):
        prefix = 'NFTA_RULE_'
        nla_map = (
            ('NFTA_RULE_UNSPEC', 'none'),
            ('NFTA_RULE_TABLE', 'asciiz'),
            ('NFTA_RULE_CHAIN', 'asciiz'),
            ('NFTA_RULE_HANDLE', 'be64'),
            ('NFTA_RULE_EXPRESSIONS', 'cdata'),
            ('NFTA_RULE_COMPAT', 'cdata'),
            ('NFTA_RULE_POSITION', 'be64'),
            ('NFTA_RULE_USERDATA', 'cdata'),
            ('NFTA_RULE_PAD', 'cdata'),
            ('NFTA_RULE_ID', 'be32'),
            ('NFTA_RULE_POSITION_ID', 'be32'),
            ('NFTA_RULE_CHAIN_ID', 'be32'),
        )

    _POLICY = {
        NFT_MSG_NEWTABLE: _table_msg, NFT_MSG_GETTABLE: _table_msg, NFT_MSG_DELTABLE: _table_msg,
        NFT_MSG_NEWCHAIN: _chain_msg, NFT_MSG_GETCHAIN: _chain_msg, NFT_MSG_DELCHAIN: _chain_msg,
        NFT_MSG_NEWRULE: _rule_msg, NFT_MSG_GETRULE: _rule_msg, NFT_MSG_DELRULE: _rule_msg,
    }


def _bytes(v):
    if isinstance(v, str):  # pragma: no cover - cdata decodes to bytes in 0.7 and 0.9
        return v.encode('latin-1')
    return bytes(v or b'')


class Chain(object):
    """A chain as dumped (base chain: hook/prio/type set)."""

    def __init__(self, name, hook=None, priority=None, ctype=None, policy=None, family=None,
                 table=None):
        self.name = name
        self.hook = hook
        self.priority = priority
        self.ctype = ctype
        self.policy = policy
        self.family = family
        self.table = table
        self.rules = []  # filled by hooked_chains: [Rule]

    def __repr__(self):
        return 'Chain(%s, %s)' % (self.name, self.hook)


class Rule(object):
    """A rule as dumped: chain, handle, comment (owner tag) and decoded expressions."""

    def __init__(self, chain, handle, comment, exprs):
        self.chain = chain
        self.handle = handle
        self.comment = comment
        self.exprs = exprs

    @property
    def text(self):
        return render_exprs(self.exprs)

    def __repr__(self):
        return 'Rule(%s #%s %s)' % (self.chain, self.handle, self.comment)


class TableState(object):
    """One table as dumped: exists?, use count, chains by name, rules in order."""

    def __init__(self, name, exists=False, use=0, chains=None, rules=None):
        self.name = name
        self.exists = exists
        self.use = use
        self.chains = chains or {}
        self.rules = rules or []


class NftSocket(object):
    """pyroute2's NFTSocket restricted to one family, with raw payload classes."""

    def __init__(self, family=NFPROTO_IPV4):
        self.family = family
        self.sock = NFTSocket(nfgen_family=family)
        self.sock.register_policy(dict(
            ((NFNL_SUBSYS_NFTABLES << 8) | k, v) for k, v in _POLICY.items()))

    def close(self):
        try:
            self.sock.close()
        except Exception:  # pragma: no cover
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- reading
    def _dump(self, msg_class, msg_type, attrs, family=None):
        msg = msg_class()
        msg['nfgen_family'] = self.family if family is None else family
        msg['attrs'] = attrs
        try:
            return list(self.sock.request_get(msg, msg_type, NLM_F_REQUEST | NLM_F_DUMP))
        except NetlinkError as e:
            if e.code == 2:  # ENOENT: no such table
                return []
            raise

    @staticmethod
    def _chain(c):
        hook = c.get_attr('NFTA_CHAIN_HOOK')
        ch = Chain(c.get_attr('NFTA_CHAIN_NAME'), ctype=c.get_attr('NFTA_CHAIN_TYPE'),
                   policy=c.get_attr('NFTA_CHAIN_POLICY'), family=c['nfgen_family'],
                   table=c.get_attr('NFTA_CHAIN_TABLE'))
        if hook is not None:
            hm = attr_map(_bytes(hook))
            if NFTA_HOOK_HOOKNUM in hm:
                ch.hook = unbe32(hm[NFTA_HOOK_HOOKNUM])
            if NFTA_HOOK_PRIORITY in hm:
                ch.priority = unbe32s(hm[NFTA_HOOK_PRIORITY])
        return ch

    @staticmethod
    def _rule(r):
        return Rule(r.get_attr('NFTA_RULE_CHAIN'), r.get_attr('NFTA_RULE_HANDLE'),
                    decode_comment(_bytes(r.get_attr('NFTA_RULE_USERDATA'))),
                    decode_exprs(_bytes(r.get_attr('NFTA_RULE_EXPRESSIONS'))))

    def hooked_chains(self, hooks, families):
        """Base chains of every table of ``families`` on ``hooks``, each with its rules.

        One chain dump of all families, then one rule dump per table that has such a
        chain: what a firewall check reads, whoever owns the tables.
        """
        chains = [self._chain(c) for c in self._dump(_chain_msg, NFT_MSG_GETCHAIN, [],
                                                     family=NFPROTO_UNSPEC)]
        chains = [c for c in chains if c.family in families and c.hook in hooks
                  and c.ctype == 'filter']
        by_key = dict(((c.family, c.table, c.name), c) for c in chains)
        for family, table in sorted(set((c.family, c.table) for c in chains)):
            for r in self._dump(_rule_msg, NFT_MSG_GETRULE, [('NFTA_RULE_TABLE', table)],
                                family=family):
                c = by_key.get((r['nfgen_family'], r.get_attr('NFTA_RULE_TABLE'),
                                r.get_attr('NFTA_RULE_CHAIN')))
                if c is not None:
                    c.rules.append(self._rule(r))
        return chains

    def dump_table(self, name):
        """Read one table of our family: its chains and rules (three dumps)."""
        state = TableState(name)
        for t in self._dump(_table_msg, NFT_MSG_GETTABLE, []):
            if t['nfgen_family'] == self.family and t.get_attr('NFTA_TABLE_NAME') == name:
                state.exists = True
                state.use = t.get_attr('NFTA_TABLE_USE') or 0
        if not state.exists:
            return state
        for c in self._dump(_chain_msg, NFT_MSG_GETCHAIN, [('NFTA_CHAIN_TABLE', name)]):
            if c['nfgen_family'] != self.family or c.get_attr('NFTA_CHAIN_TABLE') != name:
                continue
            ch = self._chain(c)
            state.chains[ch.name] = ch
        for r in self._dump(_rule_msg, NFT_MSG_GETRULE, [('NFTA_RULE_TABLE', name)]):
            if r['nfgen_family'] != self.family or r.get_attr('NFTA_RULE_TABLE') != name:
                continue
            state.rules.append(self._rule(r))
        return state

    # -- writing
    def batch(self, ops):
        """Send ``ops`` (list of BatchOp) as ONE nfnetlink transaction.

        The kernel applies all of them or none: on any error the whole batch
        is aborted and the first NetlinkError is raised.
        """
        if not ops:
            return
        begin = nfgen_msg()
        begin['res_id'] = NFNL_SUBSYS_NFTABLES
        begin['header']['type'] = NFNL_MSG_BATCH_BEGIN
        begin['header']['flags'] = NLM_F_REQUEST
        end = nfgen_msg()
        end['res_id'] = NFNL_SUBSYS_NFTABLES
        end['header']['type'] = NFNL_MSG_BATCH_END
        end['header']['flags'] = NLM_F_REQUEST
        msgs = [begin] + [op.message(self.family) for op in ops] + [end]
        # consume every ack: errors are raised from here
        list(self.sock.nlm_request_batch(msgs, noraise=False))


class BatchOp(object):
    """One message of a batch: newtable, deltable, newchain, newrule, delrule."""

    def __init__(self, kind, table, chain=None, handle=None, exprs=None, comment=None,
                 hook=None, priority=None, ctype=None):
        self.kind = kind
        self.table = table
        self.chain = chain
        self.handle = handle
        self.exprs = exprs
        self.comment = comment
        self.hook = hook
        self.priority = priority
        self.ctype = ctype

    def message(self, family):
        flags = NLM_F_REQUEST | NLM_F_ACK
        if self.kind == 'newtable':
            msg, mtype = _table_msg(), NFT_MSG_NEWTABLE
            flags |= NLM_F_CREATE
            msg['attrs'] = [('NFTA_TABLE_NAME', self.table), ('NFTA_TABLE_FLAGS', 0)]
        elif self.kind == 'deltable':
            msg, mtype = _table_msg(), NFT_MSG_DELTABLE
            msg['attrs'] = [('NFTA_TABLE_NAME', self.table)]
        elif self.kind == 'newchain':
            msg, mtype = _chain_msg(), NFT_MSG_NEWCHAIN
            flags |= NLM_F_CREATE
            msg['attrs'] = [('NFTA_CHAIN_TABLE', self.table), ('NFTA_CHAIN_NAME', self.chain),
                            ('NFTA_CHAIN_HOOK', encode_attrs([
                                (NFTA_HOOK_HOOKNUM, be32(self.hook)),
                                (NFTA_HOOK_PRIORITY, be32s(self.priority))])),
                            ('NFTA_CHAIN_POLICY', NF_ACCEPT),
                            ('NFTA_CHAIN_TYPE', self.ctype)]
        elif self.kind == 'newrule':
            msg, mtype = _rule_msg(), NFT_MSG_NEWRULE
            flags |= NLM_F_CREATE | NLM_F_APPEND
            msg['attrs'] = [('NFTA_RULE_TABLE', self.table), ('NFTA_RULE_CHAIN', self.chain),
                            ('NFTA_RULE_EXPRESSIONS', encode_exprs(self.exprs)),
                            ('NFTA_RULE_USERDATA', encode_comment(self.comment))]
        elif self.kind == 'delrule':
            msg, mtype = _rule_msg(), NFT_MSG_DELRULE
            msg['attrs'] = [('NFTA_RULE_TABLE', self.table), ('NFTA_RULE_CHAIN', self.chain),
                            ('NFTA_RULE_HANDLE', self.handle)]
        else:  # pragma: no cover - programming error
            raise ValueError('unknown batch op %s' % self.kind)
        msg['nfgen_family'] = family
        msg['header']['type'] = (NFNL_SUBSYS_NFTABLES << 8) | mtype
        msg['header']['flags'] = flags
        return msg

    def __repr__(self):
        return 'BatchOp(%s %s %s %s)' % (self.kind, self.chain, self.handle, self.comment)
