# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Our nfnetlink expression builder/decoder/renderer, byte for byte, no kernel."""
import ipaddress
import struct

import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec as codec
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_expr
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_render


def roundtrip(exprs):
    return nft_expr.decode_exprs(nft_expr.encode_exprs(exprs))


@pytest.mark.parametrize('plen', range(0, 33))
def test_prefix_mask_every_length(plen):
    assert nft_expr.prefix_mask(plen) == ipaddress.IPv4Network('0.0.0.0/%d' % plen).netmask.packed


def test_prefix_mask_not_multiple_of_8():
    assert nft_expr.prefix_mask(20) == bytes([255, 255, 240, 0])
    assert nft_expr.prefix_mask(13) == bytes([255, 248, 0, 0])
    assert nft_expr.prefix_mask(29) == bytes([255, 255, 255, 248])
    with pytest.raises(ValueError):
        nft_expr.prefix_mask(33)


def test_ip_saddr_slash20_bytes():
    d = roundtrip(nft_expr.match_ip_addr('saddr', '172.18.0.0/20'))
    assert [e[0] for e in d] == ['payload', 'bitwise', 'cmp']
    p = d[0][1]
    assert codec.unbe32(p[codec.NFTA_PAYLOAD_BASE]) == codec.NFT_PAYLOAD_NETWORK_HEADER
    assert codec.unbe32(p[codec.NFTA_PAYLOAD_OFFSET]) == 12 and codec.unbe32(p[codec.NFTA_PAYLOAD_LEN]) == 4
    b = d[1][1]
    assert codec.attr_map(b[codec.NFTA_BITWISE_MASK])[codec.NFTA_DATA_VALUE] == bytes([255, 255, 240, 0])
    assert codec.attr_map(b[codec.NFTA_BITWISE_XOR])[codec.NFTA_DATA_VALUE] == b'\0' * 4
    assert codec.unbe32(b[codec.NFTA_BITWISE_LEN]) == 4
    c = d[2][1]
    assert codec.unbe32(c[codec.NFTA_CMP_OP]) == codec.NFT_CMP_EQ
    assert codec.attr_map(c[codec.NFTA_CMP_DATA])[codec.NFTA_DATA_VALUE] == bytes([172, 18, 0, 0])


def test_host_bits_are_cleared_and_slash32_has_no_mask():
    d = roundtrip(nft_expr.match_ip_addr('daddr', '10.1.2.3/22'))
    assert codec.attr_map(d[2][1][codec.NFTA_CMP_DATA])[codec.NFTA_DATA_VALUE] == bytes([10, 1, 0, 0])
    d = roundtrip(nft_expr.match_ip_addr('daddr', '10.1.2.3'))
    assert [e[0] for e in d] == ['payload', 'cmp']
    assert codec.unbe32(d[0][1][codec.NFTA_PAYLOAD_OFFSET]) == 16


def test_port_range_is_big_endian_gte_lte():
    d = roundtrip(nft_expr.match_dport(8000, 8010))
    assert [e[0] for e in d] == ['payload', 'cmp', 'cmp']
    assert codec.unbe32(d[0][1][codec.NFTA_PAYLOAD_BASE]) == codec.NFT_PAYLOAD_TRANSPORT_HEADER
    assert codec.unbe32(d[1][1][codec.NFTA_CMP_OP]) == codec.NFT_CMP_GTE
    assert codec.attr_map(d[1][1][codec.NFTA_CMP_DATA])[codec.NFTA_DATA_VALUE] == struct.pack('>H', 8000)
    assert codec.unbe32(d[2][1][codec.NFTA_CMP_OP]) == codec.NFT_CMP_LTE
    assert codec.attr_map(d[2][1][codec.NFTA_CMP_DATA])[codec.NFTA_DATA_VALUE] == b'\x1f\x4a'
    assert len(roundtrip(nft_expr.match_dport(80, 80))) == 2


