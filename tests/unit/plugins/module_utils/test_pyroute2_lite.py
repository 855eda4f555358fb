# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pyroute2_lite: the message classes without pyroute2's __init__, and the way back.

Each case runs in a fresh interpreter (the import state of this one is shared by all
tests), under the venv's Python (pyroute2 0.9) and Debian's (0.7)."""
import os
import subprocess
import sys

import pytest

COLLECTIONS = os.path.join(os.environ.get('LINUXNET_HOME', '/opt/linuxnet'), 'collections')
LITE = 'ansible_collections.linuxnet.container_network.plugins.module_utils'


def _has_pyroute2(python):
    return os.path.exists(python) and subprocess.run(
        [python, '-c', 'import pyroute2'], capture_output=True, check=False).returncode == 0


PYTHONS = [p for p in (sys.executable, '/usr/bin/python3') if _has_pyroute2(p)]

LOADS_LIGHT = (
    'import sys\n'
    'from {lite} import rtnl, nft_netlink\n'
    'print(rtnl.HAS_PYROUTE2, nft_netlink.HAS_NFT, "pyroute2.iproute" in sys.modules)\n'
    'from pyroute2 import IPRoute\n'  # a name of the package itself: it loads whole
    'print(IPRoute.__name__, "pyroute2.iproute" in sys.modules)\n')

FALLS_BACK = (
    'import importlib, sys\n'
    'real = importlib.import_module\n'
    'def broken(name, *a):\n'
    '    if name == "pyroute2.netlink.rtnl.rtmsg" and "pyroute2.iproute" not in sys.modules:\n'
    '        raise ImportError("needs the package __init__")\n'
    '    return real(name, *a)\n'
    'importlib.import_module = broken\n'
    'from {lite} import pyroute2_lite\n'
    'pyroute2_lite.prepare()\n'
    'print("pyroute2" in sys.modules)\n'
    'from {lite} import rtnl, nft_netlink\n'
    'print(rtnl.HAS_PYROUTE2, nft_netlink.HAS_NFT, "pyroute2.iproute" in sys.modules)\n')


@pytest.mark.parametrize('python', PYTHONS)
@pytest.mark.parametrize('code, expected', [
    (LOADS_LIGHT, ['True', 'True', 'False', 'IPRoute', 'True']),
    # prepare() leaves nothing behind and does not try again; the plain import runs the
    # package __init__
    (FALLS_BACK, ['False', 'True', 'True', 'True']),
], ids=['loads-light', 'falls-back'])
def test_pyroute2_lite(python, code, expected):
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    p = subprocess.run([python, '-c', code.format(lite=LITE)], capture_output=True, text=True,
                       env=env, check=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == expected
