# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""main() of the bridge_port module, run in-process with patch_module_args (no kernel)."""
import pytest

from ansible_collections.linuxnet.container_network.plugins.modules import bridge_port


@pytest.mark.parametrize('args,words', [
    ({'bridge': 'br0', 'ports': [{'name': 'veth0'}, {'name': 'veth-name-too-long'}]},
     ['veth-name-too-long', 'at most 15']),
    ({'bridge': 'br0', 'ports': [{'name': 'veth0'}, {'name': 'veth0'}]},
     ["ports[1].name: 'veth0'", 'listed twice']),
    ({'bridge': 'br/0', 'ports': [{'name': 'veth0'}]}, ["bridge: 'br/0'"]),
])
def test_validation_failure_names_item_and_touches_nothing(run_main, args, words):
    rc, res = run_main(bridge_port, args)
    assert rc == 1 and res['failed'] is True and res['changed'] is False
    for w in words:
        assert w in res['msg'], res['msg']