def test_attribute_alignment_and_nested_flag():
    raw = codec.nla(1, b'abc')
    assert len(raw) == 8 and struct.unpack('=HH', raw[:4]) == (7, 1)
    nested = codec.nla(2, [(1, b'abcd')])
    assert struct.unpack('=HH', nested[:4])[1] == 2 | codec.NLA_F_NESTED
    assert codec.decode_attrs(nested) == [(2, codec.nla(1, b'abcd'))]
    with pytest.raises(ValueError):
        codec.decode_attrs(struct.pack('=HH', 40, 1) + b'x' * 4)


def test_ifname_is_padded_to_ifnamsiz():
    d = roundtrip(nft_expr.match_ifname('oif', 'br0', negate=True))
    assert codec.unbe32(d[0][1][codec.NFTA_META_KEY]) == codec.NFT_META_OIFNAME
    assert codec.unbe32(d[1][1][codec.NFTA_CMP_OP]) == codec.NFT_CMP_NEQ
    assert codec.attr_map(d[1][1][codec.NFTA_CMP_DATA])[codec.NFTA_DATA_VALUE] == b'br0' + b'\0' * 13
    for bad in ('', 'x' * 16):
        with pytest.raises(ValueError):
            nft_expr.ifname_bytes(bad)


def test_fib_and_ct_values_are_host_order():
    d = roundtrip(nft_expr.match_fib_daddr_local())
    assert codec.unbe32(d[0][1][codec.NFTA_FIB_RESULT]) == codec.NFT_FIB_RESULT_ADDRTYPE
    assert codec.unbe32(d[0][1][codec.NFTA_FIB_FLAGS]) == codec.NFTA_FIB_F_DADDR
    assert codec.attr_map(d[1][1][codec.NFTA_CMP_DATA])[codec.NFTA_DATA_VALUE] == struct.pack('=I', 2)
    d = roundtrip(nft_expr.match_ct_bits(codec.NFT_CT_STATUS, codec.IPS_DST_NAT, present=True))
    assert codec.attr_map(d[1][1][codec.NFTA_BITWISE_MASK])[codec.NFTA_DATA_VALUE] == struct.pack('=I', 0x20)


def test_dnat_statement_registers():
    d = roundtrip(nft_expr.stmt_dnat('172.18.0.10', 8080))
    assert [e[0] for e in d] == ['immediate', 'immediate', 'nat']
    nat = d[2][1]
    assert codec.unbe32(nat[codec.NFTA_NAT_TYPE]) == codec.NFT_NAT_DNAT
    assert codec.unbe32(nat[codec.NFTA_NAT_FAMILY]) == codec.NFPROTO_IPV4
    assert codec.unbe32(nat[codec.NFTA_NAT_REG_ADDR_MIN]) == codec.NFT_REG_1
    assert codec.unbe32(nat[codec.NFTA_NAT_REG_PROTO_MIN]) == codec.NFT_REG_2
    assert codec.NFTA_NAT_REG_PROTO_MIN not in roundtrip(nft_expr.stmt_dnat('172.18.0.10'))[1][1]


