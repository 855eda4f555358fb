# Copyright: Contributors to the linuxnet.container_network collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dual stack (issue #12), answered with real packets on a host converged with role
linuxnet.container_network.container_bridge_network and container_bridge_network_ipv6_subnet.

Shared by the molecule scenarios (the verifier runs tests/testinfra); a scenario whose
inventory has no container_bridge_network_ipv6_subnet is IPv4 only and these tests are
skipped there, unless it says linuxnet_test_ipv6: true (molecule/lab), which makes a
missing subnet a failure: a dual-stack scenario never passes by skipping.

Every probe runs on the target through `host.run` (inside the containers with `ip netns
exec`); "outside" traffic comes from the machine running pytest (the controller: it
must route to the host's IPv6 address, as the lab's does).

Inventory variables read:
  container_bridge_network_*        the role's variables (defaults: the role's)
  linuxnet_test_ipv6                true: this scenario is dual stack (see above)
  linuxnet_test_uplink_address6     the host's IPv6 address the outside sees
                                    (default: the global IPv6 address of the
                                    interface holding ansible_host)
  linuxnet_test_whoami6             [ADDR]:PORT of a server outside the host that
                                    answers '... from=SRC:PORT' over TCP and UDP
  linuxnet_test_ra_uplink           the uplink that learns the host's IPv6 default
                                    route from router advertisements (the lab's
                                    eth0); unset = no RA checks
