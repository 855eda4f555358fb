# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Netlink sockets and named network namespaces, in-process.

pyroute2's ``NetNS`` and ``netns.create`` fork a helper process per namespace
(~10 ms each). Here a short-lived *thread* enters (``setns``) or creates
(``unshare``) the namespace, opens a netlink socket there and exits: the socket
keeps talking to the namespace it was opened in, at ~1 ms per namespace.

Named namespaces follow iproute2's layout (``/run/netns/NAME``, a bind mount of
the namespace's nsfs inode, ``/run/netns`` a shared mount point), so ``ip netns
list`` and ``ip netns exec`` see exactly what we create.

Longer than ~300 lines because namespace creation and deletion (mounts, the processes
still in a namespace, batched link deletes) belong with the sockets they hand out.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import ctypes.util
import errno
import os
import socket
import threading

from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import rtnl

# pyroute2 is imported (under a guard) by :mod:`rtnl`, whose messages the L2 modules
# send; the modules report a missing pyroute2 with missing_required_lib.
HAS_PYROUTE2 = rtnl.HAS_PYROUTE2
PYROUTE2_IMPORT_ERROR = rtnl.PYROUTE2_IMPORT_ERROR
PYROUTE2_VERSION = rtnl.PYROUTE2_VERSION

NETNS_RUN_DIR = '/run/netns'
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
MNT_DETACH = 2
NETLINK_ROUTE = 0

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                ctypes.c_ulong, ctypes.c_void_p]
        _libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        _libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
        _libc.unshare.argtypes = [ctypes.c_int]
    return _libc


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, '%s: %s' % (what, os.strerror(err)))


def _in_thread(fn):
    """Run fn() in a fresh OS thread (so namespace changes die with it)."""
    box = {}

    def target():
        try:
            box['value'] = fn()
        except BaseException as e:  # re-raised in the caller
            box['error'] = e

    t = threading.Thread(target=target, name='linuxnet-netns')
    t.start()
    t.join()
    if 'error' in box:
        raise box['error']
    return box.get('value')


SOL_NETLINK = 270
NETLINK_GET_STRICT_CHK = 12


def _open_here():
    """A netlink socket in the calling thread's network namespace.

    Strict checking (Linux >= 4.20) makes the kernel apply the filters a dump request
    carries (e.g. the main routing table only); older kernels ignore them, and the
    answers are filtered here anyway.
    """
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
    try:
        sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
    except OSError:
        pass
    return sock


# First link group tried for batched deletes (any group no link of the namespace uses).
_BATCH_GROUP = 0x6c6e6400


def held_netns_inodes():
    """nsfs inodes of the network namespaces of every process and thread (/proc scan)."""
    inodes = set()
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            tids = os.listdir('/proc/%s/task' % pid)
        except OSError:
            continue  # exited meanwhile
        for tid in tids:
            try:
                target = os.readlink('/proc/%s/task/%s/ns/net' % (pid, tid))
            except OSError:
                continue
            if target.startswith('net:['):
                inodes.add(int(target[5:-1]))
    return inodes


def netns_path(name):
    return os.path.join(NETNS_RUN_DIR, name)


def list_netns():
    """Names of the named network namespaces, as ``ip netns list`` sees them."""
    try:
        return set(n for n in os.listdir(NETNS_RUN_DIR) if not n.startswith('.'))
    except OSError as e:
        if e.errno == errno.ENOENT:
            return set()
        raise


def _ensure_run_dir():
    """Make /run/netns a shared mount point, as ``ip netns add`` does."""
    if not os.path.isdir(NETNS_RUN_DIR):
        os.makedirs(NETNS_RUN_DIR, 0o755)
    lc = libc()
    if lc.mount(b'none', NETNS_RUN_DIR.encode(), b'none', MS_SHARED | MS_REC, None) == 0:
        return
    if ctypes.get_errno() != errno.EINVAL:
        _check(-1, 'mount --make-rshared %s' % NETNS_RUN_DIR)
    _check(lc.mount(NETNS_RUN_DIR.encode(), NETNS_RUN_DIR.encode(), b'none',
                    MS_BIND | MS_REC, None), 'mount --rbind %s' % NETNS_RUN_DIR)
    _check(lc.mount(b'none', NETNS_RUN_DIR.encode(), b'none', MS_SHARED | MS_REC, None),
           'mount --make-rshared %s' % NETNS_RUN_DIR)


