# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bridge_port module on the real kernel, and real packets across the seed's bridge."""
from conftest import ip, run_in
from l2util import bridge, link, netns, only, ports, seed_pair, snapshot, veth

SEED = [netns(['netns0', 'netns1']), veth([seed_pair(0), seed_pair(1)]),
        bridge([{'name': 'br0', 'addresses': ['172.18.0.1/16']}])]
PORTS = [{'name': 'veth0', 'hairpin': True}, {'name': 'veth1', 'hairpin': True}]


def master(name):
    return link(name).get('master')


def hairpin(name):
    return link(name)['linkinfo']['info_slave_data']['hairpin']


def ping(ns, addr):
    return run_in(ns, 'ping', '-c1', '-W2', addr, check=False).returncode == 0


def test_converge_idempotent_and_packets_flow(play, toolchain):
    r = only(play(SEED + [ports('br0', PORTS)] + SEED + [ports('br0', PORTS)],
                  toolchain=toolchain))
    assert r[3]['changed'] is True
    assert r[3]['actions'] == [
        {'op': 'link_set', 'target': 'veth0', 'master': 'br0'},
        {'op': 'brport_set', 'target': 'veth0', 'hairpin': True},
        {'op': 'link_set', 'target': 'veth1', 'master': 'br0'},
        {'op': 'brport_set', 'target': 'veth1', 'hairpin': True}]
    # the whole sequence run again (as a role would): nothing changes
    assert [(x['_task'], x['changed'], x['actions']) for x in r[4:]] == \
        [(x['_task'], False, []) for x in r[4:]]
    for v in ('veth0', 'veth1'):
        assert master(v) == 'br0' and hairpin(v) is True
    # the seed article's result: containers reach each other and the bridge (gateway)
    assert ping('netns0', '172.18.0.20')
    assert ping('netns1', '172.18.0.10')
    assert ping('netns0', '172.18.0.1')
    assert run_in(None, 'ping', '-c1', '-W2', '172.18.0.20', check=False).returncode == 0


def test_no_packets_without_ports(play):
    """The ping assertions above can fail: unattached, nothing flows."""
    only(play(SEED))
    assert not ping('netns0', '172.18.0.20')


def test_check_mode_and_diff(play):
    only(play(SEED))
    before = snapshot()
    r = only(play([ports('br0', PORTS)], check=True, diff=True))
    assert r[0]['changed'] is True and len(r[0]['actions']) == 4
    assert r[0]['diff'] == {
        'before': {'bridge': 'br0', 'ports': {'veth0': {'master': None, 'hairpin': None},
                                              'veth1': {'master': None, 'hairpin': None}}},
        'after': {'bridge': 'br0', 'ports': {'veth0': {'master': 'br0', 'hairpin': True},
                                             'veth1': {'master': 'br0', 'hairpin': True}}}}
    assert snapshot() == before


def test_recovers_from_damage(play, toolchain):
    only(play(SEED + [ports('br0', PORTS)], toolchain=toolchain))
    ip('link', 'set', 'veth0', 'nomaster')
    ip('link', 'set', 'veth1', 'type', 'bridge_slave', 'hairpin', 'off')
    ip('link', 'add', 'br9', 'type', 'bridge')
    r = only(play([ports('br0', PORTS), ports('br0', PORTS)], toolchain=toolchain))
    assert r[0]['actions'] == [
        {'op': 'link_set', 'target': 'veth0', 'master': 'br0'},
        {'op': 'brport_set', 'target': 'veth0', 'hairpin': True},
        {'op': 'brport_set', 'target': 'veth1', 'hairpin': True}]
    assert r[1]['changed'] is False
    assert master('veth0') == 'br0' and hairpin('veth0') and hairpin('veth1')
    # moved to another bridge by hand: moved back
    ip('link', 'set', 'veth1', 'master', 'br9')
    r = only(play([ports('br0', PORTS)], toolchain=toolchain))
    assert master('veth1') == 'br0' and hairpin('veth1')
    assert ping('netns0', '172.18.0.20')


def test_detach_only_from_this_bridge(play):
    only(play(SEED + [bridge([{'name': 'br9'}]),
                      ports('br0', PORTS[:1]), ports('br9', [{'name': 'veth1'}])]))
    r = only(play([ports('br0', [{'name': 'veth0'}, {'name': 'veth1'}], state='absent'),
                   ports('br0', [{'name': 'veth0'}, {'name': 'veth1'}], state='absent')]))
    assert r[0]['actions'] == [{'op': 'link_set', 'target': 'veth0', 'nomaster': True}]
    assert r[1]['changed'] is False
    assert master('veth0') is None and master('veth1') == 'br9'


def test_hairpin_unmanaged_when_omitted(play):
    only(play(SEED + [ports('br0', PORTS)]))
    r = only(play([ports('br0', [{'name': 'veth0'}, {'name': 'veth1', 'hairpin': False}])]))
    assert r[0]['actions'] == [{'op': 'brport_set', 'target': 'veth1', 'hairpin': False}]
    assert hairpin('veth0') is True and hairpin('veth1') is False
