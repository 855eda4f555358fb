# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rtnl on recorded kernel replies (fixtures/rtnl_replies.json, see record_rtnl.py).

A fake socket answers each request with the datagrams a real kernel sent for the same
request (the sequence number rewritten to the request's, as the kernel echoes it), so
the parsing runs with the pyroute2 of the interpreter (0.9 in venv-2.19, 0.7 in
venv-2.16) on real bytes. The expected values are the topology record_rtnl.py built with
ip(8), not what the parser returned at recording time."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
import struct
import subprocess
import sys

import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import netlink, rtnl

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures',
                       'rtnl_replies.json')
with open(FIXTURE, encoding='utf-8') as _f:
    RECORDED = json.load(_f)
REC = RECORDED['recordings']
HDR = struct.Struct('=IHHII')
NLM_F_DUMP_INTR = 0x10
NLMSG_DONE = 3


def _messages(datagram):
    """(offset, length, type, flags) of each message of a datagram."""
    offset = 0
    while offset + HDR.size <= len(datagram):
        length, kind, flags, _seq, _pid = HDR.unpack_from(datagram, offset)
        yield offset, length, kind, flags
        offset += (length + 3) & ~3


def _replies(name, set_flag=None):
    """The recorded datagrams of ``name`` (bytes); ``set_flag(index, type)`` -> True marks
    the message NLM_F_DUMP_INTR (its index in the whole answer, its type)."""
    out = []
    index = 0
    for hexed in REC[name]['replies']:
        datagram = bytearray(bytes.fromhex(hexed))
        for offset, _length, kind, flags in _messages(datagram):
            if set_flag is not None and set_flag(index, kind):
                struct.pack_into('=H', datagram, offset + 6, flags | NLM_F_DUMP_INTR)
            index += 1
        out.append(bytes(datagram))
    return out


class FakeSocket(object):
    """Answers the n-th request with the n-th script entry: a recording's name, or
    (name, datagrams). Checks that each request is the recorded one's kind."""

    def __init__(self, *script):
        self.script = list(script)
        self.sent = []
        self.queue = []

    def sendall(self, data):
        data = bytes(data)
        assert self.script, 'a request more than recorded: %r' % (data[:16],)
        entry = self.script.pop(0)
        name, datagrams = (entry, _replies(entry)) if isinstance(entry, str) else entry
        _length, kind, flags, seq, _pid = HDR.unpack_from(data, 0)
        assert (kind, flags) == (REC[name]['type'], REC[name]['flags']), name
        self.sent.append((name, kind, flags, seq))
        for datagram in datagrams:
            datagram = bytearray(datagram)
            for offset, _l, _k, _f in _messages(datagram):
                struct.pack_into('=I', datagram, offset + 8, seq)
            self.queue.append(bytes(datagram))

    def recv(self, _bufsize):
        assert self.queue, 'recv with nothing left to answer (the parser read too far)'
        return self.queue.pop(0)

    def done(self):
        return not self.script and not self.queue


def _by_name(links):
    out = {}
    for link in links:
        assert link['name'] not in out
        out[link['name']] = link
    return out


# --- the recording itself ------------------------------------------------------------

RECORDINGS = ('host_links', 'host_addresses', 'host_routes_inet', 'host_routes_inet6',
              'ct0_links', 'ct0_addresses', 'ct0_routes_inet', 'ct0_routes_inet6',
              'host_bridge_links', 'host_getlink_veth0', 'host_getlink_missing',
              'intr_addresses', 'intr_addresses_again', 'intr_links', 'intr_links_again')


def test_recordings_are_all_there():
    assert sorted(REC) == sorted(RECORDINGS)
    for name in RECORDINGS:
        assert REC[name]['replies'], name


@pytest.mark.parametrize('name', [n for n in RECORDINGS if n.startswith('intr_')])
def test_interrupted_recordings_are_real(name):
    """The kernel flagged the interrupted dumps itself, the repeats not at all; each
    recording spans several datagrams."""
    flags = [f for d in _replies(name) for _o, _l, _k, f in _messages(d)]
    interrupted = not name.endswith('_again')
    assert bool(any(f & NLM_F_DUMP_INTR for f in flags)) is interrupted
    assert REC[name].get('dump_intr', False) is interrupted
    assert len(REC[name]['replies']) > 2


# --- parsing ---------------------------------------------------------------------------

