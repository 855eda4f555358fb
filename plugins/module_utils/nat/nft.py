# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nftables NAT backend: every rule in table ``inet linuxnet``, one batch per run.

One ``inet`` table (as netavark keeps its own) serves IPv4 and IPv6 alike: a rule says
which family it applies to with ``meta nfproto`` (left out of the rule text where an
``ip``/``ip6`` match implies it, as ``nft list`` does). Base chains use the standard
priorities (dstnat -100, srcnat 100, filter 0), as iptables-nft, Docker and firewalld do.

Migration: earlier releases kept the rules in table ``ip linuxnet``. A run
that finds that table moves every rule of ours out of it (any network's: the moved rule
is exactly what its owner compiles, so the owner's next run changes nothing) and deletes
it, in the same atomic batch that adds the new table: no moment without the rules.

Longer than ~300 lines because compile, observe, plan, migrate and apply are the one
backend's five faces of the same table layout (chains, families, tags); split, each part
would import the others' constants and nothing else.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec as codec
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_expr as x
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_render
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_socket
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.backend import (
    NatBackend)
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.plan import (
    CompiledRule, OwnedRule, diff_rules, parse_tag)
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    Action, ApplyError, PlanError)

FAMILY = codec.NFPROTO_INET
TABLE = 'linuxnet'
TABLE_ID = 'inet %s' % TABLE
# tables of earlier releases, migrated into ours: (family, name)
LEGACY_TABLES = ((codec.NFPROTO_IPV4, 'linuxnet'),)

# chain name -> (hook, priority, type); guard: before conntrack and routing (raw), so it
# sees what arrives as it arrives (a reply's de-NAT comes later)
CHAINS = {
    'guard': (codec.NF_INET_PRE_ROUTING, -300, 'filter'),
    'prerouting': (codec.NF_INET_PRE_ROUTING, -100, 'nat'),
    'output': (codec.NF_INET_LOCAL_OUT, -100, 'nat'),
    'postrouting': (codec.NF_INET_POST_ROUTING, 100, 'nat'),
    'forward': (codec.NF_INET_FORWARD, 0, 'filter'),
}
CHAIN_ORDER = ('prerouting', 'output', 'postrouting', 'forward', 'guard')
OPS = ('create_table', 'create_chain', 'delete_rule', 'add_rule', 'delete_table')


def table_id(family, name):
    return '%s %s' % (codec.FAMILY_NAMES.get(family, family), name)


# ------------------------------------------------------------------ compile
def compile_nft(spec):
    """RuleSpec -> list of nft_expr.Expr (``meta nfproto`` first: the table is inet)."""
    e = x.match_nfproto(spec.family)
    if spec.fib_local:
        e += x.match_fib_daddr_local()
    if spec.saddr is not None:
        e += x.match_ip_addr('saddr', spec.saddr)
    for net in _networks(spec.saddr_not):
        e += x.match_ip_addr('saddr', net, negate=True)
    if spec.daddr is not None:
        e += x.match_ip_addr('daddr', spec.daddr)
    for net in _networks(spec.daddr_not):
        e += x.match_ip_addr('daddr', net, negate=True)
    if spec.iif_not is not None:
        e += x.match_ifname('iif', spec.iif_not, negate=True)
    if spec.oif is not None:
        e += x.match_ifname('oif', spec.oif)
    if spec.oif_not is not None:
        e += x.match_ifname('oif', spec.oif_not, negate=True)
    if spec.proto is not None:
        e += x.match_l4proto(spec.proto)
        if spec.dport is not None:
            e += x.match_dport(spec.dport[0], spec.dport[1])
    if spec.ct_new:
        e += x.match_ct_bits(codec.NFT_CT_STATE, 2 | 4, present=False)
    if spec.ct_dnat is not None:
        e += x.match_ct_bits(codec.NFT_CT_STATUS, codec.IPS_DST_NAT, present=spec.ct_dnat)
    if spec.action == 'masquerade':
        e.append(x.masq())
    elif spec.action == 'drop':
        e.append(x.verdict(codec.NF_DROP))
    elif spec.action == 'dnat':
        e += x.stmt_dnat(spec.to_addr, spec.to_port)
    else:  # pragma: no cover - programming error
        raise ValueError('unknown action %r' % spec.action)
    return e


def _networks(value):
    """None, a network or a tuple of networks -> a list of networks."""
    if value is None:
        return []
    return list(value) if isinstance(value, (tuple, list)) else [value]


