#!/usr/bin/env python3
# Copyright: Contributors to the linuxnet.container_network collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's servers and probes (``lab.py serve``, ``probe``): whoami over TCP and UDP, ICMP."""

import ipaddress
import os
import signal
import socket
import struct
import threading
import time

from lab_common import (
    is_v6)


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
