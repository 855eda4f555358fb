# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv6 in the NAT layer (issue 12): masquerade and port_publish on a real kernel, with
real packets, each test in its own private namespace.

The world: tests/firewalls.py's ``World(ipv6=True)`` (uplink ``uplink``: host
198.51.100.2/24 and 2001:db8:100::2/64, netns ``outside`` 198.51.100.1 and
2001:db8:100::1 with whoami servers on port 8080, the host's default routes), plus,
built here with ``ip`` (the L2 modules' IPv6 is built elsewhere): a second host address
2001:db8:100::3 on the uplink, bridge ``br0`` (172.18.0.1/16, fd00:18::1/64), netns
``c1`` (172.18.0.10, fd00:18::10) and ``c2`` (172.18.0.20, fd00:18::20) on it, and the
outside's route to fd00:18::/64 via the host (so a container is reachable unmasqueraded,
and "direct access" to it is really attempted). Every IPv6 address skips duplicate
address detection (usable at once).

Servers answer ``<label> <source address they see>``: every probe tells who answered and
which source address reached it.
"""
import os
import subprocess
import sys
import time

import pytest

from conftest import ip, run_in

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import firewalls  # noqa: E402  pylint: disable=wrong-import-position

MASQ = 'linuxnet.container_network.masquerade'
PUB = 'linuxnet.container_network.port_publish'
DROPIN = '/etc/sysctl.d/90-linuxnet-container-network.conf'
DROPIN6 = '/etc/sysctl.d/90-linuxnet-container-network-ipv6.conf'
HOST6, OUTSIDE6 = firewalls.World.HOST6, firewalls.World.OUTSIDE6
HOST, OUTSIDE = firewalls.World.HOST, firewalls.World.OUTSIDE
HOST6_B = '2001:db8:100::3'
NET = {'name': 'br0', 'subnet': '172.18.0.0/16', 'ipv6_subnet': 'fd00:18::/64', 'bridge': 'br0'}
C1, C2 = ('172.18.0.10', 'fd00:18::10'), ('172.18.0.20', 'fd00:18::20')
DROPPED = ('FAIL timeout', 'FAIL TimeoutError')  # no answer at all (Python 2/3.10+ names)

SERVER = r'''
import socket, sys
proto, addr, port, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == 'tcp' else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind((addr, port))
if proto == 'tcp':
    s.listen(64)
print('ready', flush=True)
while True:
    if proto == 'tcp':
        c, a = s.accept()
        c.sendall(('%s %s\n' % (name, a[0])).encode())
        c.close()
    else:
        d, a = s.recvfrom(100)
        s.sendto(('%s %s\n' % (name, a[0])).encode(), a)
'''

CLIENT = r'''
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
try:
    if proto == 'tcp':
        s = socket.create_connection((host, port), timeout=1.5)
        s.settimeout(1.5)
        print(s.recv(100).decode().strip())
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(1.5)
        s.sendto(b'x', (host, port))
        print(s.recv(100).decode().strip())
except Exception as e:
    print('FAIL %s' % e.__class__.__name__)
'''

# a router advertisement (ICMPv6 134: hop limit 64, router lifetime 1800 s, no options)
# from the sender's link-local address to all nodes: the kernel checksums it
SEND_RA = r'''
import socket, struct, sys
idx = socket.if_nametoindex(sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
s.sendto(struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 1800, 0, 0), ('ff02::1', 0, 0, idx))
'''


class Lab(object):
    """World(ipv6=True) plus the dual-stack bridge network (module docstring)."""

    def __init__(self):
        self.world = firewalls.World(ipv6=True)
        self.world.open()
        self.servers = []
        ip('addr', 'add', HOST6_B + '/64', 'dev', 'uplink', 'nodad')
        ip('-6', 'route', 'add', 'fd00:18::/64', 'via', HOST6, ns='outside')
        ip('route', 'add', '172.18.0.0/16', 'via', HOST, ns='outside')
        ip('link', 'add', 'br0', 'type', 'bridge')
        ip('addr', 'add', '172.18.0.1/16', 'dev', 'br0')
        ip('addr', 'add', 'fd00:18::1/64', 'dev', 'br0', 'nodad')
        ip('link', 'set', 'br0', 'up')
        for ns, (a4, a6) in (('c1', C1), ('c2', C2)):
            ip('netns', 'add', ns)
            ip('link', 'set', 'lo', 'up', ns=ns)
            ip('link', 'add', 'v' + ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
            ip('link', 'set', 'v' + ns, 'master', 'br0', 'up')
            ip('addr', 'add', a4 + '/16', 'dev', 'eth0', ns=ns)
            ip('addr', 'add', a6 + '/64', 'dev', 'eth0', 'nodad', ns=ns)
            ip('link', 'set', 'eth0', 'up', ns=ns)
            ip('route', 'add', 'default', 'via', '172.18.0.1', ns=ns)
            ip('-6', 'route', 'add', 'default', 'via', 'fd00:18::1', ns=ns)
        for _attempt in range(50):
            if all('forwarding' in ip('-d', 'link', 'show', 'v' + ns) for ns in ('c1', 'c2')):
                break
            time.sleep(0.1)

    def serve(self, ns, proto, addr, port, name=None):
        cmd = ([] if ns is None else ['ip', 'netns', 'exec', ns]) + [
            sys.executable, '-c', SERVER, proto, addr, str(port), name or ns or 'host']
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.servers.append(p)
        assert p.stdout.readline().strip() == 'ready'
        return p

    @staticmethod
    def probe(ns, proto, host, port):
        """What the server at host:port answers to a client in ns (None: the host)."""
        return run_in(ns, sys.executable, '-c', CLIENT, proto, host, str(port),
                      timeout=15).stdout.strip()

    def close(self):
        for p in self.servers:
            p.kill()
            p.wait()
            p.stdout.close()
        self.world.close()


@pytest.fixture
def lab():
    w = Lab()
    yield w
    w.close()


def sysctl(key):
    with open('/proc/sys/' + key.replace('.', '/')) as f:
        return f.read().strip()


def nft_text():
    """`nft list table inet linuxnet` (empty when there is none)."""
    proc = subprocess.run(['nft', 'list', 'table', 'inet', 'linuxnet'], capture_output=True,
                          text=True, check=False)
    return proc.stdout if proc.returncode == 0 else ''


def listed_as_computed(rules):
    """Every IPv6 rule line a module returned (``chain: TEXT comment "TAG"``) is a line of
    `nft list`, word for word: the text we hash and diff is the kernel's."""
    listed = set(line.strip() for line in nft_text().splitlines())
    six = [r for r in rules if ' ip6 ' in r]
    assert six
    missing = [r for r in six if r.split(': ', 1)[1] not in listed]
    assert not missing, (missing, nft_text())


