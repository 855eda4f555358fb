#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: network_info
short_description: What the container networks of this collection are on a host now, and their drift
version_added: 0.1.0
description:
  - Reads, and never changes, the networks this collection owns on the host, from the
    kernel's own state - the bridge with its addresses, each container's namespace, veth
    pair, addresses, default routes, MTU, MAC and link state, the published ports and
    whether their rules are there, masquerade, ingress protection, persistence - and
    returns them as structured data (RV(networks)).
  - Ownership is read as the collection marks it - veth host ends and the namespaces' C(lo)
    carry the alias C(linuxnet:BRIDGE), NAT rules in table C(inet linuxnet) their rule ids
    (C(masq/BRIDGE), C(pub/BRIDGE/...)), a persistent network has
    C(/var/lib/linuxnet/networks/BRIDGE/network.json). Anything else is not listed (see
    O(foreign)).
  - B(Drift) - given a network description (the options of
    M(linuxnet.container_network.network), the role's variables without their prefix) with
    O(bridge), RV(drift) says what a run of M(linuxnet.container_network.network) with it
    would change, as the C(actions) that module would take - its own pipeline run in check
    mode, never applied. Without a description, a persistent network's C(network.json) (the
    parameters of the last run that installed it) is its description, so a network built by
    the role with its defaults always gets RV(drift).
  - One module call, in-process over netlink (no C(ip) or C(nft) commands) - each namespace
    is read once, also by the drift run.
author: linuxnet.container_network developers (@linuxnet)
requirements:
  - pyroute2 >= 0.7.2 for the target's Python (>= 3.9)
attributes:
  check_mode:
    support: full
    description: The module reads only; check mode gives the same result.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
  platform:
    platforms: linux
    support: full
    description: Linux kernel networking over netlink, in-process.
notes:
  - RV(drift) runs the firewall stage of M(linuxnet.container_network.network) too, which
    reads the firewall in charge through its own tools (C(iptables -S), C(firewall-cmd)),
    read-only.
extends_documentation_fragment:
  - linuxnet.container_network.fleet
options:
  bridge:
    description:
      - The network (named by its bridge) to report; every network of this collection when omitted.
      - Required with a network description.
    type: str
  foreign:
    description:
      - Also list the named network namespaces and the bridges on the host that no network
        of this collection owns (RV(foreign)), whatever O(bridge) says.
    type: bool
    default: false
  subnet:
    description: As in M(linuxnet.container_network.network); giving it (or O(state)) makes the options below a network description for RV(drift).
    type: str
  gateway:
    description: As in M(linuxnet.container_network.network).
    type: str
  ipv6_subnet:
    description: As in M(linuxnet.container_network.network).
    type: str
  ipv6_gateway:
    description: As in M(linuxnet.container_network.network).
    type: str
  ipv6_masquerade:
    description: As in M(linuxnet.container_network.network) (default C(true) in a description).
    type: bool
  containers:
    description: As in M(linuxnet.container_network.network).
    type: list
    elements: dict
    suboptions:
      name:
        description: Container (network namespace) name.
        type: str
        required: true
      address:
        description: Address in O(subnet).
        type: str
      ipv6_address:
        description: Address in O(ipv6_subnet).
        type: str
      host_ifname:
        description: Host end of the veth pair.
        type: str
      ifname:
        description: Interface name inside the container.
        type: str
        default: eth0
  published_ports:
    description: As in M(linuxnet.container_network.network).
    type: list
    elements: dict
    suboptions:
      container:
        description: Name of a container in O(containers).
        type: str
        required: true
      host_port:
        description: Port or range on the host.
        type: raw
        required: true
      container_port:
        description: Port or range in the container.
        type: raw
      protocol:
        description: Protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
      host_ip:
        description: Publish on this local address only.
        type: str
  masquerade:
    description: As in M(linuxnet.container_network.network) (default C(true) in a description).
    type: bool
  ingress_protection:
    description: As in M(linuxnet.container_network.network) (default C(true) in a description).
    type: bool
  firewall_integration:
    description: As in M(linuxnet.container_network.network) (default C(auto) in a description).
    type: str
    choices: [auto, none]
  persistent:
    description:
      - As in M(linuxnet.container_network.network). Omitted - the network's persistence
        is not compared (C(network.json) of a persistent network is compared with it when
        no description is given).
    type: bool
  state:
    description:
      - As in M(linuxnet.container_network.network) (default C(present) in a description);
        C(absent) with O(bridge) alone gives the actions of a teardown.
    type: str
    choices: [present, absent]
  variable_prefix:
    description: As in M(linuxnet.container_network.network) (names in the messages of a bad description).
    type: str
seealso:
  - module: linuxnet.container_network.network
'''

EXAMPLES = r'''
- name: Every network of this collection on the host
  linuxnet.container_network.network_info:
  register: info

- name: One network, and the namespaces and bridges that are not ours
  linuxnet.container_network.network_info:
    bridge: br0
    foreign: true

- name: Would the role's network change? (its variables, without their prefix)
  linuxnet.container_network.network_info:
    bridge: br0
    subnet: 172.18.0.0/16
    gateway: 172.18.0.1
    containers:
      - {name: netns0, address: 172.18.0.10, host_ifname: veth0, ifname: ceth0}
    published_ports:
      - {container: netns0, host_port: 5000}
    persistent: true
  register: info

- name: Fail when it has drifted
  ansible.builtin.assert:
    that: not info.drift.br0.changed
    fail_msg: "{{ info.drift.br0.actions }}"
