#!/usr/bin/env python3
# Copyright: Contributors to the linuxnet.container_network collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's constants and small helpers: addresses, namespaces, processes, state.json."""

import ipaddress
import json
import os
import shlex
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SELF = os.path.join(HERE, "lab.py")  # the CLI: what the lab runs again (serve, fw-keep)

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
