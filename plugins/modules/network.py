#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: network
short_description: A whole container bridge network in one call (bridge, namespaces, veths, NAT)
version_added: 0.1.0
description:
  - Builds, converges or tears down the seed article's network for a list of containers,
    as the role C(linuxnet.container_network.container_bridge_network) does - a bridge with
    the gateway address, one network namespace per container joined to it by a veth pair
    (address, default route, hairpin on the host end), masquerade of the subnet and
    published ports (DNAT from outside, from the host and between containers).
  - It runs the modules M(linuxnet.container_network.bridge) (with C(refuse_overlap)),
    M(linuxnet.container_network.netns), M(linuxnet.container_network.veth_pair),
    M(linuxnet.container_network.bridge_port), M(linuxnet.container_network.masquerade) and
    M(linuxnet.container_network.port_publish) as stages of one process, in that order,
    with exactly their behaviour, so a host costs one module start-up and each namespace is
    read once, whatever the number of containers. Namespaces no longer listed are removed
    after their veth pairs; a teardown removes the pairs, then the bridge, then the
    namespaces, so check mode predicts the kernel's asynchronous namespace cleanup exactly.
  - The network owns what it creates, identified by O(bridge) - namespaces, veth pairs and
    rules of containers or ports no longer listed are removed; other networks and
    anything untagged are never touched.
  - Every parameter is validated before anything is read or changed. When a stage fails,
    the namespaces and links created by earlier stages of the same call are removed.
extends_documentation_fragment:
  - linuxnet.container_network.netlink
  - linuxnet.container_network.fleet
