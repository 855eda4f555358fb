"""Firewall integration: parsing, deciding and planning (pure logic, no kernel)."""
import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall import resource as firewall
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall import firewalld
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall import firewalld_cmd as fwd
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall import iptables as ipt
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec as codec
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_expr
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_socket
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError)

DOCKER = """-P INPUT ACCEPT
-P FORWARD DROP
-P OUTPUT ACCEPT
-N DOCKER
-N DOCKER-FORWARD
-N DOCKER-USER
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-FORWARD
-A DOCKER -i docker0 ! -o docker0 -j DROP
-A DOCKER-USER -j RETURN
"""
UFW = """-P INPUT DROP
-P FORWARD DROP
-P OUTPUT ACCEPT
-N ufw-before-forward
-A FORWARD -j ufw-before-forward
"""
OPEN = """-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N user
-A FORWARD -j user
-A user -p tcp --dport 22 -j ACCEPT
"""
DEEP_REJECT = OPEN + "-A user -s 10.0.0.0/8 -j REJECT --reject-with icmp-port-unreachable\n"


def table(text, variant='nft'):
    return ipt.parse_rules(variant, '/usr/sbin/iptables-' + variant, text)


def test_parse_and_block_reasons():
    t = table(DOCKER)
    assert t.policies == {'INPUT': 'ACCEPT', 'FORWARD': 'DROP', 'OUTPUT': 'ACCEPT'}
    assert 'DOCKER-USER' in t.chains and ('DOCKER-USER', ['-j', 'RETURN']) in t.rules
    assert ipt.blocks(t, 'FORWARD') == 'policy DROP'
    assert ipt.blocks(t, 'INPUT') is None
    assert ipt.blocks(table(OPEN), 'FORWARD') is None
    # a REJECT reached through a user chain counts
    assert ipt.blocks(table(DEEP_REJECT), 'FORWARD') == 'a REJECT rule in chain user'


def test_desired_rules_go_to_docker_user_or_the_top_of_forward_and_input():
    d = ipt.desired_rules(table(DOCKER), 'br0')
    assert [(c, tag) for c, tag, _args in d] == [
        ('DOCKER-USER', 'linuxnet:br0/in'), ('DOCKER-USER', 'linuxnet:br0/out')]
    assert d[1][2][:6] == ['-o', 'br0', '-m', 'conntrack', '--ctstate',
                           'RELATED,ESTABLISHED,DNAT']
    u = ipt.desired_rules(table(UFW), 'br0')
    assert [(c, tag) for c, tag, _args in u] == [
        ('FORWARD', 'linuxnet:br0/in'), ('FORWARD', 'linuxnet:br0/out'),
        ('INPUT', 'linuxnet:br0/input')]
    assert ipt.desired_rules(table(OPEN), 'br0') == []


def test_iptables_plan_inserts_once_then_nothing_and_removes_exactly_ours():
    t = table(DOCKER)
    acts = ipt.plan_table(t, 'br0', ipt.desired_rules(t, 'br0'))
    assert [a.op for a in acts] == ['iptables_insert'] * 2
    assert acts[0].args['_argv'] == [['/usr/sbin/iptables-nft', '-w', '-t', 'filter', '-I',
                                      'DOCKER-USER', '1', '-i', 'br0', '-m', 'comment',
                                      '--comment', 'linuxnet:br0/in', '-j', 'ACCEPT']]
    # as iptables -S prints them once inserted (plus another network's and a foreign rule)
    done = DOCKER + (
        '-A DOCKER-USER -i br0 -m comment --comment "linuxnet:br0/in" -j ACCEPT\n'
        '-A DOCKER-USER -o br0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT '
        '-m comment --comment "linuxnet:br0/out" -j ACCEPT\n'
        '-A DOCKER-USER -i br1 -m comment --comment "linuxnet:br1/in" -j ACCEPT\n'
        '-A DOCKER-USER -i br0 -m comment --comment "mine" -j ACCEPT\n')
    t2 = table(done)
    assert ipt.plan_table(t2, 'br0', ipt.desired_rules(t2, 'br0')) == []
    gone = ipt.plan_table(t2, 'br0', [])
    assert [a.op for a in gone] == ['iptables_delete'] * 2
    assert all('linuxnet:br0/' in ' '.join(a.args['_argv'][0]) for a in gone)
    assert gone[0].args['_argv'][0][:6] == ['/usr/sbin/iptables-nft', '-w', '-t', 'filter',
                                            '-D', 'DOCKER-USER']


