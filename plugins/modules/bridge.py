#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: bridge
short_description: Linux bridge devices with their gateway addresses
version_added: 0.1.0
description:
  - Creates, converges and removes Linux bridges in the host namespace, up, with
    the given addresses (the containers' gateway) and MTU.
  - Attach ports with M(linuxnet.container_network.bridge_port).
extends_documentation_fragment:
  - linuxnet.container_network.netlink
options:
  bridges:
    description: The bridges.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Bridge name (1 to 15 characters).
        type: str
        required: true
      addresses:
        description:
          - Addresses in CIDR form, IPv4 and IPv6. When given, exactly these addresses are on
            the bridge (others are removed); when omitted, addresses are not managed.
          - IPv6 addresses skip duplicate address detection (usable at once); a bridge with
            one needs an MTU of at least 1280.
        type: list
        elements: str
      mtu:
        description: MTU (68 to 65535). Not managed when omitted.
        type: int
      state:
        description: Per-bridge state; defaults to O(state).
        type: str
        choices: [present, absent]
  state:
    description: Default state of the listed bridges.
    type: str
    choices: [present, absent]
    default: present
  refuse_overlap:
    description:
      - Fail, changing nothing, when the subnet of an address of a present bridge overlaps
        a route of the host's main table through another interface, as Docker refuses such
        a network. The containers would be unreachable from the host, or shadow that route.
      - Routes through the bridge itself and default routes never count.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: The seed's bridge with the containers' gateway
  linuxnet.container_network.bridge:
    bridges:
      - name: br0
        addresses: [172.18.0.1/16]
    refuse_overlap: true
'''

RETURN = r'''
actions:
  description: The kernel changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: dict
  sample: [{op: bridge_create, target: br0}, {op: link_set, target: br0, up: true}]
'''

from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.resources import BridgeResource
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import (
    HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR,
)


ARGUMENT_SPEC = dict(
    bridges=dict(type='list', elements='dict', required=True, options=dict(
        name=dict(type='str', required=True),
        addresses=dict(type='list', elements='str'),
        mtu=dict(type='int'),
        state=dict(type='str', choices=['present', 'absent']),
    )),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    refuse_overlap=dict(type='bool', default=False),
)


def main():
    runner.run_module(BridgeResource(), ARGUMENT_SPEC, HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR)


if __name__ == '__main__':
    main()
