# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Firewall coexistence: a network that works where another firewall is in charge.

A ``drop`` or ``reject`` in any nftables table or iptables chain on a hook drops what
our own table accepts. This resource (a stage of module ``network``) finds out what is
in charge and, with ``integration: auto``, does the least that lets the network's own
traffic through, each through that firewall's own interface:

* **firewalld** running: the bridge in zone ``linuxnet`` (target ACCEPT) and the policy
  ``linuxnet-forward`` (``fw_firewalld``);
* **iptables** (``iptables-nft`` and/or ``iptables-legacy``: Docker, ufw, a FORWARD or
  INPUT policy of DROP): tagged accept rules in ``DOCKER-USER`` or at the top of
  ``FORWARD``/``INPUT`` (``fw_iptables``);
* **any other** base chain on the forward or input hook whose policy or last rule drops
  or rejects (read over netlink, every table of families ip, inet and bridge, and ip6
  when the network has IPv6): never changed; a warning names its table, chain and hook
  and prints the rule to add, and the result says the network is not known to be
  reachable.

**IPv6** (want ``ipv6_subnet``): firewalld's zone and policy name no family, so they
carry IPv6 as they are; iptables has a second side, ``ip6tables`` (Docker with
``ip6tables``, ufw with ``IPV6=yes``), read and given the same tagged rules when the
network has IPv6 and cleared of ours when it has not (any more). An ip6tables side in
use that cannot be read (no binary) is said in a warning, never ignored.

``integration: none`` changes nothing outside our table (and removes what an earlier
``auto`` run added) but warns all the same. ``state: absent`` removes what this network
added. want -> observe -> plan (explicit actions, also the check mode and ``--diff``
prediction) -> apply, as every resource.

Longer than ~300 lines because it is one resource over three firewalls: the detection
and the plan that chooses between firewalld and iptables must see all of them; each
firewall's own commands live in ``fw_firewalld``/``fw_iptables``.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.linuxnet.container_network.plugins.module_utils import validate
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall import firewalld as fwd
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall import iptables as ipt
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec as nft
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_render
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_socket
from ansible_collections.linuxnet.container_network.plugins.module_utils.hostio import Commands
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    Action, ApplyError, PlanError)

MODES = ('auto', 'none')
OUR_TABLES = ('linuxnet',)
FAMILIES = (nft.NFPROTO_INET, nft.NFPROTO_IPV4, nft.NFPROTO_IPV6, nft.NFPROTO_BRIDGE)
# the nftables family of each iptables family's tables (iptables-nft: ip filter, ip6 filter)
NFT_FAMILY = {ipt.IPV4: nft.NFPROTO_IPV4, ipt.IPV6: nft.NFPROTO_IPV6}
HOOKS = (nft.NF_INET_FORWARD, nft.NF_INET_LOCAL_IN)


class _Ctx(object):
    def __init__(self, cmds, nft_factory=None):
        self.cmds = cmds
        self._factory = nft_factory or (lambda: nft_socket.NftSocket(nft.NFPROTO_UNSPEC))

    def hooked_chains(self):
        with self._factory() as sock:
            return sock.hooked_chains(HOOKS, FAMILIES)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------ other tables
def chain_drops(chain):
    """Why a foreign base chain drops what it does not accept, or None."""
    if chain.policy == nft.NF_DROP:
        return 'policy drop'
    if chain.rules:
        name, attrs = chain.rules[-1].exprs[-1] if chain.rules[-1].exprs else (None, {})
        if name == 'reject':
            return 'its last rule rejects'
        if name == 'immediate' and nft_render.render_exprs([(name, attrs)]) == 'drop':
            return 'its last rule drops'
    return None


def accept_rules(chain, bridge):
    """The nft rules a user would add to ``chain`` for this network (text)."""
    where = 'nft insert rule %s %s %s ' % (
        nft.FAMILY_NAMES[chain.family], chain.table, chain.name)
    if chain.family == nft.NFPROTO_BRIDGE:
        return [where + 'meta ibrname "%s" accept' % bridge]
    rules = [where + 'iifname "%s" accept' % bridge]
    if chain.hook == nft.NF_INET_FORWARD:
        rules += [where + 'oifname "%s" ct state established,related accept' % bridge,
                  where + 'oifname "%s" ct status dnat accept' % bridge]
    return rules