OURS_UFW = (
    '-A FORWARD -i br0 -m comment --comment "linuxnet:br0/in" -j ACCEPT\n'
    '-A FORWARD -o br0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT '
    '-m comment --comment "linuxnet:br0/out" -j ACCEPT\n'
    '-A INPUT -i br0 -m comment --comment "linuxnet:br0/input" -j ACCEPT\n')


def test_iptables_rules_stay_while_the_firewall_is_between_stop_and_start():
    """ufw reload is ufw disable + enable: between them FORWARD and INPUT accept and ufw's
    chains are gone. A heal pass (or a run) at that moment keeps our rules: deleting them
    would break the network when ufw is back, until the next pass puts them back."""
    res = firewall.FirewallResource()
    want = res.want({'bridge': 'br0', 'state': 'present'})
    between = table(OPEN + OURS_UFW)
    assert ipt.desired_rules(between, 'br0') == []
    assert res.plan(want, have(tables=[between])) == []
    assert res.plan(want, have(tables=[table(UFW + OURS_UFW)])) == []
    # a copy of one of them still goes; a network removed or integration none: all go
    twice = table(OPEN + OURS_UFW + OURS_UFW.splitlines(True)[2])
    assert [(a.op, a.args['rule']) for a in res.plan(want, have(tables=[twice]))] == [
        ('iptables_delete', '-A INPUT -i br0 -m comment --comment linuxnet:br0/input -j ACCEPT')]
    for gone in (dict(want, state='absent'), dict(want, integration='none')):
        assert [a.op for a in res.plan(gone, have(tables=[between]))] == ['iptables_delete'] * 3


def test_iptables_rule_in_the_wrong_chain_moves():
    t = table(DOCKER + '-A FORWARD -i br0 -m comment --comment linuxnet:br0/in -j ACCEPT\n')
    acts = ipt.plan_table(t, 'br0', ipt.desired_rules(t, 'br0'))
    assert [(a.op, a.target) for a in acts] == [
        ('iptables_delete', 'iptables-nft FORWARD'),
        ('iptables_insert', 'iptables-nft DOCKER-USER'),
        ('iptables_insert', 'iptables-nft DOCKER-USER')]


class FakeCmd(object):
    argv0 = '/usr/bin/firewall-cmd'

    def argv(self, args):
        return [self.argv0] + list(args)


def state(zone_p=None, zone_rt=None, pol_p=None, pol_rt=None, version=(1, 3, 3)):
    return fwd.FirewalldState(True, version, {'permanent': zone_p, 'runtime': zone_rt},
                              {'permanent': pol_p, 'runtime': pol_rt})


ZONE_OK = {'target': 'ACCEPT', 'interfaces': 'br0'}
POL_OK = {'target': 'ACCEPT', 'ingress-zones': 'ANY', 'egress-zones': 'linuxnet'}


def test_firewalld_fresh_host_creates_zone_policy_binds_and_reloads_once():
    acts = firewalld.plan_zone(state(), FakeCmd(), 'br0', True)
    assert [a.op for a in acts] == ['firewalld_new_zone', 'firewalld_new_policy',
                                    'firewalld_bind', 'firewalld_reload']
    assert acts[2].args['_argv'] == [['/usr/bin/firewall-cmd', '--permanent', '--zone=linuxnet',
                                      '--change-interface=br0']]
    # firewalld 0.8 (EL8): no policies
    old = firewalld.plan_zone(state(version=(0, 8, 2)), FakeCmd(), 'br0', True)
    assert [a.op for a in old] == ['firewalld_new_zone', 'firewalld_bind', 'firewalld_reload']


