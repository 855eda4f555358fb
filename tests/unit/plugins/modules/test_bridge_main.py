# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""main() of the bridge module, run in-process with patch_module_args (no kernel)."""
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.linuxnet.container_network.plugins.module_utils import l2
from ansible_collections.linuxnet.container_network.plugins.modules import bridge


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
            bridge.main()
    out = capsys.readouterr().out
    return ei.value.code, json.loads(out)


@pytest.mark.parametrize('bad,words', [
    ({'addresses': ['172.18.0.1']}, ["bridge 'br1'", 'no prefix length']),
    ({'addresses': ['172.18.0.1/40']}, ["bridge 'br1'", 'not a valid CIDR']),
    ({'mtu': 10}, ["bridge 'br1'", '68 to 65535']),
    ({'name': 'br 1'}, ["'br 1'", 'bridge name']),
    ({'name': 'br0'}, ["bridge 'br0'", 'listed twice']),
])
def test_validation_failure_names_item_and_touches_nothing(monkeypatch, capsys, bad, words):
    second = dict({'name': 'br1'}, **bad)
    rc, res = run_main(monkeypatch, capsys,
                       {'bridges': [{'name': 'br0', 'addresses': ['10.0.0.1/24']}, second]})
    assert rc == 1 and res['failed'] is True and res['changed'] is False
    for w in words:
        assert w in res['msg'], res['msg']
