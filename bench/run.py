#!/usr/bin/env python3
# Copyright: linuxnet.container_network developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the same container network built three ways (and ours dual stack), at several sizes.

    scripts/sandbox /opt/linuxnet/venv-2.19/bin/python bench/run.py \
        --sizes 50,250,500 --rounds 3 --out bench/results

Methods (see bench/methods.py): `seed` (the seed article's ip/iptables commands as a
shell script), `cni` (Debian's CNI bridge + host-local + portmap plugins, invoked as a
runtime would), `ours` (ansible-playbook playbooks/site.yml with the role, connection
local), `ours6` (the same, dual stack: plus container_bridge_network_ipv6_subnet
fd00:18::/64; its spot check covers IPv6 too, issue 12).  Every trial runs in a fresh
network + mount namespace below the sandbox (bench/trial.py); within each round the
methods alternate, in a rotating order.  After
each converge the topology is spot-checked with real packets, after each teardown the
namespace must be empty, so a broken method is never reported as fast.

Writes OUT/results-<time>.json and OUT/latest.json; unless --smoke or --no-docs, also
docs/benchmarks.md and docs/benchmarks.png (bench/report.py).  --dual-stack-only runs
ours and ours6 alone and writes OUT/dualstack-<time>.json and OUT/latest-dualstack.json;
the docs then keep their tables from OUT/latest.json and take the dual-stack section
from this run.  After ours' converge, one `network_info` call (read + drift, issue 14) is
timed as phase `info` (and checked: N containers listed, drift changed false);
--info-only runs ours alone and writes OUT/info-<time>.json and OUT/latest-info.json, the
docs then take their network_info table from this run (the rest as with --dual-stack-only).

Fleet phase (issue 13, bench/fleet.py): a lab of --fleet-hosts (3) simulated hosts over
real SSH (tests/lab/lab.py) in one fleet per --fleet-backends (host-gw on one segment,
vxlan across two), --fleet-sizes (100) containers on each host; converge, rerun (changed=0
on every host) and teardown of playbooks/site.yml with every host in parallel, each timed
as a whole ansible-playbook run, with spot checks.  Runs after the other trials of a full
run (not with --smoke, --dual-stack-only, --info-only or --no-fleet); --fleet-only runs it
alone (--sizes are then the containers per host, default 100) and writes
OUT/fleet-<time>.json and OUT/latest-fleet.json, the docs then take their fleet section
from this run (--smoke --fleet-only: correctness only, OUT/latest-fleet-smoke.json).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import (COLLECTIONS, REPO, VENV, collection_mismatch, netns_inode,  # noqa: E402
                    require_sandbox)
import fleet  # noqa: E402

ALL_METHODS = ["seed", "cni", "ours", "ours6"]
# issue 12: a dual-stack converge stays within this factor of the IPv4-only one (N = 250)
DUAL_STACK_MAX_RATIO = 1.3
TRIAL_TIMEOUT = 3600


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def ours_available():
    missing = [p for p in ("playbooks/site.yml", "roles/container_bridge_network/tasks",
                           "plugins/modules/network_info.py")
               if not os.path.exists(os.path.join(REPO, p))]
    wrong = collection_mismatch()
    if wrong:
        missing.append("the collection on the collections path (%s)" % wrong)
    return not missing, missing


def run_trial(method, n, memory=False, keep=False, extra=()):
    fd, out = tempfile.mkstemp(prefix="linuxnet-bench-trial.", suffix=".json")
    os.close(fd)
    cmd = ["unshare", "--net", "--mount", "--propagation", "private", "--",
           sys.executable, os.path.join(HERE, "trial.py"), "--inside", "--method", method,
           "--n", str(n), "--out", out, "--parent-netns", str(netns_inode())]
    if memory:
        cmd.append("--memory")
    cmd += list(extra)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=TRIAL_TIMEOUT)
        output = p.stdout
    except subprocess.TimeoutExpired as exc:
        output = "timeout after %ds\n%s" % (TRIAL_TIMEOUT, exc.stdout or "")
    try:
        with open(out) as f:
            res = json.load(f)
    except (OSError, ValueError):
        res = {"method": method, "n": n, "ok": False, "error": "trial wrote no result",
               "output": output[-4000:]}
    finally:
        os.unlink(out)
    if output.strip():
        res["output"] = output[-4000:]
    res["trial_wall_s"] = time.perf_counter() - t0
    wd = res.get("workdir")
    if wd and os.path.isdir(wd) and res.get("ok") and not keep:
        shutil.rmtree(wd, ignore_errors=True)
    return res


