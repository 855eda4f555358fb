# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network module's planning of its stages (pure: no kernel)."""
import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import model
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import model as nat_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import publications
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import pipeline as network
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import description as network_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError,
)

BASE = {'bridge': 'br0', 'subnet': '172.18.0.0/16', 'gateway': '172.18.0.1',
        'containers': [{'name': 'web', 'address': '172.18.0.10', 'host_ifname': 'veth0',
                        'ifname': 'ceth0'},
                       {'name': 'db'}],
        'published_ports': [{'container': 'web', 'host_port': 8080, 'container_port': 80}],
        'masquerade': True, 'ingress_protection': True, 'state': 'present'}


def want(**kw):
    return network_model.network_want(dict(BASE, **kw))


def test_pairs_ports_and_names_are_derived():
    w = want()
    web, db = w['pairs']
    assert web == {'name': 'veth0', 'peer': 'ceth0', 'netns': 'web', 'addresses': ['172.18.0.10/16'],
                   'gateway': '172.18.0.1', 'ipv6_gateway': None, 'mtu': None, 'mac': None,
                   'state': None}
    assert db['name'] == model.derive_ifname('veth', 'br0', 'db') and len(db['name']) == 15
    assert db['peer'] == 'eth0' and db['addresses'] == ['auto']
    # the derived name depends on the network: two networks never collide on it
    assert model.derive_ifname('veth', 'br1', 'db') != db['name']
    assert [p['hairpin'] for p in w['ports']] == [True, True]
    assert w['netns'] == ['web', 'db'] and w['gateway_cidr'] == '172.18.0.1/16'


def test_teardown_lists_nothing_but_keeps_the_network_identity():
    w = want(state='absent')
    assert w['netns'] == [] and w['pairs'] == [] and w['published'] == []
    assert w['bridge'] == 'br0'


@pytest.mark.parametrize('kw, words', [
    ({'subnet': '172.18.0.1/16'}, ["subnet: '172.18.0.1/16' has host bits set"]),
    ({'gateway': '172.18.0.0'}, ["gateway: '172.18.0.0' is not a host address"]),
    ({'containers': [{'name': 'a'}, {'name': 'a'}]},
     ["containers[1].name: 'a' is listed twice (also at containers[0].name)"]),
    ({'containers': [{'name': 'a', 'host_ifname': 'x'}, {'name': 'b', 'host_ifname': 'x'}]},
     ["containers[1].host_ifname: 'x' is listed twice (also at containers[0].host_ifname)"]),
    ({'containers': [{'name': 'a', 'address': '172.18.0.1'}]},
     ["containers[0].address: '172.18.0.1' is the gateway"]),
    ({'containers': [{'name': 'a', 'address': '10.0.0.1'}]},
     ["containers[0].address: '10.0.0.1' is not a host address of subnet 172.18.0.0/16 (it is "
      "outside it); use an address inside it or leave it out to have one allocated"]),
    ({'containers': [{'name': 'a', 'address': '172.18.0.9'}, {'name': 'b', 'address': '172.18.0.9'}]},
     ["containers[1].address: '172.18.0.9' is listed twice (also at containers[0].address)"]),
    ({'published_ports': [{'container': 'nope', 'host_port': 1}]},
     ["published_ports[0].container: 'nope' is not in containers; name one of: db, web"]),
    ({'published_ports': [{'container': 'web', 'host_port': 1}, {'container': 'db', 'host_port': 1}]},
     ["published_ports[1]: 'tcp *:1' overlaps tcp *:1 of published_ports[0]", 'published twice']),
    ({'bridge': 'br 0'}, ["bridge: 'br 0' is not a valid interface name"]),
    # a role run: every name carries the role's variable prefix
    ({'variable_prefix': 'container_bridge_network_', 'containers': [{'name': 'a', 'address': '10.0.0.1'}]},
     ["container_bridge_network_containers[0].address: '10.0.0.1' is not a host address"]),
    ({'variable_prefix': 'container_bridge_network_',
      'published_ports': [{'container': 'web', 'host_port': 0}]},
     ['container_bridge_network_published_ports[0].host_port: 0 is out of range']),
])
def test_bad_networks_name_what_is_wrong(kw, words):
    with pytest.raises(ValidationError) as e:
        want(**kw)
    for w in words:
        assert w in str(e.value)