def failed(r):
    return r.get('_status') == 'failed' or r.get('failed')


# ------------------------------------------------------------------ masquerade
def test_ipv6_masquerade_routed_and_teardown_restores_forwarding(lab, play):
    assert sysctl('net.ipv6.conf.all.forwarding') == '0'
    # no forwarding yet: the container does not get out
    assert lab.probe('c1', 'tcp', OUTSIDE6, 8080).startswith('FAIL')

    r = play([{MASQ: {'networks': [NET]}}, {MASQ: {'networks': [NET]}}])
    assert r[0]['changed'] and not failed(r[0]), r[0]
    assert not r[1]['changed'] and r[1]['actions'] == [], r[1]
    assert [a['target'] for a in r[0]['actions'] if a['op'] == 'set_sysctl'] == [
        'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']
    assert sysctl('net.ipv6.conf.all.forwarding') == '1'
    with open(DROPIN6) as f:
        text = f.read()
    assert '# networks: br0\n' in text and '# found: net.ipv6.conf.all.forwarding=0\n' in text
    assert text.endswith('net.ipv6.conf.all.forwarding = 1\n')
    # NAT66: the outside sees the host's uplink address; IPv4 as before
    assert lab.probe('c1', 'tcp', OUTSIDE6, 8080) in ('outside ' + HOST6, 'outside ' + HOST6_B)
    assert lab.probe('c2', 'tcp', OUTSIDE, 8080) == 'outside ' + HOST
    assert 'ip6 saddr fd00:18::/64 oifname != "br0" masquerade comment "linuxnet:masq/br0/6#' \
        in nft_text()
    listed_as_computed(r[0]['rules'])

    # routed, not masqueraded: the outside (which routes the subnet back) sees the container
    routed = dict(NET, ipv6_masquerade=False)
    r = play([{MASQ: {'networks': [routed]}}, {MASQ: {'networks': [routed]}}])
    assert [a['op'] for a in r[0]['actions']] == ['delete_rule'], r[0]
    assert not r[1]['changed'], r[1]
    assert lab.probe('c1', 'tcp', OUTSIDE6, 8080) == 'outside ' + C1[1]
    assert lab.probe('c1', 'tcp', OUTSIDE, 8080) == 'outside ' + HOST  # IPv4 still NATed
    assert sysctl('net.ipv6.conf.all.forwarding') == '1' and os.path.exists(DROPIN6)

    # the IPv6 subnet removed: forwarding back to what it was, the drop-in gone
    r = play([{MASQ: {'networks': [dict(NET, ipv6_subnet=None)]}}])
    assert r[0]['changed'], r[0]
    assert sysctl('net.ipv6.conf.all.forwarding') == '0' and not os.path.exists(DROPIN6)
    assert sysctl('net.ipv4.ip_forward') == '1' and os.path.exists(DROPIN)

    # back, then teardown: nothing left
    play([{MASQ: {'networks': [NET]}}])
    assert sysctl('net.ipv6.conf.all.forwarding') == '1'
    r = play([{MASQ: {'networks': [{'name': 'br0'}], 'state': 'absent'}},
              {MASQ: {'networks': [{'name': 'br0'}], 'state': 'absent'}}])
    assert r[0]['changed'] and not r[1]['changed'], r
    assert nft_text() == ''
    assert sysctl('net.ipv6.conf.all.forwarding') == '0'
    assert not os.path.exists(DROPIN6) and not os.path.exists(DROPIN)


