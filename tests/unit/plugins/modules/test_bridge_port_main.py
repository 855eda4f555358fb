# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""main() of the bridge_port module, run in-process with patch_module_args (no kernel)."""
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.linuxnet.container_network.plugins.module_utils import l2
from ansible_collections.linuxnet.container_network.plugins.modules import bridge_port


class NoKernel(object):
    def __init__(self, *a, **kw):
        raise AssertionError('the kernel was opened although validation failed')


def run_main(monkeypatch, capsys, args, check_mode=False):
    """Run main(); return (exit code, result). Opening the kernel fails the test."""
    monkeypatch.setattr(l2, 'Kernel', NoKernel)
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as ei:
            bridge_port.main()
    out = capsys.readouterr().out
    return ei.value.code, json.loads(out)


@pytest.mark.parametrize('args,words', [
    ({'bridge': 'br0', 'ports': [{'name': 'veth0'}, {'name': 'veth-name-too-long'}]},
     ['veth-name-too-long', 'at most 15']),
    ({'bridge': 'br0', 'ports': [{'name': 'veth0'}, {'name': 'veth0'}]},
     ["port 'veth0'", 'listed twice']),
    ({'bridge': 'br/0', 'ports': [{'name': 'veth0'}]}, ["'br/0'", 'bridge name']),
])
def test_validation_failure_names_item_and_touches_nothing(monkeypatch, capsys, args, words):
    rc, res = run_main(monkeypatch, capsys, args)
    assert rc == 1 and res['failed'] is True and res['changed'] is False
    for w in words:
        assert w in res['msg'], res['msg']
