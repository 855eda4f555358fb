# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upgrade from table ``ip linuxnet`` (releases before the inet table) to ``inet linuxnet``.

A host of the earlier release is made by building the networks with today's code (L2 is
the same in both releases) and then putting back the NAT table that release wrote
(fixtures/legacy-ip-linuxnet.json: its rules' netlink bytes, recorded from it). Real packets before, during and
after the upgrading run; the upgrade is one nfnetlink batch.
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from l2util import task
from test_firewall import CHECKS, assert_all_works, traffic
from test_role import failed, role

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import firewalls  # noqa: E402  pylint: disable=wrong-import-position

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures',
                       'legacy-ip-linuxnet.json')
OTHER = {'bridge': 'br1', 'subnet': '10.77.0.0/24', 'gateway': '10.77.0.1',
         'containers': [{'name': 'x0', 'address': '10.77.0.10'}],
         'published_ports': [{'container': 'x0', 'host_port': 7070, 'container_port': 80}]}
NOT_PERSISTENT = {'container_bridge_network_persistent': False}
IPV4 = 2  # NFPROTO_IPV4


def nft_tables():
    out = subprocess.run(['nft', '-j', 'list', 'tables'], capture_output=True, text=True,
                         check=True).stdout
    return sorted('%s %s' % (t['table']['family'], t['table']['name'])
                  for t in json.loads(out)['nftables'] if 'table' in t)


def our_rules():
    """{comment: rule text} of table inet linuxnet, as nft lists it."""
    out = subprocess.run(['nft', '-j', 'list', 'table', 'inet', 'linuxnet'],
                         capture_output=True, text=True, check=True).stdout
    return sorted(r['rule']['comment'] for r in json.loads(out)['nftables'] if 'rule' in r)


@pytest.fixture
def world():
    with firewalls.World() as w:
        yield w


def load_legacy_table():
    """Table ip linuxnet exactly as the earlier release wrote it (its recorded bytes)."""
    from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_socket
    with open(FIXTURE) as f:
        legacy = json.load(f)
    ops = [nft_socket.BatchOp('newtable', 'linuxnet', family=IPV4)]
    ops += [nft_socket.BatchOp('newchain', 'linuxnet', c['name'], hook=c['hook'],
                               priority=c['priority'], ctype=c['type'], family=IPV4)
            for c in legacy['chains']]
    ops += [nft_socket.BatchOp('newrule', 'linuxnet', r['chain'],
                               exprs=bytes.fromhex(r['expressions']), comment=r['comment'],
                               family=IPV4) for r in legacy['rules']]
    with nft_socket.NftSocket(0) as sock:
        sock.batch(ops)
    return sorted(r['comment'] for r in legacy['rules'])


def earlier_release(play, world):
    """Both networks built, then the NAT table swapped for the one the earlier release
    wrote; the seed traffic works on it (it is a working host of that release)."""
    assert not failed(role(play, NOT_PERSISTENT))
    assert play([task('network', **OTHER)])[0]['_status'] == 'ok'
    today = our_rules()
    subprocess.run(['nft', 'delete', 'table', 'inet', 'linuxnet'], check=True)
    legacy_comments = load_legacy_table()
    assert today == legacy_comments  # the same rules under the same tags
    assert nft_tables() == ['ip linuxnet']
    world.serve_seed()
    assert_all_works()
    return legacy_comments


def test_an_upgrade_moves_every_network_to_the_inet_table_in_one_run(play, world):
    legacy = earlier_release(play, world)
    checked = role(play, NOT_PERSISTENT, check=True)
    real = role(play, NOT_PERSISTENT)
    assert not failed(real), [r["msg"] for r in failed(real)]
    [pred] = [r for r in checked if 'firewall' in r]
    [net] = [r for r in real if 'firewall' in r]
    assert net['changed'] and net['actions'] == pred['actions']
    ops = [(a['op'], a['target']) for a in net['actions'] if a['op'].endswith('_table')]
    assert ops == [('create_table', 'inet linuxnet'), ('delete_table', 'ip linuxnet')], ops
    # br1's rules moved too, so the old table is gone and both networks work
    assert nft_tables() == ['inet linuxnet']
    assert our_rules() == legacy
    assert_all_works()
    assert set(traffic()) == set(CHECKS)
    assert world.fetch('outside', world.HOST, 7070) is None  # nobody serves br1's x0:80
    world.serve('x0', '0.0.0.0', 80, 'x0')
    assert (world.fetch('outside', world.HOST, 7070) or '').startswith('x0 ')
    # converged: the moved rules are exactly what br1's own run compiles
    again = play([task('network', **OTHER)])[0]
    assert again['_status'] == 'ok' and not again['changed'], again['actions']
    assert not [r for r in role(play, NOT_PERSISTENT) if r.get('changed')]


class Prober(threading.Thread):
    """Connects from the host to a published port (DNAT in the output chain) again and
    again, counting answers and failures, until stopped."""

    def __init__(self, addr, port):
        super(Prober, self).__init__(daemon=True)
        self.addr, self.port = addr, port
        self.ok, self.failures = 0, []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                with socket.create_connection((self.addr, self.port), timeout=1) as s:
                    if s.recv(64).startswith(b'netns0 '):
                        self.ok += 1
                    else:
                        self.failures.append('wrong reply')
            except OSError as e:
                self.failures.append(repr(e))

    def stop(self):
        self.stopping.set()
        self.join()


def test_the_upgrade_is_one_batch_and_the_published_port_never_stops(play, world):
    from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
    from ansible_collections.linuxnet.container_network.plugins.module_utils.network import pipeline as network
    from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_socket
    earlier_release(play, world)
    defaults = {}
    import yaml
    with open(os.path.join(os.path.dirname(__file__), '..', '..', 'roles',
                           'container_bridge_network', 'defaults', 'main.yml')) as f:
        for k, v in yaml.safe_load(f).items():
            defaults[k[len('container_bridge_network_'):]] = v
    params = dict((k, defaults[k]) for k in (
        'bridge', 'subnet', 'gateway', 'containers', 'published_ports', 'masquerade',
        'ingress_protection', 'firewall_integration', 'state'))

    batches = []
    real = nft_socket.NftSocket.batch
    nft_socket.NftSocket.batch = lambda self, ops: (
        batches.append([(op.kind, op.family, op.table) for op in ops]) or real(self, ops))
    prober = Prober(world.HOST, 5000)
    prober.start()
    try:
        time.sleep(0.3)
        before = prober.ok
        res = network.NetworkResource()
        result = {'changed': False, 'actions': []}
        with res.context(runner.Invocation(params)) as ctx:
            res.converge(ctx, res.want(params), False, False, result)
        time.sleep(0.3)
    finally:
        nft_socket.NftSocket.batch = real
        prober.stop()
    assert result['changed']
    assert prober.failures == [] and before > 10 and prober.ok > before, (
        prober.ok, prober.failures[:5])
    nft_batches = [b for b in batches if any(op[0].endswith(('table', 'rule')) for op in b)]
    assert len(nft_batches) == 1, batches
    [ops] = nft_batches
    assert ('newtable', 1, 'linuxnet') in ops and ('deltable', 2, 'linuxnet') in ops, ops
    assert nft_tables() == ['inet linuxnet']
    assert_all_works()
