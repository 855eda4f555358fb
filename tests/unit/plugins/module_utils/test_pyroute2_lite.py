# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pyroute2_lite: the message classes without pyroute2's __init__, and the way back.

Each case runs in a fresh interpreter (the import state of this one is shared by all
tests)."""
import os
import subprocess
import sys

import pytest

COLLECTIONS = os.path.join(os.environ.get('LINUXNET_HOME', '/opt/linuxnet'), 'collections')
PYTHONS = [sys.executable] + (['/usr/bin/python3'] if os.path.exists('/usr/bin/python3')
                              and subprocess.run(['/usr/bin/python3', '-c', 'import pyroute2'],
                                                 capture_output=True).returncode == 0 else [])

LITE = 'ansible_collections.linuxnet.container_network.plugins.module_utils'


def run(python, code):
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    p = subprocess.run([python, '-c', code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


@pytest.mark.parametrize('python', PYTHONS)
def test_message_classes_load_without_the_package_init(python):
    out = run(python, (
        'import sys\n'
        'from %s import rtnl, nft_netlink\n'
        'print(rtnl.HAS_PYROUTE2, nft_netlink.HAS_NFT, "pyroute2.iproute" in sys.modules)\n'
        'from pyroute2 import IPRoute\n'  # a name of the package itself: it loads whole
        'print(IPRoute.__name__, "pyroute2.iproute" in sys.modules)\n') % LITE)
    assert out == ['True', 'True', 'False', 'IPRoute', 'True']


@pytest.mark.parametrize('python', PYTHONS)
def test_a_submodule_that_needs_the_init_falls_back_to_the_plain_import(python):
    out = run(python, (
        'import importlib, sys\n'
        'real = importlib.import_module\n'
        'def broken(name, *a):\n'
        '    if name == "pyroute2.netlink.rtnl.rtmsg" and "pyroute2.iproute" not in sys.modules:\n'
        '        raise ImportError("needs the package __init__")\n'
        '    return real(name, *a)\n'
        'importlib.import_module = broken\n'
        'from %s import pyroute2_lite\n'
        'pyroute2_lite.prepare()\n'
        'print("pyroute2" in sys.modules)\n'
        'from %s import rtnl, nft_netlink\n'
        'print(rtnl.HAS_PYROUTE2, nft_netlink.HAS_NFT, "pyroute2.iproute" in sys.modules)\n'
        ) % (LITE, LITE))
    # prepare() left nothing behind and does not try again; the plain import ran the
    # package __init__
    assert out == ['False', 'True', 'True', 'True']