'''

RETURN = r'''
networks:
  description:
    - The networks of this collection on the host, by name (their bridge's name); only
      O(bridge) when it is given. A network is listed when anything of it is found (a
      tagged veth or namespace, a rule, a C(network.json)).
    - C(bridge) - C(name), C(present) (a bridge of that name exists), C(up), C(mtu), C(mac),
      C(addresses) (IPv4 first).
    - C(subnet), C(gateway), C(ipv6_subnet), C(ipv6_gateway) - from the bridge's first address
      of each family (null without one).
    - C(containers) - sorted by name, one per namespace of the network and per veth host end of
      it (a pair whose namespace is not found has C(name) null, C(namespace) false) -
      C(host_ifname), C(ifname) (the end in the namespace), C(addresses) (global ones, as
      C(address/prefix)), C(address) and C(ipv6_address) (the first of each family, without
      prefix), the namespace end's C(mac) and C(mtu), C(up) (both ends up), C(attached) (the
      host end is a port of the network's bridge), C(hairpin) (its hairpin flag), C(routes)
      (the namespace's default routes - C(family), C(dst) C(default), C(gateway), null for a
      route without one).
    - C(published_ports) - one per publication and IP version, from the network's DNAT rules -
      C(protocol), C(family) (C(ipv4) or C(ipv6)), C(host_ip) (null for every local address),
      C(host_port), C(container) (the container holding C(container_address)),
      C(container_address), C(container_port) (ports as text, C(5000) or C(8000-8010)),
      C(rules) (the ids of the rules of it that are there - C(.../pre) from outside,
      C(.../out) from the host).
    - C(masquerade), C(ingress_protection) - C(ipv4) and C(ipv6), whether that rule is there.
    - C(localhost_guard) - whether the guard rule of a publication on C(127.0.0.1) is there.
    - C(persistent) - C(enabled) (its C(network.json) exists), C(unit).
    - C(fleet_routes) - the routes to the fleet's other hosts (module network's O(fleet)) -
      dst, gateway, dev, backend (host-gw or vxlan), underlay (the peer's address).
    - C(rules) - the network's nftables rules, one line each - the rule text as this
      collection renders C(nft list)'s, two spaces, C(#), a space and the rule id - in chain
      order (prerouting, output, postrouting, forward, guard), then by rule id.
  returned: success
  type: dict
  sample:
    br0:
      bridge: {name: br0, present: true, up: true, mtu: 1500, mac: "1a:a6:15:a8:75:72",
               addresses: [172.18.0.1/16, "fd00:18::1/64"]}
      subnet: 172.18.0.0/16
      gateway: 172.18.0.1
      ipv6_subnet: "fd00:18::/64"
      ipv6_gateway: "fd00:18::1"
      containers:
        - {name: netns0, namespace: true, host_ifname: veth0, ifname: ceth0,
           addresses: [172.18.0.10/16, "fd00:18::10/64"], address: 172.18.0.10,
           ipv6_address: "fd00:18::10", mac: "b2:fb:7c:0c:41:de", mtu: 1500, up: true,
           attached: true, hairpin: true,
           routes: [{family: ipv4, dst: default, gateway: 172.18.0.1},
                    {family: ipv6, dst: default, gateway: "fd00:18::1"}]}
      published_ports:
        - {protocol: tcp, family: ipv4, host_ip: null, host_port: "5000", container: netns0,
           container_address: 172.18.0.10, container_port: "5000",
           rules: [pub/br0/tcp/*/5000/pre, pub/br0/tcp/*/5000/out]}
      masquerade: {ipv4: true, ipv6: true}
      ingress_protection: {ipv4: true, ipv6: true}
      localhost_guard: false
      persistent: {enabled: true, unit: linuxnet-network@br0.service}
      fleet_routes: [{dst: 172.18.2.0/24, gateway: 198.51.100.12, dev: eth0, backend: host-gw,
                      underlay: 198.51.100.12}]
      rules: ['ip saddr 172.18.0.0/16 oifname != "br0" masquerade  # masq/br0']
host:
  description: The host's forwarding sysctls as read (C(ip_forward), C(ipv6_forwarding) of C(all)).
  returned: success
  type: dict
  sample: {ip_forward: "1", ipv6_forwarding: "1"}
foreign:
  description:
    - Names of the named network namespaces (C(/run/netns)) and of the bridges that no
      network of this collection owns.
  returned: when O(foreign) is true
  type: dict
  sample: {namespaces: [app1], bridges: [docker0]}
drift:
  description:
    - By network - what a run of M(linuxnet.container_network.network) would do, for the
      network described by the options (with O(bridge)) and for each persistent network
      (its C(network.json)) listed.
    - C(changed) - whether it would change anything (null when it would fail);
      C(actions) - exactly the actions it would take (C(op), C(target), C(stage), ...), in
      order; C(error) - why that run would fail, when it would; C(warnings) - its warnings.
  returned: when a description is given or a listed network is persistent
  type: dict
  sample:
    br0:
      changed: true
      actions: [{op: veth_create, target: veth0, peer: ceth0, netns: netns0, stage: veth_pair}]
actions:
  description: Always empty - this module changes nothing.
  returned: always
  type: list
  elements: dict
  sample: []
'''

from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import options
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.info import InfoResource
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nft_socket import (
    HAS_NFT, NFT_IMPORT_ERROR,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import (
    HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR,
)


# The description options are module network's, without their defaults: given, they
# describe a network (options.DEFAULTS fills the rest as module network does).
ARGUMENT_SPEC = options.info_spec()


def main():
    runner.run_module(InfoResource(), ARGUMENT_SPEC, HAS_PYROUTE2 and HAS_NFT,
                      PYROUTE2_IMPORT_ERROR or NFT_IMPORT_ERROR)


if __name__ == '__main__':
    main()
