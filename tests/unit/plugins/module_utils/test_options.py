"""The role container_bridge_network against the one table of a network's options
(module_utils/options.py): its argument specs, defaults and the network task say the same
as the modules do, so an option added there and forgotten in the role fails here."""
import os

import pytest
import yaml

from ansible_collections.linuxnet.container_network.plugins.module_utils.network import options
from ansible_collections.linuxnet.container_network.plugins.modules import network, network_info

ROLE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles',
                    'container_bridge_network')
PREFIX = 'container_bridge_network_'
# role variables that are no option of module network: the fleet's parts (the role builds
# option fleet from them with the filter linuxnet.container_network.fleet) and the switch
# for the prerequisites
ROLE_ONLY = {'fleet_group', 'fleet_backend', 'underlay_address', 'vxlan_id',
             'install_prerequisites'}
# options the role does not pass from a variable of the same name
NOT_A_VARIABLE = {'fleet', 'variable_prefix'}
# where the role's default is not the module's, and why: the role builds the seed's
# network out of the box (bridge br0, its subnet, two containers, one published port,
# rebuilt at boot); the module builds only what it is given
ROLE_DEFAULT_DIFFERS = {'bridge', 'subnet', 'gateway', 'containers', 'published_ports',
                        'persistent'}


def load(*path):
    with open(os.path.join(ROLE, *path)) as f:
        return yaml.safe_load(f)


SPECS = load('meta', 'argument_specs.yml')['argument_specs']['main']['options']
DEFAULTS = load('defaults', 'main.yml')
[NETWORK_TASK] = [t for t in load('tasks', 'main.yml') if t.get('name') == 'Container bridge network']
ARGS = NETWORK_TASK['linuxnet.container_network.network']


def same_shape(role, module, where):
    """type, choices, elements and suboptions (with their required and default) agree."""
    for key in ('type', 'choices', 'elements'):
        assert role.get(key) == module.get(key), (where, key)
    subs, theirs = role.get('options') or {}, module.get('options') or {}
    assert set(subs) == set(theirs), where
    for name, sub in theirs.items():
        for key in ('required', 'default'):
            assert subs[name].get(key) == sub.get(key), ('%s.%s' % (where, name), key)
        same_shape(subs[name], sub, '%s.%s' % (where, name))


def test_the_modules_specs_are_the_table():
    assert network.ARGUMENT_SPEC == options.network_spec()
    assert list(network.ARGUMENT_SPEC) == [name for name, spec, kind in options.OPTIONS]
    assert network_info.ARGUMENT_SPEC == options.info_spec()
    info = network_info.ARGUMENT_SPEC
    assert info.pop('foreign') == dict(type='bool', default=False)
    for name, spec in network.ARGUMENT_SPEC.items():  # a description: nothing implied
        assert 'default' not in info[name] and 'required' not in info[name], name
        same_shape(info[name], spec, name)
    # derived lists are copies: a caller changing its spec changes nothing here
    network.ARGUMENT_SPEC['containers']['options']['ifname']['default'] = 'x'
    try:
        assert options.network_spec()['containers']['options']['ifname']['default'] == 'eth0'
    finally:
        network.ARGUMENT_SPEC['containers']['options']['ifname']['default'] = 'eth0'


@pytest.mark.parametrize('name', [n for n, spec, kind in options.OPTIONS if n not in NOT_A_VARIABLE])
def test_every_option_is_a_role_variable_of_the_same_shape(name):
    spec = dict(options.network_spec()[name])
    var = PREFIX + name
    assert var in SPECS, '%s: option %s of module network has no role variable' % (var, name)
    same_shape(SPECS[var], spec, var)
    assert SPECS[var].get('default') == DEFAULTS.get(var), var  # argument_specs = defaults
    if name not in ROLE_DEFAULT_DIFFERS:
        assert SPECS[var].get('default') == spec.get('default'), var
    # the network task passes it from that variable
    assert name in ARGS, '%s: not passed to module network in tasks/main.yml' % name
    assert '{{ %s ' % var in ARGS[name] or '{{ %s}}' % var in ARGS[name], (name, ARGS[name])


def test_the_role_has_no_variable_the_table_does_not_know():
    names = [n for n, spec, kind in options.OPTIONS]
    for var in SPECS:
        assert var.startswith(PREFIX), var
        short = var[len(PREFIX):]
        assert short in names or short in ROLE_ONLY, '%s: neither an option nor role-only' % var
    assert set(DEFAULTS) == set(SPECS)
    assert set(ARGS) == set(names)  # every option, nothing else


def test_the_fleet_variables_are_the_fleet_options():
    fleet = options.FLEET
    assert SPECS[PREFIX + 'fleet_backend']['choices'] == fleet['backend']['choices']
    assert DEFAULTS[PREFIX + 'fleet_backend'] == fleet['backend']['default']
    assert SPECS[PREFIX + 'vxlan_id']['type'] == fleet['vxlan_id']['type']
    assert DEFAULTS[PREFIX + 'vxlan_id'] == fleet['vxlan_id']['default']
    assert PREFIX + 'fleet_group' in ARGS['fleet']
    assert ARGS['variable_prefix'] == PREFIX
