# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A network that survives a reboot (module ``network``, ``persistent: true``).

Namespaces, links, addresses, routes, nftables rules and runtime firewall rules are
kernel state: a reboot wipes them. With ``persistent``, the host rebuilds the network at
boot by itself, with this collection's own code: the last stage of module ``network``
installs, for the network named by its bridge ``BR``,

* ``/var/lib/linuxnet/networks/BR/`` (:data:`STATE_DIR`) - ``network.json`` (the
  network's description, as the module got it), ``lib/`` (a copy of this collection's
  ``module_utils``: the very planning and apply code the module runs) and ``boot.py``;
* ``/etc/systemd/system/linuxnet-network@BR.service`` (a unit file of its own, not a
  template: two networks persist independently), enabled for ``multi-user.target`` and
  ``network-online.target``; a oneshot ordered after firewalld and before
  ``network.target`` and ``network-online.target``, that runs ``boot.py``.

At boot, :func:`boot.boot` runs the module's own resource (:class:`network.NetworkResource`,
through :func:`runner.execute`, no ``AnsibleModule``) on ``network.json``: the
same want -> observe -> plan -> apply, so the first Ansible run after the reboot finds
nothing to change, and a failure ends the unit with the message a module run would give
(in the journal). ``state: absent`` or ``persistent: false`` removes all of it.

The boot side that reads it back is :mod:`boot`.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import sys

from ansible_collections.linuxnet.container_network.plugins.module_utils import validate
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import heal
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import options
from ansible_collections.linuxnet.container_network.plugins.module_utils.network.sources import own_sources
from ansible_collections.linuxnet.container_network.plugins.module_utils.hostio import (
    Commands, read_bytes, write_atomic,
)
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    PACKAGE, Action, ApplyError)

STATE_DIR = '/var/lib/linuxnet/networks'
UNIT_DIR = '/etc/systemd/system'
WANTED_BY = ('multi-user.target', 'network-online.target')
# What network.json keeps: the network's description (the module's parameters).
# Docker starts after network-online.target and puts its FORWARD DROP and DOCKER-USER
# back at every start: where it is installed, a drop-in re-runs the restore after it.
DOCKER_UNITS = ('/etc/systemd/system/docker.service', '/usr/lib/systemd/system/docker.service',
                '/lib/systemd/system/docker.service')


def unit_name(bridge):
    """``linuxnet-network@BR.service``; characters systemd does not allow are escaped
    as ``systemd-escape`` does (``\\xNN``)."""
    esc = ''.join(c if re.match(r'[A-Za-z0-9:_.]', c) else '\\x%02x' % ord(c)
                  for c in bridge)
    if esc.startswith('.'):
        esc = '\\x2e' + esc[1:]
    return 'linuxnet-network@%s.service' % esc


def network_dir(bridge):
    return os.path.join(STATE_DIR, bridge)


def heal_unit_name(bridge):
    """``linuxnet-heal@BR.service`` (:mod:`heal`), escaped like :func:`unit_name`."""
    return 'linuxnet-heal@' + unit_name(bridge)[len('linuxnet-network@'):]


def lock(bridge):
    """The network's run lock (:class:`heal.NetworkLock`), not yet taken."""
    return heal.NetworkLock(network_dir(bridge))


def unit_text(bridge, python):
    """The unit file of network ``bridge``, run by ``python``."""
    boot = os.path.join(network_dir(bridge), 'boot.py')
    return (
        '# Installed by linuxnet.container_network (module network, persistent: true).\n'
        '# Rebuilds container network %(br)s at boot from %(dir)s/network.json.\n'
        '# A service that uses one of its namespaces orders itself after this unit:\n'
        '#   Requires=%(unit)s\n'
        '#   After=%(unit)s\n'
        '[Unit]\n'
        'Description=linuxnet container bridge network %(br)s\n'
        'Documentation=https://galaxy.ansible.com/ui/repo/published/linuxnet/container_network/\n'
        'DefaultDependencies=no\n'
        '# after what loads firewall rules at boot (nftables.service flushes the ruleset)\n'
        'After=local-fs.target systemd-modules-load.service systemd-sysctl.service '
        'dbus.service firewalld.service nftables.service netfilter-persistent.service '
        'iptables.service ufw.service network-pre.target\n'
        'Before=network.target network-online.target shutdown.target\n'
        'Conflicts=shutdown.target\n'
        'ConditionPathExists=%(dir)s/network.json\n'
        '\n'
        '[Service]\n'
        'Type=oneshot\n'
        'RemainAfterExit=yes\n'
        'ExecStart=%(py)s -B %(boot)s\n'
        '\n'
        '[Install]\n'
        'WantedBy=%(wanted)s\n'
    ) % {'br': bridge, 'dir': network_dir(bridge), 'unit': unit_name(bridge),
         'py': python, 'boot': boot, 'wanted': ' '.join(WANTED_BY)}


