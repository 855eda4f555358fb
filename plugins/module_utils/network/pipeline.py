# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole container bridge network in one module call (module ``network``): a pipeline.

The resources behind the modules ``bridge``, ``netns``, ``veth_pair``, ``bridge_port``,
``port_publish`` and ``masquerade``, then the firewall integration and persistence, as
stages of one process:

1. **want**: :func:`network_model.network_want` validates the description; each stage's
   input is built from it once (the publications name their container; its address
   comes from step 4's allocation).
2. **fleet** (:mod:`fleet`): routes to the other hosts' container subnets (host-gw, or a
   VXLAN device with FDB and neighbour entries), checked before any change; a VXLAN
   underlay sets the containers' MTU for step 4; the peers' subnets go to step 5
   (neither masqueraded nor dropped by ingress protection).
3. **nat read**: the NAT table is read once; conflicts with other networks' published
   ports and a chain changed by hand fail the call here, before any change.
4. **L2**: bridge, netns, veth_pair (which allocates the addresses), bridge_port and the
   removal of unlisted namespaces, each observe -> plan -> apply on one kernel context
   (one netlink socket per namespace, each namespace read once).
5. **nat**: port_publish's and masquerade's rules diffed together on that one reading
   and committed as ONE transaction, with the host settings around it (ip_forward,
   route_localnet: :func:`nat.commit`).
6. **firewall**, **persistence**.