@pytest.mark.parametrize('exprs,text', [
    (nft_expr.match_ip_addr('saddr', '172.18.0.0/20') + nft_expr.match_ifname('oif', 'br0', True) + [nft_expr.masq()],
     'ip saddr 172.18.0.0/20 oifname != "br0" masquerade'),
    (nft_expr.match_fib_daddr_local() + nft_expr.match_ip_addr('daddr', '127.0.0.0/8', negate=True)
     + nft_expr.match_l4proto('tcp') + nft_expr.match_dport(8000, 8010) + nft_expr.stmt_dnat('172.18.0.10'),
     'fib daddr type local ip daddr != 127.0.0.0/8 tcp dport 8000-8010 dnat to 172.18.0.10'),
    (nft_expr.match_ip_addr('daddr', '10.0.0.1') + nft_expr.match_l4proto('udp') + nft_expr.match_dport(53)
     + nft_expr.stmt_dnat('172.18.0.10', 5353),
     'ip daddr 10.0.0.1 udp dport 53 dnat to 172.18.0.10:5353'),
    (nft_expr.match_ip_addr('daddr', '172.18.0.0/16') + nft_expr.match_ifname('iif', 'br0', True)
     + nft_expr.match_ct_bits(codec.NFT_CT_STATE, 6, False)
     + nft_expr.match_ct_bits(codec.NFT_CT_STATUS, codec.IPS_DST_NAT, False) + [nft_expr.verdict(codec.NF_DROP)],
     'ip daddr 172.18.0.0/16 iifname != "br0" ct state ! established,related '
     'ct status ! dnat drop'),
    (nft_expr.match_ip_addr('saddr', '10.0.0.0/8') + nft_expr.match_ct_bits(codec.NFT_CT_STATUS, 0x20, True)
     + [nft_expr.masq()], 'ip saddr 10.0.0.0/8 ct status dnat masquerade'),
])
def test_render_is_nft_syntax(exprs, text):
    """The same text `nft list ruleset` prints for these rules (checked on 1.0.6)."""
    assert nft_render.render_exprs(roundtrip(exprs)) == text


def test_render_shows_unknown_expressions():
    assert nft_render.render_exprs(roundtrip([nft_expr.Expr('limit', [(1, codec.be64(10))]), nft_expr.masq()])) == \
        '<limit> masquerade'


def test_comment_userdata():
    ud = codec.encode_comment('linuxnet:masq/br0#0123')
    assert ud[0] == codec.NFTNL_UDATA_RULE_COMMENT and ud[1] == len('linuxnet:masq/br0#0123') + 1
    assert ud.endswith(b'\0')
    assert codec.decode_comment(ud) == 'linuxnet:masq/br0#0123'
    assert codec.decode_comment(b'') is None
    assert codec.decode_comment(b'\x05\x01x' + ud) == 'linuxnet:masq/br0#0123'
    with pytest.raises(ValueError):
        codec.encode_comment('x' * 255)


# ------------------------------------------------------------------ IPv6 (issue 12)
@pytest.mark.parametrize('plen', range(0, 129))
def test_prefix_mask_every_ipv6_length(plen):
    assert nft_expr.prefix_mask(plen, 16) == \
        ipaddress.IPv6Network('::/%d' % plen).netmask.packed
    with pytest.raises(ValueError):
        nft_expr.prefix_mask(129, 16)


@pytest.mark.parametrize('net,mask', [
    ('::/0', '00' * 16),
    ('fd00:18::/64', 'ff' * 8 + '00' * 8),
    ('fd00:18::/61', 'ff' * 7 + 'f8' + '00' * 8),
    ('fd00:18::/127', 'ff' * 15 + 'fe'),
    ('fd00:18::1/128', None),
])
def test_ip6_saddr_bytes(net, mask):
    d = roundtrip(nft_expr.match_ip_addr('saddr', net))
    assert [e[0] for e in d] == ['payload'] + (['bitwise'] if mask else []) + ['cmp']
    p = d[0][1]
    assert codec.unbe32(p[codec.NFTA_PAYLOAD_BASE]) == codec.NFT_PAYLOAD_NETWORK_HEADER
    assert codec.unbe32(p[codec.NFTA_PAYLOAD_OFFSET]) == 8
    assert codec.unbe32(p[codec.NFTA_PAYLOAD_LEN]) == 16
    if mask:
        b = d[1][1]
        assert codec.attr_map(b[codec.NFTA_BITWISE_MASK])[codec.NFTA_DATA_VALUE].hex() == mask
        assert codec.unbe32(b[codec.NFTA_BITWISE_LEN]) == 16
    value = codec.attr_map(d[-1][1][codec.NFTA_CMP_DATA])[codec.NFTA_DATA_VALUE]
    assert value == ipaddress.ip_network(net, strict=False).network_address.packed
    daddr = roundtrip(nft_expr.match_ip_addr('daddr', net))
    assert codec.unbe32(daddr[0][1][codec.NFTA_PAYLOAD_OFFSET]) == 24
    text = nft_render.render_exprs(d)
    assert text == 'ip6 saddr %s' % (net.replace('/128', '') if mask is None else net)