def test_firewalld_converged_is_empty_and_a_lost_runtime_binding_is_restored():
    assert firewalld.plan_zone(state(ZONE_OK, ZONE_OK, POL_OK, POL_OK), FakeCmd(), 'br0',
                               True) == []
    acts = firewalld.plan_zone(state(ZONE_OK, {'target': 'ACCEPT', 'interfaces': ''},
                                     POL_OK, POL_OK), FakeCmd(), 'br0', True)
    assert [(a.op, a.args.get('config')) for a in acts] == [('firewalld_bind', 'runtime')]


def test_firewalld_teardown_keeps_the_zone_while_another_network_uses_it():
    two = {'target': 'ACCEPT', 'interfaces': 'br0 br1'}
    acts = firewalld.plan_zone(state(two, two, POL_OK, POL_OK), FakeCmd(), 'br0', False)
    assert [(a.op, a.args.get('config')) for a in acts] == [
        ('firewalld_unbind', 'permanent'), ('firewalld_unbind', 'runtime')]
    last = firewalld.plan_zone(state(ZONE_OK, ZONE_OK, POL_OK, POL_OK), FakeCmd(), 'br0',
                               False)
    assert [a.op for a in last] == ['firewalld_unbind', 'firewalld_unbind', 'firewalld_delete',
                                    'firewalld_reload']
    assert last[2].args['_argv'] == [
        ['/usr/bin/firewall-cmd', '--permanent', '--delete-policy=linuxnet-forward'],
        ['/usr/bin/firewall-cmd', '--permanent', '--delete-zone=linuxnet']]
    assert firewalld.plan_zone(state(), FakeCmd(), 'br0', False) == []


def test_firewall_cmd_output_parsing():
    info = fwd.parse_info('linuxnet (active)\n  target: ACCEPT\n  icmp-block-inversion: no\n'
                          '  interfaces: br0 br1\n  sources: \n')
    assert info['target'] == 'ACCEPT' and fwd.words(info, 'interfaces') == ['br0', 'br1']
    assert fwd.words(info, 'sources') == []
    assert fwd.version_tuple('1.3.3\n') == (1, 3, 3) and fwd.version_tuple('0.8') == (0, 8, 0)
    assert fwd.policy_ok(POL_OK) and not fwd.policy_ok(dict(POL_OK, target='CONTINUE'))


def test_strict_forward_ports_is_read_from_the_config(tmp_path):
    conf = tmp_path / 'firewalld.conf'
    conf.write_text('# StrictForwardPorts=yes\nStrictForwardPorts=yes\n')
    assert fwd.strict_forward_ports(str(conf)) is True
    conf.write_text('StrictForwardPorts=no\n')
    assert fwd.strict_forward_ports(str(conf)) is False
    assert fwd.strict_forward_ports(str(tmp_path / 'missing')) is False


def chain(family, table_name, name, hook, policy, rules=()):
    c = nft_socket.Chain(name, hook=hook, priority=0, ctype='filter', policy=policy, family=family,
                         table=table_name)
    c.rules = [nft_socket.Rule(name, i + 1, None, nft_expr.decode_exprs(nft_expr.encode_exprs(r)))
               for i, r in enumerate(rules)]
    return c


def have(chains=(), firewalld=None, tables=()):
    return {'chains': list(chains), 'firewalld': firewalld, 'fwcmd': FakeCmd(),
            'iptables': list(tables), 'unreadable': []}


