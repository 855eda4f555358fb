# Copyright: linuxnet.container_network developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of the benchmark: sandbox guard, topology definition, kernel checks."""

import ipaddress
import json
import os
import socket
import struct
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# scripts/bench.sh's LINUXNET_HOME (setup.sh's venvs and collections path) unless named apart
HOME = os.environ.get("LINUXNET_HOME", "/opt/linuxnet")
VENV = os.environ.get("LINUXNET_VENV", os.path.join(HOME, "venv-2.19"))
COLLECTIONS = os.environ.get("LINUXNET_COLLECTIONS", os.path.join(HOME, "collections"))


def collection_mismatch():
    """None when ansible-playbook, with ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, loads
    linuxnet.container_network from this checkout (REPO); else why not, and how to fix it.
    (playbooks/site.yml is this checkout's, but its role and modules are found through
    the collections path: another checkout there would be measured instead.)"""
    link = os.path.join(COLLECTIONS, "ansible_collections", "linuxnet", "container_network")
    if not os.path.isdir(link):
        return ("%s does not exist: run scripts/setup.sh with the same LINUXNET_HOME, or set "
                "LINUXNET_COLLECTIONS" % link)
    if os.path.realpath(link) != os.path.realpath(REPO):
        return ("%s is %s, not this checkout %s: the benchmark would measure that one; point "
                "LINUXNET_HOME (or LINUXNET_COLLECTIONS) at a collections path whose "
                "linuxnet/container_network is this checkout" % (
                    link, os.path.realpath(link), REPO))
    return None


SUBNET = ipaddress.ip_network("172.18.0.0/16")
GATEWAY = ipaddress.ip_address("172.18.0.1")
BRIDGE = "br0"
# A stand-in for the host's uplink (the article's eth0 10.0.2.15): a veth pair that
# lives only inside each trial's private namespace.  TEST-NET-1, never routed anywhere.
UPLINK = "up0"
UPLINK_PEER = "up0p"
UPLINK_ADDR = "192.0.2.15"
# Dual stack (issue 12, method ours6): the containers' IPv6 subnet and the uplink stand-in's
# IPv6 address (documentation prefix 2001:db8::/32, never routed anywhere).
SUBNET6 = ipaddress.ip_network("fd00:18::/64")
GATEWAY6 = ipaddress.ip_address("fd00:18::1")
UPLINK_ADDR6 = "2001:db8::15"
FORWARDING6 = "/proc/sys/net/ipv6/conf/all/forwarding"
FIXTURE_LINKS = {"lo", UPLINK, UPLINK_PEER}


def netns_inode(pid="self"):
    return os.stat("/proc/%s/ns/net" % pid).st_ino


# The initial network namespace's inode number is fixed by the kernel (PROC_NET_INIT_INO).
INIT_NET_INO = 0xEFFFFFF9


def outside_netns():
    """Network namespaces that are certainly NOT a sandbox: PID 1's and the kernel's
    initial one.  Where PID 1's namespace cannot be read (a PID 1 that is not dumpable,
    as on this workplace's machines), the initial namespace is still compared."""
    found = {"the initial network namespace": INIT_NET_INO}
    try:
        found["PID 1"] = netns_inode(1)
    except OSError:
        pass
    return found


def require_sandbox():
    """Refuse to do anything outside scripts/sandbox (or a namespace below it)."""
    if os.environ.get("LINUXNET_SANDBOX") != "1":
        raise SystemExit("bench: refusing to run: LINUXNET_SANDBOX=1 is not set "
                         "(run it through scripts/sandbox)")
    mine = netns_inode()
    for who, ino in sorted(outside_netns().items()):
        if ino == mine:
            raise SystemExit("bench: refusing to run: this process shares the network "
                             "namespace of %s (inode %d); run it through scripts/sandbox"
                             % (who, mine))


def container_names(n):
    return ["c%d" % i for i in range(1, n + 1)]


def published_ports(n):
    """One published port per 10 containers: c10 -> 8010, c20 -> 8020, ...; below 10
    containers (the smoke test) the last one is published, so DNAT is always checked."""
    idx = list(range(10, n + 1, 10)) or ([n] if n > 0 else [])
    return [{"container": "c%d" % i, "host_port": 8000 + i} for i in idx]


