# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet's desired state (:mod:`fleet` is the stage): the description's ``fleet``
validated, this host and its peers, the names derived from them (the VXLAN device, the
routes' realm, the VTEP MACs), and what the NAT and firewall stages need of it."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import zlib

from ansible_collections.linuxnet.container_network.plugins.module_utils import validate as v
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import ValidationError

BACKENDS = ('host-gw', 'vxlan')
VXLAN_OVERHEAD = 50       # outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14)
MAX_VNI = (1 << 24) - 1


def device_name(vni):
    return 'lnvx%d' % vni


def realm(bridge):
    """The routes' realm of network ``bridge`` (1..65535)."""
    return (zlib.crc32(bridge.encode('utf-8')) & 0xffff) or 1


def vtep_mac(subnet):
    """The VXLAN device MAC of the host owning ``subnet``: known to every peer."""
    return '02:4c:' + ':'.join('%02x' % b for b in subnet.network_address.packed)


# ------------------------------------------------------------------ want
def fleet_want(fleet, bridge, subnet, prefix=''):
    """The ``fleet`` option -> the desired record, or one with no backend (no fleet: what
    there is goes). ValidationError naming the hosts concerned."""
    base = {'bridge': bridge, 'backend': None, 'realm': realm(bridge), 'self': None,
            'peers': [], 'vni': None, 'device': None,
            'at_boot': bool(fleet and fleet.get('at_boot'))}
    if not fleet:
        return base
    at = v.Path(prefix=prefix).fleet
    backend = v.one_of(fleet.get('backend') or 'host-gw', BACKENDS, at.backend)
    host = fleet.get('host')
    if not host:
        v.missing(at.host, "give this host's inventory name")
    vni = None
    if backend == 'vxlan':
        vni = fleet.get('vxlan_id')
        if not isinstance(vni, int) or isinstance(vni, bool) or not 1 <= vni <= MAX_VNI:
            v.fail(at.vxlan_id, vni, 'is not a VXLAN id', 'give a number from 1 to %d' % MAX_VNI)
    members = []
    for i, m in enumerate(fleet.get('members') or []):
        name = m.get('host')
        if not name:
            v.missing(at.members[i].host, "give the member's inventory name")
        members.append({'host': name, 'subnet': _subnet(m.get('subnet'), name, prefix),
                        'underlay': _underlay(m.get('underlay_address'), name, prefix)})
    v.unique((at.members[i].host, m['host'], m['host']) for i, m in enumerate(members))
    mine = [m for m in members if m['host'] == host]
    if not mine:
        v.fail(at.members, sorted(m['host'] for m in members), 'does not list this host (%s)'
               % host, 'list every host of the fleet, this one included')
    if mine[0]['subnet'] != subnet:
        raise ValidationError(
            'host %s: its fleet entry says container subnet %s, its %ssubnet is %s; the '
            'fleet is built from each host\'s own subnet, give one value'
            % (host, mine[0]['subnet'], prefix, subnet))
    for k, m in enumerate(members):
        for other in members[:k]:
            if m['subnet'].overlaps(other['subnet']):
                raise ValidationError(
                    'hosts %s and %s of the fleet have overlapping container subnets (%s and '
                    '%s): every host of the fleet needs its own %ssubnet, disjoint from the '
                    'others\' (set it in each host\'s host_vars)'
                    % (other['host'], m['host'], other['subnet'], m['subnet'], prefix))
            if m['underlay'] == other['underlay']:
                raise ValidationError(
                    'hosts %s and %s of the fleet have the same underlay address %s: give '
                    'each host the address its peers reach it at (%sunderlay_address)'
                    % (other['host'], m['host'], m['underlay'], prefix))
    return dict(base, backend=backend, vni=vni, self=mine[0],
                device=device_name(vni) if vni else None,
                peers=[m for m in members if m['host'] != host])


def _subnet(value, host, prefix):
    try:
        return v.subnet(value, v.Path(prefix=prefix).subnet, nat=True)
    except ValidationError as e:
        raise ValidationError('fleet host %s: %s' % (host, e))


def _underlay(value, host, prefix):
    try:
        ip = ipaddress.ip_address(str(value).strip()) if value is not None else None
    except ValueError:
        ip = None
    if ip is None or ip.version != 4:
        raise ValidationError(
            'fleet host %s: %sunderlay_address %s is not an IPv4 address; give the IPv4 '
            'address its peers reach it at (an IP, not a name: ansible_host may be a '
            'name, then set %sunderlay_address)' % (host, prefix, v.show(value), prefix))
    return ip


def peer_subnets(want):
    """The peers' container subnets (what the NAT stage neither masquerades nor drops)."""
    return [p['subnet'] for p in want['peers']] if want else []


def fleet_firewall(want):
    """What the firewall stage lets in for the fleet: the peers' subnets (forwarded to
    the bridge) and, with VXLAN, the peers' underlay addresses (UDP 4789 to the host);
    None without a fleet."""
    if not want or want['backend'] is None:
        return None
    return {'subnets': [str(p['subnet']) for p in want['peers']],
            'vteps': [str(p['underlay']) for p in want['peers']]
            if want['backend'] == 'vxlan' else []}
