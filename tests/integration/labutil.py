"""The lab (tests/lab/lab.py: hosts over real SSH) from the integration tests, once: run
it, read one of its hosts or namespaces with ``ip -j``, run a playbook on its inventory.
The fixture that builds labs and takes them down is ``make_lab`` (conftest.py)."""
import json
import os
import shutil
import subprocess
import tempfile

from conftest import LINUXNET_HOME, REPO

PY = os.path.join(LINUXNET_HOME, 'venv-2.19/bin/python')
PLAYBOOK = os.path.join(LINUXNET_HOME, 'venv-2.19/bin/ansible-playbook')
LAB = os.path.join(REPO, 'tests/lab/lab.py')


def lab(*args, check=True, timeout=300):
    return subprocess.run([PY, LAB] + list(args), capture_output=True, text=True,
                          check=check, timeout=timeout)


def ipj(d, where, *args):
    """``ip -j ARGS`` in lab host (or ``host/netns``) ``where`` -> the parsed JSON."""
    out = lab('exec', '--dir', d, where, '--', 'ip', '-j', *args).stdout
    return json.loads(out) if out.strip() else []


def playbook(d, path, *extra):
    """ansible-playbook PATH on the lab's inventory -> the CompletedProcess."""
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING='False',
               ANSIBLE_RETRY_FILES_ENABLED='False', ANSIBLE_NOCOLOR='1')
    return subprocess.run([PLAYBOOK, '-i', os.path.join(d, 'inventory.ini'), path] + list(extra),
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=600,
                          check=False)


class Labs(object):
    """Labs made by one test (``make_lab(hosts, *lab up options)`` -> its directory), all
    taken down at its end; a down that leaves anything behind fails the test."""

    def __init__(self, prefix='lnlab.'):
        self.prefix = prefix
        self.dirs = []

    def __call__(self, hosts, *extra):
        # a short directory: the inventory's SSH ControlPath lives under it (< 108 bytes)
        d = tempfile.mkdtemp(prefix=self.prefix, dir='/tmp')
        self.dirs.append(d)
        r = lab('up', '--dir', d, '--hosts', str(hosts), '--python', PY, *extra, check=False)
        assert r.returncode == 0, 'lab up failed:\n%s\n%s' % (r.stdout, r.stderr)
        return d

    def down(self):
        for d in self.dirs:
            down = lab('down', '--dir', d, check=False)
            assert down.returncode == 0, 'lab down left something:\n%s%s' % (
                down.stdout, down.stderr)
            shutil.rmtree(d)
