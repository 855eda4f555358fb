#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: veth_pair
short_description: veth pairs joining network namespaces to the host
version_added: 0.1.0
description:
  - Each pair has a host end (in the host namespace) and a peer end, created directly
    inside a named network namespace, with addresses, a default route via a gateway,
    MTU and MAC. Both ends are brought up.
  - A partly wrong pair (peer in another namespace, peer deleted, wrong address, down,
    wrong MTU or MAC) is converged. A name held by a link of another kind fails clearly.
  - "Addresses can be allocated from O(pool) and O(ipv6_pool) (C(auto)): a pair keeps the
    address it has, a new one gets a free address derived from its name, stable across runs."
  - IPv6 addresses are added without duplicate address detection (C(nodad)), so they are
    usable at once. A link with an IPv6 address needs an MTU of at least 1280.
extends_documentation_fragment:
  - linuxnet.container_network.netlink
options:
  pairs:
    description: The veth pairs.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Host end name (1 to 15 characters).
        type: str
        required: true
      peer:
        description: Peer end name, as seen inside O(pairs[].netns).
        type: str
        required: true
      netns:
        description: Named network namespace of the peer end (must exist). Host when omitted.
        type: str
      addresses:
        description:
          - Addresses of the peer end in CIDR form; C(auto) takes one from O(pool) and one
            from O(ipv6_pool), each that is set, for each family not listed here.
          - When given, exactly these are on the peer; when omitted, not managed.
        type: list
        elements: str
      gateway:
        description: Default route of the peer's namespace, via this address (in its subnet).
        type: str
      ipv6_gateway:
        description:
          - IPv6 default route of the peer's namespace, via this IPv6 address (in the subnet of
            an IPv6 address of the peer, or in O(ipv6_pool)), next to O(pairs[].gateway)'s IPv4 one.
        type: str
      mtu:
        description: MTU of both ends (68 to 65535).
        type: int
      mac:
        description: MAC address of the peer end.
        type: str
      state:
        description: Per-pair state; defaults to O(state).
        type: str
        choices: [present, absent]
  state:
    description: Default state of the listed pairs.
    type: str
    choices: [present, absent]
    default: present
  owner:
    description: Tag the host ends (interface alias C(linuxnet:OWNER)) as belonging to this owner.
    type: str
  exclusive:
    description: Delete veth pairs tagged with O(owner) that are not listed. Requires O(owner).
    type: bool
    default: false
  pool:
    description: Subnet (CIDR) from which C(auto) addresses are allocated.
    type: str
  ipv6_pool:
    description: IPv6 subnet (CIDR) from which C(auto) also allocates an IPv6 address.
    type: str
  reserved:
    description: Addresses in O(pool) or O(ipv6_pool) never allocated (e.g. the gateways).
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: The seed's two containers
  linuxnet.container_network.veth_pair:
    pairs:
      - {name: veth0, peer: ceth0, netns: netns0, addresses: [172.18.0.10/16], gateway: 172.18.0.1}
      - {name: veth1, peer: ceth1, netns: netns1, addresses: [172.18.0.20/16], gateway: 172.18.0.1}

- name: Addresses allocated from a pool, pairs of network br0 only
  linuxnet.container_network.veth_pair:
    owner: br0
    exclusive: true
    pool: 172.18.0.0/16
    reserved: [172.18.0.1]
    pairs:
      - {name: vethweb, peer: eth0, netns: web, addresses: [auto], gateway: 172.18.0.1}
  register: pairs

- name: Dual stack, an address of each family allocated
  linuxnet.container_network.veth_pair:
    owner: br0
    exclusive: true
    pool: 172.18.0.0/16
    ipv6_pool: fd00:18::/64
    reserved: [172.18.0.1, "fd00:18::1"]
    pairs:
      - {name: vethweb, peer: eth0, netns: web, addresses: [auto], gateway: 172.18.0.1,
         ipv6_gateway: "fd00:18::1"}
'''

RETURN = r'''
actions:
  description: The kernel changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: dict
  sample: [{op: veth_create, target: veth0, peer: ceth0, netns: netns0}]
pairs:
  description:
    - Per present pair, its peer, namespace and addresses (allocated ones included);
      C(address) is the first address, C(address6) the first IPv6 one (or null).
  returned: success
  type: dict
  sample: {veth0: {peer: ceth0, netns: netns0, addresses: [172.18.0.10/16, "fd00:18::10/64"],
                   address: 172.18.0.10, address6: "fd00:18::10"}}
'''

from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.resources import VethResource
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import (
    HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR,
)


ARGUMENT_SPEC = dict(
    pairs=dict(type='list', elements='dict', required=True, options=dict(
        name=dict(type='str', required=True),
        peer=dict(type='str', required=True),
        netns=dict(type='str'),
        addresses=dict(type='list', elements='str'),
        gateway=dict(type='str'),
        ipv6_gateway=dict(type='str'),
        mtu=dict(type='int'),
        mac=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent']),
    )),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    owner=dict(type='str'),
    exclusive=dict(type='bool', default=False),
    pool=dict(type='str'),
    ipv6_pool=dict(type='str'),
    reserved=dict(type='list', elements='str', default=[]),
)


def main():
    runner.run_module(VethResource(), ARGUMENT_SPEC, HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR)


if __name__ == '__main__':
    main()
