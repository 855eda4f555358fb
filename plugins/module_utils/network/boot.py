# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boot side of persistence: ``boot.py`` (the boot unit's ExecStart, and each pass
of the heal service) reads ``network.json`` back and runs module ``network``'s own
pipeline on it with :func:`runner.execute` (no ``AnsibleModule``); what it installs is
:mod:`persist`'s."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import sys

from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nft_socket import (
    HAS_NFT, NFT_IMPORT_ERROR)
from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel.nlsock import (
    HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR)
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import heal
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import pipeline as network
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.persist import unit_name


def boot(directory):
    """Rebuild the network described in ``directory``/network.json (the ExecStart of the
    boot unit, and of each pass of the heal service)."""
    with heal.NetworkLock(directory):  # not beside an Ansible run or a heal pass
        try:
            with open(os.path.join(directory, 'network.json')) as f:
                saved = json.load(f)
        except (IOError, OSError) as e:
            if e.errno != errno.ENOENT:
                raise
            sys.stdout.write('%s: nothing to restore: the network was removed\n'
                             % os.path.basename(directory))
            return 0
        return _restore(saved)


def _restore(saved):
    params = dict(saved['network'], state='present', persistent=None)
    if params.get('fleet'):
        # the uplink may come up after this unit (it runs before network.target): what
        # the fleet needs of it waits for the next run then, the rest is restored
        params['fleet'] = dict(params['fleet'], at_boot=True)
    name = unit_name(params['bridge'])
    if not (HAS_PYROUTE2 and HAS_NFT):
        return _say(name, 1, 'FAILED: the Python library pyroute2 cannot be imported by %s: %s. '
                    'Install it for that interpreter (the role does: '
                    'container_bridge_network_install_prerequisites).' % (
                        sys.executable, ''.join((PYROUTE2_IMPORT_ERROR or NFT_IMPORT_ERROR
                                                 or '').strip().splitlines()[-1:])))
    try:
        result = runner.execute(network.NetworkResource(), runner.Invocation(params))
    except runner.Failed as e:
        if e.result.get('exception'):  # an unexpected error: its traceback into the journal
            sys.stderr.write(e.result['exception'])
        return _say(name, 1, 'FAILED: %s' % e.msg)
    for w in result['warnings']:
        sys.stderr.write('%s: warning: %s\n' % (name, w))
    acts = result['actions']
    return _say(name, 0, 'network restored, %d change(s)%s' % (len(acts), (': ' + '; '.join(
        '%s %s' % (a['op'], a['target']) for a in acts)) if acts else ''))


def _say(name, code, line):
    """One line of the restore's outcome (stdout, or stderr when it failed) -> its exit code."""
    out = sys.stderr if code else sys.stdout
    out.write('%s: %s\n' % (name, line))
    out.flush()
    return code
