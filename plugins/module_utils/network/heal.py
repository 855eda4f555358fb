# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Healing a persistent network after a firewall reload, restart or flush.

``nft flush ruleset`` (Debian's ``nftables.service`` on start, reload and stop),
``firewall-cmd --reload`` or a restart of firewalld, ``ufw reload``, ``ufw disable &&
ufw enable``, a restart of Docker or ``iptables -F`` can remove rules the network needs: our
table ``inet linuxnet``, or the accept rules in the iptables chains of a firewall in
charge. All of them go through nf_tables (iptables-nft included), which tells every change
on the netlink multicast group ``NFNLGRP_NFTABLES``.

The heal service of network ``BR`` (``linuxnet-heal@BR.service``, installed with the boot
unit by :mod:`persist`) runs :func:`main`: it blocks on that group (nothing runs while
nothing happens), and when a change that can have removed something of ours arrives
(:func:`relevant`), it waits for the burst to end (:data:`QUIET` seconds of silence, at
most :data:`MAX_WAIT`) and runs the network's boot restore (:func:`boot.boot`: the
same want -> observe -> plan -> apply as at boot, which changes only what is missing) in
a child forked from the service, which imported that code once. The restore takes the
network's lock (:class:`NetworkLock`), so it never runs beside an Ansible run of the same
network. A pass that fails (firewalld busy with its own reload answers no D-Bus call) is
tried again after :data:`RETRY` seconds, doubling, at most :data:`RETRIES` times, sooner
when another change arrives; then the service waits for the next change.

Importing this module loads no pyroute2 (the standard library and the pure nft_codec):
the module ``network`` imports it for the lock and the unit's text.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import importlib
import os
import select
import socket
import struct
import sys
import time
import traceback

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nft_codec import (
    FAMILY_NAMES, NFNL_SUBSYS_NFTABLES, NFNLGRP_NFTABLES, NFT_MSG_DELCHAIN as DELCHAIN,
    NFT_MSG_DELRULE as DELRULE, NFT_MSG_DELSET as DELSET, NFT_MSG_DELTABLE as DELTABLE,
    NFT_MSG_NEWCHAIN as NEWCHAIN, NFT_MSG_NEWRULE as NEWRULE, NFT_MSG_NEWSET as NEWSET,
    NFT_MSG_NEWTABLE as NEWTABLE, attr_map, unasciiz)
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import PIPELINE

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NAMES = {NEWTABLE: 'new table', DELTABLE: 'delete table', NEWCHAIN: 'new chain',
         DELCHAIN: 'delete chain', NEWRULE: 'new rule', DELRULE: 'delete rule',
         NEWSET: 'new set', DELSET: 'delete set'}
# NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE: the table's name
TABLE_ATTR = 1
OWN_TABLE = 'linuxnet'  # inet linuxnet, and ip linuxnet of earlier releases
QUIET = 0.25
MAX_WAIT = 2.0
RETRY = 1.0
RETRIES = 6


LOCK = '.lock'


class NetworkLock(object):
    """One run at a time of the network whose state directory is ``directory``: the
    module (not in check mode), the boot restore and a heal pass each hold it while they
    read and change the network (``flock`` on ``DIR/.lock``; reentrant in a process).

    No directory, no lock: a network that is not persistent has no heal service.
    A lock file whose directory was removed and made anew while this waited is
    taken again on the new one.
    """

    _held = {}

    def __init__(self, directory):
        self.directory = directory
        self.fd = None

    def acquire(self):
        if self.directory in NetworkLock._held:
            return self
        path = os.path.join(self.directory, LOCK)
        while os.path.isdir(self.directory):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as e:
                if e.errno == errno.ENOENT:
                    continue  # the directory went just now
                raise
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except OSError:
                same = False
            if same:
                self.fd = NetworkLock._held[self.directory] = fd
                break
            os.close(fd)
        return self

    def release(self):
        if self.fd is not None:
            del NetworkLock._held[self.directory]
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def relevant(msg, table):
    """Can this nf_tables change have removed something the network needs?

    In our own table: any deletion (our own additions are not). Elsewhere: tables and
    chains coming and going (a firewall loading or flushing its ruleset; a new DROP
    policy is a chain change) and rule deletions (our accept rules in a firewall's
    chains). New rules elsewhere are not: they are what firewalls (and our own firewall
    stage) add, and they do not remove ours. Set elements and generation messages, the
    bulk of a busy host's changes, never are.
    """
    if table == OWN_TABLE:
        return msg in (DELTABLE, DELCHAIN, DELRULE, DELSET)
    return msg in (NEWTABLE, DELTABLE, NEWCHAIN, DELCHAIN, DELRULE)


def decode(data):
    """The nf_tables notifications in one datagram -> [(msg type, family name, table)]."""
    out = []
    off = 0
    while off + 20 <= len(data):
        length, mtype = struct.unpack_from('=IH', data, off)
        if length < 20 or off + length > len(data):
            break
        if mtype >> 8 == NFNL_SUBSYS_NFTABLES:
            try:
                table = attr_map(data[off + 20:off + length]).get(TABLE_ATTR)
            except ValueError:  # a malformed attribute: the table is not known
                table = None
            out.append((mtype & 0xff, FAMILY_NAMES.get(data[off + 16], '?'),
                        unasciiz(table) if table is not None else None))
        off += (length + 3) & ~3
    return out


