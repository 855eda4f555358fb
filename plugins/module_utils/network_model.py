# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``network`` module's desired state: a network description, validated whole.

:func:`network_want` checks the description (the role's variables without their prefix)
before anything is read or changed, and derives what the pipeline's stages get
(:mod:`network`): namespaces, veth pairs (an address or ``auto``), bridge ports, the
publications (naming their container; the address comes from the allocation).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.linuxnet.container_network.plugins.module_utils import model
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError)


def _net(value, what):
    try:
        return ipaddress.ip_network(u'%s' % value, strict=True)
    except ValueError as e:
        raise ValidationError('%s %r is not a network address with prefix (e.g. '
                              '172.18.0.0/16): %s' % (what, value, e))


def _ip(value, what):
    try:
        return ipaddress.ip_address(u'%s' % value)
    except ValueError:
        raise ValidationError('%s %r is not an IP address' % (what, value))


def network_want(params):
    """The network description -> a dict of what each stage gets; ValidationError if bad.

    ``params``: state, bridge, subnet, gateway, containers (name, address, host_ifname,
    ifname), published_ports (container, host_port, container_port, protocol, host_ip),
    masquerade, ingress_protection, firewall_integration.
    """
    state = params.get('state') or 'present'
    bridge = params['bridge']
    model.ifname(bridge, None, 'bridge name')
    if state == 'absent':  # the network is named by its bridge: nothing else is needed
        return {'state': state, 'bridge': bridge, 'subnet': None, 'gateway': None,
                'gateway_cidr': None, 'netns': [], 'pairs': [], 'ports': [],
                'containers': {}, 'published': [],
                'masquerade': False, 'ingress_protection': False,
                'firewall_integration': params.get('firewall_integration')}
    subnet = _net(params.get('subnet'), 'subnet')
    gateway = _ip(params.get('gateway'), 'gateway')
    if gateway not in subnet or gateway in (subnet.network_address, subnet.broadcast_address):
        raise ValidationError('gateway %s is not a host address of subnet %s' % (gateway, subnet))
    containers = params.get('containers') or []
    for c in containers:
        model.netns_name(c.get('name'), 'containers')
        for key in ('host_ifname', 'ifname'):
            if c.get(key):
                model.ifname(c[key], "container '%s'" % c['name'], key)
    names, ifnames, addrs = set(), {}, {}
    pairs, ports, bynames = [], [], {}
    for c in containers:
        name = c['name']
        if name in names:
            raise ValidationError("container '%s' is listed twice" % name)
        names.add(name)
        host_if = c.get('host_ifname') or model.derive_ifname('veth', bridge, name)
        if host_if in ifnames:
            raise ValidationError("containers '%s' and '%s' both use host interface '%s'"
                                  % (ifnames[host_if], name, host_if))
        ifnames[host_if] = name
        if c.get('address'):
            ip = _ip(c['address'], "address of container '%s'" % name)
            if ip not in subnet or ip in (subnet.network_address, subnet.broadcast_address):
                raise ValidationError("address %s of container '%s' is not a host address of "
                                      "subnet %s" % (ip, name, subnet))
            if ip == gateway:
                raise ValidationError("address %s of container '%s' is the gateway (the "
                                      "bridge's address)" % (ip, name))
            if ip in addrs:
                raise ValidationError("containers '%s' and '%s' both have address %s"
                                      % (addrs[ip], name, ip))
            addrs[ip] = name
            address = '%s/%d' % (ip, subnet.prefixlen)
        else:
            address = 'auto'
        pair = {'name': host_if, 'peer': c.get('ifname') or 'eth0', 'netns': name,
                'addresses': [address], 'gateway': str(gateway), 'mtu': None, 'mac': None,
                'state': None}
        pairs.append(pair)
        ports.append({'name': host_if, 'hairpin': True, 'state': None})
        bynames[name] = pair
    published = []
    keys = set()
    for p in params.get('published_ports') or []:
        if p.get('container') not in bynames:
            raise ValidationError("published port %s names container '%s', which is not "
                                  "in containers" % (p.get('host_port'), p.get('container')))
        key = (p.get('host_ip') or '*', str(p.get('host_port')), p.get('protocol') or 'tcp')
        if key in keys:
            raise ValidationError('host port %s/%s on %s is published twice'
                                  % (key[1], key[2], key[0]))
        keys.add(key)
        published.append(p)
    return {'state': state, 'bridge': bridge, 'subnet': str(subnet), 'gateway': str(gateway),
            'gateway_cidr': '%s/%d' % (gateway, subnet.prefixlen),
            'netns': [c['name'] for c in containers], 'pairs': pairs, 'ports': ports,
            'containers': bynames, 'published': published,
            'masquerade': params.get('masquerade', True) is not False,
            'ingress_protection': params.get('ingress_protection', True) is not False,
            'firewall_integration': params.get('firewall_integration')}


def publications(net):
    """The network's published ports as port_publish publications; each names its
    container's host interface, whose address the veth allocation supplies
    (:func:`nat_model.with_addresses`)."""
    out = []
    for p in net['published']:
        pub = {'host_port': str(p['host_port']), 'protocol': p.get('protocol') or 'tcp',
               'container': net['containers'][p['container']]['name']}
        if p.get('container_port') is not None:
            pub['container_port'] = str(p['container_port'])
        if p.get('host_ip'):
            pub['host_ip'] = p['host_ip']
        out.append(pub)
    return out
