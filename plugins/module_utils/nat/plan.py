# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NAT planning, backend neutral: owner tags, compiled and observed rules, the rule diff.

A backend (:mod:`nat_backend`) compiles each :class:`nat_model.RuleSpec` to a
:class:`CompiledRule` (its text as the kernel will hand it back, and the backend's native
form) and observes the rules carrying our tag as :class:`OwnedRule`. :func:`diff_rules`
decides, for the rule ids in scope, which observed rules go and which compiled rules come:
that is the whole NAT plan, whatever the backend. The backend then turns it into its own
operations (tables, chains, one transaction).

Owner tag (the rule's comment): ``linuxnet:<rid>#<hash>``. The hash covers the chain and
the rule text, so the same input gives the same tag and no change; a changed input gives
another hash, and that rule (only it) is replaced. Rules without our tag are never touched.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import OWNER_PREFIX
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import PlanError


def parse_tag(comment):
    """``linuxnet:<rid>#<hash>`` -> (rid, hash), else None."""
    if not comment or not comment.startswith(OWNER_PREFIX) or '#' not in comment:
        return None
    rid, sep, digest = comment[len(OWNER_PREFIX):].rpartition('#')
    if not rid or not sep or not digest:
        return None
    return rid, digest


def rule_hash(chain, text):
    return hashlib.sha256(('%s\n%s' % (chain, text)).encode('utf-8')).hexdigest()[:12]


def tag(rid, digest):
    return '%s%s#%s' % (OWNER_PREFIX, rid, digest)


def render_line(chain, text, rid, digest):
    return '%s: %s comment "%s"' % (chain, text, tag(rid, digest))


class OwnedRule(object):
    """An observed rule carrying our tag. ``where``: the backend's name for the place it
    lives in when that is not the backend's own (a table of an earlier release);
    ``native``: what the backend needs to move it (None when it cannot); ``exprs``: its
    decoded expressions (what it does, read by structure: :func:`nft_expr.dnat_target`)."""

    def __init__(self, rid, digest, chain, handle, text, where=None, native=None, exprs=None):
        self.rid = rid
        self.exprs = exprs or []
        self.digest = digest
        self.chain = chain
        self.handle = handle
        self.text = text
        self.where = where
        self.native = native

    def line(self):
        return render_line(self.chain, self.text, self.rid, self.digest)


class CompiledRule(object):
    """A desired rule compiled by a backend: its rid, chain, text, tag and native form."""

    def __init__(self, rid, chain, text, native, spec=None):
        self.spec = spec
        self.rid = rid
        self.chain = chain
        self.text = text
        self.digest = rule_hash(chain, text)
        self.native = native

    @property
    def comment(self):
        return tag(self.rid, self.digest)

    def line(self):
        return render_line(self.chain, self.text, self.rid, self.digest)


class RuleDiff(object):
    """The NAT plan of one scope: observed rules to delete, compiled rules to add."""

    def __init__(self, deletes, adds):
        self.deletes = deletes
        self.adds = adds

    def __bool__(self):
        return bool(self.deletes or self.adds)

    __nonzero__ = __bool__


def diff_rules(desired, owned, in_scope):
    """For the rule ids ``in_scope(rid)`` says we manage now:

    * a desired rule whose rid, chain and hash are observed (in the backend's own place)
      is kept, once;
    * otherwise the observed rules of that rid are deleted and the desired one added;
    * observed in-scope rules nobody wants are deleted.
    """
    by_rid = {}
    for o in owned:
        by_rid.setdefault(o.rid, []).append(o)
    wanted, deletes, adds = set(), [], []
    for d in desired:
        if d.rid in wanted:  # pragma: no cover - guarded by the model
            raise PlanError('internal error: duplicate rule id %s' % d.rid)
        wanted.add(d.rid)
        current = by_rid.get(d.rid, [])
        keep = None
        for o in current:
            if keep is None and o.where is None and o.digest == d.digest and o.chain == d.chain:
                keep = o
        deletes.extend(o for o in current if o is not keep)
        if keep is None:
            adds.append(d)
    deletes.extend(o for o in owned if o.rid not in wanted and in_scope(o.rid))
    return RuleDiff(deletes, adds)


def lines_in_scope(owned, in_scope):
    """The ``--diff`` text of the observed rules in scope (sorted)."""
    return sorted(o.line() for o in owned if in_scope(o.rid))
