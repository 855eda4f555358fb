"""Integration test harness: every test in its own private network + mount namespace.

The pytest process itself ``unshare``s (CLONE_NEWNET | CLONE_NEWNS) before each
test, mounts a fresh tmpfs on /run/netns and a private /etc/sysctl.d, and brings
``lo`` up. Everything the test and its ``ansible-playbook`` children do to the
kernel's network state stays there: this machine's own network is never touched,
and each test starts from an empty world.
"""
import ctypes
import json
import os
import subprocess

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LINUXNET_HOME = os.environ.get('LINUXNET_HOME', '/opt/linuxnet')
TOOLCHAINS = {
    # name: (ansible-playbook, target python)
    '2.19': (os.path.join(LINUXNET_HOME, 'venv-2.19/bin/ansible-playbook'),
             os.path.join(LINUXNET_HOME, 'venv-2.19/bin/python')),
    '2.16': (os.path.join(LINUXNET_HOME, 'venv-2.16/bin/ansible-playbook'),
             '/usr/bin/python3'),
}

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _ok(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, '%s: %s' % (what, os.strerror(err)))


# What a run may write outside the kernel: sysctl drop-ins, persistence (network.json,
# its code, the systemd unit and its enablement). Each test gets empty private copies.
PRIVATE_DIRS = ('/etc/sysctl.d', '/var/lib/linuxnet', '/etc/systemd/system')


def private_dir(path):
    """An empty private tmpfs on ``path`` in this mount namespace (earlier ones dropped)."""
    os.makedirs(path, exist_ok=True)
    while _libc.umount2(path.encode(), MNT_DETACH) == 0:
        pass
    _ok(_libc.mount(b'linuxnet-test', path.encode(), b'tmpfs', 0, b'mode=0755'),
        'tmpfs ' + path)


def enter_private_namespace():
    """Move this process into a new, empty net+mount namespace (see module doc)."""
    _ok(_libc.unshare(CLONE_NEWNET | CLONE_NEWNS), 'unshare(CLONE_NEWNET|CLONE_NEWNS)')
    _ok(_libc.mount(b'none', b'/', None, MS_REC | MS_PRIVATE, None), 'make / rprivate')
    os.makedirs('/run/netns', exist_ok=True)
    while _libc.umount2(b'/run/netns', MNT_DETACH) == 0:
        pass  # drop the previous test's namespaces from this mount namespace
    _ok(_libc.mount(b'linuxnet-test', b'/run/netns', b'tmpfs', 0, b'mode=0755'), 'tmpfs /run/netns')
    for path in PRIVATE_DIRS:
        private_dir(path)
    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)


@pytest.fixture(autouse=True)
def sandbox():
    """Fresh private net+mount namespace for this test (autouse)."""
    enter_private_namespace()
    os.environ['LINUXNET_SANDBOX'] = '1'
    yield


def ip(*args, ns=None, check=True):
    """Run `ip` (optionally in a named netns) and return stdout."""
    cmd = ['ip'] + (['-n', ns] if ns else []) + list(args)
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


def ipj(*args, ns=None):
    """`ip -j ...` parsed."""
    out = ip('-j', *args, ns=ns)
    return json.loads(out) if out.strip() else []


def run_in(ns, *cmd, check=True, timeout=10, input=None):
    """Run a command inside a named netns (ip netns exec)."""
    full = (['ip', 'netns', 'exec', ns] if ns else []) + list(cmd)
    return subprocess.run(full, check=check, capture_output=True, text=True, timeout=timeout,
                          input=input)


class PlayRunner(object):
    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.count = 0

    def __call__(self, tasks, check=False, diff=False, toolchain='2.19', extra_vars=None,
                 expect_rc=None):
        """Run tasks on localhost (connection local); return the list of task results."""
        playbook_cmd, python = TOOLCHAINS[toolchain]
        self.count += 1
        base = os.path.join(self.tmpdir, 'play%d' % self.count)
        play = [{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
                 'vars': {'ansible_python_interpreter': python}, 'tasks': tasks}]
        with open(base + '.yml', 'w') as f:
            yaml.safe_dump(play, f)
        cmd = [playbook_cmd, '-i', 'localhost,', base + '.yml']
        if check:
            cmd.append('--check')
        if diff:
            cmd.append('--diff')
        if extra_vars:
            with open(base + '.vars.json', 'w') as f:
                json.dump(extra_vars, f)
            cmd += ['-e', '@' + base + '.vars.json']
        env = dict(os.environ)
        env.update({
            'ANSIBLE_COLLECTIONS_PATH': os.path.join(LINUXNET_HOME, 'collections'),
            'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
            'ANSIBLE_CALLBACKS_ENABLED': 'linuxnet_results',
            'ANSIBLE_LOCALHOST_WARNING': 'false',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_RETRY_FILES_ENABLED': 'false',
            'LINUXNET_RESULTS': base + '.results.json',
        })
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600,
                              check=False)
        self.last_output = proc.stdout + proc.stderr
        if expect_rc is not None:
            assert proc.returncode == expect_rc, self.last_output
        with open(base + '.results.json') as f:
            results = json.load(f)
        return results


@pytest.fixture
def play(tmp_path):
    """play(tasks, check=False, diff=False, toolchain='2.19') -> list of task results."""
    return PlayRunner(str(tmp_path))


@pytest.fixture(params=sorted(TOOLCHAINS))
def toolchain(request):
    """Parametrize a test over ansible-core 2.16/pyroute2 0.7.2 and 2.19/pyroute2 0.9.7."""
    return request.param


@pytest.fixture
def make_lab():
    """Lab fleets for one test (tests/integration/labutil.py), down at its end."""
    from labutil import Labs
    labs = Labs()
    yield labs
    labs.down()
