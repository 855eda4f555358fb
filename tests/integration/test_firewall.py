"""Firewall integration (issue 9): the role on hosts where another firewall is in charge.

Every test runs in its own sandbox (conftest) with the `World` of tests/firewalls.py: an
uplink to an `outside` namespace with a whoami server. Checks use real packets, TCP always
(firewalld < 1.0 forwards ICMP from any zone: a ping proves nothing there).
"""
import os
import subprocess
import sys
import time

import pytest

from conftest import ip
from test_role import failed, role

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import firewalls  # noqa: E402  pylint: disable=wrong-import-position

ABSENT = {'container_bridge_network_state': 'absent'}
# The seed's checks plus container <-> container and container -> host service, over TCP.
CHECKS = ('container_to_container', 'container_to_host', 'container_to_outside',
          'outside_to_published', 'host_to_published', 'hairpin')


def changed(results):
    return [r for r in results if r.get('changed')]


def net_result(results):
    [r] = [r for r in results if 'firewall' in r]
    return r


@pytest.fixture
def world():
    with firewalls.World() as w:
        yield w


@pytest.fixture
def servers(world):
    """start(): whoami in netns0:5000 and a TCP service of the host on 172.18.0.1:7000
    (call it once the network exists)."""
    return world.serve_seed


def traffic():
    """CHECKS -> the server's reply, or None."""
    return dict((name, reply if ok else None)
                for name, (ok, reply) in firewalls.seed_checks(CHECKS).items())


def assert_all_works():
    t = traffic()
    assert (t['container_to_container'], t['container_to_host'],
            t['container_to_outside']) == ('netns0 172.18.0.20', 'host 172.18.0.10',
                                           'outside 198.51.100.2'), t
    for k in ('outside_to_published', 'host_to_published', 'hairpin'):
        assert (t[k] or '').startswith('netns0 '), t


def direct_access_dropped(world):
    ip('route', 'replace', '172.18.0.0/16', 'via', '198.51.100.2', ns='outside')
    return world.fetch('outside', '172.18.0.10', 5000) is None


def iptables_save(variant):
    return firewalls.iptables_save(variant, 'filter').splitlines()


def ipt(variant, *args):
    firewalls.iptables(variant, '-w', *args)


@pytest.mark.parametrize('variant', ['nft', 'legacy'])
def test_iptables_drop_policies_get_tagged_accepts_and_nothing_else(
        play, world, servers, variant):
    ipt(variant, '-P', 'FORWARD', 'DROP')
    ipt(variant, '-P', 'INPUT', 'DROP')
    ipt(variant, '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED',
        '-j', 'ACCEPT')
    before = iptables_save(variant)
    r = role(play)
    assert not failed(r), r
    servers()
    fw = net_result(r)['firewall']
    assert fw['reachable'] is True and fw['unhandled'] == []
    [entry] = [e for e in fw['iptables'] if e['variant'] == variant]
    assert entry['forward'] == 'policy DROP' and entry['input'] == 'policy DROP'
    assert_all_works()
    assert direct_access_dropped(world)
    rules = [l for l in iptables_save(variant) if 'linuxnet:' in l]
    assert sorted(rules) == sorted([
        '-A FORWARD -i br0 -m comment --comment "linuxnet:br0/in" -j ACCEPT',
        '-A FORWARD -o br0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT '
        '-m comment --comment "linuxnet:br0/out" -j ACCEPT',
        '-A INPUT -i br0 -m comment --comment "linuxnet:br0/input" -j ACCEPT']), rules
    # at the top of their chains, the foreign rule untouched after them
    assert iptables_save(variant)[iptables_save(variant).index(
        '-A INPUT -i br0 -m comment --comment "linuxnet:br0/input" -j ACCEPT') + 1] == \
        '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'
    assert changed(role(play)) == []
    # an admin flushes the chains: the next run reports a change and restores
    ipt(variant, '-F', 'FORWARD')
    ipt(variant, '-D', 'INPUT', '-i', 'br0', '-m', 'comment', '--comment', 'linuxnet:br0/input',
        '-j', 'ACCEPT')
    assert traffic()['container_to_container'] is None
    again = role(play)
    assert [a['op'] for a in net_result(again)['actions']] == ['iptables_insert'] * 3
    assert_all_works()
    assert not failed(role(play, ABSENT))
    assert iptables_save(variant) == before


