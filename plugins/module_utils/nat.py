# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NAT and port publishing: desired-state model, observer, planner, applier.

Layers, top to bottom:

* **Model** (backend neutral): :class:`RuleSpec` says *what* a rule matches and
  does (``ip saddr``, ``oifname !=``, ``tcp dport``, ``dnat to``...), plus its
  chain role (``prerouting``/``output``/``postrouting``/``forward``) and its
  rule id (``rid``), e.g. ``masq/net1`` or ``pub/br0/tcp/*/8080/pre``.
* **Backend** (:class:`NatBackend`): compiles specs to its own rules, observes
  its owned rules (by owner tag), plans and applies. :class:`NftBackend` keeps
  everything in the ``ip linuxnet`` nftables table and applies a plan as ONE
  atomic nfnetlink batch. An iptables backend implements the same four methods.
* **Resources** (:class:`MasqueradeResource`, :class:`PortPublishResource`):
  the ``want/observe/plan/apply/render/result`` contract of ``runner.run``.

Owner tag (nft rule comment): ``linuxnet:<rid>#<hash>``. The hash covers the
chain and the compiled rule text, so: same input -> same tag -> no change; a
changed input -> different hash -> that rule (and only it) is replaced
(delete by handle + add). Rules without our tag are never touched.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import ipaddress
import os
import re

from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    Action, ApplyError, PlanError, ValidationError)
from ansible_collections.linuxnet.container_network.plugins.module_utils import nft_netlink as nft

TABLE = 'linuxnet'
TAG_PREFIX = 'linuxnet:'
IP_FORWARD_PATH = '/proc/sys/net/ipv4/ip_forward'
SYSCTL_DROPIN = '/etc/sysctl.d/90-linuxnet-container-network.conf'
SYSCTL_DROPIN_CONTENT = (
    '# Managed by the linuxnet.container_network masquerade module: container\n'
    '# networks are masqueraded, so the host routes between them and its uplinks.\n'
    '# Removed when the last masqueraded network is removed.\n'
    'net.ipv4.ip_forward = 1\n')

# chain name -> (hook, priority, type). Priorities are the standard ones
# (dstnat -100, srcnat 100, filter 0), the same iptables-nft, Docker and
# firewalld use, so base chains of every table run in the usual NAT order.
CHAINS = {
    'prerouting': (nft.NF_INET_PRE_ROUTING, -100, 'nat'),
    'output': (nft.NF_INET_LOCAL_OUT, -100, 'nat'),
    'postrouting': (nft.NF_INET_POST_ROUTING, 100, 'nat'),
    'forward': (nft.NF_INET_FORWARD, 0, 'filter'),
}
CHAIN_ORDER = ('prerouting', 'output', 'postrouting', 'forward')

NAME_RE = re.compile(r'^[A-Za-z0-9_.-]{1,32}$')
LOOPBACK = ipaddress.IPv4Network('127.0.0.0/8')
MAX_EXPANDED_PORTS = 1024


# =================================================================== model
class RuleSpec(object):
    """A backend-neutral rule. Unset fields do not match anything extra.

    Matches: ``saddr``/``daddr`` (IPv4Network), ``daddr_not`` (network),
    ``iif_not``/``oif_not`` (interface names), ``fib_local`` (destination is a
    local address), ``proto`` + ``dport`` ((lo, hi)), ``ct_new`` (neither
    established nor related), ``ct_dnat`` (True: was DNATed, False: was not).
    Action: ``masquerade`` | ``drop`` | ``dnat`` (``to_addr``, ``to_port``).
    """

    FIELDS = ('saddr', 'daddr', 'daddr_not', 'iif_not', 'oif_not', 'fib_local', 'proto',
              'dport', 'ct_new', 'ct_dnat', 'action', 'to_addr', 'to_port')

    def __init__(self, rid, chain, **kw):
        unknown = set(kw) - set(self.FIELDS)
        if unknown:  # pragma: no cover - programming error
            raise TypeError('unknown RuleSpec fields %s' % sorted(unknown))
        self.rid = rid
        self.chain = chain
        for f in self.FIELDS:
            setattr(self, f, kw.get(f))

    @property
    def kind(self):
        return self.rid.split('/', 1)[0]

    @property
    def owner(self):
        return self.rid.split('/')[1]

    def __repr__(self):
        return 'RuleSpec(%s)' % self.rid


def parse_tag(comment):
    """``linuxnet:<rid>#<hash>`` -> (rid, hash), else None."""
    if not comment or not comment.startswith(TAG_PREFIX) or '#' not in comment:
        return None
    rid, sep, digest = comment[len(TAG_PREFIX):].rpartition('#')
    if not rid or not sep or not digest:
        return None
    return rid, digest


def rule_hash(chain, text):
    return hashlib.sha256(('%s\n%s' % (chain, text)).encode('utf-8')).hexdigest()[:12]


class OwnedRule(object):
    """An observed rule carrying our tag."""

    def __init__(self, rid, digest, chain, handle, text):
        self.rid = rid
        self.digest = digest
        self.chain = chain
        self.handle = handle
        self.text = text

    def line(self):
        return render_line(self.chain, self.text, self.rid, self.digest)


class CompiledRule(object):
    """A desired rule compiled by a backend: its text, tag and native form."""

    def __init__(self, spec, text, native):
        self.spec = spec
        self.rid = spec.rid
        self.chain = spec.chain
        self.text = text
        self.digest = rule_hash(spec.chain, text)
        self.native = native

    @property
    def comment(self):
        return '%s%s#%s' % (TAG_PREFIX, self.rid, self.digest)

    def line(self):
        return render_line(self.chain, self.text, self.rid, self.digest)


def render_line(chain, text, rid, digest):
    return '%s: %s comment "%s%s#%s"' % (chain, text, TAG_PREFIX, rid, digest)


class Observed(object):
    """What a backend saw: our owned rules, and what else lives in our table."""

    def __init__(self, table_exists=False, chains=None, owned=None, foreign_rules=0,
                 table_use=0):
        self.table_exists = table_exists
        self.chains = chains or {}          # name -> (hook, priority, type)
        self.owned = owned or []            # [OwnedRule]
        self.foreign_rules = foreign_rules  # rules in our table without our tag
        self.table_use = table_use


# =================================================================== backends
class NatBackend(object):
    """Interface of a NAT backend (nftables now; iptables can plug in later)."""

    name = None

    def compile(self, spec):
        """RuleSpec -> CompiledRule."""
        raise NotImplementedError

    def observe(self):
        """-> Observed."""
        raise NotImplementedError

    def plan(self, desired, have, in_scope):
        """Actions turning ``have`` into ``desired`` for the rids ``in_scope(rid)`` owns."""
        raise NotImplementedError

    def apply(self, actions):
        """Carry out the backend's actions atomically."""
        raise NotImplementedError


def compile_nft(spec):
    """RuleSpec -> (list of nft_netlink.Expr)."""
    e = []
    if spec.fib_local:
        e += nft.match_fib_daddr_local()
    if spec.saddr is not None:
        e += nft.match_ip_addr('saddr', spec.saddr)
    if spec.daddr is not None:
        e += nft.match_ip_addr('daddr', spec.daddr)
    if spec.daddr_not is not None:
        e += nft.match_ip_addr('daddr', spec.daddr_not, negate=True)
    if spec.iif_not is not None:
        e += nft.match_ifname('iif', spec.iif_not, negate=True)
    if spec.oif_not is not None:
        e += nft.match_ifname('oif', spec.oif_not, negate=True)
    if spec.proto is not None:
        e += nft.match_l4proto(spec.proto)
        if spec.dport is not None:
            e += nft.match_dport(spec.dport[0], spec.dport[1])
    if spec.ct_new:
        e += nft.match_ct_bits(nft.NFT_CT_STATE, 2 | 4, present=False)
    if spec.ct_dnat is not None:
        e += nft.match_ct_bits(nft.NFT_CT_STATUS, nft.IPS_DST_NAT, present=spec.ct_dnat)
    if spec.action == 'masquerade':
        e.append(nft.masq())
    elif spec.action == 'drop':
        e.append(nft.verdict(nft.NF_DROP))
    elif spec.action == 'dnat':
        e += nft.stmt_dnat(spec.to_addr, spec.to_port)
    else:  # pragma: no cover - programming error
        raise ValueError('unknown action %r' % spec.action)
    return e


def render_nft(exprs):
    """Text of expressions exactly as the kernel will hand them back."""
    return nft.render_exprs(nft.decode_exprs(nft.encode_exprs(exprs)))


class NftBackend(NatBackend):
    """All rules in table ``ip linuxnet``; one atomic nfnetlink batch per run."""

    name = 'nftables'

    def __init__(self, sock_factory=None, table=TABLE):
        self._factory = sock_factory or nft.NftSocket
        self._sock = None
        self.table = table

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
        return CompiledRule(spec, render_nft(exprs), exprs)

    def observe(self):
        st = self.sock.dump_table(self.table)
        return observed_from_table(st)

    def plan(self, desired, have, in_scope):
        return plan_rules(desired, have, in_scope, self.table)

    def apply(self, actions):
        ops = batch_ops(actions, self.table)
        if not ops:
            return
        try:
            self.sock.batch(ops)
        except nft.NetlinkError as e:
            raise ApplyError(Action('nft_batch', self.table, messages=len(ops)),
                             '%s (the whole batch was rejected by the kernel; nothing changed)'
                             % (e,), [])


def observed_from_table(st):
    obs = Observed(table_exists=st.exists, table_use=st.use)
    for name, ch in st.chains.items():
        obs.chains[name] = (ch.hook, ch.priority, ch.ctype)
    for r in st.rules:
        tag = parse_tag(r.comment)
        if tag is None:
            obs.foreign_rules += 1
            continue
        obs.owned.append(OwnedRule(tag[0], tag[1], r.chain, r.handle, r.text))
    return obs


def plan_rules(desired, have, in_scope, table=TABLE):
    """Rule-level plan for the rids ``in_scope`` says we manage now.

    * a desired rule whose rid and hash are present (in the same chain) is kept;
    * otherwise the observed rules of that rid are deleted and the new one added;
    * observed in-scope rules nobody wants are deleted;
    * the table and base chains are created when a rule is added;
    * the table is deleted when no rule at all remains in it.
    """
    actions = []
    by_rid = {}
    for o in have.owned:
        by_rid.setdefault(o.rid, []).append(o)
    wanted_rids = set()
    deletes = []
    adds = []
    for d in desired:
        if d.rid in wanted_rids:  # pragma: no cover - guarded by the model
            raise PlanError('internal error: duplicate rule id %s' % d.rid)
        wanted_rids.add(d.rid)
        current = by_rid.get(d.rid, [])
        keep = None
        for o in current:
            if keep is None and o.digest == d.digest and o.chain == d.chain:
                keep = o
        for o in current:
            if o is not keep:
                deletes.append(o)
        if keep is None:
            adds.append(d)
    for o in have.owned:
        if o.rid not in wanted_rids and in_scope(o.rid):
            deletes.append(o)

    remaining = len(have.owned) + have.foreign_rules - len(deletes) + len(adds)
    if adds:
        if not have.table_exists:
            actions.append(Action('create_table', 'ip %s' % table))
        for name in CHAIN_ORDER:
            spec = CHAINS[name]
            cur = have.chains.get(name)
            if cur is None:
                actions.append(Action('create_chain', '%s' % name, hook=nft.HOOK_NAMES[spec[0]],
                                      priority=spec[1], type=spec[2]))
            elif cur != spec:
                raise PlanError(
                    'chain %s in table ip %s is (hook %s, priority %s, type %s), expected '
                    '(hook %s, priority %s, type %s); it was changed outside this collection. '
                    'Delete the table (nft delete table ip %s) and rerun.' % (
                        name, table, nft.HOOK_NAMES.get(cur[0], cur[0]), cur[1], cur[2],
                        nft.HOOK_NAMES[spec[0]], spec[1], spec[2], table))
    for o in sorted(deletes, key=lambda x: (x.rid, x.handle)):
        actions.append(Action('delete_rule', '%s: %s' % (o.chain, o.rid), handle=o.handle,
                              rule=o.text))
    for d in adds:
        actions.append(Action('add_rule', '%s: %s' % (d.chain, d.rid), rule=d.text,
                              comment=d.comment, _compiled=d))
    foreign_objects = have.table_use - len(have.chains)
    if (have.table_exists and remaining == 0 and (deletes or not desired)
            and set(have.chains) <= set(CHAINS) and foreign_objects <= 0):
        actions.append(Action('delete_table', 'ip %s' % table))
    return actions


def observed_after(have, actions):
    """The table as ``actions`` (planned from ``have``) would leave it: what a later step
    of the same check-mode run observes. Added rules have no handle yet (the kernel
    assigns it); they are in another step's scope, which never deletes them."""
    after = Observed(have.table_exists, dict(have.chains), list(have.owned),
                     have.foreign_rules, have.table_use)
    for a in actions:
        if a.op == 'create_table':
            after.table_exists = True
        elif a.op == 'create_chain':
            after.chains[a.target] = CHAINS[a.target]
            after.table_use += 1
        elif a.op == 'delete_rule':
            after.owned = [o for o in after.owned if o.handle != a.args['handle']]
        elif a.op == 'add_rule':
            c = a.args['_compiled']
            after.owned.append(OwnedRule(c.rid, c.digest, c.chain, None, c.text))
        elif a.op == 'delete_table':
            after = Observed()
    return after


def batch_ops(actions, table=TABLE):
    ops = []
    for a in actions:
        if a.op == 'create_table':
            ops.append(nft.BatchOp('newtable', table))
        elif a.op == 'create_chain':
            hook, prio, ctype = CHAINS[a.target]
            ops.append(nft.BatchOp('newchain', table, a.target, hook=hook, priority=prio,
                                   ctype=ctype))
        elif a.op == 'delete_rule':
            ops.append(nft.BatchOp('delrule', table, a.target.split(':', 1)[0],
                                   handle=a.args['handle']))
        elif a.op == 'add_rule':
            c = a.args['_compiled']
            ops.append(nft.BatchOp('newrule', table, c.chain, exprs=c.native, comment=c.comment))
        elif a.op == 'delete_table':
            ops.append(nft.BatchOp('deltable', table))
    return ops


NFT_OPS = ('create_table', 'create_chain', 'delete_rule', 'add_rule', 'delete_table')


def rules_after(desired, have, in_scope):
    """Lines of the in-scope rules after the plan (desired ones, sorted)."""
    return sorted(d.line() for d in desired)


def rules_before(have, in_scope):
    return sorted(o.line() for o in have.owned if in_scope(o.rid))


# =================================================================== validation helpers
def _name(value, what):
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValidationError('%s: %r is not a valid name (1-32 of A-Z a-z 0-9 _ . -)'
                              % (what, value))
    return value


def _ifname(value, what):
    if not isinstance(value, str) or not value or len(value.encode('utf-8')) > 15 or \
            '/' in value or ' ' in value:
        raise ValidationError('%s: %r is not a valid interface name (1-15 characters, no "/" '
                              'or space)' % (what, value))
    return value


def _subnet(value, what):
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise ValidationError('%s: %r is not a subnet like 172.18.0.0/16' % (what, value))
    if net.version != 4:
        raise ValidationError('%s: %s is IPv6; only IPv4 is handled yet' % (what, value))
    if net.prefixlen == 0:
        raise ValidationError('%s: %s would cover every address' % (what, value))
    return net


def parse_ports(value, what):
    """8080, "8080" or "8000-8010" -> (lo, hi)."""
    if isinstance(value, bool):
        raise ValidationError('%s: %r is not a port or port range' % (what, value))
    if isinstance(value, int):
        lo = hi = value
    else:
        s = str(value).strip()
        m = re.match(r'^(\d+)(?:\s*-\s*(\d+))?$', s)
        if not m:
            raise ValidationError('%s: %r is not a port (1-65535) or a range like "8000-8010"'
                                  % (what, value))
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
    for p in (lo, hi):
        if not 1 <= p <= 65535:
            raise ValidationError('%s: port %d is out of range (1-65535)' % (what, p))
    if hi < lo:
        raise ValidationError('%s: range %d-%d is reversed' % (what, lo, hi))
    return lo, hi


def ports_text(rng):
    return '%d' % rng[0] if rng[0] == rng[1] else '%d-%d' % rng


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError) as e:
        if e.errno == errno.ENOENT:
            return None
        raise


# =================================================================== resources
class _Ctx(object):
    def __init__(self, backend):
        self.backend = backend

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.backend.close()
        return False


class _NatResource(object):
    """Shared plumbing: backend construction, context, diff of in-scope rules."""

    backend_class = NftBackend

    def __init__(self, backend=None):
        self._backend = backend

    def context(self, module):
        return _Ctx(self._backend or self.backend_class())

    def _diff_rules(self, want, have):
        scope = self.in_scope(want)
        before = rules_before(have['nat'], scope)
        after = sorted(d.line() for d in have['compiled'])
        return before, after


class MasqueradeResource(_NatResource):
    """Module ``masquerade``: one postrouting masquerade rule per network."""

    def want(self, params):
        nets = params.get('networks') or []
        seen = {}
        subnets = {}
        out = []
        for i, n in enumerate(nets):
            what = 'networks[%d]' % i
            name = _name(n.get('name'), what + '.name')
            what = 'networks[%d] (%s)' % (i, name)
            if name in seen:
                raise ValidationError('%s: name given twice (also networks[%d])'
                                      % (what, seen[name]))
            seen[name] = i
            state = n.get('state') or params.get('state') or 'present'
            item = {'name': name, 'state': state, 'subnet': None, 'bridge': None}
            if state == 'present':
                if not n.get('subnet') or not n.get('bridge'):
                    raise ValidationError('%s: subnet and bridge are required when state is '
                                          'present' % what)
                item['subnet'] = _subnet(n['subnet'], what + '.subnet')
                item['bridge'] = _ifname(n['bridge'], what + '.bridge')
                for other, net in subnets.items():
                    if net.overlaps(item['subnet']):
                        raise ValidationError('%s: subnet %s overlaps network %s (%s)' % (
                            what, item['subnet'], other, net))
                subnets[name] = item['subnet']
            out.append(item)
        return {'networks': out}

    @staticmethod
    def in_scope(want):
        rids = set('masq/%s' % n['name'] for n in want['networks'])
        return lambda rid: rid in rids

    @staticmethod
    def specs(want):
        return [RuleSpec('masq/%s' % n['name'], 'postrouting', saddr=n['subnet'],
                         oif_not=n['bridge'], action='masquerade')
                for n in want['networks'] if n['state'] == 'present']

    def observe(self, ctx, want):
        nat = ctx.backend.observe()
        compiled = [ctx.backend.compile(s) for s in self.specs(want)]
        fwd = _read(IP_FORWARD_PATH)
        return {'nat': nat, 'compiled': compiled, 'backend': ctx.backend,
                'ip_forward': fwd.strip() if fwd is not None else None,
                'dropin': _read(SYSCTL_DROPIN)}

    def plan(self, want, have):
        scope = self.in_scope(want)
        actions = have['backend'].plan(have['compiled'], have['nat'], scope)
        # masquerade rules left after the plan: ours (desired) + other networks' untouched
        remaining = len(have['compiled']) + len(
            [o for o in have['nat'].owned if o.rid.startswith('masq/') and not scope(o.rid)])
        if remaining:
            if have['ip_forward'] != '1':
                actions.append(Action('set_sysctl', 'net.ipv4.ip_forward', value='1'))
            if have['dropin'] != SYSCTL_DROPIN_CONTENT:
                actions.append(Action('write_file', SYSCTL_DROPIN))
        elif have['dropin'] is not None:
            actions.append(Action('remove_file', SYSCTL_DROPIN))
        return actions

    def apply(self, ctx, actions, have=None):
        ctx.backend.apply([a for a in actions if a.op in NFT_OPS])
        done = [a for a in actions if a.op in NFT_OPS]
        for a in actions:
            try:
                if a.op == 'set_sysctl':
                    with open(IP_FORWARD_PATH, 'w') as f:
                        f.write(a.args['value'] + '\n')
                elif a.op == 'write_file':
                    d = os.path.dirname(SYSCTL_DROPIN)
                    if not os.path.isdir(d):
                        os.makedirs(d, 0o755)
                    tmp = SYSCTL_DROPIN + '.tmp'
                    with open(tmp, 'w') as f:
                        f.write(SYSCTL_DROPIN_CONTENT)
                    os.chmod(tmp, 0o644)
                    os.rename(tmp, SYSCTL_DROPIN)
                elif a.op == 'remove_file':
                    os.unlink(SYSCTL_DROPIN)
                else:
                    continue
            except (IOError, OSError) as e:
                raise ApplyError(a, e, done)
            done.append(a)

    def render(self, want, have, actions):
        before, after = self._diff_rules(want, have)
        fwd_after = '1' if any(a.op == 'set_sysctl' for a in actions) else have['ip_forward']
        has_dropin_after = (have['dropin'] is not None or any(a.op == 'write_file' for a in actions)) \
            and not any(a.op == 'remove_file' for a in actions)
        before += ['sysctl net.ipv4.ip_forward = %s' % have['ip_forward'],
                   'file %s: %s' % (SYSCTL_DROPIN, 'present' if have['dropin'] is not None
                                    else 'absent')]
        after += ['sysctl net.ipv4.ip_forward = %s' % fwd_after,
                  'file %s: %s' % (SYSCTL_DROPIN, 'present' if has_dropin_after else 'absent')]
        return '\n'.join(before) + '\n', '\n'.join(after) + '\n'

    def result(self, want, have, actions):
        return {'rules': sorted(d.line() for d in have['compiled']),
                'backend': have['backend'].name}


class PortPublishResource(_NatResource):
    """Module ``port_publish``: the full set of publications of one network."""

    def want(self, params):
        net = _name(params.get('network'), 'network')
        state = params.get('state') or 'present'
        want = {'network': net, 'state': state, 'bridge': None, 'subnet': None,
                'ingress_protection': bool(params.get('ingress_protection', True)),
                'publications': []}
        pubs = params.get('publications') or []
        if state == 'absent':
            return want
        if not params.get('bridge') or not params.get('subnet'):
            raise ValidationError('network %s: bridge and subnet are required when state is '
                                  'present' % net)
        want['bridge'] = _ifname(params['bridge'], 'bridge')
        subnet = want['subnet'] = _subnet(params['subnet'], 'subnet')
        for i, p in enumerate(pubs):
            want['publications'].append(self._publication(i, p, subnet))
        pl = want['publications']
        for i in range(len(pl)):
            for j in range(i):
                if publications_overlap(pl[i], pl[j]):
                    raise ValidationError(
                        'publications[%d] (%s) and publications[%d] (%s) publish the same host '
                        'address/port/protocol; each host port can be published once'
                        % (j, pub_label(pl[j]), i, pub_label(pl[i])))
        return want

    @staticmethod
    def _publication(i, p, subnet):
        what = 'publications[%d]' % i
        if not isinstance(p, dict):
            raise ValidationError('%s: must be a dict' % what)
        if p.get('host_port') is None:
            raise ValidationError('%s: host_port is required' % what)
        host = parse_ports(p['host_port'], what + '.host_port')
        what = 'publications[%d] (host_port %s)' % (i, ports_text(host))
        cport = p.get('container_port')
        cont = parse_ports(cport, what + '.container_port') if cport is not None else host
        if cont[1] - cont[0] != host[1] - host[0]:
            raise ValidationError('%s: host range %s and container range %s have different '
                                  'lengths' % (what, ports_text(host), ports_text(cont)))
        if host != cont and host[0] != host[1] and host[1] - host[0] + 1 > MAX_EXPANDED_PORTS:
            raise ValidationError('%s: a range mapped to different container ports is limited '
                                  'to %d ports' % (what, MAX_EXPANDED_PORTS))
        proto = p.get('protocol') or 'tcp'
        if proto not in ('tcp', 'udp'):
            raise ValidationError('%s: protocol %r is not tcp or udp' % (what, proto))
        host_ip = p.get('host_ip')
        if host_ip in ('', None, '0.0.0.0'):
            host_ip = None
        else:
            try:
                host_ip = ipaddress.ip_address(str(host_ip))
            except ValueError:
                raise ValidationError('%s: host_ip %r is not an IP address' % (what, host_ip))
            if host_ip.version != 4:
                raise ValidationError('%s: host_ip %s is IPv6; only IPv4 is handled yet'
                                      % (what, host_ip))
            if host_ip in LOOPBACK:
                raise ValidationError('%s: host_ip %s is a loopback address; publishing on '
                                      'loopback is not supported (it needs route_localnet)'
                                      % (what, host_ip))
        caddr = p.get('container_address')
        try:
            caddr = ipaddress.ip_address(str(caddr))
        except ValueError:
            raise ValidationError('%s: container_address %r is not an IP address' % (what, caddr))
        if caddr.version != 4 or caddr not in subnet:
            raise ValidationError('%s: container_address %s is outside the network\'s subnet %s'
                                  % (what, caddr, subnet))
        if subnet.prefixlen < 31 and caddr in (subnet.network_address, subnet.broadcast_address):
            raise ValidationError('%s: container_address %s is the network or broadcast address '
                                  'of %s' % (what, caddr, subnet))
        return {'host': host, 'cont': cont, 'proto': proto, 'host_ip': host_ip, 'addr': caddr}

    def in_scope(self, want):
        prefix = 'pub/%s/' % want['network']
        return lambda rid: rid.startswith(prefix)

    @staticmethod
    def specs(want):
        if want['state'] != 'present':
            return []
        net, br, subnet = want['network'], want['bridge'], want['subnet']
        specs = []
        for p in want['publications']:
            host, cont = p['host'], p['cont']
            if host == cont:
                groups = [(host, cont[0] if host[0] == host[1] else None)]
            elif host[0] == host[1]:
                groups = [(host, cont[0])]
            else:  # same length, different ports: one rule per port
                groups = [((hp, hp), cont[0] + k) for k, hp in enumerate(range(host[0], host[1] + 1))]
            hip = str(p['host_ip']) if p['host_ip'] is not None else '*'
            for hrange, to_port in groups:
                base = 'pub/%s/%s/%s/%s' % (net, p['proto'], hip, ports_text(hrange))
                match = dict(proto=p['proto'], dport=hrange, action='dnat',
                             to_addr=str(p['addr']), to_port=to_port)
                if p['host_ip'] is not None:
                    match['daddr'] = ipaddress.IPv4Network(p['host_ip'])
                    specs.append(RuleSpec(base + '/pre', 'prerouting', **match))
                    specs.append(RuleSpec(base + '/out', 'output', **match))
                else:
                    specs.append(RuleSpec(base + '/pre', 'prerouting', fib_local=True, **match))
                    specs.append(RuleSpec(base + '/out', 'output', fib_local=True,
                                          daddr_not=LOOPBACK, **match))
        if want['publications']:
            # hairpin: a container reaching a published port through a host address is
            # DNATed back into its own subnet; masquerade so replies come back through us
            specs.append(RuleSpec('pub/%s/hairpin' % net, 'postrouting', saddr=subnet,
                                  daddr=subnet, ct_dnat=True, action='masquerade'))
        if want['ingress_protection']:
            specs.append(RuleSpec('pub/%s/ingress' % net, 'forward', daddr=subnet, iif_not=br,
                                  ct_new=True, ct_dnat=False, action='drop'))
        return specs

    def observe(self, ctx, want):
        nat = ctx.backend.observe()
        compiled = [ctx.backend.compile(s) for s in self.specs(want)]
        fwd = _read(IP_FORWARD_PATH)
        return {'nat': nat, 'compiled': compiled, 'backend': ctx.backend,
                'ip_forward': fwd.strip() if fwd is not None else None}

    def plan(self, want, have):
        scope = self.in_scope(want)
        # conflicts with publications of other networks (their rids say what they publish)
        for o in have['nat'].owned:
            if scope(o.rid) or not o.rid.endswith('/pre'):
                continue
            other = pub_from_rid(o.rid)
            if other is None:
                continue
            for i, p in enumerate(want['publications']):
                if publications_overlap(p, other):
                    raise PlanError(
                        'publications[%d] (%s) conflicts with network %s, which already '
                        'publishes %s; each host port can be published once'
                        % (i, pub_label(p), o.rid.split('/')[1], pub_label(other)))
        return have['backend'].plan(have['compiled'], have['nat'], scope)

    def apply(self, ctx, actions, have=None):
        ctx.backend.apply(actions)

    def render(self, want, have, actions):
        before, after = self._diff_rules(want, have)
        return '\n'.join(before) + ('\n' if before else ''), '\n'.join(after) + ('\n' if after else '')

    def result(self, want, have, actions):
        res = {'rules': sorted(d.line() for d in have['compiled']),
               'backend': have['backend'].name}
        if want['publications'] and have['ip_forward'] not in ('1', None):
            res['warnings'] = ['net.ipv4.ip_forward is 0: published ports are reachable from the '
                               'host itself only. The masquerade module enables forwarding.']
        return res


def publications_overlap(a, b):
    if a['proto'] != b['proto']:
        return False
    if a['host_ip'] is not None and b['host_ip'] is not None and a['host_ip'] != b['host_ip']:
        return False
    return a['host'][0] <= b['host'][1] and b['host'][0] <= a['host'][1]


def pub_label(p):
    return '%s %s:%s' % (p['proto'], p['host_ip'] if p['host_ip'] is not None else '*',
                         ports_text(p['host']))


def pub_from_rid(rid):
    """``pub/<net>/<proto>/<ip|*>/<ports>/<pre|out>`` -> publication dict (or None)."""
    parts = rid.split('/')
    if len(parts) != 6 or parts[0] != 'pub':
        return None
    try:
        host = parse_ports(parts[4], 'rid')
        host_ip = None if parts[3] == '*' else ipaddress.ip_address(parts[3])
    except (ValidationError, ValueError):
        return None
    return {'proto': parts[2], 'host_ip': host_ip, 'host': host}
