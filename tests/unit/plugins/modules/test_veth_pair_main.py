# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""main() of the veth_pair module, run in-process with patch_module_args (no kernel)."""
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.linuxnet.container_network.plugins.module_utils import l2
from ansible_collections.linuxnet.container_network.plugins.modules import veth_pair


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
            veth_pair.main()
    out = capsys.readouterr().out
    return ei.value.code, json.loads(out)


GOOD = {'name': 'veth0', 'peer': 'ceth0', 'netns': 'netns0', 'addresses': ['172.18.0.10/16'],
        'gateway': '172.18.0.1'}


@pytest.mark.parametrize('bad,words', [
    ({'addresses': ['172.18.0.300/16']}, ['not a valid CIDR', "pair 'veth1'"]),
    ({'addresses': ['172.18.0.20']}, ['no prefix length', "pair 'veth1'"]),
    ({'name': 'veth1-is-far-too-long'}, ['veth1-is-far-too-long', 'at most 15']),
    ({'peer': 'c/eth'}, ['c/eth', "pair 'veth1'"]),
    ({'netns': '..'}, ["'..'", "pair 'veth1'", 'safe path component']),
    ({'netns': ''}, ["pair 'veth1'", 'empty']),
    ({'mtu': 70000}, ['70000', "pair 'veth1'", '68 to 65535']),
    ({'gateway': '10.0.0.1'}, ['10.0.0.1', "pair 'veth1'", 'outside the subnet']),
    ({'name': 'veth0'}, ["host end 'veth0'", 'listed twice']),
])
def test_validation_failure_names_item_and_touches_nothing(monkeypatch, capsys, bad, words):
    second = {'name': 'veth1', 'peer': 'ceth1', 'netns': 'netns1',
              'addresses': ['172.18.0.20/16'], 'gateway': '172.18.0.1'}
    second.update(bad)
    rc, res = run_main(monkeypatch, capsys, {'pairs': [GOOD, second]})
    assert rc == 1 and res['failed'] is True
    assert res['changed'] is False and res['actions'] == []
    for w in words:
        assert w in res['msg'], res['msg']


def test_validation_failure_in_check_mode(monkeypatch, capsys):
    rc, res = run_main(monkeypatch, capsys, {'pairs': [dict(GOOD, mtu=1)]}, check_mode=True)
    assert rc == 1 and "pair 'veth0'" in res['msg'] and res['changed'] is False


def test_argument_spec_rejects_missing_peer(monkeypatch, capsys):
    rc, res = run_main(monkeypatch, capsys, {'pairs': [{'name': 'veth0'}]})
    assert rc == 1 and 'peer' in res['msg']


def test_sentinel_catches_kernel_access(monkeypatch, capsys):
    """The NoKernel guard above really fires once input is valid (so it can fail)."""
    rc, res = run_main(monkeypatch, capsys, {'pairs': [GOOD]})
    assert rc == 1 and 'the kernel was opened' in res['msg']