def test_foreign_chains_that_drop_are_reported_with_the_rules_to_add():
    accept_br0 = nft_expr.match_ifname('iif', 'br0') + [nft_expr.verdict(codec.NF_ACCEPT)]
    chains = [
        chain(codec.NFPROTO_INET, 'hard', 'fwd', codec.NF_INET_FORWARD, codec.NF_DROP),
        chain(codec.NFPROTO_INET, 'ends', 'in', codec.NF_INET_LOCAL_IN, codec.NF_ACCEPT,
              [[nft_expr.verdict(codec.NF_DROP)]]),
        chain(codec.NFPROTO_INET, 'open', 'fwd', codec.NF_INET_FORWARD, codec.NF_ACCEPT),
        chain(codec.NFPROTO_INET, 'mine', 'fwd', codec.NF_INET_FORWARD, codec.NF_DROP, [accept_br0]),
        # the same accept with a counter (nft add rule ... iifname "br0" counter accept)
        chain(codec.NFPROTO_INET, 'counted', 'fwd', codec.NF_INET_FORWARD, codec.NF_DROP,
              [nft_expr.match_ifname('iif', 'br0') + [nft_expr.Expr('counter', []),
                                                      nft_expr.verdict(codec.NF_ACCEPT)]]),
        chain(codec.NFPROTO_IPV4, 'linuxnet', 'forward', codec.NF_INET_FORWARD, codec.NF_ACCEPT,
              [[nft_expr.verdict(codec.NF_DROP)]]),
    ]
    want = {'bridge': 'br0', 'state': 'present', 'integration': 'auto'}
    report, warnings = firewall.assess(want, have(chains))
    assert [(u['table'], u['chain'], u['hook'], u['why']) for u in report['unhandled']] == [
        ('hard', 'fwd', 'forward', 'policy drop'), ('ends', 'in', 'input', 'its last rule drops')]
    assert report['reachable'] is False and len(warnings) == 2
    assert 'nft insert rule inet hard fwd iifname "br0" accept' in warnings[0]
    assert report['unhandled'][1]['suggested'] == ['nft insert rule inet ends in iifname "br0" accept']
    # nothing to change for them: the plan is empty
    assert firewall.FirewallResource().plan(want, have(chains)) == []


def test_none_mode_warns_about_what_auto_would_handle_and_plans_removal_only():
    t = table(DOCKER + '-A DOCKER-USER -i br0 -m comment --comment linuxnet:br0/in -j ACCEPT\n')
    want = {'bridge': 'br0', 'state': 'present', 'integration': 'none'}
    h = have(firewalld=state(ZONE_OK, ZONE_OK, POL_OK, POL_OK), tables=[t])
    report, warnings = firewall.assess(want, h)
    assert report['reachable'] is False
    assert any(w.startswith('firewalld is running') for w in warnings)
    assert any(w.startswith('iptables-nft would drop traffic of br0 (FORWARD policy DROP)')
               for w in warnings)
    ops = [a.op for a in firewall.FirewallResource().plan(want, h)]
    assert ops == ['firewalld_unbind', 'firewalld_unbind', 'firewalld_delete', 'firewalld_reload',
                   'iptables_delete']
    auto = dict(want, integration='auto')
    report, warnings = firewall.assess(auto, h)
    assert report['reachable'] is True and warnings == []
    assert report['docker'] == {'iptables': True, 'nftables': []}


def test_diff_lines_follow_the_plan():
    t = table(DOCKER)
    want = {'bridge': 'br0', 'state': 'present', 'integration': 'auto'}
    h = have(firewalld=state(), tables=[t])
    res = firewall.FirewallResource()
    before, after = res.render(want, h, res.plan(want, h))
    assert before == ''
    assert 'firewalld interface br0 in zone linuxnet (runtime)' in after
    assert 'iptables-nft -A DOCKER-USER -i br0 -m comment --comment linuxnet:br0/in -j ACCEPT' in after


def test_bad_mode_is_refused():
    with pytest.raises(ValidationError) as e:
        firewall.FirewallResource().want({'bridge': 'br0', 'integration': 'sometimes'})
    assert "firewall_integration: 'sometimes' is not one of: auto, none" in str(e.value)


