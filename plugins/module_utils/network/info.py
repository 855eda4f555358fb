# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a host's container networks are now (module ``network_info``): want -> have, no plan.

Read with the readers the other modules use - :mod:`observe` (one dump per object kind per
namespace, through one :class:`observe.Reading`), the nftables backend's observation of
table ``inet linuxnet`` (rules by owner tag) and :mod:`persist`'s paths - and assembled
by :func:`assemble` (pure). Ownership is read as the collection marks it: veth host ends
and namespaces' ``lo`` carry the alias ``linuxnet:<network>``, NAT rules their rule ids
(``masq/<network>``, ``pub/<network>/...``), a persistent network its ``network.json``.

Drift: the ``network`` module's own pipeline (:class:`network.NetworkResource`) in check
mode on a description - given, or a persistent network's ``network.json`` - sharing this
run's :class:`observe.Reading` (each namespace read once): exactly the actions a run of
module ``network`` would take, never applied.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.linuxnet.container_network.plugins.module_utils.network import fleet_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import fleet_kernel
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import resources as nat
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import forwarding
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_expr
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import model as nat_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import observe
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import options
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import persist
from ansible_collections.linuxnet.container_network.plugins.module_utils import validate as v
from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import (
    RuleId, owner_of, owner_tag,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.hostio import read_text
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.pipeline import (
    NetworkResource,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.nft import (
    CHAIN_ORDER, NftBackend,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import (
    Kernel, list_netns,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    Invocation, PlanError, ValidationError,
)

# The network description: module ``network``'s options (module_utils/options.py)
DESCRIPTION = options.SAVED + options.RUN_ONLY
# What every namespace and the host are read with: a superset of what the network
# pipeline's stages ask for, so that its drift run reads nothing again.
READ_HINT = {'netns': {'addresses': True, 'routes': (4, 6)},
             'host': {'addresses': True, 'hairpin': True}}
FAMILY = {4: 'ipv4', 6: 'ipv6'}


# ------------------------------------------------------------------ want
def info_want(params):
    """Options -> {'bridge', 'foreign', 'described': {bridge: network want}}."""
    bridge = params.get('bridge')
    if bridge is not None:
        v.ifname(bridge, v.Path().bridge)
    given = [k for k in DESCRIPTION if k != 'bridge' and params.get(k) is not None]
    described = {}
    if given:
        if bridge is None:
            raise ValidationError(
                'bridge: missing; %s describe one network, named by its bridge: give '
                'bridge too (or leave out the description to list every network)'
                % ', '.join(given))
        described[bridge] = network_want(description(params))
    return {'bridge': bridge, 'foreign': bool(params.get('foreign')),
            'described': described}


def description(params):
    """The options of module ``network`` (its defaults where not given)."""
    out = dict((k, params.get(k)) for k in DESCRIPTION)
    for k, value in options.DEFAULTS.items():
        if out.get(k) is None:
            out[k] = value
    return out


def network_want(params):
    """Module ``network``'s want of a description (ValidationError if bad)."""
    return NetworkResource().want(params)


# ------------------------------------------------------------------ reading
class InfoContext(object):
    """One :class:`observe.Reading` (check mode: missing objects predicted as new), the
    NAT backend, the invocation (its parameters; its ``run_command`` for the firewall
    stage of a drift run)."""

    def __init__(self, inv=None, kernel=None, backend=None):
        self.inv = inv
        self.reading = observe.Reading(kernel or Kernel(), predict_missing=True,
                                       read_hint=READ_HINT)
        self.nat = nat.NatContext(backend or NftBackend())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.reading.close()
        finally:
            self.nat.__exit__(*exc)
        return False


def _read_text(path):
    """A file's text, stripped; None when missing or unreadable (info reports, never fails)."""
    try:
        text = read_text(path)
    except (IOError, OSError):
        return None
    return text.strip() if text is not None else None


def persisted():
    """{network: its saved description} of the persistent networks (``network.json``)."""
    out = {}
    try:
        names = sorted(os.listdir(persist.STATE_DIR))
    except OSError:
        return out
    for name in names:
        text = _read_text(os.path.join(persist.network_dir(name), 'network.json'))
        if text is None:
            continue
        try:
            out[name] = json.loads(text)['network']
        except (ValueError, KeyError, TypeError) as e:
            out[name] = {'error': '%s: unreadable (%s); rerun module network for it'
                         % (os.path.join(persist.network_dir(name), 'network.json'), e)}
    return out


def read(ctx, bridge=None):
    """Everything :func:`assemble` needs, read once: the host, the namespaces (their
    ``lo`` each, then in full those a network of ours owns), our NAT table, the
    persisted descriptions, the forwarding sysctls."""
    k = ctx.reading
    host = observe.ns_view(k, None, addresses=True, hairpin=True)
    names = sorted(list_netns())
    k.open_many(names)
    owners, unreadable, views = {}, [], {}
    for n in names:
        try:
            # one network: its owner tag first (its lo alone); else each namespace in full
            view = observe.lo_view(k, n) if bridge is not None else observe.ns_view(
                k, n, addresses=True, routes=(4, 6))
        except OSError:  # a stale /run/netns entry
            unreadable.append(n)
            continue
        owners[n] = _owner(view.get('lo'))
        if owners[n] and (bridge is None or owners[n] == bridge):
            views[n] = observe.ns_view(k, n, addresses=True, routes=(4, 6))
    return {'host': host, 'owners': owners, 'unreadable': unreadable, 'views': views,
            'fleet': fleet_kernel.observed_routes(k.raw()),
            'rules': ctx.nat.backend.observe().owned, 'persisted': persisted(),
            'sysctl': {'ip_forward': _read_text(forwarding.IP_FORWARD_PATH),
                       'ipv6_forwarding': _read_text(forwarding.sysctl_path(forwarding.FORWARDING6))}}


def _owner(link):
    return owner_of(link.alias if link is not None else None)


# ------------------------------------------------------------------ assembly (pure)
def assemble(seen, bridge=None, foreign=False):
    """What :func:`read` returned -> ``{'networks': ..., 'host': ..., ['foreign': ...]}``."""
    host, views = seen['host'], seen['views']
    names = set(o for o in seen['owners'].values() if o)
    names.update(_owner(l) for l in host.links.values() if l.kind == 'veth' and _owner(l))
    names.update(RuleId(r.rid).network for r in seen['rules'] if RuleId(r.rid).network)
    names.update(seen['persisted'])
    if bridge is not None:
        names &= set([bridge])
    # each namespace veth by the index of its peer (the host end)
    peers = {}
    for ns, view in views.items():
        for l in view.links.values():
            if l.kind == 'veth' and l.peer_index:
                peers.setdefault(l.peer_index, []).append((ns, l))
    networks = dict((n, network(n, seen, peers)) for n in sorted(names))
    out = {'networks': networks, 'host': dict(seen['sysctl'])}
    if foreign:
        ours = set(n for n, o in seen['owners'].items() if o)
        out['foreign'] = {
            'namespaces': sorted(set(seen['owners']) - ours | set(seen['unreadable'])),
            'bridges': sorted(l.name for l in host.links.values()
                              if l.kind == 'bridge' and l.name not in networks
                              and _owner(l) is None)}
    return out


def _split(addresses):
    v4 = [a for a in addresses if a.version == 4]
    v6 = [a for a in addresses if a.version == 6]
    return v4, v6


def network(name, seen, peers):
    """One network (named by its bridge) as the kernel has it."""
    host, tag = seen['host'], owner_tag(name)
    br = host.get(name)
    v4, v6 = _split(br.addresses if br is not None else [])
    containers = []
    found = set()
    for h in sorted(host.links.values(), key=lambda l: l.name):
        if h.kind != 'veth' or h.alias != tag:
            continue
        match = [(ns, p) for ns, p in peers.get(h.index, ())
                 if seen['owners'].get(ns) == name and p.index == h.peer_index]
        ns, peer = match[0] if match else (None, None)
        found.add(ns)
        containers.append(container(ns, h, peer, seen['views'].get(ns), host))
    for ns, owner in sorted(seen['owners'].items()):
        if owner == name and ns not in found:  # a namespace without its veth pair
            containers.append(container(ns, None, None, seen['views'].get(ns), host))
    containers.sort(key=lambda c: (c['name'] is None, c['name'] or '', c['host_ifname'] or ''))
    rules = sorted((r for r in seen['rules'] if RuleId(r.rid).network == name),
                   key=lambda r: (_chain_rank(r.chain), r.rid))
    rids = set(r.rid for r in rules)
    persisted_json = seen['persisted'].get(name)
    return {
        'bridge': {'name': name, 'present': br is not None and br.kind == 'bridge',
                   'up': br.up if br is not None else None,
                   'mtu': br.mtu if br is not None else None,
                   'mac': br.mac if br is not None else None,
                   'addresses': [str(a) for a in v4 + v6]},
        'subnet': str(v4[0].network) if v4 else None,
        'gateway': str(v4[0].ip) if v4 else None,
        'ipv6_subnet': str(v6[0].network) if v6 else None,
        'ipv6_gateway': str(v6[0].ip) if v6 else None,
        'containers': containers,
        'published_ports': published(name, rules, containers),
        'masquerade': {'ipv4': RuleId.masq(name) in rids, 'ipv6': RuleId.masq(name, 6) in rids},
        'ingress_protection': {'ipv4': RuleId.pub(name, 'ingress') in rids,
                               'ipv6': RuleId.pub(name, 'ingress6') in rids},
        'localhost_guard': RuleId.pub(name, 'localhost-guard') in rids,
        'persistent': {'enabled': persisted_json is not None,
                       'unit': persist.unit_name(name)},
        'fleet_routes': [dict((k, v) for k, v in r.items() if k != 'realm')
                         for r in seen.get('fleet', []) if r['realm'] == fleet_model.realm(name)],
        'rules': ['%s  # %s' % (r.text, r.rid) for r in rules],
    }


def _chain_rank(chain):
    return CHAIN_ORDER.index(chain) if chain in CHAIN_ORDER else len(CHAIN_ORDER)


def container(ns, h, peer, view, host):
    """One container: its namespace, the veth pair's two ends, addresses, default routes."""
    addrs = peer.addresses if peer is not None else []
    v4, v6 = _split(addrs)
    routes = []
    for version, gw in sorted(((view.default_routes or {}) if view is not None else {}).items()):
        routes.append({'family': FAMILY[version], 'dst': 'default',
                       'gateway': None if gw == 'direct' else str(gw)})
    return {'name': ns, 'namespace': ns is not None,
            'host_ifname': h.name if h is not None else None,
            'ifname': peer.name if peer is not None else None,
            'addresses': [str(a) for a in addrs],
            'address': str(v4[0].ip) if v4 else None,
            'ipv6_address': str(v6[0].ip) if v6 else None,
            'mac': peer.mac if peer is not None else None,
            'mtu': peer.mtu if peer is not None else None,
            'up': bool(h is not None and peer is not None and h.up and peer.up),
            'attached': bool(h is not None and host.master_name(h) is not None
                             and host.master_name(h) == _owner(h)),
            'hairpin': bool(h is not None and h.hairpin),
            'routes': routes}


def published(name, rules, containers):
    """The network's published ports, from its DNAT rules (one entry per publication and
    IP version; ``rules``: the ids of those of its rules that are there)."""
    by_addr = {}
    for c in containers:
        for a in c['addresses']:
            by_addr[a.split('/')[0]] = c['name']
    groups = {}
    for r in rules:
        pub = nat_model.pub_from_rid(r.rid)
        if pub is None:
            continue
        what = RuleId(r.rid).publication
        groups.setdefault((what.proto, what.ip, what.ports), []).append((r, pub))
    out = []
    for (_proto, _ip, host_port), members in groups.items():
        members.sort(key=lambda m: RuleId(m[0].rid).publication.hook == 'out')  # pre first
        rule, pub = members[0]
        addr, port = nft_expr.dnat_target(rule.exprs) or (None, None)
        out.append({'protocol': pub['proto'], 'family': FAMILY[pub['families'][0]],
                    'host_ip': str(pub['host_ip']) if pub['host_ip'] is not None else None,
                    'host_port': host_port, 'container': by_addr.get(addr),
                    'container_address': addr,
                    'container_port': str(port) if port is not None else host_port,
                    'rules': [r.rid for r, _p in members]})
    out.sort(key=lambda p: (p['protocol'], pub_port(p['host_port']), p['family'],
                            p['host_ip'] or ''))
    return out


def pub_port(text):
    return int(text.split('-')[0]) if text.split('-')[0].isdigit() else 0


# ------------------------------------------------------------------ drift
def drift(ctx, params, want):
    """The actions module ``network`` would take for ``want`` (check mode, never applied),
    on this run's reading."""
    res = NetworkResource()
    # on what this run read, not a second reading
    net_ctx = res.context(Invocation(params, check_mode=True,
                                     run_command=getattr(ctx.inv, 'run_command', None)),
                          reading=ctx.reading)
    result = {'changed': False, 'actions': []}
    with net_ctx:
        try:
            extra = res.converge(net_ctx, want, True, False, result)
        except (PlanError, ValidationError) as e:
            return {'changed': None, 'actions': result['actions'],
                    'error': 'module network would fail: %s' % e}
    out = {'changed': result['changed'], 'actions': result['actions']}
    if extra.get('warnings'):
        out['warnings'] = extra['warnings']
    return out


def persisted_drift(ctx, name, saved):
    """Drift of a persistent network against its ``network.json``."""
    if 'error' in saved:
        return {'changed': None, 'actions': [], 'error': saved['error']}
    params = description(dict(saved, state='present', persistent=True))
    try:
        want = network_want(params)
    except ValidationError as e:
        return {'changed': None, 'actions': [],
                'error': '%s: %s' % (os.path.join(persist.network_dir(name), 'network.json'),
                                     e)}
    return drift(ctx, params, want)


# ------------------------------------------------------------------ the resource
class InfoResource(object):
    """Module ``network_info``: observes, plans nothing."""

    def want(self, params):
        return info_want(params)

    def context(self, inv):
        return InfoContext(inv)

    def observe(self, ctx, want):
        seen = read(ctx, want['bridge'])
        have = assemble(seen, want['bridge'], want['foreign'])
        drifts = {}
        for name, net_want in want['described'].items():
            drifts[name] = drift(ctx, description(ctx.inv.params), net_want)
        for name, saved in sorted(seen['persisted'].items()):
            if name not in drifts and (want['bridge'] is None or name == want['bridge']):
                drifts[name] = persisted_drift(ctx, name, saved)
        if drifts:
            have['drift'] = drifts
        return have

    def plan(self, want, have):
        return []

    def apply(self, ctx, actions, have=None):  # pragma: no cover - never planned
        raise PlanError('module network_info changes nothing')

    def render(self, want, have, actions):
        return {}, {}

    def result(self, want, have, actions):
        return have
