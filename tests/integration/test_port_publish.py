# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""port_publish on a real kernel with real packets; the world is test_masquerade's."""
import os
import subprocess

import pytest

from conftest import ip
from test_masquerade import MASQ, NET, DROPIN, World, nft_json, nft_tables, our_rules

PUB = 'linuxnet.container_network.port_publish'
PUBLICATIONS = [
    {'host_port': 8080, 'container_address': '172.18.0.10', 'container_port': 80},
    {'host_port': 8081, 'container_address': '172.18.0.20', 'host_ip': '10.0.0.3'},
    {'host_port': 5353, 'container_address': '172.18.0.20', 'container_port': 53,
     'protocol': 'udp'},
    {'host_port': '9000-9001', 'container_address': '172.18.0.20'},
    {'host_port': '9100-9101', 'container_address': '172.18.0.10', 'container_port': '7100-7101'},
]


@pytest.fixture
def world():
    w = World()
    yield w
    w.close()


def publish(publications=None, **kw):
    args = {'network': 'br0', 'bridge': 'br0', 'subnet': '172.18.0.0/16',
            'publications': PUBLICATIONS if publications is None else publications}
    args.update(kw)
    return {PUB: args}


def set_br_netfilter(value):
    with open('/proc/sys/net/bridge/bridge-nf-call-iptables', 'w') as f:
        f.write('%d\n' % value)


def start_servers(world):
    world.serve('c1', 'tcp', 80)
    world.serve('c1', 'tcp', 7100)
    world.serve('c1', 'tcp', 7101)
    world.serve('c2', 'tcp', 8081)
    world.serve('c2', 'udp', 53)
    world.serve('c2', 'tcp', 9000)
    world.serve('c2', 'tcp', 9001)
    world.serve('outside', 'tcp', 7000)


def foreign_tables():
    """An admin's inet table and iptables-nft's nat table with rules of their own."""
    subprocess.run(['nft', '-f', '-'], check=True, input='''
table inet admin {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 22 counter accept comment "admin ssh"
  }
  chain post {
    type nat hook postrouting priority 100;
    ip saddr 192.0.2.0/24 masquerade
  }
}
''', text=True)
    subprocess.run(['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', '192.0.2.0/24', '-j',
                    'MASQUERADE'], check=True)
    return snapshot_foreign()


def snapshot_foreign():
    def strip(items):
        out = []
        for i in items:
            i = dict(i)
            for v in i.values():
                if isinstance(v, dict):
                    v.pop('handle', None)
            out.append(i)
        return out
    return (strip(nft_json('table', 'inet', 'admin')), strip(nft_json('table', 'ip', 'nat')))


def assert_all_traffic(world, hairpin_self=True):
    # outside -> host:port reaches the container (source preserved)
    assert world.probe('outside', 'tcp', '10.0.0.1', 8080) == 'c1 10.0.0.2'
    # host -> its own addresses:port (output chain)
    assert world.probe(None, 'tcp', '10.0.0.1', 8080) == 'c1 10.0.0.1'
    assert world.probe(None, 'tcp', '172.18.0.1', 8080) == 'c1 172.18.0.1'
    # hairpin: another container through the host's address (masqueraded to the gateway)
    assert world.probe('c2', 'tcp', '10.0.0.1', 8080) == 'c1 172.18.0.1'
    if hairpin_self:
        assert world.probe('c1', 'tcp', '10.0.0.1', 8080) == 'c1 172.18.0.1'
    # host_ip scoping: 10.0.0.3 is published, 10.0.0.1 is not
    assert world.probe('outside', 'tcp', '10.0.0.3', 8081) == 'c2 10.0.0.2'
    assert world.probe('outside', 'tcp', '10.0.0.1', 8081).startswith('FAIL')
    assert world.probe(None, 'tcp', '10.0.0.3', 8081).startswith('c2 10.0.0.')
    # UDP with a different container port
    assert world.probe('outside', 'udp', '10.0.0.1', 5353) == 'c2 10.0.0.2'
    # ranges: same ports, and shifted ports one to one
    assert world.probe('outside', 'tcp', '10.0.0.1', 9001) == 'c2 10.0.0.2'
    assert world.probe('outside', 'tcp', '10.0.0.1', 9100) == 'c1 10.0.0.2'
    assert world.probe('outside', 'tcp', '10.0.0.1', 9101) == 'c1 10.0.0.2'
    # ingress protection: the container's address directly (it listens on 80) is refused
    assert world.probe('outside', 'tcp', '172.18.0.10', 80).startswith('FAIL')
    # ... but containers still reach the world and each other directly
    assert world.probe('c1', 'tcp', '198.51.100.1', 7000) == 'outside 10.0.0.1'
    assert world.probe('c2', 'tcp', '172.18.0.10', 80) == 'c1 172.18.0.20'


