# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's forwarding for the NAT resources: ``ip_forward`` and its sysctl.d drop-in,
IPv6 forwarding with its drop-in (the values found are restored when the last IPv6
network goes), ``accept_ra = 2`` where the host learns routes from router
advertisements. Plans :class:`runner.Action`; :func:`resources.apply_host` carries them out.

IPv6: while a network with an IPv6 subnet is present, ``net.ipv6.conf.all.forwarding``
is on; an interface that learns routes from router advertisements (``accept_ra`` 1 and a
route of protocol ``ra`` on it) gets ``accept_ra`` 2 first, or turning forwarding on
would cost the host its RA default route. One drop-in (:data:`SYSCTL_DROPIN6`) persists
them and records the networks using it and the values found before; when the last of
those networks goes, the values found are restored and the drop-in removed."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import model as nat_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import rtnl
from ansible_collections.linuxnet.container_network.plugins.module_utils.hostio import read_text
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import Action

IP_FORWARD_PATH = '/proc/sys/net/ipv4/ip_forward'
SYSCTL_DROPIN = '/etc/sysctl.d/90-linuxnet-container-network.conf'
SYSCTL_DROPIN_CONTENT = (
    '# Managed by the linuxnet.container_network masquerade module: container\n'
    '# networks are masqueraded, so the host routes between them and its uplinks.\n'
    '# Removed when the last masqueraded network is removed.\n'
    'net.ipv4.ip_forward = 1\n')
ROUTE_LOCALNET = '/proc/sys/net/ipv4/conf/%s/route_localnet'
SYSCTL_DROPIN6 = '/etc/sysctl.d/90-linuxnet-container-network-ipv6.conf'
FORWARDING6 = 'net.ipv6.conf.all.forwarding'
RTPROT_RA = 9
_DROPIN6_HEAD = (
    '# Managed by the linuxnet.container_network masquerade module: container networks\n'
    '# with IPv6 subnets are routed, so the host forwards IPv6; interfaces that learn\n'
    '# their routes from router advertisements keep accepting them (accept_ra = 2).\n'
    '# When the last network below is removed, the values found are restored and this\n'
    '# file is removed.\n')
HOST_OPS = ('set_sysctl', 'write_file', 'remove_file')


# ------------------------------------------------------------------ IPv6 forwarding
def accept_ra_key(ifname):
    return 'net.ipv6.conf.%s.accept_ra' % ifname


def sysctl_path(key):
    """``net.ipv6.conf.IF.accept_ra`` (IF may hold dots) -> its /proc/sys path."""
    if key.startswith('net.ipv6.conf.') and key.count('.') > 4:
        ifname, leaf = key[len('net.ipv6.conf.'):].rsplit('.', 1)
        return '/proc/sys/net/ipv6/conf/%s/%s' % (ifname, leaf)
    return '/proc/sys/' + key.replace('.', '/')


def _dropin_key(key):
    """A key as sysctl.d reads it: with slashes when an interface name holds a dot."""
    if key.count('.') > 4:
        return sysctl_path(key)[len('/proc/sys/'):]
    return key


def dropin6_text(networks, forwarding, accept_ra):
    """The drop-in: who uses it, what was found (``forwarding``: the value of
    net.ipv6.conf.all.forwarding, ``accept_ra``: [(ifname, value)]), then the settings
    (accept_ra first: systemd-sysctl applies them in order)."""
    lines = [_DROPIN6_HEAD, '# networks: %s\n' % ' '.join(sorted(networks))]
    if forwarding is not None:
        lines.append('# found: %s=%s\n' % (FORWARDING6, forwarding))
    for ifname, value in sorted(accept_ra):
        lines.append('# found: %s=%s\n' % (accept_ra_key(ifname), value))
    for ifname, _value in sorted(accept_ra):
        lines.append('%s = 2\n' % _dropin_key(accept_ra_key(ifname)))
    lines.append('%s = 1\n' % FORWARDING6)
    return ''.join(lines)


def parse_dropin6(text):
    """The drop-in's record -> {'networks': [...], 'forwarding': value or None,
    'accept_ra': [(ifname, value)]} (None when there is no drop-in)."""
    if text is None:
        return None
    rec = {'networks': [], 'forwarding': None, 'accept_ra': []}
    for line in text.splitlines():
        if line.startswith('# networks:'):
            rec['networks'] = line[len('# networks:'):].split()
        elif line.startswith('# found: ') and '=' in line:
            key, value = line[len('# found: '):].split('=', 1)
            if key == FORWARDING6:
                rec['forwarding'] = value.strip()
            elif key.startswith('net.ipv6.conf.') and key.endswith('.accept_ra'):
                rec['accept_ra'].append((key[len('net.ipv6.conf.'):-len('.accept_ra')],
                                         value.strip()))
    return rec


