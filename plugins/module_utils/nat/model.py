# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NAT desired state, backend neutral: what to masquerade and publish, as rule specs.

:func:`masquerade_want` and :func:`publish_want` validate the modules' parameters into
plain records; :func:`masquerade_specs` and :func:`publish_specs` say which rules that
takes, each a :class:`RuleSpec` (what it matches, what it does, in which chain role,
under which rule id). The rule id (``rid``: ``masq/<network>``, ``masq/<network>/6``,
``pub/<network>/<proto>/<host ip|*|*6>/<ports>/<pre|out>``, ``pub/<network>/hairpin[6]``,
``pub/<network>/ingress[6]``) scopes ownership: a network's run touches only its own.
IPv6 rules are the IPv4 ones for the network's ``ipv6_subnet`` (``*6``: every local IPv6
address; an IPv6 host address is written as it is).
Compiling specs to rules is a backend's job (:mod:`nat_backend`).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.linuxnet.container_network.plugins.module_utils import validate as v
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.publications import (
    families, publication)
from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import PUB, RuleId
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError)
from ansible_collections.linuxnet.container_network.plugins.module_utils.validate import (
    Path, ports_text)

LOOPBACK = ipaddress.IPv4Network('127.0.0.0/8')
LOOPBACK6 = ipaddress.IPv6Network('::1/128')


class RuleSpec(object):
    """A backend-neutral rule. Unset fields do not match anything extra.

    Matches: ``saddr``/``daddr`` (IPv4Network or IPv6Network), ``saddr_not``/``daddr_not``
    (a network, or a tuple of networks none of which may match: a fleet's peer subnets),
    ``iif_not``/``oif``/``oif_not`` (interface names), ``fib_local`` (destination is a
    local address), ``proto`` + ``dport`` ((lo, hi)), ``ct_new`` (neither
    established nor related), ``ct_dnat`` (True: was DNATed, False: was not).
    Action: ``masquerade`` | ``drop`` | ``dnat`` (``to_addr``, ``to_port``).
    ``family``: the IP version the rule applies to (4 or 6; by default that of its
    addresses, else 4; a backend matches it explicitly where its table serves both).
    """

    FIELDS = ('family', 'saddr', 'saddr_not', 'daddr', 'daddr_not', 'iif_not', 'oif', 'oif_not', 'fib_local',
              'proto', 'dport', 'ct_new', 'ct_dnat', 'action', 'to_addr', 'to_port')

    def __init__(self, rid, chain, **kw):
        unknown = set(kw) - set(self.FIELDS)
        if unknown:  # pragma: no cover - programming error
            raise TypeError('unknown RuleSpec fields %s' % sorted(unknown))
        self.rid = rid
        self.chain = chain
        for f in self.FIELDS:
            setattr(self, f, kw.get(f))
        if self.family is None:
            versions = [getattr(a, 'version', None) for a in (
                self.saddr, self.daddr, self.daddr_not)] + [
                ipaddress.ip_address(str(self.to_addr)).version if self.to_addr else None]
            self.family = ([n for n in versions if n] or [4])[0]

    @property
    def kind(self):
        return RuleId(self.rid).kind

    @property
    def owner(self):
        return RuleId(self.rid).network

    def __repr__(self):
        return 'RuleSpec(%s)' % self.rid


