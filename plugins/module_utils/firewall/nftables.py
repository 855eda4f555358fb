# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generic nftables driver (:mod:`driver`): any other table's base chain on the
forward or input hook whose policy or last rule drops or rejects (every table of
families ip, inet and bridge, and ip6 when the network has IPv6, read over netlink). It
is never changed: a warning names its table, chain and hook and prints the rules to
add, and the result says the network is not known to be reachable."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils.firewall.driver import Driver
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec as nft
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_render

OUR_TABLES = ('linuxnet',)
IP_FAMILIES = (nft.NFPROTO_INET, nft.NFPROTO_IPV4, nft.NFPROTO_IPV6)


def chain_drops(chain):
    """Why a foreign base chain drops what it does not accept, or None."""
    if chain.policy == nft.NF_DROP:
        return 'policy drop'
    if chain.rules:
        name, attrs = chain.rules[-1].exprs[-1] if chain.rules[-1].exprs else (None, {})
        if name == 'reject':
            return 'its last rule rejects'
        if name == 'immediate' and nft_render.render_exprs([(name, attrs)]) == 'drop':
            return 'its last rule drops'
    return None


def accept_rules(chain, bridge):
    """The nft rules a user would add to ``chain`` for this network (text)."""
    where = 'nft insert rule %s %s %s ' % (
        nft.FAMILY_NAMES[chain.family], chain.table, chain.name)
    if chain.family == nft.NFPROTO_BRIDGE:
        return [where + 'meta ibrname "%s" accept' % bridge]
    rules = [where + 'iifname "%s" accept' % bridge]
    if chain.hook == nft.NF_INET_FORWARD:
        rules += [where + 'oifname "%s" ct state established,related accept' % bridge,
                  where + 'oifname "%s" ct status dnat accept' % bridge]
    return rules


def covered(chain, bridge):
    """The chain already accepts what comes from the bridge: a rule ``iifname BRIDGE
    accept`` (its counter, if any, left out of the comparison)."""
    want = 'iifname "%s" accept' % bridge
    return any(nft_render.render_exprs([e for e in r.exprs if e[0] != 'counter']) == want
               for r in chain.rules)


class NftablesDriver(Driver):
    """Warns about what it finds; ``others``: the drivers whose tables are handled."""

    name = 'nftables'

    def __init__(self, others=()):
        self.others = tuple(others)

    def report(self, want, have, report, warnings):
        br = want['bridge']
        present = want['state'] == 'present'
        ipv6 = bool(want.get('ipv6_subnet'))
        for c in have['chains']:
            fam = nft.FAMILY_NAMES.get(c.family, str(c.family))
            if c.table == 'docker-bridges' and '%s %s' % (fam, c.table) not in \
                    report['docker']['nftables']:
                report['docker']['nftables'].append('%s %s' % (fam, c.table))
            if c.family == nft.NFPROTO_IPV6 and not ipv6:
                continue  # an ip6 table cannot drop an IPv4-only network's traffic
            if self.handles(want, have, c) or any(d.handles(want, have, c) for d in self.others):
                continue
            why = chain_drops(c)
            if why is None or covered(c, br):
                continue
            hook = nft.HOOK_NAMES.get(c.hook, str(c.hook))
            rules = accept_rules(c, br)
            report['unhandled'].append({'family': fam, 'table': c.table, 'chain': c.name,
                                        'hook': hook, 'why': why, 'suggested': rules})
            if present:
                warnings.append(
                    'table %s %s, chain %s (hook %s, %s) may drop traffic of %s, and it is not '
                    'ours to change. To let it through, add: %s' % (
                        fam, c.table, c.name, hook, why, br, '; '.join(rules)))

    def handles(self, want, have, chain):
        """Our own table: never a foreign firewall."""
        return chain.table in OUR_TABLES and chain.family in IP_FAMILIES