def test_docker_29_nftables_tables_are_reported_and_need_nothing():
    """Docker >= 29 (nftables backend): ip docker-bridges, forward chain policy accept with
    verdict maps for its own bridges: reported, nothing to change, nothing to warn."""
    docker = chain(codec.NFPROTO_IPV4, 'docker-bridges', 'filter-FORWARD', codec.NF_INET_FORWARD,
                   codec.NF_ACCEPT)
    want = {'bridge': 'br0', 'state': 'present', 'integration': 'auto'}
    report, warnings = firewall.assess(want, have([docker]))
    assert report['docker'] == {'iptables': False, 'nftables': ['ip docker-bridges']}
    assert report['reachable'] is True and warnings == []
    assert firewall.FirewallResource().plan(want, have([docker])) == []


# ------------------------------------------------------------------ IPv6 (issue 12)
V6 = {'bridge': 'br0', 'state': 'present', 'integration': 'auto', 'ipv6_subnet': 'fd00:18::/64',
      'fleet': None}
V4 = dict(V6, ipv6_subnet=None)


def table6(text, variant='nft'):
    return ipt.parse_rules(variant, '/usr/sbin/ip6tables-' + variant, text, ipt.IPV6)


def test_want_carries_the_ipv6_subnet():
    res = firewall.FirewallResource()
    assert res.want({'bridge': 'br0', 'ipv6_subnet': 'fd00:18::/64'}) == V6
    assert res.want({'bridge': 'br0'})['ipv6_subnet'] is None


def test_ip6tables_gets_the_same_rules_only_when_the_network_has_ipv6():
    t4, t6 = table(DOCKER), table6(DOCKER)
    assert t6.name == 'ip6tables-nft' and t6.family == 'ipv6'
    acts = firewall.FirewallResource().plan(V6, have(tables=[t4, t6]))
    assert [(a.op, a.target) for a in acts] == [
        ('iptables_insert', 'iptables-nft DOCKER-USER'),
        ('iptables_insert', 'iptables-nft DOCKER-USER'),
        ('iptables_insert', 'ip6tables-nft DOCKER-USER'),
        ('iptables_insert', 'ip6tables-nft DOCKER-USER')]
    assert acts[2].args['_argv'] == [['/usr/sbin/ip6tables-nft', '-w', '-t', 'filter', '-I',
                                      'DOCKER-USER', '1', '-i', 'br0', '-m', 'comment',
                                      '--comment', 'linuxnet:br0/in', '-j', 'ACCEPT']]
    # IPv4 only: ip6tables is left alone
    assert [a.target for a in firewall.FirewallResource().plan(V4, have(tables=[t4, t6]))] == \
        ['iptables-nft DOCKER-USER'] * 2
    report, warnings = firewall.assess(V6, have(tables=[t4, t6]))
    assert [(e['family'], e['variant'], e['forward']) for e in report['iptables']] == [
        ('ipv4', 'nft', 'policy DROP'), ('ipv6', 'nft', 'policy DROP')]
    assert report['reachable'] is True and warnings == []
    assert [e['family'] for e in firewall.assess(V4, have(tables=[t4, t6]))[0]['iptables']] == \
        ['ipv4']


