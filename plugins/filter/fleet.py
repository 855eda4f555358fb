# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's fleet, from the inventory alone: the ``fleet`` option of module ``network``.

Every member's container subnet and underlay address come from its host variables
(``hostvars``), so a host is configured with routes to every peer without contacting it
(``--limit``, ``serial``). Validation is the module's (it names the hosts concerned).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

PREFIX = 'container_bridge_network_'
DEFAULT_SUBNET = '172.18.0.0/16'  # the role's default (defaults/main.yml)


def _var(hvars, name, fallback=None):
    try:
        if name in hvars:
            value = hvars[name]
            if value not in (None, ''):
                return value
    except Exception:  # an undefined or failing template: the fallback
        pass
    return fallback


def fleet(group, groups, hostvars, host, mine):
    """``group`` (the fleet group's name, or none) -> the ``fleet`` option for ``host``
    (None when there is no fleet or ``host`` is not in it). ``mine``: this host's own
    resolved values (subnet, underlay_address, backend, vxlan_id), which win over its
    hostvars (role defaults and ``-e`` are not host variables)."""
    if not group:
        return None
    if group not in groups:
        raise AnsibleFilterError('%sfleet_group: the inventory has no group %r' % (PREFIX, group))
    names = list(groups[group])
    if host not in names:
        return None
    members = []
    for name in names:
        if name == host:
            subnet, underlay = mine.get('subnet'), mine.get('underlay_address')
        else:
            hv = hostvars[name]
            subnet = _var(hv, PREFIX + 'subnet', DEFAULT_SUBNET)
            underlay = _var(hv, PREFIX + 'underlay_address',
                            _var(hv, 'ansible_host', name))
        members.append({'host': name, 'subnet': str(subnet).strip(),
                        'underlay_address': str(underlay).strip()})
    return {'backend': mine.get('backend') or 'host-gw', 'host': host,
            'vxlan_id': int(mine.get('vxlan_id') or 42), 'members': members}


class FilterModule(object):
    """The fleet filter of the role container_bridge_network."""

    def filters(self):
        return {'fleet': fleet}
