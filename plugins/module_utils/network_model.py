# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``network`` module's desired state: a network description, validated whole.

:func:`network_want` checks the description (the role's variables without their prefix)
before anything is read or changed, and derives what the pipeline's stages get
(:mod:`network`): namespaces, veth pairs (an address or ``auto``), bridge ports, the
publications as validated records (each naming its container's host interface; the
address comes from the allocation, :func:`nat_model.with_addresses`).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils import model, nat_model
from ansible_collections.linuxnet.container_network.plugins.module_utils import validate as v
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall import MODES
from ansible_collections.linuxnet.container_network.plugins.module_utils.validate import Path


def network_want(params):
    """The network description -> a dict of what each stage gets; ValidationError if bad.

    ``params``: state, bridge, subnet, gateway, containers (name, address, host_ifname,
    ifname), published_ports (container, host_port, container_port, protocol, host_ip),
    masquerade, ingress_protection, firewall_integration; ``variable_prefix`` is put before
    every name in the messages (the role's ``container_bridge_network_``).
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
                'firewall_integration': firewall}
    subnet = v.subnet(params.get('subnet'), root.subnet, nat=True)
    gateway = v.host_address(params.get('gateway'), subnet, root.gateway,
                             'use an address inside it for the bridge, like %s'
                             % (subnet.network_address + 1))
    containers = params.get('containers') or []
    pairs, ports, bynames = [], [], {}
    for i, c in enumerate(containers):
        at = root.containers[i]
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
        pair = {'name': host_if or model.derive_ifname('veth', bridge, name), 'peer': peer,
                'netns': name, 'addresses': [address], 'gateway': str(gateway), 'mtu': None,
                'mac': None, 'state': None}
        pairs.append(pair)
        ports.append({'name': pair['name'], 'hairpin': True, 'state': None})
        bynames[name] = pair
    at = root.containers
    v.unique((at[i].name, c['name'], c['name']) for i, c in enumerate(containers))
    v.unique((at[i].host_ifname, p['name'], p['name']) for i, p in enumerate(pairs))
    v.unique((at[i].address, c['address'], p['addresses'][0].split('/')[0])
             for i, (c, p) in enumerate(zip(containers, pairs)) if c.get('address'))
    published = params.get('published_ports') or []
    at = root.published_ports
    pubs = []
    for i, p in enumerate(published):
        if p.get('container') not in bynames:
            v.fail(at[i].container, p.get('container'), 'is not in containers',
                   'name one of: %s' % (', '.join(sorted(bynames)) or 'no container is listed'))
        # named by its container's host interface: the veth allocation's key
        pubs.append(nat_model.publication(
            at[i], dict(p, container=bynames[p['container']]['name']), subnet))
    nat_model.check_overlaps(pubs, [at[i] for i in range(len(pubs))])
    return {'state': state, 'bridge': bridge, 'subnet': str(subnet), 'gateway': str(gateway),
            'network': subnet,
            'gateway_cidr': '%s/%d' % (gateway, subnet.prefixlen),
            'netns': [c['name'] for c in containers], 'pairs': pairs, 'ports': ports,
            'containers': bynames, 'published': pubs,
            'masquerade': params.get('masquerade', True) is not False,
            'ingress_protection': params.get('ingress_protection', True) is not False,
            'firewall_integration': firewall}