def test_none_touches_nothing_warns_and_the_network_stays_cut_off(play, world, servers):
    ipt('nft', '-P', 'FORWARD', 'DROP')
    before = iptables_save('nft')
    r = role(play, {'container_bridge_network_firewall_integration': 'none'})
    servers()
    res = net_result(r)
    assert res['firewall']['reachable'] is False
    assert any('iptables-nft would drop traffic of br0 (FORWARD policy DROP)' in w
               for w in res.get('warnings', [])), res
    assert iptables_save('nft') == before
    assert traffic()['container_to_container'] is None  # what auto exists for
    # auto then none: what auto added is removed again
    role(play)
    assert iptables_save('nft') != before
    role(play, {'container_bridge_network_firewall_integration': 'none'})
    assert iptables_save('nft') == before


def nft_ruleset():
    return subprocess.run(['nft', 'list', 'table', 'inet', 'hardening'], capture_output=True,
                          text=True, check=True).stdout


def test_an_unknown_drop_table_is_named_in_a_warning_and_left_alone(play, world, servers):
    subprocess.run(['nft', '-f', '-'], check=True, text=True, input=(
        'table inet hardening {\n'
        ' chain fw_forward { type filter hook forward priority 10; policy drop; }\n'
        ' chain fw_input { type filter hook input priority 10; policy accept;\n'
        '  tcp dport 22 accept\n  reject\n }\n}\n'))
    before = nft_ruleset()
    r = role(play)
    servers()
    res = net_result(r)
    assert not failed(r)
    fw = res['firewall']
    assert fw['reachable'] is False
    assert sorted((u['table'], u['chain'], u['hook'], u['why']) for u in fw['unhandled']) == [
        ('hardening', 'fw_forward', 'forward', 'policy drop'),
        ('hardening', 'fw_input', 'input', 'its last rule rejects')]
    text = ' '.join(res.get('warnings', []))
    assert 'table inet hardening, chain fw_forward (hook forward, policy drop)' in text
    assert 'nft insert rule inet hardening fw_forward iifname "br0" accept' in text
    assert nft_ruleset() == before
    assert traffic()['container_to_container'] is None
    # the user adds what the warning says: the network works, and no more warning
    for u in fw['unhandled']:
        for rule in u['suggested']:
            subprocess.run(rule.replace('"br0"', 'br0').split(), check=True)
    again = net_result(role(play))
    assert again['firewall']['reachable'] is True and not again.get('warnings'), again
    assert_all_works()


def test_check_mode_and_diff_show_the_integration_and_change_nothing(play, world):
    ipt('nft', '-P', 'FORWARD', 'DROP')
    before = iptables_save('nft')
    r = role(play, check=True, diff=True)
    res = net_result(r)
    fw_actions = [a for a in res['actions'] if a['stage'] == 'firewall']
    assert [a['op'] for a in fw_actions] == ['iptables_insert'] * 2
    assert iptables_save('nft') == before
    real = net_result(role(play, diff=True))
    assert [a for a in real['actions'] if a['stage'] == 'firewall'] == fw_actions
    assert real['diff']['after']['firewall'] == res['diff']['after']['firewall']
    assert any('linuxnet:br0/in' in l for l in res['diff']['after']['firewall'])


# ----------------------------------------------------------- the firewalls users have


def foreign_state(kind, fw):
    """What teardown must leave exactly as it found it."""
    if kind.startswith('firewalld'):
        return fw.snapshot(permanent=True), fw.snapshot(permanent=False)
    variants = ('nft', 'legacy') if kind == 'docker-legacy' else ('nft',)
    return tuple(firewalls.iptables_save(v) for v in variants)


def disturb(kind, fw):
    """The firewall's own reload / restart / an admin's flush; returns what was done."""
    if kind.startswith('firewalld'):
        fw.reload()
        return 'firewall-cmd --reload'
    if kind.startswith('docker'):
        firewalls.docker_restart(fw)
        return 'systemctl restart docker'
    fw.reload()
    return 'ufw reload'


@pytest.mark.parametrize('kind,toolchain', [
    ('docker-nft', '2.19'), ('docker-legacy', '2.19'), ('firewalld', '2.19'),
    ('firewalld-el8', '2.19'), ('ufw', '2.19'), ('docker-legacy', '2.16'), ('firewalld', '2.16')])
