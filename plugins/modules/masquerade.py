#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: masquerade
short_description: Let containers of a bridge network reach the world (IPv4 forwarding + masquerade)
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
  - IPv4 only; IPv6 is not handled yet.
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
        description: IPv4 subnet of the containers, host bits zero, for example C(172.18.0.0/16). Required when present.
        type: str
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
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import MasqueradeResource
from ansible_collections.linuxnet.container_network.plugins.module_utils.nft_socket import (
    HAS_NFT, NFT_IMPORT_ERROR,
)


ARGUMENT_SPEC = dict(
    networks=dict(type='list', elements='dict', required=True, options=dict(
        name=dict(type='str', required=True),
        subnet=dict(type='str'),
        bridge=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent']),
    )),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)


def main():
    runner.run_module(MasqueradeResource(), ARGUMENT_SPEC, HAS_NFT, NFT_IMPORT_ERROR)


if __name__ == '__main__':
    main()