# =================================================================== masquerade
def masquerade_want(params):
    at = Path().networks
    out = []
    for i, n in enumerate(params.get('networks') or []):
        name = v.name(n.get('name'), at[i].name)
        state = n.get('state') or params.get('state') or 'present'
        six = n.get('ipv6_masquerade')
        item = {'name': name, 'state': state, 'subnet': None, 'bridge': None,
                'ipv6_subnet': None, 'ipv6_masquerade': True if six is None else bool(six),
                # the fleet's peer subnets (module network): reached unmasqueraded
                'fleet_subnets': tuple(n.get('fleet_subnets') or ())}
        if state == 'present':
            if not n.get('subnet') and not n.get('ipv6_subnet'):
                v.missing(at[i].subnet, 'give it (or ipv6_subnet, or both): a network needs '
                          'one when state is present')
            if not n.get('bridge'):
                v.missing(at[i].bridge, 'give it: it is required when state is present')
            if n.get('subnet'):
                item['subnet'] = v.subnet(n['subnet'], at[i].subnet, nat=True)
            if n.get('ipv6_subnet'):
                item['ipv6_subnet'] = subnet6(n['ipv6_subnet'], at[i].ipv6_subnet)
            item['bridge'] = v.ifname(n['bridge'], at[i].bridge)
        out.append(item)
    v.unique((at[i].name, n['name'], n['name']) for i, n in enumerate(out))
    for key in ('subnet', 'ipv6_subnet'):
        present = [(i, n) for i, n in enumerate(out) if n[key] is not None]
        for k, (i, n) in enumerate(present):
            for j, other in present[:k]:
                if other[key].overlaps(n[key]):
                    v.fail(getattr(at[i], key), n[key], 'overlaps network %s (%s, at %s)' % (
                        other['name'], other[key], getattr(at[j], key)),
                        'give each network its own subnet')
    return {'networks': out}


def masquerade_scope(want):
    rids = set()
    for n in want['networks']:
        rids.update((RuleId.masq(n['name']), RuleId.masq(n['name'], 6)))
    return lambda rid: rid in rids


def masquerade_specs(want):
    specs = []
    for n in want['networks']:
        if n['state'] != 'present':
            continue
        if n['subnet'] is not None:
            specs.append(RuleSpec(RuleId.masq(n['name']), 'postrouting', saddr=n['subnet'],
                                  daddr_not=n['fleet_subnets'] or None,
                                  oif_not=n['bridge'], action='masquerade'))
        if n['ipv6_subnet'] is not None and n['ipv6_masquerade']:
            specs.append(RuleSpec(RuleId.masq(n['name'], 6), 'postrouting',
                                  saddr=n['ipv6_subnet'], oif_not=n['bridge'],
                                  action='masquerade'))
    return specs


def ipv6_networks(want):
    """Names of the present networks of a masquerade ``want`` that have an IPv6 subnet
    (masqueraded or not: routed IPv6 needs forwarding too)."""
    return [n['name'] for n in want['networks']
            if n['state'] == 'present' and n['ipv6_subnet'] is not None]


# =================================================================== port publishing
def publish_record(network, state, bridge=None, subnet=None, ingress_protection=True,
                   publications=(), ipv6_subnet=None, fleet_subnets=()):
    """The desired publications of one network, from values already validated
    (``fleet_subnets``: its fleet's peer subnets, which ingress protection lets in)."""
    return {'network': network, 'state': state, 'bridge': bridge, 'subnet': subnet,
            'ingress_protection': bool(ingress_protection), 'publications': list(publications),
            'ipv6_subnet': ipv6_subnet, 'fleet_subnets': tuple(fleet_subnets)}


def publish_want(params):
    net = v.name(params.get('network'), Path().network)
    state = params.get('state') or 'present'
    want = publish_record(net, state,
                          ingress_protection=params.get('ingress_protection', True))
    if state == 'absent':  # the bridge, when given: its route_localnet is put back
        if params.get('bridge'):
            want['bridge'] = v.ifname(params['bridge'], Path().bridge)
        return want
    for key in ('bridge', 'subnet'):
        if not params.get(key):
            v.missing(getattr(Path(), key), 'give it: it is required when state is present')
    want['bridge'] = v.ifname(params['bridge'], Path().bridge)
    subnet = want['subnet'] = v.subnet(params['subnet'], Path().subnet, nat=True)
    subnet6 = want['ipv6_subnet'] = subnet6_or_none(params.get('ipv6_subnet'),
                                                    Path().ipv6_subnet)
    at = Path().publications
    want['publications'] = [publication(at[i], p, subnet, subnet6)
                            for i, p in enumerate(params.get('publications') or [])]
    check_overlaps(want['publications'], [at[i] for i in range(len(want['publications']))])
    return want


