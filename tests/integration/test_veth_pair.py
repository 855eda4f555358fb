# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""veth_pair module on the real kernel: exact state, idempotence, check, diff, damage."""
import pytest

from conftest import ip, ipj, run_in
from l2util import (addrs, bridge, default_route, is_up, kind, link, links, netns, only, ports,
                    seed_pair, snapshot, veth, wait_gone)

NS = netns(['netns0', 'netns1'])
PAIRS = [seed_pair(0, mtu=1400, mac='02:42:ac:12:00:0a'), seed_pair(1)]


def assert_seed_state(mtu0=1400):
    """Exactly the seed's two pairs: host ends on the host, peers in their namespaces."""
    host = links()
    assert sorted(host) == ['lo', 'veth0', 'veth1']
    for i in (0, 1):
        h = host['veth%d' % i]
        ns = 'netns%d' % i
        inside = links(ns)
        assert sorted(inside) == ['ceth%d' % i, 'lo']
        p = inside['ceth%d' % i]
        assert kind(h) == 'veth' and kind(p) == 'veth'
        assert is_up(h) and is_up(p)
        # each end's peer is the other (ifindex of the peer, seen across namespaces)
        assert h['link_index'] == p['ifindex'] and p['link_index'] == h['ifindex']
        assert addrs('ceth%d' % i, ns) == {'172.18.0.%d/16' % (10 * (i + 1))}
        assert addrs('veth%d' % i) == set()
        assert default_route(ns) == ('172.18.0.1', 'ceth%d' % i)
    assert host['veth0']['mtu'] == mtu0 and links('netns0')['ceth0']['mtu'] == mtu0
    assert host['veth1']['mtu'] == 1500 and links('netns1')['ceth1']['mtu'] == 1500
    assert links('netns0')['ceth0']['address'] == '02:42:ac:12:00:0a'


def converge(play, toolchain='2.19'):
    """Converge then rerun: the first is changed, the rerun is not."""
    r = only(play([NS, veth(PAIRS), NS, veth(PAIRS)], toolchain=toolchain))
    assert r[3]['changed'] is False and r[3]['actions'] == [], r[3]
    return r[1]


def test_converge_idempotent(play, toolchain):
    r = converge(play, toolchain)
    assert r['changed'] is True
    assert [a['op'] for a in r['actions']].count('veth_create') == 2
    assert r['pairs']['veth0'] == {'peer': 'ceth0', 'netns': 'netns0',
                                   'addresses': ['172.18.0.10/16'], 'address': '172.18.0.10',
                                   'address6': None}
    assert_seed_state()


def test_check_mode_predicts_and_changes_nothing(play):
    only(play([NS]))
    before = snapshot()
    r = only(play([veth(PAIRS)], check=True))
    assert r[0]['changed'] is True and r[0]['actions']
    assert [a['op'] for a in r[0]['actions']].count('veth_create') == 2
    assert snapshot() == before
    converge(play)
    ip('link', 'set', 'ceth1', 'down', ns='netns1')
    before = snapshot()
    r = only(play([veth(PAIRS)], check=True))
    assert r[0]['changed'] is True
    assert {'op': 'link_set', 'target': 'ceth1', 'netns': 'netns1', 'up': True} in \
        r[0]['actions']
    assert snapshot() == before


def test_diff(play):
    only(play([NS]))
    r = only(play([veth(PAIRS[:1])], diff=True))
    d = r[0]['diff']
    assert d['before'] == {'pairs': {'veth0': 'absent'}}
    after = d['after']['pairs']['veth0']
    assert after['peer']['addresses'] == ['172.18.0.10/16']
    assert after['peer']['mac'] == '02:42:ac:12:00:0a' and after['gateway'] == '172.18.0.1'
    assert after['netns'] == 'netns0' and after['paired'] is True
    # change the address: before shows the old one, after the new one
    pair = dict(PAIRS[0], addresses=['172.18.0.11/16'])
    r = only(play([veth([pair])], diff=True))
    d = r[0]['diff']
    assert d['before']['pairs']['veth0']['peer']['addresses'] == ['172.18.0.10/16']
    assert d['after']['pairs']['veth0']['peer']['addresses'] == ['172.18.0.11/16']
    assert addrs('ceth0', 'netns0') == {'172.18.0.11/16'}
    assert default_route('netns0') == ('172.18.0.1', 'ceth0')


