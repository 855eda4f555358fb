# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet stage's desired state and plan (pure: a kernel reading written by hand)."""
import ipaddress

import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils.network import fleet
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import fleet_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import model as nat_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import pipeline as network
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import description as network_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import rtnl
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    PlanError, ValidationError)

P = 'container_bridge_network_'
MEMBERS = [{'host': 'a', 'subnet': '172.18.1.0/24', 'underlay_address': '198.51.100.11'},
           {'host': 'b', 'subnet': '172.18.2.0/24', 'underlay_address': '198.51.100.12'},
           {'host': 'c', 'subnet': '172.18.3.0/24', 'underlay_address': '192.0.2.13'}]
NET = ipaddress.ip_network('172.18.1.0/24')


def want(backend='host-gw', members=None, host='a', **kw):
    spec = dict({'backend': backend, 'host': host, 'vxlan_id': 42,
                 'members': MEMBERS if members is None else members}, **kw)
    return fleet_model.fleet_want(spec, 'br0', NET, P)


def route(dst, gateway=None, oif=2, proto=2, realm=None, dst_len=None):
    net = dst.split('/')
    return {'dst': net[0], 'dst_len': int(net[1]) if dst_len is None else dst_len,
            'type': rtnl.RTN_UNICAST, 'table': 254, 'gateway': gateway, 'oif': oif,
            'proto': proto, 'realm': realm, 'flags': 0}


def have(routes=(), device=None, mtu=1500):
    base = [route('198.51.100.0/24'), route('192.0.2.0/24'), route('0.0.0.0/0', dst_len=0,
                                                                   gateway='198.51.100.1'),
            route('172.18.1.0/24', oif=5)]
    return {'routes': base + list(routes), 'device': device,
            'addresses': [rtnl.Address(2, 24, 0, 2, '198.51.100.11')],
            'underlay': {'index': 2, 'name': 'eth0', 'mtu': mtu}}


def ops(actions):
    return [(a.op, a.target) for a in actions]


# ---------------------------------------------------------------- want
def test_members_become_peers_of_this_host():
    w = want()
    assert w['self']['host'] == 'a' and [p['host'] for p in w['peers']] == ['b', 'c']
    assert w['realm'] == fleet_model.realm('br0') and w['device'] is None
    assert want('vxlan')['device'] == 'lnvx42'


def test_no_fleet_is_a_record_that_removes():
    w = fleet_model.fleet_want(None, 'br0', NET)
    assert w['backend'] is None and w['peers'] == [] and fleet_model.peer_subnets(w) == []


@pytest.mark.parametrize('members,words', [
    ([dict(MEMBERS[0]), dict(MEMBERS[1], subnet='172.18.0.0/16')],
     ['hosts a and b', 'overlapping', '172.18.0.0/16', P + 'subnet']),
    ([dict(MEMBERS[0]), dict(MEMBERS[1], underlay_address='198.51.100.11')],
     ['hosts a and b', 'same underlay address']),
    ([dict(MEMBERS[0]), dict(MEMBERS[1], underlay_address='host-b.example')],
     ['fleet host b', P + 'underlay_address', 'not an IPv4 address']),
    ([dict(MEMBERS[0]), dict(MEMBERS[1], underlay_address='2001:db8::2')],
     ['fleet host b', 'not an IPv4 address']),
    ([dict(MEMBERS[0], subnet='172.18.9.0/24')], ['host a', '172.18.9.0/24', 'give one value']),
    ([dict(MEMBERS[1])], ['does not list this host (a)']),
    ([dict(MEMBERS[0]), dict(MEMBERS[1], subnet='172.18.2.1/24')], ['fleet host b', 'host bits']),
])
def test_bad_fleets_name_the_hosts(members, words):
    with pytest.raises(ValidationError) as e:
        want(members=members)
    for w in words:
        assert w in str(e.value)


def test_vxlan_id_is_checked():
    for bad in (0, 1 << 24, 'x', None):
        with pytest.raises(ValidationError, match='VXLAN id'):
            want('vxlan', vxlan_id=bad)
    assert want('host-gw', vxlan_id=None)['vni'] is None


# ---------------------------------------------------------------- plan: host-gw
def test_host_gw_routes_each_peer_via_its_underlay():
    w = want(members=MEMBERS[:2])
    acts = fleet.FleetResource().plan(w, have())
    assert ops(acts) == [('route_set', '172.18.2.0/24')]
    assert acts[0].args['via'] == '198.51.100.12' and acts[0].args['dev'] is None


