# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nfnetlink socket: dump tables, chains and rules; send one atomic batch.

pyroute2 provides the NETLINK_NETFILTER socket, message headers, sequence numbers, the
batch transport and error reporting (``NetlinkError``), which behave the same in 0.7.2 and
0.9.7; the payloads that carry logic are bytes from :mod:`nft_codec` (see there why).

Longer than ~300 lines because of the three message classes' attribute maps (the
kernel's attribute lists, declared once) and the dumped objects they are read into.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_codec as codec
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_expr as x
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_render as render

NFT_IMPORT_ERROR = None
try:
    from pyroute2.netlink import NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE, NLM_F_APPEND, NLM_F_DUMP
    from pyroute2.netlink.nfnetlink import nfgen_msg, NFNL_SUBSYS_NFTABLES
    from pyroute2.netlink.nfnetlink.nftsocket import NFTSocket
    from pyroute2.netlink.exceptions import NetlinkError
    HAS_NFT = True
except ImportError:  # pragma: no cover - reported by the module's HAS_PYROUTE2 check
    import traceback
    NFT_IMPORT_ERROR = traceback.format_exc()
    HAS_NFT = False
    nfgen_msg = object
    NetlinkError = OSError
    NLM_F_REQUEST = 1
    NLM_F_ACK = 4
    NLM_F_CREATE = 0x400
    NLM_F_APPEND = 0x800
    NLM_F_DUMP = 0x300
    NFNL_SUBSYS_NFTABLES = 10

# ---------------------------------------------------------------- netlink messages
if HAS_NFT:
    class _table_msg(nfgen_msg):
        prefix = 'NFTA_TABLE_'
        nla_map = (
            ('NFTA_TABLE_UNSPEC', 'none'),
            ('NFTA_TABLE_NAME', 'asciiz'),
            ('NFTA_TABLE_FLAGS', 'be32'),
            ('NFTA_TABLE_USE', 'be32'),
            ('NFTA_TABLE_HANDLE', 'be64'),
            ('NFTA_TABLE_PAD', 'cdata'),
            ('NFTA_TABLE_USERDATA', 'cdata'),
        )

    class _chain_msg(nfgen_msg):
        prefix = 'NFTA_CHAIN_'
        nla_map = (
            ('NFTA_CHAIN_UNSPEC', 'none'),
            ('NFTA_CHAIN_TABLE', 'asciiz'),
            ('NFTA_CHAIN_HANDLE', 'be64'),
            ('NFTA_CHAIN_NAME', 'asciiz'),
            ('NFTA_CHAIN_HOOK', 'cdata'),
            ('NFTA_CHAIN_POLICY', 'be32'),
            ('NFTA_CHAIN_USE', 'be32'),
            ('NFTA_CHAIN_TYPE', 'asciiz'),
            ('NFTA_CHAIN_COUNTERS', 'cdata'),
            ('NFTA_CHAIN_PAD', 'cdata'),
            ('NFTA_CHAIN_FLAGS', 'be32'),
            ('NFTA_CHAIN_ID', 'be32'),
            ('NFTA_CHAIN_USERDATA', 'cdata'),
        )

    class _rule_msg(nfgen_msg):
        prefix = 'NFTA_RULE_'
        nla_map = (
            ('NFTA_RULE_UNSPEC', 'none'),
            ('NFTA_RULE_TABLE', 'asciiz'),
            ('NFTA_RULE_CHAIN', 'asciiz'),
            ('NFTA_RULE_HANDLE', 'be64'),
            ('NFTA_RULE_EXPRESSIONS', 'cdata'),
            ('NFTA_RULE_COMPAT', 'cdata'),
            ('NFTA_RULE_POSITION', 'be64'),
            ('NFTA_RULE_USERDATA', 'cdata'),
            ('NFTA_RULE_PAD', 'cdata'),
            ('NFTA_RULE_ID', 'be32'),
            ('NFTA_RULE_POSITION_ID', 'be32'),
            ('NFTA_RULE_CHAIN_ID', 'be32'),
        )

    _POLICY = {
        codec.NFT_MSG_NEWTABLE: _table_msg, codec.NFT_MSG_GETTABLE: _table_msg, codec.NFT_MSG_DELTABLE: _table_msg,
        codec.NFT_MSG_NEWCHAIN: _chain_msg, codec.NFT_MSG_GETCHAIN: _chain_msg, codec.NFT_MSG_DELCHAIN: _chain_msg,
        codec.NFT_MSG_NEWRULE: _rule_msg, codec.NFT_MSG_GETRULE: _rule_msg, codec.NFT_MSG_DELRULE: _rule_msg,
    }


def _bytes(v):
    if isinstance(v, str):  # pragma: no cover - cdata decodes to bytes in 0.7 and 0.9
        return v.encode('latin-1')
    return bytes(v or b'')


