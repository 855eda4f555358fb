#!/usr/bin/env python3
# Copyright: Contributors to the linuxnet.container_network collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local lab: a simulated fleet inside one private network namespace.

Run it only inside ``scripts/sandbox`` (it refuses otherwise)::

    scripts/sandbox /opt/linuxnet/venv-2.19/bin/python tests/lab/lab.py up --dir D
    ansible-playbook -i D/inventory.ini playbooks/site.yml
    ... lab.py check --dir D
    ... lab.py down --dir D

World built by ``up`` (all of it inside the sandbox's network namespace):

* ``lab-outside``: a named netns playing the upstream gateway and the internet.
  Bridge ``lab-br`` with 198.51.100.1/24 (the hosts' default gateway) and
  203.0.113.1/32 on ``lo`` (an "internet" address, reached through the gateway).
  A whoami server listens there on TCP and UDP port 8080 and answers each
  connection / datagram with the source address:port it sees.
  IPv6 too: ``lab-br`` has 2001:db8:100::1/64, the "internet" 2001:db8:ffff::1/128
  is on ``lo``, the whoami server answers on [2001:db8:ffff::1]:8080 (TCP and UDP)
  and radvd advertises ``lab-br`` as a default router (forwarding=1 in lab-outside,
  RAs every 3-4 s, router lifetime 30 s, no prefix: addresses are static).
* ``lab-hostN``: one named netns per host, uplink veth ``eth0`` with
  198.51.100.(10+N)/24 on the outside bridge and a default route via
  198.51.100.1, 2001:db8:100::(10+N)/64 (nodad) and its IPv6 default route learned
  from the router advertisements (accept_ra=1, the kernel's default; ``up`` waits for
  it), plus its own mount namespace (private tmpfs ``/run/netns``,
  private ``/etc/sysctl.d``, ``/var/lib/linuxnet`` and ``/etc/systemd/system``,
  its own sysfs) in which ``sshd -D`` runs: whatever Ansible does over SSH lands
  in that host's namespaces.
* The sandbox's own namespace is the controller: ``lab-ctl`` with
  198.51.100.254/24 and 2001:db8:100::fe/64 on the outside bridge (accept_ra=0), routes
  to the internet addresses via the gateway.
* ``route6 --host H --subnet S``: lab-outside routes the IPv6 subnet S via H's uplink
  address (an upstream that routes a host's unmasqueraded container subnet back);
  ``route`` does the same for an IPv4 subnet (an outside router trying to reach a
  host's containers directly).
* ``up --segments 2``: the even-numbered hosts are on a second bridge ``lab-br2`` in
  lab-outside (192.0.2.(10+N)/24 via 192.0.2.1, 2001:db8:101::(10+N)/64 with radvd
  there too); lab-outside routes between the segments (no NAT) and the controller
  reaches segment 2 via 198.51.100.1.
* ``up --fleet host-gw|vxlan`` / ``inventory --fleet B --members H1,H2``: the inventory
  gets a group ``[fleet]`` (issue 13) whose members have their own container subnet
  172.18.N.0/24; ``check`` then adds rows across the members (source preserved) and
  ``outside -> container direct`` (dropped).
* ``up --firewall KIND``: on every host, before Ansible runs, a foreign firewall
  (``tests/firewalls.py``'s ``foreign(KIND)``: firewalld with its private D-Bus,
  Docker's iptables rules, ufw, an unknown nftables drop table) is put in charge
  inside the host's network and mount namespaces by a keeper process
  (``lab.py fw-keep``) that holds it until ``down`` sends it SIGTERM, then undoes it.

Only the Python standard library is used (``--vars`` accepts JSON, or YAML when
PyYAML happens to be importable).
"""

import argparse
import ast
import ipaddress
import json
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SELF = os.path.abspath(__file__)

OUTSIDE_NS = "lab-outside"
OUTSIDE_BRIDGE = "lab-br"
GATEWAY = "198.51.100.1"
UPLINK_NET = "198.51.100.0/24"
INTERNET_ADDR = "203.0.113.1"
CONTROLLER_LINK = "lab-ctl"
CONTROLLER_ADDR = "198.51.100.254"
# IPv6 uplink (always on): static addresses, the hosts' default route from router
# advertisements (radvd in lab-outside on lab-br)
GATEWAY6 = "2001:db8:100::1"
UPLINK6_NET = "2001:db8:100::/64"
INTERNET6_ADDR = "2001:db8:ffff::1"
CONTROLLER6_ADDR = "2001:db8:100::fe"
# The L2 segments (up --segments 2): odd-numbered hosts on segment 1 (lab-br), even ones
# on segment 2 (lab-br2); lab-outside routes between them (forwarding, no NAT).
SEGMENTS = {
    1: {"bridge": OUTSIDE_BRIDGE, "subnet": UPLINK_NET, "gateway": GATEWAY,
        "subnet6": UPLINK6_NET, "gateway6": GATEWAY6},
    2: {"bridge": "lab-br2", "subnet": "192.0.2.0/24", "gateway": "192.0.2.1",
        "subnet6": "2001:db8:101::/64", "gateway6": "2001:db8:101::1"},
}
# up/inventory --fleet: the inventory group, its backends, and each member's subnet
FLEET_GROUP = "fleet"
FLEET_BACKENDS = ("host-gw", "vxlan")
FLEET_VXLAN_ID = 42
RA_MIN_INTERVAL = 3           # radvd MinRtrAdvInterval (s)
RA_MAX_INTERVAL = 4           # radvd MaxRtrAdvInterval (s)
# radvd AdvDefaultLifetime (s): a host that stops accepting RAs loses its IPv6 default
# route within this
RA_DEFAULT_LIFETIME = 30
RA_WAIT = 20                  # up: how long each host may take to learn its RA route
RADVD = "/usr/sbin/radvd"
WHOAMI_PORT = 8080
DEFAULT_PYTHON = "/opt/linuxnet/venv-2.19/bin/python"
MAX_HOSTS = 200
# check: TCP servers it starts in each container and in the host (on the gateway address)
C2C_TCP_PORT = 7070
HOST_TCP_PORT = 7000

# --firewall: the foreign firewalls of tests/firewalls.py (KINDS), "docker" = docker-nft
FIREWALL_ALIASES = {"docker": "docker-nft"}
FIREWALL_CHOICES = ("firewalld", "firewalld-el8", "docker", "docker-nft", "docker-legacy",
                    "ufw", "nft-drop")
FIREWALL_READY_TIMEOUT = 90
FIREWALL_STOP_TIMEOUT = 60

# The role's defaults (roles/container_bridge_network/defaults/main.yml contract).
ROLE_DEFAULTS = {
    "container_bridge_network_state": "present",
    "container_bridge_network_bridge": "br0",
    "container_bridge_network_subnet": "172.18.0.0/16",
    "container_bridge_network_gateway": "172.18.0.1",
    "container_bridge_network_containers": [
        {"name": "netns0", "address": "172.18.0.10", "host_ifname": "veth0", "ifname": "ceth0"},
        {"name": "netns1", "address": "172.18.0.20", "host_ifname": "veth1", "ifname": "ceth1"},
    ],
    "container_bridge_network_masquerade": True,
    "container_bridge_network_published_ports": [
        {"container": "netns0", "host_port": 5000, "container_port": 5000, "protocol": "tcp"},
    ],
}


class LabError(Exception):
    pass


def log(msg):
    print("lab: %s" % msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# guard and small helpers
# --------------------------------------------------------------------------

def netns_inode(path):
    return os.stat(path).st_ino


# The kernel gives the initial network namespace this fixed inode number
# (PROC_NET_INIT_INO in include/linux/proc_ns.h).
INIT_NET_INO = 0xEFFFFFF9


def reference_netns():
    """Inode of PID 1's netns; where PID 1 cannot be inspected (it holds
    capabilities we lack, so ptrace access to /proc/1/ns is denied), the netns
    of our oldest inspectable ancestor, which started the sandbox."""
    try:
        return netns_inode("/proc/1/ns/net"), "PID 1"
    except OSError:
        pass
    ref, who, pid = None, None, os.getpid()
    while pid > 1:
        try:
            with open("/proc/%d/stat" % pid) as fh:
                data = fh.read()
            ppid = int(data[data.rindex(")") + 2:].split()[1])
            ref, who = netns_inode("/proc/%d/ns/net" % pid), "ancestor PID %d" % pid
        except (OSError, ValueError):
            break
        pid = ppid
    return ref, who


def guard():
    """Refuse to run anywhere but inside scripts/sandbox."""
    if os.environ.get("LINUXNET_SANDBOX") != "1":
        raise LabError("refusing to run: LINUXNET_SANDBOX=1 is not set (run me via scripts/sandbox)")
    mine = netns_inode("/proc/self/ns/net")
    ref, who = reference_netns()
    if ref is None or mine == ref or mine == INIT_NET_INO:
        raise LabError("refusing to run: this process is in the machine's own network namespace "
                       "(same netns as %s); run me via scripts/sandbox" % (who or "the initial netns"))


def run(cmd, check=True, capture=True, timeout=60, input_text=None):
    res = subprocess.run(cmd, text=True, capture_output=capture, timeout=timeout, input=input_text)
    if check and res.returncode != 0:
        raise LabError("command failed (%d): %s\n%s%s" % (
            res.returncode, " ".join(shlex.quote(c) for c in cmd),
            res.stdout or "", res.stderr or ""))
    return res


def ip(*args, check=True):
    return run(["ip"] + list(args), check=check)


def proc_starttime(pid):
    """Start time (clock ticks since boot) of a process, None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            data = fh.read()
    except OSError:
        return None
    # comm may contain spaces/parens: split after the last ')'
    rest = data[data.rindex(")") + 2:].split()
    return int(rest[19])


def pid_is(pid, starttime):
    st = proc_starttime(pid)
    return st is not None and st == starttime


def ns_link(pid, kind):
    try:
        return os.readlink("/proc/%d/ns/%s" % (pid, kind))
    except OSError:
        return None


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def wait_tcp(addr, port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((addr, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def host_names(n):
    return ["lab-host%d" % i for i in range(1, n + 1)]


def host_segment(index, segments=1):
    """The segment of lab-hostINDEX: 1, or with two segments 2 for even-numbered hosts."""
    return 2 if segments == 2 and index % 2 == 0 else 1


def uplink_address(index, segment=1):
    """198.51.100.11 for lab-host1 (segment 2: 192.0.2.12 for lab-host2)."""
    net = ipaddress.IPv4Network(SEGMENTS[segment]["subnet"])
    return str(net.network_address + 10 + index)


def uplink_address6(index, segment=1):
    """2001:db8:100::11 for lab-host1: the same digits as its IPv4 address (segment 2:
    2001:db8:101::12 for lab-host2)."""
    net = ipaddress.IPv6Network(SEGMENTS[segment]["subnet6"])
    return str(net.network_address + int(str(10 + index), 16))


def host_index(name):
    return int(name[len("lab-host"):])


def is_v6(addr):
    return ":" in str(addr)


def state_path(d):
    return os.path.join(d, "state.json")


def load_state(d):
    try:
        with open(state_path(d)) as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise LabError("no lab state in %s (run `lab.py up --dir %s` first)" % (d, d))


def save_state(d, state):
    tmp = state_path(d) + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(state, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, state_path(d))


# --------------------------------------------------------------------------
# up
# --------------------------------------------------------------------------

SSHD_CONFIG = """\
# sshd for lab host {name} (generated by tests/lab/lab.py; not the machine's sshd)
ListenAddress {address}
Port 22
HostKey {hostkey}
PidFile {pidfile}
AuthorizedKeysFile {authorized_keys}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
X11Forwarding no
PrintMotd no
LogLevel INFO
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
"""

# Runs as the lab host's "init": inside the host's netns (nsenter) and a fresh
# mount namespace (unshare); gives it its own /run/netns, /etc/sysctl.d, sysfs and
# (empty) /var/lib/linuxnet and /etc/systemd/system (a persistent network's state and
# unit), then becomes sshd (same PID all along).
HOST_INIT = r"""
set -e
mount -t tmpfs -o mode=0755 lab-host-netns /run/netns
mount --bind "$1" /etc/sysctl.d
for d in /var/lib/linuxnet /etc/systemd/system; do
  mkdir -p "$d"; mount -t tmpfs -o mode=0755 lab-host-persist "$d"
done
umount -l /sys
mount -t sysfs sysfs /sys
exec /usr/sbin/sshd -D -e -f "$2"
"""


def cmd_up(args):
    d = os.path.abspath(args.dir)
    n = args.hosts
    if not 1 <= n <= MAX_HOSTS:
        raise LabError("--hosts must be between 1 and %d" % MAX_HOSTS)
    if args.segments not in SEGMENTS:
        raise LabError("--segments must be 1 or 2")
    if args.fleet and n > 254:
        raise LabError("--fleet gives lab-hostN 172.18.N.0/24: at most 254 hosts")
    os.makedirs(d, exist_ok=True)
    if os.path.exists(state_path(d)):
        raise LabError("%s exists: a lab may be up there; run `down --dir %s` first" % (state_path(d), d))
    for name in [OUTSIDE_NS] + host_names(n):
        if os.path.exists("/run/netns/" + name):
            raise LabError("netns %s already exists in this sandbox" % name)
    state = {
        "dir": d,
        "sandbox_netns": os.readlink("/proc/self/ns/net"),
        "outside": {"netns": OUTSIDE_NS, "bridge": OUTSIDE_BRIDGE, "gateway": GATEWAY,
                    "internet": INTERNET_ADDR, "whoami_port": WHOAMI_PORT,
                    "gateway6": GATEWAY6, "internet6": INTERNET6_ADDR, "routes6": [],
                    "routes": [],
                    "segments": [dict(SEGMENTS[i], segment=i) for i in range(1, args.segments + 1)]},
        "controller": {"link": CONTROLLER_LINK, "address": CONTROLLER_ADDR,
                       "address6": CONTROLLER6_ADDR},
        "segments": args.segments,
        "inventory": {"path": os.path.join(d, "inventory.ini"), "fleet": None, "members": []},
        "netns": [],          # named netns this lab created
        "links": [],          # links this lab created in the sandbox's own netns
        "pids": [],           # [{pid, starttime, what}]
        "hosts": [],
        "python": args.python,
        "firewall": firewall_kind(args.firewall),
        "complete": False,
    }
    save_state(d, state)
    try:
        _up(d, n, args, state)
    except BaseException:
        log("up failed; tearing down what was built")
        try:
            _down(d, state, quiet=True)
            os.replace(state_path(d), os.path.join(d, "state.down.json"))
        except LabError as exc:
            log("cleanup after failed up: %s" % exc)
        raise
    state["complete"] = True
    save_state(d, state)
    print("lab up: %d host(s) %s; inventory %s%s%s%s" % (
        n, ", ".join("%s=%s,%s" % (h["name"], h["address"], h["address6"]) for h in state["hosts"]),
        os.path.join(d, "inventory.ini"),
        "; segments: %d (lab-outside routes between them)" % args.segments if args.segments > 1 else "",
        "; fleet: %s (group %s, all hosts)" % (args.fleet, FLEET_GROUP) if args.fleet else "",
        "; firewall in charge: %s" % state["firewall"] if state["firewall"] else ""))
    return 0


def _up(d, n, args, state):
    ssh_dir = os.path.join(d, "ssh")
    os.makedirs(ssh_dir, exist_ok=True)
    os.makedirs("/run/sshd", exist_ok=True)  # sshd privilege separation directory
    os.makedirs("/run/netns", exist_ok=True)

    # outside: gateway + internet
    ip("netns", "add", OUTSIDE_NS)
    state["netns"].append(OUTSIDE_NS)
    save_state(d, state)
    ip("-n", OUTSIDE_NS, "link", "set", "lo", "up")
    ip("-n", OUTSIDE_NS, "addr", "add", INTERNET_ADDR + "/32", "dev", "lo")
    ip("-n", OUTSIDE_NS, "addr", "add", INTERNET6_ADDR + "/128", "dev", "lo")
    # the outside routes IPv6 (radvd advertises only when forwarding is on); no
    # snooping: RS/RA/ND multicast reach every port
    outside_sysctl("net.ipv6.conf.all.forwarding=1")
    # a fixed MAC: a bridge without one takes its ports' lowest as they come and go, and
    # a neighbour that cached the old one (the controller) lost the gateway for ~30 s
    ip("-n", OUTSIDE_NS, "link", "add", OUTSIDE_BRIDGE, "address", "02:4c:61:62:00:01",
       "type", "bridge", "mcast_snooping", "0")
    outside_sysctl("net.ipv6.conf.%s.accept_dad=0" % OUTSIDE_BRIDGE)
    ip("-n", OUTSIDE_NS, "addr", "add", GATEWAY + "/24", "dev", OUTSIDE_BRIDGE)
    ip("-n", OUTSIDE_NS, "addr", "add", GATEWAY6 + "/64", "dev", OUTSIDE_BRIDGE, "nodad")
    ip("-n", OUTSIDE_NS, "link", "set", OUTSIDE_BRIDGE, "up")
    for seg in state["outside"]["segments"][1:]:
        # a second L2 segment: lab-outside routes IPv4 (and IPv6) between the
        # segments, with no NAT (there are no nftables rules in lab-outside)
        br = seg["bridge"]
        ip("-n", OUTSIDE_NS, "link", "add", br, "address", "02:4c:61:62:00:%02x" % seg["segment"],
           "type", "bridge", "mcast_snooping", "0")
        outside_sysctl("net.ipv6.conf.%s.accept_dad=0" % br)
        ip("-n", OUTSIDE_NS, "addr", "add", seg["gateway"] + "/" + seg["subnet"].split("/")[1], "dev", br)
        ip("-n", OUTSIDE_NS, "addr", "add", seg["gateway6"] + "/" + seg["subnet6"].split("/")[1],
           "dev", br, "nodad")
        ip("-n", OUTSIDE_NS, "link", "set", br, "up")
    if len(state["outside"]["segments"]) > 1:
        outside_sysctl("net.ipv4.ip_forward=1")

    # controller (the sandbox's own netns) on the outside bridge
    ip("link", "add", CONTROLLER_LINK, "type", "veth", "peer", "name", "p-ctl", "netns", OUTSIDE_NS)
    state["links"].append(CONTROLLER_LINK)
    save_state(d, state)
    ip("-n", OUTSIDE_NS, "link", "set", "p-ctl", "master", OUTSIDE_BRIDGE, "up")
    ip("addr", "add", CONTROLLER_ADDR + "/24", "dev", CONTROLLER_LINK)
    # the controller's IPv6 routes are static: it takes no RA default route
    run(["sysctl", "-q", "-w", "net.ipv6.conf.%s.accept_ra=0" % CONTROLLER_LINK])
    ip("addr", "add", CONTROLLER6_ADDR + "/64", "dev", CONTROLLER_LINK, "nodad")
    ip("link", "set", CONTROLLER_LINK, "up")
    ip("route", "add", INTERNET_ADDR + "/32", "via", GATEWAY)
    ip("-6", "route", "add", INTERNET6_ADDR + "/128", "via", GATEWAY6, "dev", CONTROLLER_LINK)
    # the other segments' hosts (SSH, the published-port checks) via the gateway
    state["controller"]["routes"] = []
    for seg in state["outside"]["segments"][1:]:
        ip("route", "add", seg["subnet"], "via", GATEWAY)
        ip("-6", "route", "add", seg["subnet6"], "via", GATEWAY6, "dev", CONTROLLER_LINK)
        state["controller"]["routes"] += [seg["subnet"] + " via " + GATEWAY,
                                          seg["subnet6"] + " via " + GATEWAY6]
    save_state(d, state)

    # keys
    client_key = os.path.join(ssh_dir, "id_ed25519")
    if not os.path.exists(client_key):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "linuxnet-lab", "-f", client_key])
    authorized = os.path.join(ssh_dir, "authorized_keys")
    shutil.copyfile(client_key + ".pub", authorized)
    os.chmod(authorized, 0o600)

    # whoami in the outside netns
    whoami_log = open(os.path.join(d, "whoami.log"), "ab")
    p = subprocess.Popen(
        ["nsenter", "--net=/run/netns/" + OUTSIDE_NS, "--", sys.executable, SELF,
         "_serve", "--port", str(WHOAMI_PORT), "--tag", "outside-whoami",
         "--bind", "0.0.0.0", "--bind", "::"],
        stdin=subprocess.DEVNULL, stdout=whoami_log, stderr=whoami_log, start_new_session=True)
    state["pids"].append({"pid": p.pid, "starttime": _wait_starttime(p.pid), "what": "whoami"})
    state["outside"]["whoami_pid"] = p.pid
    save_state(d, state)

    start_radvd(d, state)

    for i, name in enumerate(host_names(n), start=1):
        segment = host_segment(i, args.segments)
        seg = SEGMENTS[segment]
        addr = uplink_address(i, segment)
        hdir = os.path.join(d, "hosts", name)
        sysctl_dir = os.path.join(hdir, "sysctl.d")
        os.makedirs(sysctl_dir, exist_ok=True)
        ip("netns", "add", name)
        state["netns"].append(name)
        save_state(d, state)
        ip("-n", name, "link", "set", "lo", "up")
        peer = "p-host%d" % i
        ip("link", "add", peer, "netns", OUTSIDE_NS, "type", "veth", "peer", "name", "eth0", "netns", name)
        ip("-n", OUTSIDE_NS, "link", "set", peer, "master", seg["bridge"], "up")
        ip("-n", name, "addr", "add", addr + "/" + seg["subnet"].split("/")[1], "dev", "eth0")
        addr6 = uplink_address6(i, segment)
        ip("-n", name, "addr", "add", addr6 + "/" + seg["subnet6"].split("/")[1], "dev", "eth0", "nodad")
        ip("-n", name, "link", "set", "eth0", "up")
        ip("-n", name, "route", "add", "default", "via", seg["gateway"])

        hostkey = os.path.join(hdir, "ssh_host_ed25519_key")
        if not os.path.exists(hostkey):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", hostkey])
        cfg = os.path.join(hdir, "sshd_config")
        with open(cfg, "w") as fh:
            fh.write(SSHD_CONFIG.format(name=name, address=addr, hostkey=hostkey,
                                        pidfile=os.path.join(hdir, "sshd.pid"),
                                        authorized_keys=authorized))
        run(["/usr/sbin/sshd", "-t", "-f", cfg])
        sshd_log = open(os.path.join(hdir, "sshd.log"), "ab")
        p = subprocess.Popen(
            ["nsenter", "--net=/run/netns/" + name, "--",
             "unshare", "--mount", "--propagation", "private", "--",
             "sh", "-c", HOST_INIT, "lab-host-init", sysctl_dir, cfg],
            stdin=subprocess.DEVNULL, stdout=sshd_log, stderr=sshd_log, start_new_session=True)
        st = _wait_starttime(p.pid)
        state["pids"].append({"pid": p.pid, "starttime": st, "what": "sshd " + name})
        host = {"name": name, "address": addr, "address6": addr6, "netns": name,
                "sshd_pid": p.pid, "dir": hdir, "uplink": "eth0", "segment": segment,
                "bridge": seg["bridge"], "peer": peer, "subnet": seg["subnet"],
                "gateway": seg["gateway"], "subnet6": seg["subnet6"], "gateway6": seg["gateway6"]}
        state["hosts"].append(host)
        save_state(d, state)
        if not wait_tcp(addr, 22, timeout=15):
            raise LabError("sshd of %s did not come up on %s:22 (see %s)" % (
                name, addr, os.path.join(hdir, "sshd.log")))
        host["mnt_ns"] = ns_link(p.pid, "mnt")
        host["net_ns"] = ns_link(p.pid, "net")
        if host["net_ns"] != "net:[%d]" % netns_inode("/run/netns/" + name):
            raise LabError("sshd of %s is not in netns %s" % (name, name))
        save_state(d, state)
        if state["firewall"]:
            # one host after the other: the fixtures create and remove mount points
            # (/run/ufw.lock, /run/firewalld) that the hosts' mount namespaces share
            start_firewall(d, state, host)

    if not wait_tcp(INTERNET_ADDR, WHOAMI_PORT, timeout=10):
        raise LabError("whoami server did not come up (see %s)" % os.path.join(d, "whoami.log"))
    if not wait_tcp(INTERNET6_ADDR, WHOAMI_PORT, timeout=10):
        raise LabError("whoami server did not come up on [%s]:%d (see %s)" % (
            INTERNET6_ADDR, WHOAMI_PORT, os.path.join(d, "whoami.log")))
    wait_ra_routes(d, state)

    write_inventory(d, state, fleet=args.fleet,
                    members=[h["name"] for h in state["hosts"]] if args.fleet else [])


def firewall_kind(kind):
    return FIREWALL_ALIASES.get(kind, kind) if kind else None


def outside_sysctl(setting):
    run(["nsenter", "--net=/run/netns/" + OUTSIDE_NS, "--", "sysctl", "-q", "-w", setting])


RADVD_CONF = """\
# radvd of the lab's outside (generated by tests/lab/lab.py): lab-br (and lab-br2 with
# two segments) is the hosts' IPv6 default router; no prefix (the hosts' addresses are
# static)
"""
RADVD_IFACE = """\
interface {bridge} {{
    AdvSendAdvert on;
    MinRtrAdvInterval {min_interval};
    MaxRtrAdvInterval {max_interval};
    AdvDefaultLifetime {lifetime};
}};
"""


def start_radvd(d, state):
    """radvd in lab-outside on lab-br (and lab-br2), in the foreground (its PID is the lab's)."""
    if not os.access(RADVD, os.X_OK):
        raise LabError("%s not found: install radvd (scripts/setup.sh does)" % RADVD)
    conf = os.path.join(d, "radvd.conf")
    with open(conf, "w") as fh:
        fh.write(RADVD_CONF)
        for seg in state["outside"].get("segments") or [SEGMENTS[1]]:
            fh.write(RADVD_IFACE.format(bridge=seg["bridge"], min_interval=RA_MIN_INTERVAL,
                                        max_interval=RA_MAX_INTERVAL, lifetime=RA_DEFAULT_LIFETIME))
    os.chmod(conf, 0o644)
    argv = [RADVD, "--nodaemon", "--config", conf, "--pidfile", os.path.join(d, "radvd.pid"),
            "--logmethod", "stderr"]
    run(argv[:1] + ["--configtest", "--config", conf, "--logmethod", "stderr"])
    radvd_log = open(os.path.join(d, "radvd.log"), "ab")
    p = subprocess.Popen(["nsenter", "--net=/run/netns/" + OUTSIDE_NS, "--"] + argv,
                         stdin=subprocess.DEVNULL, stdout=radvd_log, stderr=radvd_log,
                         start_new_session=True)
    state["pids"].append({"pid": p.pid, "starttime": _wait_starttime(p.pid), "what": "radvd"})
    state["outside"]["radvd_pid"] = p.pid
    save_state(d, state)


def ra_default_route(state, host):
    """The host's IPv6 default route learned from a router advertisement (the route's
    text as `ip` shows it), or None."""
    r = ip("-n", host["netns"], "-6", "route", "show", "default", "proto", "ra", check=False)
    lines = [line for line in r.stdout.splitlines() if line.startswith("default")]
    return lines[0].strip() if lines else None


def wait_ra_routes(d, state, timeout=RA_WAIT):
    """Until every host has its IPv6 default route from lab-br's advertisements."""
    deadline = time.monotonic() + timeout
    missing = list(state["hosts"])
    while missing:
        missing = [h for h in missing if not ra_default_route(state, h)]
        if not missing:
            break
        if time.monotonic() > deadline:
            names = ", ".join(h["name"] for h in missing)
            raise LabError("no IPv6 default route from router advertisements on %s after %ds "
                           "(radvd log %s)" % (names, timeout, os.path.join(d, "radvd.log")))
        time.sleep(0.2)
    for h in state["hosts"]:
        h["ra_route"] = ra_default_route(state, h)
    save_state(d, state)


def _tail(path, lines=30):
    try:
        with open(path, errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except OSError:
        return "(no %s)\n" % path


def start_firewall(d, state, host):
    """Start the keeper of the foreign firewall in HOST's net+mount namespaces (those
    of its sshd, where Ansible's modules run) and wait until the firewall is in charge."""
    kind = state["firewall"]
    fwdir = os.path.join(host["dir"], "firewall")
    shutil.rmtree(fwdir, ignore_errors=True)
    os.makedirs(fwdir)
    keeper_log = os.path.join(fwdir, "keeper.log")
    with open(keeper_log, "ab") as out:
        p = subprocess.Popen(
            ["nsenter", "-t", str(host["sshd_pid"]), "-n", "-m", "--",
             sys.executable, SELF, "fw-keep", "--kind", kind, "--dir", fwdir],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    st = _wait_starttime(p.pid)
    state["pids"].append({"pid": p.pid, "starttime": st, "what": "firewall %s %s" % (kind, host["name"]),
                          "fw_keeper": True})
    host["firewall"] = {"kind": kind, "keeper_pid": p.pid, "dir": fwdir}
    save_state(d, state)
    ready, failed = os.path.join(fwdir, "ready"), os.path.join(fwdir, "failed")
    deadline = time.monotonic() + FIREWALL_READY_TIMEOUT
    while not os.path.exists(ready):
        why = None
        if os.path.exists(failed):
            why = "failed"
        elif p.poll() is not None:
            why = "keeper exited with %s" % p.returncode
        elif time.monotonic() > deadline:
            why = "not ready after %ds" % FIREWALL_READY_TIMEOUT
        if why:
            # the keeper writes the fixture's error (with firewalld's log) to FAILED
            shown = failed if os.path.exists(failed) else keeper_log
            raise LabError("firewall %s on %s: %s\n--- %s\n%s" % (
                kind, host["name"], why, shown, _tail(shown, 60)))
        time.sleep(0.05)
    for ns in ("net", "mnt"):
        if ns_link(p.pid, ns) != host[ns + "_ns"]:
            raise LabError("firewall keeper of %s is not in the host's %s namespace" % (host["name"], ns))
    with open(ready) as fh:
        log("%s: %s" % (host["name"], fh.read().strip()))


def _admit_ssh(firewalls, kind, handle):
    """Let SSH in, as an admin does before enabling a host firewall over SSH (firewalld's
    and EL8's public zone allow ssh already; Docker leaves INPUT alone). Returns a note."""
    if kind == "ufw":
        handle.cmd("allow", "22/tcp")
        return ", ufw allow 22/tcp"
    if kind == "nft-drop":
        firewalls.run(["nft", "add", "rule"] + handle.split() + ["input", "tcp", "dport", "22", "accept"])
        return ", tcp dport 22 accepted in its input chain"
    return ""


def cmd_fw_keep(args):
    """Keep firewalls.foreign(KIND) in charge of this namespace until SIGTERM/SIGINT."""
    sys.path.insert(0, os.path.dirname(HERE))   # tests/, for firewalls.py
    import firewalls  # pylint: disable=import-outside-toplevel
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: stop.append(signum))

    def write(name, text):
        tmp = os.path.join(args.dir, name + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(text.rstrip("\n") + "\n")
        os.replace(tmp, os.path.join(args.dir, name))

    entered = False
    try:
        with firewalls.foreign(args.kind, args.dir) as handle:
            entered = True
            detail = args.kind + _admit_ssh(firewalls, args.kind, handle)
            if isinstance(handle, firewalls.Firewalld):
                detail += " (firewalld pid %s, private D-Bus, log %s)" % (handle.pid, handle.log)
            elif isinstance(handle, str):
                detail += " (%s)" % handle
            write("ready", "firewall in charge: %s" % detail)
            print("fw-keep: in charge: %s" % detail, flush=True)
            while not stop:
                time.sleep(0.2)
            print("fw-keep: signal %s: undoing %s" % (stop[0], args.kind), flush=True)
    except Exception as exc:  # pylint: disable=broad-except
        what = "cleanup" if entered else "setup"
        write("failed" if not entered else "down", "%s of %s failed: %s" % (what, args.kind, exc))
        print("fw-keep: %s of %s failed: %s" % (what, args.kind, exc), flush=True)
        return 1
    write("down", "ok")
    print("fw-keep: %s undone" % args.kind, flush=True)
    return 0


def _wait_starttime(pid):
    for _ in range(50):
        st = proc_starttime(pid)
        if st is not None:
            return st
        time.sleep(0.02)
    raise LabError("process %d vanished right after start" % pid)


def fleet_host_vars(h):
    """A fleet member's own role variables: subnet 172.18.N.0/24 (N = host number), the
    gateway .1, the containers of the role's defaults renumbered into it (.10, .20, ...)
    and its uplink IPv4 address as the underlay address peers use."""
    n = host_index(h["name"])
    net = ipaddress.IPv4Network("172.18.%d.0/24" % n)
    containers = []
    for c in ROLE_DEFAULTS["container_bridge_network_containers"]:
        c = dict(c)
        c["address"] = str(net.network_address + int(c["address"].rsplit(".", 1)[1]))
        containers.append(c)
    return [
        ("container_bridge_network_subnet", str(net)),
        ("container_bridge_network_gateway", str(net.network_address + 1)),
        ("container_bridge_network_containers", containers),
        ("container_bridge_network_underlay_address", h["address"]),
    ]


def _ini_value(val):
    """A host-line value in the INI inventory: lists/dicts as JSON, single-quoted (Ansible
    evaluates them back into a list)."""
    if isinstance(val, (list, dict)):
        return "'%s'" % json.dumps(val, separators=(",", ":"))
    return str(val)


def write_inventory(d, state, fleet=None, members=(), out=None):
    """The lab's inventory (DIR/inventory.ini, or OUT): every host in [lab]; with FLEET
    (a backend) also a group [fleet] of MEMBERS with the fleet's group vars and each
    member's own subnet, gateway, containers and underlay address. Without a fleet the
    inventory is the one the lab has always written. Returns its path."""
    python = state.get("python") or DEFAULT_PYTHON
    key = os.path.join(d, "ssh", "id_ed25519")
    cpdir = os.path.join(d, "cp")
    os.makedirs(cpdir, mode=0o700, exist_ok=True)
    names = [h["name"] for h in state["hosts"]]
    members = list(members or [])
    for m in members:
        if m not in names:
            raise LabError("fleet member %r is not a lab host (have: %s)" % (m, ", ".join(names)))
    if fleet and fleet not in FLEET_BACKENDS:
        raise LabError("fleet backend must be one of %s, not %r" % (", ".join(FLEET_BACKENDS), fleet))
    if members and not fleet:
        raise LabError("fleet members given without a fleet backend")
    if fleet and not members:
        raise LabError("a fleet needs at least one member")
    lines = ["# generated by tests/lab/lab.py up; lab hosts reached over real SSH", "[lab]"]
    for h in state["hosts"]:
        lines.append("%s ansible_host=%s linuxnet_test_uplink_address6=%s" % (
            h["name"], h["address"], h["address6"]))
    lines += [
        "",
        "[lab:vars]",
        "ansible_user=root",
        "ansible_port=22",
        "ansible_ssh_private_key_file=%s" % key,
        # ControlPath under DIR: several sandboxes may run labs with the same
        # addresses at once; a shared ~/.ansible/cp socket would cross them.
        "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o IdentitiesOnly=yes -o LogLevel=ERROR -o ControlMaster=auto -o ControlPersist=60s "
        "-o ControlPath=%s/%%C'" % cpdir,
        "ansible_python_interpreter=%s" % python,
        "# for tests/testinfra: where the outside whoami server listens",
        "linuxnet_test_whoami=%s:%d" % (INTERNET_ADDR, WHOAMI_PORT),
        "linuxnet_test_whoami6=[%s]:%d" % (INTERNET6_ADDR, WHOAMI_PORT),
        "",
    ]
    if fleet:
        lines += ["# the fleet (issue 13): its members share routes to each other's container",
                  "# subnets (backend %s); every member has its own subnet" % fleet,
                  "[%s]" % FLEET_GROUP]
        for h in state["hosts"]:
            if h["name"] in members:
                lines.append(" ".join([h["name"]] + ["%s=%s" % (k, _ini_value(val))
                                                     for k, val in fleet_host_vars(h)]))
        lines += [
            "",
            "[%s:vars]" % FLEET_GROUP,
            "container_bridge_network_fleet_group=%s" % FLEET_GROUP,
            "container_bridge_network_fleet_backend=%s" % fleet,
            "container_bridge_network_vxlan_id=%d" % FLEET_VXLAN_ID,
            "",
        ]
    path = os.path.abspath(out) if out else os.path.join(d, "inventory.ini")
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("\n".join(lines))
    os.replace(tmp, path)
    if not out or path == os.path.join(d, "inventory.ini"):
        state["inventory"] = {"path": path, "fleet": fleet or None,
                              "members": [m for m in names if m in members]}
        save_state(d, state)
    return path


def cmd_inventory(args):
    """Rewrite the lab's inventory (or write OUT) with the fleet group = exactly MEMBERS."""
    d = os.path.abspath(args.dir)
    state = load_state(d)
    if args.members is not None and not args.fleet:
        raise LabError("inventory: --members needs --fleet BACKEND")
    members = []
    if args.fleet:
        members = ([m.strip() for m in args.members.split(",") if m.strip()]
                   if args.members is not None else [h["name"] for h in state["hosts"]])
    path = write_inventory(d, state, fleet=args.fleet, members=members, out=args.out)
    print("inventory %s: %s" % (path, "fleet %s of %s" % (args.fleet, ",".join(members))
                                if args.fleet else "no fleet"))
    return 0


# --------------------------------------------------------------------------
# down
# --------------------------------------------------------------------------

def cmd_down(args):
    d = os.path.abspath(args.dir)
    state = load_state(d)
    _down(d, state)
    os.replace(state_path(d), os.path.join(d, "state.down.json"))
    print("lab down: nothing of the lab is left")
    return 0


def _ns_inodes_of_host(host):
    """netns inodes visible in a lab host's private /run/netns (its containers)."""
    res = run(["nsenter", "-t", str(host["sshd_pid"]), "-m", "--",
               "sh", "-c", "for f in /run/netns/*; do [ -e \"$f\" ] && stat -L -c '%i' \"$f\"; done; true"],
              check=False)
    return {"net:[%s]" % x.strip() for x in res.stdout.split() if x.strip().isdigit()}


def _kill(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _wait_gone(check_alive, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not check_alive():
            return True
        time.sleep(0.05)
    return not check_alive()


def _reap_children():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _down(d, state, quiet=False):
    guard()
    problems = []
    # Which namespaces belong to the lab world: the lab's named netns, the
    # host mount namespaces, and the netns the role created inside each host.
    lab_net = set()
    lab_mnt = set()
    for name in state.get("netns", []):
        p = "/run/netns/" + name
        if os.path.exists(p):
            try:
                lab_net.add("net:[%d]" % netns_inode(p))
            except OSError:
                pass
    # A namespace's inode number is reused once the namespace is freed: a recorded one
    # whose namespace is gone may now name another lab's (tests run labs in parallel),
    # and killing by it would kill their processes. So only namespaces alive now count,
    # and each is held open until the end of down (then it cannot be freed and reused
    # while strays are looked for, after step 1 kills the sshd that kept it).
    held = []
    for h in state.get("hosts", []):
        if not pid_is(h["sshd_pid"], _starttime_of(state, h["sshd_pid"])):
            continue
        for kind, into in (("mnt", lab_mnt), ("net", lab_net)):
            try:
                held.append(os.open("/proc/%d/ns/%s" % (h["sshd_pid"], kind), os.O_RDONLY))
            except OSError:
                continue
            if ns_link(h["sshd_pid"], kind) == h.get(kind + "_ns"):
                into.add(h[kind + "_ns"])
        lab_net |= _ns_inodes_of_host(h)
    try:
        return _down_held(d, state, quiet, problems, lab_net, lab_mnt)
    finally:
        for fd in held:
            os.close(fd)


def _down_held(d, state, quiet, problems, lab_net, lab_mnt):

    # 0. the firewall keepers, one by one in reverse order, before anything else:
    #    SIGTERM lets each undo its firewall (stop firewalld and its D-Bus, ufw
    #    disable, unmount) while the host's namespaces are still there.
    problems += _stop_firewalls(state)

    # 1. the PIDs the lab started (only if they are still the same processes)
    own = [e["pid"] for e in state.get("pids", []) if pid_is(e["pid"], e["starttime"])]
    _kill(own, signal.SIGTERM)
    alive = lambda: [e for e in state.get("pids", []) if pid_is(e["pid"], e["starttime"])]
    if not _wait_gone(lambda: (_reap_children(), alive())[1], 5):
        _kill([e["pid"] for e in alive()], signal.SIGKILL)
        _wait_gone(lambda: (_reap_children(), alive())[1], 5)
    for e in alive():
        problems.append("process %d (%s) still running" % (e["pid"], e["what"]))

    # 2. whatever still runs inside the lab world (ssh sessions left by
    #    ControlPersist, servers a check or a test started, ...)
    me = os.getpid()

    def strays():
        out = []
        for pid in all_pids():
            if pid == me:
                continue
            if ns_link(pid, "net") in lab_net or ns_link(pid, "mnt") in lab_mnt:
                out.append(pid)
        return out
    s = strays()
    if s:
        if not quiet:
            log("killing %d process(es) left inside lab namespaces: %s" % (len(s), s))
        _kill(s, signal.SIGKILL)

        def still():
            # a process that appears meanwhile (sshd answering an SSH client's last
            # reconnect) is killed too, not reported as left behind
            _reap_children()
            left = strays()
            _kill(left, signal.SIGKILL)
            return left
        _wait_gone(still, 5)
        for pid in strays():
            problems.append("process %d still inside a lab namespace" % pid)

    # 3. the links and named netns it created
    for link in state.get("links", []):
        if os.path.exists("/sys/class/net/" + link) or ip("link", "show", link, check=False).returncode == 0:
            r = ip("link", "del", link, check=False)
            if r.returncode != 0:
                problems.append("cannot delete link %s: %s" % (link, r.stderr.strip()))
    for name in reversed(state.get("netns", [])):
        if os.path.exists("/run/netns/" + name):
            r = ip("netns", "del", name, check=False)
            if r.returncode != 0:
                problems.append("cannot delete netns %s: %s" % (name, r.stderr.strip()))

    # 4. verify
    names = set(ip("netns", "list").stdout.split())
    for name in state.get("netns", []):
        if name in names or os.path.exists("/run/netns/" + name):
            problems.append("netns %s still exists" % name)
    links = ip("-o", "link").stdout
    for link in state.get("links", []):
        if (" %s:" % link) in links or (" %s@" % link) in links:
            problems.append("link %s still exists" % link)
    left = strays()
    if left:
        problems.append("processes still inside lab namespaces: %s" % left)
    if problems:
        raise LabError("down: leftovers:\n  " + "\n  ".join(problems))


def _stop_firewalls(state):
    problems = []
    keepers = [e for e in state.get("pids", []) if e.get("fw_keeper")]
    for e in reversed(keepers):
        if not pid_is(e["pid"], e["starttime"]):
            continue

        def alive(e=e):
            return pid_is(e["pid"], e["starttime"])
        _kill([e["pid"]], signal.SIGTERM)
        if not _wait_gone(lambda: (_reap_children(), alive())[1], FIREWALL_STOP_TIMEOUT):
            problems.append("%s (pid %d) did not stop within %ds after SIGTERM; killed" % (
                e["what"], e["pid"], FIREWALL_STOP_TIMEOUT))
            _kill([e["pid"]], signal.SIGKILL)
            _wait_gone(lambda: (_reap_children(), alive())[1], 5)
    for h in state.get("hosts", []):
        fw = h.get("firewall")
        if not fw:
            continue
        try:
            with open(os.path.join(fw["dir"], "down")) as fh:
                res = fh.read().strip()
        except OSError:
            res = None
        ready = os.path.exists(os.path.join(fw["dir"], "ready"))
        if ready and res != "ok":
            problems.append("firewall %s on %s was not undone: %s (see %s)" % (
                fw["kind"], h["name"], res or "keeper wrote no result",
                os.path.join(fw["dir"], "keeper.log")))
    return problems


def _starttime_of(state, pid):
    for e in state.get("pids", []):
        if e["pid"] == pid:
            return e["starttime"]
    return None


# --------------------------------------------------------------------------
# exec
# --------------------------------------------------------------------------

def host_by_name(state, name):
    for h in state["hosts"]:
        if h["name"] == name:
            return h
    raise LabError("no lab host %r (have: %s)" % (name, ", ".join(h["name"] for h in state["hosts"])))


def ns_prefix(state, where):
    """Command prefix running something in a lab host (net+mount), the outside,
    the controller (this sandbox's own netns) or a container inside a host
    ('lab-host1/netns0')."""
    if where == "outside":
        return ["nsenter", "--net=/run/netns/" + OUTSIDE_NS, "--"]
    if where == "controller":
        return []
    host, _, container = where.partition("/")
    h = host_by_name(state, host)
    if not pid_is(h["sshd_pid"], _starttime_of(state, h["sshd_pid"])):
        raise LabError("lab host %s is not running (sshd %d gone)" % (host, h["sshd_pid"]))
    pre = ["nsenter", "-t", str(h["sshd_pid"]), "-n", "-m", "--"]
    if container:
        pre += ["ip", "netns", "exec", container]
    return pre


def cmd_route6(args):
    """lab-outside routes an IPv6 subnet via a host's uplink address (an upstream that
    routes a host's unmasqueraded container subnet back to it); --delete removes it."""
    d = os.path.abspath(args.dir)
    state = load_state(d)
    h = host_by_name(state, args.host)
    try:
        net = ipaddress.IPv6Network(args.subnet)
    except ValueError as exc:
        raise LabError("route6: --subnet %s is not an IPv6 network prefix (%s); e.g. fd00:18::/64"
                       % (args.subnet, exc))
    routes = state["outside"].setdefault("routes6", [])
    entry = {"host": h["name"], "subnet": str(net), "via": h["address6"]}
    pre = ["-n", OUTSIDE_NS, "-6", "route"]
    if args.delete:
        ip(*(pre + ["del", str(net), "via", h["address6"], "dev", h.get("bridge", OUTSIDE_BRIDGE)]), check=False)
        state["outside"]["routes6"] = [r for r in routes if r != entry]
    else:
        ip(*(pre + ["replace", str(net), "via", h["address6"], "dev", h.get("bridge", OUTSIDE_BRIDGE)]))
        state["outside"]["routes6"] = [r for r in routes if r["subnet"] != str(net)] + [entry]
    save_state(d, state)
    print("route6: lab-outside %s %s via %s (%s)" % (
        "no longer routes" if args.delete else "routes", net, h["address6"], h["name"]))
    return 0


def outside_route(d, state, h, subnet, delete=False):
    """lab-outside routes the IPv4 SUBNET via H's uplink address (recorded in state.json
    outside.routes), or no longer does (DELETE). Returns the entry."""
    try:
        net = ipaddress.IPv4Network(subnet)
    except ValueError as exc:
        raise LabError("route: --subnet %s is not an IPv4 network prefix (%s); e.g. 172.18.2.0/24"
                       % (subnet, exc))
    routes = state["outside"].setdefault("routes", [])
    entry = {"host": h["name"], "subnet": str(net), "via": h["address"]}
    pre = ["-n", OUTSIDE_NS, "route"]
    dev = h.get("bridge", OUTSIDE_BRIDGE)
    if delete:
        ip(*(pre + ["del", str(net), "via", h["address"], "dev", dev]), check=False)
        state["outside"]["routes"] = [r for r in routes if r != entry]
    else:
        ip(*(pre + ["replace", str(net), "via", h["address"], "dev", dev]))
        state["outside"]["routes"] = [r for r in routes if r["subnet"] != str(net)] + [entry]
    save_state(d, state)
    return entry


def cmd_route(args):
    """lab-outside routes an IPv4 subnet via a host's uplink address (an outside router
    that tries to reach a host's containers directly); --delete removes it."""
    d = os.path.abspath(args.dir)
    state = load_state(d)
    h = host_by_name(state, args.host)
    e = outside_route(d, state, h, args.subnet, delete=args.delete)
    print("route: lab-outside %s %s via %s (%s)" % (
        "no longer routes" if args.delete else "routes", e["subnet"], e["via"], h["name"]))
    return 0


def cmd_exec(args):
    state = load_state(os.path.abspath(args.dir))
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise LabError("exec: no command given (lab.py exec --dir D HOST -- CMD...)")
    pre = ns_prefix(state, args.host)
    os.execvp(pre[0], pre + cmd)


# --------------------------------------------------------------------------
# tiny servers and probes (run inside namespaces)
# --------------------------------------------------------------------------

def cmd_serve(args):
    """TCP+UDP server answering '<tag> from=<src ip>:<src port>', on each --bind
    address (IPv4 or IPv6; an IPv6 socket is IPv6 only)."""
    tag = args.tag
    binds = args.bind or ["0.0.0.0"]
    threads = []
    for bind in binds:
        fam = socket.AF_INET6 if is_v6(bind) else socket.AF_INET
        tcp = socket.socket(fam, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            tcp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        tcp.bind((bind, args.port))
        tcp.listen(64)
        threads.append(threading.Thread(target=_tcp_loop, args=(tcp, tag), daemon=True))
        if not args.tcp_only:
            udp = socket.socket(fam, socket.SOCK_DGRAM)
            if fam == socket.AF_INET6:
                udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            else:
                # answer from the address the datagram was sent to (the server may
                # own several addresses, and the client's connected socket wants the
                # reply to come from the address it talked to)
                udp.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            udp.bind((bind, args.port))
            threads.append(threading.Thread(target=_udp_loop, args=(udp, tag), daemon=True))
    for t in threads:
        t.start()
    print("ready %s %s:%d" % (tag, ",".join(binds), args.port), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    while True:
        time.sleep(3600)


IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


def _tcp_loop(tcp, tag):
    while True:
        conn, peer = tcp.accept()
        try:
            conn.sendall(("%s from=%s:%d\n" % (tag, peer[0], peer[1])).encode())
        except OSError:
            pass
        finally:
            conn.close()


def _udp_loop(udp, tag):
    while True:
        _, anc, _, peer = udp.recvmsg(2048, socket.CMSG_SPACE(20))
        reply = ("%s from=%s:%d\n" % (tag, peer[0], peer[1])).encode()
        cmsg = []
        for level, typ, data in anc:
            if level == socket.IPPROTO_IP and typ == IP_PKTINFO:
                _ifindex, _spec, dst = struct.unpack("=I4s4s", data[:12])
                cmsg = [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=I4s4s", 0, dst, b"\0" * 4))]
            elif level == socket.IPPROTO_IPV6 and typ == socket.IPV6_PKTINFO:
                # struct in6_pktinfo: the address the datagram was sent to, ifindex
                cmsg = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, data[:16] + struct.pack("=I", 0))]
        try:
            udp.sendmsg([reply], cmsg, 0, peer)
        except OSError as exc:
            # e.g. no route back to an unmasqueraded source: this datagram only
            print("%s: no answer to %s: %s" % (tag, peer[0], exc), flush=True)


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def probe_icmp(dst, timeout):
    v6 = is_v6(dst)
    if v6:
        # ICMPv6 echo: the kernel fills in the checksum; no IP header on receive
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        request, reply = 128, 129
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        request, reply = 8, 0
    sock.settimeout(timeout)
    ident = os.getpid() & 0xFFFF
    payload = b"linuxnet-lab"
    hdr = struct.pack("!BBHHH", request, 0, 0, ident, 1)
    csum = 0 if v6 else _checksum(hdr + payload)
    pkt = struct.pack("!BBHHH", request, 0, csum, ident, 1) + payload
    sock.sendto(pkt, (dst, 0))
    want = ipaddress.ip_address(dst)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no echo reply from %s" % dst)
        sock.settimeout(left)
        data, peer = sock.recvfrom(2048)
        off = 0 if v6 else (data[0] & 0x0F) * 4
        if len(data) < off + 8:
            continue
        typ, _, _, rid, _ = struct.unpack("!BBHHH", data[off:off + 8])
        if typ == reply and rid == ident and ipaddress.ip_address(peer[0].split("%")[0]) == want:
            return "echo reply from %s" % peer[0]


def probe(proto, dst, port, timeout):
    if proto == "icmp":
        return probe_icmp(dst, timeout)
    if proto == "tcp":
        with socket.create_connection((dst, port), timeout=timeout) as s:
            s.settimeout(timeout)
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(1024)
                if not chunk:
                    break
                buf += chunk
            return buf.decode().strip()
    if proto == "udp":
        fam = socket.AF_INET6 if is_v6(dst) else socket.AF_INET
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.connect((dst, port))
            for _ in range(3):
                s.send(b"?")
                try:
                    return s.recv(2048).decode().strip()
                except socket.timeout:
                    continue
            raise socket.timeout("no UDP answer from %s:%d" % (dst, port))
    raise ValueError(proto)


def cmd_probe(args):
    try:
        print(probe(args.proto, args.dst, args.port, args.timeout))
        return 0
    except (OSError, ValueError) as exc:
        print("ERROR %s" % (exc or type(exc).__name__))
        return 1


# --------------------------------------------------------------------------
# check
# --------------------------------------------------------------------------

def load_vars(path, inventory_vars=None):
    """The role's variables: its defaults, then INVENTORY_VARS (a host's, from the
    inventory: the fleet's), then the file PATH (like -e @PATH: it wins)."""
    v = json.loads(json.dumps(ROLE_DEFAULTS))
    for k, val in (inventory_vars or {}).items():
        if k.startswith("container_bridge_network_"):
            v[k] = val
    if not path:
        return v
    with open(path) as fh:
        text = fh.read()
    try:
        data = json.loads(text)
    except ValueError:
        try:
            import yaml  # optional: only for YAML --vars files
        except ImportError:
            raise LabError("%s is not JSON and PyYAML is not importable" % path)
        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise LabError("%s: expected a mapping of role variables" % path)
    for k, val in data.items():
        if k.startswith("container_bridge_network_"):
            v[k] = val
    return v


def _inventory_value(text):
    """An INI inventory value as Ansible reads it: a Python/JSON literal when it is one
    (lists, numbers, quoted strings), else the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def parse_inventory(path):
    """The INI inventories the lab writes (write_inventory): {"groups": {group: [hosts]},
    "hostvars": {host: {...}}, "groupvars": {group: {...}}}; [group:children] are
    followed. A missing file is an empty inventory."""
    inv = {"groups": {}, "hostvars": {}, "groupvars": {}, "children": {}}
    try:
        with open(path) as fh:
            text = fh.read()
    except FileNotFoundError:
        return inv
    section, kind = "ungrouped", "hosts"
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section, _, kind = line[1:-1].partition(":")
            kind = kind or "hosts"
            if kind == "hosts":
                inv["groups"].setdefault(section, [])
            continue
        if kind == "vars":
            k, _, val = line.partition("=")
            inv["groupvars"].setdefault(section, {})[k.strip()] = _inventory_value(val.strip())
        elif kind == "children":
            inv["children"].setdefault(section, []).append(line.split()[0])
        else:
            words = shlex.split(line)
            host = words[0]
            inv["groups"].setdefault(section, [])
            if host not in inv["groups"][section]:
                inv["groups"][section].append(host)
            hv = inv["hostvars"].setdefault(host, {})
            for w in words[1:]:
                k, _, val = w.partition("=")
                hv[k] = _inventory_value(val)
    # children: a group holds the hosts of its child groups too
    for _ in range(len(inv["children"]) + 1):
        for g, kids in inv["children"].items():
            members = inv["groups"].setdefault(g, [])
            for kid in kids:
                for h in inv["groups"].get(kid, []):
                    if h not in members:
                        members.append(h)
    return inv


def inventory_host_vars(inv, host):
    """HOST's variables in the inventory: group vars (all first, then its groups in the
    file's order), then its own."""
    out = dict(inv["groupvars"].get("all", {}))
    for g, hosts in inv["groups"].items():
        if host in hosts and g != "all":
            out.update(inv["groupvars"].get(g, {}))
    out.update(inv["hostvars"].get(host, {}))
    return out


def fleet_members(state, inv, hv):
    """The lab hosts in the fleet the inventory defines: those whose
    container_bridge_network_fleet_group names a group they are in (state's order)."""
    members = []
    for h in state["hosts"]:
        group = hv[h["name"]].get("container_bridge_network_fleet_group")
        if group and h["name"] in inv["groups"].get(str(group), []):
            members.append(h)
    return members


class Checker:
    def __init__(self, state, host, py, timeout):
        self.state = state
        self.host = host
        self.py = py
        self.timeout = timeout
        self.rows = []

    def in_ns(self, where, argv, timeout=None):
        pre = ns_prefix(self.state, where)
        return subprocess.run(pre + argv, text=True, capture_output=True,
                              timeout=timeout or (self.timeout * 4 + 10))

    def probe(self, where, proto, dst, port=0):
        r = self.in_ns(where, [self.py, SELF, "_probe", proto, dst, str(port),
                               "--timeout", str(self.timeout)])
        out = (r.stdout.strip() or r.stderr.strip()).splitlines()
        return r.returncode == 0, (out[-1] if out else "exit %d" % r.returncode)

    def add(self, check, frm, to, expected, result, ok):
        self.rows.append({"host": self.host["name"], "check": check, "from": frm, "to": to,
                          "expected": expected, "result": result, "status": "PASS" if ok else "FAIL"})


def container_address(chk, c, hname, v6=False):
    """Address from the variables, else what the container really has."""
    key = "ipv6_address" if v6 else "address"
    if c.get(key):
        return str(c[key]).split("/")[0]
    r = chk.in_ns(hname, ["ip", "-n", c["name"], "-6" if v6 else "-4", "-o", "addr", "show",
                          "scope", "global"])
    word = "inet6" if v6 else "inet"
    for line in r.stdout.splitlines():
        parts = line.split()
        if word in parts:
            return parts[parts.index(word) + 1].split("/")[0]
    return None


def ipv6_network(v):
    """(subnet, gateway address) of the role's IPv6 network; None when it is IPv4 only."""
    sub = v.get("container_bridge_network_ipv6_subnet")
    if not sub:
        return None
    net = ipaddress.IPv6Network(str(sub), strict=False)
    gw = v.get("container_bridge_network_ipv6_gateway") or str(net.network_address + 1)
    return net, str(gw).split("/")[0]


def port_first(v):
    s = str(v)
    return int(s.split("-")[0].split(":")[0])


def _loopback(addr):
    try:
        return ipaddress.ip_address(str(addr)).is_loopback
    except ValueError:
        return False


def publication_targets(p, uplink, uplink6):
    """Host addresses a publication must answer on: both families unless host_ip names
    one address (0.0.0.0: IPv4 only, '::': IPv6 only); uplink6 None = IPv4 only."""
    host_ip = str(p.get("host_ip") or "")
    if not host_ip:
        return [uplink] + ([uplink6] if uplink6 else [])
    if host_ip == "0.0.0.0" or (host_ip == "::" and not uplink6):
        return [uplink]
    if host_ip == "::":
        return [uplink6]
    return [host_ip]


def check_host(state, h, v, py, timeout):
    chk = Checker(state, h, py, timeout)
    hn = h["name"]
    uplink = h["address"]
    gw = str(v["container_bridge_network_gateway"]).split("/")[0]
    containers = v["container_bridge_network_containers"] or []
    addrs = {}
    for c in containers:
        addrs[c["name"]] = container_address(chk, c, hn)
    six = ipv6_network(v)
    uplink6 = h.get("address6") if six else None
    gw6 = six[1] if six else None
    addrs6 = {c["name"]: container_address(chk, c, hn, v6=True) for c in containers} if six else {}

    # each container has its own stack: only lo + its own interface, its own address
    for c in containers:
        name = c["name"]
        r = chk.in_ns(hn + "/" + name, ["ip", "-o", "-4", "addr", "show"])
        if r.returncode != 0:
            chk.add("own network stack", name, "-", "lo + own address", (r.stderr.strip() or "no netns")[:60], False)
            continue
        seen = sorted({l.split()[1] for l in r.stdout.splitlines()})
        ok = addrs[name] is not None and ("inet %s/" % addrs[name]) in r.stdout \
            and len(seen) == 2 and "lo" in seen and uplink not in r.stdout
        chk.add("own network stack", name, "-", "lo + %s only" % addrs[name],
                "ifaces %s" % ",".join(seen), ok)
        if six:
            r = chk.in_ns(hn + "/" + name, ["ip", "-o", "-6", "addr", "show", "scope", "global"])
            mine = sorted(line.split()[3].split("/")[0] for line in r.stdout.splitlines()
                          if " inet6 " in line)
            ok = addrs6[name] is not None and mine == [addrs6[name]] \
                and ipaddress.ip_address(addrs6[name]) in six[0]
            chk.add("own IPv6 address", name, "-", "%s only, in %s" % (addrs6[name], six[0]),
                    ",".join(mine) or "none", ok)
            r = chk.in_ns(hn + "/" + name, ["ip", "-6", "route", "show", "default"])
            chk.add("IPv6 default route", name, "-", "via %s" % gw6, r.stdout.strip() or "none",
                    ("via %s " % gw6) in r.stdout + " ")

    pubs = v["container_bridge_network_published_ports"] or []
    servers = []
    try:
        _check_l3(chk, state, hn, gw, containers, addrs, pubs, py, servers)
        if six:
            _check_l3(chk, state, hn, gw6, containers, addrs6, pubs, py, servers, v6=True)
    finally:
        _stop_servers(servers)
    # container -> outside (masqueraded)
    masq = bool(v["container_bridge_network_masquerade"])
    dst = state["outside"]["internet"]
    port = state["outside"]["whoami_port"]
    for c in containers:
        for proto in ("tcp", "udp"):
            ok, out = chk.probe(hn + "/" + c["name"], proto, dst, port)
            seen = out.split("from=")[-1].rsplit(":", 1)[0] if ok and "from=" in out else None
            if masq:
                expected = "source seen = %s" % uplink
                good = ok and seen == uplink
            else:
                expected = "no masquerade: unreachable or %s" % addrs[c["name"]]
                good = (not ok) or seen == addrs[c["name"]]
            chk.add("container -> outside (%s)" % proto, c["name"], "whoami %s:%d" % (dst, port),
                    expected, out, good)
    if six:
        _check_outside6(chk, state, h, v, containers, addrs6)

    # published ports: a server in the container, reached from outside, from the host
    # (and over IPv6 from the controller), and from the containers (hairpin)
    servers = []
    try:
        for i, p in enumerate(pubs):
            cname = p["container"]
            proto = str(p.get("protocol", "tcp")).lower()
            hport = port_first(p["host_port"])
            cport = port_first(p.get("container_port", p["host_port"]))
            tag = "pub-%s:%d/%04x" % (cname, cport, (os.getpid() * 31 + i) & 0xFFFF)
            srv, line = _start_server(state, hn + "/" + cname, py, cport, tag,
                                      bind=["0.0.0.0"] + (["::"] if six else []),
                                      tcp_only=proto == "tcp")
            servers.append(srv)
            if not line.startswith("ready"):
                chk.add("published port", "-", "%s %s:%d" % (cname, proto, cport), "server starts",
                        (line or "server died")[:60], False)
                continue
            for target in publication_targets(p, uplink, uplink6):
                fam = "6" if is_v6(target) else ""
                to = "%s:%d/%s%s" % (target, hport, proto, fam)
                want = "answer from %s:%d" % (cname, cport)
                if _loopback(target):
                    # the host's own: not reachable at the host's uplink address
                    at = uplink6 if fam else uplink
                    ok, out = chk.probe("outside", proto, at, hport)
                    chk.add("outside -> localhost publication", "outside", "%s:%d/%s" % (at, hport, proto),
                            "no answer from %s" % cname, out, not out.startswith(tag + " "))
                else:
                    ok, out = chk.probe("outside", proto, target, hport)
                    chk.add("outside -> published port", "outside", to, want, out,
                            ok and out.startswith(tag + " "))
                if fam:
                    ok, out = chk.probe("controller", proto, target, hport)
                    chk.add("controller -> published port", "controller", to, want, out,
                            ok and out.startswith(tag + " "))
                ok, out = chk.probe(hn, proto, target, hport)
                chk.add("host -> published port", hn, to, want, out, ok and out.startswith(tag + " "))
                if _loopback(target):
                    continue
                for c in containers:
                    ok, out = chk.probe(hn + "/" + c["name"], proto, target, hport)
                    chk.add("hairpin (%s%s)" % (proto, fam), c["name"], to, want, out,
                            ok and out.startswith(tag + " "))
    finally:
        _stop_servers(servers)
    if six:
        _check_ra(chk, h)
    return chk.rows


def _check_outside6(chk, state, h, v, containers, addrs6):
    """container -> the IPv6 internet: the whoami sees the host's IPv6 uplink address
    when masquerading, else the container's own (when lab-outside routes the subnet
    back: `route6`; without that route the container is not reachable)."""
    hn = h["name"]
    masq = v.get("container_bridge_network_ipv6_masquerade")
    masq = True if masq is None else bool(masq)
    dst = state["outside"]["internet6"]
    port = state["outside"]["whoami_port"]
    routed = [ipaddress.IPv6Network(r["subnet"]) for r in state["outside"].get("routes6", [])
              if r["host"] == hn]
    for c in containers:
        mine = addrs6[c["name"]]
        back = mine is not None and any(ipaddress.ip_address(mine) in net for net in routed)
        for proto in ("tcp", "udp"):
            ok, out = chk.probe(hn + "/" + c["name"], proto, dst, port)
            seen = _seen(out) if ok else None
            if masq:
                expected, good = "source seen = %s" % h["address6"], ok and seen == h["address6"]
            elif back:
                expected, good = "no masquerade, routed back: source seen = %s" % mine, ok and seen == mine
            else:
                expected = "no masquerade, no route back: unreachable or %s" % mine
                good = (not ok) or seen == mine
            chk.add("container -> outside (%s6)" % proto, c["name"], "whoami [%s]:%d" % (dst, port),
                    expected, out, good)


def _check_ra(chk, h):
    """IPv6 forwarding is on and the uplink still learns its default route from router
    advertisements (accept_ra 2): the route is there, and comes back once deleted."""
    hn, up = h["name"], h.get("uplink", "eth0")
    for path, want in (("all/forwarding", "1"), ("%s/accept_ra" % up, "2")):
        r = chk.in_ns(hn, ["cat", "/proc/sys/net/ipv6/conf/" + path])
        chk.add("IPv6 sysctl", hn, path, want, r.stdout.strip() or r.stderr.strip(), r.stdout.strip() == want)
    route = chk.in_ns(hn, ["ip", "-6", "route", "show", "default", "proto", "ra", "dev", up]).stdout.strip()
    chk.add("RA default route", hn, up, "default via the router (proto ra)", route or "none", bool(route))
    if not route:
        return
    gateway = route.split(" via ")[1].split()[0] if " via " in route else None
    r = chk.in_ns(hn, ["ip", "-6", "route", "del", "default", "via", gateway, "dev", up, "proto", "ra"])
    if r.returncode != 0:
        chk.add("RA default route relearned", hn, up, "deleted, back from the next RA",
                "delete failed: %s" % r.stderr.strip(), False)
        return
    start = time.monotonic()
    limit = 2 * RA_MAX_INTERVAL + 2
    back = ""
    while time.monotonic() - start < limit and not back:
        time.sleep(0.2)
        back = chk.in_ns(hn, ["ip", "-6", "route", "show", "default", "proto", "ra", "dev", up]).stdout.strip()
    chk.add("RA default route relearned", hn, up, "deleted, back within %ds" % limit,
            "back after %.1fs" % (time.monotonic() - start) if back else "not back", bool(back))


def _stop_servers(servers):
    for srv in servers:
        try:
            os.killpg(srv.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        srv.wait()
    del servers[:]


def _start_server(state, where, py, port, tag, bind="0.0.0.0", tcp_only=True):
    """A _serve in WHERE on BIND (an address or a list); returns (Popen, its first
    line: 'ready ...' once it listens)."""
    binds = [bind] if isinstance(bind, str) else list(bind)
    srv = subprocess.Popen(
        ns_prefix(state, where) + [py, SELF, "_serve", "--port", str(port), "--tag", tag] +
        [a for b in binds for a in ("--bind", b)] + (["--tcp-only"] if tcp_only else []),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    return srv, srv.stdout.readline().strip()


def _free_port(port, taken):
    while port in taken:
        port += 1
    taken.add(port)
    return port


def _seen(out):
    """The source address in a _serve answer ('<tag> from=IP:PORT'), else None."""
    return out.split("from=")[-1].rsplit(":", 1)[0] if "from=" in out else None


def _check_l3(chk, state, hn, gw, containers, addrs, pubs, py, servers, v6=False):
    """container <-> container and host <-> container: ICMP, and TCP to servers the
    check starts in each container and in the host (on the gateway address): ICMP
    alone proves little (firewalld < 1.0 forwards ICMP from any zone). v6: the same
    over IPv6 (ADDRS and GW the IPv6 ones; rows say icmp6/tcp6)."""
    fam = "6" if v6 else ""
    taken = set()
    for p in pubs:
        taken.add(port_first(p["host_port"]))
        taken.add(port_first(p.get("container_port", p["host_port"])))
    c_port = _free_port(C2C_TCP_PORT, taken)
    h_port = _free_port(HOST_TCP_PORT, taken)
    salt = "%04x" % ((os.getpid() * 17) & 0xFFFF)
    listening = {}   # container name -> its server's tag
    for c in containers:
        if not addrs[c["name"]]:
            continue
        tag = "c2c%s-%s/%s" % (fam, c["name"], salt)
        srv, line = _start_server(state, hn + "/" + c["name"], py, c_port, tag,
                                  bind="::" if v6 else "0.0.0.0")
        servers.append(srv)
        if line.startswith("ready"):
            listening[c["name"]] = tag
        else:
            chk.add("container tcp%s server" % fam, "-", "%s :%d" % (c["name"], c_port), "server starts",
                    (line or "server died")[:60], False)
    host_tag = "host%s-%s/%s" % (fam, hn, salt)
    srv, line = _start_server(state, hn, py, h_port, host_tag, bind=gw)
    servers.append(srv)
    if not line.startswith("ready"):
        chk.add("host tcp%s server" % fam, "-", "%s %s:%d" % (hn, gw, h_port), "server starts",
                (line or "server died")[:60], False)
        host_tag = None

    # container <-> container
    for a in containers:
        for b in containers:
            if a is b or not addrs[b["name"]]:
                continue
            bn, baddr = b["name"], addrs[b["name"]]
            ok, out = chk.probe(hn + "/" + a["name"], "icmp", baddr)
            chk.add("container -> container (icmp%s)" % fam, a["name"], "%s %s" % (bn, baddr),
                    "echo reply", out, ok)
            if bn in listening:
                ok, out = chk.probe(hn + "/" + a["name"], "tcp", baddr, c_port)
                chk.add("container -> container (tcp%s)" % fam, a["name"], "%s %s:%d" % (bn, baddr, c_port),
                        "answer from %s, source %s" % (bn, addrs[a["name"]]), out,
                        ok and out.startswith(listening[bn] + " ") and _seen(out) == addrs[a["name"]])
    # host <-> container
    for c in containers:
        if not addrs[c["name"]]:
            chk.add("host -> container (icmp%s)" % fam, hn, c["name"], "echo reply", "no address found", False)
            continue
        ok, out = chk.probe(hn, "icmp", addrs[c["name"]])
        chk.add("host -> container (icmp%s)" % fam, hn, "%s %s" % (c["name"], addrs[c["name"]]),
                "echo reply", out, ok)
        ok, out = chk.probe(hn + "/" + c["name"], "icmp", gw)
        chk.add("container -> host (icmp%s)" % fam, c["name"], "gateway %s" % gw, "echo reply", out, ok)
        if host_tag:
            ok, out = chk.probe(hn + "/" + c["name"], "tcp", gw, h_port)
            chk.add("container -> host (tcp%s)" % fam, c["name"], "host service %s:%d" % (gw, h_port),
                    "answer from %s, source %s" % (hn, addrs[c["name"]]), out,
                    ok and out.startswith(host_tag + " ") and _seen(out) == addrs[c["name"]])


def check_fleet(d, state, members, hv, py, timeout, only=None):
    """Rows across the fleet: from the first container of every member to the first
    container of every other member (ICMP, and TCP to a server check starts there: the
    source seen must be the sender's own address, no masquerade between fleet subnets),
    and per member "outside -> container direct": lab-outside routes the member's
    container subnet via its uplink (outside_route) and TCP to a non-published port of a
    container must be dropped (timeout). Rows that cannot be evaluated FAIL."""
    rows = []
    chks = {h["name"]: Checker(state, h, py, timeout) for h in members}
    salt = "%04x" % ((os.getpid() * 13) & 0xFFFF)
    first = {}     # host name -> (container name, address, port, server tag or None, why)
    servers = []
    try:
        for h in members:
            hn, v, chk = h["name"], hv[h["name"]], chks[h["name"]]
            containers = v["container_bridge_network_containers"] or []
            if not containers:
                first[hn] = (None, None, None, None, "no container in the variables")
                continue
            c = containers[0]
            addr = container_address(chk, c, hn)
            taken = set()
            for p in v["container_bridge_network_published_ports"] or []:
                taken.add(port_first(p["host_port"]))
                taken.add(port_first(p.get("container_port", p["host_port"])))
            port = _free_port(C2C_TCP_PORT, taken)
            if not addr:
                first[hn] = (c["name"], None, port, None, "no address found in %s" % c["name"])
                continue
            tag = "fleet-%s/%s/%s" % (hn, c["name"], salt)
            srv, line = _start_server(state, hn + "/" + c["name"], py, port, tag)
            servers.append(srv)
            if line.startswith("ready"):
                first[hn] = (c["name"], addr, port, tag, None)
            else:
                first[hn] = (c["name"], addr, port, None, "server: %s" % (line or "died")[:50])

        for a in members:
            for b in members:
                an, bn = a["name"], b["name"]
                if a is b or (only and only not in (an, bn)):
                    continue
                ac, aaddr, _, _, awhy = first[an]
                bc, baddr, bport, btag, bwhy = first[bn]
                frm = "%s/%s %s" % (an, ac, aaddr or "?")
                to = "%s/%s %s" % (bn, bc, baddr or "?")
                if not aaddr or not baddr:
                    why = "cannot evaluate: %s" % (awhy if not aaddr else bwhy)
                    for proto in ("icmp", "tcp"):
                        chks[an].add("fleet container -> container (%s)" % proto, frm, to,
                                     "reached by its own address", why, False)
                    continue
                ok, out = chks[an].probe(an + "/" + ac, "icmp", baddr)
                chks[an].add("fleet container -> container (icmp)", frm, to, "echo reply", out, ok)
                if not btag:
                    chks[an].add("fleet container -> container (tcp)", frm, "%s:%d" % (to, bport),
                                 "answer, source %s" % aaddr, "cannot evaluate: %s" % bwhy, False)
                    continue
                ok, out = chks[an].probe(an + "/" + ac, "tcp", baddr, bport)
                chks[an].add("fleet container -> container (tcp)", frm, "%s:%d" % (to, bport),
                             "answer from %s/%s, source %s (own address)" % (bn, bc, aaddr), out,
                             ok and out.startswith(btag + " ") and _seen(out) == aaddr)

        for h in members:
            hn = h["name"]
            if only and only != hn:
                continue
            chk = chks[hn]
            c, addr, port, tag, why = first[hn]
            subnet = str(hv[hn]["container_bridge_network_subnet"])
            label = "outside -> container direct"
            to = "%s/%s %s:%s" % (hn, c, addr or "?", port)
            expected = "dropped (timeout) with route %s via %s" % (subnet, h["address"])
            if not tag:
                chk.add(label, "outside", to, expected, "cannot evaluate: %s" % why, False)
                continue
            before = [r for r in state["outside"].get("routes", []) if r["subnet"] == subnet]
            try:
                outside_route(d, state, h, subnet)
            except LabError as exc:
                chk.add(label, "outside", to, expected, "cannot evaluate: route: %s" % str(exc)[:60], False)
                continue
            try:
                ok, out = chk.probe("outside", "tcp", addr, port)
            finally:
                # put lab-outside's routes back as they were
                if before:
                    outside_route(d, state, host_by_name(state, before[0]["host"]), subnet)
                else:
                    outside_route(d, state, h, subnet, delete=True)
            chk.add(label, "outside", to, expected, out,
                    (not ok) and "timed out" in out.lower())
    finally:
        _stop_servers(servers)
    for h in members:
        rows += chks[h["name"]].rows
    return rows


def print_table(rows):
    cols = ["host", "check", "from", "to", "expected", "result", "status"]
    heads = {"host": "HOST", "check": "CHECK", "from": "FROM", "to": "TO",
             "expected": "EXPECTED", "result": "RESULT", "status": "PASS/FAIL"}
    for r in rows:
        if len(r["result"]) > 52:
            r["result"] = r["result"][:49] + "..."
    w = {c: max(len(heads[c]), *(len(str(r[c])) for r in rows)) if rows else len(heads[c]) for c in cols}
    line = " | ".join(heads[c].ljust(w[c]) for c in cols)
    print(line)
    print("-+-".join("-" * w[c] for c in cols))
    for r in rows:
        print(" | ".join(str(r[c]).ljust(w[c]) for c in cols))


def cmd_check(args):
    d = os.path.abspath(args.dir)
    state = load_state(d)
    # each host's variables: the role's defaults, the inventory's (a fleet member's own
    # subnet ...), then --vars (like -e @FILE)
    inv = parse_inventory(args.inventory or os.path.join(d, "inventory.ini"))
    hv = {h["name"]: load_vars(args.vars, inventory_host_vars(inv, h["name"])) for h in state["hosts"]}
    hosts = [host_by_name(state, args.host)] if args.host else state["hosts"]
    for h in hosts:
        if str(hv[h["name"]]["container_bridge_network_state"]) != "present":
            raise LabError("check expects container_bridge_network_state=present")
    py = state.get("python") or sys.executable
    if not os.path.exists(py):
        py = sys.executable
    rows = []
    for h in hosts:
        rows += check_host(state, h, hv[h["name"]], py, args.timeout)
    members = fleet_members(state, inv, hv)
    if members:
        rows += check_fleet(d, state, members, hv, py, args.timeout, only=args.host)
    failed = [r for r in rows if r["status"] != "PASS"]
    if args.json:
        print(json.dumps({"rows": rows, "passed": len(rows) - len(failed), "failed": len(failed)}, indent=2))
    else:
        print_table(rows)
        print("\n%d checks: %d PASS, %d FAIL" % (len(rows), len(rows) - len(failed), len(failed)))
    return 1 if failed or not rows else 0


# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(prog="lab.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="sub", required=True)
    p = sub.add_parser("up", help="build the lab")
    p.add_argument("--dir", required=True)
    p.add_argument("--hosts", type=int, default=1)
    p.add_argument("--python", default=DEFAULT_PYTHON,
                   help="ansible_python_interpreter written to the inventory")
    p.add_argument("--firewall", choices=FIREWALL_CHOICES,
                   help="put this foreign firewall in charge of every host before Ansible runs "
                   "(tests/firewalls.py; docker = docker-nft)")
    p.add_argument("--segments", type=int, choices=sorted(SEGMENTS), default=1,
                   help="2: even-numbered hosts on a second L2 segment (lab-br2, 192.0.2.0/24, "
                   "2001:db8:101::/64), lab-outside routing between the segments")
    p.add_argument("--fleet", choices=FLEET_BACKENDS,
                   help="the inventory gets a group [fleet] of all hosts with this backend, "
                   "each host its own subnet 172.18.N.0/24")
    p = sub.add_parser("inventory", help="rewrite the lab's inventory (or write --out FILE) "
                       "with the fleet group = exactly --members")
    p.add_argument("--dir", required=True)
    p.add_argument("--fleet", choices=FLEET_BACKENDS,
                   help="fleet backend (none: the inventory without a fleet)")
    p.add_argument("--members", help="comma-separated lab hosts (default: all)")
    p.add_argument("--out", help="write this file instead of DIR/inventory.ini")
    p = sub.add_parser("fw-keep", help="(run by up inside a host's namespaces) keep a foreign "
                       "firewall in charge until SIGTERM, then undo it")
    p.add_argument("--kind", required=True, choices=sorted(set(FIREWALL_CHOICES) - set(FIREWALL_ALIASES)))
    p.add_argument("--dir", required=True)
    p = sub.add_parser("down", help="tear the lab down and verify nothing is left")
    p.add_argument("--dir", required=True)
    p = sub.add_parser("exec", help="run a command in a lab host's net+mount namespaces "
                       "(HOST may be 'outside' or 'lab-host1/netns0')")
    p.add_argument("--dir", required=True)
    p.add_argument("host")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p = sub.add_parser("route6", help="route an IPv6 subnet in lab-outside via a host's uplink "
                       "address (for containers that are not masqueraded)")
    p.add_argument("--dir", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--subnet", required=True)
    p.add_argument("--delete", action="store_true")
    p = sub.add_parser("route", help="route an IPv4 subnet in lab-outside via a host's uplink "
                       "address (an outside router trying to reach containers directly)")
    p.add_argument("--dir", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--subnet", required=True)
    p.add_argument("--delete", action="store_true")
    p = sub.add_parser("check", help="the seed article's checks with real packets")
    p.add_argument("--dir", required=True)
    p.add_argument("--inventory", help="inventory whose role variables (fleet) check reads "
                   "(default: DIR/inventory.ini)")
    p.add_argument("--host", help="only this lab host (default: all)")
    p.add_argument("--vars", help="YAML/JSON file with the role's variables")
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeout", type=float, default=3.0)
    p = sub.add_parser("_serve")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("--bind", action="append",
                   help="address to listen on (repeat for several; default 0.0.0.0)")
    p.add_argument("--tcp-only", action="store_true")
    p = sub.add_parser("_probe")
    p.add_argument("proto", choices=["tcp", "udp", "icmp"])
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args(argv)
    try:
        guard()
        if args.sub in ("_serve", "_probe"):
            # helpers that the lab runs inside its namespaces
            return cmd_serve(args) if args.sub == "_serve" else cmd_probe(args)
        return {"up": cmd_up, "down": cmd_down, "exec": cmd_exec, "check": cmd_check,
                "route6": cmd_route6, "route": cmd_route, "inventory": cmd_inventory,
                "fw-keep": cmd_fw_keep}[args.sub](args)
    except LabError as exc:
        log(str(exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