def test_ipv6_masquerade_check_mode_and_diff_are_honest(lab, play):
    # an IPv4-only network's diff says nothing about IPv6
    v4 = play([{MASQ: {'networks': [{'name': 'v4', 'subnet': '10.9.0.0/24', 'bridge': 'br9'}]}}],
              check=True, diff=True)
    assert 'ipv6' not in v4[0]['diff']['before'] + v4[0]['diff']['after']
    r = play([{MASQ: {'networks': [NET]}}], check=True, diff=True)
    assert r[0]['changed'], r
    assert nft_text() == '' and not os.path.exists(DROPIN6)
    assert sysctl('net.ipv6.conf.all.forwarding') == '0'
    diff = r[0]['diff']
    assert 'sysctl net.ipv6.conf.all.forwarding = 0' in diff['before']
    assert 'sysctl net.ipv6.conf.all.forwarding = 1' in diff['after']
    assert 'file %s: absent' % DROPIN6 in diff['before']
    assert 'file %s: present' % DROPIN6 in diff['after']
    assert 'ip6 saddr fd00:18::/64 oifname != "br0" masquerade' in diff['after']
    real = play([{MASQ: {'networks': [NET]}}], diff=True)
    assert real[0]['diff'] == diff and real[0]['actions'] == r[0]['actions']
    again = play([{MASQ: {'networks': [NET]}}], check=True, diff=True)
    assert not again[0]['changed'] and again[0]['diff']['before'] == again[0]['diff']['after']
    # teardown predicted: forwarding back to 0
    gone = play([{MASQ: {'networks': [{'name': 'br0'}], 'state': 'absent'}}], check=True,
                diff=True)
    assert 'sysctl net.ipv6.conf.all.forwarding = 0' in gone[0]['diff']['after']
    assert 'file %s: absent' % DROPIN6 in gone[0]['diff']['after']
    assert sysctl('net.ipv6.conf.all.forwarding') == '1'


