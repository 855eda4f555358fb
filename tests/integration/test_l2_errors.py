# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input and name conflicts: a clear failure naming the item, and nothing applied.

Every bad call also holds a valid item that *would* change the kernel, so "nothing
applied" really means validation (or planning) happened before the first change.
"""
import pytest

from conftest import ip, run_in
from l2util import bridge, netns, ports, seed_pair, snapshot, veth

GOOD_PAIR = seed_pair(0)          # veth0 <-> ceth0 in netns0: not there yet
GOOD_BRIDGE = {'name': 'br0', 'addresses': ['172.18.0.1/16']}


def p(**kw):
    return seed_pair(1, **kw)


BAD_INPUT = [
    # (id, task, words the message must contain)
    ('netns-dotdot', netns(['new0', '..']), ["'..'", 'safe path component']),
    ('netns-slash', netns(['new0', '/']), ["'/'", 'safe path component']),
    ('netns-path', netns(['new0', 'a/b']), ["'a/b'", 'safe path component']),
    ('netns-empty', netns(['new0', '']), ['network namespace name', 'empty']),
    ('netns-nul', netns(['new0', 'a\0b']), ['network namespace name', 'safe path component']),
    ('netns-dup', netns(['new0', 'new1', 'new0']), ["'new0'", 'listed twice']),
    ('veth-invalid-cidr', veth([GOOD_PAIR, p(addresses=['172.18.0.300/16'])]),
     ["pairs[1].addresses[0]: '172.18.0.300/16'", 'not a valid CIDR']),
    ('veth-missing-prefix', veth([GOOD_PAIR, p(addresses=['172.18.0.20'])]),
     ["pairs[1].addresses[0]: '172.18.0.20'", 'no prefix length']),
    ('veth-name-too-long', veth([GOOD_PAIR, p(name='veth-0123456789x')]),
     ["'veth-0123456789x'", 'at most 15']),
    ('veth-peer-too-long', veth([GOOD_PAIR, p(peer='ceth-0123456789x')]),
     ["pairs[1].peer: 'ceth-0123456789x'", 'at most 15']),
    ('veth-name-slash', veth([GOOD_PAIR, p(name='veth/1')]),
     ["pairs[1].name: 'veth/1'", 'not a valid interface name']),
    ('veth-name-space', veth([GOOD_PAIR, p(name='veth 1')]),
     ["pairs[1].name: 'veth 1'", 'not a valid interface name']),
    ('veth-peer-tab', veth([GOOD_PAIR, p(peer='c\teth1')]),
     ["pairs[1].peer: 'c\\teth1'", 'not a valid interface name']),
    ('veth-netns-dotdot', veth([GOOD_PAIR, p(netns='..')]),
     ["pairs[1].netns: '..'", 'safe path component']),
    ('veth-netns-slash', veth([GOOD_PAIR, p(netns='/')]),
     ['pairs[1].netns', 'safe path component']),
    ('veth-netns-empty', veth([GOOD_PAIR, p(netns='')]), ["pairs[1].netns: ''", 'empty']),
    ('veth-netns-nul', veth([GOOD_PAIR, p(netns='x\0y')]),
     ['pairs[1].netns', 'safe path component']),
    ('veth-mtu-high', veth([GOOD_PAIR, p(mtu=65536)]),
     ['pairs[1].mtu: 65536', '68 to 65535']),
    ('veth-mtu-low', veth([GOOD_PAIR, p(mtu=67)]), ['pairs[1].mtu: 67', '68 to 65535']),
    ('veth-dup-name', veth([GOOD_PAIR, p(name='veth0')]), ["'veth0'", 'listed twice']),
    ('veth-dup-peer', veth([GOOD_PAIR, p(peer='ceth0', netns='netns0')]),
     ["pairs[1].peer: 'ceth0' is listed twice in netns0"]),
    ('veth-gateway-without-netns', veth([GOOD_PAIR, p(netns=None, gateway='172.18.0.1')]),
     ["pairs[1].gateway: '172.18.0.1'", "host's own default route"]),
    ('veth-gateway-outside', veth([GOOD_PAIR, p(gateway='10.0.0.1')]),
     ["pairs[1].gateway: '10.0.0.1'", 'outside the subnet', '172.18.0.0/16']),
    ('bridge-invalid-cidr', bridge([GOOD_BRIDGE, {'name': 'br1', 'addresses': ['10.0.0.1/33']}]),
     ['bridges[1].addresses[0]', 'not a valid CIDR']),
    ('bridge-missing-prefix', bridge([GOOD_BRIDGE, {'name': 'br1', 'addresses': ['10.0.0.1']}]),
     ['bridges[1].addresses[0]', 'no prefix length']),
    ('bridge-name-too-long', bridge([GOOD_BRIDGE, {'name': 'bridge-0123456789'}]),
     ["'bridge-0123456789'", 'at most 15']),
    ('bridge-name-space', bridge([GOOD_BRIDGE, {'name': 'br 1'}]),
     ["bridges[1].name: 'br 1'", 'not a valid interface name']),
    ('bridge-mtu', bridge([GOOD_BRIDGE, {'name': 'br1', 'mtu': 0}]),
     ['bridges[1].mtu: 0', '68 to 65535']),
    ('bridge-dup', bridge([GOOD_BRIDGE, GOOD_BRIDGE]),
     ["bridges[1].name: 'br0'", 'listed twice']),
    ('port-too-long', ports('brx', [{'name': 'vport'}, {'name': 'port-0123456789x'}]),
     ["'port-0123456789x'", 'at most 15']),
    ('port-slash', ports('brx', [{'name': 'vport'}, {'name': 'p/1'}]),
     ["ports[1].name: 'p/1'", 'not a valid interface name']),
    ('port-dup', ports('brx', [{'name': 'vport'}, {'name': 'vport'}]),
     ["ports[1].name: 'vport'", 'listed twice']),
]

CONFLICTS = [
    ('veth-host-end-is-bridge', veth([GOOD_PAIR, p(name='vethb')]),
     ["host end 'vethb'", 'is a bridge link, not a veth']),
    ('veth-peer-is-bridge', veth([GOOD_PAIR, p(peer='cethb')]),
     ["pair 'veth1'", "'cethb' in netns1", 'is a bridge link, not a veth']),
    ('veth-netns-missing', veth([GOOD_PAIR, p(netns='nosuchns')]),
     ["pair 'veth1'", "'nosuchns' does not exist"]),
    ('bridge-name-is-veth', bridge([GOOD_BRIDGE, {'name': 'vport'}]),
     ["'vport' exists but is a veth link, not a bridge"]),
    ('port-bridge-is-veth', ports('vportp', [{'name': 'vport'}]),
     ["bridge 'vportp'", 'is a veth link, not a bridge']),
    ('port-bridge-missing', ports('brnone', [{'name': 'vport'}]),
     ["bridge 'brnone' does not exist"]),
    ('port-missing', ports('brx', [{'name': 'vport'}, {'name': 'nosuch'}]),
     ["port 'nosuch' does not exist"]),
    ('port-is-bridge', ports('brx', [{'name': 'vport'}, {'name': 'vethb'}]),
     ["port 'vethb' is a bridge"]),
]


def prepare(play, toolchain):
    """netns0/netns1 exist (so the valid pair could be made), a bridge brx with a free
    veth 'vport' to attach, and names held by links of another kind."""
    out = play([netns(['netns0', 'netns1'])], toolchain=toolchain)
    assert out[0]['_status'] == 'ok'
    ip('link', 'add', 'brx', 'type', 'bridge')
    ip('link', 'add', 'vport', 'type', 'veth', 'peer', 'name', 'vportp')
    ip('link', 'add', 'vethb', 'type', 'bridge')
    ip('link', 'add', 'cethb', 'type', 'bridge', ns='netns1')


@pytest.mark.parametrize('cases', [BAD_INPUT, CONFLICTS], ids=['bad-input', 'conflicts'])
def test_fails_clearly_and_changes_nothing(play, toolchain, cases):
    prepare(play, toolchain)
    before = snapshot()
    tasks = [dict(t, name=cid, ignore_errors=True) for cid, t, words in cases]
    results = play(tasks, toolchain=toolchain)
    assert [r['_task'] for r in results] == [case[0] for case in cases]
    problems = []
    for (cid, unused, words), r in zip(cases, results):
        if r['_status'] != 'failed' or r.get('changed'):
            problems.append('%s: did not fail cleanly: %r' % (cid, r))
            continue
        missing = [w for w in words if w not in r['msg']]
        if missing:
            problems.append('%s: message %r lacks %r' % (cid, r['msg'], missing))
        if r.get('actions'):
            # a failed plan applies nothing; a validation error never plans
            problems.append('%s: reports actions %r' % (cid, r['actions']))
    assert not problems, '\n'.join(problems)
    assert snapshot() == before


def test_apply_failure_rolls_back_what_it_created(play, toolchain):
    """A kernel refusal in the middle of a call (IPv6 disabled in netns1) undoes the pairs
    the call created, reports what failed and what was rolled back; a rerun converges."""
    assert play([netns(['netns0', 'netns1'])], toolchain=toolchain)[0]['_status'] == 'ok'
    run_in('netns1', 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1',
           'net.ipv6.conf.default.disable_ipv6=1')
    before = snapshot()
    pairs = [seed_pair(0), seed_pair(1, addresses=['172.18.0.20/16', 'fd00::20/64'])]
    r = play([dict(veth(pairs), ignore_errors=True)], toolchain=toolchain)[0]
    assert r['_status'] == 'failed'
    assert r['failed_action'] == {'op': 'addr_add', 'target': 'ceth1', 'netns': 'netns1',
                                  'address': 'fd00::20/64'}
    assert 'addr_add ceth1' in r['msg'] and 'rolled back' in r['msg']
    assert r['rolled_back'] == [{'op': 'link_delete', 'target': 'veth1'},
                                {'op': 'link_delete', 'target': 'veth0'}]
    assert {'op': 'veth_create', 'target': 'veth0', 'peer': 'ceth0',
            'netns': 'netns0', 'up': True} in r['done']
    assert snapshot() == before
    run_in('netns1', 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=0',
           'net.ipv6.conf.default.disable_ipv6=0')
    out = play([veth(pairs), veth(pairs)], toolchain=toolchain)
    assert [x['_status'] for x in out] == ['ok', 'ok'] and out[1]['changed'] is False


def test_stale_run_netns_entry_fails_clearly_and_is_skipped_by_exclusive(play):
    """A file in /run/netns that is not a namespace: named, it fails clearly; unnamed, skipped."""
    with open('/run/netns/stale', 'w'):
        pass
    r = play([netns(['new0', 'stale'])])[0]
    assert r['_status'] == 'failed'
    assert "'/run/netns/stale' exists but is not a network namespace" in r['msg']
    assert 'ip netns delete stale' in r['msg']
    assert run_in(None, 'ip', 'netns', 'list').stdout.split() == ['stale']
    r = play([netns(['new0'], owner='br0', exclusive=True)])[0]
    assert r['_status'] == 'ok' and r['changed'], r
    assert sorted(run_in(None, 'ip', 'netns', 'list').stdout.split()) == ['new0', 'stale']
