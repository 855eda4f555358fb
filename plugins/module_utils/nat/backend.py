# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface of a NAT backend: the planned rule set in, opaque operations out.

The NAT resources (:mod:`nat`) and the ``network`` pipeline only ever talk to this
interface: they build :class:`nat_model.RuleSpec`, let the backend compile and observe,
compute the rule diff themselves (:func:`nat_plan.diff_rules`), and hand it to the
backend, which returns its operations as :class:`runner.Action` (shown as the module's
``actions``, the check-mode prediction) and later carries them out as one transaction.
:class:`nft_backend.NftBackend` (table ``inet linuxnet``) is the one backend today; an
iptables backend would implement the same six methods in a module of its own.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class NatBackend(object):
    """What a NAT backend implements."""

    #: shown in the modules' result (``backend``)
    name = None

    def compile(self, spec):
        """:class:`nat_model.RuleSpec` -> :class:`nat_plan.CompiledRule`; no kernel access."""
        raise NotImplementedError

    def observe(self):
        """Read the kernel once -> an observation whose ``owned`` lists the
        :class:`nat_plan.OwnedRule` found (anything else in it is the backend's own)."""
        raise NotImplementedError

    def check(self, have):
        """Raise :class:`runner.PlanError` when what ``have`` shows must not be overridden
        (e.g. our chains changed by hand): called before a run changes anything."""
        raise NotImplementedError

    def plan(self, diff, have):
        """:class:`nat_plan.RuleDiff` planned from ``have`` -> the backend's actions
        (including what it needs around the rules: tables, chains, migrations).
        Raises :class:`runner.PlanError` when the kernel state must not be overridden."""
        raise NotImplementedError

    def apply(self, actions):
        """Carry the actions out atomically: all or none; raises :class:`runner.ApplyError`."""
        raise NotImplementedError

    def close(self):
        """Release the backend's sockets."""
