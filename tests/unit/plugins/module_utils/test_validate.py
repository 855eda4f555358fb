# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one validation layer (issue #11 item 3): each rule once, one message shape
``<path>: <value> <what is wrong>; <how to fix>``, the same in every module and the role."""
import ipaddress

import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils import validate
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import model
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import resources as nat
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import description as network_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError)
from ansible_collections.linuxnet.container_network.plugins.module_utils.validate import Path


def message(fn, *args, **kw):
    with pytest.raises(ValidationError) as e:
        fn(*args, **kw)
    return str(e.value)


# ------------------------------------------------------------------ paths
@pytest.mark.parametrize('path, text', [
    (Path().containers[2].address, 'containers[2].address'),
    (Path('containers')[2].address, 'containers[2].address'),
    (Path(prefix='container_bridge_network_').containers[2].address,
     'container_bridge_network_containers[2].address'),
    (Path(prefix='container_bridge_network_').subnet, 'container_bridge_network_subnet'),
    (Path().publications[0].host_port, 'publications[0].host_port'),
    (Path('pool'), 'pool'),
])
def test_path(path, text):
    assert str(path) == text


# ------------------------------------------------------------------ each validator
GOOD = [
    (validate.ifname, ('veth0',), 'veth0'),
    (validate.ifname, ('a' * 15,), 'a' * 15),
    (validate.netns_name, ('netns-0_x',), 'netns-0_x'),
    (validate.name, ('br0.net-1',), 'br0.net-1'),
    (validate.owner_name, (None,), None),
    (validate.subnet, (' 172.18.0.0/16',), ipaddress.ip_network('172.18.0.0/16')),
    (validate.subnet, ('fd00::/64',), ipaddress.ip_network('fd00::/64')),
    (validate.address, ('172.18.0.10',), ipaddress.ip_address('172.18.0.10')),
    (validate.cidr, ('172.18.0.10/16',), ipaddress.ip_interface('172.18.0.10/16')),
    (validate.cidr, ('10.0.0.0/31',), ipaddress.ip_interface('10.0.0.0/31')),
    (validate.mtu, (68,), 68), (validate.mtu, (None,), None),
    (validate.mac, ('02-42-AC-12-00-0A',), '02:42:ac:12:00:0a'),
    (validate.ports, (80,), (80, 80)), (validate.ports, ('8000 - 8010',), (8000, 8010)),
    (validate.one_of, ('udp', ('tcp', 'udp')), 'udp'),
]


@pytest.mark.parametrize('fn, args, expected', GOOD)
def test_good_values(fn, args, expected):
    assert fn(*(args + ('x',))) == expected


BAD = [
    (validate.ifname, ('br:0',), "x: 'br:0' is not a valid interface name; use no '/', ':', "
                                 "whitespace or NUL, and not '.' or '..'"),
    (validate.ifname, ('veth-0123456789x',), "x: 'veth-0123456789x' is 16 bytes long, Linux "
                                             "allows at most 15; shorten it"),
    (validate.ifname, ('',), "x: '' is empty; give an interface name of 1 to 15 bytes"),
    (validate.ifname, (None,), 'x: missing; give an interface name of 1 to 15 bytes'),
    (validate.netns_name, ('..',), "x: '..' is not a network namespace name that is one safe "
                                   "path component under /run/netns; use no '/' or NUL, no "
                                   "leading '.', at most 255 bytes"),
    (validate.netns_name, ('',), "x: '' is empty; give a network namespace name like netns0"),
    (validate.name, ('x y',), "x: 'x y' is not a valid network name; use 1 to 32 of "
                              "A-Z a-z 0-9 _ . -"),
    (validate.owner_name, ('a b',), "x: 'a b' is not a valid owner; use 1 to 100 characters "
                                    "without whitespace"),
    (validate.subnet, ('172.18.0.1/16',), "x: '172.18.0.1/16' has host bits set; write the "
                                          "network address 172.18.0.0/16"),
    (validate.subnet, ('172.18.0.0',), "x: '172.18.0.0' has no prefix length; write it as "
                                       "CIDR, like 172.18.0.0/16"),
    (validate.subnet, ('172.18.0.0/33',), "x: '172.18.0.0/33' is not a subnet"),
    (validate.subnet, ('fd00::/64', True), "x: 'fd00::/64' is IPv6, this field is the IPv4 "
                                           "subnet; give an IPv4 subnet here and the IPv6 one "
                                           "in ipv6_subnet"),
    (validate.subnet, ('0.0.0.0/0', True), "x: '0.0.0.0/0' would cover every address"),
    (validate.address, ('x',), "x: 'x' is not an IP address; write one like 172.18.0.10"),
    (validate.host_address, ('10.0.0.1', ipaddress.ip_network('172.18.0.0/16'), 'x', 'fix'),
     "x: '10.0.0.1' is not a host address of subnet 172.18.0.0/16 (it is outside it); fix"),
    (validate.host_address, ('172.18.255.255', ipaddress.ip_network('172.18.0.0/16'), 'x',
                             'fix'),
     "x: '172.18.255.255' is not a host address of subnet 172.18.0.0/16 (it is the network "
     "or broadcast address); fix"),
    (validate.cidr, ('172.18.0.10',), "x: '172.18.0.10' has no prefix length; write it as "
                                      "CIDR, like 172.18.0.10/16"),
    (validate.cidr, ('172.18.0.300/16',), "x: '172.18.0.300/16' is not a valid CIDR address"),
    (validate.cidr, ('172.18.0.0/16',), "x: '172.18.0.0/16' is the network or broadcast "
                                        "address of 172.18.0.0/16; pick a host address"),
    (validate.mtu, (67,), 'x: 67 is not a valid MTU; use 68 to 65535'),
    (validate.mtu, (True,), 'x: True is not a valid MTU; use 68 to 65535'),
    (validate.mac, ('01:00:5e:00:00:01',), "x: '01:00:5e:00:00:01' is a multicast address"),
    (validate.mac, ('02:42:ac',), "x: '02:42:ac' is not a MAC address"),
    (validate.ports, (0,), 'x: 0 is out of range; use a port from 1 to 65535 or a range like '
                           '8000-8010'),
    (validate.ports, ('10-5',), "x: '10-5' is a reversed range; write it low-high, like 5-10"),
    (validate.ports, ('http',), "x: 'http' is not a port or port range"),
    (validate.ports, (True,), 'x: True is not a port or port range'),
    (validate.one_of, ('icmp', ('tcp', 'udp'), 'x'), "x: 'icmp' is not one of: tcp, udp; "
     "use one of them"),
    (validate.unique, ([('a[0]', 'v', 1), ('a[1]', 'v', 1)],),
     "a[1]: 'v' is listed twice (also at a[0]); list it once"),
]


@pytest.mark.parametrize('fn, args, expected', BAD)
def test_bad_values(fn, args, expected):
    if fn in (validate.host_address, validate.unique, validate.one_of):
        got = message(fn, *args)
    else:
        got = message(fn, *((args[0], 'x') + args[1:]))
    assert got.startswith(expected), got


def test_ifnamsiz_is_defined_once_and_agrees_with_the_netlink_codec():
    assert validate.IFNAMSIZ == 16 == nft_codec.IFNAMSIZ
    assert model.IFNAMSIZ is validate.IFNAMSIZ
    for mod in (network_model, nat.nat_model):
        assert getattr(mod, 'IFNAMSIZ', validate.IFNAMSIZ) is validate.IFNAMSIZ


# ------------------------------------------------------------------ the same everywhere
NET = {'bridge': 'br0', 'subnet': '172.18.0.0/16', 'gateway': '172.18.0.1',
       'containers': [{'name': 'web', 'address': '172.18.0.10'}], 'published_ports': [],
       'state': 'present'}


def bridge(br):
    return model.bridge_want({'bridges': [{'name': br}], 'state': 'present'})


def masquerade(br='br0', subnet='172.18.0.0/16'):
    return nat.MasqueradeResource().want(
        {'networks': [{'name': 'n', 'bridge': br, 'subnet': subnet}]})


def port_publish(br='br0', subnet='172.18.0.0/16', pub=None):
    return nat.PortPublishResource().want(
        {'network': 'n', 'bridge': br, 'subnet': subnet,
         'publications': [pub or {'host_port': 80, 'container_address': '172.18.0.10'}]})


def network(prefix='', **kw):
    return network_model.network_want(dict(NET, variable_prefix=prefix, **kw))


def veth(pool):
    return model.veth_want({'pairs': [], 'pool': pool})


def same_everywhere(calls, problem):
    """Each call fails at its own path with the very same '<value> <problem>; <fix>'."""
    seen = set()
    for fn, path in calls:
        msg = message(fn)
        assert msg.startswith(path + ': '), msg
        seen.add(msg[len(path) + 2:])
    assert len(seen) == 1, seen
    assert problem in seen.pop()


def test_a_bridge_name_with_a_colon_is_refused_everywhere():
    """masquerade and port_publish took 'br:0' (only '/' and ' ' were refused there)."""
    same_everywhere([(lambda: masquerade(br='br:0'), 'networks[0].bridge'),
                     (lambda: port_publish(br='br:0'), 'bridge'),
                     (lambda: bridge('br:0'), 'bridges[0].name'),
                     (lambda: network(bridge='br:0'), 'bridge'),
                     (lambda: network('container_bridge_network_', bridge='br:0'),
                      'container_bridge_network_bridge')],
                    "'br:0' is not a valid interface name; use no '/', ':'")


def test_a_long_bridge_name_is_refused_everywhere():
    same_everywhere([(lambda: bridge('b' * 16), 'bridges[0].name'),
                     (lambda: masquerade(br='b' * 16), 'networks[0].bridge'),
                     (lambda: port_publish(br='b' * 16), 'bridge'),
                     (lambda: network(bridge='b' * 16), 'bridge')],
                    'is 16 bytes long, Linux allows at most 15; shorten it')


def test_a_subnet_with_host_bits_is_refused_everywhere():
    """masquerade and port_publish silently took 172.18.0.1/16 as 172.18.0.0/16."""
    same_everywhere([(lambda: masquerade(subnet='172.18.0.1/16'), 'networks[0].subnet'),
                     (lambda: port_publish(subnet='172.18.0.1/16'), 'subnet'),
                     (lambda: network(subnet='172.18.0.1/16'), 'subnet'),
                     (lambda: network('container_bridge_network_', subnet='172.18.0.1/16'),
                      'container_bridge_network_subnet'),
                     (lambda: veth('172.18.0.1/16'), 'pool')],
                    "'172.18.0.1/16' has host bits set; write the network address "
                    "172.18.0.0/16")


def test_an_ipv6_subnet_in_the_ipv4_field_is_refused_alike_by_the_nat_modules_and_network():
    same_everywhere([(lambda: masquerade(subnet='fd00::/64'), 'networks[0].subnet'),
                     (lambda: port_publish(subnet='fd00::/64'), 'subnet'),
                     (lambda: network(subnet='fd00::/64'), 'subnet')],
                    'is IPv6, this field is the IPv4 subnet; give an IPv4 subnet here and '
                    'the IPv6 one in ipv6_subnet')


def test_a_bad_port_is_refused_alike_by_port_publish_and_network():
    same_everywhere([(lambda: port_publish(pub={'host_port': '70000',
                                                'container_address': '172.18.0.10'}),
                      'publications[0].host_port'),
                     (lambda: network(published_ports=[{'container': 'web',
                                                        'host_port': '70000'}]),
                      'published_ports[0].host_port'),
                     (lambda: network('container_bridge_network_', published_ports=[
                         {'container': 'web', 'host_port': '70000'}]),
                      'container_bridge_network_published_ports[0].host_port')],
                    "'70000' is out of range")


def test_a_bad_namespace_name_is_refused_alike_by_netns_veth_pair_and_network():
    same_everywhere([(lambda: model.netns_want({'name': ['a/b']}), 'name[0]'),
                     (lambda: model.veth_want({'pairs': [{'name': 'v0', 'peer': 'c0',
                                                          'netns': 'a/b'}]}),
                      'pairs[0].netns'),
                     (lambda: network(containers=[{'name': 'a/b'}]), 'containers[0].name')],
                    "'a/b' is not a network namespace name")


def test_an_address_outside_the_subnet_is_the_same_problem_in_port_publish_and_network():
    problem = "'10.0.0.1' is not a host address of subnet 172.18.0.0/16 (it is outside it);"
    assert problem in message(port_publish, pub={'host_port': 80,
                                                 'container_address': '10.0.0.1'})
    assert problem in message(network, containers=[{'name': 'a', 'address': '10.0.0.1'}])
