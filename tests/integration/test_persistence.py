"""A network that survives a reboot (issue 10): role variable container_bridge_network_persistent.

No VM here: the reboot is simulated in the test's sandbox. What the host's kernel loses at
a reboot goes (the host network namespace is replaced by a new, empty one; the named
namespaces, their mounts and every process in them go; nftables and iptables start
empty), what is on disk stays (the sandbox's private /var/lib/linuxnet and
/etc/systemd/system), and the command the installed unit's ``ExecStart=`` names is run
as systemd would run it. Then the seed's traffic must flow with no Ansible run, and the
next role run must change nothing. The VM scenario (molecule/vm) does the same with a
real reboot and systemd.
"""
import json
import os
import shlex
import subprocess
import sys

import pytest

from conftest import _libc, _ok, CLONE_NEWNET, MNT_DETACH, ip, ipj
from test_firewall import CHECKS, assert_all_works
from test_role import changed, failed, role

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import firewalls  # noqa: E402  pylint: disable=wrong-import-position

UNIT_DIR = '/etc/systemd/system'
STATE = '/var/lib/linuxnet/networks'
ON = {'container_bridge_network_persistent': True}


def unit_path(bridge='br0'):
    return os.path.join(UNIT_DIR, 'linuxnet-network@%s.service' % bridge)


def unit_directives(bridge='br0'):
    """{key: [values]} of the installed unit file."""
    out = {}
    with open(unit_path(bridge)) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(('#', '[')):
                k, v = line.split('=', 1)
                out.setdefault(k, []).append(v)
    return out


def installed(bridge='br0'):
    """What persistence put on disk for BRIDGE: {'unit', 'wants', 'state'}."""
    wants = sorted(d[:-len('.wants')] for d in os.listdir(UNIT_DIR) if d.endswith('.wants')
                   and os.path.lexists(os.path.join(UNIT_DIR, d, os.path.basename(
                       unit_path(bridge)))))
    return {'unit': os.path.exists(unit_path(bridge)), 'wants': wants,
            'state': os.path.isdir(os.path.join(STATE, bridge))}


NOTHING = {'unit': False, 'wants': [], 'state': False}


def reboot():
    """Lose what a reboot loses, keep what is on disk.

    A new, empty host network namespace (lo down, as at boot, then up as systemd brings
    it up); the old named namespaces unmounted (a fresh tmpfs on /run/netns). The caller
    has stopped every process it ran in the old namespaces.
    """
    _ok(_libc.unshare(CLONE_NEWNET), 'unshare(CLONE_NEWNET)')
    while _libc.umount2(b'/run/netns', MNT_DETACH) == 0:
        pass
    _ok(_libc.mount(b'linuxnet-reboot', b'/run/netns', b'tmpfs', 0, b'mode=0755'),
        'tmpfs /run/netns')
    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
    assert ipj('netns', 'list') == [] and [l['ifname'] for l in ipj('link')] == ['lo']


def exec_start(bridge='br0'):
    """Run the unit's ExecStart= as systemd would (argv, no shell)."""
    [cmd] = unit_directives(bridge)['ExecStart']
    env = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'LANG': 'C.UTF-8'}
    return subprocess.run(shlex.split(cmd), capture_output=True, text=True, timeout=120,
                          check=False, env=env)


def kernel_state():
    """The network as the kernel has it (for before/after-reboot comparisons)."""
    def ns_state(ns):
        links = sorted((l['ifname'], 'UP' in l['flags'], l.get('master'))
                       for l in ipj('-d', 'link', ns=ns))
        addrs = sorted((l['ifname'], a['local'], a['prefixlen'])
                       for l in ipj('-4', 'addr', ns=ns) for a in l.get('addr_info', []))
        routes = sorted(json.dumps(r, sort_keys=True) for r in ipj('-4', 'route', ns=ns))
        return links, addrs, routes
    nft = subprocess.run(['nft', '-s', 'list', 'table', 'inet', 'linuxnet'], capture_output=True,
                         text=True, check=True).stdout
    with open('/proc/sys/net/ipv4/ip_forward') as f:
        fwd = f.read().strip()
    return {'host': ns_state(None), 'netns': sorted(n['name'] for n in ipj('netns', 'list')),
            'netns0': ns_state('netns0'), 'netns1': ns_state('netns1'), 'nft': nft,
            'ip_forward': fwd}