def test_converged_host_gw_plans_nothing_and_removes_a_peer_that_left():
    w = want(members=MEMBERS[:2])
    mine = route('172.18.2.0/24', gateway='198.51.100.12', proto=fleet.RTPROT_LINUXNET,
                 realm=w['realm'])
    assert fleet.FleetResource().plan(w, have([mine])) == []
    gone = route('172.18.3.0/24', gateway='198.51.100.13', proto=fleet.RTPROT_LINUXNET,
                 realm=w['realm'])
    other_net = route('172.18.4.0/24', gateway='198.51.100.14', proto=fleet.RTPROT_LINUXNET,
                      realm=fleet_model.realm('br1'))
    acts = fleet.FleetResource().plan(w, have([mine, gone, other_net]))
    assert ops(acts) == [('route_del', '172.18.3.0/24')]  # br1's route is not ours


def test_host_gw_peer_not_on_link_says_use_vxlan():
    with pytest.raises(PlanError) as e:
        fleet.FleetResource().plan(want(), dict(have(), routes=[
            r for r in have()['routes'] if r['dst'] != '192.0.2.0']))
    assert 'host c (underlay 192.0.2.13) is not on-link from host a' in str(e.value)
    assert 'reached via 198.51.100.1' in str(e.value) and 'vxlan' in str(e.value)


def test_a_peer_subnet_overlapping_a_host_route_fails_naming_both_hosts():
    with pytest.raises(PlanError) as e:
        fleet.FleetResource().plan(want(members=MEMBERS[:2]),
                                   have([route('172.18.0.0/16', gateway='198.51.100.99')]))
    assert "host b's container subnet 172.18.2.0/24 overlaps the route 172.18.0.0/16" in str(e.value)
    assert 'on host a' in str(e.value)


def test_the_underlay_address_must_be_local():
    h = dict(have(), underlay=None)
    with pytest.raises(PlanError, match='198.51.100.11 is not an address of this host'):
        fleet.FleetResource().plan(want(), h)


def test_no_fleet_removes_our_routes_and_device():
    w = fleet_model.fleet_want(None, 'br0', NET)
    mine = route('172.18.2.0/24', gateway='172.18.2.0', oif=9, proto=fleet.RTPROT_LINUXNET,
                 realm=w['realm'])
    dev = {'index': 9, 'name': 'lnvx42', 'mtu': 1450, 'mac': '02:4c:ac:12:01:00',
           'vxlan': (42, '198.51.100.11', 4789, 0), 'fdb': [], 'neigh': [], 'addresses': []}
    acts = fleet.FleetResource().plan(w, have([mine], device=dev))
    assert ops(acts) == [('route_del', '172.18.2.0/24'), ('vxlan_delete', 'lnvx42')]
    assert fleet.FleetResource().plan(w, have()) == []


# ---------------------------------------------------------------- plan: vxlan
def _converged_vxlan(w):
    dev = {'index': 9, 'name': 'lnvx42', 'mtu': 1450, 'mac': fleet_model.vtep_mac(NET),
           'vxlan': (42, '198.51.100.11', 4789, 0), 'addresses': [('172.18.1.0', 32)],
           'fdb': [(str(p['underlay']), fleet_model.vtep_mac(p['subnet']), rtnl.NUD_PERMANENT, 2)
                   for p in w['peers']] + [(None, '33:33:00:00:00:01', 0x80, 2)],
           'neigh': [(str(p['subnet'].network_address), fleet_model.vtep_mac(p['subnet']),
                      rtnl.NUD_PERMANENT, 0) for p in w['peers']]}
    routes = [route(str(p['subnet']), gateway=str(p['subnet'].network_address), oif=9,
                    proto=fleet.RTPROT_LINUXNET, realm=w['realm']) for p in w['peers']]
    return have(routes, device=dev)


def test_vxlan_builds_device_fdb_neighbours_routes_and_lowers_the_mtu():
    w = want('vxlan')
    h = have()
    acts = fleet.FleetResource().plan(w, h)
    assert ops(acts) == [
        ('vxlan_create', 'lnvx42'), ('vtep_address', 'lnvx42'),
        ('fdb_add', '02:4c:ac:12:02:00'), ('fdb_add', '02:4c:ac:12:03:00'),
        ('neigh_set', '172.18.2.0'), ('neigh_set', '172.18.3.0'),
        ('route_set', '172.18.2.0/24'), ('route_set', '172.18.3.0/24')]
    create = acts[0].args
    assert (create['vni'], create['local'], create['mtu'], create['mac']) == (
        42, '198.51.100.11', 1450, '02:4c:ac:12:01:00')
    assert acts[2].args['dst'] == '198.51.100.12' and acts[-1].args['dev'] == 'lnvx42'
    assert fleet.FleetResource.container_mtu(w, h) == 1450
    # c is not on-link: vxlan does not care
    assert fleet.FleetResource().plan(w, _converged_vxlan(w)) == []


