# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process with patch_module_args, with no kernel access."""
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.linuxnet.container_network.plugins.module_utils import l2


class NoKernel(object):
    def __init__(self, *a, **kw):
        raise AssertionError('the kernel was opened although validation failed')


@pytest.fixture
def run_main(monkeypatch, capsys):
    """run_main(module, args, check_mode=False) -> (exit code, result); opening the kernel
    fails the test."""
    def run(module, args, check_mode=False):
        monkeypatch.setattr(l2, 'Kernel', NoKernel)
        if check_mode:
            args = dict(args, _ansible_check_mode=True)
        with patch_module_args(args):
            with pytest.raises(SystemExit) as ei:
                module.main()
        return ei.value.code, json.loads(capsys.readouterr().out)
    return run