def sh(cmd, check=True, **kw):
    """Run a command (list), return stdout as text."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (rc=%d): %s %s" % (" ".join(cmd), p.returncode,
                                                          p.stdout[-2000:], p.stderr[-2000:]))
    return p.stdout


def ip_json(*args):
    out = sh(["ip", "-j"] + list(args))
    return json.loads(out) if out.strip() else []


# --------------------------------------------------------------------------- checks

def icmp_echo(dst, timeout=2.0):
    """One real ICMP echo request/reply (no ping binary on this machine)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        ident = os.getpid() & 0xFFFF
        payload = b"linuxnet-bench"
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
        csum = _checksum(hdr + payload)
        pkt = struct.pack("!BBHHH", 8, 0, csum, ident, 1) + payload
        s.settimeout(timeout)
        s.sendto(pkt, (str(dst), 0))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data, addr = s.recvfrom(2048)
            ihl = (data[0] & 0x0F) * 4
            typ, _code, _c, rid, _seq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if typ == 0 and rid == ident and addr[0] == str(dst):
                return True
        return False
    except socket.timeout:
        return False
    finally:
        s.close()


def icmp6_echo(dst, timeout=2.0):
    """One real ICMPv6 echo request/reply (the kernel fills in the ICMPv6 checksum of a
    raw ICMPv6 socket; what is received starts at the ICMPv6 header)."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    want = ipaddress.ip_address(dst)
    try:
        ident = os.getpid() & 0xFFFF
        pkt = struct.pack("!BBHHH", 128, 0, 0, ident, 1) + b"linuxnet-bench6"
        s.settimeout(timeout)
        s.sendto(pkt, (str(dst), 0, 0, 0))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data, addr = s.recvfrom(2048)
            if len(data) < 8:
                continue
            typ, _code, _c, rid, _seq = struct.unpack("!BBHHH", data[:8])
            if typ == 129 and rid == ident and ipaddress.ip_address(addr[0].split("%")[0]) == want:
                return True
        return False
    except socket.timeout:
        return False
    finally:
        s.close()


def _checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def netns_list():
    return [line.split()[0] for line in sh(["ip", "netns", "list"]).splitlines() if line.strip()]


def container_address(ns, subnet=SUBNET):
    """The container's address in `subnet` (SUBNET: IPv4, SUBNET6: IPv6), read from the
    kernel; an IPv6 address still tentative (duplicate address detection) does not count."""
    family = "inet" if subnet.version == 4 else "inet6"
    for link in ip_json("-n", ns, "addr", "show"):
        for a in link.get("addr_info", []):
            if (a.get("family") == family and ipaddress.ip_address(a["local"]) in subnet
                    and not a.get("tentative")):
                return a["local"]
    return None


# Dual-stack listener (IPV6_V6ONLY off): answers one connection per host address tried.
_LISTENER = r"""
import socket, sys
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1]))); s.listen(4); s.settimeout(10)
print("ready", flush=True)
for _i in range(int(sys.argv[3])):
    c, a = s.accept(); c.sendall(b"bench-ok " + sys.argv[2].encode()); c.close()
