# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired-state validation (issue 2 item 4): every bad input names its item."""
import ipaddress

import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils import validate
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import model
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError,
)


def veth(*pairs, **kw):
    params = {'pairs': list(pairs), 'state': 'present', 'owner': None, 'exclusive': False,
              'pool': None, 'reserved': []}
    params.update(kw)
    return model.veth_want(params)


def pair(name='veth0', peer='ceth0', netns='netns0', **kw):
    d = {'name': name, 'peer': peer, 'netns': netns, 'addresses': None, 'gateway': None,
         'mtu': None, 'mac': None, 'state': None}
    d.update(kw)
    return d


def bridges(*items):
    return model.bridge_want({'bridges': list(items), 'state': 'present'})


def netns(*names, **kw):
    params = {'name': list(names), 'state': 'present', 'owner': None, 'exclusive': False}
    params.update(kw)
    return model.netns_want(params)


def fails(fn, *args, **kw):
    with pytest.raises(ValidationError) as ei:
        fn(*args, **kw)
    return str(ei.value)


# -- good input ------------------------------------------------------------------

def test_seed_pair_is_valid():
    w = veth(pair(addresses=['172.18.0.10/16'], gateway='172.18.0.1', mtu=1500,
                  mac='02-42-AC-12-00-0A'))
    p = w.pairs[0]
    assert (p.name, p.peer, p.netns, p.state) == ('veth0', 'ceth0', 'netns0', 'present')
    assert p.addresses == [ipaddress.ip_interface('172.18.0.10/16')]
    assert p.gateway(4) == ipaddress.ip_address('172.18.0.1')
    assert p.mac == '02:42:ac:12:00:0a'


def test_fifteen_byte_name_is_the_limit():
    assert validate.ifname('a' * 15, 'x') == 'a' * 15
    assert 'at most 15' in fails(validate.ifname, 'a' * 16, 'x')


def test_netns_names_valid():
    assert netns('netns0', 'web-1_x').names == ['netns0', 'web-1_x']


def test_mtu_bounds_inclusive():
    assert validate.mtu(68, 'x') == 68 and validate.mtu(65535, 'x') == 65535 and validate.mtu(None, 'x') is None


# -- invalid CIDR / missing prefix ---------------------------------------------------

@pytest.mark.parametrize('bad', ['172.18.0.300/16', '172.18.0.10/33', 'banana/16',
                                 '172.18.0.10/x'])
def test_invalid_cidr_names_pair(bad):
    msg = fails(veth, pair(name='vethbad', addresses=[bad]))
    assert 'pairs[0].addresses[0]: ' + repr(bad) in msg and 'not a valid CIDR' in msg


def test_invalid_cidr_names_bridge():
    msg = fails(bridges, {'name': 'br0', 'addresses': ['10.0.0.256/24']})
    assert "bridges[0].addresses[0]: '10.0.0.256/24'" in msg


def test_missing_prefix_names_pair():
    msg = fails(veth, pair(name='veth7', addresses=['172.18.0.10']))
    assert "pairs[0].addresses[0]: '172.18.0.10' has no prefix length" in msg


def test_missing_prefix_names_bridge():
    msg = fails(bridges, {'name': 'br9', 'addresses': ['172.18.0.1']})
    assert 'bridges[0].addresses[0]' in msg and 'no prefix length' in msg


def test_network_address_rejected():
    msg = fails(veth, pair(addresses=['172.18.0.0/16']))
    assert 'network or broadcast' in msg and 'pairs[0].addresses[0]' in msg


# -- interface names -------------------------------------------------------------

@pytest.mark.parametrize('field,what', [('name', 'pairs[0].name'), ('peer', 'pairs[0].peer')])
def test_ifname_too_long(field, what):
    long = 'x' * 16
    msg = fails(veth, pair(**{field: long}))
    assert what in msg and long in msg and '16 bytes' in msg and 'at most 15' in msg


def test_ifname_too_long_counts_bytes_not_chars():
    name = '\u00e9' * 8  # 8 characters, 16 bytes
    assert '16 bytes' in fails(validate.ifname, name, 'x')


@pytest.mark.parametrize('bad', ['ve/th0', 've th0', 'veth\t0', 'veth0\n', ' veth0', '..', '.',
                                 'a:b', 'ab\0c'])
def test_ifname_bad_characters(bad):
    msg = fails(veth, pair(name=bad))
    assert 'pairs[0].name: %r is not a valid interface name' % bad in msg


def test_bad_peer_name_names_its_pair():
    msg = fails(veth, pair(name='veth3', peer='c eth'))
    assert "pairs[0].peer: 'c eth'" in msg


