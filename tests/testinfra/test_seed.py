# Copyright: Contributors to the linuxnet.container_network collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed article's four questions, answered with real packets on a host
converged with role linuxnet.container_network.container_bridge_network.

Shared by molecule/lab (lab hosts over SSH) and molecule/default (CentOS 8
boxes under vagrant). Run by molecule's testinfra verifier; every probe runs
on the target through `host.run`, inside the container namespaces with
`ip netns exec`, and "outside" traffic comes from the machine running pytest
(the controller is not the target host).

Inventory variables read (all optional):
  container_bridge_network_*        the role's variables if not the defaults
  linuxnet_test_uplink_address      the host address the outside sees
                                    (default: ansible_host)
  linuxnet_test_whoami              HOST:PORT of a server outside the host that
                                    answers '... from=SRC:PORT' (the lab's)
  linuxnet_test_controller_address  if no whoami is given: address of this
                                    controller the target routes to; the test
                                    then runs the whoami server itself
"""

import json
import os
import shlex
import socket
import threading

import pytest
import yaml

# The role's defaults, read from the role (not copied): what a host converged with
# no variables must show.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles",
                       "container_bridge_network", "defaults", "main.yml")) as _f:
    DEFAULTS = yaml.safe_load(_f)

# Runs on the target with its Python (>= 3.9), stdlib only:
#   probe tcp DST PORT | probe udp DST PORT | probe icmp DST
#   serve PORT TAG      (TCP; prints its PID, answers "TAG from=SRC:PORT")
PROBE = r'''
import os, socket, struct, sys, time
mode = sys.argv[1]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF
if mode == "icmp":
    dst = sys.argv[2]; s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF; body = b"linuxnet-testinfra"
    h = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    s.sendto(struct.pack("!BBHHH", 8, 0, csum(h + body), ident, 1) + body, (dst, 0))
    end = time.time() + 3
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try: d, peer = s.recvfrom(2048)
        except socket.timeout: break
        ihl = (d[0] & 15) * 4
        if d[ihl] == 0 and struct.unpack("!H", d[ihl + 4:ihl + 6])[0] == ident and peer[0] == dst:
            print("echo reply from " + peer[0]); sys.exit(0)
    print("no echo reply from " + dst); sys.exit(1)
elif mode == "tcp":
    try:
        c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=3); c.settimeout(3)
        print(c.recv(1024).decode().strip())
    except OSError as e:
        print("ERROR %s" % e); sys.exit(1)
elif mode == "serve":
    port, tag = int(sys.argv[2]), sys.argv[3]
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", port)); l.listen(16)
    if os.fork():
        os._exit(0)
    os.setsid(); print(os.getpid(), flush=True); sys.stdout.close(); [os.close(f) for f in (0, 1, 2)]
    l.settimeout(60)
    while True:
        try: c, peer = l.accept()
        except socket.timeout: break
        c.sendall(("%s from=%s:%d\n" % (tag, peer[0], peer[1])).encode()); c.close()
'''


@pytest.fixture(scope="module")
def topo(host):
    hv = host.ansible.get_variables()
    v = dict(DEFAULTS)
    for k in DEFAULTS:
        if k in hv:
            v[k] = hv[k]
    py = hv.get("ansible_python_interpreter") or "python3"
    if "{{" in str(py) or py == "auto" or str(py).startswith("auto"):
        py = "python3"
    uplink = hv.get("linuxnet_test_uplink_address") or hv.get("ansible_host") or host.backend.host
    containers = []
    for c in v["container_bridge_network_containers"]:
        containers.append(dict(c, address=c.get("address") or _discover_address(host, c["name"])))
    return {"vars": v, "py": py, "uplink": uplink, "containers": containers, "hv": hv,
            "gateway": str(v["container_bridge_network_gateway"]).split("/")[0],
            "bridge": v["container_bridge_network_bridge"]}


def _discover_address(host, name):
    out = host.check_output("ip -n %s -j -4 addr show scope global" % shlex.quote(name))
    for link in json.loads(out):
        for a in link.get("addr_info", []):
            return a["local"]
    raise AssertionError("container %s has no IPv4 address" % name)


def probe(host, topo, ns, *args):
    """Run the probe on the target, inside container netns `ns` (None = host)."""
    cmd = "%s -c %s %s" % (shlex.quote(topo["py"]), shlex.quote(PROBE), " ".join(shlex.quote(str(a)) for a in args))
    if ns:
        cmd = "ip netns exec %s %s" % (shlex.quote(ns), cmd)
    return host.run(cmd)


# 1. Each container has its own network stack ---------------------------------

def test_each_container_has_its_own_stack(host, topo):
    host_links = {l["ifname"] for l in json.loads(host.check_output("ip -j link show"))}
    host_netns = host.check_output("readlink /proc/self/ns/net")
    seen_ns = set()
    for c in topo["containers"]:
        name = c["name"]
        ns_id = host.check_output("ip netns exec %s readlink /proc/self/ns/net" % shlex.quote(name))
        assert ns_id != host_netns, "%s runs in the host's own netns" % name
        assert ns_id not in seen_ns, "%s shares a netns with another container" % name
        seen_ns.add(ns_id)
        links = json.loads(host.check_output("ip -n %s -j link show" % shlex.quote(name)))
        names = sorted(l["ifname"] for l in links)
        ifname = c.get("ifname")
        assert len(names) == 2 and "lo" in names, "%s has links %s, want lo + one veth" % (name, names)
        if ifname:
            assert ifname in names
            assert ifname not in host_links, "%s's %s is visible on the host" % (name, ifname)
        addrs = json.loads(host.check_output("ip -n %s -j -4 addr show" % shlex.quote(name)))
        mine = {a["local"] for l in addrs for a in l.get("addr_info", [])}
        assert mine == {"127.0.0.1", c["address"]}, "%s has addresses %s" % (name, mine)
        routes = json.loads(host.check_output("ip -n %s -j -4 route show default" % shlex.quote(name)))
        assert [r.get("gateway") for r in routes] == [topo["gateway"]], routes


# 2. Containers talk to each other, and to the host ---------------------------

def test_containers_reach_each_other(host, topo):
    cs = topo["containers"]
    assert len(cs) >= 2, "need two containers for this test"
    for a in cs:
        for b in cs:
            if a is b:
                continue
            r = probe(host, topo, a["name"], "icmp", b["address"])
            assert r.rc == 0, "%s -> %s: %s" % (a["name"], b["address"], r.stdout + r.stderr)


def test_containers_reach_each_other_over_tcp(host, topo):
    a, b = topo["containers"][0], topo["containers"][1]
    tag = "tcp-%s" % b["name"]
    pid = _serve(host, topo, b["name"], 7000, tag)
    try:
        r = probe(host, topo, a["name"], "tcp", b["address"], 7000)
        assert r.rc == 0 and r.stdout.startswith(tag + " from=%s:" % a["address"]), r.stdout
    finally:
        _kill(host, pid)


def test_host_and_containers_reach_each_other(host, topo):
    for c in topo["containers"]:
        r = probe(host, topo, None, "icmp", c["address"])
        assert r.rc == 0, "host -> %s: %s" % (c["address"], r.stdout)
        r = probe(host, topo, c["name"], "icmp", topo["gateway"])
        assert r.rc == 0, "%s -> gateway: %s" % (c["name"], r.stdout)


# 3. The outside is reachable through NAT -------------------------------------

class _Whoami:
    def __init__(self, addr):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, peer = self.sock.accept()
            except OSError:
                return
            c.sendall(("whoami from=%s:%d\n" % peer).encode())
            c.close()


@pytest.fixture(scope="module")
def whoami(topo):
    hv = topo["hv"]
    if hv.get("linuxnet_test_whoami"):
        h, _, p = str(hv["linuxnet_test_whoami"]).rpartition(":")
        yield h, int(p)
        return
    addr = hv.get("linuxnet_test_controller_address")
    assert addr, "set linuxnet_test_whoami or linuxnet_test_controller_address in the inventory"
    w = _Whoami(addr)
    yield addr, w.port
    w.sock.close()


def test_containers_reach_outside_masqueraded(host, topo, whoami):
    assert topo["vars"]["container_bridge_network_masquerade"], "this test expects masquerade on"
    for c in topo["containers"]:
        r = probe(host, topo, c["name"], "tcp", whoami[0], whoami[1])
        assert r.rc == 0, "%s -> %s:%d: %s" % (c["name"], whoami[0], whoami[1], r.stdout)
        seen = r.stdout.strip().split("from=")[-1].rsplit(":", 1)[0]
        assert seen == topo["uplink"], "%s seen outside as %s, want the host's %s" % (
            c["name"], seen, topo["uplink"])


# 4. The outside reaches containers through published ports -------------------

def _serve(host, topo, ns, port, tag):
    r = probe(host, topo, ns, "serve", port, tag)
    assert r.rc == 0 and r.stdout.strip().isdigit(), "server in %s: %s %s" % (ns, r.stdout, r.stderr)
    return int(r.stdout.strip())


def _kill(host, pid):
    host.run("kill %d" % pid)


def _loopback(host_ip):
    return bool(host_ip) and str(host_ip).startswith("127.")


def _published(topo, loopback=None):
    """(container, host port, container port, host_ip) of the TCP publications on IPv4
    (all but those whose host_ip is an IPv6 address); loopback True/False: only those on
    a loopback address / only the others."""
    out = []
    for p in topo["vars"]["container_bridge_network_published_ports"] or []:
        if str(p.get("protocol", "tcp")).lower() != "tcp":
            continue
        if loopback is not None and _loopback(p.get("host_ip")) != loopback:
            continue
        if ":" in str(p.get("host_ip") or ""):
            continue   # on an IPv6 address only: test_ipv6.py's
        hport = int(str(p["host_port"]).split("-")[0])
        cport = int(str(p.get("container_port", p["host_port"])).split("-")[0])
        out.append((p["container"], hport, cport, p.get("host_ip")))
    assert out, "no TCP published port to test"
    return out


def test_outside_reaches_published_port(host, topo):
    for cname, hport, cport, host_ip in _published(topo, loopback=False):
        tag = "published-%s-%d" % (cname, cport)
        pid = _serve(host, topo, cname, cport, tag)
        try:
            target = host_ip if host_ip and host_ip != "0.0.0.0" else topo["uplink"]
            # from here, the controller: a machine outside the host
            with socket.create_connection((target, hport), timeout=5) as s:
                s.settimeout(5)
                answer = s.recv(1024).decode().strip()
            assert answer.startswith(tag + " from="), answer
        finally:
            _kill(host, pid)


def test_host_reaches_its_own_published_port(host, topo):
    for cname, hport, cport, host_ip in _published(topo):
        tag = "local-%s-%d" % (cname, cport)
        pid = _serve(host, topo, cname, cport, tag)
        try:
            target = host_ip if host_ip and host_ip != "0.0.0.0" else topo["uplink"]
            r = probe(host, topo, None, "tcp", target, hport)
            assert r.rc == 0 and r.stdout.startswith(tag + " from="), r.stdout
        finally:
            _kill(host, pid)


def test_a_localhost_publication_is_the_hosts_own(host, topo):
    """host_ip 127.0.0.1: the host reaches it (test_host_reaches_its_own_published_port),
    the outside does not through the host's address; route_localnet on the network's
    bridge only, and the guard against 127.0.0.0/8 from other interfaces in place."""
    local = [p for p in topo["vars"]["container_bridge_network_published_ports"] or []
             if _loopback(p.get("host_ip"))]
    assert local, ("every scenario publishes one port on 127.0.0.1 "
                   "(container_bridge_network_published_ports in its inventory)")
    for cname, hport, cport, host_ip in _published(topo, loopback=True):
        pid = _serve(host, topo, cname, cport, "localhost-%s" % cname)
        try:
            with pytest.raises(OSError):
                socket.create_connection((topo["uplink"], hport), timeout=3).close()
        finally:
            _kill(host, pid)
    sysctl = "/proc/sys/net/ipv4/conf/%s/route_localnet"
    assert host.file(sysctl % topo["bridge"]).content_string.strip() == "1"
    assert host.file(sysctl % "all").content_string.strip() == "0"
    guard = host.check_output("nft list chain inet linuxnet guard")
    assert 'ip daddr 127.0.0.0/8 iifname != "lo" drop' in guard, guard