@pytest.mark.parametrize('toolchain', ['2.19', '2.16'])
def test_reboot_rebuilds_the_network_with_no_ansible_run(play, toolchain):
    with firewalls.World() as w:
        r = role(play, ON, toolchain=toolchain)
        assert not failed(r), r
        assert installed() == {'unit': True, 'wants': ['multi-user.target',
                                                       'network-online.target'],
                               'state': True}
        d = unit_directives()
        # what the README tells services to order themselves after
        assert 'network-online.target' in d['Before'][0].split()
        assert 'firewalld.service' in d['After'][0].split()
        assert d['Type'] == ['oneshot'] and d['RemainAfterExit'] == ['yes']
        w.serve_seed()
        assert_all_works()
        before = kernel_state()
    reboot()
    with firewalls.World() as w:  # the host's uplink is back (its own config did that)
        p = exec_start()
        assert p.returncode == 0, p.stdout + p.stderr
        assert 'linuxnet-network@br0.service: network restored' in p.stdout, p.stdout
        assert kernel_state() == before
        w.serve_seed()
        assert_all_works()
        again = role(play, ON, toolchain=toolchain)
        assert changed(again) == [] and not failed(again), again


DUAL = dict(ON, container_bridge_network_ipv6_subnet='fd00:18::/64',
            container_bridge_network_containers=[
                {'name': 'netns%d' % i, 'address': '172.18.0.%d0' % (i + 1),
                 'ipv6_address': 'fd00:18::%d0' % (i + 1), 'host_ifname': 'veth%d' % i,
                 'ifname': 'ceth%d' % i} for i in (0, 1)])


@pytest.mark.parametrize('toolchain', ['2.19', '2.16'])
def test_reboot_rebuilds_a_dual_stack_network(play, toolchain):
    """Issue 12: IPv6 addresses, default routes, rules and forwarding come back at boot."""
    def six(ns):
        addrs = sorted((l['ifname'], a['local']) for l in ipj('-6', 'addr', ns=ns)
                       for a in l.get('addr_info', []) if a.get('scope') == 'global')
        routes = sorted(json.dumps(r, sort_keys=True)
                        for r in ipj('-6', 'route', 'show', 'default', ns=ns))
        return addrs, routes

    def state():
        ipv6 = dict((ns or 'host', six(ns)) for ns in (None, 'netns0', 'netns1'))
        with open('/proc/sys/net/ipv6/conf/all/forwarding') as f:
            return dict(kernel_state(), ipv6=ipv6, forwarding6=f.read().strip())
    with firewalls.World(ipv6=True) as w:
        r = role(play, DUAL, toolchain=toolchain)
        assert not failed(r), r
        w.serve_seed(ipv6_gateway='fd00:18::1')
        assert firewalls.failing(firewalls.seed_checks(checks=firewalls.SEED_CHECKS6)) == []
        before = state()
        assert before['forwarding6'] == '1' and before['ipv6']['netns0'][0]
    reboot()
    with firewalls.World(ipv6=True) as w:
        p = exec_start()
        assert p.returncode == 0, p.stdout + p.stderr
        assert state() == before
        w.serve_seed(ipv6_gateway='fd00:18::1')
        assert firewalls.failing(firewalls.seed_checks(checks=firewalls.SEED_CHECKS6)) == []
        again = role(play, DUAL, toolchain=toolchain)
        assert changed(again) == [] and not failed(again), again


def test_reboot_restores_the_firewall_integration(play):
    """iptables rules are runtime state: a FORWARD DROP restored at boot (iptables-persistent,
    ufw) comes before the unit (After=), which puts the accept rules back."""
    with firewalls.World() as w:
        firewalls.iptables_flush('nft', policy='DROP')
        r = role(play, ON)
        assert not failed(r), r
        w.serve_seed()
        assert_all_works()
        rules = firewalls.iptables_save('nft', 'filter')
        assert '-A FORWARD -i br0 ' in rules and '--comment "linuxnet:br0/in"' in rules, rules
    reboot()
    with firewalls.World() as w:
        firewalls.iptables_flush('nft', policy='DROP')  # the saved rules, restored at boot
        p = exec_start()
        assert p.returncode == 0, p.stdout + p.stderr
        assert firewalls.iptables_save('nft', 'filter') == rules
        w.serve_seed()
        assert_all_works()
        again = role(play, ON)
        assert changed(again) == [] and not failed(again), again