def test_links_host():
    sock = FakeSocket('host_links')
    links = _by_name(rtnl.links(sock))
    assert sock.done()
    assert sorted(links) == ['br0', 'lo', 'veth0']
    br0, veth0 = links['br0'], links['veth0']
    assert br0['kind'] == 'bridge' and br0['mtu'] == 1400 and br0['flags'] & rtnl.IFF_UP
    assert br0['master'] is None and br0['alias'] is None
    assert veth0['kind'] == 'veth' and veth0['mtu'] == 1400 and veth0['flags'] & rtnl.IFF_UP
    assert veth0['master'] == br0['index']
    assert veth0['alias'] == 'linuxnet ct0'
    assert veth0['group'] == 7 and br0['group'] == 0
    assert isinstance(veth0['link'], int) and veth0['link'] > 0  # the peer's index, in ct0
    assert links['lo']['index'] == 1 and links['lo']['kind'] is None
    assert all(link['hairpin'] is None for link in links.values())  # AF_UNSPEC: no IFLA_PROTINFO
    assert len(veth0['mac']) == 17 and veth0['mac'].count(':') == 5


def test_links_ct0():
    links = _by_name(rtnl.links(FakeSocket('ct0_links')))
    assert sorted(links) == ['ceth0', 'lo']
    ceth0 = links['ceth0']
    assert ceth0['kind'] == 'veth' and ceth0['mac'] == '02:42:ac:12:00:0a'
    # ``mtu 1400`` of `ip link add veth0 mtu 1400 type veth peer ...` is veth0's only
    assert ceth0['mtu'] == 1500 and ceth0['flags'] & rtnl.IFF_UP and ceth0['master'] is None


def test_links_bridge_family_hairpin():
    sock = FakeSocket('host_bridge_links', 'host_links')
    ports = rtnl.links(sock, family=socket.AF_BRIDGE)
    links = _by_name(rtnl.links(sock))
    assert [p['name'] for p in ports] == ['veth0']
    assert ports[0]['hairpin'] is True
    assert ports[0]['index'] == links['veth0']['index']
    assert ports[0]['master'] == links['br0']['index']


def test_link_index_and_link():
    sock = FakeSocket('host_links', 'host_getlink_veth0', 'host_getlink_missing',
                      'host_getlink_veth0')
    links = _by_name(rtnl.links(sock))
    assert rtnl.link_index(sock, 'veth0') == links['veth0']['index']
    assert rtnl.link_index(sock, 'nosuchlink') is None  # the recorded ENODEV
    assert rtnl.link(sock, links['veth0']['index']) == links['veth0']
    assert sock.done()


def test_addresses():
    host_links = _by_name(rtnl.links(FakeSocket('host_links')))
    ct0_links = _by_name(rtnl.links(FakeSocket('ct0_links')))
    host = rtnl.addresses(FakeSocket('host_addresses'))
    ct0 = rtnl.addresses(FakeSocket('ct0_addresses'))
    br0, ceth0 = host_links['br0']['index'], ct0_links['ceth0']['index']
    inet, inet6 = socket.AF_INET, socket.AF_INET6
    assert (inet, 16, 0, br0, '172.18.0.1') in host
    assert (inet6, 64, 0, br0, 'fd00:18::1') in host
    assert (inet, 16, 0, ceth0, '172.18.0.10') in ct0
    assert (inet6, 64, 0, ceth0, 'fd00:18::10') in ct0
    assert (inet, 8, 254, 1, '127.0.0.1') in ct0 and (inet6, 128, 254, 1, '::1') in ct0
    for family, _plen, _scope, _index, ip in host + ct0:
        assert family in (inet, inet6) and isinstance(ip, str)


def test_routes():
    ceth0 = _by_name(rtnl.links(FakeSocket('ct0_links')))['ceth0']['index']
    br0 = _by_name(rtnl.links(FakeSocket('host_links')))['br0']['index']
    v4 = rtnl.routes(FakeSocket('ct0_routes_inet'), socket.AF_INET)
    v6 = rtnl.routes(FakeSocket('ct0_routes_inet6'), socket.AF_INET6)
    host4 = rtnl.routes(FakeSocket('host_routes_inet'), socket.AF_INET)
    default = {'dst': None, 'dst_len': 0, 'type': rtnl.RTN_UNICAST, 'table': rtnl.RT_TABLE_MAIN,
               'oif': ceth0, 'proto': rtnl.RTPROT_BOOT, 'realm': None, 'flags': 0}
    assert dict(default, gateway='172.18.0.1') in v4
    assert dict(default, gateway='fd00:18::1') in v6
    kernel = 2  # RTPROT_KERNEL: the prefix route of an address
    assert {'dst': '172.18.0.0', 'dst_len': 16, 'type': rtnl.RTN_UNICAST,
            'table': rtnl.RT_TABLE_MAIN, 'gateway': None, 'oif': ceth0, 'proto': kernel,
            'realm': None, 'flags': 0} in v4
    assert host4 == [{'dst': '172.18.0.0', 'dst_len': 16, 'type': rtnl.RTN_UNICAST,
                      'table': rtnl.RT_TABLE_MAIN, 'gateway': None, 'oif': br0,
                      'proto': kernel, 'realm': None, 'flags': 0}]
    # the kernel answered the main table only (strict checking)
    for r in rtnl.routes(FakeSocket('host_routes_inet6'), socket.AF_INET6) + v4 + v6:
        assert r['table'] == rtnl.RT_TABLE_MAIN


