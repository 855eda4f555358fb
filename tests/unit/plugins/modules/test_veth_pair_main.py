# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""main() of the veth_pair module, run in-process with patch_module_args (no kernel)."""
import pytest

from ansible_collections.linuxnet.container_network.plugins.modules import veth_pair


GOOD = {'name': 'veth0', 'peer': 'ceth0', 'netns': 'netns0', 'addresses': ['172.18.0.10/16'],
        'gateway': '172.18.0.1'}


@pytest.mark.parametrize('bad,words', [
    ({'addresses': ['172.18.0.300/16']}, ['not a valid CIDR', 'pairs[1].addresses[0]']),
    ({'addresses': ['172.18.0.20']}, ['no prefix length', 'pairs[1].addresses[0]']),
    ({'name': 'veth1-is-far-too-long'}, ['veth1-is-far-too-long', 'at most 15']),
    ({'peer': 'c/eth'}, ["pairs[1].peer: 'c/eth'"]),
    ({'netns': '..'}, ["pairs[1].netns: '..'", 'safe path component']),
    ({'netns': ''}, ["pairs[1].netns: ''", 'empty']),
    ({'mtu': 70000}, ['pairs[1].mtu: 70000', '68 to 65535']),
    ({'gateway': '10.0.0.1'}, ["pairs[1].gateway: '10.0.0.1'", 'outside the subnet']),
    ({'name': 'veth0'}, ["pairs[1].name: 'veth0'", 'listed twice']),
])
def test_validation_failure_names_item_and_touches_nothing(run_main, bad, words):
    second = {'name': 'veth1', 'peer': 'ceth1', 'netns': 'netns1',
              'addresses': ['172.18.0.20/16'], 'gateway': '172.18.0.1'}
    second.update(bad)
    rc, res = run_main(veth_pair, {'pairs': [GOOD, second]})
    assert rc == 1 and res['failed'] is True
    assert res['changed'] is False and res['actions'] == []
    for w in words:
        assert w in res['msg'], res['msg']


def test_validation_failure_in_check_mode(run_main):
    rc, res = run_main(veth_pair, {'pairs': [dict(GOOD, mtu=1)]}, check_mode=True)
    assert rc == 1 and 'pairs[0].mtu: 1' in res['msg'] and res['changed'] is False


def test_argument_spec_rejects_missing_peer(run_main):
    rc, res = run_main(veth_pair, {'pairs': [{'name': 'veth0'}]})
    assert rc == 1 and 'peer' in res['msg']


def test_sentinel_catches_kernel_access(run_main):
    """The NoKernel guard (tests/conftest.py) really fires once input is valid (so it can fail)."""
    rc, res = run_main(veth_pair, {'pairs': [GOOD]})
    assert rc == 1 and 'the kernel was opened' in res['msg']
