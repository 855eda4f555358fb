#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: port_publish
short_description: Publish container ports on the host (DNAT), with hairpin and ingress protection
version_added: 0.1.0
description:
  - Publishes container ports on host ports, like C(docker run -p), for one network. The
    O(publications) list is the B(full) set for O(network); publications of that network
    that are not listed are removed.
  - "Each publication works for traffic from outside the host (chain C(prerouting)), for
    traffic generated on the host to one of its own addresses (chain C(output)), and for
    hairpin traffic: a container reaching a published port through a host address, including
    its own published port (the DNATed traffic that comes back into the subnet is
    masqueraded, as Docker does with C(userland-proxy=false))."
  - Without O(publications[].host_ip) the port is published on every local address
    (C(fib daddr type local)) except loopback C(127.0.0.0/8); C(localhost:PORT) is
    published only by a publication with O(publications[].host_ip=127.0.0.1).
  - "B(Ingress protection) (O(ingress_protection), default on): in chain C(forward), packets
    to an address of O(subnet) arriving from any interface other than O(bridge) are dropped
    unless they belong to an established/related connection or were DNATed by a publication
    (Docker's DROP DIRECT ACCESS). Only published ports then reach the containers from
    outside; containers on the same bridge and the host itself are not affected; other
    networks' containers reach this network through published ports only."
  - Works whether br_netfilter is active or not (C(bridge-nf-call-iptables) 0 or 1). With
    br_netfilter active, a container reaching B(its own) published port needs C(hairpin)
    mode on its bridge port.
  - Rules live in the nftables table C(inet linuxnet) owned by this collection (chains
    C(prerouting) and C(output) C(type nat priority dstnat), C(postrouting) C(priority srcnat),
    C(forward) C(type filter priority filter), C(guard) C(type filter hook prerouting priority
    raw)), each tagged with the comment
    C(linuxnet:pub/NETWORK/...#HASH). All changes of a run are one atomic nfnetlink batch;
    nothing outside the table is touched. Rerunning after C(nft flush ruleset) restores them.
    A table C(ip linuxnet) of an earlier release is migrated into it in the same batch.
  - Forwarding (C(net.ipv4.ip_forward)) is enabled by M(linuxnet.container_network.masquerade).
  - "IPv6: with O(ipv6_subnet) and a publication's O(publications[].container_ipv6_address),
    a publication without O(publications[].host_ip) serves both families (rule ids
    C(pub/NETWORK/PROTO/*6/PORTS/pre|out) for IPv6: every local IPv6 address but C(::1));
    one with an IPv4 O(publications[].host_ip) serves IPv4 only, one with an IPv6
    O(publications[].host_ip) IPv6 only. Hairpin (C(pub/NETWORK/hairpin6)) and ingress
    protection (C(pub/NETWORK/ingress6)) cover O(ipv6_subnet) as they cover O(subnet)."
  - IPv6 forwarding (C(net.ipv6.conf.all.forwarding)) is enabled by
    M(linuxnet.container_network.masquerade) for networks with an C(ipv6_subnet).
requirements:
  - Linux with nf_tables, nft_nat, nft_fib, nft_ct
extends_documentation_fragment:
  - linuxnet.container_network.netlink
options:
  network:
    description: Network (owner) name, for example the bridge name; 1 to 32 of C(A-Z a-z 0-9 _ . -).
    type: str
    required: true
  bridge:
    description: The network's bridge. Required when O(state=present).
    type: str
  subnet:
    description: The network's IPv4 subnet, host bits zero; every container address must be in it. Required when O(state=present).
    type: str
  ipv6_subnet:
    description:
      - The network's IPv6 subnet, host bits zero, for example C(fd00:18::/64); every O(publications[].container_ipv6_address) must be in it.
      - Its ingress protection rule is added with it.
    type: str
    version_added: 0.1.0
  publications:
    description: Every publication of the network.
    type: list
    elements: dict
    default: []
    suboptions:
      host_port:
        description: Host port (1-65535) or range C("8000-8010").
        type: raw
        required: true
      container_address:
        description: The container's IPv4 address (in O(subnet)).
        type: str
        required: true
      container_ipv6_address:
        description:
          - The container's IPv6 address (in O(ipv6_subnet)); the publication then serves IPv6 too (see description).
          - Required for a publication with an IPv6 O(publications[].host_ip).
        type: str
        version_added: 0.1.0
      container_port:
        description: Container port or range of the same length; defaults to O(publications[].host_port).
        type: raw
      protocol:
        description: Protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
      host_ip:
        description:
          - Publish only on this local address; default every local address (of both families, see description);
            C(0.0.0.0) every local IPv4 address only.
          - A loopback address (C(127.0.0.1), any of C(127.0.0.0/8)) publishes to the host's own
            connections only, as C(docker run -p 127.0.0.1:5432:5432) does. C(route_localnet) is
            turned on for this network's bridge only (never C(all)) while such a publication
            exists, and the guard rule C(iifname != lo ip daddr 127.0.0.0/8 drop) (chain C(guard),
            before routing) keeps every neighbour that routes C(127.0.0.0/8) at the host away from
            the published port and from every service bound to C(127.0.0.1) (CVE-2020-8558).
          - An IPv6 address of the host (for example C(2001:db8::15)) publishes on it only, for IPv6 only; it needs
            O(publications[].container_ipv6_address).
          - C(::1) is refused, the kernel never routes it off C(lo); use C(127.0.0.1) for the host's own connections.
        type: str
  ingress_protection:
    description: Drop traffic routed straight at container addresses from outside the bridge (see description).
    type: bool
    default: true
  state:
    description: C(absent) removes every rule of the network (and the table when it becomes empty).
    type: str
    choices: [present, absent]
    default: present
notes:
  - Two publications of the same host address, port and protocol (ranges included, also
    across networks) are refused before anything is changed.
  - A C(drop) verdict in any other nftables table or iptables chain still drops traffic
    this module lets through; coexistence with Docker's C(FORWARD DROP) policy is not handled yet.
'''

EXAMPLES = r'''
- name: Publish a web server and a DNS server of network br0
  linuxnet.container_network.port_publish:
    network: br0
    bridge: br0
    subnet: 172.18.0.0/16
    publications:
      - host_port: 8080
        container_address: 172.18.0.10
        container_port: 80
      - host_port: 5353
        container_address: 172.18.0.11
        container_port: 53
        protocol: udp
      - host_port: "9000-9010"
        container_address: 172.18.0.12
        host_ip: 192.0.2.10

- name: Dual stack - port 8443 on every address of both families, 5001 on one IPv6 address
  linuxnet.container_network.port_publish:
    network: br1
    bridge: br1
    subnet: 172.19.0.0/16
    ipv6_subnet: "fd00:19::/64"
    publications:
      - host_port: 8443
        container_address: 172.19.0.10
        container_ipv6_address: "fd00:19::10"
      - host_port: 5001
        container_address: 172.19.0.10
        container_ipv6_address: "fd00:19::10"
        host_ip: "2001:db8::15"

- name: Unpublish everything of br0
  linuxnet.container_network.port_publish:
    network: br0
    state: absent
'''

RETURN = r'''
actions:
  description: The changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: dict
  sample: [{op: add_rule, target: "prerouting: pub/br0/tcp/*/8080/pre",
            rule: "fib daddr type local tcp dport 8080 dnat to 172.18.0.10:80"}]
rules:
  description: The network's rules after the run, one line each.
  returned: success
  type: list
  elements: str
backend:
  description: The NAT backend used.
  returned: success
  type: str
  sample: nftables
'''

from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.resources import PortPublishResource
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nft_socket import (
    HAS_NFT, NFT_IMPORT_ERROR,
)


ARGUMENT_SPEC = dict(
    network=dict(type='str', required=True),
    bridge=dict(type='str'),
    subnet=dict(type='str'),
    ipv6_subnet=dict(type='str'),
    publications=dict(type='list', elements='dict', default=[], options=dict(
        host_port=dict(type='raw', required=True),
        container_address=dict(type='str', required=True),
        container_ipv6_address=dict(type='str'),
        container_port=dict(type='raw'),
        protocol=dict(type='str', choices=['tcp', 'udp'], default='tcp'),
        host_ip=dict(type='str'),
    )),
    ingress_protection=dict(type='bool', default=True),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)


def main():
    runner.run_module(PortPublishResource(), ARGUMENT_SPEC, HAS_NFT, NFT_IMPORT_ERROR,
                      required_if=[('state', 'present', ('bridge', 'subnet'))])


if __name__ == '__main__':
    main()
