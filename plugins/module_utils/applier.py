# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way actions are carried out and undone: an applier has a method per
operation (named as :attr:`runner.Action.op`) and a table of what undoes an operation
that created something. A failure raises :class:`runner.ApplyError` after undoing what
this call created, newest first. The L2 applier (:mod:`l2.apply`) and the fleet's
(:mod:`network.fleet_kernel`) are two of them."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import ApplyError


class OpApplier(object):
    """Actions by operation name; ``UNDO``: op -> (action -> its undo action, or None)."""

    UNDO = {}

    def apply_one(self, action):
        getattr(self, action.op)(action)

    def apply(self, actions):
        done = []
        for a in actions:
            try:
                self.apply_one(a)
            except Exception as e:
                self.reset()
                raise ApplyError(a, e, done, self.rollback(done))
            done.append(a)
        return done

    def rollback(self, done):
        """Undo what this run created, newest first; report what was undone."""
        undone = []
        for a in reversed(done):
            undo = self.UNDO.get(a.op)
            u = undo(a) if undo is not None else None
            if u is None:
                continue
            try:
                self.apply_one(u)
                undone.append(u)
            except Exception:  # pylint: disable=broad-except
                pass  # best effort: what could not be undone is reported by its absence
            self.reset()
        return undone

    def reset(self):
        """Forget what the applier cached of the kernel (after a change it cannot track)."""
        return None