def test_boot_failure_says_what_the_module_says(play):
    with firewalls.World():
        assert not failed(role(play, ON))
    reboot()
    # at boot, something else took the subnet: the unit must fail, loudly and clearly
    ip('link', 'add', 'other', 'type', 'bridge')
    ip('addr', 'add', '172.18.5.1/24', 'dev', 'other')
    ip('link', 'set', 'other', 'up')
    p = exec_start()
    assert p.returncode == 1, p.stdout + p.stderr
    r = role(play, ON)
    [f] = failed(r)
    msg = f['msg']
    assert 'overlap' in msg, msg
    assert p.stderr.strip() == 'linuxnet-network@br0.service: FAILED: %s' % msg
    assert ipj('netns', 'list') == [] and 'br0' not in [l['ifname'] for l in ipj('link')]


def test_absent_and_persistent_false_remove_what_persistence_installed(play):
    with firewalls.World():
        assert not failed(role(play, ON))
        assert installed()['unit']
        r = role(play, {'container_bridge_network_persistent': False})
        assert not failed(r) and changed(r), r
        assert installed() == NOTHING
        assert os.listdir(STATE) == []
        assert 'br0' in [l['ifname'] for l in ipj('link')]  # the network itself stays
        assert not failed(role(play, ON))
        assert installed()['unit']
        r = role(play, dict(ON, container_bridge_network_state='absent'))
        assert not failed(r), r
        assert installed() == NOTHING and os.listdir(STATE) == []
        assert os.listdir(os.path.join(UNIT_DIR, 'multi-user.target.wants')) == []


def test_two_networks_persist_independently(play):
    other = dict(ON, container_bridge_network_bridge='br1',
                 container_bridge_network_subnet='10.77.0.0/24',
                 container_bridge_network_gateway='10.77.0.1',
                 container_bridge_network_containers=[{'name': 'web1'}],
                 container_bridge_network_published_ports=[])
    with firewalls.World():
        assert not failed(role(play, ON))
        assert not failed(role(play, other))
        assert installed('br0')['unit'] and installed('br1')['unit']
        with open(os.path.join(STATE, 'br1', 'network.json')) as f:
            assert json.load(f)['network']['subnet'] == '10.77.0.0/24'
        r = role(play, dict(other, container_bridge_network_state='absent'))
        assert not failed(r), r
        assert installed('br1') == NOTHING
        assert installed('br0') == {'unit': True, 'wants': ['multi-user.target',
                                                            'network-online.target'],
                                    'state': True}
    reboot()
    with firewalls.World() as w:
        p = exec_start('br0')
        assert p.returncode == 0, p.stderr
        w.serve_seed()
        assert_all_works()
        assert 'br1' not in [l['ifname'] for l in ipj('link')]


def test_check_mode_and_diff_are_honest(play):
    with firewalls.World():
        r = role(play, ON, check=True, diff=True)
        assert not failed(r), r
        [net] = [x for x in r if 'persistence' in x]
        ops = [a['op'] for a in net['actions'] if a['stage'] == 'persistence']
        assert ops.count('unit_enable') == 3 and 'file_write' in ops, ops  # boot (2), heal
        after = net['diff']['after']['persistence']
        assert any(l.startswith(unit_path() + ': ExecStart=') for l in after), after
        assert installed() == NOTHING
        real = role(play, ON, diff=True)
        [net2] = [x for x in real if 'persistence' in x]
        assert [a for a in net2['actions'] if a['stage'] == 'persistence'] == \
            [a for a in net['actions'] if a['stage'] == 'persistence']
        assert net2['diff']['after']['persistence'] == after
        # something edited by hand is put back, and the diff shows it
        with open(os.path.join(STATE, 'br0', 'network.json'), 'a') as f:
            f.write('\n')
        r = role(play, ON, check=True, diff=True)
        [net3] = [x for x in r if 'persistence' in x]
        assert [(a['op'], a['target']) for a in net3['actions']] == \
            [('file_write', os.path.join(STATE, 'br0', 'network.json'))]


