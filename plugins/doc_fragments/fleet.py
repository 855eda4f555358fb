# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The option fleet of the modules network and network_info (a network description).
    DOCUMENTATION = r'''
options:
  fleet:
    description:
      - Fleet networking - this host's containers reach the containers of the other hosts
        listed in O(fleet.members) by their own addresses (no masquerade between the fleet's
        subnets; ingress protection lets them in), as flannel's host-gw and vxlan backends
        do. The role builds it from the inventory group C(container_bridge_network_fleet_group).
      - Before any change it checks that the members' subnets are disjoint, that none overlaps
        a route of this host, that O(fleet.members[].underlay_address) of this host is its
        own and (host-gw) that every peer is on-link.
      - Omitted - no fleet; routes, FDB and neighbour entries and the VXLAN device of an
        earlier fleet of this network are removed.
    type: dict
    suboptions:
      backend:
        description:
          - C(host-gw) - a route per peer subnet via the peer's underlay address (every host on one L2 segment).
          - C(vxlan) - a unicast VXLAN device C(lnvx<vxlan_id>) (UDP 4789) with static FDB and
            neighbour entries per peer and routes through it; the containers' MTU is the
            underlay link's minus 50.
        type: str
        choices: [host-gw, vxlan]
        default: host-gw
      host:
        description: This host's name in O(fleet.members).
        type: str
        required: true
      vxlan_id:
        description: VXLAN network identifier (1 to 16777215), the same on every member (vxlan only).
        type: int
        default: 42
      members:
        description: Every host of the fleet, this one included.
        type: list
        elements: dict
        required: true
        suboptions:
          host:
            description: Inventory name.
            type: str
            required: true
          subnet:
            description: Its container subnet (IPv4), disjoint from every other member's.
            type: str
            required: true
          underlay_address:
            description: The IPv4 address its peers reach it at.
            type: str
            required: true
'''
