"""Persistence (module network, persistent): what is installed and in which order (no disk)."""
import json
import os
import sys

import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import options
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import persist
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import sources

NET = {'bridge': 'br0', 'subnet': '172.18.0.0/16', 'gateway': '172.18.0.1',
       'ipv6_subnet': 'fd00:18::/64', 'ipv6_gateway': None, 'ipv6_masquerade': True,
       'containers': [{'name': 'netns0'}], 'published_ports': [], 'masquerade': True,
       'ingress_protection': True, 'firewall_integration': 'auto', 'state': 'present',
       'persistent': True, 'fleet': None}
UNIT = '/etc/systemd/system/linuxnet-network@br0.service'
HEAL = '/etc/systemd/system/linuxnet-heal@br0.service'
HEAL_LINK = '/etc/systemd/system/multi-user.target.wants/linuxnet-heal@br0.service'
DIR = '/var/lib/linuxnet/networks/br0'


@pytest.fixture(autouse=True)
def no_docker(monkeypatch):
    """Whether Docker is installed is read from disk: not this machine's."""
    monkeypatch.setattr(persist, 'DOCKER_UNITS', ())


def want(persistent=True, state='present', bridge='br0'):
    return persist.PersistResource().want({
        'bridge': bridge, 'state': state, 'persistent': persistent,
        'network': dict(NET, bridge=bridge)})


def have_of(w, systemd=False, healing=None):
    """The disk as a converged run leaves it (on systemd, the heal service running)."""
    return {'files': dict(w['files']), 'links': dict(w['links']), 'dir': True,
            'systemd': systemd, 'healing': systemd if healing is None else healing}


EMPTY = {'files': {}, 'links': {}, 'dir': False, 'systemd': False, 'healing': False}


def ops(actions):
    return [(a.op, a.target) for a in actions]


def test_unit_names_are_escaped_as_systemd_escape_does():
    assert persist.unit_name('br0') == 'linuxnet-network@br0.service'
    assert persist.unit_name('br-lan') == 'linuxnet-network@br\\x2dlan.service'
    assert persist.unit_name('.x') == 'linuxnet-network@\\x2ex.service'


def test_what_is_installed():
    w = want()
    files = w['files']
    saved = json.loads(files[DIR + '/network.json'][0])
    assert saved['python'] == sys.executable
    assert saved['network'] == dict((k, NET[k]) for k in options.SAVED)  # no state/persistent
    assert files[DIR + '/network.json'][1] == 0o600
    unit = files[UNIT][0].decode()
    assert 'ExecStart=%s -B %s/boot.py\n' % (sys.executable, DIR) in unit
    assert 'Before=network.target network-online.target shutdown.target\n' in unit
    assert 'After=' in unit and 'firewalld.service' in unit and 'Type=oneshot\n' in unit
    assert 'WantedBy=multi-user.target network-online.target\n' in unit
    boot = files[DIR + '/boot.py'][0].decode()
    assert "sys.path.insert(0, '%s/lib')" % DIR in boot and "boot('%s')" % DIR in boot
    assert 'from %s.network.boot import boot\n' % runner.PACKAGE in boot
    lib = DIR + '/lib/ansible_collections/linuxnet/container_network/plugins/module_utils/'
    for name in ('network/pipeline', 'network/persist', 'network/boot', 'runner', 'l2/resources', 'nat/resources',
                 'firewall/resource', 'kernel/rtnl'):
        src = files[lib + name + '.py'][0].decode()
        mod = sys.modules[runner.PACKAGE + '.' + name.replace('/', '.')]
        with open(mod.__file__) as f:
            assert src == f.read()  # the very code the module runs
    assert files[DIR + '/lib/ansible_collections/__init__.py'][0] == b''
    for layer in ('kernel', 'l2', 'nat', 'firewall', 'network'):  # packages: importable at boot
        assert files[lib + layer + '/__init__.py'][0] == b''
    assert w['links'] == {'/etc/systemd/system/multi-user.target.wants/linuxnet-network@br0.service': UNIT,
                          '/etc/systemd/system/network-online.target.wants/linuxnet-network@br0.service': UNIT,
                          HEAL_LINK: HEAL}
    # the heal service (issue 22): after the boot unit, stopped with it, its script
    heal = files[HEAL][0].decode()
    assert 'ExecStart=%s -B %s/heal.py\n' % (sys.executable, DIR) in heal
    assert 'After=linuxnet-network@br0.service\n' in heal
    assert 'PartOf=linuxnet-network@br0.service\n' in heal and 'Type=simple\n' in heal
    script = files[DIR + '/heal.py'][0].decode()
    assert "sys.path.insert(0, '%s/lib')" % DIR in script and "main('%s')" % DIR in script
    assert 'from %s.network.heal import main\n' % runner.PACKAGE in script
    with open(sys.modules[runner.PACKAGE + '.network.heal'].__file__) as f:
        assert files[lib + 'network/heal.py'][0].decode() == f.read()