def test_the_network_works_under_the_firewall_in_charge(play, world, servers, tmp_path, kind,
                                                        toolchain):
    def run(extra=None, **kw):
        return role(play, extra, toolchain=toolchain, **kw)

    with firewalls.foreign(kind, str(tmp_path)) as fw:
        before = foreign_state(kind, fw)
        # check mode predicts the integration and changes nothing outside
        check = net_result(run(check=True, diff=True))
        predicted = [a for a in check['actions'] if a['stage'] == 'firewall']
        assert predicted and foreign_state(kind, fw) == before, check
        r = run(diff=True)
        assert not failed(r), r
        servers()
        assert [a for a in net_result(r)['actions'] if a['stage'] == 'firewall'] == predicted
        assert net_result(r)['diff']['after']['firewall'] == check['diff']['after']['firewall']
        res = net_result(r)
        assert res['firewall']['reachable'] is True and not res.get('warnings'), res
        if kind.startswith('firewalld'):
            assert res['firewall']['firewalld']['running'] is True
            assert 'br0' in fw.cmd('--zone=linuxnet', '--list-interfaces').stdout.split()
            assert 'br0' in fw.cmd('--permanent', '--zone=linuxnet',
                                   '--list-interfaces').stdout.split()
        elif kind.startswith('docker'):
            assert res['firewall']['docker']['iptables'] is True
            variant = kind.split('-')[1]
            user = firewalls.iptables(variant, '-S', 'DOCKER-USER').stdout
            assert 'linuxnet:br0/in' in user and 'linuxnet:br0/out' in user, user
        else:
            assert res['firewall']['ufw'] is True
        assert_all_works()
        assert direct_access_dropped(world)
        assert changed(run()) == []
        what = disturb(kind, fw)
        if kind.startswith('firewalld'):
            # runtime and permanent: firewalld's own reload and restart keep the binding
            assert_all_works()
            fw.restart()
            assert_all_works()
            assert changed(run()) == [], what
        else:
            rerun = run()
            assert not failed(rerun), (what, rerun)
            assert_all_works()
            assert changed(run()) == []
        assert not failed(run(ABSENT))
        assert foreign_state(kind, fw) == before, kind


def test_published_ports_do_not_depend_on_firewalld_accepting_dnat(play, world, servers,
                                                                   tmp_path):
    """StrictForwardPorts=yes (firewalld >= 2.3) removes the `ct status dnat accept` rule of
    firewalld's forward chain; firewalld 1.3 has no such option, so the rule is deleted by
    hand here: the policy linuxnet-forward must carry published ports on its own."""
    with firewalls.foreign('firewalld', str(tmp_path)):
        assert not failed(role(play))
        servers()
        listing = subprocess.run(['nft', '-a', 'list', 'chain', 'inet', 'firewalld',
                                  'filter_FORWARD'], capture_output=True, text=True,
                                 check=True).stdout
        handles = [l.rsplit('# handle ', 1)[1] for l in listing.splitlines()
                   if 'ct status dnat accept' in l]
        assert handles, listing
        for h in handles:
            subprocess.run(['nft', 'delete', 'rule', 'inet', 'firewalld', 'filter_FORWARD',
                            'handle', h], check=True)
        assert_all_works()
        assert direct_access_dropped(world)
        assert not failed(role(play, ABSENT))


# ----------------------------------------------------------- IPv6 (issue 12)
# The firewall stage with the network's IPv6 subnet, driven directly on the role's network
# given IPv6 by hand (what the network module does once it has IPv6): the bridge and the
# containers get fd00:18::/64 addresses (nodad), the host forwards IPv6, the outside routes
# the subnet back to the host (no NAT66 needed), and a hand-made ip6 nat table DNATs
# [HOST6]:5000 to netns0 (a published port's path: conntrack state DNAT). Real TCP.
SUBNET6 = 'fd00:18::/64'
CHECKS6 = ('container_to_container', 'container_to_host', 'container_to_outside',
           'outside_to_published')
DNAT6 = """table ip6 fw6test {
 chain pre { type nat hook prerouting priority dstnat; ip6 daddr %s tcp dport 5000 dnat to [fd00:18::10]:5000; }
}
""" % firewalls.World.HOST6


