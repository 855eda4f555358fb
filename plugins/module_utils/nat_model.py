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
import re

from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ValidationError)

NAME_RE = re.compile(r'^[A-Za-z0-9_.-]{1,32}$')
LOOPBACK = ipaddress.IPv4Network('127.0.0.0/8')
MAX_EXPANDED_PORTS = 1024


class RuleSpec(object):
    """A backend-neutral rule. Unset fields do not match anything extra.

    Matches: ``saddr``/``daddr`` (IPv4Network), ``daddr_not`` (network),
    ``iif_not``/``oif_not`` (interface names), ``fib_local`` (destination is a
    local address), ``proto`` + ``dport`` ((lo, hi)), ``ct_new`` (neither
    established nor related), ``ct_dnat`` (True: was DNATed, False: was not).
    Action: ``masquerade`` | ``drop`` | ``dnat`` (``to_addr``, ``to_port``).
    ``family``: the IP version the rule applies to (4; a backend matches it explicitly
    where its table serves both).
    """

    FIELDS = ('family', 'saddr', 'daddr', 'daddr_not', 'iif_not', 'oif_not', 'fib_local', 'proto',
              'dport', 'ct_new', 'ct_dnat', 'action', 'to_addr', 'to_port')

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


def masquerade_scope(want):
    rids = set('masq/%s' % n['name'] for n in want['networks'])
    return lambda rid: rid in rids

def masquerade_specs(want):
    return [RuleSpec('masq/%s' % n['name'], 'postrouting', saddr=n['subnet'],
                     oif_not=n['bridge'], action='masquerade')
            for n in want['networks'] if n['state'] == 'present']


# =================================================================== port publishing
def publish_want(params):
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
        want['publications'].append(_publication(i, p, subnet))
    pl = want['publications']
    for i in range(len(pl)):
        for j in range(i):
            if publications_overlap(pl[i], pl[j]):
                raise ValidationError(
                    'publications[%d] (%s) and publications[%d] (%s) publish the same host '
                    'address/port/protocol; each host port can be published once'
                    % (j, pub_label(pl[j]), i, pub_label(pl[i])))
    return want

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
    pub = {'host': host, 'cont': cont, 'proto': proto, 'host_ip': host_ip, 'addr': None,
           'container': p.get('container'), 'what': what}
    if p.get('container_address') is None and p.get('container'):
        return pub  # the network pipeline: the address comes from the allocation
    return _with_address(pub, p.get('container_address'), subnet)


def _with_address(pub, caddr, subnet):
    what = pub['what']
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
    return dict(pub, addr=caddr)


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