class Chain(object):
    """A chain as dumped (base chain: hook/prio/type set)."""

    def __init__(self, name, hook=None, priority=None, ctype=None, policy=None, family=None,
                 table=None):
        self.name = name
        self.hook = hook
        self.priority = priority
        self.ctype = ctype
        self.policy = policy
        self.family = family
        self.table = table
        self.rules = []  # filled by hooked_chains: [Rule]

    def __repr__(self):
        return 'Chain(%s, %s)' % (self.name, self.hook)


class Rule(object):
    """A rule as dumped: chain, handle, comment (owner tag) and decoded expressions."""

    def __init__(self, chain, handle, comment, exprs, raw=None):
        self.chain = chain
        self.handle = handle
        self.comment = comment
        self.exprs = exprs
        self.raw = raw  # the NFTA_RULE_EXPRESSIONS payload, as the kernel sent it

    @property
    def text(self):
        return render.render_exprs(self.exprs)

    def __repr__(self):
        return 'Rule(%s #%s %s)' % (self.chain, self.handle, self.comment)


class TableState(object):
    """One table as dumped: exists?, use count, chains by name, rules in order."""

    def __init__(self, name, exists=False, use=0, chains=None, rules=None):
        self.name = name
        self.exists = exists
        self.use = use
        self.chains = chains or {}
        self.rules = rules or []


class NftSocket(object):
    """pyroute2's NFTSocket with raw payload classes. pyroute2 sets the socket's family
    on every dump request (0.7 and 0.9): a socket of family unspec reads every family,
    and the readers here filter by the family asked for. Batch messages carry their own
    family (:class:`BatchOp`), the socket's when not given."""

    def __init__(self, family=codec.NFPROTO_IPV4):
        self.family = family
        self.sock = NFTSocket(nfgen_family=family)
        self.sock.register_policy(dict(
            ((NFNL_SUBSYS_NFTABLES << 8) | k, v) for k, v in _POLICY.items()))

    def close(self):
        try:
            self.sock.close()
        except Exception:  # pragma: no cover
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- reading
    def _dump(self, msg_class, msg_type, attrs):
        """A dump request; its family is the socket's (pyroute2 sets it anyway)."""
        msg = msg_class()
        msg['nfgen_family'] = self.family
        msg['attrs'] = attrs
        try:
            return list(self.sock.request_get(msg, msg_type, NLM_F_REQUEST | NLM_F_DUMP))
        except NetlinkError as e:
            if e.code == 2:  # ENOENT: no such table
                return []
            raise

    @staticmethod
    def _chain(c):
        hook = c.get_attr('NFTA_CHAIN_HOOK')
        ch = Chain(c.get_attr('NFTA_CHAIN_NAME'), ctype=c.get_attr('NFTA_CHAIN_TYPE'),
                   policy=c.get_attr('NFTA_CHAIN_POLICY'), family=c['nfgen_family'],
                   table=c.get_attr('NFTA_CHAIN_TABLE'))
        if hook is not None:
            hm = codec.attr_map(_bytes(hook))
            if codec.NFTA_HOOK_HOOKNUM in hm:
                ch.hook = codec.unbe32(hm[codec.NFTA_HOOK_HOOKNUM])
            if codec.NFTA_HOOK_PRIORITY in hm:
                ch.priority = codec.unbe32s(hm[codec.NFTA_HOOK_PRIORITY])
        return ch

    @staticmethod
    def _rule(r):
        raw = _bytes(r.get_attr('NFTA_RULE_EXPRESSIONS'))
        return Rule(r.get_attr('NFTA_RULE_CHAIN'), r.get_attr('NFTA_RULE_HANDLE'),
                    codec.decode_comment(_bytes(r.get_attr('NFTA_RULE_USERDATA'))),
                    x.decode_exprs(raw), raw)

    def hooked_chains(self, hooks, families):
        """Base chains of every table of ``families`` on ``hooks``, each with its rules.

        One chain dump of all families, then one rule dump per table that has such a
        chain: what a firewall check reads, whoever owns the tables.
        """
        chains = [self._chain(c) for c in self._dump(_chain_msg, codec.NFT_MSG_GETCHAIN, [])]
        chains = [c for c in chains if c.family in families and c.hook in hooks
                  and c.ctype == 'filter']
        by_key = dict(((c.family, c.table, c.name), c) for c in chains)
        for family, table in sorted(set((c.family, c.table) for c in chains)):
            for r in self._dump(_rule_msg, codec.NFT_MSG_GETRULE, [('NFTA_RULE_TABLE', table)]):
                c = by_key.get((r['nfgen_family'], r.get_attr('NFTA_RULE_TABLE'),
                                r.get_attr('NFTA_RULE_CHAIN')))
                if c is not None:
                    c.rules.append(self._rule(r))
        return chains

    def tables(self):
        """``{(family, name): use count}`` of the tables this socket sees (one dump)."""
        return dict(((t['nfgen_family'], t.get_attr('NFTA_TABLE_NAME')),
                     t.get_attr('NFTA_TABLE_USE') or 0)
                    for t in self._dump(_table_msg, codec.NFT_MSG_GETTABLE, []))

    def dump_table(self, name, family=None, tables=None):
        """Read one table (of our family unless ``family``, which a socket of family
        unspec reads too): its chains and rules. Three dumps, or two given ``tables``
        (:meth:`tables`), none when it does not exist."""
        family = self.family if family is None else family
        state = TableState(name)
        if tables is None:
            tables = self.tables()
        if (family, name) not in tables:
            return state
        state.exists = True
        state.use = tables[(family, name)]
        for m in self._dump(_chain_msg, codec.NFT_MSG_GETCHAIN, [('NFTA_CHAIN_TABLE', name)]):
            if m['nfgen_family'] != family or m.get_attr('NFTA_CHAIN_TABLE') != name:
                continue
            ch = self._chain(m)
            state.chains[ch.name] = ch
        for r in self._dump(_rule_msg, codec.NFT_MSG_GETRULE, [('NFTA_RULE_TABLE', name)]):
            if r['nfgen_family'] != family or r.get_attr('NFTA_RULE_TABLE') != name:
                continue
            state.rules.append(self._rule(r))
        return state

    # -- writing
    def batch(self, ops):
        """Send ``ops`` (list of BatchOp) as ONE nfnetlink transaction.

        The kernel applies all of them or none: on any error the whole batch
        is aborted and the first NetlinkError is raised.
        """
        if not ops:
            return
        begin = nfgen_msg()
        begin['res_id'] = NFNL_SUBSYS_NFTABLES
        begin['header']['type'] = codec.NFNL_MSG_BATCH_BEGIN
        begin['header']['flags'] = NLM_F_REQUEST
        end = nfgen_msg()
        end['res_id'] = NFNL_SUBSYS_NFTABLES
        end['header']['type'] = codec.NFNL_MSG_BATCH_END
        end['header']['flags'] = NLM_F_REQUEST
        msgs = [begin] + [op.message(self.family if op.family is None else op.family)
                          for op in ops] + [end]
        # consume every ack: errors are raised from here
        list(self.sock.nlm_request_batch(msgs, noraise=False))


