# Copyright: linuxnet.container_network developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One trial: one method, one N, in a FRESH network + mount namespace.

Started by bench/run.py as
    unshare --net --mount --propagation private -- python bench/trial.py --inside ...
so that no two trials ever see each other's links, namespaces, rules, IPAM state or
sysctl drop-ins.  Converge / (info) / (rerun) / teardown are timed here, around the method's own
commands only; setting up the namespace and the checks are not timed.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (FIXTURE_LINKS, UPLINK, UPLINK_ADDR, UPLINK_ADDR6, UPLINK_PEER,  # noqa: E402
                    leftovers, netns_inode, read_forwarding6, require_sandbox, sh, spot_check)
from methods import METHODS  # noqa: E402


def prepare_namespace():
    """Private /run/netns, /var/lib/cni and /etc/sysctl.d; lo up; an uplink stand-in."""
    for d in ("/run/netns", "/var/lib/cni"):
        os.makedirs(d, exist_ok=True)
        sh(["mount", "-t", "tmpfs", "-o", "mode=0755", "linuxnet-bench", d])
    sysctl_dir = tempfile.mkdtemp(prefix="linuxnet-bench-sysctl.")
    os.makedirs("/etc/sysctl.d", exist_ok=True)
    sh(["mount", "--bind", sysctl_dir, "/etc/sysctl.d"])
    sh(["ip", "link", "set", "lo", "up"])
    sh(["ip", "link", "add", UPLINK, "type", "veth", "peer", "name", UPLINK_PEER])
    sh(["ip", "addr", "add", UPLINK_ADDR + "/24", "dev", UPLINK])
    # the host's IPv6 address (the dual-stack spot check connects to it); nodad: usable
    # at once, as a configured uplink address would be by the time a network is built
    sh(["ip", "-6", "addr", "add", UPLINK_ADDR6 + "/64", "dev", UPLINK, "nodad"])
    sh(["ip", "link", "set", UPLINK, "up"])
    sh(["ip", "link", "set", UPLINK_PEER, "up"])
    return sysctl_dir


def settle_links(timeout=60.0):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        out = subprocess.run(["ip", "-o", "link", "show"], stdout=subprocess.PIPE,
                             text=True).stdout
        names = {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}
        if not names - FIXTURE_LINKS:
            break
        time.sleep(0.005)
    return time.perf_counter() - t0


def timed(fn):
    t0 = time.perf_counter()
    info = fn()
    return time.perf_counter() - t0, info or {}


def run_trial(res, workdir, memory, profile_dir=None, teardown_without_ports=False):
    """Fills `res` as it goes, so a failure part-way keeps what was measured."""
    method, n = res["method"], res["n"]
    ours = method.startswith("ours")
    ipv6 = getattr(METHODS[method], "ipv6", False)
    kw = {"memory_wrapper": True} if (ours and memory) else {}
    if ours and profile_dir:
        kw["profile_dir"] = profile_dir
    if ours and teardown_without_ports:
        kw["teardown_without_ports"] = True
    m = METHODS[method](n, workdir, **kw)
    forwarding6 = read_forwarding6()
    res["converge_s"], info = timed(m.converge)
    res["converge_info"] = info
    res["check_ok"], res["check"] = spot_check(n, ipv6=ipv6)
    if not res["check_ok"]:
        res["error"] = "spot check after converge failed"
        return res
    if getattr(m, "measure_info", False):
        # issue 14: one network_info call (read + drift) of the converged network
        res["info_s"], info = timed(m.info)
        res["info_info"] = info
        r = info["result"]
        res["info_ok"] = (r["containers"] == n and r["containers_attached"] == n
                          and r["drift_present"] and r["drift_changed"] is False
                          and not r["changed"])
        if not res["info_ok"]:
            res["check_ok"] = False
            res["error"] = ("network_info after converge: %d container(s) listed (%d attached) "
                            "of %d, drift %s, changed %s" % (
                                r["containers"], r["containers_attached"], n,
                                "missing" if not r["drift_present"] else
                                "changed=%s %s" % (r["drift_changed"], r["drift_actions"]),
                                r["changed"]))
            return res
    if hasattr(m, "rerun"):
        res["rerun_s"], info = timed(m.rerun)
        res["rerun_info"] = info
        res["rerun_changed"] = info["recap"]["changed"]
        ok2, _ = spot_check(n, ipv6=ipv6)
        res["check_ok"] &= ok2
    t0 = time.perf_counter()
    info = m.teardown() or {}
    res["teardown_cmd_s"] = time.perf_counter() - t0
    # A deleted namespace is destroyed asynchronously by the kernel, taking its links
    # with it; teardown counts until no link of the topology is left, for every method.
    res["teardown_settle_s"] = settle_links()
    res["teardown_s"] = time.perf_counter() - t0
    res["teardown_info"] = info
    res["clean"], res["leftovers"] = leftovers(forwarding6=forwarding6)
    if hasattr(m, "memory"):
        res["memory"] = m.memory()
    res["ok"] = bool(res["check_ok"] and res["clean"])
    if not res["clean"]:
        res["error"] = "teardown left something behind"
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--inside", action="store_true", required=True)
    ap.add_argument("--method", choices=sorted(METHODS), required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--parent-netns", type=int, required=True)
    ap.add_argument("--memory", action="store_true",
                    help="ours: run modules through the peak-memory wrapper")
    ap.add_argument("--profile-dir", help="ours: run modules under cProfile, .prof files here")
    ap.add_argument("--ours-teardown-without-ports", action="store_true",
                    help="ours: tear down with container_bridge_network_published_ports: []")
    a = ap.parse_args()
    require_sandbox()
    if netns_inode() == a.parent_netns:
        raise SystemExit("bench trial: not in a fresh network namespace")
    res = {"method": a.method, "n": a.n, "ok": False}
    workdir = tempfile.mkdtemp(prefix="linuxnet-bench-%s-%d." % (a.method, a.n))
    sysctl_dir = None
    try:
        sysctl_dir = prepare_namespace()
        run_trial(res, workdir, a.memory, a.profile_dir, a.ours_teardown_without_ports)
    except Exception as exc:  # reported, never hidden: run.py fails the run on it
        res["error"] = "%s: %s" % (type(exc).__name__, exc)
        res["traceback"] = traceback.format_exc()
    finally:
        res["workdir"] = workdir
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
        try:
            subprocess.run(["umount", "/etc/sysctl.d"], stderr=subprocess.DEVNULL)
            if sysctl_dir:
                os.rmdir(sysctl_dir)
        except OSError:
            pass
    return 0 if res.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
