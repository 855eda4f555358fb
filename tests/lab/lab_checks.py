#!/usr/bin/env python3
# Copyright: Contributors to the linuxnet.container_network collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed's checks on the lab (``lab.py check``): the PASS/FAIL rows per host and across a fleet."""

import ast
import ipaddress
import json
import os
import shlex
import signal
import subprocess
import sys
import time

from lab_common import (
    C2C_TCP_PORT,
    HOST_TCP_PORT,
    LabError,
    RA_MAX_INTERVAL,
    ROLE_DEFAULTS,
    SELF,
    is_v6,
    load_state)
from lab_access import (
    host_by_name,
    ns_prefix,
    outside_route)


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
