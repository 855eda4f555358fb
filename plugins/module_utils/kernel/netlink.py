# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Requests and dumps on a plain netlink socket, with pyroute2's messages (:mod:`rtnl`
makes the rtnetlink requests with them): sequence numbers, the answers to one request,
kernel errors as OSError, and dumps that the kernel flags ``NLM_F_DUMP_INTR``
(inconsistent: what it lists changed while it was read) asked again,
:data:`DUMP_ATTEMPTS` times at most, then :class:`DumpInterrupted`."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import select
import struct

try:
    from pyroute2.netlink import (
        NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR)
    from pyroute2.netlink.exceptions import NetlinkDumpInterrupted
    from pyroute2.netlink.rtnl import RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE
except ImportError:  # pragma: no cover - rtnl reports the missing library
    NetlinkDumpInterrupted = Exception

HDR = struct.Struct('=IHHII')
_seq = [0]

# How many times a dump the kernel flags NLM_F_DUMP_INTR is asked again before giving up.
DUMP_ATTEMPTS = 5


class DumpInterrupted(NetlinkDumpInterrupted):
    """A dump stayed inconsistent (NLM_F_DUMP_INTR) on every one of its attempts: what
    it lists kept changing while it was read. pyroute2's own exception, so whoever
    handles pyroute2's handles this one."""

    def __init__(self, what, attempts):
        self.what = what
        self.attempts = attempts
        self.message = ('%s dump interrupted (NLM_F_DUMP_INTR: the kernel\'s list changed '
                        'while it was read) %d times in a row; giving up' % (what, attempts))
        super(DumpInterrupted, self).__init__(-1, self.message)

    def __str__(self):
        return self.message


def next_seq():
    _seq[0] = (_seq[0] + 1) & 0x7fffffff or 1
    return _seq[0]


def send(sock, cls, msg_type, flags, fields, attrs):
    """Encode one pyroute2 message and send it; returns its sequence number."""
    msg = cls()
    for key, value in fields.items():
        msg[key] = value
    msg['attrs'] = attrs
    seq = next_seq()
    msg['header']['type'] = msg_type
    msg['header']['flags'] = flags
    msg['header']['sequence_number'] = seq
    msg.encode()
    sock.sendall(msg.data)
    return seq


def answers(sock, seq):
    """(type, flags, data, offset, length) of each message answering request ``seq``."""
    while True:
        try:
            data = sock.recv(1 << 18)
        except (BlockingIOError, InterruptedError):
            select.select([sock], [], [])
            continue
        offset = 0
        while offset + HDR.size <= len(data):
            length, kind, flags, mseq, _pid = HDR.unpack_from(data, offset)
            if length < HDR.size:
                break
            if mseq == seq:
                yield kind, flags, data, offset, length
            offset += (length + 3) & ~3


def error(data, offset):
    code = -struct.unpack_from('=i', data, offset + HDR.size)[0]
    if code:
        raise OSError(code, os.strerror(code))


_dump_requests = {}  # (class, type, fields) -> the encoded request (its sequence number varies)


def dump(sock, cls, msg_type, fields):
    """Send one dump request; the answers, decoded by pyroute2 (a list).

    A dump is consistent only if no message of it (NLMSG_DONE included) carries
    NLM_F_DUMP_INTR: the kernel sets it on the messages it sends after what it dumps
    changed (a link or an address added or removed meanwhile). Such a dump is read to
    its end and asked again, :data:`DUMP_ATTEMPTS` times at most, then
    :class:`DumpInterrupted`. Messages are decoded once the dump is known consistent.
    """
    key = (cls, msg_type, tuple(sorted(fields.items())))
    request = _dump_requests.get(key)
    if request is None:
        msg = cls()
        for name, value in fields.items():
            msg[name] = value
        msg['attrs'] = []
        msg['header']['type'] = msg_type
        msg['header']['flags'] = NLM_F_REQUEST | NLM_F_DUMP
        msg.encode()
        request = _dump_requests[key] = bytes(msg.data)
    for _attempt in range(DUMP_ATTEMPTS):
        seq = next_seq()
        data = bytearray(request)
        struct.pack_into('=I', data, 8, seq)
        sock.sendall(data)
        raw = []
        interrupted = False
        for kind, flags, data, offset, length in answers(sock, seq):
            if flags & NLM_F_DUMP_INTR:
                interrupted = True
            if kind == NLMSG_DONE:
                break
            if kind == NLMSG_ERROR:
                error(data, offset)
                break
            raw.append(data[offset:offset + length])
        if not interrupted:
            out = []
            for chunk in raw:
                msg = cls(chunk)
                msg.decode()
                out.append(msg)
            return out
    raise DumpInterrupted(dump_name(msg_type), DUMP_ATTEMPTS)


def dump_name(msg_type):
    return {RTM_GETLINK: 'link (RTM_GETLINK)', RTM_GETADDR: 'address (RTM_GETADDR)',
            RTM_GETROUTE: 'route (RTM_GETROUTE)'}.get(msg_type, 'rtnetlink %d' % msg_type)


def request(sock, cls, msg_type, flags, fields, attrs):
    """Send one request and wait for its acknowledgement (OSError on a kernel error)."""
    seq = send(sock, cls, msg_type, NLM_F_REQUEST | NLM_F_ACK | flags, fields, attrs)
    for kind, _flags, data, offset, _length in answers(sock, seq):
        if kind == NLMSG_ERROR:
            error(data, offset)
            return
