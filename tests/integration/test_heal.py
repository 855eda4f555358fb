"""The network heals itself after firewall reloads, restarts and flushes (issue 22).

A persistent network installs ``linuxnet-heal@BR.service``; here (no systemd in the
sandbox) its ``ExecStart=`` runs as systemd would run it, in the test's namespace. Each
event is the real command where the sandbox has it (``nft flush ruleset``, Debian's
``nftables.service`` ExecStart ``nft -f /etc/nftables.conf``, ``firewall-cmd --reload`` and
a restart of a private firewalld, ``ufw reload``, ``ufw disable`` + ``ufw enable``,
``iptables -F``) or what it does to the rules (Docker's restart: tests/firewalls.py's
``docker_restart``). After each: the seed's checks over TCP pass again within
:data:`LIMIT` seconds with no Ansible run, the service logged one restore, and the next role
run changes nothing. Quiet hosts: no pass runs and the service uses no CPU.
"""
import os
import re
import select
import shlex
import subprocess
import sys
import time

import pytest
from ansible_collections.linuxnet.container_network.plugins.module_utils.network import heal as heal_service

# world: the fixture, shared
from test_firewall import CHECKS, world  # noqa: F401  pylint: disable=unused-import
from test_role import changed, failed, role

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import firewalls  # noqa: E402  pylint: disable=wrong-import-position

UNIT = '/etc/systemd/system/linuxnet-heal@br0.service'
ABSENT = {'container_bridge_network_state': 'absent'}
LIMIT = 5.0  # seconds from the event to every check passing again


