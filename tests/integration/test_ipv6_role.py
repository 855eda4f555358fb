# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role on dual stack (issue 12), with real packets over both families.

A World with an IPv6 uplink (tests/firewalls.py: host 2001:db8:100::2, outside
2001:db8:100::1 with a whoami server); the role's network with
``container_bridge_network_ipv6_subnet: fd00:18::/64``. The seed's questions are asked
over IPv4 and IPv6 alike (container <-> container, host <-> container, container ->
outside masqueraded, outside -> published port, host -> its own published port, hairpin),
then: UDP, routed IPv6 (no NAT66), host_ip scoping on an IPv6 address, ingress
protection and isolation between two networks, idempotence, check mode, teardown.
"""
import os
import socket
import subprocess
import sys

import pytest

from conftest import ip, ipj
from test_role import changed, failed, role

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import firewalls  # noqa: E402  pylint: disable=wrong-import-position

HOST6, OUTSIDE6 = firewalls.World.HOST6, firewalls.World.OUTSIDE6
DROPIN6 = '/etc/sysctl.d/90-linuxnet-container-network-ipv6.conf'
CONTAINERS = [
    {'name': 'netns0', 'address': '172.18.0.10', 'ipv6_address': 'fd00:18::10',
     'host_ifname': 'veth0', 'ifname': 'ceth0'},
    {'name': 'netns1', 'address': '172.18.0.20', 'ipv6_address': 'fd00:18::20',
     'host_ifname': 'veth1', 'ifname': 'ceth1'},
]
VARS = {'container_bridge_network_ipv6_subnet': 'fd00:18::/64',
        'container_bridge_network_containers': CONTAINERS,
        'container_bridge_network_published_ports': [
            {'container': 'netns0', 'host_port': 5000, 'container_port': 5000},
            {'container': 'netns1', 'host_port': 5353, 'protocol': 'udp'}],
        'container_bridge_network_persistent': False}
UDP_ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(('::', int(sys.argv[1])))
print('ready', flush=True)
while True:
    data, peer = s.recvfrom(200)
    s.sendto(('%s %s' % (sys.argv[2], peer[0])).encode(), peer)
"""


