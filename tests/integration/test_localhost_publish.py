# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing on the host's loopback only (``host_ip: 127.0.0.1``), as ``docker run -p
127.0.0.1:5432:5432`` does, with real packets (issue 15).

The role's network with a World (tests/firewalls.py: an ``outside`` namespace behind the
uplink). The host reaches the containers through 127.0.0.1 (TCP and UDP); the outside and
the other containers do not, through any address; a neighbour that routes 127.0.0.0/8 at
the host reaches neither the published port nor a service the host binds to 127.0.0.1
(CVE-2020-8558) because of the guard rule, and does once the guard is taken away.
"""
import os
import socket
import subprocess
import sys

import pytest

from conftest import ip
from test_role import changed, failed, role

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import firewalls  # noqa: E402  pylint: disable=wrong-import-position

HOST = firewalls.World.HOST
LOCAL_PORTS = [
    {'container': 'netns0', 'host_port': 5432, 'container_port': 5000, 'host_ip': '127.0.0.1'},
    {'container': 'netns1', 'host_port': 5353, 'protocol': 'udp', 'host_ip': '127.0.0.1'},
]
VARS = {'container_bridge_network_published_ports': LOCAL_PORTS,
        'container_bridge_network_persistent': False}
UDP_ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', int(sys.argv[1])))
print('ready', flush=True)
while True:
    data, peer = s.recvfrom(200)
    s.sendto(b'%s %s' % (sys.argv[2].encode(), peer[0].encode()), peer)
"""


def sysctl(name, ns=None):
    path = '/proc/sys/net/ipv4/conf/%s/route_localnet' % name
    cmd = ['cat', path]
    out = subprocess.run((['ip', 'netns', 'exec', ns] if ns else []) + cmd, capture_output=True,
                         text=True, check=False)
    return out.stdout.strip() or None


