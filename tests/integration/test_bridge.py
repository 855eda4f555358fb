# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bridge module on the real kernel."""
from conftest import ip
from l2util import (addrs, bridge, is_up, kind, link, links, netns, only, ports, seed_pair,
                    snapshot, veth)

BR = [{'name': 'br0', 'addresses': ['172.18.0.1/16'], 'mtu': 1400}]


def assert_br0(mtu=1400):
    b = link('br0')
    assert kind(b) == 'bridge' and is_up(b) and b['mtu'] == mtu
    assert addrs('br0') == {'172.18.0.1/16'}


def test_converge_idempotent(play, toolchain):
    r = only(play([bridge(BR), bridge(BR)], toolchain=toolchain))
    assert r[0]['changed'] is True
    assert [a['op'] for a in r[0]['actions']] == ['bridge_create', 'link_set', 'addr_add']
    assert r[1]['changed'] is False and r[1]['actions'] == []
    assert sorted(links()) == ['br0', 'lo']
    assert_br0()


def test_check_mode_and_diff(play):
    before = snapshot()
    r = only(play([bridge(BR)], check=True, diff=True))
    assert r[0]['changed'] is True and r[0]['actions']
    assert r[0]['diff'] == {'before': {'bridges': {'br0': 'absent'}},
                            'after': {'bridges': {'br0': {'kind': 'bridge', 'up': True,
                                                          'mtu': 1400,
                                                          'addresses': ['172.18.0.1/16']}}}}
    assert snapshot() == before
    only(play([bridge(BR)]))
    before = snapshot()
    new = [dict(BR[0], addresses=['172.18.0.254/16'])]
    r = only(play([bridge(new)], check=True, diff=True))
    assert r[0]['changed'] is True
    assert r[0]['diff']['before']['bridges']['br0']['addresses'] == ['172.18.0.1/16']
    assert r[0]['diff']['after']['bridges']['br0']['addresses'] == ['172.18.0.254/16']
    assert snapshot() == before


def test_recovers_from_damage(play, toolchain):
    only(play([bridge(BR)], toolchain=toolchain))
    ip('link', 'set', 'br0', 'down')
    ip('link', 'set', 'br0', 'mtu', '1500')
    ip('addr', 'flush', 'dev', 'br0')
    ip('addr', 'add', '10.0.0.1/8', 'dev', 'br0')
    r = only(play([bridge(BR), bridge(BR)], toolchain=toolchain))
    assert r[0]['changed'] is True and r[1]['changed'] is False
    assert {'op': 'addr_del', 'target': 'br0', 'address': '10.0.0.1/8'} in r[0]['actions']
    assert_br0()


def test_addresses_not_managed_when_omitted(play):
    only(play([bridge(BR)]))
    ip('addr', 'add', '10.0.0.1/8', 'dev', 'br0')
    r = only(play([bridge([{'name': 'br0'}])]))
    assert r[0]['changed'] is False
    assert addrs('br0') == {'172.18.0.1/16', '10.0.0.1/8'}


def test_absent_leaves_nothing(play, toolchain):
    only(play([bridge(BR + [{'name': 'br1'}])], toolchain=toolchain))
    assert kind(link('br1')) == 'bridge'
    r = only(play([bridge(BR + [{'name': 'br1'}], state='absent'),
                   bridge(BR + [{'name': 'br1'}], state='absent')], toolchain=toolchain))
    assert r[0]['changed'] is True and r[1]['changed'] is False
    assert sorted(links()) == ['lo']


def test_per_item_state(play):
    only(play([bridge([{'name': 'br0'}, {'name': 'br1'}])]))
    r = only(play([bridge([{'name': 'br0', 'state': 'absent'}, {'name': 'br2'}])]))
    assert sorted(links()) == ['br1', 'br2', 'lo']
    assert [(a['op'], a['target']) for a in r[0]['actions']][0] == ('link_delete', 'br0')


def test_mtu_kept_when_ports_are_attached(play):
    """The kernel auto-adjusts a bridge's MTU to its ports' unless it was set by the user:
    a bridge created with mtu 1400 must stay at 1400 when 1500-MTU ports join it."""
    r = only(play([netns(['netns0']), bridge(BR), veth([seed_pair(0)]),
                   ports('br0', [{'name': 'veth0'}]), bridge(BR)]))
    assert link('veth0')['mtu'] == 1500 and link('veth0')['master'] == 'br0'
    assert r[4]['changed'] is False, r[4]['actions']
    assert_br0(mtu=1400)