def render_nft(exprs):
    """Text of expressions exactly as the kernel will hand them back."""
    raw = exprs if isinstance(exprs, bytes) else x.encode_exprs(exprs)
    return nft_render.render_exprs(x.decode_exprs(raw))


# ------------------------------------------------------------------ observation
class Legacy(object):
    """A table of an earlier release: what must be true before it can be deleted."""

    def __init__(self, family, name, chains, foreign_rules, use):
        self.family = family
        self.name = name
        self.id = table_id(family, name)
        self.chains = chains            # name -> (hook, priority, type)
        self.foreign_rules = foreign_rules
        self.use = use


class Observed(object):
    """Our table as read: our owned rules (those of legacy tables too, ``where`` set),
    and what else lives in it."""

    def __init__(self, table_exists=False, chains=None, owned=None, foreign_rules=0,
                 table_use=0, legacy=None):
        self.table_exists = table_exists
        self.chains = chains or {}          # name -> (hook, priority, type)
        self.owned = owned or []            # [OwnedRule]
        self.foreign_rules = foreign_rules  # rules in our table without our tag
        self.table_use = table_use
        self.legacy = legacy or []          # [Legacy]


def observed_from_table(st, legacy=None):
    """nft_socket.TableState of our table (+ those of legacy tables) -> Observed."""
    obs = Observed(table_exists=st.exists, table_use=st.use)
    for name, ch in st.chains.items():
        obs.chains[name] = (ch.hook, ch.priority, ch.ctype)
    for r in st.rules:
        tag = parse_tag(r.comment)
        if tag is None:
            obs.foreign_rules += 1
        else:
            obs.owned.append(OwnedRule(tag[0], tag[1], r.chain, r.handle, r.text,
                                       exprs=r.exprs))
    for family, lst in legacy or []:
        if not lst.exists:
            continue
        foreign = 0
        for r in lst.rules:
            tag = parse_tag(r.comment)
            if tag is None:
                foreign += 1
                continue
            native = codec.NFPROTO_IPV4 == family and r.raw is not None and (
                x.encode_exprs(x.match_nfproto(4)) + r.raw) or None
            obs.owned.append(OwnedRule(tag[0], tag[1], r.chain, r.handle, r.text,
                                       where=table_id(family, lst.name), native=native,
                                       exprs=r.exprs))
        obs.legacy.append(Legacy(family, lst.name, dict(
            (n, (ch.hook, ch.priority, ch.ctype)) for n, ch in lst.chains.items()),
            foreign, lst.use))
    return obs


# ------------------------------------------------------------------ plan
def check(have):
    """PlanError when a base chain of our table was changed outside this collection."""
    for name in CHAIN_ORDER:
        spec = CHAINS[name]
        cur = have.chains.get(name)
        if cur is not None and cur != spec:
            raise PlanError(
                'chain %s in table %s is (hook %s, priority %s, type %s), expected '
                '(hook %s, priority %s, type %s); it was changed outside this collection. '
                'Delete the table (nft delete table %s) and rerun.' % (
                    name, TABLE_ID, codec.HOOK_NAMES.get(cur[0], cur[0]), cur[1], cur[2],
                    codec.HOOK_NAMES[spec[0]], spec[1], spec[2], TABLE_ID))


def moved(rule):
    """An owned rule of a legacy table, compiled for ours (same rid, chain, matches)."""
    text = render_nft(rule.native)
    return CompiledRule(rule.rid, rule.chain, text, rule.native)