"""


def published_port_works(ns, port, hosts=(UPLINK_ADDR,)):
    """Listen inside container `ns` on `port`, connect to each of the host's uplink
    addresses `hosts` on the same port (locally generated traffic: the OUTPUT DNAT path),
    expect the reply from inside the container on every one."""
    lst = subprocess.Popen(["nsenter", "--net=/run/netns/%s" % ns, "python3", "-c", _LISTENER,
                            str(port), ns, str(len(hosts))], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    replies, ok = [], True
    try:
        if lst.stdout.readline().strip() != "ready":
            return False, "listener did not start: %s" % lst.stderr.read()
        for host in hosts:
            try:
                with socket.create_connection((host, port), timeout=3) as c:
                    c.settimeout(3)
                    data = c.recv(100)
            except OSError as exc:
                ok = False
                replies.append("connect [%s]:%d: %s" % (host, port, exc))
                break
            ok &= data == b"bench-ok " + ns.encode()
            replies.append("[%s]:%d -> %s" % (host, port, data.decode(errors="replace")))
        return ok, "; ".join(replies)
    finally:
        try:
            lst.wait(timeout=5)
        except subprocess.TimeoutExpired:
            lst.kill()
            lst.wait()


def read_forwarding6():
    with open(FORWARDING6) as f:
        return f.read().strip()


def spot_check(n, ipv6=False):
    """Prove that the topology after converge really works; returns (ok, details).
    With `ipv6` (dual stack) the same again over IPv6: ICMPv6 echo to each probed
    container's address in SUBNET6, its IPv6 default route via GATEWAY6, the published
    port's DNAT rule for IPv6 and a real TCP connection to the host's IPv6 address."""
    names = container_names(n)
    details = {}
    ok = True
    nslist = set(netns_list())
    missing = [c for c in names if c not in nslist]
    details["netns_missing"] = missing[:5]
    ok &= not missing
    probe = sorted({names[0], names[len(names) // 2], names[-1]})
    for ns in probe:
        addr = container_address(ns)
        routes = ip_json("-n", ns, "route", "show", "default")
        gw = routes[0].get("gateway") if routes else None
        ping = bool(addr) and icmp_echo(addr)
        details[ns] = {"address": addr, "default_via": gw, "ping_from_host": ping}
        ok &= bool(addr) and ping and gw == str(GATEWAY)
        if ipv6:
            addr6 = container_address(ns, SUBNET6)
            routes6 = ip_json("-6", "-n", ns, "route", "show", "default")
            gw6 = routes6[0].get("gateway") if routes6 else None
            ping6 = bool(addr6) and icmp6_echo(addr6)
            details[ns].update({"address6": addr6, "default_via6": gw6,
                                "ping6_from_host": ping6})
            ok &= bool(addr6) and ping6 and gw6 == str(GATEWAY6)
    ports = published_ports(n)
    if ports:
        p = ports[-1]
        ruleset = sh(["nft", "list", "ruleset"])
        rule = ("dport %d" % p["host_port"]) in ruleset and "dnat" in ruleset
        hosts = (UPLINK_ADDR,)
        if ipv6:
            hosts = (UPLINK_ADDR, UPLINK_ADDR6)
            rule6 = "dnat ip6 to" in ruleset
        works, msg = published_port_works(p["container"], p["host_port"], hosts)
        details["dnat"] = {"port": p["host_port"], "container": p["container"],
                           "rule_present": rule, "connect": works, "reply": msg}
        ok &= rule and works
        if ipv6:
            details["dnat"]["rule6_present"] = rule6
            ok &= rule6
    return bool(ok), details


# Chains that a method keeps by design once it has been used on a host, whatever its
# containers: CNI portmap's shared hostport chains.  Reported, not counted as leftovers.
BY_DESIGN_CHAINS = ("CNI-HOSTPORT-",)


def _ruleset_lines():
    """(chain, line) for every line of `nft list ruleset`."""
    chain = None
    for line in sh(["nft", "list", "ruleset"]).splitlines():
        s = line.strip()
        if s.startswith("chain "):
            chain = s.split()[1]
        yield chain, s


def leftovers(wait=5.0, forwarding6=None):
    """What is left of any method's network after teardown.  Namespace destruction is
    asynchronous in the kernel (a deleted netns takes its links with it a moment later),
    so this polls for up to `wait` seconds (untimed) before judging.  `forwarding6`: the
    value net.ipv6.conf.all.forwarding had before converge, which it must have again."""
    deadline = time.monotonic() + wait
    while True:
        clean, found = _leftovers()
        if forwarding6 is not None:
            now = read_forwarding6()
            found["ipv6_forwarding"] = {"before": forwarding6, "after": now}
            clean &= now == forwarding6
        if clean or time.monotonic() >= deadline:
            return clean, found
        time.sleep(0.1)


def _leftovers():
    ns = netns_list()
    links = [l["ifname"] for l in ip_json("link", "show") if l["ifname"] not in FIXTURE_LINKS]
    rules, by_design = [], []
    for chain, s in _ruleset_lines():
        if "172.18." in s or "fd00:18:" in s or "dnat" in s or "masquerade" in s:
            if chain and chain.startswith(BY_DESIGN_CHAINS):
                by_design.append("%s: %s" % (chain, s))
            else:
                rules.append("%s: %s" % (chain, s))
    tables = [l.strip() for l in sh(["nft", "list", "tables"]).splitlines() if l.strip()]
    dropins = sorted(os.listdir("/etc/sysctl.d")) if os.path.isdir("/etc/sysctl.d") else []
    cni_ips = []
    netdir = "/var/lib/cni/networks"
    if os.path.isdir(netdir):
        for _root, _d, files in os.walk(netdir):
            cni_ips += [f for f in files if f[0].isdigit()]
    clean = not (ns or links or rules or dropins or cni_ips)
    return clean, {"netns": ns[:10], "links": links[:10], "rules": rules[:10],
                   "by_design_rules": by_design[:10], "nft_tables": tables,
                   "sysctl_dropins": dropins, "cni_leases": cni_ips[:10]}
