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
3. **checks**: every stage's ``check`` before any stage changes anything; the NAT stage
   reads its table once there (:mod:`nat.stage`): conflicts with other networks'
   published ports and a chain changed by hand fail the call here.
4. **L2**: bridge, netns, veth_pair (which allocates the addresses), bridge_port and the
   removal of unlisted namespaces, each observe -> plan -> apply on one kernel context
   (one netlink socket per namespace, each namespace read once).
5. **nat** (:class:`nat.stage.NatStage`): port_publish's and masquerade's rules diffed
   together on that one reading and committed as ONE transaction, with the host settings
   around it (ip_forward, route_localnet).
6. **firewall**, **persistence**.

Every step is a :class:`Stage` (``check``, ``run``, ``undo``) in the list
:meth:`NetworkResource.want` builds; :meth:`NetworkResource.converge` loops over it. When
a later step fails, what earlier steps of the call created is removed again (each
stage's ``undo``, newest first).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import model as nat_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.stage import NatStage
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.apply import Applier
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall.resource import (
    FirewallResource,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.fleet import (
    FleetResource)
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.fleet_model import (
    fleet_firewall, peer_subnets)
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.resources import (
    BridgeResource, NetnsResource, PortsResource, VethResource,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.resources import (
    MasqueradeResource)
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.description import (
    network_want,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import Kernel
from ansible_collections.linuxnet.container_network.plugins.module_utils.l2.observe import Reading
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.persist import (
    PersistResource, lock,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    ApplyError, PlanError, ValidationError, converge, record,
)


class Stage(object):
    """One step of the pipeline: its name (labels its actions and diff), its resource,
    its input (built once, by the resource's own ``want``) and the part of the pipeline's
    context it runs on. The pipeline calls, for every stage in order, ``check`` (before
    any stage changes anything), then ``run``; when a later stage fails, ``undo`` of each
    earlier one, newest first."""

    def __init__(self, name, resource, params=None, want=None, context='reading', mtu=None):
        self.name = name
        self.resource = resource
        self.params = params
        self.want = want if want is not None else resource.want(params)
        self.context = context
        self.mtu = mtu  # the key of the items that take a VXLAN fleet's MTU ('bridges', 'pairs')

    def check(self, ctx, present):
        return None

    def run(self, ctx, run):
        fleet_mtu = (run.extra.get('fleet') or {}).get('mtu')
        if self.mtu and fleet_mtu:  # what a VXLAN underlay leaves of the uplink's MTU
            self.params = dict(self.params, **{self.mtu: [
                dict(item, mtu=fleet_mtu) for item in self.params[self.mtu]]})
            self.want = self.resource.want(self.params)
        actions, more = converge(self.resource, getattr(ctx, self.context), self.want,
                                 run.check_mode, run.diff, run.result, stage=self.name)
        run.applied(self, actions)
        run.merge(more)

    def undo(self, ctx, actions):
        return []


class L2Stage(Stage):
    """bridge, netns, veth_pair, bridge_port: undone over netlink (what they created)."""

    def undo(self, ctx, actions):
        return Applier(ctx.kernel).rollback(actions)


class FleetStage(Stage):
    """The fleet: first, its checks (underlay, overlaps, on-link) before any change, and
    the containers' MTU a VXLAN underlay leaves known before the veth pairs."""

    def undo(self, ctx, actions):
        return FleetResource.rollback(ctx.reading, actions)


class Run(object):
    """What one pass of the pipeline collects: the module result (actions, diff), the
    stages' extra result keys, and what each stage applied (for undo)."""

    def __init__(self, check_mode, diff, result):
        self.check_mode, self.diff, self.result = check_mode, diff, result
        self.extra = {}
        self.done = []  # [(stage, its applied actions)], oldest first

    def record(self, resource, want, have, actions, label):
        record(resource, want, have, actions, self.diff, self.result, label)

    def applied(self, stage, actions):
        if actions and not self.check_mode:
            self.done.append((stage, list(actions)))

    def merge(self, more):
        for key, value in more.items():
            if key in ('rules', 'warnings') and key in self.extra:
                self.extra[key] = self.extra[key] + value
            else:
                self.extra[key] = value

    def actions(self):
        return [a for _stage, actions in self.done for a in actions]

    def undo(self, ctx):
        """Remove what the earlier stages of this call created, newest first."""
        undone = []
        for stage, actions in reversed(self.done):
            undone += stage.undo(ctx, actions)
        return undone


class _Ctx(object):
    """One kernel context for the L2 stages, one NAT backend, the firewall, persistence."""

    def __init__(self, inv, present, reading=None):
        # a change never runs beside the boot restore or a heal pass of the same network
        self.lock = None if inv.check_mode else lock(inv.params['bridge']).acquire()
        self.kernel = Kernel()
        # Every namespace is read once, with all that the stages after netns look at
        # (the bridge ports' hairpin flags only when bridge_port runs).
        routes = (4, 6) if inv.params.get('ipv6_subnet') else (4,)
        self.reading = reading or Reading(self.kernel, predict_missing=inv.check_mode, read_hint={
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
        bridge = L2Stage('bridge', BridgeResource(), {
            'bridges': [{'name': br, 'addresses': gateways or None, 'mtu': None,
                         'state': None}],
            'state': state, 'refuse_overlap': True}, mtu='bridges')
        v6 = net['ipv6_subnet']
        peers = peer_subnets(net['fleet'])
        veth = L2Stage('veth_pair', VethResource(), {
            'pairs': net['pairs'], 'owner': br, 'exclusive': True, 'state': 'present',
            'pool': net['subnet'], 'ipv6_pool': str(v6) if v6 else None,
            'reserved': [a.split('/')[0] for a in gateways]}, mtu='pairs')
        # The network's namespaces no longer listed go after veth_pair has deleted their
        # pairs: the kernel destroys unmounted namespaces asynchronously, so deleting
        # them first would leave veth_pair racing it (and check mode guessing).
        unlisted = L2Stage('netns_unlisted', NetnsResource(), {
            'name': [], 'keep': net['netns'], 'owner': br, 'exclusive': True,
            'state': 'present'})
        stages = [FleetStage('fleet', FleetResource(), want=net['fleet'])]
        if state == 'present':
            stages += [bridge,
                       L2Stage('netns', NetnsResource(), {
                           'name': net['netns'], 'owner': br, 'state': 'present'}),
                       veth,
                       L2Stage('bridge_port', PortsResource(), {
                           'bridge': br, 'ports': net['ports'], 'state': 'present'}),
                       unlisted]
        else:  # the pairs (one group delete), then the bridge without ports, namespaces
            stages += [veth, bridge, unlisted]
        # the publications as network_want validated them (not written out and read again)
        stages.append(NatStage(nat_model.publish_record(
            br, state, br, net['network'], net['ingress_protection'], net['published'],
            ipv6_subnet=v6, fleet_subnets=peers), {
                # IPv4: masquerade or nothing; IPv6: forwarding always, NAT66 if asked
                'networks': [{'name': br, 'subnet': net['subnet'] if net['masquerade'] else None,
                              'bridge': br, 'ipv6_subnet': str(v6) if v6 else None,
                              'ipv6_masquerade': net['ipv6_masquerade'],
                              'fleet_subnets': peers,
                              'state': 'present' if net['masquerade'] or v6 else 'absent'}]}))
        # after our own table: lets the network's traffic through the firewall in charge
        stages.append(Stage('firewall', FirewallResource(), {
            'bridge': br, 'state': state, 'integration': net['firewall_integration'],
            'ipv6_subnet': str(v6) if v6 else None, 'fleet': fleet_firewall(net['fleet'])},
            context='firewall'))
        # last: what rebuilds all of the above at boot (absent at boot itself: None)
        if params.get('persistent') is not None:
            stages.append(Stage('persistence', PersistResource(), {
                'bridge': br, 'state': state, 'persistent': params['persistent'],
                'network': params}, context='persistence'))
        return {'net': net, 'stages': stages}

    def context(self, inv, reading=None):
        """The pipeline's context; ``reading``: one already made (network_info's)."""
        return _Ctx(inv, inv.params.get('state') != 'absent', reading)

    def converge(self, ctx, want, check_mode, diff, result):
        """The pipeline (see the module docstring); returns the extra result keys."""
        run = Run(check_mode, diff, result)
        for s in want['stages']:
            s.check(ctx, want['net']['state'] == 'present')
        try:
            for s in want['stages']:
                s.run(ctx, run)
        except ApplyError as e:
            e.rolled_back.extend(run.undo(ctx))
            e.done[:0] = run.actions()
            raise
        except (PlanError, ValidationError) as e:
            # a refusal after earlier stages changed things (validation is meant to come
            # first; this keeps a late one from leaving half a network)
            undone = run.undo(ctx)
            if undone:
                raise type(e)('%s (this call undid what it had created before: %s)'
                              % (e, ', '.join(a.describe() for a in undone)))
            raise
        run.extra['rules'] = sorted(run.extra.get('rules', []))
        return run.extra


def stage(want, name):
    """The stage ``name`` of a want (None if the pipeline has none)."""
    return next((s for s in want['stages'] if s.name == name), None)