def read_value(path):
    value = read_text(path)
    return value.strip() if value is not None else None


def have_ipv6(ctx, want, dropin_text):
    """What IPv6 forwarding needs read (None when no network of ``want`` has an IPv6
    subnet and there is no drop-in: the IPv4-only run reads nothing more)."""
    users = nat_model.ipv6_networks(want)
    if not users and dropin_text is None:
        return None
    rec = parse_dropin6(dropin_text)
    ra_in_use = []
    if users:  # interfaces that accept RAs and have routes from them
        sock = ctx.rtnl()
        names = dict((link['index'], link['name']) for link in rtnl.links(sock))
        oifs = set(r['oif'] for r in rtnl.routes(sock, socket.AF_INET6)
                   if r.get('proto') == RTPROT_RA and r['oif'] is not None)
        for index in sorted(oifs):
            name = names.get(index)
            if name and read_value(sysctl_path(accept_ra_key(name))) == '1':
                ra_in_use.append(name)
    ifnames = set(ra_in_use) | set(i for i, _v in (rec or {}).get('accept_ra', []))
    return {'text': dropin_text, 'record': rec, 'ra_in_use': ra_in_use,
            'forwarding': read_value(sysctl_path(FORWARDING6)),
            'accept_ra': dict((i, read_value(sysctl_path(accept_ra_key(i)))) for i in ifnames)}


def _set(key, value):
    return Action('set_sysctl', key, value=value, _path=sysctl_path(key))


def ipv6_actions(want, six):
    """The IPv6 forwarding plan (``six``: :func:`have_ipv6`'s reading)."""
    if six is None:
        return []
    rec = six['record']
    listed = set(n['name'] for n in want['networks'])
    users = set(nat_model.ipv6_networks(want)) | set(
        n for n in (rec or {}).get('networks', []) if n not in listed)
    actions = []
    if users:
        found_ra = dict(rec['accept_ra']) if rec else {}
        for ifname in six['ra_in_use']:
            found_ra.setdefault(ifname, '1')
        for ifname in sorted(found_ra):  # before forwarding goes on
            if six['accept_ra'].get(ifname) not in (None, '2'):
                actions.append(_set(accept_ra_key(ifname), '2'))
        if six['forwarding'] != '1':
            actions.append(_set(FORWARDING6, '1'))
        found_fwd = rec['forwarding'] if rec else six['forwarding']
        text = dropin6_text(users, found_fwd, found_ra.items())
        if six['text'] != text:
            actions.append(Action('write_file', SYSCTL_DROPIN6, _content=text))
    elif rec is not None:  # the last user went: restore what was found, forwarding first
        if rec['forwarding'] is not None and six['forwarding'] not in (None, rec['forwarding']):
            actions.append(_set(FORWARDING6, rec['forwarding']))
        for ifname, value in sorted(rec['accept_ra']):
            if six['accept_ra'].get(ifname) not in (None, value):
                actions.append(_set(accept_ra_key(ifname), value))
        actions.append(Action('remove_file', SYSCTL_DROPIN6))
    return actions


def render_ipv6(six, actions):
    """``--diff`` lines (before, after) of the IPv6 forwarding settings."""
    if six is None:
        return [], []
    set_to = dict((a.target, a.args['value']) for a in actions if a.op == 'set_sysctl')
    ops = dict((a.target, a.op) for a in actions if a.target == SYSCTL_DROPIN6)
    keys = [FORWARDING6] + [accept_ra_key(i) for i in sorted(six['accept_ra'])]
    now = dict([(FORWARDING6, six['forwarding'])] + [
        (accept_ra_key(i), v) for i, v in six['accept_ra'].items()])
    before = ['sysctl %s = %s' % (k, now[k]) for k in keys]
    after = ['sysctl %s = %s' % (k, set_to.get(k, now[k])) for k in keys]
    present = six['text'] is not None
    before.append('file %s: %s' % (SYSCTL_DROPIN6, 'present' if present else 'absent'))
    op = ops.get(SYSCTL_DROPIN6)
    after.append('file %s: %s' % (SYSCTL_DROPIN6, 'absent' if op == 'remove_file' else
                                  'present' if present or op == 'write_file' else 'absent'))
    if op == 'write_file':
        after[-1] += ' (rewritten)' if present else ''
    return before, after
