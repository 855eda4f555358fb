# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of a network, in one place.

Every option of module ``network`` is one row of :data:`OPTIONS`: its argument spec and
what it is (:data:`DESCRIBES`: part of the network's description, saved for the boot
restore and compared by ``network_info``; :data:`RUN`: how this run goes, never saved).
Derived from it, never written twice:

- :func:`network_spec`, module ``network``'s argument spec;
- :func:`info_spec`, module ``network_info``'s (the same options, no top-level defaults
  or requirements: an option given or not is what makes a description, plus ``foreign``);
- :data:`SAVED` and :data:`RUN_ONLY` (persistence), :data:`DEFAULTS` (``network_info``).

The role ``container_bridge_network`` passes each option as
``container_bridge_network_<option>``; ``tests/unit/test_options.py`` holds its
``meta/argument_specs.yml``, ``defaults/main.yml`` and ``tasks/main.yml`` to this table, and
ansible-test sanity holds the modules' documentation to the specs. A new option: a row
here, its documentation in ``modules/network.py`` (and a line in ``network_info.py``), its
role variable, and the code that uses it.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

DESCRIBES = 'describes'
RUN = 'run'

CONTAINER = dict(
    name=dict(type='str', required=True),
    address=dict(type='str'),
    ipv6_address=dict(type='str'),
    host_ifname=dict(type='str'),
    ifname=dict(type='str', default='eth0'),
)
PUBLICATION = dict(
    container=dict(type='str', required=True),
    host_port=dict(type='raw', required=True),
    container_port=dict(type='raw'),
    protocol=dict(type='str', choices=['tcp', 'udp'], default='tcp'),
    host_ip=dict(type='str'),
)
FLEET = dict(
    backend=dict(type='str', default='host-gw', choices=['host-gw', 'vxlan']),
    host=dict(type='str', required=True),
    vxlan_id=dict(type='int', default=42),
    members=dict(type='list', elements='dict', required=True, options=dict(
        host=dict(type='str', required=True),
        subnet=dict(type='str', required=True),
        underlay_address=dict(type='str', required=True),
    )),
)

# (option, argument spec, what it is), in the modules' order
OPTIONS = (
    ('bridge', dict(type='str', required=True), DESCRIBES),
    ('subnet', dict(type='str'), DESCRIBES),
    ('gateway', dict(type='str'), DESCRIBES),
    ('ipv6_subnet', dict(type='str'), DESCRIBES),
    ('ipv6_gateway', dict(type='str'), DESCRIBES),
    ('ipv6_masquerade', dict(type='bool', default=True), DESCRIBES),
    ('containers', dict(type='list', elements='dict', default=[], options=CONTAINER),
     DESCRIBES),
    ('published_ports', dict(type='list', elements='dict', default=[], options=PUBLICATION),
     DESCRIBES),
    ('masquerade', dict(type='bool', default=True), DESCRIBES),
    ('ingress_protection', dict(type='bool', default=True), DESCRIBES),
    ('firewall_integration', dict(type='str', default='auto', choices=['auto', 'none']),
     DESCRIBES),
    ('fleet', dict(type='dict', options=FLEET), DESCRIBES),
    ('persistent', dict(type='bool', default=False), RUN),
    ('state', dict(type='str', default='present', choices=['present', 'absent']), RUN),
    ('variable_prefix', dict(type='str', default=''), RUN),
)

SAVED = tuple(name for name, spec, kind in OPTIONS if kind == DESCRIBES)
RUN_ONLY = tuple(name for name, spec, kind in OPTIONS if kind == RUN)
# a description's defaults as module network gives them (persistent is not compared:
# network_info reads whether the network is persistent, a description need not say)
DEFAULTS = dict((name, spec['default']) for name, spec, kind in OPTIONS
                if 'default' in spec and name != 'persistent')


def network_spec():
    """Module ``network``'s argument spec (a fresh copy)."""
    return dict((name, copy.deepcopy(spec)) for name, spec, kind in OPTIONS)


def info_spec():
    """Module ``network_info``'s argument spec: every option of ``network`` with neither
    a default nor a requirement of its own at the top level (suboptions as they are),
    and ``foreign``."""
    out = {}
    for name, spec, kind in OPTIONS:
        out[name] = dict((k, copy.deepcopy(v)) for k, v in spec.items()
                         if k not in ('default', 'required'))
        if name == 'bridge':
            out['foreign'] = dict(type='bool', default=False)
    return out