@pytest.fixture
def world6():
    with firewalls.World(ipv6=True) as w:
        yield w


def hand_made_ipv6(world):
    ip('addr', 'add', 'fd00:18::1/64', 'dev', 'br0', 'nodad')
    for ns, dev, addr in (('netns0', 'ceth0', 'fd00:18::10'), ('netns1', 'ceth1', 'fd00:18::20')):
        ip('addr', 'add', addr + '/64', 'dev', dev, 'nodad', ns=ns)
        ip('-6', 'route', 'add', 'default', 'via', 'fd00:18::1', ns=ns)
    with open('/proc/sys/net/ipv6/conf/all/forwarding', 'w') as f:
        f.write('1')
    ip('-6', 'route', 'add', SUBNET6, 'via', firewalls.World.HOST6, ns='outside')
    subprocess.run(['nft', '-f', '-'], input=DNAT6, text=True, check=True)
    world.serve('netns0', '::', 5000, 'netns0')
    world.serve(None, 'fd00:18::1', 7000, 'host')


def traffic6():
    return dict((name, reply if ok else None) for name, (ok, reply) in firewalls.seed_checks(
        CHECKS6, checks=firewalls.SEED_CHECKS6).items())


def settle_neighbours(timeout=5.0):
    """Wait until no IPv6 neighbour resolution is in progress (INCOMPLETE) in the host, the
    containers or the outside. A check that was dropped leaves one running; when it fails
    (3 probes, 3 s) the kernel fails the connections queued on it with EHOSTUNREACH, which
    would make the next check fail although the firewall now lets it through."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any('INCOMPLETE' in ip('-6', 'neigh', ns=ns) for ns in
                   (None, 'netns0', 'netns1', 'outside')):
            return
        time.sleep(0.1)


def assert_ipv6_works():
    settle_neighbours()
    t = traffic6()
    assert t == {'container_to_container': 'netns0 fd00:18::20',
                 'container_to_host': 'host fd00:18::10',
                 'container_to_outside': 'outside fd00:18::10',
                 'outside_to_published': 'netns0 %s' % firewalls.World.OUTSIDE6}, t


def stage(ipv6=SUBNET6, state='present', integration='auto', check=False):
    """The network module's firewall stage: want -> observe -> plan (-> apply)."""
    from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
    from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall import resource as firewall
    res = firewall.FirewallResource()
    want = res.want({'bridge': 'br0', 'state': state, 'integration': integration,
                     'ipv6_subnet': ipv6})
    with res.context(runner.Invocation({}, check_mode=check)) as ctx:
        have = res.observe(ctx, want)
        actions = res.plan(want, have)
        diff = res.render(want, have, actions)
        if not check:
            res.apply(ctx, actions, have)
    out = res.result(want, have, actions)
    out.update(actions=[(a.op, a.target) for a in actions], diff=diff)
    return out


def ip6_rules(variant):
    return sorted(l for l in firewalls.ip6tables_save(variant, 'filter').splitlines()
                  if 'linuxnet:' in l)


