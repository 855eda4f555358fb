"""Foreign firewalls in charge of a sandboxed host, and real-packet probes (issue #9).

Test fixtures for the collection's firewall integration: each puts another firewall in
charge of the current (private) network namespace the way it would be on a real host,
so that tests can show the breakage it causes and, later, that the collection copes:

- ``Firewalld``: a private system D-Bus + Debian 12's firewalld 1.3 (nftables backend);
- ``docker_iptables`` / ``docker_restart`` / ``iptables_flush``: Docker 28's iptables
  rules (iptables-nft or iptables-legacy), what a daemon restart and an admin's flush do;
- ``Ufw``: Debian's ufw 0.36 enabled with its defaults;
- ``foreign_drop_table``: an unknown nftables firewall with drop policies;
- ``iptables_save`` / ``nft_ruleset``: text snapshots for byte-compare before/after;
- ``World`` / ``seed_checks``: the seed topology's outside world and its TCP probes.

Everything here changes kernel network state or mounts: use it only inside a private
network + mount namespace (``scripts/sandbox``, or the integration tests' per-test
namespace). Each entry point refuses to run unless ``LINUXNET_SANDBOX=1``. Mounts are
made with the ``mount`` binary in this mount namespace and undone on exit, so a test
harness that chains mount namespaces from test to test inherits none of them.

Standard library only and no pytest, so that ``tests/lab/lab.py`` can use it too.
"""
import concurrent.futures
import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

VARIANTS = ('nft', 'legacy')


class FirewallFixtureError(RuntimeError):
    """A foreign firewall could not be set up or torn down."""


def require_sandbox():
    """Refuse to touch kernel network state outside a sandbox (LINUXNET_SANDBOX=1)."""
    if os.environ.get('LINUXNET_SANDBOX') != '1':
        raise FirewallFixtureError('tests/firewalls.py changes network state and mounts: run it '
                                   'only inside scripts/sandbox or the integration tests '
                                   '(LINUXNET_SANDBOX=1)')