def test_publications_take_the_allocated_addresses():
    w = want()
    # validated once, named by the container's host interface (the allocation's key)
    assert [(p['container'], p['host'], p['cont'], p['proto'], p['addr'])
            for p in w['published']] == [('veth0', (8080, 8080), (80, 80), 'tcp', None)]
    stage = network.stage(network.NetworkResource().want(BASE), 'nat')
    assert [p['addr'] for p in stage.publish_want['publications']] == [None]
    # the NAT stage takes them from veth_pair's result
    done = stage.addressed({'pairs': {'veth0': {'address': '172.18.0.10', 'address6': None}}})
    assert [str(p['addr']) for p in done['publications']] == ['172.18.0.10']
    with pytest.raises(ValidationError, match='outside'):
        publications.with_addresses(stage.publish_want, {'veth0': '10.0.0.1'})


def test_the_resource_validates_every_stage_before_anything():
    """A bad port fails NetworkResource.want (no kernel) although the containers'
    addresses are only allocated later."""
    with pytest.raises(ValidationError) as e:
        network.NetworkResource().want(dict(BASE, published_ports=[
            {'container': 'db', 'host_port': '70000'}]))
    assert '70000' in str(e.value)
    w = network.NetworkResource().want(BASE)
    stages = w['stages']
    assert [s.name for s in stages] == ['fleet', 'bridge', 'netns', 'veth_pair', 'bridge_port',
                                        'netns_unlisted', 'nat', 'firewall']
    assert network.stage(w, 'nat').labels == ('port_publish', 'masquerade')
    w = network.NetworkResource().want(dict(BASE, state='absent'))
    stages = w['stages']
    assert [s.name for s in stages] == ['fleet', 'veth_pair', 'bridge', 'netns_unlisted', 'nat',
                                        'firewall']
    assert stages[-1].want == {'bridge': BASE['bridge'], 'state': 'absent',
                               'integration': 'auto', 'ipv6_subnet': None, 'fleet': None}
    with pytest.raises(ValidationError) as e:
        network.NetworkResource().want(dict(BASE, firewall_integration='off'))
    assert "firewall_integration: 'off' is not one of: auto, none" in str(e.value)


# -- IPv6 (issue 12) ------------------------------------------------------------------

V6 = dict(ipv6_subnet='fd00:18::/64')


def test_dual_stack_stage_inputs():
    w = want(containers=[{'name': 'web', 'address': '172.18.0.10', 'ipv6_address': 'fd00:18::10',
                          'host_ifname': 'veth0'},
                         {'name': 'db', 'address': '172.18.0.20'}, {'name': 'app'}], **V6)
    web, db, app = w['pairs']
    assert web['addresses'] == ['172.18.0.10/16', 'fd00:18::10/64']
    assert db['addresses'] == ['172.18.0.20/16', 'auto']  # IPv6 allocated
    assert app['addresses'] == ['auto']                      # one of each family allocated
    assert web['ipv6_gateway'] == 'fd00:18::1' and w['ipv6_gateway_cidr'] == 'fd00:18::1/64'
    assert w['ipv6_masquerade'] is True
    stages = network.NetworkResource().want(dict(BASE, **V6))
    bridge, veth = network.stage(stages, 'bridge'), network.stage(stages, 'veth_pair')
    assert [str(a) for a in bridge.want[0].addresses] == ['172.18.0.1/16', 'fd00:18::1/64']
    assert str(veth.want.pool6) == 'fd00:18::/64'
    assert sorted(str(r) for r in veth.want.reserved) == ['172.18.0.1', 'fd00:18::1']
    masq = network.stage(stages, 'nat').masquerade_want['networks'][0]
    assert (str(masq['ipv6_subnet']), masq['ipv6_masquerade']) == ('fd00:18::/64', True)
    assert network.stage(stages, 'firewall').want['ipv6_subnet'] == 'fd00:18::/64'
    # no IPv6: the stage inputs are those of an IPv4 network
    plain = network.NetworkResource().want(BASE)
    assert network.stage(plain, 'veth_pair').want.pool6 is None
    assert len(network.stage(plain, 'bridge').want[0].addresses) == 1


def test_ipv6_gateway_given_and_ipv6_masquerade_off():
    w = want(ipv6_gateway='fd00:18::fe', ipv6_masquerade=False, **V6)
    assert str(w['ipv6_gateway']) == 'fd00:18::fe' and w['ipv6_masquerade'] is False


