# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What this collection owns, and how it says so: one place for the owner tag and the
rule ids (pure, no kernel).

- Links and namespaces carry the interface alias ``linuxnet:<network>``
  (:func:`owner_tag`, :func:`owner_of`).
- nftables rules carry the userdata comment ``linuxnet:<rule id>#<hash>``
  (``nat_plan.tag``); iptables accept rules the comment ``linuxnet:<bridge>/<what>``
  (:func:`fw_tag`, :func:`fw_tag_network`).
- A rule id (:class:`RuleId`) says what a rule is for and whose it is:
  ``masq/<network>`` and ``masq/<network>/6`` (masquerade, per family),
  ``pub/<network>/<what>`` (the publications' shared rules: ``hairpin``, ``hairpin6``,
  ``localhost-snat``, ``localhost-guard``, ``ingress``, ``ingress6``) and
  ``pub/<network>/<proto>/<ip|*|*6>/<ports>/<pre|out>`` (one publication's DNAT).
  Built and parsed here only.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

OWNER_PREFIX = 'linuxnet:'
MASQ = 'masq'
PUB = 'pub'


def owner_tag(owner):
    """The alias of what network ``owner`` owns (None: no owner)."""
    return OWNER_PREFIX + owner if owner else None


def owner_of(alias):
    """The network named by an owner tag, or None when it is no tag of ours."""
    if alias and alias.startswith(OWNER_PREFIX):
        return alias[len(OWNER_PREFIX):]
    return None


def fw_tag(bridge, what):
    """The comment of an iptables accept rule of network ``bridge`` (``in``, ``out``, ...)."""
    return '%s%s/%s' % (OWNER_PREFIX, bridge, what)


def fw_tag_network(tag):
    """The network an iptables comment of ours belongs to (None: not ours)."""
    owner = owner_of(tag)
    return owner.rsplit('/', 1)[0] if owner and '/' in owner else None


# one publication's DNAT rule id, read back: what it publishes, and in which hook
PublicationId = collections.namedtuple('PublicationId', 'proto ip ports hook')


class RuleId(str):
    """A rule id read back: ``RuleId(text).network`` and friends. Rules, actions and results
    keep ids as plain text (what :meth:`masq` and :meth:`pub` build)."""

    @staticmethod
    def masq(network, family=4):
        return '%s/%s' % (MASQ, network) + ('/6' if family == 6 else '')

    @staticmethod
    def pub(network, *rest):
        return '/'.join((PUB, network) + tuple(str(r) for r in rest))

    @property
    def parts(self):
        return self.split('/')

    @property
    def kind(self):
        """``masq`` or ``pub`` (or whatever an unknown id starts with)."""
        return self.parts[0]

    @property
    def network(self):
        """The owning network's name (None for an id without one)."""
        parts = self.parts
        return parts[1] if len(parts) > 1 else None

    @property
    def is_masquerade(self):
        return self.kind == MASQ

    @property
    def family(self):
        """4 or 6 for a masquerade id (None otherwise)."""
        if not self.is_masquerade:
            return None
        return 6 if self.parts[2:] == ['6'] else 4

    @property
    def publication(self):
        """:class:`PublicationId` (proto, ip, ports, hook) of one publication's DNAT rule,
        else None."""
        parts = self.parts
        if len(parts) != 6 or parts[0] != PUB:
            return None
        return PublicationId(*parts[2:])
