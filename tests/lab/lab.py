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

The code is split by job, beside this file (the command line): lab_common.py
(constants, helpers), lab_world.py (up), lab_firewall.py (foreign firewalls, radvd),
lab_inventory.py, lab_teardown.py (down), lab_access.py (exec, route, route6),
lab_probes.py (serve, probe), lab_checks.py (check).
"""

import argparse
import sys

from lab_common import (
    DEFAULT_PYTHON,
    FIREWALL_ALIASES,
    FIREWALL_CHOICES,
    FLEET_BACKENDS,
    LabError,
    SEGMENTS,
    guard,
    log)
from lab_world import (
    cmd_up)
from lab_firewall import (
    cmd_fw_keep)
from lab_inventory import (
    cmd_inventory)
from lab_teardown import (
    cmd_down)
from lab_access import (
    cmd_exec,
    cmd_route,
    cmd_route6)
from lab_probes import (
    cmd_probe,
    cmd_serve)
from lab_checks import (
    cmd_check)


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