def test_forwarding_keeps_the_default_route_learned_from_router_advertisements(play, toolchain):
    """A real router advertisement (netns rtr) gives the host its IPv6 default route on
    ``ra0`` (accept_ra 1). Turning forwarding on would make the kernel drop it; the module
    sets accept_ra 2 first, and puts both back on teardown."""
    ip('netns', 'add', 'rtr')
    ip('link', 'add', 'ra0', 'type', 'veth', 'peer', 'name', 'wan', 'netns', 'rtr')
    run_in('rtr', 'sysctl', '-qw', 'net.ipv6.conf.wan.accept_dad=0')
    subprocess.run(['sysctl', '-qw', 'net.ipv6.conf.ra0.accept_dad=0'], check=True)
    subprocess.run(['sysctl', '-qw', 'net.ipv6.conf.ra0.accept_ra=1'], check=True)
    ip('link', 'set', 'ra0', 'up')
    ip('link', 'set', 'wan', 'up', ns='rtr')
    ip('link', 'add', 'br0', 'type', 'bridge')

    def advertise():
        for _attempt in range(30):
            run_in('rtr', sys.executable, '-c', SEND_RA, 'wan', check=False)  # link-local yet?
            time.sleep(0.1)
            if 'proto ra' in ip('-6', 'route', 'show', 'default'):
                return
        raise AssertionError('no route from the router advertisement')

    # the kernel's own behaviour, which the module exists for: forwarding on, RA route gone
    advertise()
    subprocess.run(['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1'], check=True)
    assert 'proto ra' not in ip('-6', 'route', 'show', 'default')
    subprocess.run(['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=0'], check=True)
    advertise()

    net = {'name': 'br0', 'ipv6_subnet': 'fd00:18::/64', 'bridge': 'br0'}  # IPv6 only
    r = play([{MASQ: {'networks': [net]}}, {MASQ: {'networks': [net]}}], diff=True,
             toolchain=toolchain)
    assert r[0]['changed'] and not r[1]['changed'], r
    assert [(a['target'], a['value']) for a in r[0]['actions'] if a['op'] == 'set_sysctl'] == [
        ('net.ipv6.conf.ra0.accept_ra', '2'), ('net.ipv6.conf.all.forwarding', '1')]
    assert 'sysctl net.ipv6.conf.ra0.accept_ra = 1' in r[0]['diff']['before']
    assert 'sysctl net.ipv6.conf.ra0.accept_ra = 2' in r[0]['diff']['after']
    assert sysctl('net.ipv6.conf.ra0.accept_ra') == '2'
    assert sysctl('net.ipv6.conf.all.forwarding') == '1'
    assert sysctl('net.ipv4.ip_forward') == '0'  # an IPv6-only network
    assert 'proto ra' in ip('-6', 'route', 'show', 'default')
    with open(DROPIN6) as f:
        text = f.read()
    assert '# found: net.ipv6.conf.ra0.accept_ra=1\n' in text
    assert text.index('net.ipv6.conf.ra0.accept_ra = 2') < text.index(
        'net.ipv6.conf.all.forwarding = 1')
    # still learning: a new advertisement is taken while forwarding
    ip('-6', 'route', 'flush', 'proto', 'ra')
    advertise()

    r = play([{MASQ: {'networks': [{'name': 'br0'}], 'state': 'absent'}}], toolchain=toolchain)
    assert [(a['target'], a.get('value')) for a in r[0]['actions']
            if a['op'] in ('set_sysctl', 'remove_file')] == [
        ('net.ipv6.conf.all.forwarding', '0'), ('net.ipv6.conf.ra0.accept_ra', '1'),
        (DROPIN6, None)], r[0]
    assert sysctl('net.ipv6.conf.ra0.accept_ra') == '1'
    assert sysctl('net.ipv6.conf.all.forwarding') == '0'
    assert not os.path.exists(DROPIN6)
    assert 'proto ra' in ip('-6', 'route', 'show', 'default')


# ------------------------------------------------------------------ port_publish
def pub_task(pubs, **kw):
    args = {'network': 'br0', 'bridge': 'br0', 'subnet': '172.18.0.0/16',
            'ipv6_subnet': 'fd00:18::/64', 'publications': pubs}
    args.update(kw)
    return {PUB: args}


