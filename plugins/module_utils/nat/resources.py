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

The host's forwarding that masquerading needs (``ip_forward``, IPv6 forwarding and
``accept_ra``, their drop-ins) is planned in :mod:`forwarding`; its actions are carried
out here (:func:`apply_host`), beside the rules.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import model as nat_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.forwarding import (
    FORWARDING6, HOST_OPS, IP_FORWARD_PATH, ROUTE_LOCALNET, SYSCTL_DROPIN, SYSCTL_DROPIN6,
    SYSCTL_DROPIN_CONTENT, have_ipv6, ipv6_actions, read_value, render_ipv6, sysctl_path)
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.plan import (
    diff_rules, lines_in_scope)
from ansible_collections.linuxnet.container_network.plugins.module_utils.hostio import (
    read_text, write_atomic)
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.nft import (
    NftBackend)
from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import RuleId
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    Action, ApplyError, PlanError)


class NatContext(object):
    """The backend of one run, and an rtnetlink socket when IPv6 forwarding needs the
    host's routes (both closed on exit)."""

    def __init__(self, backend):
        self.backend = backend
        self._rtnl = None

    def rtnl(self):
        if self._rtnl is None:
            from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import (
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
        have['forwarding6'] = read_value(sysctl_path(FORWARDING6)) if any(
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