def test_ipv6_removed_or_torn_down_removes_exactly_our_ip6tables_rules():
    done = table6(UFW + '-A FORWARD -i br0 -m comment --comment "linuxnet:br0/in" -j ACCEPT\n'
                  '-A INPUT -i br0 -m comment --comment "linuxnet:br0/input" -j ACCEPT\n'
                  '-A FORWARD -i br1 -m comment --comment "linuxnet:br1/in" -j ACCEPT\n', 'legacy')
    for want in (V4, dict(V6, state='absent'), dict(V6, integration='none')):
        acts = firewall.FirewallResource().plan(want, have(tables=[done]))
        assert [(a.op, a.args['_argv'][0][0], a.args['_argv'][0][4:6]) for a in acts] == [
            ('iptables_delete', '/usr/sbin/ip6tables-legacy', ['-D', 'INPUT']),
            ('iptables_delete', '/usr/sbin/ip6tables-legacy', ['-D', 'FORWARD'])], want
    # still IPv6: the missing 'out' rule is added, the others stay
    acts = firewall.FirewallResource().plan(V6, have(tables=[done]))
    assert [(a.op, a.args['rule']) for a in acts] == [
        ('iptables_insert', '-A FORWARD -o br0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT '
                            '-m comment --comment linuxnet:br0/out -j ACCEPT')]
    res = firewall.FirewallResource()
    before, after = res.render(V4, have(tables=[done]), res.plan(V4, have(tables=[done])))
    assert 'ip6tables-legacy -A FORWARD -i br0 -m comment --comment linuxnet:br0/in -j ACCEPT' \
        in before and 'ip6tables-legacy' not in after and 'br1' not in before


def test_none_mode_warns_about_ip6tables_as_ipv6():
    report, warnings = firewall.assess(dict(V6, integration='none'), have(tables=[table6(UFW)]))
    assert report['reachable'] is False
    assert warnings[0].startswith('ip6tables-nft would drop IPv6 traffic of br0 (FORWARD '
                                  'policy DROP, INPUT policy DROP). Set firewall integration '
                                  'to auto, or run: /usr/sbin/ip6tables-nft -w -t filter -I '
                                  'FORWARD 1 -i br0'), warnings


def test_an_ip6tables_side_without_binary_is_said_only_for_an_ipv6_network():
    h = have()
    h['unreadable'] = [('ipv6', 'nft', 'ip6tables-nft: no ip6tables-nft (or ip6tables) binary '
                        'to read it with; install the package that provides it (iptables) '
                        'and rerun')]
    # its own filter chains are not warned about a second time as foreign nftables chains
    h['chains'] = [chain(codec.NFPROTO_IPV6, 'filter', 'FORWARD', codec.NF_INET_FORWARD,
                         codec.NF_DROP)]
    report, warnings = firewall.assess(V6, h)
    assert warnings == ['could not read ip6tables-nft: no ip6tables-nft (or ip6tables) binary '
                        'to read it with; install the package that provides it (iptables) and '
                        'rerun; IPv6 traffic of br0 may be dropped there']
    assert report['reachable'] is False and len(report['unhandled']) == 1
    quiet = {'integration': 'auto', 'firewalld': {'running': False}, 'iptables': [],
             'docker': {'iptables': False, 'nftables': []}, 'ufw': False, 'unhandled': [],
             'reachable': True}
    assert firewall.assess(V4, h) == (quiet, [])


def test_ip6_tables_that_drop_are_warned_about_when_the_network_has_ipv6():
    chains = [chain(codec.NFPROTO_IPV6, 'hard6', 'fwd', codec.NF_INET_FORWARD, codec.NF_DROP),
              chain(codec.NFPROTO_IPV6, 'firewalld', 'filter_FORWARD', codec.NF_INET_FORWARD,
                    codec.NF_DROP)]
    report, warnings = firewall.assess(V6, have(chains, firewalld=state(ZONE_OK, ZONE_OK,
                                                                        POL_OK, POL_OK)))
    assert [(u['family'], u['table'], u['suggested']) for u in report['unhandled']] == [
        ('ip6', 'hard6', ['nft insert rule ip6 hard6 fwd iifname "br0" accept',
                          'nft insert rule ip6 hard6 fwd oifname "br0" ct state '
                          'established,related accept',
                          'nft insert rule ip6 hard6 fwd oifname "br0" ct status dnat accept'])]
    assert warnings[0].startswith('table ip6 hard6, chain fwd (hook forward, policy drop) may '
                                  'drop traffic of br0')
    report, warnings = firewall.assess(V4, have(chains))
    assert report['unhandled'] == [] and warnings == []


