# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""masquerade on a real kernel, with real packets (each test in its own private namespace).

The world (built with ``ip`` here, so these tests do not depend on the L2 modules):

* the test's namespace is the *host*: uplink ``up0`` with 10.0.0.1/24 and 10.0.0.3/24,
  default route via 10.0.0.2; bridge ``br0`` 172.18.0.1/16;
* netns ``outside`` plays the internet: 10.0.0.2 on its end of the uplink and
  198.51.100.1 on lo, and a route to 172.18.0.0/16 via the host (so "direct access" to
  containers is really attempted, not impossible for lack of a route);
* netns ``c1`` (172.18.0.10) and ``c2`` (172.18.0.20), veths on br0, default via 172.18.0.1.

Servers answer ``<name> <source address they see>``, so every probe tells who answered
and which source address reached it.
"""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import ip, run_in

DROPIN = '/etc/sysctl.d/90-linuxnet-container-network.conf'
MASQ = 'linuxnet.container_network.masquerade'
NET = {'name': 'br0', 'subnet': '172.18.0.0/16', 'bridge': 'br0'}

SERVER = r'''
import socket, sys
proto, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if proto == 'tcp':
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', port))
    s.listen(64)
    print('ready', flush=True)
    while True:
        c, a = s.accept()
        c.sendall(('%s %s\n' % (name, a[0])).encode())
        c.close()
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('0.0.0.0', port))
    print('ready', flush=True)
    while True:
        d, a = s.recvfrom(100)
        s.sendto(('%s %s\n' % (name, a[0])).encode(), a)
'''

CLIENT = r'''
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    if proto == 'tcp':
        s = socket.create_connection((host, port), timeout=1.5)
        s.settimeout(1.5)
        print(s.recv(100).decode().strip())
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1.5)
        s.sendto(b'x', (host, port))
        print(s.recv(100).decode().strip())
except Exception as e:
    print('FAIL %s' % e.__class__.__name__)
'''


class World(object):
    def __init__(self):
        self.servers = []
        for ns in ('outside', 'c1', 'c2'):
            ip('netns', 'add', ns)
            ip('link', 'set', 'lo', 'up', ns=ns)
        ip('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', 'outside')
        ip('addr', 'add', '10.0.0.1/24', 'dev', 'up0')
        ip('addr', 'add', '10.0.0.3/24', 'dev', 'up0')
        ip('link', 'set', 'up0', 'up')
        ip('addr', 'add', '10.0.0.2/24', 'dev', 'eth0', ns='outside')
        ip('addr', 'add', '198.51.100.1/32', 'dev', 'lo', ns='outside')
        ip('link', 'set', 'eth0', 'up', ns='outside')
        ip('route', 'add', '172.18.0.0/16', 'via', '10.0.0.1', ns='outside')
        ip('route', 'add', 'default', 'via', '10.0.0.2')
        ip('link', 'add', 'br0', 'type', 'bridge')
        ip('addr', 'add', '172.18.0.1/16', 'dev', 'br0')
        ip('link', 'set', 'br0', 'up')
        for ns, addr in (('c1', '172.18.0.10'), ('c2', '172.18.0.20')):
            ip('link', 'add', 'v' + ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
            ip('link', 'set', 'v' + ns, 'master', 'br0', 'up')
            ip('addr', 'add', addr + '/16', 'dev', 'eth0', ns=ns)
            ip('link', 'set', 'eth0', 'up', ns=ns)
            ip('route', 'add', 'default', 'via', '172.18.0.1', ns=ns)
        # wait for the bridge ports to forward (no STP: immediate, but be sure)
        for attempt in range(50):  # pylint: disable=unused-variable
            if 'forwarding' in ip('-d', 'link', 'show', 'vc2'):
                break
            time.sleep(0.1)

    def serve(self, ns, proto, port, name=None):
        cmd = ([] if ns is None else ['ip', 'netns', 'exec', ns]) + [
            sys.executable, '-c', SERVER, proto, str(port), name or ns or 'host']
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.servers.append(p)
        assert p.stdout.readline().strip() == 'ready'
        return p

    def probe(self, ns, proto, host, port):
        """What the server at host:port answers to a client in ns (None: the host)."""
        return run_in(ns, sys.executable, '-c', CLIENT, proto, host, str(port),
                      timeout=15).stdout.strip()

    def close(self):
        for p in self.servers:
            p.kill()
            p.wait()


@pytest.fixture
def world():
    w = World()
    yield w
    w.close()


def ip_forward():
    with open('/proc/sys/net/ipv4/ip_forward') as f:
        return f.read().strip()


def nft_tables():
    out = subprocess.run(['nft', 'list', 'tables'], check=True, capture_output=True,
                         text=True).stdout
    return sorted(line.strip() for line in out.splitlines() if line.strip())


def nft_json(*what):
    out = subprocess.run(['nft', '-j', 'list'] + list(what), check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)['nftables']


def our_rules():
    """[(chain, comment, handle)] of table inet linuxnet."""
    return sorted((r['rule']['chain'], r['rule'].get('comment'), r['rule']['handle'])
                  for r in nft_json('table', 'inet', 'linuxnet') if 'rule' in r)


def test_masquerade_converge_traffic_idempotence_teardown(world, play, toolchain):
    world.serve('outside', 'tcp', 7000)
    # before: no forwarding, the outside server is unreachable from the container
    assert ip_forward() == '0'
    assert world.probe('c1', 'tcp', '198.51.100.1', 7000).startswith('FAIL')

    r = play([{MASQ: {'networks': [NET]}}, {MASQ: {'networks': [NET]}}], toolchain=toolchain)
    assert r[0]['changed'] and not r[0].get('failed'), r[0]
    assert not r[1]['changed'], r[1]
    assert r[1]['actions'] == []
    assert ip_forward() == '1'
    with open(DROPIN) as f:
        assert f.read().strip().endswith('net.ipv4.ip_forward = 1')
    # container -> outside is seen as the host's uplink address
    assert world.probe('c1', 'tcp', '198.51.100.1', 7000) == 'outside 10.0.0.1'
    assert world.probe('c2', 'tcp', '198.51.100.1', 7000) == 'outside 10.0.0.1'
    rules = our_rules()
    assert [(r[0], r[1].split('#')[0]) for r in rules] == [('postrouting', 'linuxnet:masq/br0')]

    # teardown: no table, no drop-in; ip_forward left as it is
    r = play([{MASQ: {'networks': [{'name': 'br0'}], 'state': 'absent'}},
              {MASQ: {'networks': [{'name': 'br0'}], 'state': 'absent'}}], toolchain=toolchain)
    assert r[0]['changed'] and not r[1]['changed'], r
    assert 'table inet linuxnet' not in nft_tables()
    assert not os.path.exists(DROPIN)
    # without masquerade the outside server sees the container's own address
    assert world.probe('c1', 'tcp', '198.51.100.1', 7000) == 'outside 172.18.0.10'


def test_masquerade_any_prefix_length(world, play):
    """A /20 (mask 255.255.240.0) covers 172.18.0.10 but a /29 elsewhere does not."""
    world.serve('outside', 'tcp', 7000)
    r = play([{MASQ: {'networks': [{'name': 'n20', 'subnet': '172.18.0.0/20', 'bridge': 'br0'},
                                   {'name': 'n29', 'subnet': '172.18.16.0/29',
                                    'bridge': 'br9'}]}}])
    assert r[0]['changed'], r
    assert world.probe('c1', 'tcp', '198.51.100.1', 7000) == 'outside 10.0.0.1'
    text = subprocess.run(['nft', 'list', 'table', 'inet', 'linuxnet'], capture_output=True,
                          text=True, check=True).stdout
    assert 'ip saddr 172.18.0.0/20 oifname != "br0" masquerade' in text
    assert 'ip saddr 172.18.16.0/29 oifname != "br9" masquerade' in text
    # only n29: 172.18.0.10 is outside 172.18.16.0/29 and is not masqueraded any more
    r = play([{MASQ: {'networks': [{'name': 'n20'}], 'state': 'absent'}}])
    assert r[0]['changed']
    assert world.probe('c1', 'tcp', '198.51.100.1', 7000) == 'outside 172.18.0.10'
    # the drop-in stays while a masqueraded network (n29) remains
    assert os.path.exists(DROPIN)
    r = play([{MASQ: {'networks': [{'name': 'n29'}], 'state': 'absent'}}])
    assert r[0]['changed'] and not os.path.exists(DROPIN)
    assert 'table inet linuxnet' not in nft_tables()


def test_masquerade_check_mode_and_diff(world, play):
    r = play([{MASQ: {'networks': [NET]}}], check=True, diff=True)
    assert r[0]['changed'], r
    assert 'table inet linuxnet' not in nft_tables()
    assert ip_forward() == '0' and not os.path.exists(DROPIN)
    diff = r[0]['diff']
    assert 'masquerade' not in diff['before']
    assert 'ip saddr 172.18.0.0/16 oifname != "br0" masquerade comment "linuxnet:masq/br0#' \
        in diff['after']
    assert 'sysctl net.ipv4.ip_forward = 0' in diff['before']
    assert 'sysctl net.ipv4.ip_forward = 1' in diff['after']
    real = play([{MASQ: {'networks': [NET]}}], diff=True)
    assert real[0]['diff'] == diff and real[0]['actions'] == r[0]['actions']
    again = play([{MASQ: {'networks': [NET]}}], check=True, diff=True)
    assert not again[0]['changed'] and again[0]['diff']['before'] == again[0]['diff']['after']


def test_masquerade_changed_subnet_replaces_only_its_rule(world, play):
    other = {'name': 'other', 'subnet': '10.88.0.0/24', 'bridge': 'br1'}
    play([{MASQ: {'networks': [NET, other]}}])
    before = dict((m.split('#')[0], h) for c, m, h in our_rules())
    r = play([{MASQ: {'networks': [dict(NET, subnet='172.18.0.0/17')]}}])
    assert [a['op'] for a in r[0]['actions']] == ['delete_rule', 'add_rule'], r[0]['actions']
    after = dict((m.split('#')[0], h) for c, m, h in our_rules())
    assert after['linuxnet:masq/other'] == before['linuxnet:masq/other']
    assert after['linuxnet:masq/br0'] != before['linuxnet:masq/br0']


def test_masquerade_validation_changes_nothing(play):
    bad = [
        ({'name': 'x', 'subnet': '172.18.0.0/33', 'bridge': 'br0'}, "networks[1].subnet: '172.18.0.0/33'"),
        ({'name': 'x', 'subnet': 'fd00::/64', 'bridge': 'br0'}, 'IPv6'),
        ({'name': 'x', 'subnet': '172.18.0.0/24', 'bridge': 'br0'}, 'overlaps network br0'),
        ({'name': 'x', 'subnet': '10.1.0.0/24', 'bridge': 'a-very-long-bridge-name'},
         "networks[1].bridge: 'a-very-long-bridge-name' is 23 bytes long"),
        ({'name': 'x', 'subnet': '10.1.0.0/24', 'bridge': 'br:1'},
         "networks[1].bridge: 'br:1' is not a valid interface name"),
        ({'name': 'x', 'subnet': '10.1.0.1/24', 'bridge': 'br1'},
         "networks[1].subnet: '10.1.0.1/24' has host bits set; write the network address "
         '10.1.0.0/24'),
        ({'name': 'x y', 'subnet': '10.1.0.0/24', 'bridge': 'br0'}, "networks[1].name: 'x y'"),
        ({'name': 'x'}, 'networks[1].subnet: missing'),
    ]
    for item, words in bad:
        r = play([{MASQ: {'networks': [NET, item]}, 'ignore_errors': True}])
        assert r[0]['_status'] == 'failed', (item, r)
        assert words in r[0]['msg'], (words, r[0]['msg'])
        assert 'table inet linuxnet' not in nft_tables()
        assert ip_forward() == '0'


def test_failed_batch_changes_nothing():
    """One nfnetlink batch is all or nothing: a bad last message undoes the first ones."""
    from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_expr
    from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_socket as n
    with n.NftSocket() as s:
        ops = [n.BatchOp('newtable', 'linuxnet'),
               n.BatchOp('newchain', 'linuxnet', 'postrouting', hook=4, priority=100, ctype='nat'),
               n.BatchOp('newrule', 'linuxnet', 'postrouting', exprs=[nft_expr.masq()],
                         comment='linuxnet:x#1'),
               n.BatchOp('delrule', 'linuxnet', 'postrouting', handle=999)]
        with pytest.raises(n.NetlinkError):
            s.batch(ops)
        assert not s.dump_table('linuxnet').exists
        s.batch(ops[:3])
        st = s.dump_table('linuxnet')
        assert [(r.chain, r.comment, r.text) for r in st.rules] == [
            ('postrouting', 'linuxnet:x#1', 'masquerade')]
    assert 'table ip linuxnet' in nft_tables()