def test_docker_restarting_after_the_unit_gets_the_rules_back(play):
    """Docker starts after network-online.target (after the unit) and puts FORWARD DROP
    back: on a host with docker.service, a drop-in runs the restore again after it."""
    with open(os.path.join(UNIT_DIR, 'docker.service'), 'w') as f:
        f.write('[Service]\nExecStart=/usr/bin/dockerd\n')  # Docker is installed
    dropin = os.path.join(UNIT_DIR, 'docker.service.d', 'linuxnet-network@br0.conf')
    with firewalls.World() as w:
        firewalls.docker_iptables('nft')
        assert not failed(role(play, ON))
        with open(dropin) as f:
            [post] = [l.split('=', 1)[1] for l in f.read().splitlines()
                      if l.startswith('ExecStartPost=')]
        assert post.startswith('-')  # a failure must not fail Docker
        rules = firewalls.iptables_save('nft', 'filter')
        assert '-A DOCKER-USER -i br0 ' in rules, rules
    reboot()
    with firewalls.World() as w:
        p = exec_start()  # the unit: before Docker, nothing drops yet
        assert p.returncode == 0, p.stderr
        firewalls.docker_iptables('nft')  # docker.service starts
        w.serve_seed()
        assert firewalls.failing(firewalls.seed_checks(CHECKS)), 'Docker should drop it now'
        p = subprocess.run(shlex.split(post[1:]), capture_output=True, text=True, timeout=120,
                           check=False)
        assert p.returncode == 0, p.stderr
        assert_all_works()
        assert firewalls.iptables_save('nft', 'filter') == rules
        again = role(play, ON)
        assert changed(again) == [] and not failed(again), again
        r = role(play, {'container_bridge_network_state': 'absent'})
        assert not failed(r)
        assert not os.path.exists(os.path.dirname(dropin))


FLEET_NET = {'bridge': 'br0', 'subnet': '172.18.0.0/16', 'gateway': '172.18.0.1',
             'containers': [{'name': 'netns0'}], 'persistent': True,
             'fleet': {'backend': 'host-gw', 'host': 'h1', 'members': [
                 {'host': 'h1', 'subnet': '172.18.0.0/16', 'underlay_address': '198.51.100.2'},
                 {'host': 'h2', 'subnet': '172.19.0.0/16', 'underlay_address': '198.51.100.3'}]}}


def fleet_route():
    return [(r['dst'], r.get('gateway')) for r in ipj('route', 'show', 'proto', '76')]


def test_a_fleet_waits_for_its_uplink_at_boot(play):
    """The unit runs before network.target: the uplink (the fleet's underlay address) may
    not be up yet. The network is restored all the same, the fleet's routes are said to
    wait for the next run (which adds them); with the uplink up at boot they come back."""
    def net():
        [r] = play([{'linuxnet.container_network.network': FLEET_NET}])
        assert r['_status'] == 'ok', r
        return r
    with firewalls.World():
        net()
        assert fleet_route() == [('172.19.0.0/16', '198.51.100.3')]
        assert not net()['changed']
    reboot()
    p = exec_start()  # no uplink yet
    assert p.returncode == 0, p.stdout + p.stderr
    assert 'network restored' in p.stdout
    assert 'the fleet was not restored at boot' in p.stderr and '198.51.100.2' in p.stderr
    assert 'br0' in [l['ifname'] for l in ipj('link')] and fleet_route() == []
    with firewalls.World():
        r = net()
        assert r['changed'] and [a['op'] for a in r['actions']] == ['route_set']
        assert fleet_route() == [('172.19.0.0/16', '198.51.100.3')]
    reboot()
    with firewalls.World():  # the uplink is up before the unit: the fleet comes back too
        p = exec_start()
        assert p.returncode == 0 and 'not restored' not in p.stderr, p.stdout + p.stderr
        assert fleet_route() == [('172.19.0.0/16', '198.51.100.3')]
        assert not net()['changed']
