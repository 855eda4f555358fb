# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One publication (a published port) validated into its record: host and container
ports, protocol, host address, the IP versions it serves, and its container's
addresses, given or taken from the network's allocation (:func:`with_addresses`).
What rules a record takes is :mod:`model`'s."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils import validate as v
from ansible_collections.linuxnet.container_network.plugins.module_utils.validate import (
    Path, ports_text)

MAX_EXPANDED_PORTS = 1024


def publication(at, p, subnet, subnet6=None):
    """One publication written at path ``at`` -> its record; without container_address
    but naming its ``container`` (the network pipeline), ``addr`` (and ``addr6``) are left
    to :func:`with_addresses`. ``subnet6``: the network's IPv6 subnet, if any."""
    if not isinstance(p, dict):
        v.fail(at, p, 'is not a dict', 'give host_port, container_address and the rest')
    if p.get('host_port') is None:
        v.missing(at.host_port, 'give a port or range like 8080 or 8000-8010')
    host = v.ports(p['host_port'], at.host_port)
    cport = p.get('container_port')
    cont = v.ports(cport, at.container_port) if cport is not None else host
    if cont[1] - cont[0] != host[1] - host[0]:
        v.fail(at.container_port, cport, 'and host_port %s are ranges of different lengths'
               % ports_text(host), 'give both the same number of ports')
    if host != cont and host[0] != host[1] and host[1] - host[0] + 1 > MAX_EXPANDED_PORTS:
        v.fail(at.host_port, p['host_port'], 'is a range mapped to other container ports, '
               'which is limited to %d ports' % MAX_EXPANDED_PORTS,
               'split it, or map it to the same container ports')
    proto = v.one_of(p.get('protocol') or 'tcp', ('tcp', 'udp'), at.protocol)
    host_ip = p.get('host_ip')
    # 0.0.0.0: every IPv4 address only (docker run -p 0.0.0.0:80:80); omitted: both families
    any4 = host_ip is not None and str(host_ip).strip() == '0.0.0.0'
    if host_ip in ('', None) or any4:
        host_ip = None
    else:
        host_ip = v.address(host_ip, at.host_ip)
        if host_ip.version == 6 and host_ip.is_loopback:
            v.fail(at.host_ip, p['host_ip'], 'is the IPv6 loopback address, which the kernel '
                   'never routes off lo (a DNAT of it to a container cannot work)',
                   'use 127.0.0.1 to publish for the host only, or another IPv6 address '
                   'of the host')
        if host_ip.is_unspecified:
            v.fail(at.host_ip, p['host_ip'], 'is the unspecified address',
                   'leave host_ip out to publish on every local address of both families')
    pub = {'host': host, 'cont': cont, 'proto': proto, 'host_ip': host_ip, 'addr': None,
           'addr6': None, 'container': p.get('container'), 'what': str(at), 'any4': any4}
    if p.get('container_address') is None and p.get('container'):
        # the network pipeline: the addresses come from the allocation (an IPv6 one for
        # every container when the network has an IPv6 subnet, none otherwise)
        if subnet6 is None and host_ip is not None and host_ip.version == 6:
            _checked(pub)  # fails now, before any change: no container will have one
        return dict(pub, families=families(host_ip, subnet6 is not None, any4))
    pub = _with_address(pub, p.get('container_address'), subnet)
    if p.get('container_ipv6_address') is not None:
        pub = _with_address6(pub, p['container_ipv6_address'], subnet6)
    return _checked(pub)


def families(host_ip, has6, any4=False):
    """The IP versions a publication serves: its host address's, or (every address) IPv4
    and, when the container has an IPv6 address, IPv6; ``any4`` (written 0.0.0.0): IPv4
    only."""
    if host_ip is not None:
        return (host_ip.version,)
    return (4, 6) if has6 and not any4 else (4,)


def _checked(pub):
    """``pub`` with its ``families``, once its addresses are known; an IPv6 host address
    needs the container's IPv6 address."""
    if pub['host_ip'] is not None and pub['host_ip'].version == 6 and pub['addr6'] is None:
        v.fail(Path(pub['what']).host_ip, str(pub['host_ip']),
               'is an IPv6 address but the container has no IPv6 address to forward it to',
               'set ipv6_subnet and the container\'s container_ipv6_address (network module: '
               'the container\'s ipv6_address), or use an IPv4 host_ip')
    return dict(pub, families=families(pub['host_ip'], pub['addr6'] is not None,
                                       pub.get('any4')))


def _with_address(pub, caddr, subnet):
    at = Path(pub['what']).container_address
    ip = v.host_address(caddr, subnet, at, 'use the address of a container of the network')
    return dict(pub, addr=ip)


def _with_address6(pub, caddr, subnet6):
    at = Path(pub['what']).container_ipv6_address
    if subnet6 is None:
        v.fail(at, caddr, 'is given but the network has no IPv6 subnet',
               'set ipv6_subnet, or leave container_ipv6_address out')
    if hasattr(caddr, 'ip'):  # an ip_interface of the allocation
        caddr = caddr.ip
    ip = v.address(caddr, at)
    if ip.version != 6:
        v.fail(at, caddr, 'is IPv4', 'give the container\'s IPv6 address (in %s)' % subnet6)
    ip = v.host_address(ip, subnet6, at, 'use the IPv6 address of a container of the network')
    return dict(pub, addr6=ip)


def with_addresses(want, addresses, addresses6=None):
    """``want`` with each publication's container addresses taken from ``addresses``
    (``{container: address}``) and ``addresses6`` (``{container: IPv6 address or
    ip_interface}``), the veth allocation, for publications that name their container
    instead of giving its address."""
    addresses6 = addresses6 or {}
    pubs = []
    for p in want['publications']:
        if p['addr'] is None:
            p = _with_address(p, addresses[p['container']], want['subnet'])
            if addresses6.get(p['container']) is not None:
                p = _with_address6(p, addresses6[p['container']], want.get('ipv6_subnet'))
            p = _checked(p)
        pubs.append(p)
    return dict(want, publications=pubs)