def covered(chain, bridge):
    """The chain already accepts what comes from the bridge (``iifname BRIDGE accept``)."""
    want = 'iifname "%s" accept' % bridge
    return any(nft_render.render_exprs(r.exprs).replace('counter ', '') == want for r in chain.rules)


# ------------------------------------------------------------------ the resource
class FirewallResource(object):
    """The firewall integration of one network (named by its bridge)."""

    def want(self, params):
        mode = validate.one_of(params.get('integration') or 'auto', MODES,
                               validate.Path().firewall_integration)
        return {'bridge': validate.ifname(params['bridge'], validate.Path().bridge),
                'state': params.get('state') or 'present', 'integration': mode,
                'ipv6_subnet': params.get('ipv6_subnet') or None,
                # the fleet's peers: {'subnets': [...], 'vteps': [...]} (module network)
                'fleet': params.get('fleet') or None}

    def context(self, inv):
        return _Ctx(Commands(inv.run_command))

    def observe(self, ctx, want):
        chains = ctx.hooked_chains()
        try:
            fcmd = fwd.FirewallCmd(ctx.cmds)
            firewalld = fcmd.observe()
            if firewalld is not None and ((want.get('fleet') or {}).get('vteps')
                                          or os.path.exists(fwd.VXLAN_POLICY_FILE)):
                fcmd.observe_vxlan(firewalld)
        except fwd.FirewalldError as e:
            raise PlanError('cannot read firewalld: %s. Nothing was changed; check '
                            '"firewall-cmd --state" and rerun.' % e)
        tables, unreadable = [], []
        for family, variant in iptables_in_use(chains):
            table, why = ipt.read_table(ctx.cmds, variant, family)
            if table is None:
                name = ipt.tool_name(variant, family)
                unreadable.append((family, variant, '%s: %s' % (name, why)))
            else:
                tables.append(table)
        return {'chains': chains, 'firewalld': firewalld, 'fwcmd': fcmd, 'iptables': tables,
                'unreadable': unreadable}

    # -- plan
    def plan(self, want, have):
        br = want['bridge']
        on = want['state'] == 'present' and want['integration'] == 'auto'
        actions = []
        if have['firewalld'] is not None:
            actions += plan_firewalld(have['firewalld'], have['fwcmd'], br, on)
            vteps = (want.get('fleet') or {}).get('vteps') or [] if on else []
            actions += plan_firewalld_vxlan(have['firewalld'], have['fwcmd'], vteps)
        for t in have['iptables']:
            wanted = on and family_used(want, t.family)
            actions += plan_iptables(t, br, ipt.desired_rules(t, br, want.get('fleet'))
                                     if wanted else [])
        return actions

    def apply(self, ctx, actions, have=None):
        done = []
        for a in actions:
            for argv in a.args['_argv']:
                rc, out, err = ctx.cmds.run(argv)
                if rc != 0:
                    raise ApplyError(a, '%s exited %d: %s' % (
                        ' '.join(argv), rc, (err or out).strip()), done)
            done.append(a)

    def render(self, want, have, actions):
        before = sorted(state_lines(have, want['bridge']))
        after = set(before)
        for a in actions:
            after -= set(a.args.get('_del', ()))
            after |= set(a.args.get('_add', ()))
        return '\n'.join(before) + ('\n' if before else ''), \
            '\n'.join(sorted(after)) + ('\n' if after else '')

    def result(self, want, have, actions):
        report, warnings = assess(want, have)
        return {'firewall': report, 'warnings': warnings} if warnings else {'firewall': report}


def family_used(want, family):
    """The network carries this iptables family's traffic ('ipv4' always)."""
    return family == ipt.IPV4 or bool(want.get('ipv6_subnet'))


def iptables_in_use(chains):
    """[(family, variant)] of the iptables filter tables in this namespace: iptables-nft's
    ``ip``/``ip6 filter`` from the netlink dump, iptables-legacy's from /proc."""
    found = []
    for family in ipt.FAMILIES:
        if any(c.family == NFT_FAMILY[family] and c.table == 'filter' and c.name in ipt.BUILTIN
               for c in chains):
            found.append((family, 'nft'))
        if ipt.legacy_in_use(family):
            found.append((family, 'legacy'))
    return found


