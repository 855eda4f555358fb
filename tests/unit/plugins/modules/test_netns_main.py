# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""main() of the netns module, run in-process with patch_module_args (no kernel)."""
import pytest

from ansible_collections.linuxnet.container_network.plugins.modules import netns


@pytest.mark.parametrize('bad,words', [
    ('..', ["'..'", 'safe path component']),
    ('a/b', ["'a/b'", 'safe path component']),
    ('', ['empty']),
    ('x\0y', ['safe path component']),
    ('ok0', ["'ok0'", 'listed twice']),
])
def test_validation_failure_names_item_and_touches_nothing(run_main, bad, words):
    rc, res = run_main(netns, {'name': ['ok0', bad]})
    assert rc == 1 and res['failed'] is True and res['changed'] is False
    assert res['actions'] == []
    for w in words:
        assert w in res['msg'], res['msg']


def test_exclusive_without_owner(run_main):
    rc, res = run_main(netns, {'name': ['a'], 'exclusive': True})
    assert rc == 1 and 'exclusive: True needs owner' in res['msg']