"""

import ipaddress
import json
import os
import shlex
import socket
import time

import pytest
import yaml

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles",
                       "container_bridge_network", "defaults", "main.yml")) as _f:
    DEFAULTS = yaml.safe_load(_f)

ROLE_PREFIX = "container_bridge_network_"
DROP_IN = "/etc/sysctl.d/90-linuxnet-container-network-ipv6.conf"
# the lab's radvd advertises every 3-4 s: a deleted RA route is back within this
RA_RELEARN_SECONDS = 10
C2C_PORT = 7006
HOST_PORT = 7016

# Runs on the target with its Python (>= 3.9), stdlib only; both families:
#   icmp DST | tcp DST PORT | udp DST PORT
#   serve PORT TAG   (TCP and UDP on [::] and 0.0.0.0; forks, prints its PID, answers
#                     "TAG from=SRC:PORT"; exits after 60 s without traffic)
PROBE = r'''
import os, select, socket, struct, sys, time
mode = sys.argv[1]
def fam(a): return socket.AF_INET6 if ":" in a else socket.AF_INET
if mode == "icmp":
    dst = sys.argv[2]; v6 = ":" in dst
    s = socket.socket(fam(dst), socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF; body = b"linuxnet-testinfra"; req, rep = (128, 129) if v6 else (8, 0)
    def csum(b):
        if len(b) % 2: b += b"\0"
        x = sum(struct.unpack("!%dH" % (len(b) // 2), b)); x = (x >> 16) + (x & 0xFFFF); x += x >> 16
        return ~x & 0xFFFF
    c = 0 if v6 else csum(struct.pack("!BBHHH", req, 0, 0, ident, 1) + body)
    s.sendto(struct.pack("!BBHHH", req, 0, c, ident, 1) + body, (dst, 0))
    end = time.time() + 3
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try: d, peer = s.recvfrom(2048)
        except socket.timeout: break
        off = 0 if v6 else (d[0] & 15) * 4
        if len(d) >= off + 8 and d[off] == rep and struct.unpack("!H", d[off + 4:off + 6])[0] == ident \
                and socket.inet_pton(fam(dst), peer[0].split("%")[0]) == socket.inet_pton(fam(dst), dst):
            print("echo reply from " + peer[0]); sys.exit(0)
    print("no echo reply from " + dst); sys.exit(1)
elif mode == "tcp":
    try:
        c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=3); c.settimeout(3)
        print(c.recv(1024).decode().strip())
    except OSError as e:
        print("ERROR %s" % e); sys.exit(1)
elif mode == "udp":
    s = socket.socket(fam(sys.argv[2]), socket.SOCK_DGRAM); s.settimeout(1)
    s.connect((sys.argv[2], int(sys.argv[3])))
    for i in range(3):
        try:
            s.send(b"?"); print(s.recv(1024).decode().strip()); sys.exit(0)
        except OSError as e:
            err = e
    print("ERROR no UDP answer: %s" % err); sys.exit(1)
elif mode == "serve":
    port, tag = int(sys.argv[2]), sys.argv[3]
    tcp, udp = [], []
    for f, a in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        t = socket.socket(f); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        u = socket.socket(f, socket.SOCK_DGRAM)
        if f == socket.AF_INET6:
            for x in (t, u): x.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        t.bind((a, port)); u.bind((a, port)); t.listen(16); tcp.append(t); udp.append(u)
    if os.fork():
        os._exit(0)
    os.setsid(); print(os.getpid(), flush=True); sys.stdout.close(); [os.close(f) for f in (0, 1, 2)]
    while True:
        r, _, _ = select.select(tcp + udp, [], [], 60)
        if not r: break
        for x in r:
            if x in tcp:
                c, peer = x.accept(); c.sendall(("%s from=%s:%d\n" % (tag, peer[0], peer[1])).encode()); c.close()
                continue
            _, anc, _, peer = x.recvmsg(2048, socket.CMSG_SPACE(20))
            cm = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, d[:16] + b"\0\0\0\0") for l, ty, d in anc
                  if l == socket.IPPROTO_IPV6 and ty == socket.IPV6_PKTINFO]
            x.sendmsg([("%s from=%s:%d\n" % (tag, peer[0], peer[1])).encode()], cm, 0, peer)
'''


def _addr(text):
    return str(text).split("/")[0]


@pytest.fixture(scope="module")
def topo(host):
    hv = host.ansible.get_variables()
    v = dict(DEFAULTS)
    v.update({k: val for k, val in hv.items() if k.startswith(ROLE_PREFIX)})
    subnet = v.get(ROLE_PREFIX + "ipv6_subnet")
    if not subnet:
        assert not hv.get("linuxnet_test_ipv6"), (
            "linuxnet_test_ipv6 is true but the inventory sets no container_bridge_network_ipv6_subnet")
        pytest.skip("IPv4-only scenario (no container_bridge_network_ipv6_subnet)")
    net = ipaddress.IPv6Network(str(subnet))
    gw6 = _addr(v.get(ROLE_PREFIX + "ipv6_gateway") or (net.network_address + 1))
    py = hv.get("ansible_python_interpreter") or "python3"
    if "{{" in str(py) or str(py).startswith("auto"):
        py = "python3"
    uplink = hv.get("linuxnet_test_uplink_address") or hv.get("ansible_host") or host.backend.host
    containers = []
    for c in v[ROLE_PREFIX + "containers"]:
        addr6 = _addr(c["ipv6_address"]) if c.get("ipv6_address") else _discover6(host, c["name"])
        containers.append(dict(c, address=c.get("address") or None, address6=addr6))
    masq = v.get(ROLE_PREFIX + "ipv6_masquerade")
    return {"vars": v, "hv": hv, "py": py, "net": net, "gateway6": gw6, "uplink": uplink,
            "uplink6": hv.get("linuxnet_test_uplink_address6") or _uplink6(host, uplink),
            "containers": containers, "masquerade6": True if masq is None else bool(masq),
            "bridge": v[ROLE_PREFIX + "bridge"]}


def _discover6(host, name):
    out = host.check_output("ip -n %s -j -6 addr show scope global" % shlex.quote(name))
    for link in json.loads(out):
        for a in link.get("addr_info", []):
            if a.get("local"):
                return a["local"]
    raise AssertionError("container %s has no global IPv6 address" % name)


def _uplink6(host, uplink):
    links = json.loads(host.check_output("ip -j addr show"))
    for link in links:
        mine = [a.get("local") for a in link.get("addr_info", [])]
        if uplink in mine:
            for a in link["addr_info"]:
                if a.get("family") == "inet6" and a.get("scope") == "global" and a.get("local"):
                    return a["local"]
    raise AssertionError("no global IPv6 address on the interface holding %s; set "
                         "linuxnet_test_uplink_address6 in the inventory" % uplink)


def probe(host, topo, ns, *args):
    cmd = "%s -c %s %s" % (shlex.quote(topo["py"]), shlex.quote(PROBE), " ".join(shlex.quote(str(a)) for a in args))
    if ns:
        cmd = "ip netns exec %s %s" % (shlex.quote(ns), cmd)
    return host.run(cmd)


def _serve(host, topo, ns, port, tag):
    r = probe(host, topo, ns, "serve", port, tag)
    assert r.rc == 0 and r.stdout.strip().isdigit(), "server in %s: %s %s" % (ns, r.stdout, r.stderr)
    return int(r.stdout.strip())


def _kill(host, pid):
    host.run("kill %d" % pid)


def _seen(out):
    return out.strip().split("from=")[-1].rsplit(":", 1)[0] if "from=" in out else None


def _from_here(proto, addr, port):
    """A TCP connection / UDP datagram from this controller; the answer or an OSError."""
    if proto == "tcp":
        with socket.create_connection((addr, port), timeout=5) as s:
            s.settimeout(5)
            return s.recv(1024).decode().strip()
    with socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.5)
        s.connect((addr, port))
        for _ in range(3):
            s.send(b"?")
            try:
                return s.recv(1024).decode().strip()
            except socket.timeout:
                continue
        raise socket.timeout("no UDP answer from [%s]:%d" % (addr, port))


def _whoami6(topo):
    w = topo["hv"].get("linuxnet_test_whoami6")
    assert w, "set linuxnet_test_whoami6 ([ADDR]:PORT of a server outside the host) in the inventory"
    h, _, p = str(w).rpartition(":")
    return h.strip("[]"), int(p)


def _publications(topo):
    """(container, proto, host port, container port, host_ip) of every publication."""
    out = []
    for p in topo["vars"][ROLE_PREFIX + "published_ports"] or []:
        out.append((p["container"], str(p.get("protocol", "tcp")).lower(),
                    int(str(p["host_port"]).split("-")[0]),
                    int(str(p.get("container_port", p["host_port"])).split("-")[0]),
                    str(p.get("host_ip") or "")))
    return out


def _v6_target(topo, host_ip):
    """The IPv6 address a publication answers on, None if it serves IPv4 only."""
    if not host_ip or host_ip == "::":
        return topo["uplink6"]
    if ":" in host_ip and not ipaddress.ip_address(host_ip).is_loopback:
        return host_ip
    return None


# 1. Each container has its IPv6 address, usable at once ----------------------

def test_containers_have_their_ipv6_address_and_route(host, topo):
    seen = set()
    for c in topo["containers"]:
        name = c["name"]
        addrs = json.loads(host.check_output("ip -n %s -j -6 addr show scope global" % shlex.quote(name)))
        mine = [a for link in addrs for a in link.get("addr_info", []) if a.get("local")]
        assert [a["local"] for a in mine] == [c["address6"]], "%s has IPv6 addresses %s" % (name, mine)
        assert ipaddress.ip_address(c["address6"]) in topo["net"], (c["address6"], topo["net"])
        assert c["address6"] not in seen, "two containers have %s" % c["address6"]
        seen.add(c["address6"])
        # no duplicate address detection in the way: not tentative, never failed
        for a in mine:
            assert not a.get("tentative") and not a.get("dadfailed"), "%s: %s" % (name, a)
        routes = json.loads(host.check_output("ip -n %s -j -6 route show default" % shlex.quote(name)))
        assert [r.get("gateway") for r in routes] == [topo["gateway6"]], routes


def test_the_bridge_has_the_ipv6_gateway(host, topo):
    addrs = json.loads(host.check_output("ip -j -6 addr show dev %s" % shlex.quote(topo["bridge"])))
    mine = {a["local"]: a for link in addrs for a in link.get("addr_info", [])
            if a.get("local") and a.get("scope") == "global"}
    assert topo["gateway6"] in mine, "bridge %s has %s, want %s" % (topo["bridge"], sorted(mine), topo["gateway6"])
    a = mine[topo["gateway6"]]
    assert not a.get("tentative") and not a.get("dadfailed"), a
    assert a["prefixlen"] == topo["net"].prefixlen, a


# 2. Containers talk to each other and to the host over IPv6 ------------------

def test_containers_reach_each_other_over_ipv6(host, topo):
    cs = topo["containers"]
    assert len(cs) >= 2, "need two containers for this test"
    for a in cs:
        for b in cs:
            if a is not b:
                r = probe(host, topo, a["name"], "icmp", b["address6"])
                assert r.rc == 0, "%s -> %s: %s" % (a["name"], b["address6"], r.stdout + r.stderr)
    a, b = cs[0], cs[1]
    tag = "tcp6-%s" % b["name"]
    pid = _serve(host, topo, b["name"], C2C_PORT, tag)
    try:
        for proto in ("tcp", "udp"):
            r = probe(host, topo, a["name"], proto, b["address6"], C2C_PORT)
            assert r.rc == 0 and r.stdout.startswith(tag + " "), r.stdout
            assert _seen(r.stdout) == a["address6"], "%s: source seen %s, want %s" % (
                proto, _seen(r.stdout), a["address6"])
    finally:
        _kill(host, pid)


def test_host_and_containers_reach_each_other_over_ipv6(host, topo):
    for c in topo["containers"]:
        r = probe(host, topo, None, "icmp", c["address6"])
        assert r.rc == 0, "host -> %s: %s" % (c["address6"], r.stdout + r.stderr)
        r = probe(host, topo, c["name"], "icmp", topo["gateway6"])
        assert r.rc == 0, "%s -> %s: %s" % (c["name"], topo["gateway6"], r.stdout + r.stderr)
    tag = "host6"
    pid = _serve(host, topo, None, HOST_PORT, tag)
    try:
        for c in topo["containers"]:
            r = probe(host, topo, c["name"], "tcp", topo["gateway6"], HOST_PORT)
            assert r.rc == 0 and r.stdout.startswith(tag + " "), r.stdout
            assert _seen(r.stdout) == c["address6"], r.stdout
    finally:
        _kill(host, pid)


# 3. The IPv6 internet, through NAT66 -----------------------------------------

def test_containers_reach_the_ipv6_internet(host, topo):
    dst, port = _whoami6(topo)
    for c in topo["containers"]:
        for proto in ("tcp", "udp"):
            r = probe(host, topo, c["name"], proto, dst, port)
            assert r.rc == 0, "%s -> [%s]:%d/%s: %s" % (c["name"], dst, port, proto, r.stdout + r.stderr)
            want = topo["uplink6"] if topo["masquerade6"] else c["address6"]
            assert _seen(r.stdout) == want, "%s seen outside (%s) as %s, want %s" % (
                c["name"], proto, _seen(r.stdout), want)


# 4. Published ports over IPv6: outside, the host itself, hairpin -------------

def test_published_ports_answer_on_ipv6(host, topo):
    served = 0
    for i, (cname, proto, hport, cport, host_ip) in enumerate(_publications(topo)):
        target = _v6_target(topo, host_ip)
        if target is None:
            continue
        served += 1
        tag = "pub6-%s-%d-%d" % (cname, cport, i)
        pid = _serve(host, topo, cname, cport, tag)
        try:
            # from the controller, a machine outside the host
            answer = _from_here(proto, target, hport)
            assert answer.startswith(tag + " "), "controller -> [%s]:%d/%s: %s" % (target, hport, proto, answer)
            # from the host itself
            r = probe(host, topo, None, proto, target, hport)
            assert r.rc == 0 and r.stdout.startswith(tag + " "), "host -> [%s]:%d/%s: %s" % (
                target, hport, proto, r.stdout)
            # hairpin: every container, the publishing one too
            for c in topo["containers"]:
                r = probe(host, topo, c["name"], proto, target, hport)
                assert r.rc == 0 and r.stdout.startswith(tag + " "), "hairpin %s -> [%s]:%d/%s: %s" % (
                    c["name"], target, hport, proto, r.stdout)
        finally:
            _kill(host, pid)
    assert served, "no publication serves IPv6 in this scenario"


def test_a_publication_on_one_address_serves_that_family_only(host, topo):
    """host_ip names one address: an IPv4 one (127.0.0.1 included) is not published on
    the host's IPv6 address, an IPv6 one not on its IPv4 address."""
    scoped = [p for p in _publications(topo) if p[4] not in ("", "0.0.0.0", "::")]
    assert scoped, "no publication with a host_ip in this scenario"
    for i, (cname, proto, hport, cport, host_ip) in enumerate(scoped):
        other = topo["uplink"] if ":" in host_ip else topo["uplink6"]
        if any(p[2] == hport and p[1] == proto and p[4] in ("", "::" if ":" in other else "0.0.0.0")
               for p in _publications(topo)):
            continue   # another publication serves that port there
        tag = "scoped-%s-%d" % (cname, i)
        pid = _serve(host, topo, cname, cport, tag)
        try:
            with pytest.raises(OSError):
                answer = _from_here(proto, other, hport)
                raise AssertionError("[%s]:%d/%s answers (%s) but host_ip is %s" % (
                    other, hport, proto, answer, host_ip))
        finally:
            _kill(host, pid)


