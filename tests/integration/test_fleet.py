# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet networking (issue 13) on the lab: hosts over real SSH, real packets.

host-gw on one L2 segment and vxlan over two segments joined by a router (lab-outside):
containers reach the other hosts' containers by address with their own source address,
published ports and masquerade keep working, a non-fleet outside router with a route to
the containers is still dropped (``lab.py check`` rows). Then the fleet's life: --limit
one host (converged without its peers, unchanged on a rerun, peers untouched), a 4th
host added, one removed, one torn down; check mode; and the refusals that come before
any change on every host (overlapping subnets, host-gw across a router).
"""
import os
import re
import subprocess

import pytest

from conftest import REPO
from labutil import LAB, PY, ipj, lab
from labutil import playbook as run_playbook

SITE = os.path.join(REPO, 'playbooks', 'site.yml')
RTPROT_LINUXNET = '76'


def play(d, *extra, rc=0, playbook=SITE):
    """site.yml on the lab's inventory -> (stdout, {host: (changed, failed)})."""
    r = run_playbook(d, playbook, *extra)
    if rc is not None:
        assert r.returncode == rc, 'site.yml %s: rc %d\n%s\n%s' % (
            ' '.join(extra), r.returncode, r.stdout[-8000:], r.stderr[-3000:])
    recap = dict((m.group(1), (int(m.group(2)), int(m.group(3))))
                 for m in re.finditer(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+'
                                      r'failed=(\d+)', r.stdout, re.M))
    return r.stdout, recap


def inventory(d, backend, members):
    lab('inventory', '--dir', d, '--fleet', backend, '--members', ','.join(members))


def fleet_routes(d, host):
    """dst -> route of our protocol (76) in the host's main table."""
    found = ipj(d, host, '-d', 'route', 'show', 'proto', RTPROT_LINUXNET)
    return dict((r['dst'], r) for r in found)


def links(d, host):
    return dict((l['ifname'], l) for l in ipj(d, host, '-d', 'link', 'show'))


def ping(d, src, dst):
    r = lab('exec', '--dir', d, src, '--', 'ping', '-c', '1', '-W', '2', dst, check=False)
    return r.returncode == 0


