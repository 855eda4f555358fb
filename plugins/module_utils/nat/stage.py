# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NAT stage of module ``network``: port_publish and masquerade as one stage.

The table is read once, before any stage changes anything (:meth:`NatStage.check`:
another network's published ports, a chain changed by hand). After the L2 stages have
allocated the containers' addresses, the rules of both resources are diffed together
on that one reading (one scope: either resource's rule ids) and committed as ONE
transaction, with the host settings around it (ip_forward, IPv6 forwarding,
route_localnet: :func:`resources.commit`). Each action is shown under the resource whose
rule it concerns (the table and chains under port_publish, the first), so the result
reads as if the two modules had run.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import publications
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.plan import diff_rules
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat.resources import (
    HOST_OPS, MasqueradeResource, PortPublishResource, commit)
from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import RuleId


class NatStage(object):
    """Both NAT resources of one network, on the pipeline's NAT context."""

    name = 'nat'
    labels = ('port_publish', 'masquerade')

    def __init__(self, publish_want, masquerade_params):
        self.publish, self.masquerade = PortPublishResource(), MasqueradeResource()
        self.publish_want = publish_want  # the publications as network_want validated them
        self.masquerade_want = self.masquerade.want(masquerade_params)
        self.reading = None

    def check(self, ctx, present):
        """The one reading of the table, and its checks, before any stage changes a thing."""
        self.reading = ctx.nat.backend.observe()
        self.publish.check_conflicts(self.publish_want, self.reading)
        if present:
            ctx.nat.backend.check(self.reading)

    def run(self, ctx, run):
        """The joint diff, recorded under each resource; one commit (not in check mode)."""
        nat, pub, msq = ctx.nat, self.publish, self.masquerade
        pub_want = self.addressed(run.extra)
        pub_have = pub.have(nat, pub_want, self.reading)
        masq_have = msq.have(nat, self.masquerade_want, self.reading)
        rules, pub_actions, masq_actions = self.plan(nat.backend, pub_want, pub_have, masq_have)
        run.record(pub, pub_want, pub_have, pub_actions, self.labels[0])
        run.record(msq, self.masquerade_want, masq_have, masq_actions, self.labels[1])
        if not run.check_mode:
            host = [a for a in pub_actions + masq_actions if a.op in HOST_OPS]
            commit(nat.backend, rules + host)
            run.applied(self, rules + host)
        more = pub.result(pub_want, pub_have, pub_actions)
        if self.masquerade_want['networks'][0]['state'] == 'present':
            # its "ip_forward is 0" warning: the masquerade resource turns it on
            more.pop('warnings', None)
        run.merge(more)
        run.merge(msq.result(self.masquerade_want, masq_have, masq_actions))

    def addressed(self, extra):
        """The publications with their containers' addresses (veth_pair's allocation)."""
        pairs = extra.get('pairs', {})
        return publications.with_addresses(
            self.publish_want, dict((n, p['address']) for n, p in pairs.items()),
            dict((n, p['address6']) for n, p in pairs.items() if p['address6']))

    def plan(self, backend, pub_want, pub_have, masq_have):
        """-> (the rule operations of both, port_publish's actions, masquerade's actions)."""
        pub, msq = self.publish, self.masquerade
        pub_scope, masq_scope = pub.in_scope(pub_want), msq.in_scope(self.masquerade_want)
        rules = backend.plan(diff_rules(
            pub_have['compiled'] + masq_have['compiled'], self.reading.owned,
            lambda rid: pub_scope(rid) or masq_scope(rid)), self.reading)
        masq_rule = [RuleId(a.args.get('_rid') or '').is_masquerade for a in rules]
        pub_actions = [a for a, m in zip(rules, masq_rule) if not m]
        pub_actions += pub.host_actions(pub_want, pub_have)
        masq_actions = [a for a, m in zip(rules, masq_rule) if m]
        masq_actions += msq.host_actions(self.masquerade_want, masq_have)
        return rules, pub_actions, masq_actions

    def undo(self, ctx, actions):
        """Nothing: the rules went in as one transaction, the last change of the stages
        that an undo covers."""
        return []
