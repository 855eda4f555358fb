# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewalld driver (:mod:`driver`): the bridge in zone ``linuxnet`` (target ACCEPT)
and the policy ``linuxnet-forward``, runtime and permanent; a VXLAN fleet's peers in the
policy ``linuxnet-vxlan``. Its commands and state are :mod:`firewalld_cmd`'s."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall import firewalld_cmd as fwc
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall.driver import (
    Driver, action)
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec as nft
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import PlanError

ZONE_LINE = 'firewalld zone %s target ACCEPT' % fwc.ZONE
POLICY_LINE = 'firewalld policy %s ANY -> %s target ACCEPT' % (fwc.POLICY, fwc.ZONE)
BIND_LINE = 'firewalld interface %s in zone ' + fwc.ZONE + ' (%s)'
VXLAN_LINE = 'firewalld policy %s ANY -> HOST %%s (%%s)' % fwc.VXLAN_POLICY
# its nftables tables: families inet, ip, ip6
FAMILIES = (nft.NFPROTO_INET, nft.NFPROTO_IPV4, nft.NFPROTO_IPV6)


def _vteps(want):
    return (want.get('fleet') or {}).get('vteps') or []


class FirewalldDriver(Driver):
    name = 'firewalld'

    def detect(self, ctx, want, chains):
        """``firewalld``: its state (None when not running), ``fwcmd``: its command."""
        try:
            fcmd = fwc.FirewallCmd(ctx.cmds)
            st = fcmd.observe()
            if st is not None and (_vteps(want) or os.path.exists(fwc.VXLAN_POLICY_FILE)):
                fcmd.observe_vxlan(st)
        except fwc.FirewalldError as e:
            raise PlanError('cannot read firewalld: %s. Nothing was changed; check '
                            '"firewall-cmd --state" and rerun.' % e)
        return {'firewalld': st, 'fwcmd': fcmd}

    def plan(self, want, have, on):
        st = have['firewalld']
        if st is None:
            return []
        return plan_zone(st, have['fwcmd'], want['bridge'], on) + \
            plan_vxlan(st, have['fwcmd'], _vteps(want) if on else [])

    def lines(self, want, have):
        st, br = have['firewalld'], want['bridge']
        if st is None:
            return []
        out = []
        for where in ('permanent', 'runtime'):
            info = st.zone[where]
            if info is not None and info.get('target') == 'ACCEPT':
                out.append('%s (%s)' % (ZONE_LINE, where))
            if br in st.zone_interfaces(where):
                out.append(BIND_LINE % (br, where))
            if st.policies and fwc.policy_ok(st.policy[where]):
                out.append('%s (%s)' % (POLICY_LINE, where))
        for where in ('permanent', 'runtime'):
            out += [VXLAN_LINE % (r, where) for r in st.vxlan[where] or [] if fwc.vxlan_peer(r)]
        return out

    def report(self, want, have, report, warnings):
        st, br, mode = have['firewalld'], want['bridge'], want['integration']
        if st is None:
            return
        present = want['state'] == 'present'
        report['firewalld'] = st.report()
        vteps = _vteps(want)
        if vteps and present and (mode == 'none' or not st.policies):
            warnings.append(
                'firewalld is running%s: it rejects the VXLAN packets (UDP %d) of the fleet\'s '
                'peers unless a rule lets them in. %s, or run for each peer: firewall-cmd '
                '--permanent --zone=ZONE_OF_THE_UNDERLAY --add-rich-rule=\'%s\' && firewall-cmd '
                '--reload' % ('' if st.policies else ' without policies (< 0.9)', fwc.VXLAN_PORT,
                              'Set firewall integration to auto' if st.policies else
                              'Update firewalld', fwc.vxlan_rule(vteps[0])))
        if mode == 'none' and present:
            warnings.append(
                'firewalld is running: it rejects traffic forwarded from %s and to the host '
                'from it unless %s is in a zone with target ACCEPT. Set firewall integration '
                'to auto, or run: firewall-cmd --permanent --zone=trusted --add-interface=%s '
                '&& firewall-cmd --reload' % (br, br, br))

    def handles(self, want, have, chain):
        return have['firewalld'] is not None and chain.table in fwc.TABLES and \
            chain.family in FAMILIES


