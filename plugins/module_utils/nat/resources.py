# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NAT resources behind the modules ``masquerade`` and ``port_publish``.

Each is the ``want/observe/plan/apply/render/result`` contract of :mod:`runner`, wired
from the NAT layers: the desired state and its rule specs (:mod:`nat_model`), the rule
diff (:mod:`nat_plan`), and a backend behind :class:`nat_backend.NatBackend`
(:class:`nft_backend.NftBackend` by default) that compiles, observes and applies.
``have(ctx, want, nat)`` builds the observation around a NAT observation already read:
the ``network`` pipeline reads the table once for both resources.

IPv6 forwarding (masquerade): while a network with an IPv6 subnet is present,
``net.ipv6.conf.all.forwarding`` is on; an interface that learns routes from router
advertisements (``accept_ra`` 1 and a route of protocol ``ra`` on it) gets ``accept_ra``
2 first, or turning forwarding on would cost the host its RA default route. One drop-in
(:data:`SYSCTL_DROPIN6`) persists them and records the networks using it and the values
found before; when the last of those networks goes, the values found are restored and the
drop-in removed. Longer than ~300 lines because that host state (read, plan, drop-in
text, render) belongs with the resource whose rules need it.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket

from ansible_collections.linuxnet.container_network.plugins.module_utils import nat_model
from ansible_collections.linuxnet.container_network.plugins.module_utils import rtnl
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat_plan import (
    diff_rules, lines_in_scope)
from ansible_collections.linuxnet.container_network.plugins.module_utils.hostio import (
    read_text, write_atomic)
from ansible_collections.linuxnet.container_network.plugins.module_utils.nft_backend import (
    NftBackend)
from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import RuleId
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    Action, ApplyError, PlanError)

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


class NatContext(object):
    """The backend of one run, and an rtnetlink socket when IPv6 forwarding needs the
    host's routes (both closed on exit)."""

    def __init__(self, backend):
        self.backend = backend
        self._rtnl = None

    def rtnl(self):
        if self._rtnl is None:
            from ansible_collections.linuxnet.container_network.plugins.module_utils.nlsock import (
                Kernel)
            self._rtnl = Kernel()
        return self._rtnl.raw()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.backend.close()
        finally:
            if self._rtnl is not None:
                self._rtnl.close()
                self._rtnl = None
        return False


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


def _read_value(path):
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
            if name and _read_value(sysctl_path(accept_ra_key(name))) == '1':
                ra_in_use.append(name)
    ifnames = set(ra_in_use) | set(i for i, _v in (rec or {}).get('accept_ra', []))
    return {'text': dropin_text, 'record': rec, 'ra_in_use': ra_in_use,
            'forwarding': _read_value(sysctl_path(FORWARDING6)),
            'accept_ra': dict((i, _read_value(sysctl_path(accept_ra_key(i)))) for i in ifnames)}


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


class _NatResource(object):
    """Shared plumbing: backend construction, observation, the rule plan, the rule diff."""

    backend_class = NftBackend

    @staticmethod
    def in_scope(want):
        """-> a predicate on rule ids: those this resource manages for ``want``."""
        raise NotImplementedError

    @staticmethod
    def specs(want):
        """-> the nat_model.RuleSpec list ``want`` takes."""
        raise NotImplementedError

    def __init__(self, backend=None):
        self._backend = backend

    def context(self, inv):
        return NatContext(self._backend or self.backend_class())

    def observe(self, ctx, want):
        return self.have(ctx, want, ctx.backend.observe())

    def have(self, ctx, want, nat):
        fwd = read_text(IP_FORWARD_PATH)
        return {'nat': nat, 'compiled': [ctx.backend.compile(s) for s in self.specs(want)],
                'backend': ctx.backend, 'ip_forward': fwd.strip() if fwd is not None else None}

    def rule_actions(self, want, have):
        diff = diff_rules(have['compiled'], have['nat'].owned, self.in_scope(want))
        return have['backend'].plan(diff, have['nat'])

    def _diff_rules(self, want, have):
        return (lines_in_scope(have['nat'].owned, self.in_scope(want)),
                sorted(d.line() for d in have['compiled']))

    def result(self, want, have, actions):
        return {'rules': sorted(d.line() for d in have['compiled']),
                'backend': have['backend'].name}


