# -*- coding: utf-8 -*-
# Copyright: linuxnet.container_network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewalld's side of the firewall integration, as commands: its state read through
``firewall-cmd`` and the argv that change it (its driver, :mod:`firewalld`, plans with them).

firewalld rejects traffic forwarded from an interface that is in no zone (it falls to
the default zone's catch-all), and, with ``br_netfilter``, even bridged container to
container traffic crosses that forward hook. Docker's answer is the model here: the
bridge goes into a zone of ours, ``linuxnet``, with target ACCEPT, and (firewalld >= 0.9,
which has policies) a policy ``linuxnet-forward`` from ANY zone to it with target
ACCEPT, so traffic to the containers - replies, published ports - does not depend on
firewalld's ``ct status dnat accept`` rule that ``StrictForwardPorts=yes`` (firewalld
>= 2.3) removes. Our nftables table still decides ingress protection and isolation:
it drops what it must whatever firewalld accepts.

Everything is done runtime *and* permanent, so ``firewall-cmd --reload`` and a restart
of firewalld keep the bindings. Creating or deleting the zone and policy needs one
``--reload`` (firewalld creates zones in the permanent configuration only), as Docker
does when it creates its ``docker`` zone. The zone and policy go when the last network
of ours leaves the zone.

``firewall-cmd`` and not the ``firewall`` Python bindings: on EL8 those are built for
platform-python 3.6, not the Python the modules run under.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

ZONE = 'linuxnet'
POLICY = 'linuxnet-forward'
# a VXLAN fleet: its UDP port from each peer, to the host (policy ANY -> HOST)
VXLAN_POLICY = 'linuxnet-vxlan'
VXLAN_PORT = 4789
VXLAN_POLICY_FILE = '/etc/firewalld/policies/%s.xml' % VXLAN_POLICY  # its permanent config
NOT_RUNNING = 252
BUS_SOCKETS = ('/run/dbus/system_bus_socket', '/var/run/dbus/system_bus_socket')
CONF = '/etc/firewalld/firewalld.conf'
TABLES = ('firewalld',)  # its nftables tables (families inet, ip, ip6)


class FirewalldError(Exception):
    """firewall-cmd failed while reading: nothing was changed."""


class NotRunning(FirewalldError):
    """firewall-cmd says firewalld is not running (exit 252)."""


def parse_info(text):
    """``firewall-cmd --info-zone=Z`` / ``--info-policy=P`` -> dict of its fields."""
    info = {}
    for line in text.splitlines():
        m = re.match(r'^\s+([a-z0-9-]+):\s*(.*)$', line)
        if m:
            info[m.group(1)] = m.group(2).strip()
    return info


def words(info, key):
    return (info or {}).get(key, '').split()


def version_tuple(text):
    m = re.search(r'(\d+)\.(\d+)(?:\.(\d+))?', text or '')
    return tuple(int(x or 0) for x in m.groups()) if m else None


def strict_forward_ports(path=CONF):
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r'^\s*StrictForwardPorts\s*=\s*(\S+)', line)
                if m:
                    return m.group(1).lower() in ('yes', 'true')
    except (IOError, OSError):
        pass
    return False


class FirewalldState(object):
    """What firewalld has of ours: the zone and the policy, runtime and permanent."""

    def __init__(self, running=False, version=None, zone=None, policy=None, strict=False):
        self.vxlan = {'runtime': None, 'permanent': None}  # its rich rules, or None
        self.running = running
        self.version = version
        self.policies = bool(version) and version >= (0, 9)
        self.zone = zone or {'runtime': None, 'permanent': None}      # info dict or None
        self.policy = policy or {'runtime': None, 'permanent': None}  # info dict or None
        self.strict = strict

    def zone_interfaces(self, where):
        return words(self.zone[where], 'interfaces')

    def report(self):
        return {'running': self.running,
                'version': '.'.join(str(x) for x in self.version) if self.version else None,
                'zone': ZONE, 'policy': POLICY if self.policies else None,
                'strict_forward_ports': self.strict}