class BatchOp(object):
    """One message of a batch: newtable, deltable, newchain, newrule, delrule."""

    def __init__(self, kind, table, chain=None, handle=None, exprs=None, comment=None,
                 hook=None, priority=None, ctype=None, family=None):
        self.kind = kind
        self.family = family  # None: the socket's
        self.table = table
        self.chain = chain
        self.handle = handle
        self.exprs = exprs
        self.comment = comment
        self.hook = hook
        self.priority = priority
        self.ctype = ctype

    def message(self, family):
        flags = NLM_F_REQUEST | NLM_F_ACK
        if self.kind == 'newtable':
            msg, mtype = _table_msg(), codec.NFT_MSG_NEWTABLE
            flags |= NLM_F_CREATE
            msg['attrs'] = [('NFTA_TABLE_NAME', self.table), ('NFTA_TABLE_FLAGS', 0)]
        elif self.kind == 'deltable':
            msg, mtype = _table_msg(), codec.NFT_MSG_DELTABLE
            msg['attrs'] = [('NFTA_TABLE_NAME', self.table)]
        elif self.kind == 'newchain':
            msg, mtype = _chain_msg(), codec.NFT_MSG_NEWCHAIN
            flags |= NLM_F_CREATE
            msg['attrs'] = [('NFTA_CHAIN_TABLE', self.table), ('NFTA_CHAIN_NAME', self.chain),
                            ('NFTA_CHAIN_HOOK', codec.encode_attrs([
                                (codec.NFTA_HOOK_HOOKNUM, codec.be32(self.hook)),
                                (codec.NFTA_HOOK_PRIORITY, codec.be32s(self.priority))])),
                            ('NFTA_CHAIN_POLICY', codec.NF_ACCEPT),
                            ('NFTA_CHAIN_TYPE', self.ctype)]
        elif self.kind == 'newrule':
            msg, mtype = _rule_msg(), codec.NFT_MSG_NEWRULE
            flags |= NLM_F_CREATE | NLM_F_APPEND
            msg['attrs'] = [('NFTA_RULE_TABLE', self.table), ('NFTA_RULE_CHAIN', self.chain),
                            ('NFTA_RULE_EXPRESSIONS', self.exprs if isinstance(self.exprs, bytes)
                             else x.encode_exprs(self.exprs)),
                            ('NFTA_RULE_USERDATA', codec.encode_comment(self.comment))]
        elif self.kind == 'delrule':
            msg, mtype = _rule_msg(), codec.NFT_MSG_DELRULE
            msg['attrs'] = [('NFTA_RULE_TABLE', self.table), ('NFTA_RULE_CHAIN', self.chain),
                            ('NFTA_RULE_HANDLE', self.handle)]
        else:  # pragma: no cover - programming error
            raise ValueError('unknown batch op %s' % self.kind)
        msg['nfgen_family'] = family
        msg['header']['type'] = (NFNL_SUBSYS_NFTABLES << 8) | mtype
        msg['header']['flags'] = flags
        return msg

    def __repr__(self):
        return 'BatchOp(%s %s %s %s)' % (self.kind, self.chain, self.handle, self.comment)