PUBS = [
    {'host_port': 5000, 'container_address': C1[0], 'container_ipv6_address': C1[1]},
    {'host_port': 5353, 'container_port': 53, 'protocol': 'udp', 'container_address': C1[0],
     'container_ipv6_address': C1[1]},
    {'host_port': 5001, 'host_ip': HOST6_B, 'container_address': C2[0],
     'container_ipv6_address': C2[1]},
]


def test_ipv6_published_ports_hairpin_scoping_ingress(lab, play):
    lab.serve('c1', 'tcp', '0.0.0.0', 5000)
    lab.serve('c1', 'tcp', '::', 5000)
    lab.serve('c1', 'udp', '::', 53)
    lab.serve('c2', 'tcp', '::', 5001)
    lab.serve('c2', 'tcp', '::', 6000)
    lab.serve('c2', 'tcp', '0.0.0.0', 5001)
    # before: nothing published (nothing listens on the host)
    assert lab.probe('outside', 'tcp', HOST6, 5000).startswith('FAIL')

    tasks = [{MASQ: {'networks': [NET]}}, pub_task(PUBS)]
    r = play(tasks + tasks)
    assert r[1]['changed'] and not failed(r[1]), r[1]
    assert not r[2]['changed'] and not r[3]['changed'], r[2:]
    rids = sorted(a['target'].split(': ')[1] for a in r[1]['actions'] if a['op'] == 'add_rule')
    assert rids == sorted([
        'pub/br0/tcp/*/5000/pre', 'pub/br0/tcp/*/5000/out',
        'pub/br0/tcp/*6/5000/pre', 'pub/br0/tcp/*6/5000/out',
        'pub/br0/udp/*/5353/pre', 'pub/br0/udp/*/5353/out',
        'pub/br0/udp/*6/5353/pre', 'pub/br0/udp/*6/5353/out',
        'pub/br0/tcp/%s/5001/pre' % HOST6_B, 'pub/br0/tcp/%s/5001/out' % HOST6_B,
        'pub/br0/hairpin', 'pub/br0/hairpin6', 'pub/br0/ingress', 'pub/br0/ingress6'])
    listed_as_computed(r[1]['rules'] + r[0]['rules'])
    text = nft_text()
    assert 'fib daddr type local ip6 daddr != ::1 tcp dport 5000 dnat ip6 to [fd00:18::10]:5000' \
        in text
    assert 'ip6 daddr fd00:18::/64 iifname != "br0" ct state ! established,related ' \
        'ct status ! dnat drop' in text

    # outside -> the host's IPv6 address: DNAT, the container sees the client; UDP too
    assert lab.probe('outside', 'tcp', HOST6, 5000) == 'c1 ' + OUTSIDE6
    assert lab.probe('outside', 'udp', HOST6, 5353) == 'c1 ' + OUTSIDE6
    assert lab.probe('outside', 'tcp', HOST, 5000) == 'c1 ' + OUTSIDE  # IPv4 unchanged
    # the host -> its own published port on its IPv6 address; not on ::1
    assert lab.probe(None, 'tcp', HOST6, 5000) == 'c1 ' + HOST6
    assert lab.probe(None, 'udp', HOST6, 5353) == 'c1 ' + HOST6
    assert lab.probe(None, 'tcp', '::1', 5000).startswith('FAIL')
    # hairpin: c2 -> the host's address -> c1, masqueraded to the bridge's address
    assert lab.probe('c2', 'tcp', HOST6, 5000) == 'c1 fd00:18::1'
    # host_ip scoping: 5001 answers on 2001:db8:100::3 only, and for IPv6 only
    assert lab.probe('outside', 'tcp', HOST6_B, 5001) == 'c2 ' + OUTSIDE6
    assert lab.probe('outside', 'tcp', HOST6, 5001).startswith('FAIL')
    assert lab.probe('outside', 'tcp', HOST, 5001).startswith('FAIL')
    assert lab.probe(None, 'tcp', HOST6_B, 5001) == 'c2 ' + HOST6_B
    # ingress protection: the outside routes fd00:18::/64 at us, direct access is dropped;
    # containers of the bridge still reach each other
    assert lab.probe('outside', 'tcp', C2[1], 6000) in DROPPED
    assert lab.probe('c1', 'tcp', C2[1], 6000) == 'c2 ' + C1[1]
    assert lab.probe('outside', 'tcp', C2[1], 5001) in DROPPED  # published != direct

    # without ingress protection, direct access works (the check above can fail)
    r = play([pub_task(PUBS, ingress_protection=False)])
    assert [a['target'] for a in r[0]['actions']] == [
        'forward: pub/br0/ingress', 'forward: pub/br0/ingress6'], r[0]
    assert lab.probe('outside', 'tcp', C2[1], 6000) == 'c2 ' + OUTSIDE6

    # a publication without the container's IPv6 address serves IPv4 only
    v4only = [dict(PUBS[0], container_ipv6_address=None)]
    r = play([pub_task(v4only)])
    assert r[0]['changed'], r[0]
    assert 'pub/br0/tcp/*6/5000/pre' not in ' '.join(r[0]['rules'])
    assert lab.probe('outside', 'tcp', HOST6, 5000).startswith('FAIL')
    assert lab.probe('outside', 'tcp', HOST, 5000) == 'c1 ' + OUTSIDE

    # teardown: the table and IPv6 forwarding as they were
    r = play([pub_task([], state='absent'),
              {MASQ: {'networks': [{'name': 'br0'}], 'state': 'absent'}}])
    assert r[0]['changed'] and r[1]['changed'], r
    assert nft_text() == ''
    assert sysctl('net.ipv6.conf.all.forwarding') == '0' and not os.path.exists(DROPIN6)