def _cmd_version(cmd, pattern=None):
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=60).stdout.strip()
    except OSError as exc:
        return "unavailable (%s)" % exc
    if pattern:
        m = re.search(pattern, out)
        return m.group(1) if m else out.splitlines()[0] if out else ""
    return out.splitlines()[0] if out else ""


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    osname = ""
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            m = re.search(r'^PRETTY_NAME="?([^"\n]*)', f.read(), re.M)
            osname = m.group(1) if m else ""
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    vpy = os.path.join(VENV, "bin", "python")
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": osname,
        "controller_python": _cmd_version([vpy, "--version"], r"Python (\S+)"),
        "ansible_core": _cmd_version([vpy, "-c", "import ansible.release as r; print(r.__version__)"]),
        "pyroute2": _cmd_version([vpy, "-c", "from importlib.metadata import version as v; print(v('pyroute2'))"]),
        "cni_plugins": _cmd_version(["dpkg-query", "-W", "-f=${Version}", "containernetworking-plugins"]),
        "iproute2": _cmd_version(["ip", "-V"], r"(iproute2-[\w.]+)"),
        "iptables": _cmd_version(["iptables", "--version"]),
        "nft": _cmd_version(["nft", "--version"]),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "git_commit": _cmd_version(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]),
        "git_dirty_role_or_plugins": bool(_cmd_version(
            ["git", "-C", REPO, "status", "--porcelain", "--", "plugins", "roles", "playbooks"])),
    }


# ------------------------------------------------------------------------ aggregation
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(trials, sizes, methods):
    s = {"per": {}, "ratios": {}, "marginal_ms": {}, "targets": {}}
    for m in methods:
        s["per"][m] = {}
        for n in sizes:
            ts = [t for t in trials if t["method"] == m and t["n"] == n and t.get("ok")]
            if not ts:
                continue
            row = {"rounds": len(ts),
                   "converge_s": med([t["converge_s"] for t in ts]),
                   "teardown_s": med([t["teardown_s"] for t in ts]),
                   "converge_all_s": [round(t["converge_s"], 4) for t in ts],
                   "teardown_all_s": [round(t["teardown_s"], 4) for t in ts]}
            if m.startswith("ours"):
                row["rerun_s"] = med([t.get("rerun_s") for t in ts])
                row["rerun_all_s"] = [round(t["rerun_s"], 4) for t in ts]
                row["rerun_changed"] = [t.get("rerun_changed") for t in ts]
                phases = ["converge", "rerun", "teardown"]
                if all(t.get("info_s") is not None for t in ts):
                    # issue 14: network_info (read + drift) after converge
                    phases.append("info")
                    row["info_s"] = med([t["info_s"] for t in ts])
                    row["info_all_s"] = [round(t["info_s"], 4) for t in ts]
                    row["info_containers"] = [t["info_info"]["result"]["containers"] for t in ts]
                    row["info_drift_changed"] = [t["info_info"]["result"]["drift_changed"]
                                                 for t in ts]
                for phase in phases:
                    row["%s_module_s" % phase] = med(
                        [t["%s_info" % phase].get("module_seconds") for t in ts])
                    row["%s_module_calls" % phase] = ts[0]["%s_info" % phase].get("module_calls")
            s["per"][m][str(n)] = row
    for n in sizes:
        o = s["per"].get("ours", {}).get(str(n))
        r = {}
        for base in ("seed", "cni"):
            b = s["per"].get(base, {}).get(str(n))
            if o and b:
                r["ours/%s" % base] = {ph: o["%s_s" % ph] / b["%s_s" % ph]
                                       for ph in ("converge", "teardown")}
        if r:
            s["ratios"][str(n)] = r
    s["dual_stack"] = dual_stack(s, sizes, trials)
    for m in methods:
        keys = [("converge_s", "converge")]
        if m.startswith("ours"):
            keys.append(("converge_module_s", "converge_modules"))
        for key, label in keys:
            pts = [(n, s["per"][m][str(n)][key]) for n in sizes if str(n) in s["per"][m]
                   and s["per"][m][str(n)].get(key) is not None]
            if len(pts) < 2:
                continue
            pairs = {"%d-%d" % (a[0], b[0]): 1000.0 * (b[1] - a[1]) / (b[0] - a[0])
                     for a, b in zip(pts, pts[1:])}
            first, last = pts[0], pts[-1]
            s["marginal_ms"]["%s:%s" % (m, label)] = {
                "pairs": pairs,
                "overall": 1000.0 * (last[1] - first[1]) / (last[0] - first[0])}
    s["targets"] = targets(s, sizes, trials)
    return s