# 5. IPv6 forwarding does not cost the host its RA-learned default route ------

@pytest.fixture(scope="module")
def ra_uplink(topo):
    up = topo["hv"].get("linuxnet_test_ra_uplink")
    if not up:
        pytest.skip("no linuxnet_test_ra_uplink: this scenario's uplink has no router advertisements")
    return up


def _ra_route(host, dev):
    return host.run("ip -6 route show default proto ra dev %s" % shlex.quote(dev)).stdout.strip()


def test_forwarding_on_and_router_advertisements_still_accepted(host, topo, ra_uplink):
    conf = "/proc/sys/net/ipv6/conf/%s"
    assert host.file(conf % "all/forwarding").content_string.strip() == "1"
    assert host.file(conf % ra_uplink + "/accept_ra").content_string.strip() == "2", (
        "forwarding is on: %s must accept RAs with accept_ra=2" % ra_uplink)
    route = _ra_route(host, ra_uplink)
    assert route.startswith("default via "), "no IPv6 default route from RAs on %s: %r" % (ra_uplink, route)
    drop_in = host.file(DROP_IN)
    assert drop_in.exists, "%s missing (IPv6 forwarding must survive a reboot)" % DROP_IN
    # the route comes back from the next advertisement once deleted
    gateway = route.split()[2]
    host.check_output("ip -6 route del default via %s dev %s proto ra" % (
        shlex.quote(gateway), shlex.quote(ra_uplink)))
    start = time.monotonic()
    while not _ra_route(host, ra_uplink):
        assert time.monotonic() - start < RA_RELEARN_SECONDS, (
            "the RA default route on %s did not come back within %ds: RAs are not accepted" % (
                ra_uplink, RA_RELEARN_SECONDS))
        time.sleep(0.25)
    dst, port = _whoami6(topo)
    r = probe(host, topo, None, "tcp", dst, port)
    assert r.rc == 0 and _seen(r.stdout) == topo["uplink6"], r.stdout + r.stderr