def _action(op, target, argv, add=(), delete=(), **args):
    return Action(op, target, _argv=argv, _add=list(add), _del=list(delete), **args)


def plan_firewalld(st, fcmd, br, on):
    """Actions for firewalld: zone, policy, binding (runtime + permanent)."""
    zone_p, zone_rt = st.zone['permanent'], st.zone['runtime']
    perm_if, rt_if = st.zone_interfaces('permanent'), st.zone_interfaces('runtime')
    out = []
    zl, pl = 'firewalld zone %s target ACCEPT' % fwd.ZONE, \
        'firewalld policy %s ANY -> %s target ACCEPT' % (fwd.POLICY, fwd.ZONE)

    def cmd(op, target, args, **kw):
        out.append(_action(op, target, [fcmd.argv(a) for a in args], **kw))
    if on:
        if zone_p is None:
            cmd('firewalld_new_zone', fwd.ZONE, fwd.new_zone_args(), add=[zl + ' (permanent)'])
        elif zone_p.get('target') != 'ACCEPT':
            cmd('firewalld_set_target', fwd.ZONE, fwd.set_target_args(),
                add=[zl + ' (permanent)'])
        if st.policies and not fwd.policy_ok(st.policy['permanent']):
            cmd('firewalld_new_policy', fwd.POLICY,
                fwd.new_policy_args(st.policy['permanent'] is not None),
                add=[pl + ' (permanent)'])
        if br not in perm_if:
            cmd('firewalld_bind', br, fwd.bind_args(br, True), zone=fwd.ZONE,
                config='permanent', add=['firewalld interface %s in zone %s (permanent)'
                                         % (br, fwd.ZONE)])
        stale = zone_rt is None or zone_rt.get('target') != 'ACCEPT' or \
            (st.policies and not fwd.policy_ok(st.policy['runtime']))
        if stale:  # the runtime configuration becomes the permanent one (with our binding)
            cmd('firewalld_reload', 'firewalld', [['--reload']],
                add=[zl + ' (runtime)', 'firewalld interface %s in zone %s (runtime)'
                     % (br, fwd.ZONE)] + ([pl + ' (runtime)'] if st.policies else []))
        elif br not in rt_if:
            cmd('firewalld_bind', br, fwd.bind_args(br, False), zone=fwd.ZONE,
                config='runtime', add=['firewalld interface %s in zone %s (runtime)'
                                       % (br, fwd.ZONE)])
        return out
    if br in perm_if:
        cmd('firewalld_unbind', br, fwd.unbind_args(br, True), zone=fwd.ZONE,
            config='permanent', delete=['firewalld interface %s in zone %s (permanent)'
                                        % (br, fwd.ZONE)])
    if br in rt_if:
        cmd('firewalld_unbind', br, fwd.unbind_args(br, False), zone=fwd.ZONE,
            config='runtime', delete=['firewalld interface %s in zone %s (runtime)'
                                      % (br, fwd.ZONE)])
    others = [i for i in perm_if + rt_if if i != br]
    if zone_p is not None and not others and not fwd.words(zone_p, 'sources'):
        has_policy = st.policies and st.policy['permanent'] is not None
        cmd('firewalld_delete', fwd.ZONE, fwd.delete_args(has_policy),
            delete=[zl + ' (permanent)', pl + ' (permanent)'])
        cmd('firewalld_reload', 'firewalld', [['--reload']],
            delete=[zl + ' (runtime)', pl + ' (runtime)'])
    return out