class Healer(object):
    """The heal unit's ExecStart=, as systemd runs it (argv, no shell), logging to a file."""

    def __init__(self, workdir):
        with open(UNIT) as f:
            [cmd] = [l.split('=', 1)[1].strip() for l in f if l.startswith('ExecStart=')]
        self.log = os.path.join(workdir, 'heal.log')
        self.out = open(self.log, 'w')
        env = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'LANG': 'C.UTF-8',
               'PYTHONUNBUFFERED': '1'}
        self.proc = firewalls.spawn(shlex.split(cmd), stdout=self.out,
                                    stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 10
        while 'watching nftables' not in self.text():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.text()
            time.sleep(0.05)

    def text(self):
        with open(self.log) as f:
            return f.read()

    def passes(self):
        return [l for l in self.text().splitlines() if ': after ' in l]

    def cpu(self):
        with open('/proc/%d/stat' % self.proc.pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks

    def busy(self):
        """A pass is running (the service has a child: the forked restore)."""
        with open('/proc/%d/task/%d/children' % (self.proc.pid, self.proc.pid)) as f:
            return bool(f.read().split())

    def status(self):
        """{key: value} of /proc/PID/status."""
        with open('/proc/%d/status' % self.proc.pid) as f:
            return dict(l.split(':', 1) for l in f.read().splitlines() if ':' in l)

    def stop(self):
        if self.proc.poll() is None:
            firewalls.stop_process(self.proc)
        self.out.close()


@pytest.fixture
def healer(tmp_path):
    made = []

    def start():
        made.append(Healer(str(tmp_path)))
        return made[-1]
    yield start
    for h in made:
        h.stop()


def broken():
    return firewalls.failing(firewalls.seed_checks(CHECKS, timeout=1.0))


def healed_within(limit=LIMIT):
    """Seconds until every check passes (asserted within ``limit``)."""
    t0 = time.monotonic()
    while True:
        bad = broken()
        if not bad:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < limit, 'still failing after %.1f s: %s' % (limit, bad)
        time.sleep(0.1)


def restored(lines):
    """The changes the restores in ``lines`` made."""
    return sum(int(re.search(r'network restored, (\d+) change', l).group(1)) for l in lines)


def event(heal, what, do, breaks=True):
    """Run the event ``do``: every check passes again within LIMIT seconds, with the
    restore(s) it caused logged; they changed something exactly when the event ``breaks``
    the network (then, without the service, it stays broken until the next run).
    Returns the seconds until the checks passed."""
    n = len(heal.passes())
    do()
    took = healed_within()
    deadline = time.monotonic() + LIMIT
    while len(heal.passes()) <= n:
        assert time.monotonic() < deadline, (what, heal.text())
        time.sleep(0.05)
    settle(heal)
    new = heal.passes()[n:]
    assert (restored(new) > 0) == breaks, (what, '\n'.join(new), heal.text())
    return took


def settle(heal, seconds=1.5):
    """Wait until the event is over: for ``seconds`` no nftables change at all (a firewall
    may go on after its command returned: firewalld's start drops its temporary policy
    table later), no pass running and none logged (a pass's own changes may cause one
    more pass, which changes nothing). Longer than the service's own QUIET wait, so that
    nothing can be left for it to react to."""
    with heal_service.listen() as nft_events:
        last, since = len(heal.passes()), time.monotonic()
        while time.monotonic() - since < seconds:
            if select.select([nft_events], [], [], 0.1)[0]:
                try:
                    nft_events.recv(1 << 16)
                except OSError:  # ENOBUFS: more changes than the buffer held
                    pass
                since = time.monotonic()
            if len(heal.passes()) != last or heal.busy():
                last, since = len(heal.passes()), time.monotonic()


def quiet(heal, seconds=2.0):
    """Nothing happens: no pass, no CPU."""
    n, cpu = len(heal.passes()), heal.cpu()
    time.sleep(seconds)
    assert len(heal.passes()) == n, heal.text()
    assert heal.cpu() - cpu <= 1, 'the heal service used CPU while nothing happened'


def converged(play):
    r = role(play)
    assert not failed(r) and changed(r) == [], r


def test_nft_flush_ruleset_and_nftables_service_restart(play, world, healer):
    assert not failed(role(play))
    world.serve_seed()
    assert broken() == []
    heal = healer()
    quiet(heal)
    # the passes fork from the service: it must have no thread of its own (pyroute2
    # imported); what it holds while it waits
    st = heal.status()
    assert st['Threads'].strip() == '1', st
    rss = int(st['VmRSS'].split()[0]) // 1024
    assert rss < 60, 'the heal service holds %d MiB while it waits' % rss
    print('heal service: %d MiB RSS while it waits' % rss)
    # by hand, and what Debian's nftables.service runs on start and reload (flush ruleset)
    took = event(heal, 'nft flush ruleset',
                 lambda: subprocess.run(['nft', 'flush', 'ruleset'], check=True))
    assert os.path.exists('/etc/nftables.conf')
    took2 = event(heal, 'nftables.service', lambda: subprocess.run(
        ['nft', '-f', '/etc/nftables.conf'], check=True))
    quiet(heal)
    print('healed after flush in %.2f s, after nftables.conf in %.2f s' % (took, took2))
    n = len(heal.passes())
    converged(play)  # an Ansible run that changes nothing causes no pass
    settle(heal)
    assert len(heal.passes()) == n, heal.text()
    # a teardown ends the service: the network is gone, nothing to heal
    assert not failed(role(play, ABSENT))
    heal.proc.wait(10)
    assert 'the network was removed; exiting' in heal.text()
    assert subprocess.run(['nft', 'list', 'table', 'inet', 'linuxnet'], capture_output=True,
                          check=False).returncode != 0


def test_a_flush_of_our_table_alone_and_one_rule_deleted(play, world, healer):
    assert not failed(role(play))
    world.serve_seed()
    heal = healer()
    event(heal, 'nft flush table', lambda: subprocess.run(
        ['nft', 'flush', 'table', 'inet', 'linuxnet'], check=True))
    listing = subprocess.run(['nft', '-a', 'list', 'chain', 'inet', 'linuxnet', 'prerouting'],
                             capture_output=True, text=True, check=True).stdout
    [handle] = [l.rsplit('# handle ', 1)[1] for l in listing.splitlines() if 'dnat' in l][:1]
    event(heal, 'nft delete rule', lambda: subprocess.run(
        ['nft', 'delete', 'rule', 'inet', 'linuxnet', 'prerouting', 'handle', handle],
        check=True))
    converged(play)


@pytest.mark.parametrize('kind', ['docker-nft', 'ufw'])
def test_iptables_firewalls_reloading(play, world, healer, tmp_path, kind):
    with firewalls.foreign(kind, str(tmp_path / 'fw')) as fw:
        assert not failed(role(play))
        world.serve_seed()
        assert broken() == []
        heal = healer()
        quiet(heal)
        if kind == 'ufw':
            event(heal, 'ufw reload', fw.reload, breaks=False)
            # each half of a reload alone: the pass in between changes nothing either
            event(heal, 'ufw disable', fw.disable, breaks=False)
            event(heal, 'ufw enable', fw.enable, breaks=False)
        else:
            event(heal, 'systemctl restart docker', firewalls.docker_restart, breaks=False)
        event(heal, 'iptables -F', lambda: firewalls.iptables_flush('nft', policy='DROP'))
        quiet(heal)
        converged(play)
        assert not failed(role(play, ABSENT))


@pytest.mark.parametrize('kind', ['firewalld', 'firewalld-el8'])
def test_firewalld_reload_and_restart(play, world, healer, tmp_path, kind):
    with firewalls.foreign(kind, str(tmp_path / 'fw')) as fw:
        assert not failed(role(play))
        world.serve_seed()
        assert broken() == []
        heal = healer()
        event(heal, 'firewall-cmd --reload', fw.reload, breaks=False)
        event(heal, 'systemctl restart firewalld', fw.restart, breaks=False)
        quiet(heal)
        converged(play)
        assert not failed(role(play, ABSENT))