def plan_ops(diff, have):
    """RuleDiff -> actions: the table and base chains when a rule is added, the rules,
    the legacy tables' rules moved, our table deleted when nothing at all remains in
    it, a legacy table deleted when nothing but our moved rules was in it."""
    deletes = list(diff.deletes)
    adds = list(diff.adds)
    deleted = set(id(o) for o in deletes)
    for o in have.owned:
        if o.where is not None and id(o) not in deleted:
            if o.native is None:  # pragma: no cover - legacy tables are ip tables
                raise PlanError('rule %s in table %s cannot be moved to table %s; delete it '
                                '(nft delete rule %s %s handle %s) and rerun'
                                % (o.rid, o.where, TABLE_ID, o.where, o.chain, o.handle))
            deletes.append(o)
            adds.append(moved(o))
    actions = []
    if adds:
        check(have)
        if not have.table_exists:
            actions.append(Action('create_table', TABLE_ID))
        for name in CHAIN_ORDER:
            if name not in have.chains:
                hook, prio, ctype = CHAINS[name]
                actions.append(Action('create_chain', name, hook=codec.HOOK_NAMES[hook],
                                      priority=prio, type=ctype))
    for o in sorted(deletes, key=lambda r: (r.where or '', r.rid, r.handle)):
        actions.append(Action('delete_rule', '%s: %s' % (o.chain, o.rid), handle=o.handle,
                              rule=o.text, table=o.where, _rid=o.rid, _chain=o.chain))
    for d in adds:
        actions.append(Action('add_rule', '%s: %s' % (d.chain, d.rid), rule=d.text,
                              comment=d.comment, _compiled=d, _rid=d.rid))
    ours = [o for o in have.owned if o.where is None]
    remaining = len(ours) + have.foreign_rules + len(adds) - len(
        [o for o in deletes if o.where is None])
    if (have.table_exists and remaining == 0 and (deletes or not diff.adds)
            and set(have.chains) <= set(CHAINS) and have.table_use - len(have.chains) <= 0):
        actions.append(Action('delete_table', TABLE_ID))
    for lg in have.legacy:
        if (lg.foreign_rules == 0 and set(lg.chains) <= set(CHAINS)
                and lg.use - len(lg.chains) <= 0):
            actions.append(Action('delete_table', lg.id))
    return actions


def plan_rules(desired, have, in_scope):
    """The whole NAT plan of one scope on the nftables backend (diff, then operations)."""
    return plan_ops(diff_rules(desired, have.owned, in_scope), have)


def batch_ops(actions):
    """Actions -> nft_socket.BatchOp, in order (one transaction)."""
    families = dict((table_id(f, n), (f, n)) for f, n in LEGACY_TABLES)
    families[TABLE_ID] = (FAMILY, TABLE)
    ops = []
    for a in actions:
        if a.op == 'create_table':
            ops.append(nft_socket.BatchOp('newtable', TABLE, family=FAMILY))
        elif a.op == 'create_chain':
            hook, prio, ctype = CHAINS[a.target]
            ops.append(nft_socket.BatchOp('newchain', TABLE, a.target, hook=hook, priority=prio,
                                          ctype=ctype, family=FAMILY))
        elif a.op == 'delete_rule':
            family, name = families[a.args.get('table') or TABLE_ID]
            ops.append(nft_socket.BatchOp('delrule', name, a.args['_chain'],
                                          handle=a.args['handle'], family=family))
        elif a.op == 'add_rule':
            c = a.args['_compiled']
            ops.append(nft_socket.BatchOp('newrule', TABLE, c.chain, exprs=c.native,
                                          comment=c.comment, family=FAMILY))
        elif a.op == 'delete_table':
            family, name = families[a.target]
            ops.append(nft_socket.BatchOp('deltable', name, family=family))
    return ops


# ------------------------------------------------------------------ the backend
class NftBackend(NatBackend):
    """All rules in table ``inet linuxnet``; one atomic nfnetlink batch per run."""

    name = 'nftables'

    def __init__(self, sock_factory=None):
        # family unspec: pyroute2 stamps the socket's family on every dump request, and
        # one reading covers our table and the legacy ones; batch messages carry their own
        self._factory = sock_factory or (lambda: nft_socket.NftSocket(codec.NFPROTO_UNSPEC))
        self._sock = None

    @property
    def sock(self):
        if self._sock is None:
            self._sock = self._factory()
        return self._sock

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def compile(self, spec):
        exprs = compile_nft(spec)
        return CompiledRule(spec.rid, spec.chain, render_nft(exprs), exprs, spec)

    def observe(self):
        tables = self.sock.tables()
        legacy = [(f, self.sock.dump_table(n, family=f, tables=tables))
                  for f, n in LEGACY_TABLES]
        return observed_from_table(self.sock.dump_table(TABLE, FAMILY, tables), legacy)

    def check(self, have):
        check(have)

    def plan(self, diff, have):
        return plan_ops(diff, have)

    def apply(self, actions):
        ops = batch_ops([a for a in actions if a.op in OPS])
        if not ops:
            return
        try:
            self.sock.batch(ops)
        except nft_socket.NetlinkError as e:
            raise ApplyError(Action('nft_batch', TABLE_ID, messages=len(ops)),
                             '%s (the whole batch was rejected by the kernel; nothing changed)'
                             % (e,), [])