@pytest.mark.parametrize('kw, words', [
    ({'ipv6_subnet': 'fd00:18::1/64'}, ["ipv6_subnet: 'fd00:18::1/64' has host bits set"]),
    ({'ipv6_subnet': '172.19.0.0/16'}, ["ipv6_subnet: '172.19.0.0/16' is not an IPv6 subnet"]),
    ({'ipv6_subnet': 'fd00:18::/127'}, ["ipv6_subnet: 'fd00:18::/127' is too small"]),
    ({'ipv6_subnet': 'fd00:18::/128'}, ["ipv6_subnet: 'fd00:18::/128' is too small"]),
    ({'ipv6_subnet': 'fd00:18::/126', 'containers': [{'name': c} for c in 'abc']},
     ["ipv6_subnet: 'fd00:18::/126' is too small for the gateway and 3 container(s)"]),
    (dict(V6, ipv6_gateway='fd00:19::1'), ["ipv6_gateway: 'fd00:19::1' is not a host address "
                                           "of subnet fd00:18::/64 (it is outside it)"]),
    (dict(V6, ipv6_gateway='172.18.0.1'), ["ipv6_gateway: '172.18.0.1' is not an IPv6 address"]),
    (dict(V6, containers=[{'name': 'a', 'ipv6_address': '172.18.0.5'}]),
     ["containers[0].ipv6_address: '172.18.0.5' is not an IPv6 address"]),
    (dict(V6, containers=[{'name': 'a', 'ipv6_address': 'fd00:18::1'}]),
     ["containers[0].ipv6_address: 'fd00:18::1' is the IPv6 gateway"]),
    (dict(V6, containers=[{'name': 'a', 'ipv6_address': 'fd00:18::9'},
                          {'name': 'b', 'ipv6_address': 'fd00:18::9'}]),
     ["containers[1].ipv6_address: 'fd00:18::9' is listed twice (also at containers[0].ipv6_address)"]),
    ({'containers': [{'name': 'a', 'ipv6_address': 'fd00:18::5'}]},
     ["containers[0].ipv6_address: 'fd00:18::5' is given but the network has no ipv6_subnet"]),
    ({'ipv6_gateway': 'fd00:18::1'}, ["ipv6_gateway: 'fd00:18::1' is given without ipv6_subnet"]),
    ({'subnet': 'fd00:18::/64'}, ["subnet: 'fd00:18::/64' is IPv6"]),
])
def test_bad_ipv6_input_is_named(kw, words):
    with pytest.raises(ValidationError) as e:
        want(**kw)
    for w in words:
        assert w in str(e.value)


def test_role_prefix_on_ipv6_messages():
    with pytest.raises(ValidationError) as e:
        want(ipv6_subnet='fd00::/128', variable_prefix='container_bridge_network_')
    assert str(e.value).startswith("container_bridge_network_ipv6_subnet: 'fd00::/128'")


def test_an_ipv6_host_ip_without_ipv6_subnet_fails_in_the_description():
    """Before any stage runs (not after the containers were made)."""
    with pytest.raises(ValidationError) as e:
        want(published_ports=[{'container': 'web', 'host_port': 80, 'host_ip': '2001:db8::1'}])
    assert "published_ports[0].host_ip: '2001:db8::1' is an IPv6 address but the container " \
        "has no IPv6 address" in str(e.value)


def test_0_0_0_0_publishes_on_every_ipv4_address_only_omitted_on_both_families():
    w = want(published_ports=[{'container': 'web', 'host_port': 80, 'host_ip': '0.0.0.0'},
                              {'container': 'db', 'host_port': 81}], **V6)
    assert [p['families'] for p in w['published']] == [(4,), (4, 6)]
    record = nat_model.publish_record('br0', 'present', 'br0', w['network'], True,
                                      w['published'], ipv6_subnet=w['ipv6_subnet'])
    full = publications.with_addresses(record, {'veth0': '172.18.0.10', w['pairs'][1]['name']:
                                                '172.18.0.20'},
                                       {'veth0': 'fd00:18::10', w['pairs'][1]['name']: 'fd00:18::20'})
    rids = [s.rid for s in nat_model.publish_specs(full)]
    assert 'pub/br0/tcp/*/80/pre' in rids and 'pub/br0/tcp/*6/80/pre' not in rids
    assert 'pub/br0/tcp/*/81/pre' in rids and 'pub/br0/tcp/*6/81/pre' in rids
