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
author: linuxnet.container_network developers (@linuxnet)
requirements:
  - pyroute2 >= 0.7.2 on the target
attributes:
  check_mode:
    support: full
    description: Reports the actions it would take and changes nothing.
  diff_mode:
    support: full
    description: Shows each port's bridge and hairpin flag before and after.
  platform:
    platforms: linux
    support: full
    description: Linux bridge ports over netlink.
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import PortsResource
from ansible_collections.linuxnet.container_network.plugins.module_utils.nlsock import (
    HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bridge=dict(type='str', required=True),
            ports=dict(type='list', elements='dict', required=True, options=dict(
                name=dict(type='str', required=True),
                hairpin=dict(type='bool'),
                state=dict(type='str', choices=['present', 'absent']),
            )),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        supports_check_mode=True,
    )
    if not HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib('pyroute2'), exception=PYROUTE2_IMPORT_ERROR)
    runner.run(module, PortsResource())


if __name__ == '__main__':
    main()