def dual_stack(s, sizes, trials):
    """ours6 against ours at each N: the ratio of the medians, and the median of the
    per-round ratios (the two ran in the same round, one after the other, so the pairs
    share the machine's load of that moment)."""
    out = {}
    for n in sizes:
        o, o6 = s["per"].get("ours", {}).get(str(n)), s["per"].get("ours6", {}).get(str(n))
        if not (o and o6):
            continue
        row = {}
        for ph in ("converge", "rerun", "teardown"):
            pairs = []
            for t6 in trials:
                if t6["method"] != "ours6" or t6["n"] != n or not t6.get("ok"):
                    continue
                t4 = [t for t in trials if t["method"] == "ours" and t["n"] == n
                      and t.get("round") == t6.get("round") and t.get("ok")]
                if t4 and t4[0].get("%s_s" % ph) and t6.get("%s_s" % ph) is not None:
                    pairs.append(t6["%s_s" % ph] / t4[0]["%s_s" % ph])
            row[ph] = {"ours_s": o["%s_s" % ph], "ours6_s": o6["%s_s" % ph],
                       "ratio_of_medians": o6["%s_s" % ph] / o["%s_s" % ph],
                       "per_round": [round(x, 3) for x in pairs],
                       "median_per_round": med(pairs)}
        row["converge_within_target"] = row["converge"]["ratio_of_medians"] <= DUAL_STACK_MAX_RATIO
        out[str(n)] = row
    return out


def targets(s, sizes, trials):
    n = 250 if 250 in sizes else (sorted(sizes, key=lambda x: abs(x - 250))[0] if sizes else None)
    t = {"at_n": n}
    o = s["per"].get("ours", {}).get(str(n))
    sd = s["per"].get("seed", {}).get(str(n))
    if not o:
        t["status"] = "ours did not produce a result at N=%s" % n
        return t
    if sd:
        ratio = o["converge_s"] / sd["converge_s"]
        t["converge_le_half_seed"] = {"ours_s": o["converge_s"], "seed_s": sd["converge_s"],
                                      "ratio": ratio, "met": ratio <= 0.5}
        t["teardown_faster_than_seed"] = {"ours_s": o["teardown_s"], "seed_s": sd["teardown_s"],
                                          "ratio": o["teardown_s"] / sd["teardown_s"],
                                          "met": o["teardown_s"] < sd["teardown_s"]}
    changed = [c for c in o.get("rerun_changed", [])]
    t["rerun_le_third_converge_changed0"] = {
        "rerun_s": o["rerun_s"], "converge_s": o["converge_s"],
        "ratio": o["rerun_s"] / o["converge_s"], "changed": changed,
        "met": o["rerun_s"] <= o["converge_s"] / 3.0 and all(c == 0 for c in changed)}
    mg = s["marginal_ms"].get("ours:converge_modules")
    if mg:
        t["marginal_kernel_side_le_3ms"] = {"ms_per_container": mg["overall"], "pairs": mg["pairs"],
                                            "met": mg["overall"] <= 3.0}
    ds = s.get("dual_stack", {}).get(str(n))
    if ds:
        c = ds["converge"]
        t["dual_stack_converge_le_1_3x_ipv4"] = {
            "ours_s": c["ours_s"], "ours6_s": c["ours6_s"], "ratio": c["ratio_of_medians"],
            "median_per_round": c["median_per_round"], "max_ratio": DUAL_STACK_MAX_RATIO,
            "met": c["ratio_of_medians"] <= DUAL_STACK_MAX_RATIO}
    elif "ours6" in s["per"]:
        t["dual_stack_converge_le_1_3x_ipv4"] = {"met": False, "status": "ours or ours6 has no "
                                                 "result at N=%s" % n}
    return t


