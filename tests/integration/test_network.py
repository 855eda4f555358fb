# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `network` module: the role's whole composition in one call (per-test sandbox).

What only the composite can get wrong: check mode predicting across its stages (the
NAT stage seeing the table the masquerade stage would create), the diff of all stages,
undoing earlier stages when a later one fails, and reading each namespace once.
"""
import json
import subprocess

import pytest

from conftest import ip
from l2util import link, netns_names, snapshot, task

NET = {'bridge': 'br0', 'subnet': '172.18.0.0/16', 'gateway': '172.18.0.1',
       'containers': [{'name': 'c%d' % i} for i in range(5)],
       'published_ports': [{'container': 'c1', 'host_port': 8081},
                           {'container': 'c3', 'host_port': '9000-9001', 'protocol': 'udp'}]}
STAGES = ['bridge', 'netns', 'veth_pair', 'bridge_port', 'port_publish', 'masquerade']


def network(**kw):
    return task('network', **dict(NET, **kw))


def nft_tables():
    out = subprocess.run(['nft', '-j', 'list', 'tables'], capture_output=True, text=True,
                         check=True).stdout
    return [x['table']['name'] for x in json.loads(out)['nftables'] if 'table' in x]


def actions(r):
    return sorted(json.dumps(a, sort_keys=True) for a in r['actions'])


def test_check_mode_predicts_the_real_run_exactly(play, toolchain):
    before = snapshot()
    checked = play([network()], check=True, diff=True, toolchain=toolchain)[0]
    assert checked['_status'] == 'ok' and checked['changed'], checked
    assert snapshot() == before and nft_tables() == []
    # every stage is in the diff and has planned something on a fresh host (but the
    # firewall stage: no firewall in charge here, nothing to let through; persistence:
    # off by default, nothing to install; and the fleet: none given, none to remove)
    assert sorted(checked['diff']['after']) == sorted(STAGES + ['netns_unlisted', 'firewall',
                                                                'persistence', 'fleet'])
    assert checked['diff']['after']['fleet'] == [] and checked['fleet'] is None
    assert checked['persistence'] == {'enabled': False, 'unit': 'linuxnet-network@br0.service',
                                      'state_dir': '/var/lib/linuxnet/networks/br0'}
    assert set(a['stage'] for a in checked['actions']) == set(STAGES)
    assert checked['firewall']['reachable'] is True
    real = play([network()], diff=True, toolchain=toolchain)[0]
    assert real['_status'] == 'ok', real
    # the NAT stages share one table: check mode must not plan creating it twice
    assert [a['op'] for a in real['actions']].count('create_table') == 1
    assert actions(real) == actions(checked)
    assert real['diff'] == checked['diff']
    assert netns_names() == ['c%d' % i for i in range(5)]
    assert set(real['rules']) and all('linuxnet:' in r for r in real['rules'])
    again = play([network()], check=True, toolchain=toolchain)[0]
    assert not again['changed'] and again['actions'] == [], again
    again = play([network()], toolchain=toolchain)[0]
    assert not again['changed'] and again['actions'] == [], again


def test_teardown_check_mode_predicts_the_real_run(play):
    assert play([network()])[0]['_status'] == 'ok'
    checked = play([network(state='absent')], check=True)[0]
    real = play([network(state='absent')])[0]
    assert real['_status'] == 'ok', real
    assert actions(real) == actions(checked)
    assert netns_names() == [] and link('br0') is None and nft_tables() == []
    assert not play([network(state='absent')])[0]['changed']


def test_a_failing_stage_undoes_what_earlier_stages_created(play):
    # veth_pair fails (c2's host end name is taken by a bridge) after bridge and netns
    # have created things: the call removes them again
    ip('link', 'add', 'taken0', 'type', 'bridge')
    containers = [dict(c) for c in NET['containers']]
    containers[2]['host_ifname'] = 'taken0'
    before = snapshot()
    r = play([network(containers=containers)])[0]
    assert r['_status'] == 'failed'
    assert 'taken0' in r['msg'] and 'undid' in r['msg'], r['msg']
    assert snapshot() == before and nft_tables() == []


def test_a_port_conflict_with_another_network_fails_before_any_change(play):
    """Planned before the first stage applies: no L2 stage runs, no masquerade rule."""
    other = {'bridge': 'br1', 'subnet': '10.77.0.0/24', 'gateway': '10.77.0.1',
             'containers': [{'name': 'x'}],
             'published_ports': [{'container': 'x', 'host_port': 8081}]}
    assert play([task('network', **other)])[0]['_status'] == 'ok'
    before = snapshot()
    rules_before = subprocess.run(['nft', 'list', 'table', 'inet', 'linuxnet'],
                                  capture_output=True, text=True, check=True).stdout
    r = play([network()])[0]
    assert r['_status'] == 'failed'
    assert 'conflicts with network br1' in r['msg'], r['msg']
    assert snapshot() == before
    assert subprocess.run(['nft', 'list', 'table', 'inet', 'linuxnet'], capture_output=True,
                          text=True, check=True).stdout == rules_before


@pytest.mark.parametrize('bad, words', [
    ({'published_ports': [{'container': 'c1', 'host_port': 'http'}]},
     ["published_ports[0].host_port: 'http' is not a port"]),
    ({'published_ports': [{'container': 'c1', 'host_port': 80, 'host_ip': '::1'}]},
     ["published_ports[0].host_ip: '::1' is the IPv6 loopback address", 'use 127.0.0.1']),
    ({'published_ports': [{'container': 'c1', 'host_port': 80, 'host_ip': '2001:db8::1'}]},
     ["published_ports[0].host_ip: '2001:db8::1' is an IPv6 address but the container has "
      "no IPv6 address", 'ipv6_address']),
    ({'containers': [{'name': 'c0'}, {'name': 'c0'}]},
     ["containers[1].name: 'c0' is listed twice"]),
    ({'gateway': '10.0.0.1'}, ["gateway: '10.0.0.1' is not a host address of subnet"]),
    ({'subnet': '172.18.0.1/16'},
     ["subnet: '172.18.0.1/16' has host bits set; write the network address 172.18.0.0/16"]),
    ({'variable_prefix': 'container_bridge_network_', 'gateway': '10.0.0.1'},
     ["container_bridge_network_gateway: '10.0.0.1' is not a host address of subnet"]),
])
def test_bad_input_fails_before_any_stage(play, bad, words):
    before = snapshot()
    r = play([network(**bad)])[0]
    assert r['_status'] == 'failed'
    for w in words:
        assert w in r['msg'], r['msg']
    assert snapshot() == before and nft_tables() == []


def in_process(**kw):
    """Run the network module's resource in this process (no Ansible) on NET updated
    with ``kw``; returns the module result (changed, actions and the extra keys)."""
    from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
    from ansible_collections.linuxnet.container_network.plugins.module_utils.network import pipeline as net
    params = dict(NET, state='present', masquerade=True, ingress_protection=True)
    params.update(kw)
    res = net.NetworkResource()
    result = {'changed': False, 'actions': []}
    want = res.want(params)
    with res.context(runner.Invocation(params)) as ctx:
        result.update(res.converge(ctx, want, False, False, result))
    return result


def test_a_rerun_reads_each_namespace_once():
    """In-process: a converged network's rerun reads every container namespace once
    and opens its socket from one thread (not one per stage, not one per namespace)."""
    import threading
    from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import observe

    params = dict(containers=[{'name': 'c%d' % i} for i in range(20)], published_ports=[])
    assert in_process(**params)['changed']
    reads, threads = [], []
    real_read, real_start = observe.read_ns, threading.Thread.start
    observe.read_ns = lambda sock, *a, **kw: reads.append(sock) or real_read(sock, *a, **kw)
    threading.Thread.start = lambda self: threads.append(self) or real_start(self)
    try:
        result = in_process(**params)
    finally:
        observe.read_ns, threading.Thread.start = real_read, real_start
    assert not result['changed'], result
    assert len(reads) == 21, len(reads)      # the host and 20 namespaces, once each
    assert len(threads) == 1, threads


def test_one_nftables_transaction_per_run():
    """In-process: the NAT stages of a call go to the kernel as one batch (converge and
    teardown), none when converged."""
    from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_socket

    batches = []
    real = nft_socket.NftSocket.batch
    nft_socket.NftSocket.batch = lambda self, ops: batches.append(len(ops)) or real(self, ops)
    try:
        counts = []
        for state in ('present', 'present', 'absent'):
            del batches[:]
            result = in_process(state=state)
            counts.append((len(batches), result['changed']))
            if batches:
                nat_actions = [a for a in result['actions']
                               if a['stage'] in ('masquerade', 'port_publish') and
                               a['op'] not in ('set_sysctl', 'write_file', 'remove_file')]
                assert batches == [len(nat_actions)], (batches, nat_actions)
    finally:
        nft_socket.NftSocket.batch = real
    assert counts == [(1, True), (0, False), (1, True)], counts
    assert nft_tables() == []


def test_the_forwarding_warning_only_when_forwarding_stays_off():
    """In-process, ip_forward 0 as in a fresh namespace: without masquerade, published
    ports get the warning; with it, the masquerade stage turns forwarding on after the
    port_publish stage, and there is nothing to warn about."""
    def forwarding():
        with open('/proc/sys/net/ipv4/ip_forward') as f:
            return f.read().strip()

    assert forwarding() == '0'
    off = in_process(masquerade=False)
    assert forwarding() == '0' and 'ip_forward is 0' in ' '.join(off.get('warnings', [])), off
    on = in_process(masquerade=True)
    assert forwarding() == '1' and 'warnings' not in on, on
