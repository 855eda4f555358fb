# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole container bridge network in one module call (module ``network``).

The composition of the resources behind the modules ``bridge``, ``netns``,
``veth_pair``, ``bridge_port``, ``masquerade`` and ``port_publish``, run in that
order in one process: one kernel context (one netlink socket per namespace), each
namespace read once (:func:`observe.ns_view`), no module start-up per stage. Each
stage is that module's own want -> have -> plan -> apply, unchanged.

:func:`network_want` derives the stages' parameters from a network description
(the role's variables, without their prefix) and validates all of them before
anything is read or changed. When a stage fails, what earlier stages of the call
created is removed again.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress

from ansible_collections.linuxnet.container_network.plugins.module_utils import model
from ansible_collections.linuxnet.container_network.plugins.module_utils.apply import Applier
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall import (
    FirewallResource,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import (
    BridgeResource, NetnsResource, PortsResource, VethResource,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import (
    MasqueradeResource, PortPublishResource, observed_after,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.nlsock import Kernel
from ansible_collections.linuxnet.container_network.plugins.module_utils.persist import (
    PersistResource,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ApplyError, PlanError, ValidationError, converge,
)

IFNAMSIZ = 16
NAT_STAGES = ('masquerade', 'port_publish')  # one nftables context, one batch


def derived_ifname(bridge, name):
    """veth + 11 hex digits of sha1(bridge/name): deterministic, 15 characters."""
    return ('veth' + hashlib.sha1(('%s/%s' % (bridge, name)).encode()).hexdigest())[:IFNAMSIZ - 1]


def _net(value, what):
    try:
        return ipaddress.ip_network(u'%s' % value, strict=True)
    except ValueError as e:
        raise ValidationError('%s %r is not a network address with prefix (e.g. '
                              '172.18.0.0/16): %s' % (what, value, e))


def _ip(value, what):
    try:
        return ipaddress.ip_address(u'%s' % value)
    except ValueError:
        raise ValidationError('%s %r is not an IP address' % (what, value))


def network_want(params):
    """The network description -> a dict of what each stage gets; ValidationError if bad.

    ``params``: state, bridge, subnet, gateway, containers (name, address, host_ifname,
    ifname), published_ports (container, host_port, container_port, protocol, host_ip),
    masquerade, ingress_protection, firewall_integration.
    """
    state = params.get('state') or 'present'
    bridge = params['bridge']
    model.ifname(bridge, None, 'bridge name')
    subnet = _net(params.get('subnet'), 'subnet')
    gateway = _ip(params.get('gateway'), 'gateway')
    if gateway not in subnet or gateway in (subnet.network_address, subnet.broadcast_address):
        raise ValidationError('gateway %s is not a host address of subnet %s' % (gateway, subnet))
    containers = (params.get('containers') or []) if state == 'present' else []
    for c in containers:
        model.netns_name(c.get('name'), 'containers')
        for key in ('host_ifname', 'ifname'):
            if c.get(key):
                model.ifname(c[key], "container '%s'" % c['name'], key)
    names, ifnames, addrs = set(), {}, {}
    pairs, ports, bynames = [], [], {}
    for c in containers:
        name = c['name']
        if name in names:
            raise ValidationError("container '%s' is listed twice" % name)
        names.add(name)
        host_if = c.get('host_ifname') or derived_ifname(bridge, name)
        if host_if in ifnames:
            raise ValidationError("containers '%s' and '%s' both use host interface '%s'"
                                  % (ifnames[host_if], name, host_if))
        ifnames[host_if] = name
        if c.get('address'):
            ip = _ip(c['address'], "address of container '%s'" % name)
            if ip not in subnet or ip in (subnet.network_address, subnet.broadcast_address):
                raise ValidationError("address %s of container '%s' is not a host address of "
                                      "subnet %s" % (ip, name, subnet))
            if ip == gateway:
                raise ValidationError("address %s of container '%s' is the gateway (the "
                                      "bridge's address)" % (ip, name))
            if ip in addrs:
                raise ValidationError("containers '%s' and '%s' both have address %s"
                                      % (addrs[ip], name, ip))
            addrs[ip] = name
            address = '%s/%d' % (ip, subnet.prefixlen)
        else:
            address = 'auto'
        pair = {'name': host_if, 'peer': c.get('ifname') or 'eth0', 'netns': name,
                'addresses': [address], 'gateway': str(gateway), 'mtu': None, 'mac': None,
                'state': None}
        pairs.append(pair)
        ports.append({'name': host_if, 'hairpin': True, 'state': None})
        bynames[name] = pair
    published = []
    if state == 'present':
        keys = set()
        for p in params.get('published_ports') or []:
            if p.get('container') not in bynames:
                raise ValidationError("published port %s names container '%s', which is not "
                                      "in containers" % (p.get('host_port'), p.get('container')))
            key = (p.get('host_ip') or '*', str(p.get('host_port')), p.get('protocol') or 'tcp')
            if key in keys:
                raise ValidationError('host port %s/%s on %s is published twice'
                                      % (key[1], key[2], key[0]))
            keys.add(key)
            published.append(p)
    return {'state': state, 'bridge': bridge, 'subnet': str(subnet), 'gateway': str(gateway),
            'gateway_cidr': '%s/%d' % (gateway, subnet.prefixlen),
            'netns': [c['name'] for c in containers], 'pairs': pairs, 'ports': ports,
            'containers': bynames, 'published': published,
            'masquerade': params.get('masquerade', True) is not False,
            'ingress_protection': params.get('ingress_protection', True) is not False,
            'firewall_integration': params.get('firewall_integration')}


def publications(net, allocated):
    """The network's published ports as port_publish publications, with the containers'
    addresses (``allocated``: veth_pair's ``pairs`` result, by host interface)."""
    out = []
    for p in net['published']:
        pair = net['containers'][p['container']]
        pub = {'host_port': str(p['host_port']), 'protocol': p.get('protocol') or 'tcp',
               'container_address': allocated[pair['name']]['address']}
        if p.get('container_port') is not None:
            pub['container_port'] = str(p['container_port'])
        if p.get('host_ip'):
            pub['host_ip'] = p['host_ip']
        out.append(pub)
    return out


class _Stage(object):
    __slots__ = ('name', 'resource', 'params', 'want')

    def __init__(self, name, resource, params):
        self.name = name
        self.resource = resource
        self.params = params
        self.want = None


class _OneBatchNat(object):
    """The NAT stages' backend: one nftables transaction for both stages.

    It remembers its last observation; after ``advance``, it observes the table as the
    planned actions leave it, so the second stage plans on what the first one planned
    (in check mode too: no second "create the table"). While ``defer`` is set, applied
    actions are queued; the next apply without it (or ``flush``) sends everything queued
    in one atomic batch. The composite runs port_publish deferred, then masquerade,
    whose sysctl changes thus follow a batch that went in.
    """

    def __init__(self, backend):
        self._backend = backend
        self.last = None
        self.after = None
        self.defer = False
        self.pending = []

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def observe(self):
        self.last = self.after if self.after is not None else self._backend.observe()
        return self.last

    def advance(self, actions):
        self.after = observed_after(self.last, actions)

    def apply(self, actions):
        self.pending.extend(actions)
        if not self.defer:
            self.flush()

    def flush(self):
        pending, self.pending = self.pending, []
        if pending:
            self._backend.apply(pending)


class _Ctx(object):
    """One kernel context for the L2 stages, one nftables context for the NAT stages."""

    def __init__(self, module, present):
        self.kernel = Kernel(predict_missing=module.check_mode)
        # Every namespace is read once, with all that the stages after netns look at
        # (the bridge ports' hairpin flags only when bridge_port runs).
        self.kernel.read_hint = {'netns': {'addresses': True, 'routes': (4,)},
                                 'host': {'addresses': True, 'hairpin': present}}
        self.nat = MasqueradeResource().context(module)
        self.nat.backend = _OneBatchNat(self.nat.backend)
        self.firewall = FirewallResource().context(module)
        self.persistence = PersistResource().context(module)

    def of(self, stage):
        """The context a stage runs in."""
        if stage in NAT_STAGES:
            return self.nat
        return getattr(self, stage) if stage in ('firewall', 'persistence') else self.kernel

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.kernel.close()
        finally:
            self.nat.__exit__(*exc)
        return False


class NetworkResource(object):
    """Module ``network``: the role's composition, as one resource of several stages."""

    def want(self, params):
        net = network_want(params)
        state, br = net['state'], net['bridge']
        bridge = _Stage('bridge', BridgeResource(), {
            'bridges': [{'name': br, 'addresses': [net['gateway_cidr']], 'mtu': None,
                         'state': None}],
            'state': state, 'refuse_overlap': True})
        veth = _Stage('veth_pair', VethResource(), {
            'pairs': net['pairs'], 'owner': br, 'exclusive': True, 'state': 'present',
            'pool': net['subnet'], 'reserved': [net['gateway']]})
        # The network's namespaces no longer listed go after veth_pair has deleted their
        # pairs: the kernel destroys unmounted namespaces asynchronously, so deleting
        # them first would leave veth_pair racing it (and check mode guessing).
        unlisted = _Stage('netns_unlisted', NetnsResource(), {
            'name': [], 'keep': net['netns'], 'owner': br, 'exclusive': True,
            'state': 'present'})
        if state == 'present':
            stages = [bridge,
                      _Stage('netns', NetnsResource(), {
                          'name': net['netns'], 'owner': br, 'state': 'present'}),
                      veth,
                      _Stage('bridge_port', PortsResource(), {
                          'bridge': br, 'ports': net['ports'], 'state': 'present'}),
                      unlisted]
        else:  # the pairs (one group delete), then the bridge without ports, namespaces
            stages = [veth, bridge, unlisted]
        stages.append(_Stage('port_publish', PortPublishResource(), {
            'network': br, 'bridge': br, 'subnet': net['subnet'], 'state': state,
            'ingress_protection': net['ingress_protection'],
            # the containers' addresses are known once veth_pair has allocated them;
            # validated here with the gateway in their place, so a bad port fails now
            'publications': publications(net, dict(
                (p['name'], {'address': net['gateway']}) for p in net['pairs']))}))
        # last: its nft actions go in one batch with port_publish's, before its sysctl
        stages.append(_Stage('masquerade', MasqueradeResource(), {
            'networks': [{'name': br, 'subnet': net['subnet'], 'bridge': br, 'state': None}],
            'state': 'present' if state == 'present' and net['masquerade'] else 'absent'}))
        # after our own table: lets the network's traffic through the firewall in charge
        stages.append(_Stage('firewall', FirewallResource(), {
            'bridge': br, 'state': state, 'integration': net['firewall_integration']}))
        # last: what rebuilds all of the above at boot (absent at boot itself: None)
        if params.get('persistent') is not None:
            stages.append(_Stage('persistence', PersistResource(), {
                'bridge': br, 'state': state, 'persistent': params['persistent'],
                'network': params}))
        for s in stages:
            s.want = s.resource.want(s.params)
        return {'net': net, 'stages': stages}

    def context(self, module):
        return _Ctx(module, module.params.get('state') != 'absent')

    def converge(self, ctx, want, check_mode, diff, result):
        """Run the stages in order; on a failure, undo what earlier stages created."""
        nat_backend = ctx.nat.backend
        # The NAT stages' conflicts (another network publishing the same port, a chain
        # changed by hand) do not depend on the containers' addresses: plan them once
        # before the first change, so they fail the call with nothing changed.
        for s in want['stages']:
            if s.name in NAT_STAGES:
                s.resource.plan(s.want, s.resource.observe(ctx.nat, s.want))
        nat_backend.after = None
        forwarding = want['net']['state'] == 'present' and want['net']['masquerade']
        extra, done = {}, []
        for s in want['stages']:
            if s.name == 'port_publish':
                s.params['publications'] = publications(want['net'], extra.get('pairs', {}))
                s.want = s.resource.want(s.params)
            nat = s.name in NAT_STAGES
            nat_backend.defer = s.name == 'port_publish'
            try:
                actions, more = converge(s.resource, ctx.of(s.name), s.want,
                                         check_mode, diff, result, stage=s.name)
                if s.name == 'masquerade':
                    nat_backend.flush()  # masquerade had nothing to apply
            except ApplyError as e:
                e.rolled_back.extend(self._undo(ctx, done))
                e.done[:0] = done
                raise
            except PlanError as e:
                undone = self._undo(ctx, done)
                if undone:
                    raise PlanError('%s (%s: this call undid what it had created before: %s)'
                                    % (e, s.name, ', '.join(a.describe() for a in undone)))
                raise
            if not check_mode:
                done.extend(actions)
            if nat:
                nat_backend.advance(actions)
            if s.name == 'port_publish' and forwarding:
                # its "ip_forward is 0" warning: the masquerade stage next turns it on
                more = dict((k, v) for k, v in more.items() if k != 'warnings')
            for key, value in more.items():
                if key in ('rules', 'warnings') and key in extra:
                    extra[key] = extra[key] + value
                else:
                    extra[key] = value
        extra['rules'] = sorted(extra.get('rules', []))
        return extra

    @staticmethod
    def _undo(ctx, done):
        """Remove what the earlier stages of this call created (namespaces, links)."""
        return Applier(ctx.kernel).rollback(done) if done else []