def check_overlaps(pubs, paths):
    """Each host address/port/protocol is published once (``paths``: where each was
    written)."""
    for i in range(len(pubs)):
        for j in range(i):
            if publications_overlap(pubs[i], pubs[j]):
                v.fail(paths[i], pub_label(pubs[i]), 'overlaps %s of %s: the same host '
                       'address/port/protocol would be published twice' % (
                           pub_label(pubs[j]), paths[j]),
                       'publish each host port once')


def publish_scope(want):
    net = want['network']
    return lambda rid: RuleId(rid).kind == PUB and RuleId(rid).network == net


def publish_specs(want):
    if want['state'] != 'present':
        return []
    net, br, subnet = want['network'], want['bridge'], want['subnet']
    subnet6 = want.get('ipv6_subnet')
    specs = []
    for p in want['publications']:
        for family in p.get('families') or (4,):
            specs.extend(_publication_specs(net, p, family))
    if any(s.family == 4 for s in specs):
        # hairpin: a container reaching a published port through a host address is
        # DNATed back into its own subnet; masquerade so replies come back through us
        specs.append(RuleSpec(RuleId.pub(net, 'hairpin'), 'postrouting', saddr=subnet,
                              daddr=subnet, ct_dnat=True, action='masquerade'))
    if any(s.family == 6 for s in specs):
        specs.append(RuleSpec(RuleId.pub(net, 'hairpin6'), 'postrouting', saddr=subnet6,
                              daddr=subnet6, ct_dnat=True, action='masquerade'))
    if localhost_publications(want):
        # 127.0.0.1 -> the container leaves through the bridge (route_localnet, set by
        # the resource on this bridge only): give it the bridge's address, or the
        # container would answer its own loopback
        specs.append(RuleSpec(RuleId.pub(net, 'localhost-snat'), 'postrouting', saddr=LOOPBACK,
                              oif=br, action='masquerade'))
        # CVE-2020-8558: with route_localnet, a neighbour could reach the host's
        # 127.0.0.1 services; nothing for 127.0.0.0/8 may come in but through lo
        specs.append(RuleSpec(RuleId.pub(net, 'localhost-guard'), 'guard', daddr=LOOPBACK,
                              iif_not='lo', action='drop'))
    if want['ingress_protection']:
        specs.append(RuleSpec(RuleId.pub(net, 'ingress'), 'forward', daddr=subnet, iif_not=br,
                              saddr_not=want.get('fleet_subnets') or None,
                              ct_new=True, ct_dnat=False, action='drop'))
        if subnet6 is not None:
            specs.append(RuleSpec(RuleId.pub(net, 'ingress6'), 'forward', daddr=subnet6,
                                  iif_not=br, ct_new=True, ct_dnat=False, action='drop'))
    return specs


