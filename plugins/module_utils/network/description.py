# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``network`` module's desired state: a network description, validated whole.

:func:`network_want` checks the description (the role's variables without their prefix)
before anything is read or changed, and derives what the pipeline's stages get
(:mod:`network`): namespaces, veth pairs (an address or ``auto``), bridge ports, the
publications as validated records (each naming its container's host interface; the
address comes from the allocation, :func:`publications.with_addresses`).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import model
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import model as nat_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import publications
from ansible_collections.linuxnet.container_network.plugins.module_utils import validate as v
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall.resource import MODES
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.fleet_model import fleet_want
from ansible_collections.linuxnet.container_network.plugins.module_utils.validate import Path


def network_want(params):
    """The network description -> a dict of what each stage gets; ValidationError if bad.

    ``params``: state, bridge, subnet, gateway, ipv6_subnet, ipv6_gateway, containers
    (name, address, ipv6_address, host_ifname, ifname), published_ports (container,
    host_port, container_port, protocol, host_ip), masquerade, ipv6_masquerade,
    ingress_protection, firewall_integration; ``variable_prefix`` is put before every name
    in the messages (the role's ``container_bridge_network_``).
    """
    root = Path(prefix=params.get('variable_prefix') or '')
    state = params.get('state') or 'present'
    bridge = v.ifname(params.get('bridge'), root.bridge)
    v.name(bridge, root.bridge)  # it also names the network's NAT rules
    firewall = params.get('firewall_integration')
    if firewall is not None:
        v.one_of(firewall, MODES, root.firewall_integration)
    if state == 'absent':  # the network is named by its bridge: nothing else is needed
        return {'state': state, 'bridge': bridge, 'subnet': None, 'gateway': None,
                'network': None, 'gateway_cidr': None, 'netns': [], 'pairs': [], 'ports': [],
                'containers': {}, 'published': [],
                'masquerade': False, 'ingress_protection': False,
                'firewall_integration': firewall, 'ipv6_subnet': None, 'ipv6_gateway': None,
                'ipv6_gateway_cidr': None, 'ipv6_masquerade': False,
                'fleet': fleet_want(None, bridge, None)}
    subnet = v.subnet(params.get('subnet'), root.subnet, nat=True)
    gateway = v.host_address(params.get('gateway'), subnet, root.gateway,
                             'use an address inside it for the bridge, like %s'
                             % (subnet.network_address + 1))
    containers = params.get('containers') or []
    subnet6, gateway6 = _ipv6(params, root, len(containers))
    pairs = [_pair(c, root.containers[i], bridge, subnet, gateway, subnet6, gateway6)
             for i, c in enumerate(containers)]
    ports = [{'name': pair['name'], 'hairpin': True, 'state': None} for pair in pairs]
    bynames = dict((pair['netns'], pair) for pair in pairs)
    _unique(root.containers, containers, pairs)
    pubs = _publications(params.get('published_ports') or [], root.published_ports, bynames,
                         subnet, subnet6)
    fleet = fleet_want(params.get('fleet'), bridge, subnet, params.get('variable_prefix') or '')
    return {'state': state, 'bridge': bridge, 'subnet': str(subnet), 'gateway': str(gateway),
            'fleet': fleet,
            'network': subnet,
            'gateway_cidr': '%s/%d' % (gateway, subnet.prefixlen),
            'netns': [c['name'] for c in containers], 'pairs': pairs, 'ports': ports,
            'containers': bynames, 'published': pubs,
            'masquerade': params.get('masquerade', True) is not False,
            'ingress_protection': params.get('ingress_protection', True) is not False,
            'firewall_integration': firewall,
            'ipv6_subnet': subnet6, 'ipv6_gateway': gateway6,
            'ipv6_gateway_cidr': '%s/%d' % (gateway6, subnet6.prefixlen) if subnet6 else None,
            'ipv6_masquerade': bool(subnet6) and params.get('ipv6_masquerade', True) is not False}


def _pair(c, at, bridge, subnet, gateway, subnet6, gateway6):
    """One container (written at ``at``) -> its veth pair's input to veth_pair."""
    name = v.netns_name(c.get('name'), at.name)
    host_if = c.get('host_ifname')
    if host_if:
        v.ifname(host_if, at.host_ifname)
        if host_if == bridge:
            v.fail(at.host_ifname, host_if, 'is the bridge', 'use another name or leave '
                   'it out to have one derived')
    peer = v.ifname(c.get('ifname') or 'eth0', at.ifname)
    address = 'auto'
    if c.get('address'):
        ip = v.host_address(c['address'], subnet, at.address,
                            'use an address inside it or leave it out to have one '
                            'allocated')
        if ip == gateway:
            v.fail(at.address, c['address'], "is the gateway (the bridge's address)",
                   'use another address or leave it out to have one allocated')
        address = '%s/%d' % (ip, subnet.prefixlen)
    addresses = [address] + _ipv6_address(c, at, subnet6, gateway6, address == 'auto')
    return {'name': host_if or model.derive_ifname('veth', bridge, name), 'peer': peer,
            'netns': name, 'addresses': addresses, 'gateway': str(gateway),
            'ipv6_gateway': str(gateway6) if gateway6 else None, 'mtu': None,
            'mac': None, 'state': None}


def _unique(at, containers, pairs):
    """Names, host interfaces and given addresses: each once."""
    v.unique((at[i].name, c['name'], c['name']) for i, c in enumerate(containers))
    v.unique((at[i].host_ifname, p['name'], p['name']) for i, p in enumerate(pairs))
    v.unique((at[i].address, c['address'], p['addresses'][0].split('/')[0])
             for i, (c, p) in enumerate(zip(containers, pairs)) if c.get('address'))
    v.unique((at[i].ipv6_address, c['ipv6_address'], p['addresses'][-1].split('/')[0])
             for i, (c, p) in enumerate(zip(containers, pairs)) if c.get('ipv6_address'))


def _publications(published, at, bynames, subnet, subnet6):
    """The published ports, each naming a listed container, none overlapping another."""
    pubs = []
    for i, p in enumerate(published):
        if p.get('container') not in bynames:
            v.fail(at[i].container, p.get('container'), 'is not in containers',
                   'name one of: %s' % (', '.join(sorted(bynames)) or 'no container is listed'))
        # named by its container's host interface: the veth allocation's key
        pubs.append(publications.publication(
            at[i], dict(p, container=bynames[p['container']]['name']), subnet, subnet6))
    nat_model.check_overlaps(pubs, [at[i] for i in range(len(pubs))])
    return pubs


# an IPv6 subnet smaller than this cannot hold a gateway and containers (RFC 6164 /127s are
# router links)
IPV6_MAX_PREFIXLEN = 126


def _ipv6(params, root, count):
    """(ipv6_subnet, ipv6_gateway) or (None, None): the network's IPv6 side."""
    raw, raw_gw = params.get('ipv6_subnet'), params.get('ipv6_gateway')
    if not raw:
        if raw_gw:
            v.fail(root.ipv6_gateway, raw_gw, 'is given without ipv6_subnet',
                   'set %s too, or drop it' % root.ipv6_subnet)
        for i, c in enumerate(params.get('containers') or []):
            if c.get('ipv6_address'):
                v.fail(root.containers[i].ipv6_address, c['ipv6_address'], 'is given but the '
                       'network has no ipv6_subnet', 'set %s (e.g. fd00:18::/64) or drop it'
                       % root.ipv6_subnet)
        return None, None
    net = v.subnet(raw, root.ipv6_subnet)
    if net.version != 6:
        v.fail(root.ipv6_subnet, raw, 'is not an IPv6 subnet', 'give one like fd00:18::/64 '
               '(the IPv4 subnet goes in %s)' % root.subnet)
    if net.prefixlen > IPV6_MAX_PREFIXLEN or net.num_addresses - 2 < count + 1:
        v.fail(root.ipv6_subnet, raw, 'is too small for the gateway and %d container(s)'
               % count, 'use a larger prefix, like a /64')
    if raw_gw:
        gw = _ipv6_host(raw_gw, net, root.ipv6_gateway, 'use an address inside it for the '
                        'bridge, like %s' % (net.network_address + 1))
    else:
        gw = net.network_address + 1
    return net, gw


def _ipv6_host(value, net, path, fix):
    ip = v.address(value, path)
    if ip.version != 6:
        v.fail(path, value, 'is not an IPv6 address', fix)
    if ip == net.network_address:
        v.fail(path, value, 'is the subnet-router anycast address of %s' % net, fix)
    return v.host_address(value, net, path, fix)


def _ipv6_address(c, at, subnet6, gateway6, v4_auto):
    """A container's IPv6 address entry for veth_pair: its CIDR, 'auto' (allocated from
    ipv6_subnet; one 'auto' covers both families), or nothing without IPv6."""
    if subnet6 is None:
        return []
    if not c.get('ipv6_address'):
        return [] if v4_auto else ['auto']
    ip = _ipv6_host(c['ipv6_address'], subnet6, at.ipv6_address,
                    'use an address inside %s or leave it out to have one allocated' % subnet6)
    if ip == gateway6:
        v.fail(at.ipv6_address, c['ipv6_address'], "is the IPv6 gateway (the bridge's "
               'address)', 'use another address or leave it out to have one allocated')
    return ['%s/%d' % (ip, subnet6.prefixlen)]