def udp(addr, port, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(b'hello', (addr, port))
        return s.recv(200).decode()
    except OSError:
        return None
    finally:
        s.close()


def our_rules():
    return subprocess.run(['nft', 'list', 'table', 'inet', 'linuxnet'], capture_output=True,
                          text=True, check=False).stdout


@pytest.fixture
def world():
    with firewalls.World() as w:
        yield w


def serve(world):
    """whoami in netns0:5000, a UDP echo in netns1:5353, and a service of the host bound
    to 127.0.0.1:7100 (what the guard protects)."""
    world.serve('netns0', '0.0.0.0', 5000, 'netns0')
    world.serve(None, '127.0.0.1', 7100, 'host-loopback')
    proc = firewalls.spawn(firewalls.in_ns('netns1', [sys.executable, '-c', UDP_ECHO, '5353',
                                                      'netns1']),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    world.procs.append(proc)
    assert proc.stdout.readline().strip() == 'ready'


def route_loopback_via(ns, dev, gateway):
    """Make namespace NS send 127.0.0.0/8 to GATEWAY through DEV, as a hostile neighbour
    on that link would (its own route_localnet on; its local rule moved after ours)."""
    for cmd in (['sysctl', '-qw', 'net.ipv4.conf.%s.route_localnet=1' % dev],
                ['ip', 'rule', 'add', 'pref', '100', 'lookup', 'local'],
                ['ip', 'rule', 'del', 'pref', '0'],
                ['ip', 'rule', 'add', 'pref', '10', 'to', '127.0.0.0/8', 'lookup', '100'],
                ['ip', 'route', 'add', '127.0.0.0/8', 'via', gateway, 'dev', dev, 'table', '100']):
        subprocess.run(['ip', 'netns', 'exec', ns] + cmd, check=True)


def test_published_on_localhost_reaches_the_containers_from_the_host_only(play, world):
    checked = role(play, VARS, check=True, diff=True)
    assert not failed(checked) and changed(checked)
    r = role(play, VARS, diff=True)
    assert not failed(r), failed(r)
    [net] = [x for x in r if 'firewall' in x]
    [pred] = [x for x in checked if 'firewall' in x]
    assert net['actions'] == pred['actions'] and net['diff'] == pred['diff']
    assert 'sysctl net.ipv4.conf.br0.route_localnet = 1' in net['diff']['after']['port_publish']
    serve(world)
    # the host, through 127.0.0.1: TCP and UDP; the container sees the bridge's address
    assert world.fetch(None, '127.0.0.1', 5432) == 'netns0 172.18.0.1'
    assert udp('127.0.0.1', 5353) == 'netns1 172.18.0.1'
    # nobody else, through any address of the host
    for ns, addr in (('outside', HOST), ('netns1', HOST), ('netns1', '172.18.0.1'),
                     (None, HOST), (None, '172.18.0.1')):
        assert world.fetch(ns, addr, 5432, timeout=1) is None, (ns, addr)
    assert udp(HOST, 5353, timeout=1) is None
    # route_localnet on this bridge only
    assert (sysctl('br0'), sysctl('all'), sysctl('uplink')) == ('1', '0', '0')
    again = role(play, VARS)
    assert not changed(again) and not failed(again)


def test_a_neighbour_routing_127_at_the_host_is_stopped_by_the_guard(play, world):
    assert not failed(role(play, VARS))
    serve(world)
    route_loopback_via('netns1', 'ceth1', '172.18.0.1')
    route_loopback_via('outside', 'wan', world.HOST)
    for ns in ('netns1', 'outside'):
        assert world.fetch(ns, '127.0.0.1', 7100, timeout=1) is None, ns
        assert world.fetch(ns, '127.0.0.1', 5432, timeout=1) is None, ns
    assert world.fetch(None, '127.0.0.1', 7100) == 'host-loopback 127.0.0.1'
    # without the guard, the container on the bridge (route_localnet there) gets in: the
    # guard is what stops it
    handle = [line.split('# handle ')[1] for line in subprocess.run(
        ['nft', '-a', 'list', 'chain', 'inet', 'linuxnet', 'guard'], capture_output=True,
        text=True, check=True).stdout.splitlines() if 'localhost-guard' in line][0]
    subprocess.run(['nft', 'delete', 'rule', 'inet', 'linuxnet', 'guard', 'handle', handle],
                   check=True)
    assert (world.fetch('netns1', '127.0.0.1', 7100, timeout=1) or '').startswith(
        'host-loopback ')
    # a rerun puts it back
    r = role(play, VARS)
    assert [x['_task'] for x in r if x.get('changed')] and not failed(r)
    assert world.fetch('netns1', '127.0.0.1', 7100, timeout=1) is None


def test_removing_the_last_localhost_publication_turns_route_localnet_off(play, world):
    assert not failed(role(play, VARS))
    assert sysctl('br0') == '1' and 'localhost-guard' in our_rules()
    others = {'container_bridge_network_published_ports': [
        {'container': 'netns0', 'host_port': 5000}], 'container_bridge_network_persistent': False}
    r = role(play, others)
    assert not failed(r) and changed(r)
    assert sysctl('br0') == '0'
    rules = our_rules()
    assert 'localhost' not in rules and '127.0.0.1' not in rules
    serve(world)
    assert world.fetch(None, '127.0.0.1', 5432, timeout=1) is None
    assert (world.fetch('outside', HOST, 5000) or '').startswith('netns0 ')
    # teardown: nothing left, the bridge (and its setting) gone
    assert not failed(role(play, VARS))
    assert not failed(role(play, dict(VARS, container_bridge_network_state='absent')))
    assert sysctl('br0') is None and our_rules() == ''
    assert (sysctl('all'), sysctl('default')) == ('0', '0')


def test_a_localhost_port_colliding_with_an_all_addresses_one_is_refused_first(play):
    before = ip('-j', 'link')
    bad = {'container_bridge_network_published_ports': LOCAL_PORTS + [
        {'container': 'netns1', 'host_port': 5432}]}
    r = role(play, bad)
    [f] = failed(r)
    assert 'container_bridge_network_published_ports[2]' in f['msg'], f['msg']
    assert 'overlaps' in f['msg']
    assert ip('-j', 'link') == before and our_rules() == ''
