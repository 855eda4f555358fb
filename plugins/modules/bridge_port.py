#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: bridge_port
short_description: Attach interfaces to a Linux bridge, with hairpin per port
version_added: 0.1.0
description:
  - Attaches (or detaches) host interfaces, such as the host ends of veth pairs, to a
    bridge created by M(linuxnet.container_network.bridge), and sets each port's hairpin
    flag (needed for a container to reach its own published port through the host when
    bridge netfilter is active).
  - A port attached to another bridge is moved. Detaching only touches ports of O(bridge).
extends_documentation_fragment:
  - linuxnet.container_network.netlink
options:
  bridge:
    description: The bridge (must exist when ports are attached).
    type: str
    required: true
  ports:
    description: The ports.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Interface name (must exist when attached).
        type: str
        required: true
      hairpin:
        description: Hairpin mode of the port. Not managed when omitted.
        type: bool
      state:
        description: C(present) attaches, C(absent) detaches; defaults to O(state).
        type: str
        choices: [present, absent]
  state:
    description: Default state of the listed ports.
    type: str
    choices: [present, absent]
    default: present
'''

EXAMPLES = r'''
- name: Join the seed's containers on br0
  linuxnet.container_network.bridge_port:
    bridge: br0
    ports:
      - {name: veth0, hairpin: true}
      - {name: veth1, hairpin: true}
'''

RETURN = r'''
actions:
  description: The kernel changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: dict
  sample: [{op: link_set, target: veth0, master: br0}, {op: brport_set, target: veth0, hairpin: true}]
'''

from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.resources import PortsResource
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import (
    HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR,
)


ARGUMENT_SPEC = dict(
    bridge=dict(type='str', required=True),
    ports=dict(type='list', elements='dict', required=True, options=dict(
        name=dict(type='str', required=True),
        hairpin=dict(type='bool'),
        state=dict(type='str', choices=['present', 'absent']),
    )),
    state=dict(type='str', default='present', choices=['present', 'absent']),
)


def main():
    runner.run_module(PortsResource(), ARGUMENT_SPEC, HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR)


if __name__ == '__main__':
    main()