class MasqueradeResource(_NatResource):
    """Module ``masquerade``: one postrouting masquerade rule per network, ip_forward."""

    want = staticmethod(nat_model.masquerade_want)
    in_scope = staticmethod(nat_model.masquerade_scope)
    specs = staticmethod(nat_model.masquerade_specs)

    def have(self, ctx, want, nat):
        have = super(MasqueradeResource, self).have(ctx, want, nat)
        have['dropin'] = read_text(SYSCTL_DROPIN)
        have['ipv6'] = have_ipv6(ctx, want, read_text(SYSCTL_DROPIN6))
        return have

    def plan(self, want, have):
        return self.rule_actions(want, have) + self.host_actions(want, have)

    def host_actions(self, want, have):
        """ip_forward and its drop-in, from what the rule plan leaves; IPv6 forwarding
        (:func:`ipv6_actions`)."""
        return self.ipv4_actions(want, have) + ipv6_actions(want, have.get('ipv6'))

    def ipv4_actions(self, want, have):
        scope = self.in_scope(want)
        actions = []
        # IPv4 masquerade rules left after the plan: ours (desired) + other networks'
        remaining = len([c for c in have['compiled'] if RuleId(c.rid).family == 4]) + len(
            [o for o in have['nat'].owned if RuleId(o.rid).family == 4 and not scope(o.rid)])
        if remaining:
            if have['ip_forward'] != '1':
                actions.append(Action('set_sysctl', 'net.ipv4.ip_forward', value='1'))
            if have['dropin'] != SYSCTL_DROPIN_CONTENT:
                actions.append(Action('write_file', SYSCTL_DROPIN))
        elif have['dropin'] is not None:
            actions.append(Action('remove_file', SYSCTL_DROPIN))
        return actions

    def apply(self, ctx, actions, have=None):
        commit(ctx.backend, actions)

    def render(self, want, have, actions):
        before, after = self._diff_rules(want, have)
        ops = set((a.op, a.target) for a in actions)
        fwd_after = '1' if ('set_sysctl', 'net.ipv4.ip_forward') in ops else have['ip_forward']
        dropin_after = (have['dropin'] is not None or ('write_file', SYSCTL_DROPIN) in ops) \
            and ('remove_file', SYSCTL_DROPIN) not in ops
        before += ['sysctl net.ipv4.ip_forward = %s' % have['ip_forward'],
                   'file %s: %s' % (SYSCTL_DROPIN, 'present' if have['dropin'] is not None
                                    else 'absent')]
        after += ['sysctl net.ipv4.ip_forward = %s' % fwd_after,
                  'file %s: %s' % (SYSCTL_DROPIN, 'present' if dropin_after else 'absent')]
        six_before, six_after = render_ipv6(have.get('ipv6'), actions)
        before += six_before
        after += six_after
        return '\n'.join(before) + '\n', '\n'.join(after) + '\n'


def apply_host(actions, done):
    """The host-side actions among ``actions`` (sysctls, the drop-in file), in order."""
    done = list(done)
    for a in actions:
        try:
            if a.op == 'set_sysctl':
                with open(a.args.get('_path') or IP_FORWARD_PATH, 'w') as f:
                    f.write(a.args['value'] + '\n')
            elif a.op == 'write_file':
                write_atomic(a.target, a.args.get('_content', SYSCTL_DROPIN_CONTENT), 0o644)
            elif a.op == 'remove_file':
                os.unlink(a.target)
            else:
                continue
        except (IOError, OSError) as e:
            raise ApplyError(a, e, done)
        done.append(a)