def plan_zone(st, fcmd, br, on):
    """Actions for firewalld: zone, policy, binding (runtime + permanent)."""
    zone_p, zone_rt = st.zone['permanent'], st.zone['runtime']
    perm_if, rt_if = st.zone_interfaces('permanent'), st.zone_interfaces('runtime')
    out = []

    def cmd(op, target, args, **kw):
        out.append(action(op, target, [fcmd.argv(a) for a in args], **kw))
    if on:
        if zone_p is None:
            cmd('firewalld_new_zone', fwc.ZONE, fwc.new_zone_args(),
                add=[ZONE_LINE + ' (permanent)'])
        elif zone_p.get('target') != 'ACCEPT':
            cmd('firewalld_set_target', fwc.ZONE, fwc.set_target_args(),
                add=[ZONE_LINE + ' (permanent)'])
        if st.policies and not fwc.policy_ok(st.policy['permanent']):
            cmd('firewalld_new_policy', fwc.POLICY,
                fwc.new_policy_args(st.policy['permanent'] is not None),
                add=[POLICY_LINE + ' (permanent)'])
        if br not in perm_if:
            cmd('firewalld_bind', br, fwc.bind_args(br, True), zone=fwc.ZONE,
                config='permanent', add=[BIND_LINE % (br, 'permanent')])
        stale = zone_rt is None or zone_rt.get('target') != 'ACCEPT' or \
            (st.policies and not fwc.policy_ok(st.policy['runtime']))
        if stale:  # the runtime configuration becomes the permanent one (with our binding)
            cmd('firewalld_reload', 'firewalld', [['--reload']],
                add=[ZONE_LINE + ' (runtime)', BIND_LINE % (br, 'runtime')] +
                ([POLICY_LINE + ' (runtime)'] if st.policies else []))
        elif br not in rt_if:
            cmd('firewalld_bind', br, fwc.bind_args(br, False), zone=fwc.ZONE,
                config='runtime', add=[BIND_LINE % (br, 'runtime')])
        return out
    if br in perm_if:
        cmd('firewalld_unbind', br, fwc.unbind_args(br, True), zone=fwc.ZONE,
            config='permanent', delete=[BIND_LINE % (br, 'permanent')])
    if br in rt_if:
        cmd('firewalld_unbind', br, fwc.unbind_args(br, False), zone=fwc.ZONE,
            config='runtime', delete=[BIND_LINE % (br, 'runtime')])
    others = [i for i in perm_if + rt_if if i != br]
    if zone_p is not None and not others and not fwc.words(zone_p, 'sources'):
        has_policy = st.policies and st.policy['permanent'] is not None
        cmd('firewalld_delete', fwc.ZONE, fwc.delete_args(has_policy),
            delete=[ZONE_LINE + ' (permanent)', POLICY_LINE + ' (permanent)'])
        cmd('firewalld_reload', 'firewalld', [['--reload']],
            delete=[ZONE_LINE + ' (runtime)', POLICY_LINE + ' (runtime)'])
    return out


def plan_vxlan(st, fcmd, vteps):
    """A VXLAN fleet through firewalld: policy ``linuxnet-vxlan`` (ANY -> HOST) with one
    rich rule per peer accepting its UDP 4789; the rules of peers gone are removed, the
    policy with the last (permanent, then one reload). One VXLAN fleet per host: the
    policy holds this network's peers."""
    if not st.policies:
        return []
    perm, rt = st.vxlan['permanent'], st.vxlan['runtime']
    want = set(fwc.vxlan_rule(p) for p in vteps)
    have = set(r for r in (perm or []) if fwc.vxlan_peer(r))
    out, args, add, delete = [], [], [], []
    if want and perm is None:
        args += fwc.new_vxlan_policy_args()
    for r in sorted(have - want):
        args += fwc.rich_rule_args(r, False)
        delete.append(VXLAN_LINE % (r, 'permanent'))
    for r in sorted(want - have):
        args += fwc.rich_rule_args(r, True)
        add.append(VXLAN_LINE % (r, 'permanent'))
    last = perm is not None and not want and not (set(perm) - have)
    if last:
        args.append(['--permanent', '--delete-policy=%s' % fwc.VXLAN_POLICY])
    if args:
        out.append(action('firewalld_vxlan', fwc.VXLAN_POLICY, [fcmd.argv(a) for a in args],
                          add=add, delete=delete, peers=sorted(vteps)))
    rt_have = set(r for r in (rt or []) if fwc.vxlan_peer(r))
    if args or rt_have != want:  # the runtime configuration becomes the permanent one
        out.append(action('firewalld_reload', 'firewalld', [fcmd.argv(['--reload'])],
                          add=[VXLAN_LINE % (r, 'runtime') for r in sorted(want - rt_have)],
                          delete=[VXLAN_LINE % (r, 'runtime') for r in sorted(rt_have - want)]))
    return out
