# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iptables side of the firewall integration (Docker, ufw, plain iptables).

A host may run iptables rules through ``iptables-nft`` (tables ``ip filter`` etc. in
nftables), through ``iptables-legacy`` (the old x_tables), or both. Either one with a
``FORWARD`` policy of DROP (Docker, ufw, a hardened host) drops what our own nftables
table accepts: a packet passes only if every table on the hook lets it through. The
same holds for IPv6 with ``ip6tables`` (table ``ip6 filter``, ``ip6_tables``): Docker
with ``ip6tables`` and ufw with ``IPV6=yes`` set its FORWARD policy to DROP too, so a
network with IPv6 needs the same rules there (family ``ipv6`` below).

For each variant and family in use this module reads the ``filter`` table
(``iptables -S`` / ``ip6tables -S``, argv only), decides whether it would drop our
traffic (:func:`blocks`: the chain's policy or a DROP/REJECT reachable from it), and
derives the least accept rules that let the network's own traffic through
(:func:`desired_rules`, the same for both families):

* forward, in ``DOCKER-USER`` when it exists (Docker's place for users' rules), else at
  the top of ``FORWARD``: ``-i BRIDGE -j ACCEPT`` (containers out, container to
  container) and ``-o BRIDGE -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT``
  (replies and published ports). Traffic routed from outside straight at a container
  is not accepted here: that stays the foreign firewall's and our table's decision.
* input, at the top of ``INPUT`` when it drops: ``-i BRIDGE -j ACCEPT`` (containers to
  the host's services, as a firewalld zone with target ACCEPT does).
* a fleet (module ``network``'s ``fleet``): per peer ``-s PEER_SUBNET -o BRIDGE -j ACCEPT``
  in forward and, for VXLAN, ``-s PEER -p udp --dport 4789 -j ACCEPT`` in ``INPUT``.

Every rule carries the comment ``linuxnet:BRIDGE/KIND``: found and removed exactly by it,
never any other rule. Nothing here changes a chain's policy or moves a foreign rule.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex

from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall.driver import (
    Driver, action, v6)
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec as nft
from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import (
    OWNER_PREFIX, fw_tag, fw_tag_network,
)

IPV4, IPV6 = 'ipv4', 'ipv6'
FAMILIES = (IPV4, IPV6)
TOOLS = {IPV4: 'iptables', IPV6: 'ip6tables'}
LEGACY_TABLES = {IPV4: '/proc/net/ip_tables_names', IPV6: '/proc/net/ip6_tables_names'}
BUILTIN = ('INPUT', 'FORWARD', 'OUTPUT')
VXLAN_PORT = 4789
# the nftables family of each iptables family's tables (iptables-nft: ip filter, ip6 filter)
NFT_FAMILY = {IPV4: nft.NFPROTO_IPV4, IPV6: nft.NFPROTO_IPV6}


class FilterTable(object):
    """The ``filter`` table as ``iptables -S`` (``ip6tables -S``) prints it."""

    def __init__(self, variant, argv0, family=IPV4):
        self.variant = variant          # 'nft' | 'legacy'
        self.argv0 = argv0              # the binary, e.g. /usr/sbin/iptables-nft
        self.family = family            # 'ipv4' (iptables) | 'ipv6' (ip6tables)
        self.policies = {}              # built-in chain -> ACCEPT | DROP
        self.chains = []                # every chain, in order
        self.rules = []                 # [(chain, [args after the chain name])]

    @property
    def name(self):
        return tool_name(self.variant, self.family)

    def ours(self, bridge):
        """Our rules for ``bridge``: [(chain, tag, args)] in table order."""
        out = []
        for chain, args in self.rules:
            tag = rule_tag(args)
            if tag is not None and fw_tag_network(tag) == bridge:
                out.append((chain, tag, args))
        return out


def tool_name(variant, family=IPV4):
    """``iptables-nft``, ``ip6tables-legacy``, ..."""
    return '%s-%s' % (TOOLS[family], variant)


def parse_rules(variant, argv0, text, family=IPV4):
    """``iptables -S`` output -> :class:`FilterTable`."""
    t = FilterTable(variant, argv0, family)
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) < 2:
            continue
        if words[0] == '-P' and len(words) >= 3:
            t.policies[words[1]] = words[2]
            t.chains.append(words[1])
        elif words[0] == '-N':
            t.chains.append(words[1])
        elif words[0] == '-A':
            t.rules.append((words[1], words[2:]))
    return t


def rule_tag(args):
    """The ``linuxnet:`` comment of a rule's args, or None."""
    for i, w in enumerate(args[:-1]):
        if w == '--comment' and args[i + 1].startswith(OWNER_PREFIX):
            return args[i + 1]
    return None


def _target(args):
    for i, w in enumerate(args[:-1]):
        if w in ('-j', '--jump', '-g', '--goto'):
            return args[i + 1]
    return None


def blocks(table, chain):
    """Why ``chain`` may drop traffic (policy or a DROP/REJECT reachable), or None."""
    if table.policies.get(chain) in ('DROP', 'REJECT'):
        return 'policy %s' % table.policies[chain]
    seen, todo = set(), [chain]
    while todo:
        c = todo.pop()
        if c in seen:
            continue
        seen.add(c)
        for rc, args in table.rules:
            if rc != c:
                continue
            target = _target(args)
            if target in ('DROP', 'REJECT'):
                return 'a %s rule in chain %s' % (target, c)
            if target in table.chains and target not in BUILTIN:
                todo.append(target)
    return None


def desired_rules(table, bridge, fleet=None, always=False):
    """The accept rules the network needs in ``table``: [(chain, tag, args)]; with
    ``always``, those it would need if FORWARD and INPUT dropped (what may stay).

    ``fleet`` (IPv4 only): ``{'subnets': [peer container subnets], 'vteps': [peer
    underlay addresses]}`` - new connections from the peers' containers to ours
    (``-s SUBNET -o BRIDGE``), and with VXLAN its UDP port from each peer
    (``-s PEER -p udp --dport 4789``, when INPUT drops)."""
    out = []
    fleet = fleet if fleet and table.family == IPV4 else {}
    if always or blocks(table, 'FORWARD'):
        chain = 'DOCKER-USER' if 'DOCKER-USER' in table.chains else 'FORWARD'
        out.append((chain, fw_tag(bridge, 'in'), ['-i', bridge, '-m', 'comment', '--comment',
                                                  fw_tag(bridge, 'in'), '-j', 'ACCEPT']))
        out.append((chain, fw_tag(bridge, 'out'), ['-o', bridge, '-m', 'conntrack', '--ctstate',
                                                   'RELATED,ESTABLISHED,DNAT', '-m', 'comment',
                                                   '--comment', fw_tag(bridge, 'out'), '-j',
                                                   'ACCEPT']))
        for subnet in fleet.get('subnets', ()):
            kind = fw_tag(bridge, 'fleet_' + str(subnet).replace('/', '_'))
            out.append((chain, kind, ['-s', str(subnet), '-o', bridge, '-m', 'comment',
                                      '--comment', kind, '-j', 'ACCEPT']))
    if always or blocks(table, 'INPUT'):
        out.append(('INPUT', fw_tag(bridge, 'input'), ['-i', bridge, '-m', 'comment',
                                                       '--comment', fw_tag(bridge, 'input'),
                                                       '-j', 'ACCEPT']))
        for peer in fleet.get('vteps', ()):
            kind = fw_tag(bridge, 'vxlan_' + str(peer))
            out.append(('INPUT', kind, ['-s', '%s/32' % peer, '-p', 'udp', '-m', 'udp',
                                        '--dport', str(VXLAN_PORT), '-m', 'comment',
                                        '--comment', kind, '-j', 'ACCEPT']))
    return out


def rule_line(chain, args):
    return '-A %s %s' % (chain, ' '.join(shlex.quote(a) for a in args))


def insert_argv(table, chain, args):
    return [table.argv0, '-w', '-t', 'filter', '-I', chain, '1'] + list(args)


def delete_argv(table, chain, args):
    return [table.argv0, '-w', '-t', 'filter', '-D', chain] + list(args)


def find_binary(cmds, variant, family=IPV4):
    """The iptables (ip6tables) binary of ``variant`` ('nft' | 'legacy'), or None."""
    path = cmds.which(tool_name(variant, family))
    if path:
        return path
    path = cmds.which(TOOLS[family])
    if path:
        rc, out, err = cmds.run([path, '--version'])
        text = out + err
        if rc == 0 and (('nf_tables' in text) == (variant == 'nft')):
            return path
    return None


def legacy_in_use(family=IPV4):
    """iptables-legacy (ip6tables-legacy) has a filter table in this network namespace."""
    try:
        with open(LEGACY_TABLES[family]) as f:
            return 'filter' in f.read().split()
    except (IOError, OSError):
        return False


def read_table(cmds, variant, family=IPV4):
    """(FilterTable, None) or (None, why it could not be read)."""
    argv0 = find_binary(cmds, variant, family)
    if argv0 is None:
        return None, 'no %s (or %s) binary to read it with; install the package that ' \
            'provides it (iptables) and rerun' % (tool_name(variant, family), TOOLS[family])
    rc, out, err = cmds.run([argv0, '-w', '-t', 'filter', '-S'])
    if rc != 0:
        return None, '%s -t filter -S failed: %s' % (argv0, (err or out).strip())
    return parse_rules(variant, argv0, out, family), None


# ------------------------------------------------------------------ the driver
def family_used(want, family):
    """The network carries this iptables family's traffic ('ipv4' always)."""
    return family == IPV4 or bool(want.get('ipv6_subnet'))


def iptables_in_use(chains):
    """[(family, variant)] of the iptables filter tables in this namespace: iptables-nft's
    ``ip``/``ip6 filter`` from the netlink dump, iptables-legacy's from /proc."""
    found = []
    for family in FAMILIES:
        if any(c.family == NFT_FAMILY[family] and c.table == 'filter' and c.name in BUILTIN
               for c in chains):
            found.append((family, 'nft'))
        if legacy_in_use(family):
            found.append((family, 'legacy'))
    return found


def plan_table(table, br, desired, allowed=()):
    """Actions for one iptables variant: insert what is missing, delete what is not wanted.

    Ours that are ``allowed`` (chain, tag) stay even when not ``desired``: a chain that
    does not drop now (a firewall between its stop and its start: ``ufw reload``,
    ``systemctl restart docker``) will again, and an accept rule in it is harmless."""
    ours = table.ours(br)
    out, keep, first = [], set(), {}
    for o in ours:  # the first of each (chain, tag): a copy of it goes
        first.setdefault((o[0], o[1]), id(o))
    keep.update(first[k] for k in set(allowed) if k in first)
    for chain, tag, args in desired:
        found = [o for o in ours if o[1] == tag and o[0] == chain]
        if found:
            keep.add(id(found[0]))
        else:
            line = '%s %s' % (table.name, rule_line(chain, args))
            out.append(action('iptables_insert', '%s %s' % (table.name, chain),
                              [insert_argv(table, chain, args)], add=[line],
                              rule=rule_line(chain, args)))
    for o in ours:
        if id(o) not in keep:
            line = '%s %s' % (table.name, rule_line(o[0], o[2]))
            out.insert(0, action('iptables_delete', '%s %s' % (table.name, o[0]),
                                 [delete_argv(table, o[0], o[2])], delete=[line],
                                 rule=rule_line(o[0], o[2])))
    return out


class IptablesDriver(Driver):
    """iptables-nft and iptables-legacy, IPv4 and IPv6: tagged accept rules."""

    name = 'iptables'

    def detect(self, ctx, want, chains):
        """``iptables``: the filter tables read, ``unreadable``: (family, variant, why)."""
        tables, unreadable = [], []
        for family, variant in iptables_in_use(chains):
            table, why = read_table(ctx.cmds, variant, family)
            if table is None:
                unreadable.append((family, variant, '%s: %s' % (tool_name(variant, family),
                                                                why)))
            else:
                tables.append(table)
        return {'iptables': tables, 'unreadable': unreadable}

    def plan(self, want, have, on):
        br, actions = want['bridge'], []
        for t in have['iptables']:
            if on and family_used(want, t.family):
                fleet = want.get('fleet')
                allowed = [(c, tag) for c, tag, _a in desired_rules(t, br, fleet, always=True)]
                actions += plan_table(t, br, desired_rules(t, br, fleet), allowed)
            else:
                actions += plan_table(t, br, [])
        return actions

    def lines(self, want, have):
        return ['%s %s' % (t.name, rule_line(c, a))
                for t in have['iptables'] for c, _tag, a in t.ours(want['bridge'])]

    def report(self, want, have, report, warnings):
        br, mode = want['bridge'], want['integration']
        present = want['state'] == 'present'
        for t in have['iptables']:
            if not family_used(want, t.family):
                continue
            docker = 'DOCKER-USER' in t.chains or 'DOCKER' in t.chains
            ufw = any(c.startswith(('ufw-', 'ufw6-')) for c in t.chains)
            report['docker']['iptables'] = report['docker']['iptables'] or docker
            report['ufw'] = report['ufw'] or ufw
            desired = desired_rules(t, br, want.get('fleet'))
            why = dict((h, blocks(t, h)) for h in ('FORWARD', 'INPUT'))
            report['iptables'].append({
                'variant': t.variant, 'family': t.family, 'forward': why['FORWARD'],
                'input': why['INPUT'], 'docker': docker, 'ufw': ufw,
                'rules': [rule_line(c, a) for c, _tag, a in desired] if mode == 'auto' else []})
            if mode == 'none' and present and desired:
                reasons = ', '.join('%s %s' % (h, why[h]) for h in ('FORWARD', 'INPUT') if why[h])
                fixes = '; '.join(' '.join(insert_argv(t, c, a)) for c, _tag, a in desired)
                warnings.append('%s would drop %straffic of %s (%s). Set firewall integration to '
                                'auto, or run: %s' % (t.name, v6(t.family), br, reasons, fixes))
        for family, _variant, why in have['unreadable']:
            if not family_used(want, family):
                continue
            report['unhandled'].append({'what': why})
            if present:
                warnings.append('could not read %s; %straffic of %s may be dropped there' % (
                    why, v6(family), br))

    def handles(self, want, have, chain):
        """iptables-nft's builtin filter chains, read (or said unreadable) here."""
        read = set(NFT_FAMILY[t.family] for t in have['iptables']
                   if t.variant == 'nft' and family_used(want, t.family))
        read |= set(NFT_FAMILY[f] for f, variant, _why in have['unreadable']
                    if variant == 'nft' and family_used(want, f))
        return chain.family in read and chain.table == 'filter' and chain.name in BUILTIN