def test_vxlan_peer_leaving_and_mtu_change():
    w = want('vxlan')
    h = _converged_vxlan(w)
    w2 = want('vxlan', members=MEMBERS[:2])
    acts = fleet.FleetResource().plan(w2, dict(h, underlay=dict(h['underlay'], mtu=9000)))
    assert ops(acts) == [('vxlan_mtu', 'lnvx42'), ('fdb_del', '02:4c:ac:12:03:00'),
                         ('neigh_del', '172.18.3.0'), ('route_del', '172.18.3.0/24')]
    assert acts[0].args['mtu'] == 8950


def test_vxlan_id_change_recreates_the_device_and_reroutes():
    w = want('vxlan')
    h = _converged_vxlan(w)
    acts = fleet.FleetResource().plan(want('vxlan', vxlan_id=7), h)
    assert ops(acts)[:2] == [('vxlan_delete', 'lnvx42'), ('vxlan_create', 'lnvx7')]
    assert ('route_set', '172.18.2.0/24') in ops(acts)
    assert not [a for a in acts if a.op == 'route_del']  # gone with the old device


def test_render_predicts_the_converged_state():
    w = want('vxlan')
    res = fleet.FleetResource()
    before, after = res.render(w, have(), res.plan(w, have()))
    conv = _converged_vxlan(w)
    assert res.render(w, conv, [])[0] == after and before == ''
    assert 'route 172.18.2.0/24 via 172.18.2.0 dev lnvx42 onlink' in after
    assert 'fdb 02:4c:ac:12:03:00 dev lnvx42 dst 192.0.2.13' in after


# ---------------------------------------------------------------- the pipeline's NAT
def test_fleet_peers_are_neither_masqueraded_nor_dropped():
    params = {'bridge': 'br0', 'subnet': '172.18.1.0/24', 'gateway': '172.18.1.1',
              'containers': [{'name': 'c1'}], 'published_ports': [], 'state': 'present',
              'fleet': {'backend': 'host-gw', 'host': 'a', 'vxlan_id': 42,
                        'members': MEMBERS}}
    w = network.NetworkResource().want(params)
    nat = network.stage(w, 'nat')
    spec = nat_model.masquerade_specs(nat.masquerade_want)[0]
    assert [str(n) for n in spec.daddr_not] == ['172.18.2.0/24', '172.18.3.0/24']
    ingress = [s for s in nat_model.publish_specs(nat.publish_want) if s.rid.endswith('/ingress')][0]
    assert [str(n) for n in ingress.saddr_not] == ['172.18.2.0/24', '172.18.3.0/24']
    # without a fleet: the rules as before (no extra match)
    plain = network.NetworkResource().want(dict(params, fleet=None))
    assert nat_model.masquerade_specs(network.stage(plain, 'nat').masquerade_want)[0] \
        .daddr_not is None
    assert network_model.network_want(dict(params, fleet=None))['fleet']['backend'] is None


def test_at_boot_a_missing_uplink_defers_the_fleet_to_the_next_run():
    res = fleet.FleetResource()
    w = fleet_model.fleet_want(dict({'backend': 'vxlan', 'host': 'a', 'vxlan_id': 42,
                               'members': MEMBERS}, at_boot=True), 'br0', NET, P)
    h = dict(have(), underlay=None, routes=[])
    assert res.plan(w, h) == []
    out = res.result(w, h, [])
    assert out['fleet'] is None and 'not restored at boot' in out['warnings'][0]
    assert '198.51.100.11 is not an address of this host' in out['warnings'][0]
    assert res.container_mtu(w, h) is None
    # with the uplink there at boot: the fleet is restored as on any run
    assert [a.op for a in res.plan(w, have())][:1] == ['vxlan_create']
    # not at boot: the same is an error
    with pytest.raises(PlanError):
        res.plan(want('vxlan'), dict(have(), underlay=None, routes=[]))