def _publication_specs(net, p, family):
    """The DNAT rules of one publication for one IP version."""
    host, cont = p['host'], p['cont']
    if host == cont:
        groups = [(host, cont[0] if host[0] == host[1] else None)]
    elif host[0] == host[1]:
        groups = [(host, cont[0])]
    else:  # same length, different ports: one rule per port
        groups = [((hp, hp), cont[0] + k) for k, hp in enumerate(range(host[0], host[1] + 1))]
    if p['host_ip'] is not None:
        hip = str(p['host_ip'])
    else:
        hip = '*' if family == 4 else '*6'
    to_addr = p['addr'] if family == 4 else p['addr6']
    specs = []
    for hrange, to_port in groups:
        base = RuleId.pub(net, p['proto'], hip, ports_text(hrange))
        match = dict(proto=p['proto'], dport=hrange, action='dnat', family=family,
                     to_addr=str(to_addr), to_port=to_port)
        if is_localhost(p):
            # the host's own connections only: nothing arrives from outside for it
            match['daddr'] = ipaddress.ip_network(p['host_ip'])
            specs.append(RuleSpec(base + '/out', 'output', **match))
        elif p['host_ip'] is not None:
            match['daddr'] = ipaddress.ip_network(p['host_ip'])
            specs.append(RuleSpec(base + '/pre', 'prerouting', **match))
            specs.append(RuleSpec(base + '/out', 'output', **match))
        else:
            specs.append(RuleSpec(base + '/pre', 'prerouting', fib_local=True, **match))
            specs.append(RuleSpec(base + '/out', 'output', fib_local=True,
                                  daddr_not=LOOPBACK if family == 4 else LOOPBACK6, **match))
    return specs


def is_localhost(pub):
    """A publication on a loopback address: the host's own connections only."""
    return pub['host_ip'] is not None and pub['host_ip'] in LOOPBACK


def localhost_publications(want):
    return want['state'] == 'present' and any(is_localhost(p) for p in want['publications'])


def publications_overlap(a, b):
    """Same protocol, overlapping ports, and an address both serve: the same host
    address, or one's address in the other's every-address families."""
    if a['proto'] != b['proto']:
        return False
    if a['host_ip'] is not None and b['host_ip'] is not None:
        if a['host_ip'] != b['host_ip']:
            return False
    elif a['host_ip'] is not None or b['host_ip'] is not None:
        one, every = (a, b) if a['host_ip'] is not None else (b, a)
        if one['host_ip'].version not in _pub_families(every):
            return False
    elif not set(_pub_families(a)) & set(_pub_families(b)):
        return False
    return a['host'][0] <= b['host'][1] and b['host'][0] <= a['host'][1]


def _pub_families(p):
    return p.get('families') or families(p['host_ip'], False)


def pub_label(p):
    if p['host_ip'] is not None:
        where = ('[%s]' if p['host_ip'].version == 6 else '%s') % p['host_ip']
    else:
        where = '[*]' if tuple(_pub_families(p)) == (6,) else '*'
    return '%s %s:%s' % (p['proto'], where, ports_text(p['host']))


def pub_from_rid(rid):
    """``pub/<net>/<proto>/<ip|*|*6>/<ports>/<pre|out>`` -> publication dict (or None)."""
    parts = RuleId(rid).publication
    if parts is None:
        return None
    proto, ip, ports = parts.proto, parts.ip, parts.ports
    try:
        host = parse_ports(ports, 'rid')
        host_ip = None if ip in ('*', '*6') else ipaddress.ip_address(ip)
    except (ValidationError, ValueError):
        return None
    families = {'*': (4,), '*6': (6,)}.get(ip) or (host_ip.version,)
    return {'proto': proto, 'host_ip': host_ip, 'host': host, 'families': families}


# =================================================================== validation
def subnet6(value, path):
    """An IPv6 subnet (host bits zero, not ::/0): the IPv6 subnet of a network."""
    try:
        version = ipaddress.ip_network(str(value).strip(), strict=False).version
    except ValueError:
        version = None  # v.subnet says what is wrong
    if version == 4:
        v.fail(path, value, 'is IPv4, this option takes the IPv6 subnet',
               'give the IPv4 subnet as subnet and an IPv6 one like fd00:18::/64 here')
    net = v.subnet(value, path)
    if net.prefixlen == 0:
        v.fail(path, value, 'would cover every IPv6 address',
               'use the containers\' IPv6 subnet, like fd00:18::/64')
    return net


def subnet6_or_none(value, path):
    return None if value in (None, '') else subnet6(value, path)


def parse_ports(value, what):
    """8080, "8080" or "8000-8010" -> (lo, hi) (:func:`validate.ports`)."""
    return v.ports(value, what)