def plan_firewalld_vxlan(st, fcmd, vteps):
    """A VXLAN fleet through firewalld: policy ``linuxnet-vxlan`` (ANY -> HOST) with one
    rich rule per peer accepting its UDP 4789; the rules of peers gone are removed, the
    policy with the last (permanent, then one reload). One VXLAN fleet per host: the
    policy holds this network's peers."""
    if not st.policies:
        return []
    perm, rt = st.vxlan['permanent'], st.vxlan['runtime']
    want = set(fwd.vxlan_rule(p) for p in vteps)
    have = set(r for r in (perm or []) if fwd.vxlan_peer(r))
    line = 'firewalld policy %s ANY -> HOST %%s (%%s)' % fwd.VXLAN_POLICY
    out, args, add, delete = [], [], [], []
    if want and perm is None:
        args += fwd.new_vxlan_policy_args()
    for r in sorted(have - want):
        args += fwd.rich_rule_args(r, False)
        delete.append(line % (r, 'permanent'))
    for r in sorted(want - have):
        args += fwd.rich_rule_args(r, True)
        add.append(line % (r, 'permanent'))
    last = perm is not None and not want and not (set(perm) - have)
    if last:
        args.append(['--permanent', '--delete-policy=%s' % fwd.VXLAN_POLICY])
    if args:
        out.append(_action('firewalld_vxlan', fwd.VXLAN_POLICY, [fcmd.argv(a) for a in args],
                           add=add, delete=delete, peers=sorted(vteps)))
    rt_have = set(r for r in (rt or []) if fwd.vxlan_peer(r))
    if args or rt_have != want:  # the runtime configuration becomes the permanent one
        out.append(_action('firewalld_reload', 'firewalld', [fcmd.argv(['--reload'])],
                           add=[line % (r, 'runtime') for r in sorted(want - rt_have)],
                           delete=[line % (r, 'runtime') for r in sorted(rt_have - want)]))
    return out


def plan_iptables(table, br, desired):
    """Actions for one iptables variant: insert what is missing, delete what is not wanted."""
    ours = table.ours(br)
    out, keep = [], set()
    for chain, tag, args in desired:
        found = [o for o in ours if o[1] == tag and o[0] == chain]
        if found:
            keep.add(id(found[0]))
        else:
            line = '%s %s' % (table.name, ipt.rule_line(chain, args))
            out.append(_action('iptables_insert', '%s %s' % (table.name, chain),
                               [ipt.insert_argv(table, chain, args)], add=[line],
                               rule=ipt.rule_line(chain, args)))
    for o in ours:
        if id(o) not in keep:
            line = '%s %s' % (table.name, ipt.rule_line(o[0], o[2]))
            out.insert(0, _action('iptables_delete', '%s %s' % (table.name, o[0]),
                                  [ipt.delete_argv(table, o[0], o[2])], delete=[line],
                                  rule=ipt.rule_line(o[0], o[2])))
    return out


def state_lines(have, br):
    """What the integration looks like now, one line per fact (the --diff 'before')."""
    lines = []
    st = have['firewalld']
    if st is not None:
        for where in ('permanent', 'runtime'):
            info = st.zone[where]
            if info is not None and info.get('target') == 'ACCEPT':
                lines.append('firewalld zone %s target ACCEPT (%s)' % (fwd.ZONE, where))
            if br in st.zone_interfaces(where):
                lines.append('firewalld interface %s in zone %s (%s)' % (br, fwd.ZONE, where))
            if st.policies and fwd.policy_ok(st.policy[where]):
                lines.append('firewalld policy %s ANY -> %s target ACCEPT (%s)'
                             % (fwd.POLICY, fwd.ZONE, where))
        for where in ('permanent', 'runtime'):
            lines += ['firewalld policy %s ANY -> HOST %s (%s)' % (fwd.VXLAN_POLICY, r, where)
                      for r in st.vxlan[where] or [] if fwd.vxlan_peer(r)]
    for t in have['iptables']:
        lines += ['%s %s' % (t.name, ipt.rule_line(c, a)) for c, _tag, a in t.ours(br)]
    return lines


def _v6(family):
    return 'IPv6 ' if family == ipt.IPV6 else ''