@pytest.mark.parametrize('kind', ['docker-nft', 'docker-legacy', 'ufw'])
def test_ipv6_gets_through_ip6tables(play, world6, tmp_path, kind):
    """Docker (ip6tables) and ufw set ip6tables FORWARD DROP: the same tagged rules there."""
    variant = 'legacy' if kind == 'docker-legacy' else 'nft'
    with firewalls.foreign6(kind, str(tmp_path)) as fw:
        assert not failed(role(play, {'container_bridge_network_firewall_integration':
                                      'none'}))
        world6.serve_seed()
        hand_made_ipv6(world6)
        before6 = firewalls.ip6tables_save(variant)
        broken = traffic6()
        assert broken['container_to_container'] is None and \
            broken['container_to_outside'] is None and \
            broken['outside_to_published'] is None, broken
        # check mode: the prediction, nothing changed
        check = stage(check=True)
        chain = 'FORWARD' if kind == 'ufw' else 'DOCKER-USER'
        tool = 'ip6tables-%s %s' % (variant, chain)
        v6 = [a for a in check['actions'] if a[1].startswith('ip6tables')]
        assert v6 == [('iptables_insert', tool)] * 2 + (
            [('iptables_insert', 'ip6tables-nft INPUT')] if kind == 'ufw' else []), check
        assert firewalls.ip6tables_save(variant) == before6
        real = stage()
        assert real['actions'] == check['actions'] and real['diff'] == check['diff']
        assert real['firewall']['reachable'] is True and not real.get('warnings'), real
        [e6] = [e for e in real['firewall']['iptables'] if e['family'] == 'ipv6']
        assert (e6['variant'], e6['forward'], e6['docker'], e6['ufw']) == (
            variant, 'policy DROP', kind != 'ufw', kind == 'ufw'), e6
        expected = [
            '-A %s -i br0 -m comment --comment "linuxnet:br0/in" -j ACCEPT' % chain,
            '-A %s -o br0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment '
            '--comment "linuxnet:br0/out" -j ACCEPT' % chain]
        if kind == 'ufw':
            expected.append('-A INPUT -i br0 -m comment --comment "linuxnet:br0/input" -j ACCEPT')
        assert ip6_rules(variant) == sorted(expected)
        assert_ipv6_works()
        assert_all_works()
        assert stage()['actions'] == []
        # Docker's restart keeps DOCKER-USER; ufw's reload flushes its own chains only
        if kind == 'ufw':
            fw.reload()
        else:
            firewalls.docker_restart6(variant)
        assert stage()['actions'] == []
        assert_ipv6_works()
        # IPv6 removed from the network: exactly ours go, IPv4's stay
        before6 = ''.join(l for l in firewalls.ip6tables_save(variant).splitlines(True)
                          if 'linuxnet:' not in l)
        gone = stage(ipv6=None)
        assert [a for a in gone['actions'] if a[1].startswith('ip6tables')] == [
            ('iptables_delete', a[1]) for a in v6]
        assert [e['family'] for e in gone['firewall']['iptables']] == ['ipv4']
        assert firewalls.ip6tables_save(variant) == before6
        assert traffic6()['container_to_container'] is None
        assert_all_works()
        # back, then the network torn down: ip6tables exactly as found
        stage()
        assert_ipv6_works()
        stage(state='absent')
        assert firewalls.ip6tables_save(variant) == before6


@pytest.mark.parametrize('kind', ['firewalld', 'firewalld-el8'])
def test_ipv6_gets_through_firewalld_zone_and_policy_as_they_are(play, world6, tmp_path, kind):
    """Zone linuxnet and policy linuxnet-forward name no family: IPv6 passes, nothing more
    to do; without them (integration none) it does not."""
    with firewalls.foreign6(kind, str(tmp_path)) as fw:
        before = foreign_state(kind, fw)
        assert not failed(role(play, {'container_bridge_network_firewall_integration':
                                      'none'}))
        world6.serve_seed()
        hand_made_ipv6(world6)
        broken = traffic6()
        assert broken['container_to_container'] is None and \
            broken['container_to_host'] is None and \
            broken['container_to_outside'] is None, broken
        real = stage()
        assert [a[0] for a in real['actions']] == [
            'firewalld_new_zone', 'firewalld_new_policy', 'firewalld_bind', 'firewalld_reload']
        assert real['firewall']['reachable'] is True and not real.get('warnings'), real
        # the plan of an IPv6 network is the IPv4 one: nothing family-specific in firewalld
        assert stage(ipv6=None)['actions'] == [] and stage()['actions'] == []
        assert_ipv6_works()
        assert_all_works()
        # published ports over IPv6 do not depend on firewalld's `ct status dnat accept`
        listing = subprocess.run(['nft', '-a', 'list', 'chain', 'inet', 'firewalld',
                                  'filter_FORWARD'], capture_output=True, text=True,
                                 check=True).stdout
        for h in [l.rsplit('# handle ', 1)[1] for l in listing.splitlines()
                  if 'ct status dnat accept' in l]:
            subprocess.run(['nft', 'delete', 'rule', 'inet', 'firewalld', 'filter_FORWARD',
                            'handle', h], check=True)
        assert_ipv6_works()
        fw.reload()
        fw.restart()
        assert_ipv6_works()
        stage(state='absent')
        assert foreign_state(kind, fw) == before


