#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: netns
short_description: Named network namespaces, present or absent
version_added: 0.1.0
description:
  - Creates and removes named network namespaces exactly as C(ip netns add) does
    (a bind mount under C(/run/netns)), so C(ip netns list) and C(ip netns exec) see them.
  - Namespaces are created in-process (no fork per namespace), with C(lo) up.
  - Removing a namespace unmounts it, and the kernel destroys it with its interfaces
    (and their veth peers on the host). When a process or thread is still in it (found
    by one scan of C(/proc)), its interfaces are deleted first, so they go even then.
  - With O(owner), every namespace created is tagged (as the alias of its C(lo)); with
    O(exclusive=true), tagged namespaces of that owner that are not listed are removed.
extends_documentation_fragment:
  - linuxnet.container_network.netlink
options:
  name:
    description: Namespace names. Each must be one safe path component under C(/run/netns).
    type: list
    elements: str
    aliases: [names]
    default: []
  state:
    description: Whether the listed namespaces must exist.
    type: str
    choices: [present, absent]
    default: present
  owner:
    description: Tag namespaces created here as belonging to this owner (e.g. a network name).
    type: str
  exclusive:
    description:
      - With O(state=present), remove namespaces tagged with O(owner) that are not listed.
      - Requires O(owner). Namespaces without the tag are never touched.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Two container namespaces
  linuxnet.container_network.netns:
    name: [netns0, netns1]

- name: Exactly these namespaces for network br0 (others of br0 are removed)
  linuxnet.container_network.netns:
    name: [netns0]
    owner: br0
    exclusive: true

- name: Remove them, with their interfaces
  linuxnet.container_network.netns:
    name: [netns0, netns1]
    state: absent
'''

RETURN = r'''
actions:
  description: The kernel changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: dict
  sample: [{op: netns_create, target: netns0}]
namespaces:
  description: The namespaces named in the call.
  returned: success
  type: list
  elements: str
'''

from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.resources import NetnsResource
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import (
    HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR,
)


ARGUMENT_SPEC = dict(
    name=dict(type='list', elements='str', default=[], aliases=['names']),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    owner=dict(type='str'),
    exclusive=dict(type='bool', default=False),
)


def main():
    runner.run_module(NetnsResource(), ARGUMENT_SPEC, HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR)


if __name__ == '__main__':
    main()