def run(cmd, check=True, timeout=60, input=None, env=None):  # pylint: disable=redefined-builtin
    """subprocess.run with text output captured; a failure names the command and its output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input,
                          env=env, check=False)
    if check and proc.returncode != 0:
        raise FirewallFixtureError('%s: rc=%d\n%s%s' % (
            ' '.join(cmd), proc.returncode, proc.stdout, proc.stderr))
    return proc


def _variant(variant):
    if variant not in VARIANTS:
        raise ValueError('iptables variant must be one of %s, not %r' % (VARIANTS, variant))
    return variant


def iptables(variant, *args, check=True):
    """Run ``iptables-VARIANT ARGS`` (nft: iptables-nft, legacy: iptables-legacy)."""
    return run(['iptables-' + _variant(variant)] + list(args), check=check)


# ---------------------------------------------------------------------------
# mounts and processes


def mounted(path):
    """True when PATH is a mount point in this mount namespace (/proc/self/mountinfo)."""
    path = os.path.realpath(path)
    with open('/proc/self/mountinfo') as f:
        return any(line.split()[4] == path for line in f)


class Mounts(object):
    """Mounts made in this mount namespace, undone in reverse order by ``undo()``.

    A missing mount point (/run/firewalld on a host where firewalld never ran) is created
    on the host's /run and deliberately left there, empty, after the unmount: removing a
    directory or file that is a mount point in another mount namespace detaches that
    mount, so a concurrent sandbox using the same fixture would lose its private copy.
    """

    def __init__(self):
        self.points = []

    def tmpfs(self, path, name='linuxnet-fw', mode='0755'):
        os.makedirs(path, exist_ok=True)
        run(['mount', '-t', 'tmpfs', '-o', 'mode=' + mode, name, path])
        self.points.append(path)

    def bind(self, source, path):
        run(['mount', '--bind', source, path])
        self.points.append(path)

    def undo(self):
        errors = []
        while self.points:
            path = self.points.pop()
            if run(['umount', path], check=False).returncode != 0:
                proc = run(['umount', '-l', path], check=False)
                if proc.returncode != 0:
                    errors.append('%s: %s' % (path, proc.stderr.strip()))
        if errors:
            raise FirewallFixtureError('could not unmount: ' + '; '.join(errors))


_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: SIGTERM this child when the process that started it dies, so that a
    killed test run leaves no firewalld, dbus-daemon or server behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def spawn(cmd, **kw):
    """subprocess.Popen(CMD) that does not outlive this process (PR_SET_PDEATHSIG)."""
    # pylint: disable-next=subprocess-popen-preexec-fn
    return subprocess.Popen(cmd, preexec_fn=_die_with_parent, **kw)


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Stop a process this module started, by its PID; SIGKILL if it outlives TIMEOUT."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, sig)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout)
    except ProcessLookupError:
        pass


def _tail(path, lines=40):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return '(no %s)' % path


@contextlib.contextmanager
def iptables_alternative(variant):
    """Make Debian's ``iptables`` alternative point at VARIANT in this mount namespace.

    ``iptables``, ``iptables-save``, ``iptables-restore`` and the ``ip6tables`` ones are
    /usr/sbin symlinks into /etc/alternatives; a private copy of /etc/alternatives with
    those six repointed is bind-mounted over it for the duration (``update-alternatives
    --set iptables /usr/sbin/iptables-legacy``, without touching the host's choice).
    Tools that run plain ``iptables`` (ufw, an admin's script) then use VARIANT.
    """
    require_sandbox()
    _variant(variant)
    private = tempfile.mkdtemp(prefix='linuxnet-alternatives.')
    mounts = Mounts()
    try:
        for name in os.listdir('/etc/alternatives'):
            src = os.path.join('/etc/alternatives', name)
            if os.path.islink(src):
                os.symlink(os.readlink(src), os.path.join(private, name))
        for family in ('iptables', 'ip6tables'):
            for suffix in ('', '-save', '-restore'):
                link = os.path.join(private, family + suffix)
                if os.path.lexists(link):
                    os.unlink(link)
                os.symlink('/usr/sbin/%s-%s%s' % (family, variant, suffix), link)
        mounts.bind(private, '/etc/alternatives')
        yield variant
    finally:
        mounts.undo()
        shutil.rmtree(private, ignore_errors=True)


# ---------------------------------------------------------------------------
# firewalld

# What EL8's firewalld 0.8/0.9 ships as /usr/lib/firewalld/zones/public.xml: no <forward/>
# (intra-zone forwarding only came with firewalld 1.0) and cockpit allowed.
EL8_PUBLIC_ZONE = """<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <description>For use in public areas. You do not trust the other computers on networks to \
not harm your computer. Only selected incoming connections are accepted.</description>
  <service name="ssh"/>
  <service name="dhcpv6-client"/>
  <service name="cockpit"/>
</zone>
"""

_DBUS_DROP = re.compile(r'^\s*<(user|fork|standard_system_servicedirs|servicehelper|pidfile|'
                        r'syslog)\b.*$\n?', re.M)


def private_copy(workdir, source, name):
    """A fresh copy of the tree SOURCE as WORKDIR/NAME (to bind-mount over SOURCE)."""
    os.makedirs(workdir, exist_ok=True)
    copy = os.path.join(workdir, name)
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(source, copy, symlinks=True)
    return copy


class Fixture(object):
    """``with X(...) as x:`` runs ``x.open()``; ``x.close()`` undoes it on exit, and also
    when ``open()`` fails half-way (``close()`` must cope with a partial ``open()``)."""

    def open(self):
        raise NotImplementedError

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()


class Firewalld(Fixture):
    """A private firewalld 1.3 (Debian 12, nftables backend) and system D-Bus.

    ``with Firewalld(workdir) as fw:`` inside a private net+mount namespace:

    - tmpfs on /run/dbus (so the host's bus socket is hidden and ours takes its path,
      /run/dbus/system_bus_socket, where firewall-cmd and python3-firewall look) and on
      /run/firewalld (firewalld's temp files);
    - ``dbus-daemon --nofork`` with Debian's system.conf minus user switch, pid file,
      syslog and service activation (no polkit can be activated, so firewalld authorises
      by uid: root may do everything, as on a host without polkitd);
    - a private copy of /etc/firewalld (the package default) bind-mounted over it, so
      ``--permanent`` changes and ``--runtime-to-permanent`` stay in WORKDIR;
    - ``firewalld --nofork --nopid`` logging to WORKDIR/firewalld.log (not
      /var/log/firewalld), then wait until ``firewall-cmd --state`` says running.

    ``el8_zones=True``: the zone defaults look like EL8's firewalld 0.8/0.9: a private
    copy of /usr/lib/firewalld is bind-mounted over it in which no zone has ``<forward/>``
    and public also allows cockpit (EL8_PUBLIC_ZONE), /etc/firewalld stays pristine as
    on an EL8 host. This reproduces EL8's *packet behaviour* for the default zones (no
    intra-zone forwarding: two interfaces in one zone do not forward to each other unless
    a rule or policy says so). It does NOT simulate 0.8/0.9 themselves: the daemon and
    firewall-cmd are still 1.3 (``--add-forward``, policies, ``--info-policy`` work; on
    0.8 policies do not exist and on 0.8/0.9 ``forward`` is an unknown zone element),
    the nftables layout is 1.3's (chain names, the allow-host-ipv6 policy, rpfilter), and
    EL8's ``AllowZoneDrifting=yes`` (gone in 1.0) is not reproduced.

    On exit firewalld and dbus-daemon are stopped by PID and every mount is undone.
    """

    def __init__(self, workdir, el8_zones=False, timeout=30, debug=False):
        self.workdir = os.path.abspath(workdir)
        self.el8_zones = el8_zones
        self.timeout = timeout
        self.debug = debug
        self.mounts = Mounts()
        self.dbus = None
        self.proc = None
        self.log = os.path.join(self.workdir, 'firewalld.log')
        self.out = os.path.join(self.workdir, 'firewalld.out')

    # -- lifecycle

    def open(self):
        require_sandbox()
        etc = private_copy(self.workdir, '/etc/firewalld', 'etc-firewalld')
        if self.el8_zones:
            usr = private_copy(self.workdir, '/usr/lib/firewalld', 'usr-lib-firewalld')
            zones = os.path.join(usr, 'zones')
            for name in os.listdir(zones):
                path = os.path.join(zones, name)
                with open(path) as f:
                    text = f.read()
                with open(path, 'w') as f:
                    f.write(re.sub(r'^\s*<forward\s*/>\s*\n', '', text, flags=re.M))
            with open(os.path.join(zones, 'public.xml'), 'w') as f:
                f.write(EL8_PUBLIC_ZONE)
            self.mounts.bind(usr, '/usr/lib/firewalld')
        self.mounts.tmpfs('/run/dbus', 'linuxnet-fw-dbus')
        self.mounts.tmpfs('/run/firewalld', 'linuxnet-fw-run', mode='0750')
        self.mounts.bind(etc, '/etc/firewalld')
        self._start_dbus()
        self.start()

    def close(self):
        errors = []
        for step in (self.stop, self._stop_dbus, self.mounts.undo):
            try:
                step()
            except Exception as e:  # pylint: disable=broad-except
                errors.append(str(e))
        if errors:
            raise FirewallFixtureError('Firewalld cleanup: ' + '; '.join(errors))

    def _start_dbus(self):
        with open('/usr/share/dbus-1/system.conf') as f:
            conf = _DBUS_DROP.sub('', f.read())
        conf = conf.replace('<includedir>system.d</includedir>',
                            '<includedir>/usr/share/dbus-1/system.d</includedir>')
        path = os.path.join(self.workdir, 'system-bus.conf')
        with open(path, 'w') as f:
            f.write(conf)
        out = open(os.path.join(self.workdir, 'dbus.out'), 'w')
        self.dbus = spawn(['dbus-daemon', '--config-file', path, '--nofork', '--nopidfile',
                           '--nosyslog'],
                          stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        end = time.monotonic() + 10
        while not os.path.exists('/run/dbus/system_bus_socket'):
            if self.dbus.poll() is not None or time.monotonic() > end:
                raise FirewallFixtureError('dbus-daemon did not come up:\n' +
                                           _tail(os.path.join(self.workdir, 'dbus.out')))
            time.sleep(0.01)

    def _stop_dbus(self):
        stop_process(self.dbus)
        self.dbus = None

    def start(self):
        """Start firewalld (if not running) and wait until it says running."""
        if self.proc is not None and self.proc.poll() is None:
            return
        cmd = ['firewalld', '--nofork', '--nopid', '--log-target', 'file', '--log-file', self.log]
        if self.debug:
            cmd.append('--debug')
        with open(self.out, 'a') as out:
            self.proc = spawn(cmd, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
        self.wait_running()

    def wait_running(self):
        end = time.monotonic() + self.timeout
        while True:
            state = self.cmd('--state', check=False)
            if state.returncode == 0 and state.stdout.strip() == 'running':
                return
            if self.proc.poll() is not None or time.monotonic() > end:
                why = ('exited with %s' % self.proc.returncode if self.proc.poll() is not None
                       else 'not running after %ss' % self.timeout)
                raise FirewallFixtureError(
                    'firewalld %s (firewall-cmd --state: %s)\n--- %s\n%s--- %s\n%s' % (
                        why, (state.stdout + state.stderr).strip(), self.log, _tail(self.log),
                        self.out, _tail(self.out)))
            time.sleep(0.05)

    def stop(self):
        """Stop firewalld by PID (SIGTERM: with CleanupOnExit=yes it removes its tables)."""
        stop_process(self.proc)

    def restart(self):
        """What ``systemctl restart firewalld`` does: stop, start, wait until running."""
        self.stop()
        self.start()

    def reload(self, complete=False):
        """``firewall-cmd --reload`` (or ``--complete-reload``): permanent -> runtime."""
        return self.cmd('--complete-reload' if complete else '--reload')

    # -- queries

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def cmd(self, *args, check=True, timeout=60):
        """``firewall-cmd ARGS`` -> CompletedProcess (text); check=True raises on rc != 0."""
        return run(['firewall-cmd'] + list(args), check=check, timeout=timeout)

    def snapshot(self, permanent=True):
        """Text of --list-all-zones + --list-all-policies (permanent by default)."""
        flag = ['--permanent'] if permanent else []
        return (self.cmd(*(flag + ['--list-all-zones'])).stdout +
                self.cmd(*(flag + ['--list-all-policies'])).stdout)


# ---------------------------------------------------------------------------
# Docker 28's iptables rules

DOCKER_SUBNET = '172.17.0.0/16'
DOCKER_GATEWAY = '172.17.0.1/16'
DOCKER_CHAINS = ('DOCKER', 'DOCKER-BRIDGE', 'DOCKER-CT', 'DOCKER-FORWARD', 'DOCKER-INTERNAL')

# The filter and nat rules of a freshly started Docker Engine 28 (moby's
# integration/network/bridge/iptablesdoc/generated/new-daemon.md for 28.x, and iptables -S
# of real 28.x hosts) with only the default bridge network, docker0, on a host whose
# ip_forward it enabled itself, so it set the FORWARD policy to DROP. Since 28, DOCKER-USER
# is created empty (older Engines appended "-j RETURN" to it; an upgraded host keeps that
# rule, because Docker never flushes DOCKER-USER): docker_iptables(user_return=True).
DOCKER_FILTER = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-BRIDGE - [0:0]
:DOCKER-CT - [0:0]
:DOCKER-FORWARD - [0:0]
:DOCKER-INTERNAL - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-FORWARD
%(user)s-A DOCKER ! -i docker0 -o docker0 -j DROP
-A DOCKER-BRIDGE -o docker0 -j DOCKER
-A DOCKER-CT -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A DOCKER-FORWARD -j DOCKER-CT
-A DOCKER-FORWARD -j DOCKER-INTERNAL
-A DOCKER-FORWARD -j DOCKER-BRIDGE
-A DOCKER-FORWARD -i docker0 -j ACCEPT
COMMIT
"""

DOCKER_NAT = """\
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
COMMIT
"""

# The chain contents Docker (re)creates at start, after it has made sure the chains exist.
_DOCKER_FILTER_RULES = [
    ['-A', 'DOCKER', '!', '-i', 'docker0', '-o', 'docker0', '-j', 'DROP'],
    ['-A', 'DOCKER-BRIDGE', '-o', 'docker0', '-j', 'DOCKER'],
    ['-A', 'DOCKER-CT', '-o', 'docker0', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED',
     '-j', 'ACCEPT'],
    ['-A', 'DOCKER-FORWARD', '-j', 'DOCKER-CT'],
    ['-A', 'DOCKER-FORWARD', '-j', 'DOCKER-INTERNAL'],
    ['-A', 'DOCKER-FORWARD', '-j', 'DOCKER-BRIDGE'],
    ['-A', 'DOCKER-FORWARD', '-i', 'docker0', '-j', 'ACCEPT'],
]
_DOCKER_NAT_JUMPS = [
    ['PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER'],
    ['OUTPUT', '!', '-d', '127.0.0.0/8', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER'],
    ['POSTROUTING', '-s', DOCKER_SUBNET, '!', '-o', 'docker0', '-j', 'MASQUERADE'],
]


def _set_sysctl(name, value):
    with open('/proc/sys/' + name.replace('.', '/'), 'w') as f:
        f.write(str(value))


def docker_iptables(variant='nft', user_return=False, bridge=True):
    """Load Docker 28's filter + nat rules for docker0 with iptables-VARIANT-restore.

    What a host looks like right after ``systemctl start docker`` (Engine 28, default
    ``daemon.json``, IPv4 view): net.ipv4.ip_forward=1, FORWARD policy DROP, chains
    DOCKER-USER (empty; with USER_RETURN its pre-28 ``-j RETURN``), DOCKER-FORWARD,
    DOCKER-CT, DOCKER-INTERNAL, DOCKER-BRIDGE and DOCKER for docker0, and nat's DOCKER
    chain with the MASQUERADE of 172.17.0.0/16. With BRIDGE, the docker0 bridge too
    (172.17.0.1/16, up, no ports: NO-CARRIER as on a host without containers).
    Loaded with ``--noflush``: rules already in those tables (of other tools) stay.
    Not modelled here: ip6tables (docker_ip6tables adds it), the raw table (empty without
    published ports), per-container rules, docker-proxy, Docker 29's native nftables
    backend.
    """
    require_sandbox()
    if bridge and not os.path.exists('/sys/class/net/docker0'):
        run(['ip', 'link', 'add', 'docker0', 'type', 'bridge'])
        run(['ip', 'addr', 'add', DOCKER_GATEWAY, 'dev', 'docker0'])
        run(['ip', 'link', 'set', 'docker0', 'up'])
    _set_sysctl('net.ipv4.ip_forward', 1)
    rules = DOCKER_NAT + DOCKER_FILTER % {'user': '-A DOCKER-USER -j RETURN\n' if user_return
                                          else ''}
    run(['iptables-%s-restore' % _variant(variant), '--noflush'], input=rules)


def _chain_exists(variant, table, chain):
    return iptables(variant, '-t', table, '-S', chain, check=False).returncode == 0


def _delete_all(variant, table, rule):
    """Delete every copy of RULE (chain + spec) from TABLE."""
    while iptables(variant, '-t', table, '-C', *rule, check=False).returncode == 0:
        iptables(variant, '-t', table, '-D', *rule)


def docker_restart(variant='nft'):
    """What ``systemctl restart docker`` (Engine 28) does to its iptables rules.

    Docker re-creates its own chains and jumps: DOCKER, DOCKER-BRIDGE, DOCKER-CT,
    DOCKER-FORWARD and DOCKER-INTERNAL end up with only Docker's rules (whatever else was
    in them is gone; missing ones are created), the ``-j DOCKER-FORWARD`` jump is moved to the top
    of FORWARD, and DOCKER-USER is kept as it is if it exists (created empty if not) with
    its ``-j DOCKER-USER`` jump moved above that: FORWARD then starts with DOCKER-USER,
    DOCKER-FORWARD, followed by any other rules FORWARD had. The FORWARD policy is left
    alone (ip_forward is already 1). nat: the DOCKER chain is re-created empty and its
    jumps and the docker0 MASQUERADE are made unique again.
    """
    require_sandbox()
    _delete_all(variant, 'filter', ['FORWARD', '-j', 'DOCKER-FORWARD'])
    _delete_all(variant, 'filter', ['FORWARD', '-j', 'DOCKER-USER'])
    for chain in DOCKER_CHAINS:
        if _chain_exists(variant, 'filter', chain):
            iptables(variant, '-F', chain)
        else:
            iptables(variant, '-N', chain)
    for rule in _DOCKER_FILTER_RULES:
        iptables(variant, *rule)
    iptables(variant, '-I', 'FORWARD', '1', '-j', 'DOCKER-FORWARD')
    if not _chain_exists(variant, 'filter', 'DOCKER-USER'):
        iptables(variant, '-N', 'DOCKER-USER')
    iptables(variant, '-I', 'FORWARD', '1', '-j', 'DOCKER-USER')
    for rule in _DOCKER_NAT_JUMPS:
        _delete_all(variant, 'nat', rule)
    if _chain_exists(variant, 'nat', 'DOCKER'):
        iptables(variant, '-t', 'nat', '-F', 'DOCKER')
    else:
        iptables(variant, '-t', 'nat', '-N', 'DOCKER')
    for rule in _DOCKER_NAT_JUMPS:
        iptables(variant, '-t', 'nat', '-A', *rule)


def iptables_flush(variant='nft', table='filter', policy='DROP'):
    """An admin's ``iptables -F; iptables -X`` (TABLE), then ``-P FORWARD POLICY``.

    Flushes every chain of TABLE (Docker's jumps and anything anyone put in FORWARD or
    DOCKER-USER) and deletes the user chains; the FORWARD policy survives a flush anyway,
    POLICY=None leaves it as it is.
    """
    require_sandbox()
    iptables(variant, '-t', table, '-F')
    iptables(variant, '-t', table, '-X')
    if policy and table == 'filter':
        iptables(variant, '-P', 'FORWARD', policy)


# ---------------------------------------------------------------------------
# Docker 28's ip6tables rules (a daemon with "ipv6": true and ip6tables, its default)

DOCKER_SUBNET6 = 'fd00:17::/64'
DOCKER_GATEWAY6 = 'fd00:17::1/64'
# ip6tables -S of Docker 28 with IPv6 on docker0: the same filter chains and rules as for
# IPv4 (Docker enabled IPv6 forwarding itself, so the FORWARD policy is DROP), nat's DOCKER
# chain and the MASQUERADE of the IPv6 subnet.
DOCKER_FILTER6 = DOCKER_FILTER
DOCKER_NAT6 = DOCKER_NAT.replace('127.0.0.0/8', '::1/128').replace(DOCKER_SUBNET, DOCKER_SUBNET6)
_DOCKER_NAT_JUMPS6 = [[w.replace('127.0.0.0/8', '::1/128').replace(DOCKER_SUBNET, DOCKER_SUBNET6)
                       for w in rule] for rule in _DOCKER_NAT_JUMPS]


def ip6tables(variant, *args, check=True):
    """Run ``ip6tables-VARIANT ARGS``."""
    return run(['ip6tables-' + _variant(variant)] + list(args), check=check)


def ip6tables_save(variant='nft', table=None):
    """``ip6tables-VARIANT-save`` without comment lines and counters (see iptables_save)."""
    cmd = ['ip6tables-%s-save' % _variant(variant)] + (['-t', table] if table else [])
    out = run(cmd).stdout
    return ''.join(_COUNTERS.sub('[0:0]', line) for line in out.splitlines(True)
                   if not line.startswith('#'))


def docker_ip6tables(variant='nft', user_return=False):
    """The IPv6 side of docker_iptables: Docker 28 with IPv6 on docker0 (``"ipv6": true``,
    ``fixed-cidr-v6`` DOCKER_SUBNET6; ``ip6tables`` is on by default since Engine 27).

    net.ipv6.conf.all.forwarding=1, ip6tables FORWARD policy DROP, the same filter chains
    as for IPv4, nat's DOCKER chain and the MASQUERADE of DOCKER_SUBNET6; docker0 (made by
    docker_iptables, or here) gets DOCKER_GATEWAY6. Loaded with ``--noflush``.
    """
    require_sandbox()
    # ip link, not /sys/class/net: a sandbox's /sys may show another network namespace
    if run(['ip', 'link', 'show', 'docker0'], check=False).returncode != 0:
        run(['ip', 'link', 'add', 'docker0', 'type', 'bridge'])
        run(['ip', 'link', 'set', 'docker0', 'up'])
    run(['ip', 'addr', 'replace', DOCKER_GATEWAY6, 'dev', 'docker0', 'nodad'])
    _set_sysctl('net.ipv6.conf.all.forwarding', 1)
    rules = DOCKER_NAT6 + DOCKER_FILTER6 % {'user': '-A DOCKER-USER -j RETURN\n' if user_return
                                            else ''}
    run(['ip6tables-%s-restore' % _variant(variant), '--noflush'], input=rules)


def docker_restart6(variant='nft'):
    """docker_restart's IPv6 side: Docker's own ip6tables chains re-created, DOCKER-USER
    kept, the jumps moved back to the top of FORWARD, nat's DOCKER chain re-created."""
    require_sandbox()

    def x(*args, check=True):
        return ip6tables(variant, *args, check=check)

    def delete_all(table, rule):
        while x('-t', table, '-C', *rule, check=False).returncode == 0:
            x('-t', table, '-D', *rule)

    def exists(table, chain):
        return x('-t', table, '-S', chain, check=False).returncode == 0

    delete_all('filter', ['FORWARD', '-j', 'DOCKER-FORWARD'])
    delete_all('filter', ['FORWARD', '-j', 'DOCKER-USER'])
    for chain in DOCKER_CHAINS:
        x('-F' if exists('filter', chain) else '-N', chain)
    for rule in _DOCKER_FILTER_RULES:
        x(*rule)
    x('-I', 'FORWARD', '1', '-j', 'DOCKER-FORWARD')
    if not exists('filter', 'DOCKER-USER'):
        x('-N', 'DOCKER-USER')
    x('-I', 'FORWARD', '1', '-j', 'DOCKER-USER')
    for rule in _DOCKER_NAT_JUMPS6:
        delete_all('nat', rule)
    x('-t', 'nat', '-F' if exists('nat', 'DOCKER') else '-N', 'DOCKER')
    for rule in _DOCKER_NAT_JUMPS6:
        x('-t', 'nat', '-A', *rule)


def docker_remove6(variant='nft'):
    """Undo docker_ip6tables: flush and delete every ip6tables filter and nat chain, FORWARD
    policy ACCEPT, docker0's IPv6 address gone."""
    require_sandbox()
    for table in ('filter', 'nat'):
        ip6tables(variant, '-t', table, '-F')
        ip6tables(variant, '-t', table, '-X')
    ip6tables(variant, '-P', 'FORWARD', 'ACCEPT')
    run(['ip', 'addr', 'del', DOCKER_GATEWAY6, 'dev', 'docker0'], check=False)


# ---------------------------------------------------------------------------
# ufw


class Ufw(Fixture):
    """Debian 12's ufw 0.36 enabled with its defaults, on private copies of its state.

    ufw keeps all its state in /etc/ufw (ufw.conf with ENABLED=, user.rules/user6.rules
    since 0.35, before/after rules, sysctl.conf, applications.d) and /etc/default/ufw
    (default policies; DEFAULT_FORWARD_POLICY="DROP"); /lib/ufw holds only the read-only
    ufw-init scripts, and ufw locks /run/ufw.lock. Private copies of /etc/ufw and
    /etc/default/ufw and a private lock file are bind-mounted for the duration, then
    ``ufw --force enable`` loads the rules: INPUT/FORWARD policy DROP, ufw-* chains,
    ufw's sysctls (all per network namespace: accept_redirects, icmp_*, log_martians).

    ufw runs plain ``iptables`` (Debian's alternative, iptables-nft by default). VARIANT
    'nft' or 'legacy' makes that explicit for the duration (``iptables_alternative``);
    None follows the host's alternative. On exit: ``ufw disable`` (ufw removes its
    chains and sets the policies back to ACCEPT), then everything is unmounted.
    """

    def __init__(self, workdir, variant=None):
        self.workdir = os.path.abspath(workdir)
        self.variant = variant and _variant(variant)
        self.mounts = Mounts()
        self._alternative = None
        self.enabled = False

    def open(self):
        require_sandbox()
        etc = private_copy(self.workdir, '/etc/ufw', 'etc-ufw')
        default = os.path.join(self.workdir, 'default-ufw')
        shutil.copy2('/etc/default/ufw', default)
        lock = os.path.join(self.workdir, 'ufw.lock')
        open(lock, 'w').close()
        if not os.path.exists('/run/ufw.lock'):
            # the mount point: an empty file on the host's /run (a tmpfs), left there like
            # ufw itself leaves it (see Mounts: removing it would hurt a concurrent sandbox)
            open('/run/ufw.lock', 'a').close()
        self.mounts.bind(etc, '/etc/ufw')
        self.mounts.bind(default, '/etc/default/ufw')
        self.mounts.bind(lock, '/run/ufw.lock')
        if self.variant:
            self._alternative = iptables_alternative(self.variant)
            self._alternative.__enter__()  # pylint: disable=unnecessary-dunder-call
        self.enable()

    def close(self):
        errors = []
        try:
            if self.enabled:
                self.disable()
        except Exception as e:  # pylint: disable=broad-except
            errors.append(str(e))
        if self._alternative is not None:
            try:
                self._alternative.__exit__(None, None, None)
            except Exception as e:  # pylint: disable=broad-except
                errors.append(str(e))
            self._alternative = None
        try:
            self.mounts.undo()
        except Exception as e:  # pylint: disable=broad-except
            errors.append(str(e))
        if errors:
            raise FirewallFixtureError('Ufw cleanup: ' + '; '.join(errors))

    def cmd(self, *args, check=True):
        """``ufw ARGS`` -> CompletedProcess."""
        return run(['ufw'] + list(args), check=check)

    def enable(self):
        self.cmd('--force', 'enable')
        self.enabled = True

    def reload(self):
        """``ufw reload``: ufw flushes and reloads its own chains."""
        return self.cmd('reload')

    def disable(self):
        """``ufw disable``: ufw's chains go, policies back to ACCEPT."""
        self.cmd('disable')
        self.enabled = False


# ---------------------------------------------------------------------------
# an unknown nftables firewall

FOREIGN_TABLE = 'inet hardening'


def foreign_drop_table(family='inet', name='hardening'):
    """An unknown firewall: nft table FAMILY NAME with drop policies; returns 'FAMILY NAME'.

    Base chains: ``input`` (hook input, priority filter, policy drop; lo and established
    accepted, as any hardening script does) and ``forward`` (hook forward, priority
    filter, policy drop, nothing accepted). Since a drop in any base chain is final, no
    accept in another table can let forwarded traffic through it. Remove it with
    ``nft delete table FAMILY NAME``.
    """
    require_sandbox()
    run(['nft', '-f', '-'], input="""
table %(family)s %(name)s {
    chain input {
        type filter hook input priority filter; policy drop;
        iif "lo" accept
        ct state established,related accept
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
    }
}
""" % {'family': family, 'name': name})
    return '%s %s' % (family, name)


# ---------------------------------------------------------------------------
# every fixture by name

KINDS = ('docker-nft', 'docker-legacy', 'firewalld', 'firewalld-el8', 'ufw', 'nft-drop')


def docker_remove(variant='nft'):
    """Undo docker_iptables: flush and delete every chain of filter and nat, FORWARD policy
    ACCEPT, docker0 gone (for a namespace that outlives the fixture, e.g. a lab host)."""
    require_sandbox()
    for table in ('filter', 'nat'):
        iptables(variant, '-t', table, '-F')
        iptables(variant, '-t', table, '-X')
    iptables(variant, '-P', 'FORWARD', 'ACCEPT')
    run(['ip', 'link', 'del', 'docker0'], check=False)


@contextlib.contextmanager
def foreign(kind, workdir):
    """Put the foreign firewall KIND (one of KINDS) in charge for the duration.

    Yields its handle: the Firewalld or Ufw object, the iptables variant for Docker, the
    table ('inet hardening') for nft-drop. Undone on exit (Docker: docker_remove).
    """
    require_sandbox()
    if kind in ('docker-nft', 'docker-legacy'):
        variant = kind.split('-', 1)[1]
        docker_iptables(variant)
        try:
            yield variant
        finally:
            docker_remove(variant)
    elif kind in ('firewalld', 'firewalld-el8'):
        with Firewalld(os.path.join(workdir, kind), el8_zones=kind.endswith('-el8')) as fw:
            yield fw
    elif kind == 'ufw':
        with Ufw(os.path.join(workdir, kind)) as ufw:
            yield ufw
    elif kind == 'nft-drop':
        table = foreign_drop_table()
        try:
            yield table
        finally:
            run(['nft', 'delete', 'table'] + table.split())
    else:
        raise ValueError('unknown foreign firewall %r (one of %s)' % (kind, ', '.join(KINDS)))


@contextlib.contextmanager
def foreign6(kind, workdir):
    """foreign(KIND) with its IPv6 side in charge too: Docker's ip6tables rules
    (docker_ip6tables) for the docker kinds; ufw (IPV6=yes, Debian's default) already sets
    ip6tables, firewalld's zones and the nft-drop table (inet) take no family."""
    with foreign(kind, workdir) as handle:
        if kind not in ('docker-nft', 'docker-legacy'):
            yield handle
            return
        docker_ip6tables(handle)
        try:
            yield handle
        finally:
            docker_remove6(handle)


# ---------------------------------------------------------------------------
# snapshots for byte-compare before/after

_COUNTERS = re.compile(r'\[\d+:\d+\]')


def iptables_save(variant='nft', table=None):
    """``iptables-VARIANT-save`` without comment lines (dates, warnings) and counters."""
    cmd = ['iptables-%s-save' % _variant(variant)] + (['-t', table] if table else [])
    out = run(cmd).stdout
    return ''.join(_COUNTERS.sub('[0:0]', line) for line in out.splitlines(True)
                   if not line.startswith('#'))


def nft_ruleset(exclude=('linuxnet',)):
    """``nft -s list ruleset`` (stateless: no counter values) minus tables named EXCLUDE.

    Tables are dropped by name in any family; comment lines (nft's iptables-nft warnings)
    too. iptables-legacy rules are not in it: see iptables_save('legacy').
    """
    out = run(['nft', '-s', 'list', 'ruleset']).stdout
    kept, skip = [], False
    for line in out.splitlines(True):
        if line.startswith('#'):
            continue
        m = re.match(r'table (\S+) (\S+) \{', line)
        if m:
            skip = m.group(2) in exclude
        if not skip:
            kept.append(line)
        if line.startswith('}'):
            skip = False
    return ''.join(kept)


# ---------------------------------------------------------------------------
# the world around the seed network, and real-packet probes

SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if ':' in sys.argv[1]:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)
print('ready', flush=True)
while True:
    c, peer = s.accept()
    try:
        c.sendall(('%s %s\n' % (sys.argv[3], peer[0])).encode())
    except OSError:
        pass
    c.close()
"""

CLIENT = r"""
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    print(c.recv(200).decode().strip())
except socket.timeout:
    print('timeout'); sys.exit(1)
except OSError as e:
    print(type(e).__name__ if type(e) is not OSError else 'errno %s' % e.errno); sys.exit(1)
"""


def in_ns(ns, cmd):
    """CMD prefixed with ``ip netns exec NS`` (NS None: this namespace)."""
    return (['ip', 'netns', 'exec', ns] if ns else []) + list(cmd)


def probe(ns, addr, port, timeout=2.0):
    """TCP connect from netns NS (None: host) to ADDR:PORT -> (ok, reply or failure kind).

    The failure kind is 'timeout' (dropped), 'ConnectionRefusedError' (RST or a reject
    with tcp-reset / port-unreachable), 'OSError'-ish names for ICMP rejects such as
    'errno 113' (EHOSTUNREACH: icmp admin-prohibited, firewalld's reject).
    """
    proc = subprocess.run(in_ns(ns, [sys.executable, '-c', CLIENT, addr, str(port),
                                     str(timeout)]),
                          capture_output=True, text=True, timeout=timeout + 10, check=False)
    detail = (proc.stdout.strip() or proc.stderr.strip())
    return proc.returncode == 0, detail


def tcp_ok(ns, addr, port, timeout=2.0):
    """True when a TCP connection from NS to ADDR:PORT gets a server's reply."""
    return probe(ns, addr, port, timeout)[0]


def fetch(ns, addr, port, timeout=2.0):
    """The whoami server's reply ('LABEL SOURCE-ADDRESS') or None."""
    ok, reply = probe(ns, addr, port, timeout)
    return reply if ok else None


class World(Fixture):
    """The seed network's surroundings, as tests/integration/test_role.py's ``world``.

    An ``outside`` namespace on a veth ``uplink`` (host 198.51.100.2/24, outside
    198.51.100.1, the host's default route) with a whoami server on 198.51.100.1:8080.
    ``ipv6=True`` adds IPv6 to it (issue 12): host 2001:db8:100::2/64, outside
    2001:db8:100::1/64 (the host's IPv6 default route) and a whoami server on
    [2001:db8:100::1]:8080; the addresses skip duplicate address detection.
    ``serve()`` starts more whoami servers (waiting until they listen; an IPv6 address,
    ``::`` for any, serves IPv6 only); ``close()`` stops them by PID and deletes the
    outside namespace (the uplink goes with it).
    """
    HOST = '198.51.100.2'
    OUTSIDE = '198.51.100.1'
    HOST6 = '2001:db8:100::2'
    OUTSIDE6 = '2001:db8:100::1'

    def __init__(self, ipv6=False):
        self.procs = []
        self.up = False
        self.ipv6 = ipv6

    def open(self):
        require_sandbox()
        run(['ip', 'netns', 'add', 'outside'])
        self.up = True
        run(['ip', 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'wan', 'netns',
             'outside'])
        run(['ip', 'addr', 'add', self.HOST + '/24', 'dev', 'uplink'])
        run(['ip', 'link', 'set', 'uplink', 'up'])
        run(['ip', '-n', 'outside', 'addr', 'add', self.OUTSIDE + '/24', 'dev', 'wan'])
        run(['ip', '-n', 'outside', 'link', 'set', 'wan', 'up'])
        run(['ip', '-n', 'outside', 'link', 'set', 'lo', 'up'])
        run(['ip', 'route', 'add', 'default', 'via', self.OUTSIDE])
        self.serve('outside', self.OUTSIDE, 8080, 'outside')
        if self.ipv6:
            run(['ip', 'addr', 'add', self.HOST6 + '/64', 'dev', 'uplink', 'nodad'])
            run(['ip', '-n', 'outside', 'addr', 'add', self.OUTSIDE6 + '/64', 'dev', 'wan',
                 'nodad'])
            run(['ip', '-6', 'route', 'add', 'default', 'via', self.OUTSIDE6])
            self.serve('outside', self.OUTSIDE6, 8080, 'outside')

    def serve(self, ns, addr, port, label):
        """A whoami server in NS (None: host) on ADDR:PORT; returns once it listens."""
        proc = spawn(in_ns(ns, [sys.executable, '-c', SERVER, addr, str(port), label]),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        line = proc.stdout.readline()
        if line.strip() != 'ready':
            stop_process(proc)
            raise FirewallFixtureError('server %s %s:%s did not start: %s' % (
                ns, addr, port, proc.stderr.read()))
        return proc

    def close(self):
        for proc in self.procs:
            stop_process(proc)
            for f in (proc.stdout, proc.stderr):
                if f:
                    f.close()
        self.procs = []
        if self.up:
            run(['ip', 'netns', 'del', 'outside'], check=False)
            self.up = False

    @staticmethod
    def probe(ns, addr, port, timeout=2.0):
        return probe(ns, addr, port, timeout)

    @staticmethod
    def fetch(ns, addr, port, timeout=2.0):
        return fetch(ns, addr, port, timeout)

    @staticmethod
    def tcp_ok(ns, addr, port, timeout=2.0):
        return tcp_ok(ns, addr, port, timeout)

    def serve_seed(self, container='netns0', port=5000, gateway='172.18.0.1', host_port=7000,
                   ipv6_gateway=None):
        """The seed checks' servers: CONTAINER on 0.0.0.0:PORT, the host on GATEWAY:HOST_PORT
        (and with ``ipv6_gateway``, the same on [::]:PORT and [IPV6_GATEWAY]:HOST_PORT).

        Call after the role built the network (the host's server binds the bridge address).
        """
        self.serve(container, '0.0.0.0', port, container)
        self.serve(None, gateway, host_port, 'host')
        if ipv6_gateway:
            self.serve(container, '::', port, container)
            self.serve(None, ipv6_gateway, host_port, 'host')


# The role's default network, as the seed describes it: name -> (from, to address, port).
SEED_CHECKS = {
    'container_to_container': ('netns1', '172.18.0.10', 5000),
    'host_to_container': (None, '172.18.0.10', 5000),
    'container_to_host': ('netns0', '172.18.0.1', 7000),
    'container_to_outside': ('netns0', World.OUTSIDE, 8080),
    'outside_to_published': ('outside', World.HOST, 5000),
    'host_to_published': (None, World.HOST, 5000),
    'hairpin': ('netns1', World.HOST, 5000),
}


# The same over IPv6, for the role's network with container_bridge_network_ipv6_subnet
# fd00:18::/64 (gateway fd00:18::1, netns0 fd00:18::10, netns1 fd00:18::20) and a
# World(ipv6=True); World.serve_seed(gateway='fd00:18::1') and serve('netns0', '::', 5000,
# 'netns0') start the servers.
SEED_CHECKS6 = {
    'container_to_container': ('netns1', 'fd00:18::10', 5000),
    'host_to_container': (None, 'fd00:18::10', 5000),
    'container_to_host': ('netns0', 'fd00:18::1', 7000),
    'container_to_outside': ('netns0', World.OUTSIDE6, 8080),
    'outside_to_published': ('outside', World.HOST6, 5000),
    'host_to_published': (None, World.HOST6, 5000),
    'hairpin': ('netns1', World.HOST6, 5000),
}


def seed_checks(names=None, timeout=2.0, checks=None):
    """Run the seed checks in parallel -> {name: (ok, reply or failure kind)}.

    Needs the role's default network, a ``World`` and ``World.serve_seed()``. Every check
    is a fresh TCP connection; they run concurrently, so a run costs about one TIMEOUT
    however many are dropped. ``container_to_outside`` also tells whether the outside saw
    the host's address (masquerade): its reply is 'outside 198.51.100.2'. ``checks``:
    another table of checks (``SEED_CHECKS6``: the same over IPv6).
    """
    checks = checks or SEED_CHECKS
    names = list(names or checks)
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        futures = {n: pool.submit(probe, *checks[n], timeout=timeout) for n in names}
        return {n: f.result() for n, f in futures.items()}


def failing(results):
    """The names of the checks in seed_checks()' RESULTS that did not succeed."""
    return sorted(name for name, result in results.items() if not result[0])
