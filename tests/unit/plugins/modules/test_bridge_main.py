# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""main() of the bridge module, run in-process with patch_module_args (no kernel)."""
import pytest

from ansible_collections.linuxnet.container_network.plugins.modules import bridge


@pytest.mark.parametrize('bad,words', [
    ({'addresses': ['172.18.0.1']}, ['bridges[1].addresses[0]', 'no prefix length']),
    ({'addresses': ['172.18.0.1/40']}, ['bridges[1].addresses[0]', 'not a valid CIDR']),
    ({'mtu': 10}, ['bridges[1].mtu: 10', '68 to 65535']),
    ({'name': 'br 1'}, ["bridges[1].name: 'br 1'"]),
    ({'name': 'br0'}, ["bridges[1].name: 'br0'", 'listed twice']),
])
def test_validation_failure_names_item_and_touches_nothing(run_main, bad, words):
    second = dict({'name': 'br1'}, **bad)
    rc, res = run_main(bridge,
                       {'bridges': [{'name': 'br0', 'addresses': ['10.0.0.1/24']}, second]})
    assert rc == 1 and res['failed'] is True and res['changed'] is False
    for w in words:
        assert w in res['msg'], res['msg']