def tcp(d, src, dst_where, dst, port=7171):
    """A TCP connection from ``src`` to a server in ``dst_where``: what the server saw
    ("<tag> from=IP:PORT"), or the probe's error."""
    server = subprocess.Popen(
        [PY, LAB, 'exec', '--dir', d, dst_where, '--', PY, LAB, '_serve', '--port', str(port),
         '--tag', 'fleet-test', '--tcp-only'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        line = server.stdout.readline()
        assert line.startswith('ready'), line
        r = lab('exec', '--dir', d, src, '--', PY, LAB, '_probe', 'tcp', dst, str(port),
                check=False)
        return r.stdout.strip()
    finally:
        os.killpg(server.pid, 9)
        server.wait()


def check_table(d):
    r = lab('check', '--dir', d, check=False, timeout=600)
    failed = [row for row in r.stdout.splitlines() if row.rstrip().endswith('FAIL')]
    assert r.returncode == 0, 'lab check failed:\n%s\n%s\n%s' % (
        '\n'.join(failed), r.stdout[-3000:], r.stderr)
    fleet_rows = [row for row in r.stdout.splitlines() if '| fleet container' in row]
    return r.stdout, fleet_rows


def test_host_gw_fleet_of_three_with_real_packets(make_lab):
    d = make_lab(3, '--fleet', 'host-gw')
    _out, recap = play(d)
    assert all(c >= 1 and f == 0 for c, f in recap.values()), recap
    out, rows = check_table(d)
    # 3 hosts x 2 peers x (icmp + tcp with the sender's own address as source)
    assert len(rows) == 12 and all(row.rstrip().endswith('PASS') for row in rows), out
    assert len([r for r in out.splitlines() if 'outside -> container direct' in r]) == 3
    routes = fleet_routes(d, 'lab-host1')
    assert set(routes) == {'172.18.2.0/24', '172.18.3.0/24'}
    assert routes['172.18.2.0/24']['gateway'] == '198.51.100.12'
    # idempotent, check mode exact
    _out, recap = play(d)
    assert all(c == 0 for c, _f in recap.values()), recap
    _out, recap = play(d, '--check', '--diff')
    assert all(c == 0 for c, _f in recap.values()), recap


def test_vxlan_fleet_across_a_router(make_lab):
    d = make_lab(3, '--segments', '2', '--fleet', 'vxlan')
    # the same fleet as host-gw first: refused before any change, on every host
    inventory(d, 'host-gw', ['lab-host1', 'lab-host2', 'lab-host3'])
    out, recap = play(d, rc=2)
    assert all(f == 1 for _c, f in recap.values()), recap
    assert 'is not on-link from host lab-host1' in out and 'vxlan' in out
    for h in ('lab-host1', 'lab-host2', 'lab-host3'):
        assert 'br0' not in links(d, h) and not fleet_routes(d, h), h
    inventory(d, 'vxlan', ['lab-host1', 'lab-host2', 'lab-host3'])
    # check mode first: what the run will do, nothing done
    out, recap = play(d, '--check')
    assert all(c == 1 for c, _f in recap.values()), recap
    assert 'lnvx42' not in links(d, 'lab-host1')
    _out, recap = play(d)
    assert all(c == 1 and f == 0 for c, f in recap.values()), recap
    out, rows = check_table(d)
    assert len(rows) == 12 and all(row.rstrip().endswith('PASS') for row in rows), out
    vx = links(d, 'lab-host2')['lnvx42']
    info = vx['linkinfo']['info_data']
    assert (info['id'], info['local'], info['port'], info.get('learning')) == (
        42, '192.0.2.12', 4789, False)
    assert vx['mtu'] == 1450 and vx['address'] == '02:4c:ac:12:02:00'
    # the containers' MTU leaves room for the VXLAN header
    assert ipj(d, 'lab-host2/netns0', 'link', 'show', 'ceth0')[0]['mtu'] == 1450
    fdb = lab('exec', '--dir', d, 'lab-host2', '--', 'bridge', 'fdb', 'show', 'dev',
              'lnvx42').stdout
    assert '02:4c:ac:12:01:00 dst 198.51.100.11 self permanent' in fdb
    assert '02:4c:ac:12:03:00 dst 198.51.100.13 self permanent' in fdb
    neigh = ipj(d, 'lab-host2', 'neigh', 'show', 'dev', 'lnvx42')
    assert {(n['dst'], n['lladdr']) for n in neigh} == {
        ('172.18.1.0', '02:4c:ac:12:01:00'), ('172.18.3.0', '02:4c:ac:12:03:00')}
    assert all('PERMANENT' in n['state'] for n in neigh)
    routes = fleet_routes(d, 'lab-host2')
    assert routes['172.18.1.0/24']['gateway'] == '172.18.1.0'
    assert routes['172.18.1.0/24']['dev'] == 'lnvx42' and 'onlink' in routes['172.18.1.0/24']['flags']
    _out, recap = play(d)
    assert all(c == 0 for c, _f in recap.values()), recap
    # the report: each host's fleet routes, no drift, the fleet picture host -> peer
    report = os.path.join(d, 'report')
    play(d, '-e', 'report_dir=%s' % report, playbook=os.path.join(REPO, 'playbooks/report.yml'))
    with open(os.path.join(report, 'lab-host2.md')) as f:
        md = f.read()
    assert '`172.18.1.0/24 via 172.18.1.0 dev lnvx42 (vxlan to 198.51.100.11)`' in md
    assert md.split('### Drift')[1].split('\n#')[0].strip() == 'none', md
    with open(os.path.join(report, 'fleet.dot')) as f:
        dot = f.read()
    for a, b in (('lab-host1', 'lab-host2'), ('lab-host2', 'lab-host3'), ('lab-host3', 'lab-host1')):
        assert '"host:%s" -> "host:%s"' % (a, b) in dot, dot
    assert os.path.getsize(os.path.join(report, 'fleet.svg')) > 0
    # teardown of one host: everything of the fleet on it goes, nothing on the others
    _out, recap = play(d, '--limit', 'lab-host3', '-e', 'container_bridge_network_state=absent')
    assert recap == {'lab-host3': (1, 0)}
    assert 'lnvx42' not in links(d, 'lab-host3') and not fleet_routes(d, 'lab-host3')
    assert set(fleet_routes(d, 'lab-host1')) == {'172.18.2.0/24', '172.18.3.0/24'}
    assert ping(d, 'lab-host1/netns0', '172.18.2.10')


def test_limit_add_remove_and_overlap(make_lab):
    d = make_lab(4)
    members = ['lab-host1', 'lab-host2', 'lab-host3']
    inventory(d, 'host-gw', members)
    # --limit: one host converged with routes to peers it never contacted
    _out, recap = play(d, '--limit', 'lab-host1')
    assert recap == {'lab-host1': (1, 0)}
    assert set(fleet_routes(d, 'lab-host1')) == {'172.18.2.0/24', '172.18.3.0/24'}
    for h in ('lab-host2', 'lab-host3'):
        assert 'br0' not in links(d, h) and not fleet_routes(d, h)
    _out, recap = play(d, '--limit', 'lab-host1')
    assert recap == {'lab-host1': (0, 0)}
    # the others follow; host1 unchanged
    _out, recap = play(d, '--limit', 'lab-host1,lab-host2,lab-host3')
    assert recap['lab-host1'] == (0, 0) and recap['lab-host2'][0] == 1
    assert ping(d, 'lab-host1/netns0', '172.18.3.10')
    seen = tcp(d, 'lab-host2/netns0', 'lab-host3/netns0', '172.18.3.10')
    assert seen.startswith('fleet-test from=172.18.2.10:'), seen
    # a 4th host joins: the others learn its subnet at their next run
    inventory(d, 'host-gw', members + ['lab-host4'])
    assert not ping(d, 'lab-host1/netns0', '172.18.4.10')
    _out, recap = play(d)
    assert all(c == 1 for c, _f in recap.values()), recap
    seen = tcp(d, 'lab-host1/netns0', 'lab-host4/netns0', '172.18.4.10')
    assert seen.startswith('fleet-test from=172.18.1.10:'), seen
    # host2 leaves the group: the others lose its route, it loses all of its fleet
    inventory(d, 'host-gw', ['lab-host1', 'lab-host3', 'lab-host4'])
    _out, recap = play(d)
    assert set(fleet_routes(d, 'lab-host1')) == {'172.18.3.0/24', '172.18.4.0/24'}
    assert not fleet_routes(d, 'lab-host2')
    assert not ping(d, 'lab-host1/netns0', '172.18.2.10')
    _out, recap = play(d)
    assert all(c == 0 for c, _f in recap.values()), recap
    # overlapping subnets: every member fails before any change, naming both hosts
    inventory(d, 'host-gw', ['lab-host1', 'lab-host3', 'lab-host4'])
    before = dict((h, fleet_routes(d, h)) for h in ('lab-host1', 'lab-host3', 'lab-host4'))
    out, recap = play(d, '-e', '{"container_bridge_network_subnet": "172.18.0.0/16"}', rc=2)
    assert all(recap[h] == (0, 1) for h in before), recap
    assert 'hosts lab-host1 and lab-host3 of the fleet have overlapping container subnets' in out
    assert before == dict((h, fleet_routes(d, h)) for h in before)


def test_check_mode_diff_shows_the_fleet(make_lab):
    d = make_lab(2, '--fleet', 'vxlan')
    out, recap = play(d, '--check', '--diff', '--limit', 'lab-host1')
    assert recap == {'lab-host1': (1, 0)}
    added = [line for line in out.splitlines() if line.startswith('+')]
    for want in ('route 172.18.2.0/24 via 172.18.2.0 dev lnvx42 onlink',
                 'fdb 02:4c:ac:12:02:00 dev lnvx42 dst 198.51.100.12',
                 'neigh 172.18.2.0 lladdr 02:4c:ac:12:02:00 dev lnvx42',
                 'ip daddr != 172.18.2.0/24'):
        assert [line for line in added if want in line], (want, out[-6000:])
    assert not fleet_routes(d, 'lab-host1') and 'lnvx42' not in links(d, 'lab-host1')


@pytest.mark.parametrize('kind', ['docker', 'ufw', 'firewalld-el8'])
def test_vxlan_fleet_under_a_foreign_firewall(make_lab, kind):
    """Docker's FORWARD DROP, ufw's INPUT and FORWARD DROP, firewalld's rejects: without
    the integration the peers' containers and VXLAN packets are dropped (checked when it
    was written: 12 cross-host rows failed); with it every row passes, and a teardown
    leaves the firewall as it was."""
    d = make_lab(2, '--fleet', 'vxlan', '--firewall', kind)
    _out, recap = play(d)
    assert all(c == 1 and f == 0 for c, f in recap.values()), recap
    out, rows = check_table(d)
    assert len(rows) == 4 and all(row.rstrip().endswith('PASS') for row in rows), out
    _out, recap = play(d)
    assert all(c == 0 for c, _f in recap.values()), recap
    h1 = 'lab-host1'
    if kind == 'firewalld-el8':
        rules = lab('exec', '--dir', d, h1, '--', 'firewall-cmd', '--policy=linuxnet-vxlan',
                    '--list-rich-rules').stdout
        assert rules.strip() == ('rule family="ipv4" source address="198.51.100.12" port '
                                 'port="4789" protocol="udp" accept')
    else:
        saved = lab('exec', '--dir', d, h1, '--', 'iptables-save').stdout
        assert '-A %s -s 172.18.2.0/24 -o br0 -m comment --comment "linuxnet:br0/fleet_172.18.2.0_24" -j ACCEPT' % (
            'DOCKER-USER' if kind == 'docker' else 'FORWARD') in saved
        assert ('linuxnet:br0/vxlan_198.51.100.12' in saved) == (kind == 'ufw')
    _out, recap = play(d, '-e', 'container_bridge_network_state=absent')
    assert all(c == 1 and f == 0 for c, f in recap.values()), recap
    if kind == 'firewalld-el8':
        r = lab('exec', '--dir', d, h1, '--', 'firewall-cmd', '--permanent',
                '--policy=linuxnet-vxlan', '--list-rich-rules', check=False)
        assert 'INVALID_POLICY' in r.stdout + r.stderr
    else:
        assert 'linuxnet' not in lab('exec', '--dir', d, h1, '--', 'iptables-save').stdout
    assert 'lnvx42' not in links(d, h1) and not fleet_routes(d, h1)