def memory_summary(mem_trials):
    out = {}
    for t in mem_trials:
        recs = t.get("memory") or []
        if not recs:
            continue
        per_mod = {}
        for r in recs:
            per_mod[r["module"]] = max(per_mod.get(r["module"], 0), r["maxrss_kib"])
        out[str(t["n"])] = {"peak_kib": max(per_mod.values()), "per_module_kib": per_mod,
                            "ok": t.get("ok")}
    return out


def summarize_fleet(trials, sizes, backends):
    """Per backend and containers per host: medians of the whole ansible-playbook runs."""
    out = {}
    for b in backends:
        for n in sizes:
            ts = [t for t in trials if t["backend"] == b and t["n"] == n and t.get("ok")]
            if not ts:
                continue
            row = {"backend": b, "n": n, "hosts": ts[0]["hosts"], "forks": ts[0]["forks"],
                   "rounds": len(ts), "lab_up_s": med([t.get("lab_up_s") for t in ts])}
            for ph in ("converge", "rerun", "teardown"):
                row["%s_s" % ph] = med([t["%s_s" % ph] for t in ts])
                row["%s_all_s" % ph] = [round(t["%s_s" % ph], 4) for t in ts]
            row["rerun_changed"] = [t["rerun_changed"] for t in ts]
            row["lab_up_failures"] = sum(len(t.get("lab_up_failures") or []) for t in ts)
            row["lab_down_retries"] = sum(1 for t in ts if t.get("lab_down_first_error"))
            row["ping"] = [t["check"]["ping"]["from"] + " -> " + t["check"]["ping"]["to"] +
                           " " + t["check"]["ping"]["address"] for t in ts]
            out["%s:%d" % (b, n)] = row
    return out


def run_fleet(a, sizes, failures):
    backends = [b for b in a.fleet_backends.split(",") if b]
    trials = []
    for r in range(a.rounds):
        for n in sizes:
            for b in (backends if r % 2 == 0 else backends[::-1]):
                t0 = time.perf_counter()
                res = fleet.run_isolated(b, a.fleet_hosts, n, keep=a.keep)
                res["round"] = r
                res["trial_wall_s"] = time.perf_counter() - t0
                trials.append(res)
                log("round %d fleet %s %d hosts x N=%d converge=%s rerun=%s changed=%s "
                    "teardown=%s lab_up=%s check=%s clean=%s" % (
                        r + 1, b, a.fleet_hosts, n, _f(res.get("converge_s")),
                        _f(res.get("rerun_s")), res.get("rerun_changed"),
                        _f(res.get("teardown_s")), _f(res.get("lab_up_s")),
                        res.get("check_ok"), res.get("clean")))
                if res.get("lab_up_failures"):
                    log("  (lab.py up failed %d time(s) before, each in a new sandbox: %s)" % (
                        len(res["lab_up_failures"]), res["lab_up_failures"][-1][-300:]))
                if not res.get("ok"):
                    failures.append({"method": res["method"], "n": n, "round": r,
                                     "error": res.get("error"), "workdir": res.get("workdir"),
                                     "check": res.get("check"), "traceback": res.get("traceback")})
                    log("FAILED: %s\n%s" % (res.get("error"), res.get("traceback") or ""))
    return {"hosts": a.fleet_hosts, "sizes": sizes, "backends": backends, "rounds": a.rounds,
            "summary": summarize_fleet(trials, sizes, backends), "trials": trials}