def test_install_order_enables_last_and_reloads_systemd_only_where_it_runs():
    w = want()
    acts = persist.PersistResource().plan(w, EMPTY)
    kinds = [a.op for a in acts]
    assert kinds[-3:] == ['unit_enable'] * 3
    writes = [a.target for a in acts if a.op == 'file_write']
    assert writes[-3:] == [DIR + '/network.json', UNIT, HEAL]  # what boot reads comes last
    assert len(writes) == len(w['files'])
    assert 'systemd_daemon_reload' not in kinds and 'systemd_unit' not in kinds
    acts = persist.PersistResource().plan(w, dict(EMPTY, systemd=True))
    assert ops(acts[-2:]) == [('systemd_daemon_reload', 'systemd'),
                              ('systemd_unit', 'linuxnet-heal@br0.service')]
    assert acts[-1].args['_argv'] == ['systemctl', 'restart', 'linuxnet-heal@br0.service']


def test_the_heal_service_is_started_when_it_is_not_running_and_stopped_first_on_removal():
    w = want()
    started = persist.PersistResource().plan(w, have_of(w, systemd=True, healing=False))
    assert [(a.op, a.args['_argv']) for a in started] == [
        ('systemd_unit', ['systemctl', 'restart', 'linuxnet-heal@br0.service'])]
    stop = persist.PersistResource().plan(want(state='absent'), have_of(w, systemd=True))
    assert stop[0].args['_argv'] == ['systemctl', 'stop', 'linuxnet-heal@br0.service']
    assert 'restart' not in str([a.args.get('_argv') for a in stop])
    # not running: nothing to stop
    idle = persist.PersistResource().plan(want(state='absent'),
                                          have_of(w, systemd=True, healing=False))
    assert 'systemd_unit' not in [a.op for a in idle]


def test_converged_is_empty_and_drift_is_rewritten():
    w = want()
    assert persist.PersistResource().plan(w, have_of(w, systemd=True)) == []
    h = have_of(w)
    content, mode = h['files'][UNIT]
    h['files'][UNIT] = (content, 0o755)
    h['files'][DIR + '/lib/stale.py'] = (b'x', 0o644)
    h['links'].pop('/etc/systemd/system/multi-user.target.wants/linuxnet-network@br0.service')
    assert ops(persist.PersistResource().plan(w, h)) == [
        ('file_remove', DIR + '/lib/stale.py'), ('file_write', UNIT),
        ('unit_enable', '/etc/systemd/system/multi-user.target.wants/linuxnet-network@br0.service')]


def test_removal_disables_first_then_unit_then_directory():
    installed = have_of(want(), systemd=True)
    installed['links']['/etc/systemd/system/default.target.wants/linuxnet-network@br0.service'] = UNIT
    for w in (want(persistent=False), want(state='absent')):
        assert ops(persist.PersistResource().plan(w, installed)) == [
            ('systemd_unit', 'linuxnet-heal@br0.service'),  # stopped before its files go
            ('unit_disable', '/etc/systemd/system/default.target.wants/linuxnet-network@br0.service'),
            ('unit_disable', HEAL_LINK),
            ('unit_disable', '/etc/systemd/system/multi-user.target.wants/linuxnet-network@br0.service'),
            ('unit_disable', '/etc/systemd/system/network-online.target.wants/linuxnet-network@br0.service'),
            ('file_remove', UNIT), ('file_remove', HEAL), ('dir_remove', DIR),
            ('systemd_daemon_reload', 'systemd')]
        assert persist.PersistResource().plan(w, EMPTY) == []


def test_networks_own_their_files():
    a, b = want(bridge='br0'), want(bridge='br1')
    assert not set(a['files']) & set(b['files'])
    assert not set(a['links']) & set(b['links'])
    assert all(p.startswith(DIR + os.sep) or p in (UNIT, HEAL) for p in a['files'])


