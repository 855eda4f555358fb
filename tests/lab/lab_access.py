#!/usr/bin/env python3
# Copyright: Contributors to the linuxnet.container_network collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reaching into the lab: ``lab.py exec``, ``route``, ``route6``."""

import ipaddress
import os

from lab_common import (
    LabError,
    OUTSIDE_BRIDGE,
    OUTSIDE_NS,
    ip,
    load_state,
    pid_is,
    save_state)
from lab_teardown import (
    _starttime_of)


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