When a later step fails, what earlier steps of the call created is removed again.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import model as nat_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.apply import Applier
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall.resource import (
    FirewallResource,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.fleet import (
    FleetResource, fleet_firewall, peer_subnets,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.resources import (
    BridgeResource, NetnsResource, PortsResource, VethResource,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.resources import (
    HOST_OPS, MasqueradeResource, PortPublishResource, commit,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.plan import diff_rules
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.description import (
    network_want,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import Kernel
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.observe import Reading
from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import RuleId
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.persist import (
    PersistResource, lock,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ApplyError, PlanError, ValidationError, converge, record,
)


class _Stage(object):
    """One step of the pipeline: its name (labels its actions and diff), its resource,
    its input (built once, by the resource's own ``want``)."""

    __slots__ = ('name', 'resource', 'want', 'params')

    def __init__(self, name, resource, params=None, want=None):
        self.name = name
        self.resource = resource
        self.params = params
        self.want = want if want is not None else resource.want(params)


class _Ctx(object):
    """One kernel context for the L2 stages, one NAT backend, the firewall, persistence."""

    def __init__(self, inv, present):
        # a change never runs beside the boot restore or a heal pass of the same network
        self.lock = None if inv.check_mode else lock(inv.params['bridge']).acquire()
        self.kernel = Kernel()
        # Every namespace is read once, with all that the stages after netns look at
        # (the bridge ports' hairpin flags only when bridge_port runs).
        routes = (4, 6) if inv.params.get('ipv6_subnet') else (4,)
        self.reading = Reading(self.kernel, predict_missing=inv.check_mode, read_hint={
            'netns': {'addresses': True, 'routes': routes},
            'host': {'addresses': True, 'hairpin': present}})
        self.nat = MasqueradeResource().context(inv)
        self.firewall = FirewallResource().context(inv)
        self.persistence = PersistResource().context(inv)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.kernel.close()
        finally:
            try:
                self.nat.__exit__(*exc)
            finally:
                if self.lock is not None:
                    self.lock.release()
        return False


class NetworkResource(object):
    """Module ``network``: the role's composition, as one pipeline of stages."""

    def want(self, params):
        net = network_want(params)
        state, br = net['state'], net['bridge']
        gateways = [a for a in (net['gateway_cidr'], net['ipv6_gateway_cidr']) if a]
        bridge = _Stage('bridge', BridgeResource(), {
            'bridges': [{'name': br, 'addresses': gateways or None, 'mtu': None,
                         'state': None}],
            'state': state, 'refuse_overlap': True})
        v6 = net['ipv6_subnet']
        fleet = _Stage('fleet', FleetResource(), want=net['fleet'])
        peers = peer_subnets(net['fleet'])
        veth = _Stage('veth_pair', VethResource(), {
            'pairs': net['pairs'], 'owner': br, 'exclusive': True, 'state': 'present',
            'pool': net['subnet'], 'ipv6_pool': str(v6) if v6 else None,
            'reserved': [a.split('/')[0] for a in gateways]})
        # The network's namespaces no longer listed go after veth_pair has deleted their
        # pairs: the kernel destroys unmounted namespaces asynchronously, so deleting
        # them first would leave veth_pair racing it (and check mode guessing).
        unlisted = _Stage('netns_unlisted', NetnsResource(), {
            'name': [], 'keep': net['netns'], 'owner': br, 'exclusive': True,
            'state': 'present'})
        if state == 'present':
            l2 = [bridge,
                  _Stage('netns', NetnsResource(), {
                      'name': net['netns'], 'owner': br, 'state': 'present'}),
                  veth,
                  _Stage('bridge_port', PortsResource(), {
                      'bridge': br, 'ports': net['ports'], 'state': 'present'}),
                  unlisted]
        else:  # the pairs (one group delete), then the bridge without ports, namespaces
            l2 = [veth, bridge, unlisted]
        # the publications as network_want validated them (not written out and read again)
        nat = [_Stage('port_publish', PortPublishResource(), want=nat_model.publish_record(
            br, state, br, net['network'], net['ingress_protection'], net['published'],
            ipv6_subnet=v6, fleet_subnets=peers)),
            # IPv4: masquerade or nothing; IPv6: forwarding always, NAT66 if asked
            _Stage('masquerade', MasqueradeResource(), {
                'networks': [{'name': br, 'subnet': net['subnet'] if net['masquerade'] else None,
                              'bridge': br, 'ipv6_subnet': str(v6) if v6 else None,
                              'ipv6_masquerade': net['ipv6_masquerade'],
                              'fleet_subnets': peers,
                              'state': 'present' if net['masquerade'] or v6 else 'absent'}]})]
        # after our own table: lets the network's traffic through the firewall in charge
        last = [_Stage('firewall', FirewallResource(), {
            'bridge': br, 'state': state, 'integration': net['firewall_integration'],
            'ipv6_subnet': str(v6) if v6 else None, 'fleet': fleet_firewall(net['fleet'])})]
        # last: what rebuilds all of the above at boot (absent at boot itself: None)
        if params.get('persistent') is not None:
            last.append(_Stage('persistence', PersistResource(), {
                'bridge': br, 'state': state, 'persistent': params['persistent'],
                'network': params}))
        return {'net': net, 'fleet': fleet, 'l2': l2, 'nat': nat, 'last': last}

    def context(self, inv):
        return _Ctx(inv, inv.params.get('state') != 'absent')

    def converge(self, ctx, want, check_mode, diff, result):
        """The pipeline (see the module docstring); returns the extra result keys."""
        publish, masq = want['nat']
        backend = ctx.nat.backend
        nat = backend.observe()  # the one reading of the NAT table
        publish.resource.check_conflicts(publish.want, nat)
        if want['net']['state'] == 'present':
            backend.check(nat)
        extra, done = {}, []
        try:
            # first: its checks (underlay, overlaps, on-link) come before any change, and
            # the containers' MTU a VXLAN underlay leaves is known before the veth pairs
            actions, more = converge(want['fleet'].resource, ctx.reading, want['fleet'].want,
                                     check_mode, diff, result, stage='fleet')
            done.extend([] if check_mode else actions)
            _merge(extra, more)
            if more['fleet'] and more['fleet']['mtu']:
                _set_mtu(want['l2'], more['fleet']['mtu'])
            for s in want['l2']:
                actions, more = converge(s.resource, ctx.reading, s.want, check_mode, diff,
                                         result, stage=s.name)
                done.extend([] if check_mode else actions)
                _merge(extra, more)
            self._nat(ctx.nat, publish, masq, nat, extra, check_mode, diff, result, done)
            for s in want['last']:
                actions, more = converge(s.resource, getattr(ctx, s.name), s.want,
                                         check_mode, diff, result, stage=s.name)
                done.extend([] if check_mode else actions)
                _merge(extra, more)
        except ApplyError as e:
            e.rolled_back.extend(self._undo(ctx, done))
            e.done[:0] = done
            raise
        except (PlanError, ValidationError) as e:
            # a refusal after earlier stages changed things (validation is meant to come
            # first; this keeps a late one from leaving half a network)
            undone = self._undo(ctx, done)
            if undone:
                raise type(e)('%s (this call undid what it had created before: %s)'
                              % (e, ', '.join(a.describe() for a in undone)))
            raise
        extra['rules'] = sorted(extra.get('rules', []))
        return extra

    @staticmethod
    def _nat(ctx, publish, masq, nat, extra, check_mode, diff, result, done):
        """port_publish and masquerade: one rule diff over both scopes on the one reading,
        one transaction, then ip_forward. Each action is shown under the stage whose rule
        it concerns (the table and chains under port_publish, the first)."""
        pairs = extra.get('pairs', {})
        addresses = dict((name, p['address']) for name, p in pairs.items())
        addresses6 = dict((name, p['address6']) for name, p in pairs.items() if p['address6'])
        pub_want = nat_model.with_addresses(publish.want, addresses, addresses6)
        pub, msq = publish.resource, masq.resource
        pub_have = pub.have(ctx, pub_want, nat)
        masq_have = msq.have(ctx, masq.want, nat)
        pub_scope, masq_scope = pub.in_scope(pub_want), msq.in_scope(masq.want)
        rules = ctx.backend.plan(diff_rules(
            pub_have['compiled'] + masq_have['compiled'], nat.owned,
            lambda rid: pub_scope(rid) or masq_scope(rid)), nat)
        pub_actions = [a for a in rules if not RuleId(_rid(a)).is_masquerade]
        pub_actions += pub.host_actions(pub_want, pub_have)
        masq_actions = [a for a in rules if RuleId(_rid(a)).is_masquerade]
        masq_actions += msq.host_actions(masq.want, masq_have)
        record(pub, pub_want, pub_have, pub_actions, diff, result, publish.name)
        record(msq, masq.want, masq_have, masq_actions, diff, result, masq.name)
        if not check_mode:
            host = [a for a in pub_actions + masq_actions if a.op in HOST_OPS]
            commit(ctx.backend, rules + host)
            done.extend(rules + host)
        more = pub.result(pub_want, pub_have, pub_actions)
        if masq.want['networks'][0]['state'] == 'present':
            # its "ip_forward is 0" warning: the masquerade stage turns it on
            more.pop('warnings', None)
        _merge(extra, more)
        _merge(extra, msq.result(masq.want, masq_have, masq_actions))

    @staticmethod
    def _undo(ctx, done):
        """Remove what the earlier stages of this call created (namespaces, links, the
        fleet's device and routes)."""
        if not done:
            return []
        return Applier(ctx.kernel).rollback(done) + FleetResource.rollback(ctx.reading, done)


def _set_mtu(stages, mtu):
    """The bridge's and the veth pairs' MTU (a VXLAN fleet's): their wants rebuilt."""
    for s in stages:
        if s.name == 'bridge':
            s.params = dict(s.params, bridges=[dict(b, mtu=mtu) for b in s.params['bridges']])
        elif s.name == 'veth_pair':
            s.params = dict(s.params, pairs=[dict(p, mtu=mtu) for p in s.params['pairs']])
        else:
            continue
        s.want = s.resource.want(s.params)


def _rid(action):
    """The rule id a NAT action concerns ('' for tables and chains)."""
    return action.args.get('_rid') or ''


def _merge(extra, more):
    for key, value in more.items():
        if key in ('rules', 'warnings') and key in extra:
            extra[key] = extra[key] + value
        else:
            extra[key] = value
