"""The container_bridge_network role end to end on the real kernel (per-test sandbox)."""
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from conftest import REPO, ip, ipj, run_in

ROLE = 'linuxnet.container_network.container_bridge_network'
with open(os.path.join(REPO, 'roles/container_bridge_network/defaults/main.yml')) as _f:
    DEFAULTS = yaml.safe_load(_f)
BRIDGE = DEFAULTS['container_bridge_network_bridge']
GATEWAY = DEFAULTS['container_bridge_network_gateway']
CONTAINERS = DEFAULTS['container_bridge_network_containers']
NETWORK_TASK = 'Container bridge network'  # the role's one module task


def role(play, extra=None, check=False, diff=False, toolchain='2.19'):
    return play([{'ansible.builtin.include_role': {'name': ROLE}}], check=check, diff=diff,
                toolchain=toolchain, extra_vars=extra or {})


def changed(results):
    return [r['_task'] for r in results if r.get('changed')]


def failed(results):
    return [r for r in results if r['_status'] == 'failed']


def links():
    return {l['ifname']: l for l in ipj('-d', 'link')}


def netns():
    return sorted(n['name'] for n in ipj('netns', 'list'))


def peer_addr(ns, ifname):
    for l in ipj('addr', 'show', 'dev', ifname, ns=ns):
        for a in l['addr_info']:
            if a['family'] == 'inet':
                return a['local']
    return None


def nft_tables():
    out = subprocess.run(['nft', '-j', 'list', 'tables'], capture_output=True, text=True,
                         check=True).stdout
    return [x['table']['name'] for x in json.loads(out)['nftables'] if 'table' in x]


def ping(ns, addr):
    return run_in(ns, 'ping', '-c1', '-W2', addr, check=False).returncode == 0


def test_defaults_build_the_seed_network_idempotently(play, toolchain):
    """What defaults/main.yml describes (read from it, not copied) is what gets built."""
    assert len(CONTAINERS) >= 2
    r = role(play, toolchain=toolchain)
    assert not failed(r), r
    assert netns() == sorted(c['name'] for c in CONTAINERS)
    l = links()
    assert l[BRIDGE]['linkinfo']['info_kind'] == 'bridge'
    for c in CONTAINERS:
        veth = l[c['host_ifname']]
        assert veth['master'] == BRIDGE
        assert veth['linkinfo']['info_slave_data']['hairpin'] is True
        assert 'UP' in veth['flags']
        assert peer_addr(c['name'], c['ifname']) == c['address']
        assert ping(c['name'], GATEWAY)
        assert ipj('route', 'show', 'default', ns=c['name'])[0]['gateway'] == GATEWAY
    first, second = CONTAINERS[:2]
    assert ping(first['name'], second['address']) and ping(second['name'], first['address'])
    again = role(play, toolchain=toolchain)
    assert changed(again) == [] and not failed(again)


def test_check_mode_predicts_and_changes_nothing(play):
    r = role(play, check=True, diff=True)
    assert not failed(r), r
    assert changed(r), 'check mode must predict the changes'
    # one module call, no separate prerequisite check (the module's import is the check)
    ran = [x['_task'] for x in r if x['_status'] != 'skipped' and 'include_args' not in x]
    assert [t for t in ran if 'arg spec' not in t] == [
        'linuxnet.container_network.container_bridge_network : ' + NETWORK_TASK], ran
    assert netns() == [] and set(links()) == {'lo'}
    assert nft_tables() == []


def test_containers_follow_the_variables_and_keep_their_addresses(play):
    base = {'container_bridge_network_published_ports': []}
    v1 = dict(base, container_bridge_network_containers=[{'name': 'web'}, {'name': 'db'},
                                                         {'name': 'cache'}])
    assert not failed(role(play, v1))
    assert netns() == ['cache', 'db', 'web']
    db_addr = peer_addr('db', 'eth0')
    cache_addr = peer_addr('cache', 'eth0')
    assert db_addr and db_addr.startswith('172.18.') and db_addr != '172.18.0.1'
    host_ends = {n for n, l in links().items() if l.get('master') == 'br0'}
    assert len(host_ends) == 3 and all(len(n) <= 15 for n in host_ends)
    # web removed, api added: db and cache keep their addresses, web's pieces are gone
    v2 = dict(base, container_bridge_network_containers=[{'name': 'db'}, {'name': 'api'},
                                                         {'name': 'cache'}])
    r = role(play, v2)
    assert not failed(r), r
    assert netns() == ['api', 'cache', 'db']
    assert peer_addr('db', 'eth0') == db_addr and peer_addr('cache', 'eth0') == cache_addr
    assert len({n for n, l in links().items() if l.get('master') == 'br0'}) == 3
    assert changed(role(play, v2)) == []