class FirewallCmd(object):
    """Reads and changes firewalld through ``firewall-cmd``."""

    def __init__(self, cmds):
        self.cmds = cmds
        self.argv0 = cmds.which('firewall-cmd')

    def _info(self, kind, name, permanent):
        argv = [self.argv0] + (['--permanent'] if permanent else []) + \
            ['--info-%s=%s' % (kind, name)]
        rc, out, err = self.cmds.run(argv)
        if rc == 0:
            return parse_info(out)
        if rc == NOT_RUNNING:  # a restart, or systemctl restart nftables (Conflicts=)
            raise NotRunning('firewalld stopped while it was read (--info-%s=%s): it is '
                             'being restarted or stopped' % (kind, name))
        if 'INVALID_%s' % kind.upper() in out + err:
            return None
        raise FirewalldError('%s failed (exit %d): %s' % (' '.join(argv), rc,
                                                          (err or out).strip()))

    def observe(self):
        """FirewalldState, or None when firewalld is not installed or not running."""
        if not self.argv0 or not any(os.path.exists(p) for p in BUS_SOCKETS):
            return None
        try:
            zone_rt = self._info('zone', ZONE, False)
        except NotRunning:  # from the first call on: no firewalld in charge
            return None
        rc, out, err = self.cmds.run([self.argv0, '--version'])
        st = FirewalldState(True, version_tuple(out) if rc == 0 else None,
                            strict=strict_forward_ports())
        st.zone = {'runtime': zone_rt, 'permanent': self._info('zone', ZONE, True)}
        if st.policies:
            st.policy = {'runtime': self._info('policy', POLICY, False),
                         'permanent': self._info('policy', POLICY, True)}
        return st

    def rich_rules(self, policy, permanent):
        """The rich rules of ``policy`` (a list), None when there is no such policy."""
        argv = [self.argv0] + (['--permanent'] if permanent else []) + \
            ['--policy=%s' % policy, '--list-rich-rules']
        rc, out, err = self.cmds.run(argv)
        if rc == 0:
            return [line.strip() for line in out.splitlines() if line.strip()]
        if 'INVALID_POLICY' in out + err:
            return None
        raise FirewalldError('%s failed (exit %d): %s' % (' '.join(argv), rc,
                                                          (err or out).strip()))

    def observe_vxlan(self, st):
        """Read the VXLAN policy's rich rules into ``st`` (firewalld >= 0.9)."""
        if st.policies:
            st.vxlan = {'runtime': self.rich_rules(VXLAN_POLICY, False),
                        'permanent': self.rich_rules(VXLAN_POLICY, True)}

    def argv(self, args):
        return [self.argv0] + list(args)


def vxlan_rule(peer):
    """The rich rule letting peer ``peer``'s VXLAN packets in."""
    return ('rule family="ipv4" source address="%s" port port="%d" protocol="udp" accept'
            % (peer, VXLAN_PORT))


def vxlan_peer(rule):
    """The peer address of one of our VXLAN rich rules, None for any other rule."""
    m = re.match(r'^rule family="ipv4" source address="([0-9.]+)" port port="%d" '
                 r'protocol="udp" accept$' % VXLAN_PORT, rule)
    return m.group(1) if m else None


def new_vxlan_policy_args():
    return [['--permanent', '--new-policy=%s' % VXLAN_POLICY],
            ['--permanent', '--policy=%s' % VXLAN_POLICY, '--add-ingress-zone=ANY'],
            ['--permanent', '--policy=%s' % VXLAN_POLICY, '--add-egress-zone=HOST']]


def rich_rule_args(rule, add):
    return [['--permanent', '--policy=%s' % VXLAN_POLICY,
             '--%s-rich-rule=%s' % ('add' if add else 'remove', rule)]]


# The firewall-cmd arguments of each planned operation (run in this order).
def new_zone_args():
    return [['--permanent', '--new-zone=%s' % ZONE],
            ['--permanent', '--zone=%s' % ZONE, '--set-target=ACCEPT']]


def set_target_args():
    return [['--permanent', '--zone=%s' % ZONE, '--set-target=ACCEPT']]


def new_policy_args(exists):
    return ([] if exists else [['--permanent', '--new-policy=%s' % POLICY]]) + [
        ['--permanent', '--policy=%s' % POLICY, '--set-target=ACCEPT'],
        ['--permanent', '--policy=%s' % POLICY, '--add-ingress-zone=ANY'],
        ['--permanent', '--policy=%s' % POLICY, '--add-egress-zone=%s' % ZONE]]


def bind_args(bridge, permanent):
    return [(['--permanent'] if permanent else []) + ['--zone=%s' % ZONE,
                                                      '--change-interface=%s' % bridge]]


def unbind_args(bridge, permanent):
    return [(['--permanent'] if permanent else []) + ['--zone=%s' % ZONE,
                                                      '--remove-interface=%s' % bridge]]


def delete_args(policy):
    return ([['--permanent', '--delete-policy=%s' % POLICY]] if policy else []) + \
        [['--permanent', '--delete-zone=%s' % ZONE]]


def policy_ok(info):
    return bool(info) and info.get('target') == 'ACCEPT' and \
        words(info, 'ingress-zones') == ['ANY'] and words(info, 'egress-zones') == [ZONE]
