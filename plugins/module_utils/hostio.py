# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's commands and files, once: one argv runner (never a shell), one reader, one
atomic writer. The stages that run commands (firewall, persistence) and write files
(persistence, the sysctl drop-ins) use these."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import shutil
import subprocess

# where firewall-cmd, iptables, systemctl live when PATH lacks the sbin directories
SBIN = ('/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin')


class Commands(object):
    """argv runner (never a shell): ``AnsibleModule.run_command`` or subprocess."""

    def __init__(self, run=None):
        self._run = run

    def run(self, argv):
        if self._run is not None:
            rc, out, err = self._run(argv)
            return rc, out or '', err or ''
        p = subprocess.run(argv, capture_output=True, text=True, check=False)
        return p.returncode, p.stdout, p.stderr

    @staticmethod
    def which(name):
        path = os.pathsep.join([os.environ.get('PATH', '')] + list(SBIN))
        return shutil.which(name, path=path)


def read_text(path):
    """The file's text; None when it does not exist (any other error raises)."""
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError) as e:
        if e.errno == errno.ENOENT:
            return None
        raise


def read_bytes(path):
    """(content, mode) of a file that exists."""
    with open(path, 'rb') as f:
        return f.read(), os.stat(path).st_mode & 0o7777


def write_atomic(path, content, mode=0o644):
    """``content`` (bytes or text) into ``path`` with ``mode``, all or nothing: a
    temporary file beside it, synced, renamed over it (its directory made if missing)."""
    if not isinstance(content, bytes):
        content = content.encode('utf-8')
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        os.makedirs(d, 0o755)
    tmp = '%s.linuxnet-tmp' % path
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, content)
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