options:
  bridge:
    description: Bridge name (1 to 15 characters); also names the network, the owner of all it creates.
    type: str
    required: true
  subnet:
    description:
      - IPv4 container subnet, host bits zero (e.g. C(172.18.0.0/16)); must not overlap a route of the host.
      - Required when O(state=present); O(state=absent) needs only O(bridge).
    type: str
  gateway:
    description:
      - Address of the bridge, the containers' default gateway; a host address of O(subnet).
      - Required when O(state=present).
    type: str
  ipv6_subnet:
    description:
      - IPv6 container subnet (e.g. C(fd00:18::/64)), host bits zero, at most a C(/126) with
        room for the gateway and every container. The network is then dual stack - the
        bridge gets O(ipv6_gateway), every container an IPv6 address and an IPv6 default
        route, every publication serves both families, IPv6 forwarding is turned on.
      - IPv6 addresses skip duplicate address detection (usable by the first packet).
      - Turning IPv6 forwarding on would make the host ignore router advertisements - an
        interface with C(accept_ra=1) that holds a route learned from them gets
        C(accept_ra=2) first. Both are kept in
        C(/etc/sysctl.d/90-linuxnet-container-network-ipv6.conf) with the values found before,
        which are put back when the last network with IPv6 goes.
      - Omitted - IPv4 only, exactly as without it.
    type: str
  ipv6_gateway:
    description: IPv6 address of the bridge in O(ipv6_subnet); its first host address when omitted.
    type: str
  ipv6_masquerade:
    description:
      - Source NAT (NAT66) of traffic from O(ipv6_subnet) leaving through another interface,
        as Docker does. C(false) routes the containers' own addresses (the upstream must
        route O(ipv6_subnet) back to the host).
    type: bool
    default: true
  containers:
    description: One network namespace per container.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Container (network namespace) name.
        type: str
        required: true
      address:
        description: Address in O(subnet); allocated when omitted (derived from the name, kept across runs).
        type: str
      ipv6_address:
        description: Address in O(ipv6_subnet); allocated when omitted and O(ipv6_subnet) is set.
        type: str
      host_ifname:
        description: Host end of the veth pair; derived from O(bridge) and the name when omitted.
        type: str
      ifname:
        description: Interface name inside the container.
        type: str
        default: eth0
  published_ports:
    description: Ports published on the host and forwarded (DNAT) to a container.
    type: list
    elements: dict
    default: []
    suboptions:
      container:
        description: Name of a container in O(containers).
        type: str
        required: true
      host_port:
        description: Port (e.g. C(5000)) or range (e.g. C(8000-8010)) on the host.
        type: raw
        required: true
      container_port:
        description: Port or range in the container; defaults to O(published_ports[].host_port).
        type: raw
      protocol:
        description: Protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
      host_ip:
        description:
          - Publish on this local address only; every local address (of both families, with
            O(ipv6_subnet)) when omitted; C(0.0.0.0) every IPv4 address only. An IPv6 address publishes on IPv6 only and needs
            O(ipv6_subnet).
          - C(127.0.0.1) (any of C(127.0.0.0/8)) publishes to the host's own connections only,
            with C(route_localnet) on this network's bridge only and a guard rule against
            neighbours routing C(127.0.0.0/8) at the host (CVE-2020-8558); see
            M(linuxnet.container_network.port_publish). C(::1) is refused - the kernel does
            not route C(::1) off C(lo).
        type: str
  masquerade:
    description: Source NAT of traffic from O(subnet) leaving through another interface (and IPv4 forwarding).
    type: bool
    default: true
  ingress_protection:
    description: Drop traffic from outside routed straight at container addresses (only published ports get in).
    type: bool
    default: true
  firewall_integration:
    description:
      - How the network gets through a firewall that is already in charge of the host. A
        C(drop) or C(reject) in any nftables table or iptables chain drops what this
        collection's own table accepts.
      - C(auto) detects it on every run and does the least that lets the network's own
        traffic through, each through that firewall's own interface. B(firewalld) running -
        the bridge goes into zone C(linuxnet) (target ACCEPT) and the policy
        C(linuxnet-forward) (from ANY zone to it, target ACCEPT; firewalld >= 0.9), runtime
        and permanent, so C(firewall-cmd --reload) and a restart keep them; creating or
        deleting the zone reloads firewalld once, as Docker does for its C(docker) zone; the
        zone and policy go with the last network in them. Published ports do not depend on
        firewalld's C(ct status dnat accept) rule, so C(StrictForwardPorts=yes) does not
        break them. B(iptables) (C(iptables-nft) and C(iptables-legacy) - Docker, ufw, a
        FORWARD or INPUT policy of DROP) - accept rules for traffic from the bridge and for
        replies and published ports to it, in C(DOCKER-USER) when it exists, else at the
        top of C(FORWARD) (and C(-i BRIDGE -j ACCEPT) at the top of C(INPUT) when INPUT
        drops), each with the comment C(linuxnet:BRIDGE/in|out|input); a rerun restores
        them after C(iptables -F), C(ufw reload) or a restart of Docker. With O(ipv6_subnet)
        the same rules go into C(ip6tables) (Docker's and ufw's IPv6 side); firewalld's zone
        and policy carry IPv6 as they are. B(Any other) base
        chain on the forward or input hook whose policy or last rule drops or rejects is
        never changed (C(ip6) tables count for a network with IPv6) - a warning names its
        table, chain and hook and the rules to add, and
        the C(reachable) key of RV(firewall) is false.
      - Our own table still decides ingress protection and isolation, whatever the other
        firewall accepts; no foreign chain's policy is changed, no foreign rule is flushed
        or moved.
      - C(none) touches nothing outside our table (what an earlier C(auto) run added is
        removed) but warns all the same. O(state=absent) removes what the network added.
    type: str
    choices: [auto, none]
    default: auto
  persistent:
    description:
      - Rebuild the network at boot, before C(network-online.target), with no Ansible run -
        namespaces, links, addresses, routes, sysctls, nftables rules and the firewall
        integration. The first run after a reboot then reports no change.
      - Installs, owned by this network alone, C(/var/lib/linuxnet/networks/BRIDGE/)
        (C(network.json) - this call's network parameters; C(lib/) - a copy of this
        collection's C(module_utils), the same planning and apply code this module runs;
        C(boot.py)) and the unit C(/etc/systemd/system/linuxnet-network@BRIDGE.service),
        enabled for C(multi-user.target) and C(network-online.target), run by this
        module's Python interpreter, after firewalld, nftables, netfilter-persistent and
        ufw. Where C(docker.service) is installed, also the drop-in
        C(/etc/systemd/system/docker.service.d/linuxnet-network@BRIDGE.conf) that runs the
        restore again after Docker started (it re-creates its C(FORWARD) DROP at every
        start). A service that runs in one of the namespaces (for
        example with C(NetworkNamespacePath=/run/netns/NAME)) orders itself with
        C(Requires=) and C(After=linuxnet-network@BRIDGE.service).
      - At boot, a failure fails the unit with the message this module would give (see
        C(journalctl -u linuxnet-network@BRIDGE.service)).
      - C(false), or O(state=absent), removes all of it (the network's kernel state is
        not affected by C(false)).
    type: bool
    default: false
  state:
    description: C(absent) tears the whole network down.
    type: str
    choices: [present, absent]
    default: present
  variable_prefix:
    description:
      - Prefix of the names in error messages (C(containers[2].address) becomes
        C(PREFIXcontainers[2].address)); the role passes C(container_bridge_network_).
    type: str
    default: ''
