# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_info's want and assembly (pure: views, rules and descriptions made here)."""
import ipaddress

import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils.network import pipeline
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_expr
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import info
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import options
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.plan import (
    OwnedRule)
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.observe import (
    Link, NsView)
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError)
from ansible_collections.linuxnet.container_network.plugins.modules import network as network_module
from ansible_collections.linuxnet.container_network.plugins.modules import network_info


def link(index, name, kind=None, alias=None, master=None, peer=None, addrs=(), hairpin=None,
         up=True):
    return Link(index=index, name=name, kind=kind, up=up, mtu=1500, mac='02:00:00:00:00:%02x'
                % index, master=master, alias=alias, peer_index=peer,
                addresses=[ipaddress.ip_interface(a) for a in addrs], hairpin=hairpin, group=0)


def ns(peer_of_host, ifname, addrs, owner='br0', routes=None, up=True):
    return NsView([link(1, 'lo', alias='linuxnet:' + owner if owner else None),
                   link(2, ifname, 'veth', peer=peer_of_host, addrs=addrs, up=up)],
                  routes if routes is not None else {4: ipaddress.ip_address('172.18.0.1')})


def rule(rid, chain, text, dnat=None):
    """An owned rule as observed: its text, and (for a DNAT) its decoded expressions."""
    exprs = nft_expr.decode_exprs(nft_expr.encode_exprs(nft_expr.stmt_dnat(*dnat))) \
        if dnat else []
    return OwnedRule(rid, 'h', chain, 1, text, exprs=exprs)


HOST = NsView([
    link(1, 'lo'),
    link(3, 'br0', 'bridge', addrs=['172.18.0.1/16', 'fd00:18::1/64']),
    link(4, 'veth0', 'veth', alias='linuxnet:br0', master=3, peer=2, hairpin=True),
    link(5, 'veth1', 'veth', alias='linuxnet:br0', master=3, peer=2, hairpin=False),
    link(6, 'docker0', 'bridge'),
    link(7, 'vethx', 'veth', alias='linuxnet:br9', peer=2),
])
RULES = [
    rule('pub/br0/tcp/*/5000/out', 'output', 'fib daddr type local ip daddr != 127.0.0.0/8 '
         'tcp dport 5000 dnat to 172.18.0.10:5000', dnat=('172.18.0.10', 5000)),
    rule('pub/br0/tcp/*/5000/pre', 'prerouting', 'fib daddr type local tcp dport 5000 '
         'dnat to 172.18.0.10:5000', dnat=('172.18.0.10', 5000)),
    rule('pub/br0/tcp/*6/8000-8001/pre', 'prerouting', 'meta nfproto ipv6 fib daddr type '
         'local tcp dport 8000-8001 dnat ip6 to [fd00:18::10]', dnat=('fd00:18::10',)),
    rule('masq/br0', 'postrouting', 'ip saddr 172.18.0.0/16 oifname != "br0" masquerade'),
    rule('pub/br0/ingress6', 'forward', 'ip6 daddr fd00:18::/64 drop'),
    rule('masq/other', 'postrouting', 'ip saddr 10.9.0.0/16 masquerade'),
]


def seen(**over):
    s = {'host': HOST,
         'owners': {'netns0': 'br0', 'netns1': 'br0', 'gone': 'br0', 'mine': None},
         'unreadable': ['stale'],
         'views': {'netns0': ns(4, 'eth0', ['172.18.0.10/16', 'fd00:18::10/64'],
                                routes={4: ipaddress.ip_address('172.18.0.1'),
                                        6: ipaddress.ip_address('fd00:18::1')}),
                   'netns1': ns(5, 'eth0', ['172.18.0.20/16'], up=False, routes={4: 'direct'}),
                   'gone': NsView([link(1, 'lo', alias='linuxnet:br0')])},
         'rules': RULES, 'persisted': {'br0': {'bridge': 'br0'}},
         'sysctl': {'ip_forward': '1', 'ipv6_forwarding': '0'}}
    s.update(over)
    return s