def docker_dropin(bridge):
    return os.path.join(UNIT_DIR, 'docker.service.d', unit_name(bridge)[:-len('.service')]
                        + '.conf')


def docker_dropin_text(bridge, python):
    return (
        '# Installed by linuxnet.container_network (module network, persistent: true).\n'
        '# Docker re-creates its iptables rules (FORWARD policy DROP, DOCKER-USER) at every\n'
        '# start: converge network %(br)s again after it (its firewall integration).\n'
        '[Service]\n'
        'ExecStartPost=-%(py)s -B %(boot)s\n'
    ) % {'br': bridge, 'py': python, 'boot': os.path.join(network_dir(bridge), 'boot.py')}


def boot_text(bridge):
    d = network_dir(bridge)
    return (
        '# Installed by linuxnet.container_network: rebuilds network %s (see %s).\n'
        'import sys\n'
        'sys.dont_write_bytecode = True\n'
        'sys.path.insert(0, %r)\n'
        'from %s.network.boot import boot\n'
        'sys.exit(boot(%r))\n'
    ) % (bridge, unit_name(bridge), os.path.join(d, 'lib'), PACKAGE, d)


def _sha(data):
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ the resource
class PersistResource(object):
    """The boot-time restore of one network: files, a unit, its enablement."""

    def want(self, params):
        br = validate.ifname(params['bridge'], validate.Path().bridge)  # names paths below
        on = params.get('state', 'present') == 'present' and bool(params.get('persistent'))
        files, links = {}, {}
        if on:
            d = network_dir(br)
            network = dict((k, params['network'].get(k)) for k in options.SAVED)
            files[os.path.join(d, 'network.json')] = (json.dumps(
                {'network': network, 'python': sys.executable}, indent=2, sort_keys=True)
                + '\n', 0o600)
            files[os.path.join(d, 'boot.py')] = (boot_text(br), 0o644)
            for rel, src in own_sources().items():
                files[os.path.join(d, rel)] = (src, 0o644)
            unit = os.path.join(UNIT_DIR, unit_name(br))
            files[unit] = (unit_text(br, sys.executable), 0o644)
            script = os.path.join(d, 'heal.py')
            files[script] = (heal.script_text(br, os.path.join(d, 'lib'), PACKAGE, d), 0o644)
            heal_unit = os.path.join(UNIT_DIR, heal_unit_name(br))
            files[heal_unit] = (heal.unit_text(br, unit_name(br), sys.executable, script),
                                0o644)
            links[os.path.join(UNIT_DIR, 'multi-user.target.wants', heal_unit_name(br))] = \
                heal_unit
            if any(os.path.exists(u) for u in DOCKER_UNITS):
                files[docker_dropin(br)] = (docker_dropin_text(br, sys.executable), 0o644)
            for target in WANTED_BY:
                links[os.path.join(UNIT_DIR, target + '.wants', unit_name(br))] = unit
        return {'bridge': br, 'on': on,
                'files': dict((p, (c.encode('utf-8'), m)) for p, (c, m) in files.items()),
                'links': links}

    def context(self, inv):
        return _Ctx(inv.run_command)

    def observe(self, ctx, want):
        """What of this network's persistence is on disk now."""
        br = want['bridge']
        d = network_dir(br)
        files = {}
        for root, _dirs, names in os.walk(d):
            for n in names:
                p = os.path.join(root, n)
                if not os.path.islink(p) and p != os.path.join(d, heal.LOCK):
                    files[p] = read_bytes(p)
        for path in (os.path.join(UNIT_DIR, unit_name(br)),
                     os.path.join(UNIT_DIR, heal_unit_name(br)), docker_dropin(br)):
            if os.path.lexists(path):
                files[path] = read_bytes(path)
        links = {}
        wants_dirs = set(WANTED_BY)
        if os.path.isdir(UNIT_DIR):
            wants_dirs |= set(n[:-len('.wants')] for n in os.listdir(UNIT_DIR)
                              if n.endswith('.wants'))
        for target in sorted(wants_dirs):
            for name in (unit_name(br), heal_unit_name(br)):
                p = os.path.join(UNIT_DIR, target + '.wants', name)
                if os.path.lexists(p):
                    links[p] = os.readlink(p) if os.path.islink(p) else None
        systemd = os.path.isdir('/run/systemd/system')
        healing = systemd and ctx.run(['systemctl', 'is-active', '--quiet',
                                       heal_unit_name(br)])[0] == 0
        return {'files': files, 'links': links, 'dir': os.path.isdir(d),
                'systemd': systemd, 'healing': healing}

    def plan(self, want, have):
        acts = []
        d = network_dir(want['bridge'])
        heal_unit = heal_unit_name(want['bridge'])
        if have['healing'] and not want['on']:
            acts.append(Action('systemd_unit', heal_unit, _argv=['systemctl', 'stop',
                                                                 heal_unit]))
        # enablement goes first on removal, last on creation: a half-done run never leaves
        # an enabled unit without what it runs
        for p, target in sorted(have['links'].items()):
            if want['links'].get(p) != target:
                acts.append(Action('unit_disable', p))
        for p in sorted(set(have['files']) - set(want['files']), reverse=True):
            if want['on'] or not p.startswith(d + os.sep):
                acts.append(Action('file_remove', p))
        if have['dir'] and not want['on']:
            acts.append(Action('dir_remove', d))  # with whatever else is in it
        # network.json and the unit last among the files: they are what boot reads
        last = sorted(want['files'], key=lambda p: p.endswith('.service'))
        last = [p for p in last if p.endswith(('network.json', '.service'))]
        for p in sorted(set(want['files']) - set(last)) + last:
            content, mode = want['files'][p]
            cur = have['files'].get(p)
            if cur is None or cur[0] != content or cur[1] != mode:
                acts.append(Action('file_write', p, sha256=_sha(content)[:16],
                                   mode='%04o' % mode, _content=content, _mode=mode))
        for p, target in sorted(want['links'].items()):
            if have['links'].get(p) != target:
                acts.append(Action('unit_enable', p, link_to=target))
        units_changed = any(a.target.startswith(UNIT_DIR + os.sep) for a in acts)
        if units_changed and have['systemd']:
            acts.append(Action('systemd_daemon_reload', 'systemd',
                               _argv=['systemctl', 'daemon-reload']))
        # the heal service runs the code just written: (re)started after any change
        if want['on'] and have['systemd'] and (acts or not have['healing']):
            acts.append(Action('systemd_unit', heal_unit, _argv=['systemctl', 'restart',
                                                                 heal_unit]))
        return acts

    def apply(self, ctx, actions, have=None):
        done = []
        for a in actions:
            try:
                if a.op == 'file_write':
                    write_atomic(a.target, a.args['_content'], a.args['_mode'])
                elif a.op == 'file_remove':
                    os.unlink(a.target)
                    if os.path.dirname(a.target).endswith('.service.d'):
                        _rmdir_if_empty(os.path.dirname(a.target))  # a drop-in's
                elif a.op == 'dir_remove':
                    _remove_tree(a.target)
                elif a.op == 'unit_disable':
                    os.unlink(a.target)
                elif a.op == 'unit_enable':
                    if os.path.lexists(a.target):
                        os.unlink(a.target)
                    os.makedirs(os.path.dirname(a.target), exist_ok=True)
                    os.symlink(a.args['link_to'], a.target)
                elif a.op in ('systemd_daemon_reload', 'systemd_unit'):
                    rc, out, err = ctx.run(a.args['_argv'])
                    if rc != 0:
                        raise OSError('%s exited %d: %s' % (' '.join(a.args['_argv']), rc,
                                                            (err or out).strip()))
            except OSError as e:
                raise ApplyError(a, e, done)
            done.append(a)

    def render(self, want, have, actions):
        before = sorted(_lines(have['files'], have['links']))
        after = sorted(_lines(want['files'], want['links']))
        return ('\n'.join(before) + '\n' if before else ''), \
            ('\n'.join(after) + '\n' if after else '')

    def result(self, want, have, actions):
        br = want['bridge']
        return {'persistence': {'enabled': want['on'], 'unit': unit_name(br),
                                'state_dir': network_dir(br)}}


class _Ctx(Commands):
    """The stage's context: the command runner (``systemctl``), nothing to close."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _rmdir_if_empty(path):
    try:
        os.rmdir(path)
    except OSError:
        pass


def _remove_tree(path):
    for root, dirs, names in os.walk(path, topdown=False):
        for n in names:
            os.unlink(os.path.join(root, n))
        for n in dirs:
            p = os.path.join(root, n)
            if os.path.islink(p):
                os.unlink(p)
            else:
                os.rmdir(p)
    os.rmdir(path)


def _lines(files, links):
    out = []
    for p, (content, mode) in files.items():
        if p.endswith(('.json', '.service')):
            out += ['%s: %s' % (p, line) for line in content.decode('utf-8').splitlines()]
        else:
            out.append('%s (mode %04o, sha256 %s)' % (p, mode, _sha(content)[:16]))
    out += ['%s -> %s' % (p, t) for p, t in links.items()]
    return out