'''

EXAMPLES = r'''
- name: The seed's network, one published port
  linuxnet.container_network.network:
    bridge: br0
    subnet: 172.18.0.0/16
    gateway: 172.18.0.1
    containers:
      - {name: netns0, address: 172.18.0.10, host_ifname: veth0, ifname: ceth0}
      - {name: netns1}
    published_ports:
      - {container: netns0, host_port: 5000}

- name: Dual stack - IPv6 next to IPv4, NAT66, ports published on both families
  linuxnet.container_network.network:
    bridge: br0
    subnet: 172.18.0.0/16
    gateway: 172.18.0.1
    ipv6_subnet: fd00:18::/64
    containers:
      - {name: netns0, address: 172.18.0.10, ipv6_address: "fd00:18::10"}
    published_ports:
      - {container: netns0, host_port: 5000}

- name: Tear it down
  linuxnet.container_network.network:
    bridge: br0
    subnet: 172.18.0.0/16
    gateway: 172.18.0.1
    state: absent
'''

RETURN = r'''
actions:
  description:
    - The changes made (or, in check mode, that would be made), in order.
    - C(stage) names the module whose step made it; C(netns_unlisted) is the removal of
      the network's namespaces no longer listed, after their veth pairs.
  returned: always
  type: list
  elements: dict
  sample: [{op: bridge_create, target: br0, stage: bridge}, {op: netns_create, target: netns0, stage: netns}]
pairs:
  description: Each container's veth pair by host end, with the container's address.
  returned: success
  type: dict
  sample: {veth0: {peer: ceth0, netns: netns0, address: 172.18.0.10, address6: null,
                   addresses: [172.18.0.10/16]}}
namespaces:
  description: The containers' namespaces.
  returned: success
  type: list
  elements: str
rules:
  description: The network's nftables rules after the run, one line each.
  returned: success
  type: list
  elements: str
backend:
  description: The NAT backend used.
  returned: success
  type: str
  sample: nftables
firewall:
  description:
    - What is in charge of the host's firewall, as found before the run's changes.
    - C(firewalld) - C(running), C(version), C(zone), C(policy), C(strict_forward_ports).
    - C(iptables) - one entry per variant and family in use (C(nft), C(legacy); C(family)
      C(ipv4), or C(ipv6) when the network has O(ipv6_subnet)) - C(forward) and
      C(input) say why that chain would drop the network's traffic (or null), C(docker),
      C(ufw), and C(rules), the accept rules the integration keeps there.
    - C(docker) - Docker's iptables chains seen, and Docker's own nftables tables
      (Docker >= 29).
    - C(unhandled) - base chains of other tables that may drop the network's traffic,
      with the rules to add (C(suggested)).
    - C(reachable) - false when something may still drop the network's traffic.
  returned: success
  type: dict
  sample:
    integration: auto
    firewalld: {running: true, version: 1.3.3, zone: linuxnet, policy: linuxnet-forward,
                strict_forward_ports: false}
    iptables: []
    docker: {iptables: false, nftables: []}
    ufw: false
    unhandled: []
    reachable: true
fleet:
  description:
    - The fleet part (null without O(fleet)) - backend, this host, its underlay address, the
      VXLAN device and id, the containers' MTU it needs (vxlan), the routes to the peers and
      the peers.
  returned: success
  type: dict
  sample:
    backend: vxlan
    host: host1
    underlay_address: 198.51.100.11
    device: lnvx42
    vxlan_id: 42
    mtu: 1450
    routes: [172.18.2.0/24 via 172.18.2.0 dev lnvx42 onlink]
    peers: [{host: host2, subnet: 172.18.2.0/24, underlay_address: 192.0.2.12}]
persistence:
  description:
    - Whether the network is rebuilt at boot (O(persistent)), by which unit, from which directory.
  returned: success
  type: dict
  sample: {enabled: true, unit: linuxnet-network@br0.service, state_dir: /var/lib/linuxnet/networks/br0}
'''

from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import options
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.pipeline import NetworkResource
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nft_socket import (
    HAS_NFT, NFT_IMPORT_ERROR,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import (
    HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR,
)


# the options and their specs: module_utils/options.py (one place for every option)
ARGUMENT_SPEC = options.network_spec()


def main():
    runner.run_module(NetworkResource(), ARGUMENT_SPEC, HAS_PYROUTE2 and HAS_NFT,
                      PYROUTE2_IMPORT_ERROR or NFT_IMPORT_ERROR,
                      required_if=[('state', 'present', ('subnet', 'gateway'))])


if __name__ == '__main__':
    main()
