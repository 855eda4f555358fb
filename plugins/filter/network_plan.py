# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters used by the container_bridge_network role (controller side, pure)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The filters' docs: container_network_plan.yml, container_network_publications.yml.

import hashlib
import ipaddress

from ansible.errors import AnsibleFilterError
from ansible_collections.linuxnet.container_network.plugins.module_utils import model
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError,
)

IFNAMSIZ = 16


def _fail(msg):
    raise AnsibleFilterError('container_bridge_network: ' + msg)


def derived_ifname(bridge, name):
    """veth + 11 hex digits of sha1(bridge/name): deterministic, 15 characters."""
    return ('veth' + hashlib.sha1(('%s/%s' % (bridge, name)).encode()).hexdigest())[:IFNAMSIZ - 1]


def _net(value, what):
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as e:
        _fail('%s %r is not a network address with prefix (e.g. 172.18.0.0/16): %s'
              % (what, value, e))


def _ip(value, what):
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        _fail('%s %r is not an IP address' % (what, value))


def container_network_plan(v):
    state = v.get('state', 'present')
    bridge = v['bridge']
    subnet = _net(v['subnet'], 'subnet')
    gateway = _ip(v['gateway'], 'gateway')
    if gateway not in subnet or gateway in (subnet.network_address, subnet.broadcast_address):
        _fail('gateway %s is not a host address of subnet %s' % (gateway, subnet))
    containers = v.get('containers') or []
    if state == 'absent':
        containers = []
    names, ifnames, addrs = set(), {}, {}
    pairs, ports, bynames = [], [], {}
    try:
        model.ifname(bridge, None, 'bridge name')
        for c in containers:
            model.netns_name(c['name'], 'container_bridge_network_containers')
            for key in ('host_ifname', 'ifname'):
                if c.get(key):
                    model.ifname(c[key], "container '%s'" % c['name'], key)
    except ValidationError as e:
        _fail(str(e))
    for c in containers:
        name = c['name']
        if name in names:
            _fail("container '%s' is listed twice" % name)
        names.add(name)
        host_if = c.get('host_ifname') or derived_ifname(bridge, name)
        if host_if in ifnames:
            _fail("containers '%s' and '%s' both use host interface '%s'"
                  % (ifnames[host_if], name, host_if))
        ifnames[host_if] = name
        if c.get('address'):
            ip = _ip(c['address'], "address of container '%s'" % name)
            if ip not in subnet or ip in (subnet.network_address, subnet.broadcast_address):
                _fail("address %s of container '%s' is not a host address of subnet %s"
                      % (ip, name, subnet))
            if ip == gateway:
                _fail("address %s of container '%s' is the gateway (the bridge's address)"
                      % (ip, name))
            if ip in addrs:
                _fail("containers '%s' and '%s' both have address %s" % (addrs[ip], name, ip))
            addrs[ip] = name
            address = '%s/%d' % (ip, subnet.prefixlen)
        else:
            address = 'auto'
        pair = {'name': host_if, 'peer': c.get('ifname') or 'eth0', 'netns': name,
                'addresses': [address], 'gateway': str(gateway)}
        pairs.append(pair)
        ports.append({'name': host_if, 'hairpin': True})
        bynames[name] = pair
    if state == 'present':
        keys = set()
        for p in v.get('published_ports') or []:
            if p['container'] not in bynames:
                _fail("published port %s names container '%s', which is not in "
                      "container_bridge_network_containers" % (p.get('host_port'),
                                                               p['container']))
            key = (p.get('host_ip') or '*', str(p['host_port']), p.get('protocol') or 'tcp')
            if key in keys:
                _fail('host port %s/%s on %s is published twice' % (key[1], key[2], key[0]))
            keys.add(key)
    return {
        'owner': bridge,
        'netns': [c['name'] for c in containers],
        'pairs': pairs,
        'ports': ports,
        'containers': bynames,
        'gateway_cidr': '%s/%d' % (gateway, subnet.prefixlen),
        'subnet': str(subnet),
    }


def container_network_publications(published_ports, allocated, containers):
    """Role published ports -> port_publish publications, with container addresses."""
    out = []
    for p in published_ports or []:
        if p['container'] not in containers:
            continue  # teardown: no containers, nothing to publish
        pair = containers[p['container']]
        pub = {'host_port': str(p['host_port']),
               'container_address': allocated[pair['name']]['address'],
               'protocol': p.get('protocol') or 'tcp'}
        if p.get('container_port') is not None:
            pub['container_port'] = str(p['container_port'])
        if p.get('host_ip'):
            pub['host_ip'] = p['host_ip']
        out.append(pub)
    return out


class FilterModule(object):
    def filters(self):
        return {
            'container_network_plan': container_network_plan,
            'container_network_publications': container_network_publications,
        }