def test_iptables_in_use_per_family(monkeypatch):
    monkeypatch.setattr(ipt, 'legacy_in_use', lambda family: family == 'ipv6')
    chains = [chain(codec.NFPROTO_IPV4, 'filter', 'FORWARD', codec.NF_INET_FORWARD,
                    codec.NF_ACCEPT),
              chain(codec.NFPROTO_IPV6, 'filter', 'INPUT', codec.NF_INET_LOCAL_IN, codec.NF_DROP),
              chain(codec.NFPROTO_IPV6, 'other', 'FORWARD', codec.NF_INET_FORWARD, codec.NF_DROP)]
    assert ipt.iptables_in_use(chains) == [('ipv4', 'nft'), ('ipv6', 'nft'),
                                           ('ipv6', 'legacy')]
    assert ipt.iptables_in_use(chains[2:]) == [('ipv6', 'legacy')]


class FakeCmds(object):
    def __init__(self, paths, version=''):
        self.paths, self.version, self.ran = paths, version, []

    def which(self, name):
        return self.paths.get(name)

    def run(self, argv):
        self.ran.append(argv)
        return (0, self.version, '') if argv[-1] == '--version' else (0, DOCKER, '')


def test_ip6tables_binary_and_reading():
    cmds = FakeCmds({'ip6tables-legacy': '/sbin/ip6tables-legacy'})
    t, why = ipt.read_table(cmds, 'legacy', ipt.IPV6)
    assert why is None and t.name == 'ip6tables-legacy' and t.family == 'ipv6'
    assert cmds.ran == [['/sbin/ip6tables-legacy', '-w', '-t', 'filter', '-S']]
    # only a plain ip6tables: its --version says which variant it is
    plain = FakeCmds({'ip6tables': '/sbin/ip6tables'}, 'ip6tables v1.8.9 (nf_tables)')
    assert ipt.find_binary(plain, 'nft', ipt.IPV6) == '/sbin/ip6tables'
    assert ipt.find_binary(plain, 'legacy', ipt.IPV6) is None
    t, why = ipt.read_table(FakeCmds({'iptables-nft': '/sbin/iptables-nft'}), 'nft', ipt.IPV6)
    assert t is None and why.startswith('no ip6tables-nft (or ip6tables) binary'), why


# ------------------------------------------------------------------ a fleet (issue 13)
FLEET = {'subnets': ['172.18.2.0/24', '172.18.3.0/24'], 'vteps': ['198.51.100.12', '192.0.2.13']}


def test_fleet_rules_let_peer_containers_and_their_vxlan_in():
    rules = ipt.desired_rules(table(UFW), 'br0', FLEET)
    tags = [(chain, tag) for chain, tag, _a in rules]
    assert ('FORWARD', 'linuxnet:br0/fleet_172.18.2.0_24') in tags
    assert ('INPUT', 'linuxnet:br0/vxlan_192.0.2.13') in tags
    fwd_rule = [a for _c, tag, a in rules if tag.endswith('fleet_172.18.3.0_24')][0]
    assert fwd_rule[:4] == ['-s', '172.18.3.0/24', '-o', 'br0']
    vx = [a for _c, tag, a in rules if tag.endswith('vxlan_198.51.100.12')][0]
    assert vx[:7] == ['-s', '198.51.100.12/32', '-p', 'udp', '-m', 'udp', '--dport'] and \
        vx[7] == '4789'
    # Docker drops only forwarding: no INPUT rule; IPv6 tables get none of the fleet's
    docker = [tag for _c, tag, _a in ipt.desired_rules(table(DOCKER), 'br0', FLEET)]
    assert 'linuxnet:br0/fleet_172.18.2.0_24' in docker and not [t for t in docker if 'vxlan' in t]
    six = ipt.parse_rules('nft', '/usr/sbin/ip6tables-nft', UFW, ipt.IPV6)
    assert [t for _c, t, _a in ipt.desired_rules(six, 'br0', FLEET)] == [
        'linuxnet:br0/in', 'linuxnet:br0/out', 'linuxnet:br0/input']
    # our tags are found back as ours (the bridge before the last slash)
    parsed = table(UFW + ''.join(ipt.rule_line(c, a) + '\n' for c, _t, a in rules))
    assert [t for _c, t, _a in parsed.ours('br0')] == [t for _c, t, _a in rules]