def test_ipv6_publish_check_mode_predicts(lab, play):
    play([{MASQ: {'networks': [NET]}}])
    before = nft_text()
    r = play([pub_task(PUBS)], check=True, diff=True)
    assert r[0]['changed'] and nft_text() == before, r
    real = play([pub_task(PUBS)], diff=True)
    assert r[0]['actions'] == real[0]['actions'] and r[0]['diff'] == real[0]['diff']
    assert 'dnat ip6 to [fd00:18::10]:5000' in real[0]['diff']['after']
    again = play([pub_task(PUBS)], check=True, diff=True)
    assert not again[0]['changed'] and again[0]['diff']['before'] == again[0]['diff']['after']


def test_ipv6_bad_input_changes_nothing(lab, play):
    bad = [
        (pub_task([dict(PUBS[0], host_ip='::1')]),
         "publications[0].host_ip: '::1' is the IPv6 loopback address"),
        (pub_task([dict(PUBS[2], container_ipv6_address=None)]),
         "publications[0].host_ip: '2001:db8:100::3' is an IPv6 address but the container "
         'has no IPv6 address'),
        (pub_task([PUBS[0]], ipv6_subnet=None),
         "publications[0].container_ipv6_address: 'fd00:18::10' is given but the network has "
         'no IPv6 subnet; set ipv6_subnet'),
        (pub_task([dict(PUBS[0], container_ipv6_address='fd00:19::10')]),
         "publications[0].container_ipv6_address: 'fd00:19::10' is not a host address of "
         'subnet fd00:18::/64'),
        (pub_task([], ipv6_subnet='10.0.0.0/8'), "ipv6_subnet: '10.0.0.0/8' is IPv4"),
        ({MASQ: {'networks': [dict(NET, ipv6_subnet='::/0')]}},
         "networks[0].ipv6_subnet: '::/0' would cover every IPv6 address"),
        ({MASQ: {'networks': [dict(NET, ipv6_subnet='fd00:18::1/64')]}},
         "networks[0].ipv6_subnet: 'fd00:18::1/64' has host bits set"),
        ({MASQ: {'networks': [dict(NET, subnet='fd00:18::/64')]}},
         "networks[0].subnet: 'fd00:18::/64' is IPv6"),
    ]
    for task, words in bad:
        r = play([dict(task, ignore_errors=True)])
        assert failed(r[0]), (task, r)
        assert words in r[0]['msg'], (words, r[0]['msg'])
    assert nft_text() == ''
    assert sysctl('net.ipv6.conf.all.forwarding') == '0' and not os.path.exists(DROPIN6)