BAD_VARIABLES = [
    ({'container_bridge_network_containers': [{'name': 'a', 'address': '10.0.0.5'}]},
     "container_bridge_network_containers[0].address: '10.0.0.5' is not a host address of "
     "subnet"),
    ({'container_bridge_network_containers': [{'name': 'a'}, {'name': 'a'}]},
     "container_bridge_network_containers[1].name: 'a' is listed twice"),
    ({'container_bridge_network_containers': [{'name': 'a', 'address': '172.18.0.1'}]},
     "container_bridge_network_containers[0].address: '172.18.0.1' is the gateway"),
    ({'container_bridge_network_containers': [{'name': 'a', 'address': '172.18.0.9'},
                                              {'name': 'b', 'address': '172.18.0.9'}]},
     "container_bridge_network_containers[1].address: '172.18.0.9' is listed twice"),
    ({'container_bridge_network_published_ports': [{'container': 'nope', 'host_port': 80}]},
     "container_bridge_network_published_ports[0].container: 'nope' is not in containers"),
    ({'container_bridge_network_subnet': '172.18.0.0/33'},
     "container_bridge_network_subnet: '172.18.0.0/33'"),
    ({'container_bridge_network_containers': [{'name': 'a/b'}],
      'container_bridge_network_published_ports': []},
     "container_bridge_network_containers[0].name: 'a/b'"),
    ({'container_bridge_network_containers': [{'name': 'a', 'host_ifname': 'x' * 16}],
      'container_bridge_network_published_ports': []},
     "container_bridge_network_containers[0].host_ifname: 'xxxxxxxxxxxxxxxx' is 16 bytes "
     "long, Linux allows at most 15"),
    ({'container_bridge_network_bridge': 'br 0'}, "container_bridge_network_bridge: 'br 0'"),
]


@pytest.mark.parametrize('bad, message', BAD_VARIABLES)
def test_bad_variables_fail_before_any_change(play, bad, message):
    r = role(play, bad)
    bad_results = failed(r)
    assert bad_results, r
    assert message in json.dumps(bad_results)
    assert netns() == [] and set(links()) == {'lo'} and nft_tables() == []


def one_failure(play, results):
    """The run's single failed task result: the role's module call's own, reported once."""
    bad = failed(results)
    assert len(bad) == 1, results
    assert [x for x in results if x['_status'] == 'rescued'] == [], results
    assert play.last_output.count('fatal:') == 1, play.last_output
    assert bad[0]['_task'].endswith('Container bridge network'), bad[0]
    return bad[0]


def test_a_bad_variable_fails_once_with_the_modules_result(play):
    """No rescue and re-raise: one failed task, the module's whole result (msg, the
    planned ``actions``, its arguments), one ``fatal:`` line."""
    bad, message = BAD_VARIABLES[1]
    r = one_failure(play, role(play, bad))
    assert message in r['msg']
    assert r['actions'] == [] and r['changed'] is False
    args = r['invocation']['module_args']
    assert args['bridge'] == BRIDGE and [c['name'] for c in args['containers']] == ['a', 'a']


def test_an_apply_failure_reports_failed_action_done_and_rolled_back(play):
    """A kernel-side failure in the middle of the call (the sysctl drop-in directory is
    read-only): the one failed result carries failed_action, done and rolled_back."""
    subprocess.run(['mount', '-o', 'remount,ro', '/etc/sysctl.d'], check=True)
    r = one_failure(play, role(play))
    assert r['failed_action'] and r['done'] and r['rolled_back'], r
    assert r['actions'], r
    assert 'rolled back' in r['msg']
    assert netns() == [] and set(links()) == {'lo'}