@pytest.mark.parametrize('br_nf', [0, 1])
def test_publish_converge_traffic_idempotence_teardown(world, play, toolchain, br_nf):
    set_br_netfilter(br_nf)
    if br_nf:
        # with br_netfilter a container reaching its own published port is bridged back
        # out of its own port: that needs hairpin mode (bridge_port's hairpin option)
        ip('link', 'set', 'vc1', 'type', 'bridge_slave', 'hairpin', 'on')
    start_servers(world)
    foreign = foreign_tables()
    # proof that the probes can fail: nothing is published yet, direct access works
    assert world.probe('outside', 'tcp', '10.0.0.1', 8080).startswith('FAIL')

    tasks = [{MASQ: {'networks': [NET]}}, publish()]
    r = play(tasks + tasks, toolchain=toolchain)
    assert [x['_status'] for x in r] == ['ok'] * 4, r
    assert r[0]['changed'] and r[1]['changed'], r
    assert not r[2]['changed'] and not r[3]['changed'], (r[2]['actions'], r[3]['actions'])
    assert_all_traffic(world)
    assert snapshot_foreign() == foreign

    # teardown: the table and the drop-in are gone, foreign tables unchanged
    r = play([{PUB: {'network': 'br0', 'state': 'absent'}},
              {MASQ: {'networks': [{'name': 'br0'}], 'state': 'absent'}},
              {PUB: {'network': 'br0', 'state': 'absent'}}], toolchain=toolchain)
    assert r[0]['changed'] and r[1]['changed'] and not r[2]['changed'], r
    assert 'table inet linuxnet' not in nft_tables()
    assert not os.path.exists(DROPIN)
    assert snapshot_foreign() == foreign
    assert world.probe('outside', 'tcp', '10.0.0.1', 8080).startswith('FAIL')


def test_direct_access_without_ingress_protection(world, play):
    start_servers(world)
    r = play([{MASQ: {'networks': [NET]}}, publish(ingress_protection=False)])
    assert r[1]['changed']
    assert world.probe('outside', 'tcp', '172.18.0.10', 80) == 'c1 10.0.0.2'
    r = play([publish(ingress_protection=True)])
    assert [a['op'] for a in r[0]['actions']] == ['add_rule'], r[0]['actions']
    assert world.probe('outside', 'tcp', '172.18.0.10', 80).startswith('FAIL')
    assert world.probe('outside', 'tcp', '10.0.0.1', 8080) == 'c1 10.0.0.2'


def test_flush_ruleset_then_rerun_restores(world, play):
    start_servers(world)
    tasks = [{MASQ: {'networks': [NET]}}, publish()]
    play(tasks)
    subprocess.run(['nft', 'flush', 'ruleset'], check=True)
    assert world.probe('outside', 'tcp', '10.0.0.1', 8080).startswith('FAIL')
    r = play(tasks)
    assert r[0]['changed'] and r[1]['changed']
    # br_netfilter is on by default and vc1 has no hairpin mode: not the self-hairpin case
    assert_all_traffic(world, hairpin_self=False)
    assert not any(x['changed'] for x in play(tasks))