def test_networks_are_named_by_every_mark_of_ownership():
    out = info.assemble(seen())
    # br0: links and namespaces; br9: a veth tag only; other: a rule only
    assert sorted(out['networks']) == ['br0', 'br9', 'other']
    assert out['host'] == {'ip_forward': '1', 'ipv6_forwarding': '0'} and 'foreign' not in out
    assert out['networks']['other']['bridge'] == {
        'name': 'other', 'present': False, 'up': None, 'mtu': None, 'mac': None,
        'addresses': []}
    assert out['networks']['other']['masquerade'] == {'ipv4': True, 'ipv6': False}
    assert sorted(info.assemble(seen(), bridge='br9')['networks']) == ['br9']
    assert info.assemble(seen(), bridge='nope')['networks'] == {}


def test_a_network_as_its_links_rules_and_description_say():
    net = info.assemble(seen())['networks']['br0']
    assert net['bridge']['present'] and net['bridge']['addresses'] == [
        '172.18.0.1/16', 'fd00:18::1/64']
    assert (net['subnet'], net['gateway'], net['ipv6_subnet'], net['ipv6_gateway']) == (
        '172.18.0.0/16', '172.18.0.1', 'fd00:18::/64', 'fd00:18::1')
    gone, c0, c1 = net['containers']  # by name
    assert c0 == {'name': 'netns0', 'namespace': True, 'host_ifname': 'veth0',
                  'ifname': 'eth0', 'addresses': ['172.18.0.10/16', 'fd00:18::10/64'],
                  'address': '172.18.0.10', 'ipv6_address': 'fd00:18::10',
                  'mac': '02:00:00:00:00:02', 'mtu': 1500, 'up': True, 'attached': True,
                  'hairpin': True,
                  'routes': [{'family': 'ipv4', 'dst': 'default', 'gateway': '172.18.0.1'},
                             {'family': 'ipv6', 'dst': 'default', 'gateway': 'fd00:18::1'}]}
    assert (c1['name'], c1['up'], c1['hairpin'], c1['routes']) == (
        'netns1', False, False, [{'family': 'ipv4', 'dst': 'default', 'gateway': None}])
    assert (gone['name'], gone['host_ifname'], gone['addresses'], gone['attached']) == (
        'gone', None, [], False)
    assert net['masquerade'] == {'ipv4': True, 'ipv6': False}
    assert net['ingress_protection'] == {'ipv4': False, 'ipv6': True}
    assert net['localhost_guard'] is False and net['fleet_routes'] == []
    assert net['persistent'] == {'enabled': True, 'unit': 'linuxnet-network@br0.service'}
    # chain order, then rule id; each line ends with its rule id
    assert [l.rpartition('  # ')[2] for l in net['rules']] == [
        'pub/br0/tcp/*/5000/pre', 'pub/br0/tcp/*6/8000-8001/pre', 'pub/br0/tcp/*/5000/out',
        'masq/br0', 'pub/br0/ingress6']
    assert net['rules'][3] == 'ip saddr 172.18.0.0/16 oifname != "br0" masquerade  # masq/br0'


def test_published_ports_from_their_dnat_rules():
    ports = info.assemble(seen())['networks']['br0']['published_ports']
    assert ports == [
        {'protocol': 'tcp', 'family': 'ipv4', 'host_ip': None, 'host_port': '5000',
         'container': 'netns0', 'container_address': '172.18.0.10', 'container_port': '5000',
         'rules': ['pub/br0/tcp/*/5000/pre', 'pub/br0/tcp/*/5000/out']},
        # a range to the same ports: the DNAT names no port
        {'protocol': 'tcp', 'family': 'ipv6', 'host_ip': None, 'host_port': '8000-8001',
         'container': 'netns0', 'container_address': 'fd00:18::10',
         'container_port': '8000-8001', 'rules': ['pub/br0/tcp/*6/8000-8001/pre']}]


