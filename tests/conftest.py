"""Make ``ansible_collections.linuxnet.container_network`` importable for tests.

scripts/setup.sh links this checkout as
$LINUXNET_HOME/collections/ansible_collections/linuxnet/container_network.
"""
import os
import sys

LINUXNET_HOME = os.environ.get('LINUXNET_HOME', '/opt/linuxnet')
COLLECTIONS = os.path.join(LINUXNET_HOME, 'collections')
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_parts = REPO.split(os.sep)
if _parts[-3:] == ['ansible_collections', 'linuxnet', 'container_network']:
    # The tree itself is laid out as a collection (ansible-test units, sanity copy).
    COLLECTIONS = os.sep.join(_parts[:-3]) or os.sep
_link = os.path.join(COLLECTIONS, 'ansible_collections', 'linuxnet', 'container_network')
if not os.path.isdir(_link) or os.path.realpath(_link) != os.path.realpath(REPO):
    raise RuntimeError('%s does not point at %s: run scripts/setup.sh first' % (_link, REPO))
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


# ---------------------------------------------------------------------------
# Unit tests of the modules' main(). Defined here, not in a conftest.py of their own:
# the integration tests import helpers with `from conftest import ...`, and a second
# module named conftest on sys.path would shadow theirs.

import json  # noqa: E402

import pytest  # noqa: E402


class NoKernel(object):
    def __init__(self, *a, **kw):
        raise AssertionError('the kernel was opened although validation failed')


@pytest.fixture
def run_main(monkeypatch, capsys):
    """run_main(module, args, check_mode=False) -> (exit code, result) of module.main(),
    in-process with patch_module_args; opening the kernel fails the test."""
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import resources as l2

    def run(module, args, check_mode=False):
        monkeypatch.setattr(l2, 'Kernel', NoKernel)
        if check_mode:
            args = dict(args, _ansible_check_mode=True)
        with patch_module_args(args):
            with pytest.raises(SystemExit) as ei:
                module.main()
        return ei.value.code, json.loads(capsys.readouterr().out)
    return run