def test_missing_pyroute2_without_install_fails_once_in_the_module(play, tmp_path):
    """install_prerequisites false: nothing is installed, the module call fails with its
    missing-library message, once."""
    venv = str(tmp_path / 'target')
    subprocess.run([sys.executable, '-m', 'venv', venv], check=True)
    r = role(play, {'ansible_python_interpreter': venv + '/bin/python',
                    'container_bridge_network_install_prerequisites': False})
    bad = one_failure(play, r)
    assert 'required Python library (pyroute2)' in bad['msg']
    assert bad['missing_library'] == 'pyroute2' and bad['python'] == venv + '/bin/python'
    assert not any('yroute2' in x['_task'] for x in r), r
    assert netns() == [] and set(links()) == {'lo'}


def test_subnet_overlapping_a_host_route_is_refused(play):
    ip('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1')
    ip('link', 'set', 'up0', 'up')
    ip('addr', 'add', '172.18.5.1/24', 'dev', 'up0')
    r = role(play)
    assert 'overlaps the route 172.18.5.0/24' in json.dumps(failed(r))
    assert netns() == [] and 'br0' not in links()


def test_two_networks_coexist_and_tear_down_separately(play):
    br1 = {'container_bridge_network_bridge': 'br1',
           'container_bridge_network_subnet': '10.77.0.0/24',
           'container_bridge_network_gateway': '10.77.0.1',
           'container_bridge_network_containers': [{'name': 'other'}],
           'container_bridge_network_published_ports': [{'container': 'other',
                                                         'host_port': 6000}]}
    assert not failed(role(play))
    assert not failed(role(play, br1))
    assert netns() == ['netns0', 'netns1', 'other']
    # each network's rerun leaves the other alone
    assert changed(role(play)) == [] and changed(role(play, br1)) == []
    assert not failed(role(play, dict(br1, container_bridge_network_state='absent')))
    assert netns() == ['netns0', 'netns1'] and 'br1' not in links()
    assert ping('netns0', '172.18.0.20')
    assert changed(role(play)) == []


def test_teardown_leaves_nothing(play, toolchain):
    assert not failed(role(play, toolchain=toolchain))
    r = role(play, {'container_bridge_network_state': 'absent'}, toolchain=toolchain)
    assert not failed(r), r
    assert netns() == [] and set(links()) == {'lo'}
    assert nft_tables() == []
    assert os.listdir('/etc/sysctl.d') == []
    again = role(play, {'container_bridge_network_state': 'absent'}, toolchain=toolchain)
    assert changed(again) == []


def test_out_of_band_damage_is_repaired(play):
    assert not failed(role(play))
    ip('link', 'del', 'veth1')                       # peer ceth1 goes with it
    ip('link', 'set', 'ceth0', 'down', ns='netns0')
    subprocess.run(['ip', 'netns', 'del', 'netns0'], check=True)
    subprocess.run(['nft', 'flush', 'ruleset'], check=True)
    r = role(play)
    assert not failed(r), r
    assert changed(r)
    assert ping('netns0', '172.18.0.20') and ping('netns1', '172.18.0.10')
    assert 'linuxnet' in nft_tables()
    assert changed(role(play)) == []


SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True:
    c, peer = s.accept()
    c.sendall(('%s %s\n' % (sys.argv[3], peer[0])).encode()); c.close()
"""

CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
print(c.recv(200).decode().strip())
"""