# --- NLM_F_DUMP_INTR -------------------------------------------------------------------

def _intr_addresses(addresses):
    return sorted(ip for family, _p, _s, _i, ip in addresses if ip.startswith('10.9.'))


def test_dump_intr_retried_addresses():
    """The kernel's own interrupted dump, then its repeat: the repeat is the answer."""
    sock = FakeSocket('intr_addresses', 'intr_addresses_again')
    got = _intr_addresses(rtnl.addresses(sock))
    assert sock.done() and [s[0] for s in sock.sent] == ['intr_addresses',
                                                         'intr_addresses_again']
    assert sock.sent[0][3] != sock.sent[1][3]  # a new request, a new sequence number
    assert len(got) == RECORDED['intr_addresses'] + 1 and '10.9.255.1' in got


def test_dump_intr_retried_links():
    sock = FakeSocket('intr_links', 'intr_links_again')
    names = [link['name'] for link in rtnl.links(sock)]
    assert sock.done() and len(sock.sent) == 2
    assert 'dumx' in names and len(names) == len(set(names)) == RECORDED['intr_links'] + 3


@pytest.mark.parametrize('where', ['first', 'done'])
def test_dump_intr_anywhere(where):
    """The flag on the first message, or only on NLMSG_DONE, makes the dump retried."""
    def flag(index, kind):
        return index == 0 if where == 'first' else kind == NLMSG_DONE
    sock = FakeSocket(('host_links', _replies('host_links', flag)), 'host_links')
    assert sorted(link['name'] for link in rtnl.links(sock)) == ['br0', 'lo', 'veth0']
    assert sock.done() and len(sock.sent) == 2


def test_dump_intr_gives_up():
    sock = FakeSocket(*['intr_addresses'] * netlink.DUMP_ATTEMPTS)
    with pytest.raises(netlink.DumpInterrupted) as e:
        rtnl.addresses(sock)
    assert sock.done() and len(sock.sent) == netlink.DUMP_ATTEMPTS  # each read to its end
    assert 'address (RTM_GETADDR) dump interrupted' in str(e.value)
    assert '%d times' % netlink.DUMP_ATTEMPTS in str(e.value)
    # pyroute2's own exception: code that handles pyroute2's handles it
    from pyroute2.netlink.exceptions import NetlinkDumpInterrupted
    assert isinstance(e.value, NetlinkDumpInterrupted)


def test_dump_intr_last_attempt_succeeds():
    script = ['intr_links'] * (netlink.DUMP_ATTEMPTS - 1) + ['intr_links_again']
    sock = FakeSocket(*script)
    assert len(rtnl.links(sock)) == RECORDED['intr_links'] + 3
    assert sock.done()


# --- pyroute2 is imported whole --------------------------------------------------------

def test_pyroute2_is_the_real_package():
    """rtnl imports pyroute2's public submodules, and Python runs the package's
    ``__init__`` (no stand-in package: pyroute2_lite is gone). Run in a fresh
    interpreter: this one's imports are shared by all tests."""
    collections = os.path.dirname(os.path.dirname(os.path.dirname(rtnl.__file__)))
    collections = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(collections))))
    code = ('import sys\n'
            'from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel '
            'import rtnl\n'
            'import pyroute2\n'
            'print(rtnl.HAS_PYROUTE2, "IPRoute" in vars(pyroute2),'
            ' "__getattr__" in vars(pyroute2))\n')
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=collections), check=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ['True', 'True', 'False']
    here = os.path.dirname(rtnl.__file__)
    assert not os.path.exists(os.path.join(here, 'pyroute2_lite.py'))