def listen():
    """A socket on NFNLGRP_NFTABLES (changes of every table, every family)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                      NETLINK_NETFILTER)
    s.bind((0, 0))
    s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTABLES)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return s


def _receive(s, timeout):
    """The relevant changes received within ``timeout`` (None: block for the first
    datagram) -> (changes, whether anything arrived). An overrun (ENOBUFS: more changes
    than the buffer held) counts as relevant: something may have been missed."""
    ready = select.select([s], [], [], timeout)[0]
    if not ready:
        return [], False
    try:
        data = s.recv(1 << 16)
    except OSError as e:
        if e.errno == errno.ENOBUFS:
            return [('overrun', '', '')], True
        raise
    return [(NAMES[m], f, t) for m, f, t in decode(data) if relevant(m, t)], True


def wait_for_change(s, timeout=None):
    """Block until a relevant change (at most ``timeout`` seconds, None: no limit), then
    until the burst is over -> (when the first change came, what changed); no change
    within ``timeout``: (now, [])."""
    deadline = None if timeout is None else time.monotonic() + timeout
    changes = []
    while not changes:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return time.monotonic(), []
        changes = _receive(s, left)[0]
    first = time.monotonic()
    while time.monotonic() - first < MAX_WAIT:
        more, arrived = _receive(s, QUIET)
        if not arrived:
            break
        changes += more
    return first, changes


def retry_after(failures):
    """Seconds before the next try after ``failures`` failed passes in a row (None: no
    more tries until the next change)."""
    return RETRY * 2 ** (failures - 1) if 0 < failures <= RETRIES else None


def summary(changes):
    seen = []
    for what, family, table in changes:
        item = '%s %s %s' % (what, family, table) if table else what
        if item not in seen:
            seen.append(item)
    return ', '.join(seen[:4]) + (' and %d more' % (len(seen) - 4) if len(seen) > 4 else '')


def restore(directory):
    """One pass: the boot restore (:func:`boot.boot`) in a child forked from this
    process, which imported the code once (no interpreter start, no imports: a pass costs
    the restore alone, and each starts from a clean state) -> (exit status, its output)."""
    from ansible_collections.linuxnet.container_network.plugins.module_utils.network.boot import boot
    sys.stdout.flush()
    sys.stderr.flush()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its output into the pipe, never back into the loop
        code = 1
        try:
            os.close(rfd)
            os.dup2(wfd, 1)
            os.dup2(wfd, 2)
            code = boot(directory)
        except BaseException:  # pylint: disable=broad-except
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code or 0)
    os.close(wfd)
    with os.fdopen(rfd, 'rb') as f:
        out = f.read().decode('utf-8', 'replace').strip()
    status = os.waitpid(pid, 0)[1]
    return (os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1), out


def main(directory):
    """The heal service of the network in ``directory`` (its ExecStart). Returns when the
    network is removed (its network.json gone)."""
    # what every pass runs, imported once (pyroute2 included): the passes fork from here
    importlib.import_module(PIPELINE)
    state = os.path.join(directory, 'network.json')
    s = listen()
    name = 'linuxnet-heal@%s' % os.path.basename(directory.rstrip('/'))
    _say('%s: watching nftables (pid %d)' % (name, os.getpid()))
    failures = 0
    while True:
        first, changes = wait_for_change(s, retry_after(failures))
        if changes:  # a new event: its own tries
            failures = 0
        if not os.path.exists(state):
            _say('%s: the network was removed; exiting' % name)
            return 0
        code, out = restore(directory)
        why = summary(changes) if changes else 'a failed pass (try %d)' % (failures + 1)
        failures = failures + 1 if code else 0
        _say('%s: after %s: %s (%.2f s after the change)%s' % (
            name, why, out.replace('\n', '; ') or 'exit %d' % code,
            time.monotonic() - first, _next_try(failures)))


def _next_try(failures):
    if not failures:
        return ''
    after = retry_after(failures)
    if after is None:
        return '; no more tries until the next change'
    return '; next try in %.0f s' % after


def _say(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def script_text(bridge, lib, package, directory):
    """``heal.py``, the service's entry point."""
    return (
        '# Installed by linuxnet.container_network: heals network %s after firewall\n'
        '# reloads (see linuxnet-heal@%s.service).\n'
        'import sys\n'
        'sys.dont_write_bytecode = True\n'
        'sys.path.insert(0, %r)\n'
        'from %s.network.heal import main\n'
        'sys.exit(main(%r))\n'
    ) % (bridge, bridge, lib, package, directory)


def unit_text(bridge, network_unit, python, script):
    """``linuxnet-heal@BR.service``: after the boot unit, stopped with it."""
    return (
        '# Installed by linuxnet.container_network (module network, persistent: true).\n'
        '# Re-applies what a firewall reload, restart or flush removed of network %(br)s,\n'
        '# within a second of the change (nftables notifications); idle otherwise.\n'
        '[Unit]\n'
        'Description=linuxnet container bridge network %(br)s: heal after firewall '
        'reloads\n'
        'After=%(net)s\n'
        'PartOf=%(net)s\n'
        'ConditionPathExists=%(dir)s/network.json\n'
        '\n'
        '[Service]\n'
        'Type=simple\n'
        'ExecStart=%(py)s -B %(script)s\n'
        'Restart=on-failure\n'
        'RestartSec=2\n'
        '\n'
        '[Install]\n'
        'WantedBy=multi-user.target\n'
    ) % {'br': bridge, 'net': network_unit, 'dir': os.path.dirname(script), 'py': python,
         'script': script}