def test_with_docker_installed_a_dropin_reruns_the_restore_after_it(monkeypatch, tmp_path):
    docker = tmp_path / 'docker.service'
    docker.write_text('[Service]\n')
    monkeypatch.setattr(persist, 'DOCKER_UNITS', ('/nonexistent', str(docker)))
    w = want()
    dropin = '/etc/systemd/system/docker.service.d/linuxnet-network@br0.conf'
    text = w['files'][dropin][0].decode()
    assert 'ExecStartPost=-%s -B %s/boot.py\n' % (sys.executable, DIR) in text
    assert (dropin, 0o644) == (dropin, w['files'][dropin][1])
    off = persist.PersistResource().plan(want(persistent=False), have_of(w))
    assert ('file_remove', dropin) in ops(off)


def test_network_json_keeps_every_option_that_describes_the_network():
    """An option of module network that describes the network but is not saved would be
    lost at boot (the IPv6 options were, until this test); one that says how a run goes
    (state, persistent) must not be saved."""
    from ansible_collections.linuxnet.container_network.plugins.modules import network
    run_only = set(k for k, spec, kind in options.OPTIONS if kind == options.RUN)
    assert run_only == {'state', 'persistent', 'variable_prefix'}
    saved = json.loads(want()['files'][DIR + '/network.json'][0])['network']
    assert set(saved) == set(network.ARGUMENT_SPEC) - run_only


def test_what_is_installed_is_what_the_boot_and_heal_scripts_import():
    """The copy for boot is the import closure of sources.ENTRIES, read from their
    sources: every module a fresh interpreter loads for them, and not what else the
    asking module happens to have loaded (network_info's own module)."""
    import subprocess
    from ansible_collections.linuxnet.container_network.plugins.module_utils.network import info
    installed = set(os.path.splitext(p[len('lib/'):])[0].replace('/', '.')
                    for p in sources.own_sources() if not p.endswith('__init__.py'))
    assert info.__name__ not in installed and runner.PIPELINE in installed
    collections = os.path.dirname(runner.__file__)
    for _level in range(5):  # .../ansible_collections/linuxnet/container_network/plugins/module_utils
        collections = os.path.dirname(collections)
    code = ('import importlib, sys\n'
            'from ansible_collections.linuxnet.container_network.plugins.module_utils.network '
            'import sources\n'
            'for e in sources.ENTRIES:\n'
            '    importlib.import_module(e)\n'
            'print(" ".join(n for n, m in sys.modules.items() if n.startswith(sources.PACKAGE + ".")'
            ' and not hasattr(m, "__path__")))\n')
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=collections), check=False)
    assert p.returncode == 0, p.stderr
    loaded = set(p.stdout.split())
    assert runner.PACKAGE + '.network.boot' in loaded and len(loaded) > 20
    assert loaded <= installed, loaded - installed


def test_the_import_scan_finds_what_ast_finds():
    """sources._own_imports scans the text (cheap); for every installed module it gives
    what a parse of the source (ast, as Ansible's module_utils finder reads it) gives."""
    import ast
    import importlib

    def by_ast(src):
        found = set()
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.ImportFrom) and not node.level and (
                    node.module or '').startswith(runner.PACKAGE):
                for alias in node.names:
                    sub = node.module + '.' + alias.name
                    try:
                        importlib.import_module(sub)
                        found.add(sub)
                    except ImportError:
                        found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith(runner.PACKAGE))
        return found - {runner.PACKAGE}
    files = sources.own_sources()
    checked = 0
    for path, src in files.items():
        if path.endswith('.py') and src:
            assert set(sources._own_imports(src)) == by_ast(src), path
            checked += 1
    assert checked > 30
    # the shapes: one line, parentheses over lines with a comment, as, lazy in a function
    text = ('from %s.kernel import rtnl\n'
            'from %s.nat.model import (  # a comment\n    RuleSpec, masquerade_want as mw,\n)\n'
            'def f():\n    from %s import runner\n') % ((runner.PACKAGE,) * 3)
    assert sorted(sources._own_imports(text)) == sorted([
        runner.PACKAGE + '.kernel.rtnl', runner.PACKAGE + '.nat.model',
        runner.PACKAGE + '.nat.model', runner.PACKAGE + '.runner'])
