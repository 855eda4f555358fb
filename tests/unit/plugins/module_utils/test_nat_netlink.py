# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Our nfnetlink expression builder/decoder/renderer, byte for byte, no kernel."""
import ipaddress
import struct

import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils import nft_netlink as n


def roundtrip(exprs):
    return n.decode_exprs(n.encode_exprs(exprs))


@pytest.mark.parametrize('plen', range(0, 33))
def test_prefix_mask_every_length(plen):
    assert n.prefix_mask(plen) == ipaddress.IPv4Network('0.0.0.0/%d' % plen).netmask.packed


def test_prefix_mask_not_multiple_of_8():
    assert n.prefix_mask(20) == bytes([255, 255, 240, 0])
    assert n.prefix_mask(13) == bytes([255, 248, 0, 0])
    assert n.prefix_mask(29) == bytes([255, 255, 255, 248])
    with pytest.raises(ValueError):
        n.prefix_mask(33)


def test_ip_saddr_slash20_bytes():
    d = roundtrip(n.match_ip_addr('saddr', '172.18.0.0/20'))
    assert [e[0] for e in d] == ['payload', 'bitwise', 'cmp']
    p = d[0][1]
    assert n.unbe32(p[n.NFTA_PAYLOAD_BASE]) == n.NFT_PAYLOAD_NETWORK_HEADER
    assert n.unbe32(p[n.NFTA_PAYLOAD_OFFSET]) == 12 and n.unbe32(p[n.NFTA_PAYLOAD_LEN]) == 4
    b = d[1][1]
    assert n.attr_map(b[n.NFTA_BITWISE_MASK])[n.NFTA_DATA_VALUE] == bytes([255, 255, 240, 0])
    assert n.attr_map(b[n.NFTA_BITWISE_XOR])[n.NFTA_DATA_VALUE] == b'\0' * 4
    assert n.unbe32(b[n.NFTA_BITWISE_LEN]) == 4
    c = d[2][1]
    assert n.unbe32(c[n.NFTA_CMP_OP]) == n.NFT_CMP_EQ
    assert n.attr_map(c[n.NFTA_CMP_DATA])[n.NFTA_DATA_VALUE] == bytes([172, 18, 0, 0])


def test_host_bits_are_cleared_and_slash32_has_no_mask():
    d = roundtrip(n.match_ip_addr('daddr', '10.1.2.3/22'))
    assert n.attr_map(d[2][1][n.NFTA_CMP_DATA])[n.NFTA_DATA_VALUE] == bytes([10, 1, 0, 0])
    d = roundtrip(n.match_ip_addr('daddr', '10.1.2.3'))
    assert [e[0] for e in d] == ['payload', 'cmp']
    assert n.unbe32(d[0][1][n.NFTA_PAYLOAD_OFFSET]) == 16


def test_port_range_is_big_endian_gte_lte():
    d = roundtrip(n.match_dport(8000, 8010))
    assert [e[0] for e in d] == ['payload', 'cmp', 'cmp']
    assert n.unbe32(d[0][1][n.NFTA_PAYLOAD_BASE]) == n.NFT_PAYLOAD_TRANSPORT_HEADER
    assert n.unbe32(d[1][1][n.NFTA_CMP_OP]) == n.NFT_CMP_GTE
    assert n.attr_map(d[1][1][n.NFTA_CMP_DATA])[n.NFTA_DATA_VALUE] == struct.pack('>H', 8000)
    assert n.unbe32(d[2][1][n.NFTA_CMP_OP]) == n.NFT_CMP_LTE
    assert n.attr_map(d[2][1][n.NFTA_CMP_DATA])[n.NFTA_DATA_VALUE] == b'\x1f\x4a'
    assert len(roundtrip(n.match_dport(80, 80))) == 2


def test_attribute_alignment_and_nested_flag():
    raw = n.nla(1, b'abc')
    assert len(raw) == 8 and struct.unpack('=HH', raw[:4]) == (7, 1)
    nested = n.nla(2, [(1, b'abcd')])
    assert struct.unpack('=HH', nested[:4])[1] == 2 | n.NLA_F_NESTED
    assert n.decode_attrs(nested) == [(2, n.nla(1, b'abcd'))]
    with pytest.raises(ValueError):
        n.decode_attrs(struct.pack('=HH', 40, 1) + b'x' * 4)


def test_ifname_is_padded_to_ifnamsiz():
    d = roundtrip(n.match_ifname('oif', 'br0', negate=True))
    assert n.unbe32(d[0][1][n.NFTA_META_KEY]) == n.NFT_META_OIFNAME
    assert n.unbe32(d[1][1][n.NFTA_CMP_OP]) == n.NFT_CMP_NEQ
    assert n.attr_map(d[1][1][n.NFTA_CMP_DATA])[n.NFTA_DATA_VALUE] == b'br0' + b'\0' * 13
    for bad in ('', 'x' * 16):
        with pytest.raises(ValueError):
            n.ifname_bytes(bad)


