# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The foreign-firewall fixtures of tests/firewalls.py reproduce issue 9 (per-test sandbox).

With a foreign firewall in charge - Docker 28's iptables rules (nft and legacy), firewalld
1.3 (Debian's zones and EL8-like ones), ufw, an unknown nftables table with drop policies -
the role's default network converges but traffic breaks, shown with real TCP packets.
The role runs with ``container_bridge_network_firewall_integration: none``: it changes
nothing outside its own table, as the role did before issue 9, so these tests show what
the fixtures break and the firewall integration's tests can assert the opposite with the
same helpers (``firewalls.foreign``, ``World``, ``seed_checks``, ``failing``). A control
test proves that without a foreign firewall every check passes, so the others fail for
the right reason. Then the fixtures themselves: cleanup (no mount, process, rule left),
firewalld reload/restart, what Docker's restart, an admin's flush and ufw reload do.
"""
import os
import sys
import time

import pytest

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import firewalls  # noqa: E402  pylint: disable=wrong-import-position

ROLE = 'linuxnet.container_network.container_bridge_network'
NO_INTEGRATION = {'container_bridge_network_firewall_integration': 'none'}

# What each foreign firewall breaks for the role's default network without integration
# (firewalls.seed_checks() names). Everything not listed works.
BREAKS = {
    None: set(),
    # FORWARD policy DROP: bridged (br_netfilter) and routed traffic of br0 is dropped;
    # DNAT'ed traffic to the container too. The host's own traffic is not forwarded.
    'docker-nft': {'container_to_container', 'container_to_outside', 'outside_to_published',
                   'hairpin'},
    'docker-legacy': {'container_to_container', 'container_to_outside',
                      'outside_to_published', 'hairpin'},
    # br0 and the uplink fall into the default zone public (no explicit interface: no
    # intra-zone forwarding even with <forward/>), whose INPUT allows only ssh and
    # dhcpv6-client; DNAT'ed traffic is accepted (ct status dnat), so published ports
    # still work.
    'firewalld': {'container_to_container', 'container_to_host', 'container_to_outside'},
    'firewalld-el8': {'container_to_container', 'container_to_host', 'container_to_outside'},
    # ufw: FORWARD and INPUT policy DROP, nothing allowed for br0
    'ufw': {'container_to_container', 'container_to_host', 'container_to_outside',
            'outside_to_published', 'hairpin'},
    # forward policy drop, input policy drop
    'nft-drop': {'container_to_container', 'container_to_host', 'container_to_outside',
                 'outside_to_published', 'hairpin'},
}


def role(play, extra=None):
    results = play([{'ansible.builtin.include_role': {'name': ROLE}}],
                   extra_vars=dict(NO_INTEGRATION, **(extra or {})))
    bad = [r for r in results if r['_status'] == 'failed']
    assert not bad, bad
    return results


def mount_points():
    """This mount namespace's mount points, minus named network namespaces (ip netns)."""
    with open('/proc/self/mountinfo') as f:
        return sorted(p for p in (line.split()[4] for line in f)
                      if not p.startswith('/run/netns/'))


def processes_mentioning(text):
    found = []
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            try:
                with open('/proc/%s/cmdline' % pid, 'rb') as f:
                    if text.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


@pytest.fixture
def world():
    with firewalls.World() as w:
        yield w


@pytest.mark.parametrize('kind', [None] + list(firewalls.KINDS),
                         ids=['no-firewall'] + list(firewalls.KINDS))
def test_foreign_firewall_breaks_the_network(play, world, tmp_path, kind):
    """The role converges under each foreign firewall, but these checks fail (BREAKS)."""
    mounts = mount_points()
    if kind is None:
        role(play)
        world.serve_seed()
        results = firewalls.seed_checks(timeout=1.0)
    else:
        with firewalls.foreign(kind, str(tmp_path)) as fw:
            role(play)
            world.serve_seed()
            results = firewalls.seed_checks(timeout=1.0)
            if kind.startswith('firewalld'):
                # br0 explicitly in zone public: Debian's <forward/> lets containers talk
                # to each other (intra-zone forwarding), EL8's zone does not
                fw.cmd('--zone=public', '--add-interface=br0')
                c2c = firewalls.seed_checks(['container_to_container'], timeout=1.0)
                assert firewalls.failing(c2c) == ([] if kind == 'firewalld' else
                                                  ['container_to_container']), c2c
    print(kind, results)
    assert firewalls.failing(results) == sorted(BREAKS[kind]), results
    if kind is None:
        # the control: masquerade (the outside sees the host), the published port's reply
        assert results['container_to_outside'][1] == 'outside 198.51.100.2', results
        assert results['container_to_container'][1] == 'netns0 172.18.0.20', results
    assert mount_points() == mounts


def test_firewalld_reload_restart_and_cleanup(tmp_path):
    mounts = mount_points()
    workdir = str(tmp_path / 'fw')
    with firewalls.Firewalld(workdir) as fw:
        for path in ('/run/dbus', '/run/firewalld', '/etc/firewalld'):
            assert firewalls.mounted(path), path
        assert 'forward: yes' in fw.cmd('--info-zone=public').stdout
        assert 'table inet firewalld' in firewalls.nft_ruleset()
        before = fw.snapshot()
        # a runtime-only change is gone after a reload, a permanent one is applied by it
        fw.cmd('--zone=trusted', '--add-interface=dummy0')
        fw.cmd('--permanent', '--zone=public', '--add-port=7000/tcp')
        assert 'dummy0' in firewalls.nft_ruleset()
        assert 'dport 7000' not in firewalls.nft_ruleset()
        fw.reload()
        assert 'dummy0' not in firewalls.nft_ruleset()
        assert 'tcp dport 7000 accept' in firewalls.nft_ruleset()
        changed = fw.snapshot()
        assert changed != before and changed.count('7000/tcp') == 1
        # the permanent config lives in the private copy, never in the host's /etc
        assert '<port port="7000" protocol="tcp"/>' in open(os.path.join(
            workdir, 'etc-firewalld', 'zones', 'public.xml')).read()
        assert not os.path.exists(os.path.join(workdir, 'etc-firewalld', 'zones',
                                               'trusted.xml'))
        # restart: a new process, running again, permanent config unchanged and applied
        pid = fw.pid
        fw.restart()
        assert fw.pid and fw.pid != pid
        assert fw.snapshot() == changed
        assert 'tcp dport 7000 accept' in firewalls.nft_ruleset()
        # stop: CleanupOnExit=yes removes its table
        fw.stop()
        assert 'firewalld' not in firewalls.nft_ruleset()
        state = fw.cmd('--state', check=False)
        assert (state.returncode, state.stderr) == (252, 'not running\n')
        fw.start()
    assert mount_points() == mounts
    assert processes_mentioning(workdir) == []
    assert firewalls.nft_ruleset() == ''
    assert not os.path.exists('/run/dbus/system_bus_socket')
    assert not os.path.exists('/etc/firewalld/zones/public.xml')


def test_a_killed_run_leaves_no_firewalld_behind(tmp_path):
    """firewalld and dbus-daemon get SIGTERM when the process that started them dies."""
    workdir = str(tmp_path / 'fw')
    tests = os.path.dirname(firewalls.__file__)
    code = ('import os, signal, sys; sys.path.append(%r); import firewalls; '
            'firewalls.Firewalld(%r).open(); print("up", flush=True); '
            'os.kill(os.getpid(), signal.SIGKILL)') % (tests, workdir)
    # its own mount namespace: the mounts it leaves die with it
    proc = firewalls.run(['unshare', '--mount', '--propagation', 'private', sys.executable,
                          '-c', code], check=False)
    assert proc.stdout == 'up\n' and proc.returncode == -9, proc
    end = time.monotonic() + 10
    while processes_mentioning(workdir) and time.monotonic() < end:
        time.sleep(0.1)
    assert processes_mentioning(workdir) == []


def test_firewalld_el8_zones_have_no_intra_zone_forwarding(tmp_path):
    mounts = mount_points()
    host_zone = open('/usr/lib/firewalld/zones/public.xml').read()
    with firewalls.Firewalld(str(tmp_path / 'fw'), el8_zones=True) as fw:
        info = fw.cmd('--info-zone=public').stdout
        assert 'forward: no' in info and 'cockpit' in info
        assert 'forward: yes' not in fw.cmd('--list-all-zones').stdout
        assert os.listdir('/etc/firewalld/zones') == []   # pristine /etc, as on EL8
    assert mount_points() == mounts
    assert open('/usr/lib/firewalld/zones/public.xml').read() == host_zone


@pytest.mark.parametrize('variant', firewalls.VARIANTS)
def test_docker_restart_keeps_docker_user_and_flush_empties_it(variant):
    firewalls.docker_iptables(variant)
    fresh = firewalls.iptables_save(variant)
    assert ':FORWARD DROP' in fresh and '-A FORWARD -j DOCKER-USER' in fresh
    assert '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE' in fresh
    # a restart of an untouched Docker changes nothing
    firewalls.docker_restart(variant)
    assert firewalls.iptables_save(variant) == fresh
    # someone's rules: DOCKER-USER survives a restart, Docker's own chains are re-created
    # and its jumps go back to the top of FORWARD
    firewalls.iptables(variant, '-I', 'DOCKER-USER', '-i', 'br0', '-j', 'ACCEPT')
    firewalls.iptables(variant, '-I', 'FORWARD', '1', '-i', 'br9', '-j', 'ACCEPT')
    firewalls.iptables(variant, '-A', 'DOCKER-FORWARD', '-i', 'br0', '-j', 'ACCEPT')
    firewalls.docker_restart(variant)
    rules = firewalls.iptables(variant, '-S').stdout.splitlines()
    assert '-A DOCKER-USER -i br0 -j ACCEPT' in rules
    assert '-A DOCKER-FORWARD -i br0 -j ACCEPT' not in rules
    forward = [r for r in rules if r.startswith('-A FORWARD')]
    assert forward == ['-A FORWARD -j DOCKER-USER', '-A FORWARD -j DOCKER-FORWARD',
                       '-A FORWARD -i br9 -j ACCEPT']
    assert firewalls.iptables(variant, '-t', 'nat', '-S').stdout.count('MASQUERADE') == 1
    # an admin's flush: no rule, no user chain, FORWARD still DROP
    firewalls.iptables_flush(variant)
    assert firewalls.iptables(variant, '-S').stdout.splitlines() == [
        '-P INPUT ACCEPT', '-P FORWARD DROP', '-P OUTPUT ACCEPT']
    # the other variant saw none of it
    other = [v for v in firewalls.VARIANTS if v != variant][0]
    assert '-A' not in firewalls.iptables_save(other)


def test_docker_user_return_of_an_upgraded_host():
    firewalls.docker_iptables('nft', user_return=True)
    assert firewalls.iptables('nft', '-S', 'DOCKER-USER').stdout.splitlines() == [
        '-N DOCKER-USER', '-A DOCKER-USER -j RETURN']


def test_ufw_reload_and_cleanup(tmp_path):
    mounts = mount_points()
    host_conf = open('/etc/ufw/ufw.conf').read()
    with firewalls.Ufw(str(tmp_path / 'ufw'), variant='legacy') as ufw:
        for path in ('/etc/ufw', '/etc/default/ufw', '/run/ufw.lock', '/etc/alternatives'):
            assert firewalls.mounted(path), path
        assert os.path.realpath('/usr/sbin/iptables') == '/usr/sbin/xtables-legacy-multi'
        assert 'ENABLED=yes' in open('/etc/ufw/ufw.conf').read()
        rules = firewalls.iptables('legacy', '-S').stdout.splitlines()
        assert '-P FORWARD DROP' in rules and '-P INPUT DROP' in rules
        assert '-A FORWARD -j ufw-before-forward' in rules
        assert '-A' not in firewalls.iptables_save('nft')
        # ufw reload flushes its own chains, keeps rules others put into FORWARD itself
        firewalls.iptables('legacy', '-I', 'FORWARD', '1', '-i', 'br0', '-j', 'ACCEPT')
        firewalls.iptables('legacy', '-I', 'ufw-before-forward', '1', '-i', 'br0', '-j',
                           'ACCEPT')
        ufw.reload()
        rules = firewalls.iptables('legacy', '-S').stdout.splitlines()
        assert rules.index('-A FORWARD -i br0 -j ACCEPT') < rules.index(
            '-A FORWARD -j ufw-before-forward')
        assert '-A ufw-before-forward -i br0 -j ACCEPT' not in rules
    assert mount_points() == mounts
    assert open('/etc/ufw/ufw.conf').read() == host_conf
    assert os.path.realpath('/usr/sbin/iptables') == '/usr/sbin/xtables-nft-multi'
    # ufw disable: policies back to ACCEPT (its chains stay, empty, as ufw leaves them)
    rules = firewalls.iptables('legacy', '-S').stdout.splitlines()
    assert rules[:3] == ['-P INPUT ACCEPT', '-P FORWARD ACCEPT', '-P OUTPUT ACCEPT']
    assert not [r for r in rules if r.startswith('-A ufw-before-forward')]


def test_snapshots_ignore_counters_and_our_table():
    firewalls.docker_iptables('nft')
    table = firewalls.foreign_drop_table()
    iptables_before = firewalls.iptables_save('nft')
    nft_before = firewalls.nft_ruleset()
    assert 'table inet hardening' in nft_before and 'table ip filter' in nft_before
    firewalls.run(['nft', 'add table ip linuxnet; add chain ip linuxnet c '
                   '{ type filter hook forward priority 0; }; add rule ip linuxnet c counter'])
    firewalls.run(['ping', '-c1', '-W1', '127.0.0.1'])   # counters move
    assert firewalls.nft_ruleset() == nft_before
    assert 'linuxnet' in firewalls.nft_ruleset(exclude=())
    assert firewalls.iptables_save('nft') == iptables_before
    assert table == 'inet hardening'


@pytest.mark.parametrize('variant', firewalls.VARIANTS)
def test_docker_ip6tables_restart_keeps_docker_user_and_remove_cleans_up(variant):
    """Docker's IPv6 side (issue 12): ip6tables FORWARD DROP and the same chains as IPv4."""
    firewalls.docker_iptables(variant)
    v4 = firewalls.iptables_save(variant)
    firewalls.docker_ip6tables(variant)
    assert firewalls.iptables_save(variant) == v4          # the IPv4 side untouched
    fresh = firewalls.ip6tables_save(variant)
    assert ':FORWARD DROP' in fresh and '-A FORWARD -j DOCKER-USER' in fresh
    assert '-A POSTROUTING -s fd00:17::/64 ! -o docker0 -j MASQUERADE' in fresh
    assert '-A OUTPUT ! -d ::1/128 -m addrtype --dst-type LOCAL -j DOCKER' in fresh
    with open('/proc/sys/net/ipv6/conf/all/forwarding') as f:
        assert f.read().strip() == '1'
    assert 'inet6 fd00:17::1/64' in firewalls.run(['ip', 'addr', 'show', 'docker0']).stdout
    firewalls.docker_restart6(variant)
    assert firewalls.ip6tables_save(variant) == fresh
    firewalls.ip6tables(variant, '-I', 'DOCKER-USER', '-i', 'br0', '-j', 'ACCEPT')
    firewalls.ip6tables(variant, '-A', 'DOCKER-FORWARD', '-i', 'br0', '-j', 'ACCEPT')
    firewalls.docker_restart6(variant)
    rules = firewalls.ip6tables(variant, '-S').stdout.splitlines()
    assert '-A DOCKER-USER -i br0 -j ACCEPT' in rules
    assert '-A DOCKER-FORWARD -i br0 -j ACCEPT' not in rules
    assert [r for r in rules if r.startswith('-A FORWARD')] == [
        '-A FORWARD -j DOCKER-USER', '-A FORWARD -j DOCKER-FORWARD']
    firewalls.docker_remove6(variant)
    assert firewalls.ip6tables(variant, '-S').stdout.splitlines() == [
        '-P INPUT ACCEPT', '-P FORWARD ACCEPT', '-P OUTPUT ACCEPT']
    assert firewalls.iptables_save(variant) == v4