def test_an_ip6_drop_table_is_warned_about_only_for_an_ipv6_network(play, world6):
    subprocess.run(['nft', '-f', '-'], check=True, text=True, input=(
        'table ip6 hardening6 {\n'
        ' chain fw_forward { type filter hook forward priority 10; policy drop; }\n}\n'))
    r = role(play)
    assert not failed(r)
    assert net_result(r)['firewall']['reachable'] is True and not net_result(r).get('warnings')
    world6.serve_seed()
    assert_all_works()       # an ip6 table drops no IPv4
    hand_made_ipv6(world6)
    res = stage()
    assert res['firewall']['reachable'] is False and res['actions'] == []
    [u] = res['firewall']['unhandled']
    assert (u['family'], u['table'], u['chain'], u['why']) == ('ip6', 'hardening6', 'fw_forward',
                                                               'policy drop')
    assert any('table ip6 hardening6, chain fw_forward (hook forward, policy drop)' in w
               for w in res['warnings']), res
    assert traffic6()['container_to_container'] is None
    for rule in u['suggested']:
        subprocess.run(rule.replace('"br0"', 'br0').split(), check=True)
    again = stage()
    assert again['firewall']['reachable'] is True and not again.get('warnings'), again
    assert_ipv6_works()


# The role with container_bridge_network_ipv6_subnet under each foreign firewall: the
# seed's checks pass over IPv6 and IPv4 after one converge.
CONTAINERS6 = [
    {'name': 'netns0', 'address': '172.18.0.10', 'ipv6_address': 'fd00:18::10',
     'host_ifname': 'veth0', 'ifname': 'ceth0'},
    {'name': 'netns1', 'address': '172.18.0.20', 'ipv6_address': 'fd00:18::20',
     'host_ifname': 'veth1', 'ifname': 'ceth1'}]
DUAL = {'container_bridge_network_ipv6_subnet': SUBNET6,
        'container_bridge_network_containers': CONTAINERS6}
SEED6 = ('container_to_container', 'container_to_host', 'container_to_outside',
         'outside_to_published', 'host_to_published', 'hairpin')


def ip6_state(kind):
    if kind.startswith('docker') or kind == 'ufw':
        return firewalls.ip6tables_save('legacy' if kind == 'docker-legacy' else 'nft')
    return None


@pytest.mark.parametrize('kind', ['docker-nft', 'docker-legacy', 'ufw', 'firewalld',
                                  'firewalld-el8'])
def test_the_dual_stack_role_works_under_the_firewall_in_charge(play, world6, tmp_path, kind):
    with firewalls.foreign6(kind, str(tmp_path)) as fw:
        before, before6 = foreign_state(kind, fw), ip6_state(kind)
        check = net_result(role(play, DUAL, check=True, diff=True))
        predicted = [a for a in check['actions'] if a['stage'] == 'firewall']
        assert predicted and foreign_state(kind, fw) == before and ip6_state(kind) == before6
        r = role(play, DUAL, diff=True)
        assert not failed(r), r
        res = net_result(r)
        assert [a for a in res['actions'] if a['stage'] == 'firewall'] == predicted
        assert res['diff']['after']['firewall'] == check['diff']['after']['firewall']
        assert res['firewall']['reachable'] is True and not res.get('warnings'), res
        if kind.startswith('firewalld'):
            assert not [e for e in res['firewall']['iptables'] if e['family'] == 'ipv6']
        else:
            [e6] = [e for e in res['firewall']['iptables'] if e['family'] == 'ipv6']
            assert e6['forward'] == 'policy DROP' and len(e6['rules']) in (2, 3), e6
            assert sum(1 for t in res['diff']['after']['firewall']
                       if t.startswith('ip6tables-')) == len(e6['rules'])
        world6.serve_seed(ipv6_gateway='fd00:18::1')
        settle_neighbours()
        t4 = firewalls.seed_checks(CHECKS)
        t6 = firewalls.seed_checks(SEED6, checks=firewalls.SEED_CHECKS6)
        assert firewalls.failing(t4) == [] and firewalls.failing(t6) == [], (t4, t6)
        assert t6['container_to_outside'][1] == 'outside ' + firewalls.World.HOST6, t6
        assert t6['container_to_container'][1] == 'netns0 fd00:18::20', t6
        assert changed(role(play, DUAL)) == []
        assert not failed(role(play, dict(DUAL, **ABSENT)))
        assert foreign_state(kind, fw) == before and ip6_state(kind) == before6, kind