def sysctl(path, ns=None):
    out = subprocess.run(firewalls.in_ns(ns, ['cat', '/proc/sys/net/' + path]),
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


def udp6(ns, addr, port, timeout=2.0):
    code = ("import socket,sys\ns=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n"
            "s.settimeout(%r)\ns.sendto(b'hi',(%r,%d))\n"
            "try:\n    print(s.recv(200).decode())\nexcept OSError:\n    sys.exit(1)\n"
            % (timeout, addr, port))
    out = subprocess.run(firewalls.in_ns(ns, [sys.executable, '-c', code]), capture_output=True,
                         text=True, check=False, timeout=timeout + 10)
    return out.stdout.strip() if out.returncode == 0 else None


@pytest.fixture
def world():
    with firewalls.World(ipv6=True) as w:
        yield w


def serve(world):
    world.serve_seed(ipv6_gateway='fd00:18::1')
    proc = firewalls.spawn(firewalls.in_ns('netns1', [sys.executable, '-c', UDP_ECHO, '5353',
                                                      'netns1']),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    world.procs.append(proc)
    assert proc.stdout.readline().strip() == 'ready'


def containers():
    """The named namespaces but the World's own."""
    return sorted(n['name'] for n in ipj('netns', 'list') if n['name'] != 'outside')


def network_result(results):
    [net] = [x for x in results if 'firewall' in x]
    return net


def test_dual_stack_seed_questions_on_both_families(play, world):
    checked = role(play, VARS, check=True, diff=True)
    assert not failed(checked) and changed(checked)
    assert containers() == []  # check mode changed nothing
    r = role(play, VARS, diff=True)
    assert not failed(r), failed(r)
    net, pred = network_result(r), network_result(checked)
    assert net['actions'] == pred['actions'] and net['diff'] == pred['diff']
    assert net['pairs']['veth0']['address6'] == 'fd00:18::10'
    # issue 22: the bridge's link-local address is usable the moment the run returns: the
    # kernel solicits a neighbour for a forwarded packet (a published port, routed traffic)
    # only from it, so while it was tentative (DAD, 1-2 s) the first connections were lost
    ll = [a for e in ipj('-6', 'addr', 'show', 'dev', 'br0') for a in e['addr_info']
          if a.get('scope') == 'link']
    assert ll and not any(a.get('tentative') for a in ll), ll
    assert sysctl('ipv6/conf/br0/accept_dad') == '0'
    serve(world)
    v4 = firewalls.seed_checks()
    v6 = firewalls.seed_checks(checks=firewalls.SEED_CHECKS6)
    assert firewalls.failing(v4) == [] and firewalls.failing(v6) == [], (v4, v6)
    # NAT66: the outside sees the host's IPv6 address; the container sees the outside's
    assert v6['container_to_outside'][1] == 'outside %s' % HOST6
    assert v6['outside_to_published'][1] == 'netns0 %s' % OUTSIDE6
    # hairpin: the container reached through the host's address sees the bridge's address
    assert v6['hairpin'][1] == 'netns0 fd00:18::1'
    # UDP, from outside and from the host, to the host's IPv6 address
    assert udp6('outside', HOST6, 5353) == 'netns1 %s' % OUTSIDE6
    assert udp6(None, HOST6, 5353) is not None
    # forwarding on; the bridge's and containers' addresses are not tentative
    assert sysctl('ipv6/conf/all/forwarding') == '1'
    assert os.path.exists(DROPIN6)
    for ns, dev in ((None, 'br0'), ('netns0', 'ceth0')):
        infos = [a for e in ipj('-6', 'addr', 'show', 'dev', dev, ns=ns)
                 for a in e['addr_info'] if a.get('scope') == 'global']
        assert infos and not any(a.get('tentative') for a in infos), infos
    again = role(play, VARS)
    assert not changed(again) and not failed(again)
    # teardown: nothing of it left, forwarding back to what it was
    down = role(play, dict(VARS, container_bridge_network_state='absent'))
    assert not failed(down)
    assert sysctl('ipv6/conf/all/forwarding') == '0'
    assert not os.path.exists(DROPIN6)
    assert containers() == [] and 'br0' not in [l['ifname'] for l in ipj('link')]
    assert subprocess.run(['nft', 'list', 'table', 'inet', 'linuxnet'], capture_output=True,
                          check=False).returncode != 0


def test_without_nat66_the_outside_sees_the_container_address(play, world):
    r = role(play, dict(VARS, container_bridge_network_ipv6_masquerade=False))
    assert not failed(r), failed(r)
    serve(world)
    # the upstream routes the containers' subnet back to the host
    ip('-6', 'route', 'add', 'fd00:18::/64', 'via', HOST6, ns='outside')
    assert world.fetch('netns0', OUTSIDE6, 8080) == 'outside fd00:18::10'
    assert world.fetch('netns0', world.OUTSIDE, 8080) == 'outside %s' % world.HOST  # IPv4 NAT
    assert 'masq/br0/6' not in ' '.join(network_result(r)['rules'])
    assert sysctl('ipv6/conf/all/forwarding') == '1'
    # turning NAT66 on again is one change; the outside then sees the host
    r = role(play, VARS)
    assert not failed(r) and changed(r)
    assert world.fetch('netns0', OUTSIDE6, 8080) == 'outside %s' % HOST6


def test_host_ip_scopes_a_publication_to_one_ipv6_address(play, world):
    ip('addr', 'add', '2001:db8:100::15/64', 'dev', 'uplink', 'nodad')
    pubs = [{'container': 'netns0', 'host_port': 5001, 'container_port': 5000,
             'host_ip': '2001:db8:100::15'}]
    r = role(play, dict(VARS, container_bridge_network_published_ports=pubs))
    assert not failed(r), failed(r)
    serve(world)
    assert world.fetch('outside', '2001:db8:100::15', 5001) == 'netns0 %s' % OUTSIDE6
    assert world.fetch(None, '2001:db8:100::15', 5001) is not None
    for ns, addr in (('outside', HOST6), ('outside', world.HOST), (None, HOST6)):
        assert world.fetch(ns, addr, 5001, timeout=1) is None, (ns, addr)


def test_ingress_protection_and_isolation_on_ipv6(play, world):
    assert not failed(role(play, VARS))
    other = {'container_bridge_network_bridge': 'br1',
             'container_bridge_network_subnet': '172.19.0.0/16',
             'container_bridge_network_gateway': '172.19.0.1',
             'container_bridge_network_ipv6_subnet': 'fd00:19::/64',
             'container_bridge_network_containers': [{'name': 'other', 'address': '172.19.0.10',
                                                      'ipv6_address': 'fd00:19::10'}],
             'container_bridge_network_published_ports': [],
             'container_bridge_network_persistent': False}
    assert not failed(role(play, other))
    serve(world)
    ip('-6', 'route', 'add', 'fd00:18::/64', 'via', HOST6, ns='outside')
    # straight at a container from outside: dropped (its published port gets in)
    assert world.fetch('outside', 'fd00:18::10', 5000, timeout=1) is None
    assert world.fetch('outside', HOST6, 5000) == 'netns0 %s' % OUTSIDE6
    # from the other network: not straight at the container, only through the published port
    assert world.fetch('other', 'fd00:18::10', 5000, timeout=1) is None
    assert world.fetch('other', HOST6, 5000) is not None
    # the protection is what stops them: without our forward rules they get in
    subprocess.run(['nft', 'flush', 'chain', 'inet', 'linuxnet', 'forward'], check=True)
    assert world.fetch('outside', 'fd00:18::10', 5000) == 'netns0 %s' % OUTSIDE6
    # one network's teardown keeps the other's IPv6 forwarding
    assert not failed(role(play, dict(other, container_bridge_network_state='absent')))
    assert sysctl('ipv6/conf/all/forwarding') == '1'
    assert not failed(role(play, dict(VARS, container_bridge_network_state='absent')))
    assert sysctl('ipv6/conf/all/forwarding') == '0'


@pytest.mark.parametrize('bad, message', [
    ({'container_bridge_network_ipv6_subnet': 'fd00:18::/128'},
     "container_bridge_network_ipv6_subnet: 'fd00:18::/128' is too small"),
    ({'container_bridge_network_ipv6_subnet': '172.30.0.0/16'},
     "container_bridge_network_ipv6_subnet: '172.30.0.0/16' is not an IPv6 subnet"),
    ({'container_bridge_network_ipv6_subnet': None},
     "container_bridge_network_containers[0].ipv6_address: 'fd00:18::10' is given but the "
     "network has no ipv6_subnet"),
])
def test_bad_ipv6_variables_fail_before_any_change(play, bad, message):
    r = role(play, dict(VARS, **bad))
    [f] = failed(r)
    assert message in f['msg']
    assert containers() == [] and 'br0' not in [l['ifname'] for l in ipj('link')]
    assert socket.has_ipv6


def test_a_bridge_below_1280_is_refused_with_its_fix(play):
    """A bridge the admin left at MTU 1200 cannot carry IPv6: the run says so and what to do,
    and leaves nothing behind; raised to 1280, the same run succeeds."""
    ip('link', 'add', 'br0', 'type', 'bridge')
    ip('link', 'set', 'br0', 'mtu', '1200')
    r = role(play, VARS)
    [f] = failed(r)
    assert "bridge 'br0' has MTU 1200, below the 1280 IPv6 needs" in f['msg']
    assert 'ip link set br0 mtu 1500' in f['msg']
    assert containers() == []
    assert [a for e in ipj('addr', 'show', 'dev', 'br0') for a in e['addr_info']] == []
    ip('link', 'set', 'br0', 'mtu', '1280')
    assert not failed(role(play, VARS))