@pytest.fixture
def world():
    """Host uplink to an 'outside' namespace with a whoami server; server in netns0:5000."""
    procs = []
    subprocess.run(['ip', 'netns', 'add', 'outside'], check=True)
    ip('link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'wan', 'netns', 'outside')
    ip('addr', 'add', '198.51.100.2/24', 'dev', 'uplink')
    ip('link', 'set', 'uplink', 'up')
    ip('addr', 'add', '198.51.100.1/24', 'dev', 'wan', ns='outside')
    ip('link', 'set', 'wan', 'up', ns='outside')
    ip('link', 'set', 'lo', 'up', ns='outside')
    ip('route', 'add', 'default', 'via', '198.51.100.1')

    def serve(ns, addr, port, label):
        p = subprocess.Popen(['ip', 'netns', 'exec', ns, sys.executable, '-c', SERVER, addr,
                              str(port), label])
        procs.append(p)
        return p

    def fetch(ns, addr, port):
        cmd = [sys.executable, '-c', CLIENT, addr, str(port)]
        r = run_in(ns, *cmd, check=False) if ns else subprocess.run(
            cmd, capture_output=True, text=True, timeout=10, check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    serve('outside', '198.51.100.1', 8080, 'outside')
    world = type('World', (), {'serve': staticmethod(serve), 'fetch': staticmethod(fetch)})
    yield world
    for p in procs:
        p.terminate()
        p.wait(5)


def wait_for(fn, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    return fn()


def test_the_seed_four_questions_with_real_packets(play, world):
    assert not failed(role(play))
    world.serve('netns0', '0.0.0.0', 5000, 'netns0')
    # 1. each container has its own stack: netns0 sees only lo and ceth0
    assert {l['ifname'] for l in ipj('link', ns='netns0')} == {'lo', 'ceth0'}
    # 2. containers talk to each other, the host talks to them
    assert ping('netns1', '172.18.0.10') and ping(None, '172.18.0.20')
    assert wait_for(lambda: world.fetch('netns1', '172.18.0.10', 5000)) == 'netns0 172.18.0.20'
    # 3. they reach the outside through NAT: the outside sees the host's address
    assert world.fetch('netns0', '198.51.100.1', 8080) == 'outside 198.51.100.2'
    # 4. the outside reaches them through the published port...
    assert world.fetch('outside', '198.51.100.2', 5000).startswith('netns0 ')
    # ... and so does the host itself (locally generated traffic) ...
    assert world.fetch(None, '198.51.100.2', 5000).startswith('netns0 ')
    # ... and containers through the host's address (hairpin), the publisher itself too
    assert world.fetch('netns1', '198.51.100.2', 5000).startswith('netns0 ')
    assert world.fetch('netns0', '198.51.100.2', 5000).startswith('netns0 ')
    # ingress protection: routed straight at the container address from outside: dropped
    ip('route', 'add', '172.18.0.0/16', 'via', '198.51.100.2', ns='outside')
    assert world.fetch('outside', '172.18.0.10', 5000) is None
    # teardown: the published port is gone with the network
    assert not failed(role(play, {'container_bridge_network_state': 'absent'}))
    assert world.fetch(None, '198.51.100.2', 5000) is None


def test_prerequisites_install_pyroute2_for_the_target_python(play, tmp_path):
    """A target Python without pyroute2 gets it (pip, from a local wheel: no network here)."""
    venv = str(tmp_path / 'target')
    subprocess.run([sys.executable, '-m', 'venv', venv], check=True)
    python = venv + '/bin/python'
    assert subprocess.run([python, '-c', 'import pyroute2'], check=False).returncode != 0
    os.environ.update(PIP_NO_INDEX='1', PIP_FIND_LINKS=os.path.join(
        os.environ.get('LINUXNET_HOME', '/opt/linuxnet'), 'wheels'))
    try:
        r = role(play, {'ansible_python_interpreter': python})
    finally:
        for k in ('PIP_NO_INDEX', 'PIP_FIND_LINKS'):
            os.environ.pop(k)
    assert not failed(r), r
    assert any(x['_task'].endswith('Pyroute2 from PyPI for the target Python (e.g. python39 on '
                                   'CentOS 8)') and x.get('changed') for x in r), r
    assert subprocess.run([python, '-c', 'import pyroute2'], check=False).returncode == 0
    assert netns() == ['netns0', 'netns1'] and ping('netns0', '172.18.0.20')


def test_module_calls_do_not_grow_with_containers(play):
    """A role run costs the same number of module invocations for 2 or 20 containers."""
    def module_calls(n):
        v = {'container_bridge_network_containers': [{'name': 'c%d' % i} for i in range(n)],
             'container_bridge_network_published_ports': [{'container': 'c1',
                                                           'host_port': 8000}]}
        r = role(play, v)
        assert not failed(r), r
        return len([x for x in r if x['_status'] != 'skipped' and 'include_args' not in x])
    assert module_calls(2) == module_calls(20)
    assert len(netns()) == 20