class Kernel(object):
    """Netlink access to the host namespace and to named namespaces.

    One socket per namespace, opened on first use and cached; ``close()``
    releases them all. ``ns=None`` means the host (the module's own) namespace. What a
    run has read through them is :class:`observe.Reading`'s, not the sockets'.
    """

    def __init__(self):
        self._raw = {}     # ns -> netlink socket opened in it (rtnl requests)
        self._run_dir_ready = False
        self._held = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _close(self, ns):
        sock = self._raw.pop(ns, None)
        if sock is not None:
            try:
                sock.close()
            except Exception:
                pass

    def close(self):
        for ns in list(self._raw):
            self._close(ns)

    def raw(self, ns=None):
        """The netlink socket of namespace ``ns`` (None: host). Never creates a namespace."""
        sock = self._raw.get(ns)
        if sock is None:
            if ns is None:
                sock = _open_here()
            else:
                path = netns_path(ns)

                def enter():
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                    try:
                        _check(libc().setns(fd, CLONE_NEWNET), 'setns %s' % path)
                    finally:
                        os.close(fd)
                    return _open_here()
                sock = _in_thread(enter)
            self._raw[ns] = sock
        return sock

    def open_many(self, names):
        """Open the sockets of several namespaces from one thread that enters each in turn
        (a thread start per namespace saved). A namespace that cannot be entered is
        skipped; :meth:`raw` reports its error when it is asked for."""
        todo = [n for n in names if n is not None and n not in self._raw]
        if len(todo) < 2:
            return

        def hop():
            out = {}
            for n in todo:
                try:
                    fd = os.open(netns_path(n), os.O_RDONLY | os.O_CLOEXEC)
                    try:
                        _check(libc().setns(fd, CLONE_NEWNET), 'setns')
                    finally:
                        os.close(fd)
                except OSError:
                    continue
                out[n] = _open_here()
            return out
        self._raw.update(_in_thread(hop))

    def ns_fd(self, ns):
        """An open fd of the namespace (caller closes)."""
        return os.open(netns_path(ns), os.O_RDONLY | os.O_CLOEXEC)

    def create_netns(self, name):
        """Create the named namespace (like ``ip netns add``) and cache a socket in it."""
        if not self._run_dir_ready:
            _ensure_run_dir()
            self._run_dir_ready = True
        path = netns_path(name)
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
        os.close(fd)

        def make():
            _check(libc().unshare(CLONE_NEWNET), 'unshare(CLONE_NEWNET)')
            _check(libc().mount(b'/proc/thread-self/ns/net', path.encode(), b'none',
                                MS_BIND, None), 'bind mount %s' % path)
            return _open_here()
        try:
            self._raw[name] = _in_thread(make)
        except Exception:
            try:
                os.unlink(path)
            except OSError:
                pass
            raise

    def held_netns(self):
        """Inodes of the network namespaces some process or thread is in (one /proc scan)."""
        if self._held is None:
            self._held = held_netns_inodes()
        return self._held

    def delete_links(self, ns, indices, used_groups=None):
        """Delete links by index; several at once by one RTM_DELLINK of a link group.

        Each RTM_DELLINK waits for an RCU grace period in the kernel (~30 ms); a group
        delete unregisters all the group's links (and veth peers) after a single one.
        ``used_groups``: the link groups the namespace's links are in, when the caller
        knows them (read otherwise). Links already gone (ENODEV) count as deleted.
        """
        sock = self.raw(ns)
        indices = list(indices)
        if len(indices) > 1:
            used = used_groups
            if used is None:
                used = set(l['group'] for l in rtnl.links(sock))
            group = _BATCH_GROUP
            while group in used:
                group += 1
            tagged = 0
            for i in indices:
                try:
                    rtnl.set_link(sock, i, group=group)
                    tagged += 1
                except OSError as e:
                    if e.errno != errno.ENODEV:
                        raise
            if tagged:
                rtnl.del_link(sock, group=group)
            return
        for i in indices:
            try:
                rtnl.del_link(sock, i)
            except OSError as e:
                if e.errno != errno.ENODEV:
                    raise

    def delete_netns(self, name):
        """Delete the named namespace and every interface in it (except lo).

        Unmounting is enough when no process is in the namespace: the kernel then
        destroys it with its interfaces (and their veth peers), many namespaces per
        RCU grace period. A namespace a process (or thread) is still in would keep
        its interfaces, so those are deleted first, by one group delete.
        """
        path = netns_path(name)
        try:
            ino = os.stat(path).st_ino
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise
            ino = None
        if ino is not None and ino in self.held_netns():
            self.delete_links(name, [l['index'] for l in rtnl.links(self.raw(name))
                                     if l['index'] != 1 and l['name'] != 'lo'])
        self._close(name)
        ret = libc().umount2(path.encode(), MNT_DETACH)
        if ret != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
            _check(ret, 'umount %s' % path)
        try:
            os.unlink(path)
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise
