# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module network_info on the real kernel: what it reports is what `ip -j` and `nft -j`
read (never the module's own code), its drift is exactly what the role would do, and it
changes nothing."""
import json
import os
import subprocess

import pytest
import yaml

from conftest import REPO, ip, ipj

ROLE = 'linuxnet.container_network.container_bridge_network'
INFO = 'linuxnet.container_network.network_info'
with open(os.path.join(REPO, 'roles/container_bridge_network/defaults/main.yml')) as _f:
    DEFAULTS = yaml.safe_load(_f)
PREFIX = 'container_bridge_network_'
DUAL = {PREFIX + 'ipv6_subnet': 'fd00:18::/64'}
SECOND = {PREFIX + 'bridge': 'br1', PREFIX + 'subnet': '172.19.0.0/16',
          PREFIX + 'gateway': '172.19.0.1',
          PREFIX + 'containers': [{'name': 'app1'}, {'name': 'app2', 'address': '172.19.0.7'}],
          PREFIX + 'published_ports': [{'container': 'app2', 'host_port': 8080,
                                        'container_port': 80, 'protocol': 'udp'}]}


def role(play, extra=None, check=False, toolchain='2.19'):
    return play([{'ansible.builtin.include_role': {'name': ROLE}}], check=check,
                toolchain=toolchain, extra_vars=extra or {})


def network_task(results):
    [net] = [r for r in results if 'firewall' in r]  # the role's one network call
    assert net['_status'] == 'ok', net
    return net


def info(play, check=False, toolchain='2.19', expect_ok=True, **args):
    [r] = play([{INFO: args}], check=check, toolchain=toolchain)
    if expect_ok:
        assert r['_status'] == 'ok' and r['changed'] is False and r['actions'] == [], r
    return r


def description(extra):
    """The role's variables (its defaults, overridden by ``extra``) without their prefix:
    what its network task passes to module network."""
    # not options of module network: install_prerequisites (a role step) and the fleet's
    # variables (the role's fleet filter composes them into its option fleet)
    role_only = ('install_prerequisites', 'fleet_group', 'fleet_backend', 'underlay_address',
                 'vxlan_id')
    d = dict((k[len(PREFIX):], v) for k, v in dict(DEFAULTS, **extra).items()
             if k.startswith(PREFIX) and k[len(PREFIX):] not in role_only)
    return dict((k, v) for k, v in d.items() if v is not None)


# -- the kernel as iproute2 and nft read it ----------------------------------------------
def link(name, ns=None):
    [entry] = ipj('-d', 'link', 'show', 'dev', name, ns=ns)
    return entry


def global_addrs(name, ns=None):
    return [('%s/%d' % (a['local'], a['prefixlen']))
            for e in ipj('addr', 'show', 'dev', name, ns=ns) for a in e['addr_info']
            if a.get('scope') == 'global']


def default_routes(ns):
    out = []
    for fam, name in (('-4', 'ipv4'), ('-6', 'ipv6')):
        for r in ipj(fam, 'route', 'show', 'default', ns=ns):
            out.append({'family': name, 'dst': 'default', 'gateway': r.get('gateway')})
    return out


def nft_rules():
    """{rule id: (chain, the rule's JSON)} of table inet linuxnet, from `nft -j`."""
    proc = subprocess.run(['nft', '-j', 'list', 'table', 'inet', 'linuxnet'],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {}
    out = {}
    for item in json.loads(proc.stdout)['nftables']:
        rule = item.get('rule')
        if rule and str(rule.get('comment', '')).startswith('linuxnet:'):
            rid = rule['comment'][len('linuxnet:'):].rpartition('#')[0]
            out[rid] = (rule['chain'], rule)
    return out


def dnat_target(rule):
    for e in rule['expr']:
        if 'dnat' in e:
            return e['dnat']['addr'], e['dnat'].get('port')
    return None


def sysctl(path):
    with open('/proc/sys/' + path) as f:
        return f.read().strip()


def netns_names():
    return sorted(n['name'] for n in ipj('netns', 'list'))


def assert_matches_kernel(net, bridge, containers):
    """``net`` (one network of the result) against iproute2 and nft, field by field."""
    br = link(bridge)
    assert net['bridge'] == {'name': bridge, 'present': True, 'up': 'UP' in br['flags'],
                             'mtu': br['mtu'], 'mac': br['address'],
                             'addresses': global_addrs(bridge)}
    v4 = [a for a in global_addrs(bridge) if ':' not in a]
    v6 = [a for a in global_addrs(bridge) if ':' in a]
    assert net['gateway'] == v4[0].split('/')[0]
    assert net['ipv6_gateway'] == (v6[0].split('/')[0] if v6 else None)
    assert [c['name'] for c in net['containers']] == sorted(c['name'] for c in containers)
    by_name = dict((c['name'], c) for c in net['containers'])
    for c in containers:
        got = by_name[c['name']]
        host = link(got['host_ifname'])
        peer = link(got['ifname'], ns=c['name'])
        assert host['master'] == bridge and host['ifalias'] == 'linuxnet:' + bridge
        assert peer['link_index'] == host['ifindex'] and host['link_index'] == peer['ifindex']
        addrs = global_addrs(got['ifname'], ns=c['name'])
        assert got['addresses'] == addrs
        assert got['address'] == [a for a in addrs if ':' not in a][0].split('/')[0]
        if c.get('address'):
            assert got['address'] == c['address']
        assert got['ipv6_address'] == ([a.split('/')[0] for a in addrs if ':' in a] or [None])[0]
        assert got['mac'] == peer['address'] and got['mtu'] == peer['mtu']
        assert got['up'] is ('UP' in peer['flags'] and 'UP' in host['flags']) is True
        assert got['attached'] is True and got['namespace'] is True
        assert got['hairpin'] is host['linkinfo']['info_slave_data']['hairpin'] is True
        assert got['routes'] == default_routes(c['name'])
    rules = dict((rid, r) for rid, r in nft_rules().items() if rid.split('/')[1] == bridge)
    assert sorted(line.rpartition('  # ')[2] for line in net['rules']) == sorted(rules)
    assert net['masquerade'] == {'ipv4': 'masq/%s' % bridge in rules,
                                 'ipv6': 'masq/%s/6' % bridge in rules}
    assert net['ingress_protection'] == {'ipv4': 'pub/%s/ingress' % bridge in rules,
                                         'ipv6': 'pub/%s/ingress6' % bridge in rules}
    published = [rid for rid in rules if rid.endswith(('/pre', '/out'))]
    assert sorted(r for p in net['published_ports'] for r in p['rules']) == sorted(published)
    for p in net['published_ports']:
        for rid in p['rules']:
            addr, port = dnat_target(rules[rid][1])
            assert (p['container_address'], p['container_port']) == (addr, str(port))
            assert by_name[p['container']]['addresses'][0 if p['family'] == 'ipv4' else 1] \
                .split('/')[0] == addr


def test_after_a_dual_stack_converge_the_info_is_the_kernel(play, toolchain):
    assert not [r for r in role(play, DUAL, toolchain=toolchain) if r['_status'] == 'failed']
    r = info(play, toolchain=toolchain)
    assert sorted(r['networks']) == ['br0'] and 'foreign' not in r
    net = r['networks']['br0']
    assert_matches_kernel(net, 'br0', DEFAULTS[PREFIX + 'containers'])
    assert net['subnet'] == '172.18.0.0/16' and net['ipv6_subnet'] == 'fd00:18::/64'
    assert net['masquerade'] == {'ipv4': True, 'ipv6': True}
    assert net['ingress_protection'] == {'ipv4': True, 'ipv6': True}
    assert [(p['family'], p['host_port'], p['container'], p['container_port'])
            for p in net['published_ports']] == [('ipv4', '5000', 'netns0', '5000'),
                                                 ('ipv6', '5000', 'netns0', '5000')]
    assert net['persistent'] == {'enabled': os.path.exists(
        '/var/lib/linuxnet/networks/br0/network.json'), 'unit': 'linuxnet-network@br0.service'}
    assert net['persistent']['enabled'] is True and net['localhost_guard'] is False
    assert r['host'] == {'ip_forward': sysctl('net/ipv4/ip_forward'),
                         'ipv6_forwarding': sysctl('net/ipv6/conf/all/forwarding')}
    # converged: no drift against its network.json, nor against the role's variables
    assert r['drift'] == {'br0': {'changed': False, 'actions': []}}
    given = info(play, toolchain=toolchain, **description(DUAL))
    assert given['drift'] == {'br0': {'changed': False, 'actions': []}}
    # check mode reads the same
    checked = info(play, check=True, toolchain=toolchain)
    for key in ('networks', 'host', 'drift'):
        assert checked[key] == r[key]


def kernel_now():
    """What a read could change, without what the kernel changes by itself meanwhile (an
    address's lifetimes and DAD flags, a link's operstate): links with their addresses,
    netns0's addresses and routes, our rule ids."""
    def links(ns=None):
        return sorted((l['ifname'], sorted((a['local'], a['prefixlen'])
                                           for a in l.get('addr_info', [])))
                      for l in ipj('addr', ns=ns))
    routes = sorted((r.get('dst'), r.get('gateway'), r.get('dev'))
                    for r in ipj('route', ns='netns0'))
    return links(), links('netns0'), sorted(nft_rules()), routes


def damage():
    ip('link', 'del', 'veth1')                                           # a veth pair
    ip('addr', 'del', 'fd00:18::10/64', 'dev', 'ceth0', ns='netns0')     # an address
    handle = nft_rules()['masq/br0'][1]['handle']                        # a rule
    subprocess.run(['nft', 'delete', 'rule', 'inet', 'linuxnet', 'postrouting', 'handle',
                    str(handle)], check=True)
    ip('-4', 'route', 'del', 'default', ns='netns0')                     # a route


def test_drift_after_damage_is_what_the_role_would_do(play):
    extra = dict(DUAL, **{PREFIX + 'containers': [
        dict(c, ipv6_address='fd00:18::%d' % (10 * (i + 1)))
        for i, c in enumerate(DEFAULTS[PREFIX + 'containers'])]})
    role(play, extra)
    damage()
    damaged = kernel_now()
    saved = info(play)['drift']['br0']
    given = info(play, **description(extra))['drift']['br0']
    checked = info(play, check=True, **description(extra))['drift']['br0']
    would = network_task(role(play, extra, check=True))
    assert saved == given == checked == {'changed': True, 'actions': would['actions']}
    ops = set((a['op'], a['target']) for a in would['actions'])
    assert {('veth_create', 'veth1'), ('addr_add', 'ceth0'), ('route_default', 'ceth0'),
            ('add_rule', 'postrouting: masq/br0')} <= ops, ops
    # nothing was changed by reading
    assert damaged == kernel_now()
    # the info shows the damage
    net = info(play)['networks']['br0']
    c0, c1 = net['containers']
    assert c0['ipv6_address'] is None and [r['family'] for r in c0['routes']] == ['ipv6']
    assert (c1['name'], c1['host_ifname'], c1['addresses'], c1['attached']) == (
        'netns1', None, [], False)
    assert net['masquerade'] == {'ipv4': False, 'ipv6': True}
    # repaired by the role: no drift, the kernel as before
    assert changed_tasks(role(play, extra))
    assert info(play)['drift']['br0'] == {'changed': False, 'actions': []}
    assert_matches_kernel(info(play)['networks']['br0'], 'br0', extra[PREFIX + 'containers'])


def changed_tasks(results):
    return [r['_task'] for r in results if r.get('changed')]


def test_teardown_drift_then_no_networks(play):
    role(play)
    absent = {PREFIX + 'state': 'absent'}
    drift = info(play, bridge='br0', state='absent', persistent=True)['drift']['br0']
    would = network_task(role(play, absent, check=True))
    assert drift == {'changed': True, 'actions': would['actions']} and drift['actions']
    role(play, absent)
    r = info(play, foreign=True)
    assert r['networks'] == {} and 'drift' not in r
    assert r['foreign'] == {'namespaces': [], 'bridges': []} and netns_names() == []
    assert info(play, bridge='br0')['networks'] == {}


def test_two_networks_separately_and_the_bridge_filter(play):
    role(play)
    role(play, SECOND)
    r = info(play)
    assert sorted(r['networks']) == ['br0', 'br1'] and sorted(r['drift']) == ['br0', 'br1']
    assert_matches_kernel(r['networks']['br0'], 'br0', DEFAULTS[PREFIX + 'containers'])
    assert_matches_kernel(r['networks']['br1'], 'br1', SECOND[PREFIX + 'containers'])
    assert [(p['protocol'], p['host_port'], p['container'], p['container_port'])
            for p in r['networks']['br1']['published_ports']] == [('udp', '8080', 'app2', '80')]
    assert all(d == {'changed': False, 'actions': []} for d in r['drift'].values())
    one = info(play, bridge='br1')
    assert sorted(one['networks']) == ['br1'] and sorted(one['drift']) == ['br1']
    assert one['networks']['br1'] == r['networks']['br1']


def test_foreign_namespaces_and_bridges_are_listed_apart(play):
    role(play)
    ip('netns', 'add', 'handmade')
    ip('link', 'add', 'brx', 'type', 'bridge')
    r = info(play, foreign=True)
    assert r['foreign'] == {'namespaces': ['handmade'], 'bridges': ['brx']}
    assert sorted(r['networks']) == ['br0']
    assert [c['name'] for c in r['networks']['br0']['containers']] == ['netns0', 'netns1']
    assert info(play, check=True, foreign=True, bridge='br0')['foreign'] == r['foreign']
    assert 'foreign' not in info(play)


def test_a_description_on_an_empty_host_is_the_build(play):
    desc = description({})
    drift = info(play, **desc)['drift']['br0']
    would = network_task(role(play, check=True))
    assert drift == {'changed': True, 'actions': would['actions']}
    assert netns_names() == [] and ipj('link', 'show', 'type', 'bridge') == []


@pytest.mark.parametrize('args, message', [
    ({'subnet': '172.18.0.0/16', 'gateway': '172.18.0.1'}, 'bridge: missing'),
    ({'bridge': 'br0', 'subnet': '172.18.0.0/33', 'gateway': '172.18.0.1'}, 'subnet: '),
    ({'bridge': 'br0', 'containers': [{'name': 'netns0'}]}, 'subnet: missing'),
])
def test_a_bad_description_fails_saying_what_to_fix(play, args, message):
    r = info(play, expect_ok=False, **args)
    assert r['_status'] == 'failed' and message in r['msg'], r