def test_absent_leaves_nothing(play, toolchain):
    converge(play, toolchain)
    r = only(play([veth(PAIRS, state='absent'), veth(PAIRS, state='absent')],
                  toolchain=toolchain))
    assert r[0]['changed'] is True and r[1]['changed'] is False
    assert sorted(links()) == ['lo']
    assert sorted(links('netns0')) == ['lo'] and sorted(links('netns1')) == ['lo']
    assert default_route('netns0') is None


def test_a_batched_delete_spares_a_bystander_in_the_group_it_would_pick(play):
    """Several pairs of one namespace go in one group delete, in a link group none of its
    links is in, as the module observed them: a link of someone else already in the first
    candidate group (0x6c6e6400) is left alone."""
    converge(play)
    ip('link', 'add', 'bystander0', 'type', 'bridge')
    ip('link', 'set', 'bystander0', 'group', str(0x6c6e6400))
    r = only(play([veth(PAIRS, state='absent')]))
    assert r[0]['changed'] is True
    assert sorted(links()) == ['bystander0', 'lo']


def damage_peer_deleted():
    ip('link', 'del', 'ceth0', ns='netns0')


def damage_links_down():
    ip('link', 'set', 'ceth0', 'down', ns='netns0')
    ip('link', 'set', 'veth1', 'down')


def damage_address_changed():
    ip('addr', 'flush', 'dev', 'ceth0', ns='netns0')
    ip('addr', 'add', '172.18.0.99/16', 'dev', 'ceth0', ns='netns0')
    ip('route', 'add', 'default', 'via', '172.18.0.1', ns='netns0')


def damage_extra_address_and_route():
    ip('addr', 'add', '10.9.0.2/24', 'dev', 'ceth0', ns='netns0')
    ip('route', 'replace', 'default', 'via', '10.9.0.1', ns='netns0')


def damage_netns_removed():
    ip('netns', 'del', 'netns0')
    assert wait_gone('veth0')


def damage_peer_moved():
    ip('link', 'set', 'ceth0', 'netns', 'netns1', ns='netns0')
    assert sorted(links('netns1')) == ['ceth0', 'ceth1', 'lo']


def damage_mtu_mac():
    ip('link', 'set', 'veth0', 'mtu', '1300')
    ip('link', 'set', 'ceth0', 'address', '02:00:00:00:00:99', ns='netns0')


def damage_host_end_renamed():
    ip('link', 'set', 'veth0', 'down')
    ip('link', 'set', 'veth0', 'name', 'vethX')


@pytest.mark.parametrize('damage', [
    damage_peer_deleted, damage_links_down, damage_address_changed,
    damage_extra_address_and_route, damage_netns_removed, damage_peer_moved, damage_mtu_mac,
    damage_host_end_renamed,
], ids=lambda f: f.__name__[len('damage_'):])
def test_recovers_from_damage(play, damage):
    converge(play)
    good = snapshot()
    damage()
    assert snapshot() != good
    r = converge(play)
    assert r['changed'] is True and r['actions']
    if damage is damage_host_end_renamed:
        # a renamed host end is not ours to delete; its pair's peer was replaced
        assert link('vethX') is None or kind(link('vethX')) == 'veth'
        ip('link', 'del', 'vethX', check=False)
    assert_seed_state()


def test_peer_in_host_namespace_and_rename(play):
    only(play([NS]))
    pairs = [{'name': 'vh0', 'peer': 'vh0p', 'addresses': ['10.1.0.2/24']},
             {'name': 'veth0', 'peer': 'eth0', 'netns': 'netns0',
              'addresses': ['10.2.0.2/24', 'fd00::2/64'], 'gateway': 'fd00::1'}]
    r = only(play([veth(pairs), veth(pairs)]))
    assert r[1]['changed'] is False
    assert kind(link('vh0p')) == 'veth' and addrs('vh0p') == {'10.1.0.2/24'}
    assert sorted(links('netns0')) == ['eth0', 'lo']
    assert addrs('eth0', 'netns0') == {'10.2.0.2/24', 'fd00::2/64'}
    assert default_route('netns0', '-6')[0] == 'fd00::1'


