# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decoded nftables expressions -> the rule text ``nft list`` prints (for diffs, tags, logs).

The text of a rule is what its owner tag hashes, what ``--diff`` shows and what a foreign
chain's check reads: one renderer for all of them. Pure Python on top of :mod:`nft_codec`.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import codecs
import ipaddress
import struct

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec as c

# ---------------------------------------------------------------- renderer


def _mask_prefix(mask):
    """The prefix length of a netmask of any size (4 bytes: IPv4, 16: IPv6), or None when
    its ones are not contiguous from the top."""
    v = int(codecs.encode(mask, 'hex') or b'0', 16)
    bits = 8 * len(mask)
    n = bin(v).count('1')
    if v != ((1 << n) - 1) << (bits - n):
        return None
    return n


def _addr(raw):
    """4 or 16 bytes -> the address (ValueError otherwise)."""
    return ipaddress.ip_address(bytes(raw))


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
    state = {'reg': {}, 'l4': None}  # register -> what is loaded; the l4proto matched
    for name, a in exprs:
        try:
            word = _render_one(name, a, state)
        except (KeyError, ValueError, struct.error, IndexError):
            word = '<%s?>' % name
        if word is not None:
            words.append(word)
    return ' '.join(_tidy(words))


def _load_payload(a, l4):
    base, off, ln = (c.unbe32(a[c.NFTA_PAYLOAD_BASE]), c.unbe32(a[c.NFTA_PAYLOAD_OFFSET]),
                     c.unbe32(a[c.NFTA_PAYLOAD_LEN]))
    what = {(1, 12, 4): 'ip saddr', (1, 16, 4): 'ip daddr',
            (1, 8, 16): 'ip6 saddr', (1, 24, 16): 'ip6 daddr',
            (2, 0, 2): 'sport', (2, 2, 2): 'dport'}.get((base, off, ln))
    if what in ('sport', 'dport'):
        what = '%s %s' % (c.IPPROTO_NAMES.get(l4, 'th'), what)
    return c.unbe32(a[c.NFTA_PAYLOAD_DREG]), {
        'what': what or 'payload(%d,%d,%d)' % (base, off, ln), 'kind': 'raw'}


def _load_meta(a, l4):
    key = c.unbe32(a[c.NFTA_META_KEY])
    return c.unbe32(a[c.NFTA_META_DREG]), {'what': c.META_KEYS.get(key, 'meta key %d' % key),
                                           'kind': 'meta%d' % key}


def _load_fib(a, l4):
    return c.unbe32(a[c.NFTA_FIB_DREG]), {'what': 'fib daddr type', 'kind': 'fib'}


def _load_ct(a, l4):
    key = c.unbe32(a[c.NFTA_CT_KEY])
    return c.unbe32(a[c.NFTA_CT_DREG]), {
        'what': {c.NFT_CT_STATE: 'ct state', c.NFT_CT_STATUS: 'ct status'}.get(
            key, 'ct key %d' % key), 'kind': 'ct%d' % key}


# the expressions that load a register: (attributes, l4proto so far) -> (register, what)
_LOADS = {'payload': _load_payload, 'meta': _load_meta, 'fib': _load_fib, 'ct': _load_ct}


def _render_one(name, a, state):
    """One expression: it loads a register (None) or says what the rule does (a word)."""
    reg = state['reg']
    if name in _LOADS:
        dreg, what = _LOADS[name](a, state['l4'])
        reg[dreg] = what
        return None
    if name == 'bitwise':
        r = reg.setdefault(c.unbe32(a[c.NFTA_BITWISE_SREG]), {'what': '?', 'kind': 'raw'})
        r['mask'] = c.attr_map(a[c.NFTA_BITWISE_MASK])[c.NFTA_DATA_VALUE]
        return None
    if name == 'cmp':
        r = reg.get(c.unbe32(a[c.NFTA_CMP_SREG]), {'what': '?', 'kind': 'raw'})
        op = c.unbe32(a[c.NFTA_CMP_OP])
        val = c.attr_map(a[c.NFTA_CMP_DATA])[c.NFTA_DATA_VALUE]
        word = _render_cmp(r, op, val)
        if r['kind'] == 'meta%d' % c.NFT_META_L4PROTO and op == c.NFT_CMP_EQ:
            state['l4'] = val[0]
        return word
    if name == 'immediate':
        d = c.attr_map(a[c.NFTA_IMMEDIATE_DATA])
        if c.NFTA_DATA_VERDICT in d:
            code = c.unbe32s(c.attr_map(d[c.NFTA_DATA_VERDICT])[c.NFTA_VERDICT_CODE])
            return {c.NF_DROP: 'drop', c.NF_ACCEPT: 'accept'}.get(code, 'verdict %d' % code)
        reg[c.unbe32(a[c.NFTA_IMMEDIATE_DREG])] = {
            'what': 'imm', 'kind': 'imm', 'value': d.get(c.NFTA_DATA_VALUE, b'')}
        return None
    if name == 'nat':
        return _nat_word(a, reg)
    return {'masq': 'masquerade', 'counter': 'counter'}.get(name, '<%s>' % name)