def test_a_port_to_an_address_no_container_holds_names_none():
    rules = [rule('pub/br0/udp/192.0.2.5/53/pre', 'prerouting',
                  'ip daddr 192.0.2.5 udp dport 53 dnat to 172.18.0.99:5353',
                  dnat=('172.18.0.99', 5353))]
    [p] = info.assemble(seen(rules=rules))['networks']['br0']['published_ports']
    assert (p['host_ip'], p['container'], p['container_address'], p['container_port']) == (
        '192.0.2.5', None, '172.18.0.99', '5353')


def test_a_pair_whose_peer_is_not_in_a_namespace_of_ours():
    s = seen(views={}, owners={})
    c = info.assemble(s)['networks']['br0']['containers']
    assert [(x['name'], x['namespace'], x['host_ifname'], x['attached']) for x in c] == [
        (None, False, 'veth0', True), (None, False, 'veth1', True)]


def test_foreign_lists_what_no_network_owns():
    out = info.assemble(seen(), bridge='br0', foreign=True)
    assert out['foreign'] == {'namespaces': ['mine', 'stale'], 'bridges': ['docker0']}


def test_no_description_no_drift_want():
    assert info.info_want({'bridge': None, 'foreign': None}) == {
        'bridge': None, 'foreign': False, 'described': {}}


def test_a_description_needs_its_bridge():
    with pytest.raises(ValidationError, match=r'^bridge: missing; subnet, gateway describe'):
        info.info_want({'subnet': '172.18.0.0/16', 'gateway': '172.18.0.1'})


def test_a_description_is_module_networks_want(monkeypatch):
    w = info.info_want({'bridge': 'br0', 'state': 'absent'})
    assert list(w['described']) == ['br0']
    assert w['described']['br0']['net']['state'] == 'absent'
    with pytest.raises(ValidationError, match=r'^subnet: missing'):
        info.info_want({'bridge': 'br0', 'masquerade': False})


def test_the_persistence_compared_is_what_module_network_installs():
    w = info.info_want({'bridge': 'br0', 'subnet': '172.18.0.0/16', 'gateway': '172.18.0.1',
                        'persistent': True})
    stage = pipeline.stage(w['described']['br0'], 'persistence')
    files = stage.want['files']
    assert any(p.endswith('/module_utils/network/pipeline.py') for p in files)
    assert not any(p.endswith('/module_utils/network/info.py') for p in files)


def test_description_options_are_module_networks():
    """The options and defaults of module network, bridge and foreign aside: a
    description passes through as module network would take it."""
    spec = network_info.ARGUMENT_SPEC
    theirs = network_module.ARGUMENT_SPEC
    assert set(spec) - {'foreign'} == set(theirs) == set(info.DESCRIPTION)
    for key, option in theirs.items():
        mine = spec[key]
        assert mine['type'] == option['type'] and mine.get('options') == option.get('options')
        assert mine.get('choices') == option.get('choices')
        if key != 'bridge':
            assert 'default' not in mine  # given or not is what makes a description
        if key not in ('bridge', 'persistent'):  # persistent omitted: not compared
            assert options.DEFAULTS.get(key) == option.get('default'), key
    full = info.description({'bridge': 'br0'})
    assert full['containers'] == [] and full['state'] == 'present' and full['persistent'] is None


def test_fleet_routes_belong_to_the_network_of_their_realm():
    from ansible_collections.linuxnet.container_network.plugins.module_utils.network import fleet_model
    routes = [{'dst': '172.19.0.0/24', 'gateway': '198.51.100.12', 'dev': 'eth0',
               'backend': 'host-gw', 'underlay': '198.51.100.12', 'realm': fleet_model.realm('br0')},
              {'dst': '172.20.0.0/24', 'gateway': '172.20.0.0', 'dev': 'lnvx7',
               'backend': 'vxlan', 'underlay': '192.0.2.13', 'realm': fleet_model.realm('br9')}]
    nets = info.assemble(seen(fleet=routes))['networks']
    assert nets['br0']['fleet_routes'] == [dict((k, v) for k, v in routes[0].items()
                                                if k != 'realm')]
    assert nets['br9']['fleet_routes'] == [dict((k, v) for k, v in routes[1].items()
                                                if k != 'realm')]
    assert nets['other']['fleet_routes'] == []