class PortPublishResource(_NatResource):
    """Module ``port_publish``: the full set of publications of one network."""

    want = staticmethod(nat_model.publish_want)
    in_scope = staticmethod(nat_model.publish_scope)
    specs = staticmethod(nat_model.publish_specs)

    def have(self, ctx, want, nat):
        have = super(PortPublishResource, self).have(ctx, want, nat)
        value = None
        if want['bridge']:
            # a bridge an earlier step creates (check mode) will start with the default
            value = read_text(ROUTE_LOCALNET % want['bridge'])
            if value is None and want['state'] == 'present':
                value = read_text(ROUTE_LOCALNET % 'default')
        have['route_localnet'] = value.strip() if value is not None else None
        have['forwarding6'] = _read_value(sysctl_path(FORWARDING6)) if any(
            6 in (p.get('families') or ()) for p in want['publications']) else None
        return have

    def plan(self, want, have):
        self.check_conflicts(want, have['nat'])
        return self.rule_actions(want, have) + self.host_actions(want, have)

    @staticmethod
    def host_actions(want, have):
        """route_localnet on this network's bridge (never ``all``): on while it has a
        publication on a loopback address, back off when it has none."""
        br = want['bridge']
        if br is None:
            return []
        need = nat_model.localhost_publications(want)
        cur = have['route_localnet']
        if need == (cur == '1'):
            return []
        return [Action('set_sysctl', 'net.ipv4.conf.%s.route_localnet' % br,
                       value='1' if need else '0', _path=ROUTE_LOCALNET % br)]

    @classmethod
    def check_conflicts(cls, want, nat):
        """PlanError when another network publishes one of the same host ports (their
        rule ids say what they publish); needs no container address."""
        scope = cls.in_scope(want)
        for o in nat.owned:  # /pre: all or one address; /out alone: a loopback address
            if scope(o.rid) or not o.rid.endswith(('/pre', '/out')):
                continue
            other = nat_model.pub_from_rid(o.rid)
            if other is None:
                continue
            for i, p in enumerate(want['publications']):
                if nat_model.publications_overlap(p, other):
                    raise PlanError(
                        'publications[%d] (%s) conflicts with network %s, which already '
                        'publishes %s; each host port can be published once'
                        % (i, nat_model.pub_label(p), RuleId(o.rid).network,
                           nat_model.pub_label(other)))

    def apply(self, ctx, actions, have=None):
        commit(ctx.backend, actions)

    def render(self, want, have, actions):
        before, after = self._diff_rules(want, have)
        set_to = [a.args['value'] for a in actions if a.op == 'set_sysctl']
        # the bridge's route_localnet, when this network has (or had) a use for it
        if want['bridge'] is not None and (set_to or have['route_localnet'] == '1'
                                           or nat_model.localhost_publications(want)):
            sysctl = 'sysctl net.ipv4.conf.%s.route_localnet = %%s' % want['bridge']
            before.append(sysctl % have['route_localnet'])
            after.append(sysctl % (set_to[-1] if set_to else have['route_localnet']))
        return ('\n'.join(before) + ('\n' if before else ''),
                '\n'.join(after) + ('\n' if after else ''))

    def result(self, want, have, actions):
        res = super(PortPublishResource, self).result(want, have, actions)
        if want['publications'] and have['ip_forward'] not in ('1', None):
            res['warnings'] = ['net.ipv4.ip_forward is 0: published ports are reachable from the '
                               'host itself only. The masquerade module enables forwarding.']
        if have.get('forwarding6') not in ('1', None):
            res.setdefault('warnings', []).append(
                'net.ipv6.conf.all.forwarding is 0: IPv6 published ports are reachable from the '
                'host itself only. The masquerade module enables it for networks with an '
                'ipv6_subnet.')
        return res


def commit(backend, actions, done=()):
    """Rules and host settings in the safe order: a setting turned off first, then the
    rules in one transaction, then a setting turned on. route_localnet is never on while
    the guard rule is not in place."""
    host = [a for a in actions if a.op in HOST_OPS]
    off = [a for a in host if a.op == 'remove_file' or a.args.get('value') == '0']
    on = [a for a in host if a not in off]
    done = list(done)
    apply_host(off, done)
    done.extend(off)
    rules = [a for a in actions if a.op not in HOST_OPS]
    try:
        backend.apply(rules)
    except ApplyError as e:
        e.done[:0] = done
        raise
    done.extend(rules)
    apply_host(on, done)