def test_fib_and_ct_values_are_host_order():
    d = roundtrip(n.match_fib_daddr_local())
    assert n.unbe32(d[0][1][n.NFTA_FIB_RESULT]) == n.NFT_FIB_RESULT_ADDRTYPE
    assert n.unbe32(d[0][1][n.NFTA_FIB_FLAGS]) == n.NFTA_FIB_F_DADDR
    assert n.attr_map(d[1][1][n.NFTA_CMP_DATA])[n.NFTA_DATA_VALUE] == struct.pack('=I', 2)
    d = roundtrip(n.match_ct_bits(n.NFT_CT_STATUS, n.IPS_DST_NAT, present=True))
    assert n.attr_map(d[1][1][n.NFTA_BITWISE_MASK])[n.NFTA_DATA_VALUE] == struct.pack('=I', 0x20)


def test_dnat_statement_registers():
    d = roundtrip(n.stmt_dnat('172.18.0.10', 8080))
    assert [e[0] for e in d] == ['immediate', 'immediate', 'nat']
    nat = d[2][1]
    assert n.unbe32(nat[n.NFTA_NAT_TYPE]) == n.NFT_NAT_DNAT
    assert n.unbe32(nat[n.NFTA_NAT_FAMILY]) == n.NFPROTO_IPV4
    assert n.unbe32(nat[n.NFTA_NAT_REG_ADDR_MIN]) == n.NFT_REG_1
    assert n.unbe32(nat[n.NFTA_NAT_REG_PROTO_MIN]) == n.NFT_REG_2
    assert n.NFTA_NAT_REG_PROTO_MIN not in roundtrip(n.stmt_dnat('172.18.0.10'))[1][1]


@pytest.mark.parametrize('exprs,text', [
    (n.match_ip_addr('saddr', '172.18.0.0/20') + n.match_ifname('oif', 'br0', True) + [n.masq()],
     'ip saddr 172.18.0.0/20 oifname != "br0" masquerade'),
    (n.match_fib_daddr_local() + n.match_ip_addr('daddr', '127.0.0.0/8', negate=True)
     + n.match_l4proto('tcp') + n.match_dport(8000, 8010) + n.stmt_dnat('172.18.0.10'),
     'fib daddr type local ip daddr != 127.0.0.0/8 tcp dport 8000-8010 dnat to 172.18.0.10'),
    (n.match_ip_addr('daddr', '10.0.0.1') + n.match_l4proto('udp') + n.match_dport(53)
     + n.stmt_dnat('172.18.0.10', 5353),
     'ip daddr 10.0.0.1 udp dport 53 dnat to 172.18.0.10:5353'),
    (n.match_ip_addr('daddr', '172.18.0.0/16') + n.match_ifname('iif', 'br0', True)
     + n.match_ct_bits(n.NFT_CT_STATE, 6, False)
     + n.match_ct_bits(n.NFT_CT_STATUS, n.IPS_DST_NAT, False) + [n.verdict(n.NF_DROP)],
     'ip daddr 172.18.0.0/16 iifname != "br0" ct state ! established,related '
     'ct status ! dnat drop'),
    (n.match_ip_addr('saddr', '10.0.0.0/8') + n.match_ct_bits(n.NFT_CT_STATUS, 0x20, True)
     + [n.masq()], 'ip saddr 10.0.0.0/8 ct status dnat masquerade'),
])
def test_render_is_nft_syntax(exprs, text):
    """The same text `nft list ruleset` prints for these rules (checked on 1.0.6)."""
    assert n.render_exprs(roundtrip(exprs)) == text


def test_render_shows_unknown_expressions():
    assert n.render_exprs(roundtrip([n.Expr('limit', [(1, n.be64(10))]), n.masq()])) == \
        '<limit> masquerade'


def test_comment_userdata():
    ud = n.encode_comment('linuxnet:masq/br0#0123')
    assert ud[0] == n.NFTNL_UDATA_RULE_COMMENT and ud[1] == len('linuxnet:masq/br0#0123') + 1
    assert ud.endswith(b'\0')
    assert n.decode_comment(ud) == 'linuxnet:masq/br0#0123'
    assert n.decode_comment(b'') is None
    assert n.decode_comment(b'\x05\x01x' + ud) == 'linuxnet:masq/br0#0123'
    with pytest.raises(ValueError):
        n.encode_comment('x' * 255)