# ----------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=None,
                    help="containers (default 50,250,500; with --fleet-only: per host, "
                         "default 100)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--methods", default=",".join(ALL_METHODS))
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results"))
    ap.add_argument("--smoke", action="store_true",
                    help="correctness only: every method converges, passes the spot check "
                         "and tears down to nothing; exit 1 otherwise; no docs")
    ap.add_argument("--dual-stack-only", action="store_true",
                    help="issue 12: only ours and ours6 (alternating in every round); written "
                         "to dualstack-*.json / latest-dualstack.json, the docs' other tables "
                         "stay those of latest.json")
    ap.add_argument("--info-only", action="store_true",
                    help="issue 14: only ours (converge, network_info, rerun, teardown); "
                         "written to info-*.json / latest-info.json, the docs' other tables "
                         "stay those of latest.json (and latest-dualstack.json)")
    ap.add_argument("--fleet-only", action="store_true",
                    help="issue 13: only the fleet phase (lab hosts over SSH, one fleet); "
                         "written to fleet-*.json / latest-fleet.json, the docs' other tables "
                         "stay those of latest.json")
    ap.add_argument("--no-fleet", action="store_true", help="skip the fleet phase of a full run")
    ap.add_argument("--fleet-sizes", default="100", help="containers per host (full run)")
    ap.add_argument("--fleet-hosts", type=int, default=3)
    ap.add_argument("--fleet-backends", default="host-gw,vxlan")
    ap.add_argument("--no-memory", action="store_true", help="skip ours' peak-memory pass")
    ap.add_argument("--no-docs", action="store_true", help="do not regenerate docs/benchmarks.*")
    ap.add_argument("--keep", action="store_true", help="keep every trial's work directory")
    ap.add_argument("--ours-teardown-without-ports", action="store_true",
                    help="tear ours down with container_bridge_network_published_ports: [] "
                         "(work-around for a role whose state=absent fails on listed ports; "
                         "recorded in the result's notes)")
    a = ap.parse_args()
    require_sandbox()
    if a.sizes is None:
        a.sizes = a.fleet_sizes if a.fleet_only else "50,250,500"
    sizes = [int(x) for x in a.sizes.split(",") if x.strip()]
    fleet_sizes = sizes if a.fleet_only else [int(x) for x in a.fleet_sizes.split(",") if x.strip()]
    methods = [m for m in a.methods.split(",") if m]
    if sum(map(bool, (a.dual_stack_only, a.info_only, a.fleet_only))) > 1:
        ap.error("--dual-stack-only, --info-only and --fleet-only exclude each other")
    if a.fleet_only:
        methods = []
    if [b for b in a.fleet_backends.split(",") if b not in fleet.BACKENDS] or a.fleet_hosts < 2:
        ap.error("bad --fleet-backends (%s) or --fleet-hosts (>= 2)" % ",".join(fleet.BACKENDS))
    if a.dual_stack_only:
        methods = ["ours", "ours6"]
    if a.info_only:
        methods = ["ours"]
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad or not sizes or a.rounds < 1:
        ap.error("bad --methods/--sizes/--rounds")
    avail, missing = ours_available()
    notes = []
    if (a.fleet_only or any(m.startswith("ours") for m in methods)) and not avail:
        msg = "method ours UNAVAILABLE: %s missing in %s" % (", ".join(missing), REPO)
        log(msg)
        notes.append(msg)
    extra = []
    if a.ours_teardown_without_ports:
        extra.append("--ours-teardown-without-ports")
        notes.append("ours was torn down with state=absent and published_ports: [] "
                     "(--ours-teardown-without-ports), not with its converge variables")
    os.makedirs(a.out, exist_ok=True)
    info = machine()
    info["collections_path"] = COLLECTIONS
    log("machine: %s" % json.dumps(info))
    trials, failures = [], []
    started = datetime.datetime.now(datetime.timezone.utc)
    for r in range(a.rounds):
        for si, n in enumerate(sizes if methods else ()):
            k = (r + si) % len(methods)
            order = methods[k:] + methods[:k]
            for m in order:
                if m.startswith("ours") and not avail:
                    failures.append({"method": m, "n": n, "round": r, "error": notes[-1]})
                    continue
                res = run_trial(m, n, keep=a.keep, extra=extra if m.startswith("ours") else ())
                res["round"] = r
                trials.append(res)
                line = "round %d N=%d %-4s converge=%s teardown=%s" % (
                    r + 1, n, m, _f(res.get("converge_s")), _f(res.get("teardown_s")))
                if res.get("info_s") is not None:
                    r_ = res["info_info"]["result"]
                    line += " info=%s containers=%s drift_changed=%s" % (
                        _f(res["info_s"]), r_["containers"], r_["drift_changed"])
                if m.startswith("ours"):
                    line += " rerun=%s changed=%s" % (_f(res.get("rerun_s")), res.get("rerun_changed"))
                line += " check=%s clean=%s" % (res.get("check_ok"), res.get("clean"))
                log(line)
                if not res.get("ok"):
                    failures.append({k2: res.get(k2) for k2 in
                                     ("method", "n", "round", "error", "check", "leftovers",
                                      "traceback", "output", "workdir")})
                    log("FAILED: %s\n%s" % (res.get("error"), res.get("traceback") or res.get("output") or ""))
    mem_trials = []
    if "ours" in methods and avail and not a.no_memory and not a.smoke and not a.dual_stack_only \
            and not a.info_only:
        for n in sizes:
            res = run_trial("ours", n, memory=True, keep=a.keep, extra=extra)
            mem_trials.append(res)
            log("memory pass N=%d ok=%s" % (n, res.get("ok")))
            if not res.get("ok"):
                failures.append({"method": "ours(memory)", "n": n, "error": res.get("error"),
                                 "workdir": res.get("workdir")})
    fleet_result = None
    if a.fleet_only or not (a.no_fleet or a.smoke or a.dual_stack_only or a.info_only):
        if avail:
            fleet_result = run_fleet(a, fleet_sizes, failures)
        else:
            failures.append({"method": "fleet", "n": fleet_sizes, "error": notes[-1]})
    info["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    result = {
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([os.path.relpath(sys.argv[0], REPO) if sys.argv[0].startswith(REPO)
                             else sys.argv[0]] + sys.argv[1:]),
        "sizes": sizes, "rounds": a.rounds, "methods": methods, "smoke": a.smoke,
        "machine": info, "notes": notes,
        "summary": summarize(trials, sizes, methods),
        "memory": memory_summary(mem_trials),
        "failures": failures,
        "trials": [{k: v for k, v in t.items() if k not in ("output",)} for t in trials],
        "fleet": fleet_result,
    }
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    kind, latest = "results", "latest.json"
    if a.smoke:
        kind, latest = "smoke", "latest-smoke.json"
    elif a.dual_stack_only:
        kind, latest = "dualstack", "latest-dualstack.json"
    elif a.info_only:
        kind, latest = "info", "latest-info.json"
    if a.fleet_only:
        kind, latest = ("fleet-smoke", "latest-fleet-smoke.json") if a.smoke else \
            ("fleet", "latest-fleet.json")
    name = "%s-%s.json" % (kind, stamp)
    for fn in (name, latest):
        with open(os.path.join(a.out, fn), "w") as f:
            json.dump(result, f, indent=1)
    log("wrote %s" % os.path.join(a.out, name))
    if not a.smoke and not a.no_docs:
        import report
        main_path = os.path.join(a.out, "latest.json")
        if a.dual_stack_only and os.path.exists(main_path):
            with open(main_path) as f:
                md, png = report.generate(json.load(f), dual=result,
                                          info=report.load_info(a.out),
                                          fleet=report.load_fleet(a.out))
        elif a.info_only and os.path.exists(main_path):
            with open(main_path) as f:
                md, png = report.generate(json.load(f), info=result,
                                          dual=report.load_dual(a.out),
                                          fleet=report.load_fleet(a.out))
        elif a.fleet_only and os.path.exists(main_path):
            with open(main_path) as f:
                md, png = report.generate(json.load(f), fleet=result,
                                          dual=report.load_dual(a.out),
                                          info=report.load_info(a.out))
        else:
            md, png = report.generate(result)
        log("wrote %s and %s" % (md, png))
    if failures:
        log("%d failure(s):" % len(failures))
        for f in failures:
            log("  %s N=%s: %s" % (f.get("method"), f.get("n"), f.get("error")))
        return 1
    if fleet_result:
        log("fleet: %d trial(s) converged, passed their checks, reran with changed=0 and "
            "tore down to nothing" % len(fleet_result["trials"]))
    log("all %d trial(s) converged, passed their checks and tore down to nothing" % len(trials))
    return 0


def _f(x):
    return "-" if x is None else "%.3fs" % x


if __name__ == "__main__":
    sys.exit(main())