def _nat_word(a, reg):
    addr = port = None
    if c.NFTA_NAT_REG_ADDR_MIN in a:
        v = reg.get(c.unbe32(a[c.NFTA_NAT_REG_ADDR_MIN]), {}).get('value', b'')
        addr = str(_addr(v)) if len(v) in (4, 16) else '?'
    if c.NFTA_NAT_REG_PROTO_MIN in a:
        v = reg.get(c.unbe32(a[c.NFTA_NAT_REG_PROTO_MIN]), {}).get('value', b'')
        port = '%d' % struct.unpack('>H', v)[0] if len(v) == 2 else '?'
    return _nat_text(c.unbe32(a[c.NFTA_NAT_TYPE]),
                     c.unbe32(a.get(c.NFTA_NAT_FAMILY, c.be32(0))), addr, port)


def _nat_text(ntype, family, addr, port):
    """IPv4 as this collection has always written it (``dnat to A:P``); IPv6 as nft
    lists it in an inet table (``dnat ip6 to [A]:P``, ``dnat ip6 to A``)."""
    verb = 'dnat' if ntype == c.NFT_NAT_DNAT else 'snat'
    if family == c.NFPROTO_IPV6:
        if addr is not None and port is not None:
            return '%s ip6 to [%s]:%s' % (verb, addr, port)
        return '%s ip6 to %s' % (verb, addr if addr is not None else ':%s' % port)
    return '%s to %s%s' % (verb, addr or '', ':%s' % port if port is not None else '')


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
    return _implied_nfproto(out)


# what a ``meta nfproto`` match is implied by (nft leaves the dependency out of its listing)
# (IPv6 as nft 1.0.6 lists it: an address match hides it, a ``dnat ip6`` statement does not)
_IMPLIES = {'meta nfproto ipv4': ('ip saddr', 'ip daddr', 'dnat to', 'snat to'),
            'meta nfproto ipv6': ('ip6 saddr', 'ip6 daddr')}


def _implied_nfproto(words):
    """Drop ``meta nfproto ipv4|ipv6`` where a later match (or IPv4 NAT statement) of
    that family implies it."""
    out = []
    for i, w in enumerate(words):
        implied_by = _IMPLIES.get(w)
        if implied_by and any(later.startswith(implied_by) for later in words[i + 1:]):
            continue
        out.append(w)
    return out


def _render_cmp(r, op, val):
    opname = c.CMP_OPS.get(op, '?')
    kind = r['kind']
    what = r['what']
    mask = r.get('mask')
    if what in ('ip saddr', 'ip daddr', 'ip6 saddr', 'ip6 daddr') and len(val) in (4, 16):
        addr = str(_addr(val))
        if mask is not None:
            plen = _mask_prefix(mask)
            addr = '%s/%s' % (addr, plen if plen is not None else str(_addr(mask)))
        return '%s %s%s' % (what, '' if op == c.NFT_CMP_EQ else opname + ' ', addr)
    if what.endswith('port') and len(val) == 2:
        return '%s %s%d' % (what, '' if op == c.NFT_CMP_EQ else opname + ' ',
                            struct.unpack('>H', val)[0])
    if kind in ('meta%d' % c.NFT_META_IIFNAME, 'meta%d' % c.NFT_META_OIFNAME):
        return '%s %s"%s"' % (what, '' if op == c.NFT_CMP_EQ else opname + ' ', c.unasciiz(val))
    if kind == 'meta%d' % c.NFT_META_NFPROTO and len(val) == 1:
        return 'meta nfproto %s%s' % ('' if op == c.NFT_CMP_EQ else opname + ' ',
                                      c.NFPROTO_TEXT.get(val[0], str(val[0])))
    if kind == 'meta%d' % c.NFT_META_L4PROTO and len(val) == 1:
        return 'meta l4proto %s%s' % ('' if op == c.NFT_CMP_EQ else opname + ' ',
                                      c.IPPROTO_NAMES.get(val[0], str(val[0])))
    if kind == 'fib' and len(val) == 4:
        v = struct.unpack('=I', val)[0]
        return 'fib daddr type %s%s' % ('' if op == c.NFT_CMP_EQ else opname + ' ',
                                        {c.RTN_LOCAL: 'local'}.get(v, str(v)))
    if kind in ('ct%d' % c.NFT_CT_STATE, 'ct%d' % c.NFT_CT_STATUS) and len(val) == 4:
        names = c.CT_STATE_BITS if kind == 'ct%d' % c.NFT_CT_STATE else c.CT_STATUS_BITS
        v = struct.unpack('=I', val)[0]
        if mask is not None and v == 0 and len(mask) == 4:
            m = struct.unpack('=I', mask)[0]
            return '%s %s%s' % (what, '' if op == c.NFT_CMP_NEQ else '! ', _bits_text(m, names))
        return '%s %s %s' % (what, opname, _bits_text(v, names))
    return '%s %s 0x%s' % (what, opname, bytes(val).hex())
