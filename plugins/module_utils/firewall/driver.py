# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface of a firewall driver: what the firewall stage (:mod:`resource`) asks
of each firewall it coexists with. One driver per firewall, one file each:
:mod:`firewalld`, :mod:`iptables` (Docker, ufw, plain iptables) and :mod:`nftables`
(any other table: read, never changed).

A driver is stateless; what it reads goes into the stage's ``have`` under its own keys.

* ``detect(ctx, want, chains)`` -> ``{key: reading}``: what of this firewall is there
  (``chains``: every base chain on the forward and input hooks, read once over netlink);
* ``plan(want, have, on)`` -> [:class:`runner.Action`]: what lets the network's traffic
  through (``on``) or removes what an earlier run added (not ``on``); each action
  carries its argv (``_argv``) and the state lines it adds and removes (``_add``, ``_del``);
* ``lines(want, have)`` -> [str]: its part of the state as ``--diff`` shows it;
* ``report(want, have, report, warnings)``: its part of the module's ``firewall``
  result, and the warnings of what it cannot or may not change;
* ``handles(want, have, chain)``: whether a foreign nftables base chain is this
  firewall's, so the generic driver does not warn about it a second time.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import Action


def action(op, target, argv, add=(), delete=(), **args):
    """An action of a driver: its argv (run in order), the state lines it adds/removes."""
    return Action(op, target, _argv=argv, _add=list(add), _del=list(delete), **args)


def v6(family):
    """'IPv6 ' for messages about the ipv6 side."""
    return 'IPv6 ' if family == 'ipv6' else ''


class Driver(object):
    """Defaults: a driver that finds nothing, plans nothing and says nothing."""

    name = None

    def detect(self, ctx, want, chains):
        return {}

    def plan(self, want, have, on):
        return []

    def lines(self, want, have):
        return []

    def report(self, want, have, report, warnings):
        return None

    def handles(self, want, have, chain):
        return False
