# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NAT desired state, backend neutral: what to masquerade and publish, as rule specs.

:func:`masquerade_want` and :func:`publish_want` validate the modules' parameters into
plain records; :func:`masquerade_specs` and :func:`publish_specs` say which rules that
takes, each a :class:`RuleSpec` (what it matches, what it does, in which chain role,
under which rule id). The rule id (``rid``: ``masq/<network>``,
``pub/<network>/<proto>/<host ip|*>/<ports>/<pre|out>``, ``pub/<network>/hairpin``,
``pub/<network>/ingress``) scopes ownership: a network's run touches only its own.
Compiling specs to rules is a backend's job (:mod:`nat_backend`).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.linuxnet.container_network.plugins.module_utils import validate as v
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError)
from ansible_collections.linuxnet.container_network.plugins.module_utils.validate import (
    Path, ports_text)

LOOPBACK = ipaddress.IPv4Network('127.0.0.0/8')
MAX_EXPANDED_PORTS = 1024


class RuleSpec(object):
    """A backend-neutral rule. Unset fields do not match anything extra.

    Matches: ``saddr``/``daddr`` (IPv4Network), ``daddr_not`` (network),
    ``iif_not``/``oif``/``oif_not`` (interface names), ``fib_local`` (destination is a
    local address), ``proto`` + ``dport`` ((lo, hi)), ``ct_new`` (neither
    established nor related), ``ct_dnat`` (True: was DNATed, False: was not).
    Action: ``masquerade`` | ``drop`` | ``dnat`` (``to_addr``, ``to_port``).
    ``family``: the IP version the rule applies to (4; a backend matches it explicitly
    where its table serves both).
    """

    FIELDS = ('family', 'saddr', 'daddr', 'daddr_not', 'iif_not', 'oif', 'oif_not', 'fib_local',
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
            self.family = 4

    @property
    def kind(self):
        return self.rid.split('/', 1)[0]

    @property
    def owner(self):
        return self.rid.split('/')[1]

    def __repr__(self):
        return 'RuleSpec(%s)' % self.rid


# =================================================================== masquerade
def masquerade_want(params):
    at = Path().networks
    out = []
    for i, n in enumerate(params.get('networks') or []):
        name = v.name(n.get('name'), at[i].name)
        state = n.get('state') or params.get('state') or 'present'
        item = {'name': name, 'state': state, 'subnet': None, 'bridge': None}
        if state == 'present':
            for key in ('subnet', 'bridge'):
                if not n.get(key):
                    v.missing(getattr(at[i], key),
                              'give it: it is required when state is present')
            item['subnet'] = v.subnet(n['subnet'], at[i].subnet, nat=True)
            item['bridge'] = v.ifname(n['bridge'], at[i].bridge)
        out.append(item)
    v.unique((at[i].name, n['name'], n['name']) for i, n in enumerate(out))
    present = [(i, n) for i, n in enumerate(out) if n['subnet'] is not None]
    for k, (i, n) in enumerate(present):
        for j, other in present[:k]:
            if other['subnet'].overlaps(n['subnet']):
                v.fail(at[i].subnet, n['subnet'], 'overlaps network %s (%s, at %s)' % (
                    other['name'], other['subnet'], at[j].subnet),
                    'give each network its own subnet')
    return {'networks': out}


def masquerade_scope(want):
    rids = set('masq/%s' % n['name'] for n in want['networks'])
    return lambda rid: rid in rids


def masquerade_specs(want):
    return [RuleSpec('masq/%s' % n['name'], 'postrouting', saddr=n['subnet'],
                     oif_not=n['bridge'], action='masquerade')
            for n in want['networks'] if n['state'] == 'present']


# =================================================================== port publishing
def publish_record(network, state, bridge=None, subnet=None, ingress_protection=True,
                   publications=()):
    """The desired publications of one network, from values already validated."""
    return {'network': network, 'state': state, 'bridge': bridge, 'subnet': subnet,
            'ingress_protection': bool(ingress_protection), 'publications': list(publications)}


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
    at = Path().publications
    want['publications'] = [publication(at[i], p, subnet)
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


def publication(at, p, subnet):
    """One publication written at path ``at`` -> its record; without container_address
    but naming its ``container`` (the network pipeline), ``addr`` is left to
    :func:`with_addresses`."""
    if not isinstance(p, dict):
        v.fail(at, p, 'is not a dict', 'give host_port, container_address and the rest')
    if p.get('host_port') is None:
        v.missing(at.host_port, 'give a port or range like 8080 or 8000-8010')
    host = v.ports(p['host_port'], at.host_port)
    cport = p.get('container_port')
    cont = v.ports(cport, at.container_port) if cport is not None else host
    if cont[1] - cont[0] != host[1] - host[0]:
        v.fail(at.container_port, cport, 'and host_port %s are ranges of different lengths'
               % ports_text(host), 'give both the same number of ports')
    if host != cont and host[0] != host[1] and host[1] - host[0] + 1 > MAX_EXPANDED_PORTS:
        v.fail(at.host_port, p['host_port'], 'is a range mapped to other container ports, '
               'which is limited to %d ports' % MAX_EXPANDED_PORTS,
               'split it, or map it to the same container ports')
    proto = v.one_of(p.get('protocol') or 'tcp', ('tcp', 'udp'), at.protocol)
    host_ip = p.get('host_ip')
    if host_ip in ('', None, '0.0.0.0'):
        host_ip = None
    else:
        host_ip = v.address(host_ip, at.host_ip)
        if host_ip.version != 4:
            v.fail(at.host_ip, p['host_ip'], 'is IPv6, only IPv4 is handled yet (::1 and '
                   'the other IPv6 addresses come with IPv6 support)',
                   'use an IPv4 address of the host, e.g. 127.0.0.1 for the host only')
    pub = {'host': host, 'cont': cont, 'proto': proto, 'host_ip': host_ip, 'addr': None,
           'container': p.get('container'), 'what': str(at)}
    if p.get('container_address') is None and p.get('container'):
        return pub  # the network pipeline: the address comes from the allocation
    return _with_address(pub, p.get('container_address'), subnet)


def _with_address(pub, caddr, subnet):
    at = Path(pub['what']).container_address
    ip = v.host_address(caddr, subnet, at, 'use the address of a container of the network')
    return dict(pub, addr=ip)


def with_addresses(want, addresses):
    """``want`` with each publication's container address taken from ``addresses``
    (``{container: address}``, the veth allocation), for publications that name their
    container instead of giving its address."""
    pubs = [p if p['addr'] is not None else _with_address(p, addresses[p['container']],
                                                          want['subnet'])
            for p in want['publications']]
    return dict(want, publications=pubs)


def publish_scope(want):
    prefix = 'pub/%s/' % want['network']
    return lambda rid: rid.startswith(prefix)


def publish_specs(want):
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
            if is_localhost(p):
                # the host's own connections only: nothing arrives from outside for it
                match['daddr'] = ipaddress.IPv4Network(p['host_ip'])
                specs.append(RuleSpec(base + '/out', 'output', **match))
            elif p['host_ip'] is not None:
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
    if localhost_publications(want):
        # 127.0.0.1 -> the container leaves through the bridge (route_localnet, set by
        # the resource on this bridge only): give it the bridge's address, or the
        # container would answer its own loopback
        specs.append(RuleSpec('pub/%s/localhost-snat' % net, 'postrouting', saddr=LOOPBACK,
                              oif=br, action='masquerade'))
        # CVE-2020-8558: with route_localnet, a neighbour could reach the host's
        # 127.0.0.1 services; nothing for 127.0.0.0/8 may come in but through lo
        specs.append(RuleSpec('pub/%s/localhost-guard' % net, 'guard', daddr=LOOPBACK,
                              iif_not='lo', action='drop'))
    if want['ingress_protection']:
        specs.append(RuleSpec('pub/%s/ingress' % net, 'forward', daddr=subnet, iif_not=br,
                              ct_new=True, ct_dnat=False, action='drop'))
    return specs


def is_localhost(pub):
    """A publication on a loopback address: the host's own connections only."""
    return pub['host_ip'] is not None and pub['host_ip'] in LOOPBACK


def localhost_publications(want):
    return want['state'] == 'present' and any(is_localhost(p) for p in want['publications'])


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


# =================================================================== validation
def parse_ports(value, what):
    """8080, "8080" or "8000-8010" -> (lo, hi) (:func:`validate.ports`)."""
    return v.ports(value, what)
