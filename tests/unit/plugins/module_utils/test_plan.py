# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner on hand-made kernel snapshots: explicit actions, no kernel."""
import ipaddress

import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import model
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import plan
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.observe import (
    Link, NsView,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import PlanError

TAG = 'linuxnet:br0'
GW = ipaddress.ip_address('172.18.0.1')


def L(index, name, kind=None, up=True, mtu=1500, addresses=(), peer_index=None, master=None,
      alias=None, mac='aa:bb:cc:dd:ee:%02x', hairpin=None):
    return Link(index=index, name=name, kind=kind, up=up, mtu=mtu,
                mac=mac % index if '%' in mac else mac, master=master, alias=alias,
                peer_index=peer_index,
                addresses=[ipaddress.ip_interface(a) for a in addresses], hairpin=hairpin)


def lo(up=True, alias=None):
    return L(1, 'lo', up=up, alias=alias, mtu=65536)


def ops(actions):
    return [(a.op, a.target) for a in actions]


def veth_want(*pairs, **kw):
    params = {'pairs': [], 'state': 'present', 'owner': None, 'exclusive': False,
              'pool': None, 'reserved': []}
    params.update(kw)
    for p in pairs:
        d = {'name': 'veth0', 'peer': 'ceth0', 'netns': 'netns0',
             'addresses': ['172.18.0.10/16'], 'gateway': '172.18.0.1'}
        d.update(p)
        params['pairs'].append(d)
    return model.veth_want(params)


def seed_have(peer_kw=None, host_kw=None, routes=None, extra_host=(), extra_ns=()):
    """veth0 (host, index 5) <-> ceth0 (netns0, index 2), converged unless overridden."""
    hk = dict(kind='veth', peer_index=2)
    hk.update(host_kw or {})
    pk = dict(kind='veth', peer_index=5, addresses=['172.18.0.10/16'])
    pk.update(peer_kw or {})
    host = NsView([lo(), L(5, 'veth0', **hk)] + list(extra_host))
    ns = NsView([lo(), L(2, 'ceth0', **pk)] + list(extra_ns),
                {4: GW} if routes is None else routes)
    return plan.L2Have(host, {'netns0': ns}, ['netns0'])


# -- netns -------------------------------------------------------------------------

def netns_want(*names, **kw):
    params = {'name': list(names), 'state': 'present', 'owner': None, 'exclusive': False}
    params.update(kw)
    return model.netns_want(params)


def test_netns_create_missing_only():
    have = plan.NetnsHave(['a'], {'a': NsView([lo()])})
    acts = plan.plan_netns(netns_want('a', 'b'), have)
    assert ops(acts) == [('netns_create', 'b')]


def test_netns_converged_is_empty():
    have = plan.NetnsHave(['a'], {'a': NsView([lo()])})
    assert plan.plan_netns(netns_want('a'), have) == []


def test_netns_lo_down_brought_up():
    have = plan.NetnsHave(['a'], {'a': NsView([lo(up=False)])})
    acts = plan.plan_netns(netns_want('a'), have)
    assert [a.as_dict() for a in acts] == [{'op': 'link_set', 'target': 'lo', 'netns': 'a',
                                            'up': True}]


def test_netns_absent_only_existing():
    have = plan.NetnsHave(['a', 'c'], {})
    acts = plan.plan_netns(netns_want('a', 'b', state='absent'), have)
    assert ops(acts) == [('netns_delete', 'a')]


def test_netns_owner_tags_and_exclusive_purge():
    views = {'mine': NsView([lo(alias=TAG)]), 'old': NsView([lo(alias=TAG)]),
             'foreign': NsView([lo()]), 'other': NsView([lo(alias='linuxnet:br1')])}
    have = plan.NetnsHave(views, views)
    acts = plan.plan_netns(netns_want('mine', 'new', owner='br0', exclusive=True), have)
    assert ops(acts) == [('netns_create', 'new'), ('netns_delete', 'old')]
    assert acts[0].args['alias'] == TAG


def test_netns_owner_retags_untagged():
    have = plan.NetnsHave(['a'], {'a': NsView([lo()])})
    acts = plan.plan_netns(netns_want('a', owner='br0'), have)
    assert [a.as_dict() for a in acts] == [{'op': 'link_set', 'target': 'lo', 'netns': 'a',
                                            'alias': TAG}]


# -- bridges ---------------------------------------------------------------------------

def bridge_want(**b):
    d = {'name': 'br0', 'addresses': ['172.18.0.1/16']}
    d.update(b)
    return model.bridge_want({'bridges': [d], 'state': 'present'})


def test_bridge_create():
    acts = plan.plan_bridges(bridge_want(mtu=1400), plan.L2Have(NsView([lo()])))
    assert [a.as_dict() for a in acts] == [
        {'op': 'bridge_create', 'target': 'br0', 'mtu': 1400},
        {'op': 'link_set', 'target': 'br0', 'up': True},
        {'op': 'addr_add', 'target': 'br0', 'address': '172.18.0.1/16'}]


def test_bridge_converge_wrong_address_down_mtu():
    have = plan.L2Have(NsView([L(3, 'br0', kind='bridge', up=False, mtu=1500,
                                 addresses=['172.18.0.2/16'])]))
    acts = plan.plan_bridges(bridge_want(mtu=1400), have)
    assert [a.as_dict() for a in acts] == [
        {'op': 'link_set', 'target': 'br0', 'mtu': 1400},
        {'op': 'link_set', 'target': 'br0', 'up': True},
        {'op': 'addr_del', 'target': 'br0', 'address': '172.18.0.2/16'},
        {'op': 'addr_add', 'target': 'br0', 'address': '172.18.0.1/16'}]


def test_bridge_converged():
    have = plan.L2Have(NsView([L(3, 'br0', kind='bridge', addresses=['172.18.0.1/16'])]))
    assert plan.plan_bridges(bridge_want(), have) == []


def test_bridge_addresses_unmanaged_when_omitted():
    have = plan.L2Have(NsView([L(3, 'br0', kind='bridge', addresses=['10.9.9.9/8'])]))
    assert plan.plan_bridges(bridge_want(addresses=None), have) == []


def test_bridge_name_held_by_veth():
    have = plan.L2Have(NsView([L(3, 'br0', kind='veth')]))
    with pytest.raises(PlanError, match="'br0' exists but is a veth link"):
        plan.plan_bridges(bridge_want(), have)


def test_bridge_subnet_overlapping_a_route_through_another_interface_is_refused():
    have = plan.L2Have(NsView([lo(), L(2, 'up0'), L(3, 'br0', kind='bridge')]))
    have.routes = {4: [(ipaddress.ip_network('172.18.5.0/24'), 2)]}
    with pytest.raises(PlanError, match='subnet 172.18.0.0/16 overlaps the route '
                                        '172.18.5.0/24 dev up0'):
        plan.check_overlaps(bridge_want(), have)


def test_bridge_routes_through_itself_elsewhere_or_when_absent_do_not_count():
    have = plan.L2Have(NsView([lo(), L(2, 'up0'), L(3, 'br0', kind='bridge')]))
    have.routes = {4: [(ipaddress.ip_network('172.18.0.0/16'), 3),      # its own subnet
                       (ipaddress.ip_network('10.0.0.0/8'), 2)],        # elsewhere
                   6: [(ipaddress.ip_network('fd00::/8'), 2)]}
    plan.check_overlaps(bridge_want(), have)
    have.routes[4].append((ipaddress.ip_network('172.16.0.0/12'), 2))
    plan.check_overlaps(bridge_want(state='absent'), have)
    with pytest.raises(PlanError, match='overlaps the route 172.16.0.0/12 dev up0'):
        plan.check_overlaps(bridge_want(), have)


def test_bridge_absent():
    have = plan.L2Have(NsView([L(3, 'br0', kind='bridge')]))
    assert ops(plan.plan_bridges(bridge_want(state='absent'), have)) == [('link_delete', 'br0')]
    assert plan.plan_bridges(bridge_want(state='absent'), plan.L2Have(NsView([lo()]))) == []


# -- veth pairs -------------------------------------------------------------------------

def test_veth_create_from_nothing():
    have = plan.L2Have(NsView([lo()]), {'netns0': NsView([lo()])}, ['netns0'])
    acts = plan.plan_veth(veth_want({'mtu': 1400, 'mac': '02:00:00:00:00:01'}), have)
    # the host end comes up with its creation; the peer in a request of its own
    assert [a.as_dict() for a in acts] == [
        {'op': 'veth_create', 'target': 'veth0', 'peer': 'ceth0', 'netns': 'netns0',
         'mtu': 1400, 'mac': '02:00:00:00:00:01', 'up': True},
        {'op': 'addr_add', 'target': 'ceth0', 'netns': 'netns0', 'address': '172.18.0.10/16'},
        {'op': 'link_set', 'target': 'ceth0', 'netns': 'netns0', 'up': True},
        {'op': 'route_default', 'target': 'ceth0', 'netns': 'netns0', 'gateway': '172.18.0.1'}]


def test_veth_converged_is_empty():
    assert plan.plan_veth(veth_want({}), seed_have()) == []


def test_veth_missing_netns_is_plan_error():
    have = plan.L2Have(NsView([lo()]), {}, [])
    with pytest.raises(PlanError, match="'netns0' does not exist"):
        plan.plan_veth(veth_want({}), have)


def test_veth_peer_in_wrong_netns_recreated():
    # ceth0 was moved to netns1: netns0 holds no ceth0, the host end points elsewhere
    host = NsView([lo(), L(5, 'veth0', kind='veth', peer_index=7)])
    have = plan.L2Have(host, {'netns0': NsView([lo()], {})}, ['netns0', 'netns1'])
    acts = plan.plan_veth(veth_want({}), have)
    assert ops(acts) == [('link_delete', 'veth0'), ('veth_create', 'veth0'),
                         ('addr_add', 'ceth0'), ('link_set', 'ceth0'), ('route_default', 'ceth0')]


def test_veth_peer_deleted_recreated():
    host = NsView([lo()])
    have = plan.L2Have(host, {'netns0': NsView([lo()], {})}, ['netns0'])
    acts = plan.plan_veth(veth_want({}), have)
    assert ops(acts)[0] == ('veth_create', 'veth0')


def test_veth_stale_peer_with_other_partner_is_replaced():
    # both names exist but are not each other's peer (e.g. two half pairs)
    have = seed_have(peer_kw={'peer_index': 9})
    acts = plan.plan_veth(veth_want({}), have)
    assert ops(acts)[:3] == [('link_delete', 'veth0'), ('link_delete', 'ceth0'),
                             ('veth_create', 'veth0')]
    assert acts[1].args['netns'] == 'netns0'


def test_veth_wrong_address_replaced():
    have = seed_have(peer_kw={'addresses': ['172.18.0.99/16']})
    acts = plan.plan_veth(veth_want({}), have)
    assert [a.as_dict() for a in acts][:2] == [
        {'op': 'addr_del', 'target': 'ceth0', 'netns': 'netns0', 'address': '172.18.0.99/16'},
        {'op': 'addr_add', 'target': 'ceth0', 'netns': 'netns0', 'address': '172.18.0.10/16'}]
    # deleting the only address takes the default route with it: it must be re-added
    assert acts[-1].op == 'route_default'


def test_veth_peer_down():
    have = seed_have(peer_kw={'up': False}, routes={})
    acts = plan.plan_veth(veth_want({}), have)
    assert [a.as_dict() for a in acts] == [
        {'op': 'link_set', 'target': 'ceth0', 'netns': 'netns0', 'up': True},
        {'op': 'route_default', 'target': 'ceth0', 'netns': 'netns0', 'gateway': '172.18.0.1'}]


def test_veth_host_down():
    acts = plan.plan_veth(veth_want({}), seed_have(host_kw={'up': False}))
    assert [a.as_dict() for a in acts] == [{'op': 'link_set', 'target': 'veth0', 'up': True}]


def test_veth_wrong_gateway_replaced():
    have = seed_have(routes={4: ipaddress.ip_address('172.18.0.254')})
    acts = plan.plan_veth(veth_want({}), have)
    assert ops(acts) == [('route_default', 'ceth0')]


def test_veth_mtu_and_mac_converged():
    have = seed_have(host_kw={'mtu': 1500}, peer_kw={'mtu': 1500})
    acts = plan.plan_veth(veth_want({'mtu': 1400, 'mac': '02:00:00:00:00:09'}), have)
    assert [a.as_dict() for a in acts] == [
        {'op': 'link_set', 'target': 'veth0', 'mtu': 1400},
        {'op': 'link_set', 'target': 'ceth0', 'netns': 'netns0', 'mtu': 1400},
        {'op': 'link_set', 'target': 'ceth0', 'netns': 'netns0', 'mac': '02:00:00:00:00:09'}]


def test_veth_host_name_held_by_bridge():
    have = seed_have(host_kw={'kind': 'bridge', 'peer_index': None})
    with pytest.raises(PlanError, match="host end 'veth0' exists but is a bridge link"):
        plan.plan_veth(veth_want({}), have)


def test_veth_peer_name_held_by_other_kind():
    have = plan.L2Have(NsView([lo()]), {'netns0': NsView([lo(), L(2, 'ceth0', kind='bridge')])},
                       ['netns0'])
    with pytest.raises(PlanError, match="'ceth0' in netns0 is a bridge link"):
        plan.plan_veth(veth_want({}), have)


def test_veth_absent():
    assert ops(plan.plan_veth(veth_want({}, state='absent'), seed_have())) == [
        ('link_delete', 'veth0')]
    # host end gone, peer left over in the namespace
    have = plan.L2Have(NsView([lo()]), {'netns0': NsView([lo(), L(2, 'ceth0', kind='veth')])},
                       ['netns0'])
    acts = plan.plan_veth(veth_want({}, state='absent'), have)
    assert [a.as_dict() for a in acts] == [{'op': 'link_delete', 'target': 'ceth0',
                                            'netns': 'netns0'}]
    empty = plan.L2Have(NsView([lo()]), {}, [])
    assert plan.plan_veth(veth_want({}, state='absent'), empty) == []


def test_veth_exclusive_purges_only_own_unlisted():
    have = seed_have(host_kw={'alias': TAG}, extra_host=[
        L(10, 'vethold', kind='veth', alias=TAG, peer_index=3),
        L(11, 'vethother', kind='veth', alias='linuxnet:br1', peer_index=4),
        L(12, 'vethfree', kind='veth', peer_index=5),
        L(13, 'br0', kind='bridge', alias=TAG)])
    acts = plan.plan_veth(veth_want({}, owner='br0', exclusive=True), have)
    assert ops(acts) == [('link_delete', 'vethold')]


def test_veth_owner_tags_untagged_host_end():
    acts = plan.plan_veth(veth_want({}, owner='br0'), seed_have())
    assert [a.as_dict() for a in acts] == [{'op': 'link_set', 'target': 'veth0',
                                            'alias': TAG}]


# -- allocation ------------------------------------------------------------------------

def auto_pair(i):
    return {'name': 'veth%d' % i, 'peer': 'eth0', 'netns': 'c%d' % i, 'addresses': ['auto'],
            'gateway': '172.18.0.1'}


def alloc(indices, have_pairs=None, pool='172.18.0.0/24'):
    want = veth_want(*[auto_pair(i) for i in indices], pool=pool, reserved=['172.18.0.1'])
    host_links, views = [lo()], {}
    for i, addr in (have_pairs or {}).items():
        host_links.append(L(100 + i, 'veth%d' % i, kind='veth', peer_index=2))
        views['c%d' % i] = NsView([lo(), L(2, 'eth0', kind='veth', peer_index=100 + i,
                                           addresses=[addr])], {4: GW})
    for i in indices:
        views.setdefault('c%d' % i, NsView([lo()]))
    have = plan.L2Have(NsView(host_links), views, views)
    return dict((k, str(v[0])) for k, v in plan.allocate(want, have).items())


def test_allocation_stable_when_others_added_or_removed():
    a = alloc(range(10))
    assert len(set(a.values())) == 10
    assert '172.18.0.1/24' not in a.values()
    assert all(ipaddress.ip_interface(v).network == ipaddress.ip_network('172.18.0.0/24')
               for v in a.values())
    # fresh allocation of a subset (others removed) gives the same addresses
    sub = alloc([2, 5, 7])
    assert sub == dict((k, a[k]) for k in sub)
    # more added, with the existing ones observed in the kernel: none moves
    more = alloc(range(20), have_pairs=dict((i, a['veth%d' % i]) for i in range(10)))
    assert all(more['veth%d' % i] == a['veth%d' % i] for i in range(10))
    assert len(set(more.values())) == 20


def test_allocation_keeps_existing_address_not_hash():
    a = alloc([3], have_pairs={3: '172.18.0.200/24'})
    assert a == {'veth3': '172.18.0.200/24'}


def test_allocation_plan_converged_with_kept_address():
    want = veth_want(auto_pair(3), pool='172.18.0.0/24', reserved=['172.18.0.1'])
    host = NsView([lo(), L(103, 'veth3', kind='veth', peer_index=2)])
    view = NsView([lo(), L(2, 'eth0', kind='veth', peer_index=103,
                           addresses=['172.18.0.200/24'])], {4: GW})
    assert plan.plan_veth(want, plan.L2Have(host, {'c3': view}, ['c3'])) == []


def test_allocation_pool_exhausted():
    with pytest.raises(PlanError, match='no free address'):
        alloc(range(3), pool='172.18.0.0/30')


def test_allocation_dual_stack_one_address_of_each_family_stable_and_kept():
    pairs = [dict(auto_pair(i), ipv6_gateway='fd00:18::1') for i in range(5)]
    want = veth_want(*pairs, pool='172.18.0.0/24', ipv6_pool='fd00:18::/64',
                     reserved=['172.18.0.1', 'fd00:18::1'])
    views = dict(('c%d' % i, NsView([lo()])) for i in range(5))
    first = plan.allocate(want, plan.L2Have(NsView([lo()]), views, views))
    for name, addrs in first.items():
        assert [a.version for a in addrs] == [4, 6]
        assert addrs[1].network == ipaddress.ip_network('fd00:18::/64')
    assert len(set(a[1] for a in first.values())) == 5
    assert ipaddress.ip_interface('fd00:18::1/64') not in [a[1] for a in first.values()]
    # again from scratch: the same; with one pair's IPv6 address observed: it is kept
    again = veth_want(*pairs, pool='172.18.0.0/24', ipv6_pool='fd00:18::/64',
                      reserved=['172.18.0.1', 'fd00:18::1'])
    host = NsView([lo(), L(100, 'veth0', kind='veth', peer_index=2)])
    views['c0'] = NsView([lo(), L(2, 'eth0', kind='veth', peer_index=100,
                                  addresses=['172.18.0.77/24', 'fd00:18::77/64'])])
    second = plan.allocate(again, plan.L2Have(host, views, views))
    assert [str(a) for a in second['veth0']] == ['172.18.0.77/24', 'fd00:18::77/64']
    assert all(second[k] == first[k] for k in first if k != 'veth0')


def test_veth_dual_stack_plan_sets_both_default_routes():
    want = veth_want({'addresses': ['172.18.0.10/16', 'fd00:18::10/64'],
                      'ipv6_gateway': 'fd00:18::1'})
    have = seed_have(peer_kw={'addresses': ['172.18.0.10/16']})
    acts = plan.plan_veth(want, have)
    assert [a.as_dict() for a in acts] == [
        {'op': 'addr_add', 'target': 'ceth0', 'netns': 'netns0', 'address': 'fd00:18::10/64'},
        {'op': 'route_default', 'target': 'ceth0', 'netns': 'netns0', 'gateway': 'fd00:18::1'}]
    done = seed_have(peer_kw={'addresses': ['172.18.0.10/16', 'fd00:18::10/64']},
                     routes={4: GW, 6: ipaddress.ip_address('fd00:18::1')})
    assert plan.plan_veth(want, done) == []


def test_an_ipv6_address_on_a_link_below_1280_is_refused_before_any_change():
    """Issue 12: the kernel turns IPv6 off on a link below 1280: say so, change nothing."""
    b = model.bridge_want({'bridges': [{'name': 'br0', 'addresses': [
        '172.18.0.1/16', 'fd00:18::1/64']}], 'state': 'present'})
    have = plan.L2Have(NsView([lo(), L(3, 'br0', kind='bridge', mtu=1200)]))
    with pytest.raises(PlanError, match=r"bridge 'br0' has MTU 1200, below the 1280 IPv6 "
                       r"needs.*ip link set br0 mtu 1500"):
        plan.plan_bridges(b, have)
    ok = plan.L2Have(NsView([lo(), L(3, 'br0', kind='bridge', mtu=1280)]))
    assert ops(plan.plan_bridges(b, ok)) == [('addr_add', 'br0'), ('addr_add', 'br0')]
    want = veth_want({'addresses': ['172.18.0.10/16', 'fd00:18::10/64']})
    low = seed_have(host_kw={'mtu': 1000})
    with pytest.raises(PlanError, match="pair 'veth0' has MTU 1000"):
        plan.plan_veth(want, low)


# -- bridge ports ------------------------------------------------------------------------

def ports_want(*ports, **kw):
    return model.ports_want({'bridge': 'br0', 'ports': list(ports), 'state': kw.get('state')})


def port_have(master=None, hairpin=None, bridge_kind='bridge'):
    return plan.L2Have(NsView([lo(), L(3, 'br0', kind=bridge_kind), L(4, 'br1', kind='bridge'),
                               L(5, 'veth0', kind='veth', master=master, hairpin=hairpin)]))


def test_port_attach_with_hairpin():
    acts = plan.plan_ports(ports_want({'name': 'veth0', 'hairpin': True}), port_have())
    assert [a.as_dict() for a in acts] == [
        {'op': 'link_set', 'target': 'veth0', 'master': 'br0'},
        {'op': 'brport_set', 'target': 'veth0', 'hairpin': True}]


def test_port_converged_and_hairpin_flip():
    assert plan.plan_ports(ports_want({'name': 'veth0', 'hairpin': True}),
                           port_have(master=3, hairpin=True)) == []
    acts = plan.plan_ports(ports_want({'name': 'veth0', 'hairpin': False}),
                           port_have(master=3, hairpin=True))
    assert ops(acts) == [('brport_set', 'veth0')]
    assert plan.plan_ports(ports_want({'name': 'veth0'}), port_have(master=3, hairpin=True)) \
        == []


def test_port_moved_from_other_bridge():
    acts = plan.plan_ports(ports_want({'name': 'veth0'}), port_have(master=4))
    assert [a.as_dict() for a in acts] == [{'op': 'link_set', 'target': 'veth0',
                                            'master': 'br0'}]


def test_port_detach_only_from_this_bridge():
    assert ops(plan.plan_ports(ports_want({'name': 'veth0'}, state='absent'),
                               port_have(master=3))) == [('link_set', 'veth0')]
    assert plan.plan_ports(ports_want({'name': 'veth0'}, state='absent'),
                           port_have(master=4)) == []


def test_port_errors():
    with pytest.raises(PlanError, match="port 'nope' does not exist"):
        plan.plan_ports(ports_want({'name': 'nope'}), port_have())
    with pytest.raises(PlanError, match="bridge 'br0' is a veth link"):
        plan.plan_ports(ports_want({'name': 'veth0'}), port_have(bridge_kind='veth'))
    with pytest.raises(PlanError, match="bridge 'br0' does not exist"):
        plan.plan_ports(ports_want({'name': 'veth0'}), plan.L2Have(NsView([lo()])))
    # the kernel would refuse it after the ports before it were attached
    with pytest.raises(PlanError, match="port 'br1' is a bridge"):
        plan.plan_ports(ports_want({'name': 'veth0'}, {'name': 'br1'}), port_have())
