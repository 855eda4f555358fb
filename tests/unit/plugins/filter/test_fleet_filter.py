# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's fleet filter: the inventory -> module network's fleet option (pure)."""
import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.linuxnet.container_network.plugins.filter import fleet as f

P = 'container_bridge_network_'
GROUPS = {'fleet': ['a', 'b', 'c'], 'all': ['a', 'b', 'c', 'd']}
HOSTVARS = {'a': {'ansible_host': '198.51.100.11', P + 'subnet': '172.18.1.0/24'},
            'b': {'ansible_host': '198.51.100.12', P + 'subnet': '172.18.2.0/24',
                  P + 'underlay_address': '192.0.2.12'},
            'c': {},  # no ansible_host, no subnet: its name and the role's default
            'd': {}}
MINE = {'subnet': '172.18.1.0/24 ', 'underlay_address': '10.0.0.1', 'backend': 'vxlan',
        'vxlan_id': '7'}


def test_members_from_hostvars_and_this_host_from_its_own_values():
    out = f.fleet('fleet', GROUPS, HOSTVARS, 'a', MINE)
    assert out == {'backend': 'vxlan', 'host': 'a', 'vxlan_id': 7, 'members': [
        {'host': 'a', 'subnet': '172.18.1.0/24', 'underlay_address': '10.0.0.1'},
        {'host': 'b', 'subnet': '172.18.2.0/24', 'underlay_address': '192.0.2.12'},
        {'host': 'c', 'subnet': f.DEFAULT_SUBNET, 'underlay_address': 'c'}]}


def test_no_fleet_for_no_group_or_a_host_outside_it():
    assert f.fleet(None, GROUPS, HOSTVARS, 'a', MINE) is None
    assert f.fleet('', GROUPS, HOSTVARS, 'a', MINE) is None
    assert f.fleet('fleet', GROUPS, HOSTVARS, 'd', MINE) is None
    with pytest.raises(AnsibleFilterError, match="no group 'nope'"):
        f.fleet('nope', GROUPS, HOSTVARS, 'a', MINE)
    assert f.FilterModule().filters() == {'fleet': f.fleet}


def test_the_default_subnet_is_the_roles():
    import os
    import yaml
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, '..', '..', '..', '..', 'roles', 'container_bridge_network',
                        'defaults', 'main.yml')
    with open(path) as fh:
        assert yaml.safe_load(fh)[P + 'subnet'] == f.DEFAULT_SUBNET