def test_changed_publication_replaces_exactly_its_rules(world, play):
    play([publish()])
    before = dict((m, h) for c, m, h in our_rules())
    changed = [dict(p) for p in PUBLICATIONS]
    changed[0]['container_port'] = 81
    r = play([publish(changed)], diff=True)
    acts = [(a['op'], a['target']) for a in r[0]['actions']]
    assert sorted(acts) == sorted([
        ('delete_rule', 'prerouting: pub/br0/tcp/*/8080/pre'),
        ('delete_rule', 'output: pub/br0/tcp/*/8080/out'),
        ('add_rule', 'prerouting: pub/br0/tcp/*/8080/pre'),
        ('add_rule', 'output: pub/br0/tcp/*/8080/out')]), acts
    after = dict((m, h) for c, m, h in our_rules())
    kept = [m for m in before if '/8080/' not in m]
    assert all(after[m] == before[m] for m in kept)
    assert len(after) == len(before)
    d = r[0]['diff']
    assert 'dnat to 172.18.0.10:80 comment' in d['before']
    assert 'dnat to 172.18.0.10:81 comment' in d['after']
    assert 'dnat to 172.18.0.10:80 comment' not in d['after']
    # the list is the full set: dropping a publication removes its rules
    r = play([publish(changed[1:])])
    assert not any('/8080/' in m for c, m, h in our_rules())


def test_check_mode_changes_nothing(world, play):
    r = play([publish()], check=True, diff=True)
    assert r[0]['changed'] and r[0]['actions']
    assert 'table inet linuxnet' not in nft_tables()
    assert r[0]['diff']['before'] == ''
    assert 'fib daddr type local tcp dport 8080 dnat to 172.18.0.10:80' in r[0]['diff']['after']
    play([publish()])
    r = play([publish()], check=True, diff=True)
    assert not r[0]['changed'] and r[0]['diff']['before'] == r[0]['diff']['after']


def test_validation_and_conflicts_change_nothing(world, play):
    base = {'host_port': 8080, 'container_address': '172.18.0.10'}
    bad = [
        (dict(base, host_port=0), 'publications[0].host_port: 0 is out of range'),
        (dict(base, host_port=70000), 'out of range'),
        (dict(base, host_port='9010-9000'), 'reversed'),
        (dict(base, host_port='9000-9010', container_port='80-81'), 'different lengths'),
        (dict(base, host_port='http'), 'is not a port'),
        (dict(base, protocol='sctp'), 'protocol'),  # the argument spec's choices
        (dict(base, host_ip='10.0.0.300'), "publications[0].host_ip: '10.0.0.300' is not an IP"),
        # loopback is published to the host only (test_localhost_publish); ::1 never: the
        # kernel does not route it off lo (the other IPv6 addresses: test_ipv6_nat)
        (dict(base, host_ip='::1'), "publications[0].host_ip: '::1' is the IPv6 loopback address"),
        (dict(base, container_address='10.9.9.9'), 'not a host address of subnet 172.18.0.0/16 '
                                                   '(it is outside it)'),
        (dict(base, container_address='nope'), "publications[0].container_address: 'nope'"),
    ]
    for item, words in bad:
        r = play([dict(publish([item]), ignore_errors=True)])
        assert r[0]['_status'] == 'failed', (item, r)
        assert words in r[0]['msg'], (words, r[0]['msg'])
        assert 'table inet linuxnet' not in nft_tables()
    # duplicates inside the list (overlapping ranges; a wildcard and a specific address)
    for a, b in ((dict(base, host_port='8000-8100'), base),
                 (dict(base, host_ip='10.0.0.1'), base)):
        r = play([dict(publish([a, b]), ignore_errors=True)])
        assert r[0]['_status'] == 'failed' and 'published twice' in r[0]['msg'], r
        assert 'table inet linuxnet' not in nft_tables()
    # same port, other protocol or other host_ip: fine
    r = play([publish([dict(base, host_ip='10.0.0.1'), dict(base, host_ip='10.0.0.3'),
                       dict(base, protocol='udp')])])
    assert r[0]['_status'] == 'ok', r
    # another network may not publish a port this one publishes
    rules = our_rules()
    r = play([{PUB: {'network': 'net2', 'bridge': 'br2', 'subnet': '10.99.0.0/24',
                     'publications': [{'host_port': '8070-8090',
                                       'container_address': '10.99.0.2'}]},
               'ignore_errors': True}])
    assert r[0]['_status'] == 'failed' and 'conflicts with network br0' in r[0]['msg'], r
    assert our_rules() == rules