def test_pool_auto_addresses_stable(play):
    only(play([netns(['c1', 'c2', 'c3'])]))

    def pair(i):
        return {'name': 'vc%d' % i, 'peer': 'eth0', 'netns': 'c%d' % i,
                'addresses': ['auto'], 'gateway': '172.20.0.1'}
    kw = dict(pool='172.20.0.0/24', reserved=['172.20.0.1'], owner='net1', exclusive=True)
    r = only(play([veth([pair(1), pair(2), pair(3)], **kw)]))
    got = dict((k, v['address']) for k, v in r[0]['pairs'].items())
    assert len(set(got.values())) == 3 and '172.20.0.1' not in got.values()
    for i in (1, 2, 3):
        assert addrs('eth0', 'c%d' % i) == {got['vc%d' % i] + '/24'}
    # drop c2 (exclusive: its pair is purged), the others keep their addresses
    r = only(play([veth([pair(1), pair(3)], **kw), veth([pair(1), pair(3)], **kw)]))
    assert {'op': 'link_delete', 'target': 'vc2'} in r[0]['actions']
    assert r[1]['changed'] is False
    assert link('vc2') is None and sorted(links('c2')) == ['lo']
    assert addrs('eth0', 'c1') == {got['vc1'] + '/24'}
    assert addrs('eth0', 'c3') == {got['vc3'] + '/24'}


def test_dual_stack_auto_addresses_usable_at_once_and_idempotent(play):
    """Issue 12: 'auto' takes one address from each pool; the IPv6 address skips duplicate
    address detection (not tentative: usable by the first packet), both default routes
    are set, a rerun changes nothing and damage to the IPv6 side is repaired."""
    only(play([netns(['c1', 'c2']), bridge([{'name': 'br6', 'addresses': [
        '172.20.0.1/24', 'fd00:20::1/64']}])]))

    def pair(i):
        return {'name': 'vc%d' % i, 'peer': 'eth0', 'netns': 'c%d' % i, 'addresses': ['auto'],
                'gateway': '172.20.0.1', 'ipv6_gateway': 'fd00:20::1'}
    kw = dict(pool='172.20.0.0/24', ipv6_pool='fd00:20::/64',
              reserved=['172.20.0.1', 'fd00:20::1'], owner='net6', exclusive=True)
    r = only(play([veth([pair(1), pair(2)], **kw),
                   ports('br6', [{'name': 'vc1'}, {'name': 'vc2'}]),
                   veth([pair(1), pair(2)], **kw)]))
    assert r[2]['changed'] is False and r[2]['actions'] == []
    got = r[0]['pairs']
    for i in (1, 2):
        p = got['vc%d' % i]
        assert p['address6'] and p['address6'].startswith('fd00:20::')
        assert addrs('eth0', 'c%d' % i) == {p['address'] + '/24', p['address6'] + '/64'}
        assert default_route('c%d' % i, '-6') == ('fd00:20::1', 'eth0')
        assert default_route('c%d' % i) == ('172.20.0.1', 'eth0')
        flags = [a for e in ipj('-6', 'addr', 'show', 'dev', 'eth0', ns='c%d' % i)
                 for a in e['addr_info'] if a.get('scope') == 'global']
        assert flags and not any(a.get('tentative') or a.get('dadfailed') for a in flags), flags
    # the first packet: c1 -> c2 over IPv6 right away (one echo, short deadline)
    ping = run_in('c1', 'ping', '-6', '-c', '1', '-W', '2', got['vc2']['address6'], check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    # the same addresses on a rerun from scratch of the IPv6 side
    ip('-6', 'addr', 'flush', 'dev', 'eth0', 'scope', 'global', ns='c2')
    r = only(play([veth([pair(1), pair(2)], **kw), veth([pair(1), pair(2)], **kw)]))
    assert r[0]['changed'] is True and r[1]['changed'] is False
    assert r[0]['pairs']['vc2']['address6'] == got['vc2']['address6']
    assert default_route('c2', '-6') == ('fd00:20::1', 'eth0')


def test_recovers_from_combined_damage_on_2_16(play):
    """pyroute2 0.7.2 / ansible-core 2.16: several kinds of damage converged in one run."""
    converge(play, '2.16')
    damage_address_changed()
    damage_mtu_mac()
    ip('link', 'set', 'ceth1', 'down', ns='netns1')
    ip('link', 'set', 'ceth1', 'netns', 'netns0', ns='netns1')
    r = converge(play, '2.16')
    assert r['changed'] is True
    assert_seed_state()
    damage_netns_removed()
    converge(play, '2.16')
    assert_seed_state()