def _vx_state(perm, rt):
    st = state(ZONE_OK, ZONE_OK, POL_OK, POL_OK)
    st.vxlan = {'permanent': perm, 'runtime': rt}
    return st


def test_firewalld_vxlan_policy_created_kept_and_removed():
    rules = sorted(fwd.vxlan_rule(p) for p in FLEET['vteps'])
    acts = firewalld.plan_vxlan(_vx_state(None, None), FakeCmd(), FLEET['vteps'])
    assert [a.op for a in acts] == ['firewalld_vxlan', 'firewalld_reload']
    argv = [' '.join(x[1:]) for x in acts[0].args['_argv']]
    assert argv[0] == '--permanent --new-policy=linuxnet-vxlan'
    assert '--permanent --policy=linuxnet-vxlan --add-egress-zone=HOST' in argv
    assert '--permanent --policy=linuxnet-vxlan --add-rich-rule=%s' % rules[0] in argv
    assert fwd.vxlan_peer(rules[0]) == '192.0.2.13' and fwd.vxlan_peer('rule accept') is None
    # converged: nothing; runtime behind: a reload
    assert firewalld.plan_vxlan(_vx_state(rules, rules), FakeCmd(), FLEET['vteps']) == []
    assert [a.op for a in firewalld.plan_vxlan(
        _vx_state(rules, []), FakeCmd(), FLEET['vteps'])] == ['firewalld_reload']
    # a peer leaves: its rule goes; the last: the policy goes
    acts = firewalld.plan_vxlan(_vx_state(rules, rules), FakeCmd(), ['198.51.100.12'])
    assert [' '.join(x[1:]) for x in acts[0].args['_argv']] == [
        '--permanent --policy=linuxnet-vxlan --remove-rich-rule=%s' % fwd.vxlan_rule('192.0.2.13')]
    acts = firewalld.plan_vxlan(_vx_state(rules, rules), FakeCmd(), [])
    assert acts[0].args['_argv'][-1][1:] == ['--permanent', '--delete-policy=linuxnet-vxlan']
    # firewalld without policies (< 0.9): nothing planned
    old = _vx_state(None, None)
    old.policies = False
    assert firewalld.plan_vxlan(old, FakeCmd(), FLEET['vteps']) == []


def test_firewalld_stopping_while_it_is_read_is_a_failed_reading(monkeypatch):
    """systemctl restart nftables stops firewalld (Conflicts=): a heal pass that began
    while it ran read the runtime zone, then got "not running" (exit 252) for the rest.
    That is a reading that failed (the pass changes nothing and is tried again), not a
    zone whose info is the number 252."""
    monkeypatch.setattr(fwd.os.path, 'exists', lambda p: p in fwd.BUS_SOCKETS)
    answers = [(0, '  target: ACCEPT\n  interfaces: br0\n', ''), (0, 'firewalld 1.3.3', ''),
               (fwd.NOT_RUNNING, 'FirewallD is not running', '')]

    class Stopping(object):
        def which(self, name):
            return '/usr/bin/' + name

        def run(self, argv):
            return answers.pop(0) if len(answers) > 1 else answers[0]
    with pytest.raises(fwd.FirewalldError, match='firewalld stopped while it was read'):
        fwd.FirewallCmd(Stopping()).observe()
    # not running from the first call: no firewalld, no error
    answers[:] = [(fwd.NOT_RUNNING, 'FirewallD is not running', '')]
    assert fwd.FirewallCmd(Stopping()).observe() is None
