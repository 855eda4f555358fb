#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: masquerade
short_description: Let containers of a bridge network reach the world (forwarding + masquerade)
version_added: 0.1.0
description:
  - For each network, source-NATs (masquerades) IPv4 traffic from its subnet that leaves
    through any interface other than its bridge, like
    C(iptables -t nat -A POSTROUTING -s SUBNET ! -o BRIDGE -j MASQUERADE).
  - The rules live in the nftables table C(inet linuxnet), owned by this collection, in
    its C(postrouting) chain (C(type nat hook postrouting priority srcnat)). Every rule
    carries an owner tag as its comment (C(linuxnet:masq/NAME#HASH)); only rules with
    our tag are ever changed. No other table, chain or rule is touched.
  - All nftables changes of a run are made in one atomic nfnetlink batch. The table is
    removed when no rule remains in it.
  - A table C(ip linuxnet) left by an earlier release is migrated by the run. Every rule
    tagged by this collection moves to C(inet linuxnet) and the old table is deleted, in
    the same batch.
  - Enables C(net.ipv4.ip_forward) and persists it with the drop-in
    C(/etc/sysctl.d/90-linuxnet-container-network.conf), so a reboot or
    C(systemd-sysctl) does not undo it. When no masqueraded network remains in the table,
    the drop-in is removed; the running value of C(ip_forward) is left as it is (other
    software may rely on it).
  - Rerunning after C(nft flush ruleset) (a firewall reload) restores the rules.
  - "IPv6: a network with O(networks[].ipv6_subnet) has its IPv6 traffic leaving through any
    other interface masqueraded too (NAT66, rule C(masq/NAME/6), like Docker's default),
    unless O(networks[].ipv6_masquerade=false) (the upstream then routes the subnet back)."
  - While a network with an IPv6 subnet is present, C(net.ipv6.conf.all.forwarding) is on.
    Turning it on makes Linux ignore router advertisements on interfaces with C(accept_ra=1);
    so first every interface with C(accept_ra=1) that has a route learned from a router
    advertisement (protocol C(ra)) is set to C(accept_ra=2), and the host keeps its IPv6
    default route. Both are persisted in the drop-in
    C(/etc/sysctl.d/90-linuxnet-container-network-ipv6.conf), which also records the networks
    using it and the values found before. When the last of those networks is removed (or
    loses its IPv6 subnet), the values found are restored (forwarding first) and the drop-in
    is removed.
requirements:
  - Linux with nf_tables and nft_masq (any current distribution kernel)
extends_documentation_fragment:
  - linuxnet.container_network.netlink
options:
  networks:
    description: The networks. Networks not listed are left alone.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Network name (owner of the rule); 1 to 32 of C(A-Z a-z 0-9 _ . -).
        type: str
        required: true
      subnet:
        description:
          - IPv4 subnet of the containers, host bits zero, for example C(172.18.0.0/16).
          - Required when present, unless O(networks[].ipv6_subnet) is given (an IPv6-only network).
        type: str
      ipv6_subnet:
        description:
          - IPv6 subnet of the containers, host bits zero, for example C(fd00:18::/64); not C(::/0).
          - Turns IPv6 forwarding on (see description) and, with O(networks[].ipv6_masquerade), masquerades it.
        type: str
        version_added: 0.1.0
      ipv6_masquerade:
        description:
          - Masquerade O(networks[].ipv6_subnet) leaving through other interfaces (NAT66).
          - Set it to V(false) when the upstream routes the subnet to this host; IPv6 is then forwarded unchanged.
        type: bool
        default: true
        version_added: 0.1.0
      bridge:
        description: The network's bridge; traffic leaving through it is not masqueraded. Required when present.
        type: str
      state:
        description: Per-network state; defaults to O(state).
        type: str
        choices: [present, absent]
  state:
    description: Default state of the listed networks.
    type: str
    choices: [present, absent]
    default: present
notes:
  - A C(drop) verdict in any other nftables table or iptables chain still drops traffic
    this module lets through; coexistence with Docker's C(FORWARD DROP) policy is not handled yet.
'''

EXAMPLES = r'''
- name: The seed's network reaches the outside world
  linuxnet.container_network.masquerade:
    networks:
      - name: br0
        subnet: 172.18.0.0/16
        bridge: br0

- name: A dual-stack network, its IPv6 subnet routed by the upstream (not masqueraded)
  linuxnet.container_network.masquerade:
    networks:
      - name: br1
        subnet: 172.19.0.0/16
        ipv6_subnet: "2001:db8:18::/64"
        ipv6_masquerade: false
        bridge: br1

- name: Remove it (and the sysctl drop-in if it was the last one)
  linuxnet.container_network.masquerade:
    networks:
      - name: br0
    state: absent
'''

RETURN = r'''
actions:
  description: The changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: dict
  sample: [{op: create_table, target: inet linuxnet}, {op: add_rule, target: "postrouting: masq/br0",
            rule: 'ip saddr 172.18.0.0/16 oifname != "br0" masquerade'}]
rules:
  description: The rules of the listed networks after the run, one line each.
  returned: success
  type: list
  elements: str
  sample: ['postrouting: ip saddr 172.18.0.0/16 oifname != "br0" masquerade comment "linuxnet:masq/br0#0123456789ab"']
backend:
  description: The NAT backend used.
  returned: success
  type: str
  sample: nftables
'''

from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.resources import MasqueradeResource
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nft_socket import (
    HAS_NFT, NFT_IMPORT_ERROR,
)


ARGUMENT_SPEC = dict(
    networks=dict(type='list', elements='dict', required=True, options=dict(
        name=dict(type='str', required=True),
        subnet=dict(type='str'),
        ipv6_subnet=dict(type='str'),
        ipv6_masquerade=dict(type='bool', default=True),
        bridge=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent']),
    )),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)


def main():
    runner.run_module(MasqueradeResource(), ARGUMENT_SPEC, HAS_NFT, NFT_IMPORT_ERROR)


if __name__ == '__main__':
    main()