def test_bridge_name_bad():
    assert "bridges[0].name: 'br/0'" in fails(bridges, {'name': 'br/0'})
    assert 'bridges[0].name' in fails(bridges, {'name': 'b' * 16})


def test_port_name_bad():
    msg = fails(model.ports_want, {'bridge': 'br0', 'ports': [{'name': 'p 0'}]})
    assert "ports[0].name: 'p 0'" in msg
    assert "bridge: 'br 0'" in fails(model.ports_want, {'bridge': 'br 0', 'ports': []})
    assert "ports[0].name: 'br0' is the bridge itself" in fails(model.ports_want,
                                                                {'bridge': 'br0', 'ports': [{'name': 'br0'}]})


def test_empty_ifname():
    assert 'empty' in fails(veth, pair(name=''))


# -- netns names ----------------------------------------------------------------

@pytest.mark.parametrize('bad', ['..', '.', 'a/b', '/', '../etc', 'ns\0x', '.hidden', 'n' * 256])
def test_netns_name_not_a_safe_component(bad):
    msg = fails(netns, 'ok0', bad)
    assert 'network namespace name' in msg and 'safe path component' in msg
    assert repr(bad)[:20].strip("'") in msg


def test_netns_name_empty():
    msg = fails(netns, 'ok0', '')
    assert 'network namespace name' in msg and 'empty' in msg


@pytest.mark.parametrize('bad', ['..', '/', 'a/b', 'x\0'])
def test_pair_netns_bad_names_pair(bad):
    msg = fails(veth, pair(name='veth5', netns=bad))
    assert 'pairs[0].netns' in msg and 'network namespace name' in msg


def test_pair_netns_empty_string_is_not_the_host():
    # '' must not silently mean "the host namespace"
    msg = fails(veth, pair(name='veth5', netns=''))
    assert "pairs[0].netns: '' is empty" in msg


# -- MTU -------------------------------------------------------------------------

@pytest.mark.parametrize('bad', [0, 67, 65536, -1, True, '1500'])
def test_mtu_out_of_range(bad):
    msg = fails(veth, pair(name='veth8', mtu=bad))
    assert 'pairs[0].mtu: %r' % bad in msg and '68 to 65535' in msg


def test_bridge_mtu_out_of_range():
    msg = fails(bridges, {'name': 'br0', 'mtu': 70000})
    assert 'bridges[0].mtu: 70000' in msg and '68 to 65535' in msg


# -- duplicates ----------------------------------------------------------------------

def test_duplicate_netns():
    msg = fails(netns, 'a', 'b', 'a')
    assert "name[2]: 'a' is listed twice (also at name[0])" in msg


def test_duplicate_host_end():
    msg = fails(veth, pair(), pair(peer='ceth1', netns='netns1'))
    assert "pairs[1].name: 'veth0' is listed twice (also at pairs[0].name)" in msg


def test_duplicate_peer_in_same_netns():
    msg = fails(veth, pair(), pair(name='veth1'))
    assert "pairs[1].peer: 'ceth0' is listed twice in netns0 (also at pairs[0].peer)" in msg


def test_same_peer_name_in_different_netns_is_fine():
    w = veth(pair(), pair(name='veth1', netns='netns1'))
    assert [p.peer for p in w.pairs] == ['ceth0', 'ceth0']


def test_duplicate_address_across_pairs():
    msg = fails(veth, pair(addresses=['10.0.0.2/24']),
                pair(name='veth1', netns='netns1', addresses=['10.0.0.2/24']))
    assert "pairs[1].addresses[0]: '10.0.0.2/24' is listed twice" in msg


def test_duplicate_bridge_and_port():
    assert "bridges[1].name: 'br0' is listed twice" in fails(bridges, {'name': 'br0'}, {'name': 'br0'})
    assert "ports[1].name: 'v0' is listed twice" in fails(model.ports_want,
                                                          {'bridge': 'br0', 'ports': [{'name': 'v0'}, {'name': 'v0'}]})


def test_host_peer_same_name_without_netns():
    assert 'same name' in fails(veth, pair(peer='veth0', netns=None))


# -- gateway -------------------------------------------------------------------------

def test_gateway_outside_subnet():
    msg = fails(veth, pair(name='veth4', addresses=['172.18.0.10/24'], gateway='172.19.0.1'))
    assert "pairs[0].gateway: '172.19.0.1' is outside the subnet" in msg
    assert '172.18.0.0/24' in msg


def test_gateway_without_address():
    msg = fails(veth, pair(name='veth4', gateway='172.18.0.1'))
    assert 'pairs[0].gateway' in msg and 'outside the subnet' in msg