def test_host_bits_are_cleared_in_ipv6_too():
    d = roundtrip(nft_expr.match_ip_addr('daddr', 'fd00:18::99/64'))
    assert nft_render.render_exprs(d) == 'ip6 daddr fd00:18::/64'


def test_dnat_ip6_statement():
    d = roundtrip(nft_expr.stmt_dnat('fd00:18::10', 5000))
    nat = d[2][1]
    assert codec.unbe32(nat[codec.NFTA_NAT_FAMILY]) == codec.NFPROTO_IPV6
    addr = codec.attr_map(d[0][1][codec.NFTA_IMMEDIATE_DATA])[codec.NFTA_DATA_VALUE]
    assert addr == ipaddress.ip_address('fd00:18::10').packed
    assert nft_render.render_exprs(d) == 'dnat ip6 to [fd00:18::10]:5000'
    assert nft_render.render_exprs(roundtrip(nft_expr.stmt_dnat('fd00:18::10'))) == \
        'dnat ip6 to fd00:18::10'


@pytest.mark.parametrize('exprs,text', [
    # as `nft list table inet ...` prints them (nft 1.0.6): an ip6 address match hides the
    # meta nfproto ipv6 it depends on, a dnat ip6 statement does not
    (nft_expr.match_nfproto(6) + nft_expr.match_fib_daddr_local() + nft_expr.match_l4proto('tcp')
     + nft_expr.match_dport(5000) + nft_expr.stmt_dnat('fd00:18::10', 5000),
     'meta nfproto ipv6 fib daddr type local tcp dport 5000 dnat ip6 to [fd00:18::10]:5000'),
    (nft_expr.match_nfproto(6) + nft_expr.match_fib_daddr_local()
     + nft_expr.match_ip_addr('daddr', '::1', negate=True) + nft_expr.match_l4proto('udp')
     + nft_expr.match_dport(5000, 5010) + nft_expr.stmt_dnat('fd00:18::10'),
     'fib daddr type local ip6 daddr != ::1 udp dport 5000-5010 dnat ip6 to fd00:18::10'),
    (nft_expr.match_nfproto(6) + nft_expr.match_ip_addr('saddr', 'fd00:18::/64')
     + nft_expr.match_ip_addr('daddr', 'fd00:18::/64')
     + nft_expr.match_ct_bits(codec.NFT_CT_STATUS, 0x20, True) + [nft_expr.masq()],
     'ip6 saddr fd00:18::/64 ip6 daddr fd00:18::/64 ct status dnat masquerade'),
])
def test_render_ipv6_is_nft_syntax(exprs, text):
    assert nft_render.render_exprs(roundtrip(exprs)) == text


def test_dnat_target_is_stmt_dnat_read_back():
    """network_info reads a publication's target from the rule's expressions."""
    from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_expr as x

    def back(exprs):
        return x.dnat_target(x.decode_exprs(x.encode_exprs(exprs)))
    assert back(x.stmt_dnat('172.18.0.10', 5000)) == ('172.18.0.10', 5000)
    assert back(x.stmt_dnat('fd00:18::10', 8080)) == ('fd00:18::10', 8080)
    assert back(x.stmt_dnat('fd00:18::10')) == ('fd00:18::10', None)
    # matches before it, and a rule without one
    assert back(x.match_dport(5000) + x.stmt_dnat('10.0.0.2', 53)) == ('10.0.0.2', 53)
    assert back(x.match_ifname('iif', 'br0') + [x.verdict(1)]) is None
