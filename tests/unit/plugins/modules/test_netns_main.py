# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""main() of the netns module, run in-process with patch_module_args (no kernel)."""
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.linuxnet.container_network.plugins.module_utils import l2
from ansible_collections.linuxnet.container_network.plugins.modules import netns


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
            netns.main()
    out = capsys.readouterr().out
    return ei.value.code, json.loads(out)


@pytest.mark.parametrize('bad,words', [
    ('..', ["'..'", 'safe path component']),
    ('a/b', ["'a/b'", 'safe path component']),
    ('', ['empty']),
    ('x\0y', ['safe path component']),
    ('ok0', ["'ok0'", 'listed twice']),
])
def test_validation_failure_names_item_and_touches_nothing(monkeypatch, capsys, bad, words):
    rc, res = run_main(monkeypatch, capsys, {'name': ['ok0', bad]})
    assert rc == 1 and res['failed'] is True and res['changed'] is False
    assert res['actions'] == []
    for w in words:
        assert w in res['msg'], res['msg']


def test_exclusive_without_owner(monkeypatch, capsys):
    rc, res = run_main(monkeypatch, capsys, {'name': ['a'], 'exclusive': True})
    assert rc == 1 and 'exclusive needs owner' in res['msg']
