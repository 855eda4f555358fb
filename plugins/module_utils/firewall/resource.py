# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Firewall coexistence: a network that works where another firewall is in charge.

A ``drop`` or ``reject`` in any nftables table or iptables chain on a hook drops what
our own table accepts. This resource (a stage of module ``network``) finds out what is
in charge and, with ``integration: auto``, does the least that lets the network's own
traffic through, each through that firewall's own interface:

* **firewalld** running: the bridge in zone ``linuxnet`` (target ACCEPT) and the policy
  ``linuxnet-forward`` (driver :mod:`firewalld`);
* **iptables** (``iptables-nft`` and/or ``iptables-legacy``: Docker, ufw, a FORWARD or
  INPUT policy of DROP): tagged accept rules in ``DOCKER-USER`` or at the top of
  ``FORWARD``/``INPUT`` (driver :mod:`iptables`);
* **any other** base chain on the forward or input hook whose policy or last rule drops
  or rejects (read over netlink, every table of families ip, inet and bridge, and ip6
  when the network has IPv6): never changed; a warning names its table, chain and hook
  and prints the rule to add, and the result says the network is not known to be
  reachable (driver :mod:`nftables`).

**IPv6** (want ``ipv6_subnet``): firewalld's zone and policy name no family, so they
carry IPv6 as they are; iptables has a second side, ``ip6tables`` (Docker with
``ip6tables``, ufw with ``IPV6=yes``), read and given the same tagged rules when the
network has IPv6 and cleared of ours when it has not (any more). An ip6tables side in
use that cannot be read (no binary) is said in a warning, never ignored.

``integration: none`` changes nothing outside our table (and removes what an earlier
``auto`` run added) but warns all the same. ``state: absent`` removes what this network
added. want -> observe -> plan (explicit actions, also the check mode and ``--diff``
prediction) -> apply, as every resource.

Each firewall is a driver behind one interface (:mod:`driver`: detect, plan, lines,
report); this stage reads the hooked chains once and loops over the drivers. A new
firewall is a new driver in :data:`DRIVERS`.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils import validate
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall.firewalld import (
    FirewalldDriver)
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall.iptables import (
    IptablesDriver)
from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall.nftables import (
    NftablesDriver)
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec as nft
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_socket
from ansible_collections.linuxnet.container_network.plugins.module_utils.hostio import Commands
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import ApplyError

MODES = ('auto', 'none')
FAMILIES = (nft.NFPROTO_INET, nft.NFPROTO_IPV4, nft.NFPROTO_IPV6, nft.NFPROTO_BRIDGE)
HOOKS = (nft.NF_INET_FORWARD, nft.NF_INET_LOCAL_IN)
_FIREWALLD, _IPTABLES = FirewalldDriver(), IptablesDriver()
# in this order: their actions, state lines and warnings come out in it
DRIVERS = (_FIREWALLD, _IPTABLES, NftablesDriver(others=(_FIREWALLD, _IPTABLES)))


class _Ctx(object):
    def __init__(self, cmds, nft_factory=None):
        self.cmds = cmds
        self._factory = nft_factory or (lambda: nft_socket.NftSocket(nft.NFPROTO_UNSPEC))

    def hooked_chains(self):
        with self._factory() as sock:
            return sock.hooked_chains(HOOKS, FAMILIES)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FirewallResource(object):
    """The firewall integration of one network (named by its bridge)."""

    def want(self, params):
        mode = validate.one_of(params.get('integration') or 'auto', MODES,
                               validate.Path().firewall_integration)
        return {'bridge': validate.ifname(params['bridge'], validate.Path().bridge),
                'state': params.get('state') or 'present', 'integration': mode,
                'ipv6_subnet': params.get('ipv6_subnet') or None,
                # the fleet's peers: {'subnets': [...], 'vteps': [...]} (module network)
                'fleet': params.get('fleet') or None}

    def context(self, inv):
        return _Ctx(Commands(inv.run_command))

    def observe(self, ctx, want):
        chains = ctx.hooked_chains()
        have = {'chains': chains}
        for driver in DRIVERS:
            have.update(driver.detect(ctx, want, chains))
        return have

    def plan(self, want, have):
        on = want['state'] == 'present' and want['integration'] == 'auto'
        return [a for driver in DRIVERS for a in driver.plan(want, have, on)]

    def apply(self, ctx, actions, have=None):
        done = []
        for a in actions:
            for argv in a.args['_argv']:
                rc, out, err = ctx.cmds.run(argv)
                if rc != 0:
                    raise ApplyError(a, '%s exited %d: %s' % (
                        ' '.join(argv), rc, (err or out).strip()), done)
            done.append(a)

    def render(self, want, have, actions):
        before = sorted(state_lines(want, have))
        after = set(before)
        for a in actions:
            after -= set(a.args.get('_del', ()))
            after |= set(a.args.get('_add', ()))
        return '\n'.join(before) + ('\n' if before else ''), \
            '\n'.join(sorted(after)) + ('\n' if after else '')

    def result(self, want, have, actions):
        report, warnings = assess(want, have)
        return {'firewall': report, 'warnings': warnings} if warnings else {'firewall': report}


def state_lines(want, have):
    """What the integration looks like now, one line per fact (the --diff 'before')."""
    return [line for driver in DRIVERS for line in driver.lines(want, have)]


def assess(want, have):
    """The module's ``firewall`` result and its warnings."""
    report = {'integration': want['integration'], 'firewalld': {'running': False},
              'iptables': [], 'docker': {'iptables': False, 'nftables': []}, 'ufw': False,
              'unhandled': []}
    warnings = []
    for driver in DRIVERS:
        driver.report(want, have, report, warnings)
    blocked = report['unhandled'] or (want['integration'] == 'none' and warnings)
    report['reachable'] = not blocked
    return report, warnings