def test_gateway_is_own_address():
    msg = fails(veth, pair(addresses=['172.18.0.10/16'], gateway='172.18.0.10'))
    assert "own address" in msg


def test_gateway_not_an_ip():
    assert 'not an IP address' in fails(veth, pair(addresses=['10.0.0.2/24'], gateway='x'))


def test_ipv6_gateway_in_subnet():
    w = veth(pair(addresses=['172.18.0.10/16', 'fd00::10/64'], gateway='fd00::1'))
    assert w.pairs[0].gateway(6) == ipaddress.ip_address('fd00::1')


# -- the rest of the model ------------------------------------------------------------

def test_mac_multicast_and_garbage():
    assert 'multicast' in fails(veth, pair(mac='01:00:5e:00:00:01'))
    assert 'not a MAC' in fails(veth, pair(mac='02:42:ac'))


def test_exclusive_needs_owner():
    assert 'exclusive: True needs owner' in fails(netns, 'a', exclusive=True)
    assert 'exclusive: True needs owner' in fails(veth, pair(), exclusive=True)


def test_auto_needs_pool():
    assert "pairs[0].addresses[0]: 'auto' needs a pool" in fails(veth, pair(addresses=['auto']))


def test_auto_with_pool():
    w = veth(pair(addresses=['auto'], gateway='172.18.0.1'), pool='172.18.0.0/16',
             reserved=['172.18.0.1'])
    p = w.pairs[0]
    assert p.auto_address and p.addresses == [] and w.pool == ipaddress.ip_network(
        '172.18.0.0/16')


def test_address_outside_pool():
    assert 'outside the pool' in fails(veth, pair(addresses=['10.0.0.2/8']),
                                       pool='172.18.0.0/16')


def test_pool_with_host_bits():
    assert 'host bits' in fails(veth, pair(), pool='172.18.0.1/16')


def test_first_bad_item_fails_whole_call():
    """A valid item before a bad one does not make the call partly valid."""
    with pytest.raises(ValidationError):
        veth(pair(), pair(name='veth1', netns='netns1', addresses=['10.0.0.1']))


def test_derive_ifname_short_and_stable():
    a = model.derive_ifname('veth', 'net', 'web')
    assert len(a) <= 15 and a == model.derive_ifname('veth', 'net', 'web')
    assert a != model.derive_ifname('veth', 'net', 'db')


# -- IPv6 (issue 12) ------------------------------------------------------------------

def test_ipv6_gateway_next_to_ipv4_one():
    w = veth(pair(addresses=['172.18.0.10/16', 'fd00:18::10/64'], gateway='172.18.0.1',
                  ipv6_gateway='fd00:18::1'))
    assert [str(g) for g in w.pairs[0].gateways] == ['172.18.0.1', 'fd00:18::1']


@pytest.mark.parametrize('kw, words', [
    ({'ipv6_gateway': '172.18.0.1'}, ["pairs[0].ipv6_gateway: '172.18.0.1' is not an IPv6"]),
    ({'ipv6_gateway': 'fd00:19::1'}, ["pairs[0].ipv6_gateway: 'fd00:19::1' is outside"]),
    ({'gateway': 'fd00:18::1', 'ipv6_gateway': 'fd00:18::2'},
     ["pairs[0].ipv6_gateway: 'fd00:18::2' is a second IPv6 gateway"]),
    ({'mtu': 1279}, ['pairs[0].mtu: 1279 is below 1280', 'drop the IPv6 address']),
])
def test_ipv6_pair_errors(kw, words):
    msg = fails(veth, pair(addresses=['172.18.0.10/16', 'fd00:18::10/64'], **kw))
    for w in words:
        assert w in msg


def test_ipv6_mtu_applies_to_auto_from_ipv6_pool_and_to_bridges():
    msg = fails(veth, pair(addresses=['auto'], mtu=1200), ipv6_pool='fd00:18::/64')
    assert 'pairs[0].mtu: 1200 is below 1280' in msg
    assert veth(pair(addresses=['auto'], mtu=1200), pool='172.18.0.0/16').pairs[0].mtu == 1200
    msg = fails(bridges, {'name': 'br0', 'addresses': ['fd00:18::1/64'], 'mtu': 1000})
    assert 'bridges[0].mtu: 1000 is below 1280' in msg
    assert bridges({'name': 'br0', 'addresses': ['172.18.0.1/16'], 'mtu': 1000})[0].mtu == 1000


def test_ipv6_pool_must_be_ipv6():
    assert "ipv6_pool: '172.18.0.0/16' is not an IPv6 subnet" in fails(
        veth, pair(addresses=['auto']), ipv6_pool='172.18.0.0/16')