def assess(want, have):
    """The module's ``firewall`` result and its warnings."""
    br, mode = want['bridge'], want['integration']
    present = want['state'] == 'present'
    handled_tables = set(OUR_TABLES)
    report = {'integration': mode, 'firewalld': {'running': False}, 'iptables': [],
              'docker': {'iptables': False, 'nftables': []}, 'ufw': False, 'unhandled': []}
    warnings = []
    st = have['firewalld']
    if st is not None:
        report['firewalld'] = st.report()
        handled_tables.update(fwd.TABLES)
        vteps = (want.get('fleet') or {}).get('vteps') or []
        if vteps and present and (mode == 'none' or not st.policies):
            warnings.append(
                'firewalld is running%s: it rejects the VXLAN packets (UDP %d) of the fleet\'s '
                'peers unless a rule lets them in. %s, or run for each peer: firewall-cmd '
                '--permanent --zone=ZONE_OF_THE_UNDERLAY --add-rich-rule=\'%s\' && firewall-cmd '
                '--reload' % ('' if st.policies else ' without policies (< 0.9)', fwd.VXLAN_PORT,
                              'Set firewall integration to auto' if st.policies else
                              'Update firewalld', fwd.vxlan_rule(vteps[0])))
        if mode == 'none' and present:
            warnings.append(
                'firewalld is running: it rejects traffic forwarded from %s and to the host '
                'from it unless %s is in a zone with target ACCEPT. Set firewall integration '
                'to auto, or run: firewall-cmd --permanent --zone=trusted --add-interface=%s '
                '&& firewall-cmd --reload' % (br, br, br))
    ipv6 = bool(want.get('ipv6_subnet'))
    read_nft = set()  # nftables families whose filter table is iptables-nft's (said)
    for t in have['iptables']:
        if not family_used(want, t.family):
            continue
        if t.variant == 'nft':
            read_nft.add(NFT_FAMILY[t.family])
        docker = 'DOCKER-USER' in t.chains or 'DOCKER' in t.chains
        ufw = any(c.startswith(('ufw-', 'ufw6-')) for c in t.chains)
        report['docker']['iptables'] = report['docker']['iptables'] or docker
        report['ufw'] = report['ufw'] or ufw
        desired = ipt.desired_rules(t, br, want.get('fleet'))
        why = dict((h, ipt.blocks(t, h)) for h in ('FORWARD', 'INPUT'))
        report['iptables'].append({
            'variant': t.variant, 'family': t.family, 'forward': why['FORWARD'],
            'input': why['INPUT'], 'docker': docker, 'ufw': ufw,
            'rules': [ipt.rule_line(c, a) for c, _tag, a in desired] if mode == 'auto' else []})
        if mode == 'none' and present and desired:
            reasons = ', '.join('%s %s' % (h, why[h]) for h in ('FORWARD', 'INPUT') if why[h])
            fixes = '; '.join(' '.join(ipt.insert_argv(t, c, a)) for c, _tag, a in desired)
            warnings.append('%s would drop %straffic of %s (%s). Set firewall integration to '
                            'auto, or run: %s' % (t.name, _v6(t.family), br, reasons, fixes))
    for family, variant, why in have['unreadable']:
        if not family_used(want, family):
            continue
        if variant == 'nft':  # said here, not once more as a foreign nftables chain
            read_nft.add(NFT_FAMILY[family])
        report['unhandled'].append({'what': why})
        if present:
            warnings.append('could not read %s; %straffic of %s may be dropped there' % (
                why, _v6(family), br))
    for c in have['chains']:
        fam = nft.FAMILY_NAMES.get(c.family, str(c.family))
        if c.table == 'docker-bridges' and '%s %s' % (fam, c.table) not in \
                report['docker']['nftables']:
            report['docker']['nftables'].append('%s %s' % (fam, c.table))
        if c.family == nft.NFPROTO_IPV6 and not ipv6:
            continue  # an ip6 table cannot drop an IPv4-only network's traffic
        if c.table in handled_tables and c.family in (nft.NFPROTO_INET, nft.NFPROTO_IPV4,
                                                      nft.NFPROTO_IPV6):
            continue
        if c.family in read_nft and c.table == 'filter' and c.name in ipt.BUILTIN:
            continue
        why = chain_drops(c)
        if why is None or covered(c, br):
            continue
        hook = nft.HOOK_NAMES.get(c.hook, str(c.hook))
        rules = accept_rules(c, br)
        report['unhandled'].append({'family': fam, 'table': c.table, 'chain': c.name,
                                    'hook': hook, 'why': why, 'suggested': rules})
        if present:
            warnings.append(
                'table %s %s, chain %s (hook %s, %s) may drop traffic of %s, and it is not '
                'ours to change. To let it through, add: %s' % (
                    fam, c.table, c.name, hook, why, br, '; '.join(rules)))
    blocked = report['unhandled'] or (mode == 'none' and warnings)
    report['reachable'] = not blocked
    return report, warnings
