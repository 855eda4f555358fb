#!/usr/bin/env python3
# Copyright: linuxnet.container_network developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write docs/benchmarks.md and docs/benchmarks.png from a bench/run.py result.

    /opt/linuxnet/venv-2.19/bin/python bench/report.py [bench/results/latest.json \
        [bench/results/latest-dualstack.json [bench/results/latest-info.json
        [bench/results/latest-fleet.json]]]]

The dual-stack section (issue 12: ours6 against ours) comes from the result itself when it
has ours6, else from the dual-stack-only result (`run.py --dual-stack-only`, written to
bench/results/latest-dualstack.json) when there is one.  Likewise the network_info table
(issue 14: read + drift after ours' converge): from the result itself when its ours trials
have the info phase, else from the info-only result (`run.py --info-only`,
bench/results/latest-info.json).  And the fleet section (issue 13: 3 lab hosts in one
fleet, bench/fleet.py): from the result itself when it ran the fleet phase, else from the
fleet-only result (`run.py --fleet-only`, bench/results/latest-fleet.json).
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DOCS = os.path.join(REPO, "docs")
RESULTS = os.path.join(HERE, "results")
LABEL = {"seed": "seed script (ip + iptables)", "cni": "CNI bridge + portmap",
         "ours": "our role (ansible-playbook)", "ours6": "our role, dual stack (IPv4 + IPv6)"}
COLOR = {"seed": "tab:orange", "cni": "tab:blue", "ours": "tab:green", "ours6": "tab:purple"}


def _s(x, unit="s"):
    if x is None:
        return "–"
    if unit == "ms":
        return "%.2f ms" % x
    return "%.3f s" % x if x < 10 else "%.2f s" % x


def _met(flag):
    return "**met**" if flag else "**NOT met**"


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    per = result["summary"]["per"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, phase, title in ((axes[0], "converge", "converge (first run)"),
                             (axes[1], "teardown", "teardown")):
        for m in result["methods"]:
            rows = per.get(m, {})
            ns = sorted(int(n) for n in rows)
            if not ns:
                continue
            ax.plot(ns, [rows[str(n)]["%s_s" % phase] for n in ns], "o-", color=COLOR[m],
                    label=LABEL[m])
            if m == "ours" and phase == "converge":  # (ours6: converge and teardown only)
                ax.plot(ns, [rows[str(n)]["rerun_s"] for n in ns], "s--", color=COLOR[m],
                        label="our role, idempotent rerun")
                ax.plot(ns, [rows[str(n)]["converge_module_s"] for n in ns], "^:",
                        color=COLOR[m], label="our role, module time only")
        ax.set_title(title)
        ax.set_xlabel("containers (N)")
        ax.set_ylabel("seconds (median of %d rounds)" % result["rounds"])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    m = result["machine"]
    fig.suptitle("linuxnet.container_network benchmark: %s, %s CPUs, kernel %s" % (
        m["cpu_model"], m["nproc"], m["kernel"]), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def task_breakdown(result):
    """phase -> [(task label, [median duration per N])] for ours (same task list for all N)."""
    import statistics
    out = {}
    for phase in ("converge", "rerun", "teardown"):
        per_n = []
        for n in result["sizes"]:
            ts = [t for t in result["trials"] if t["method"] == "ours" and t["n"] == n
                  and t.get("ok") and t.get("%s_info" % phase)]
            per_n.append(ts)
        if not all(per_n):
            continue
        first = per_n[0][0]["%s_info" % phase]["tasks"]
        if any(len(t["%s_info" % phase]["tasks"]) != len(first) for ts in per_n for t in ts):
            continue
        rows = []
        for i, task in enumerate(first):
            if all(t["%s_info" % phase]["tasks"][i].get("status") == "skipped"
                   for ts in per_n for t in ts):
                continue  # never ran (e.g. the role's prerequisites when pyroute2 is there)
            label = "`%s` %s" % (task["action"].replace("linuxnet.container_network.", ""),
                                 task["name"].split(" : ", 1)[-1][:48])
            rows.append((label, [statistics.median(t["%s_info" % phase]["tasks"][i]["duration"]
                                                   for t in ts) for ts in per_n]))
        out[phase] = rows
    return out


def markdown(result, dual=None, info=None, fleet=None):
    """`dual`: a dual-stack-only result (ours and ours6) for the dual-stack section when
    `result` itself has no ours6; `info`: an info-only result (ours with the network_info
    phase) for the network_info table when `result`'s ours has no info phase."""
    s = result["summary"]
    per, mach = s["per"], result["machine"]
    sizes = result["sizes"]
    L = []
    A = L.append
    A("# Benchmarks")
    A("")
    A("Generated by `bench/report.py` from a `bench/run.py` run (%s → %s UTC); do not edit by "
      "hand. Rerun with `scripts/bench.sh` (setup + sandbox + defaults)." % (
          result["started_utc"], result["finished_utc"]))
    A("")
    A("![time against N](benchmarks.png)")
    A("")
    A("## What is measured")
    A("")
    A("The same topology is built three ways: N containers (one network namespace each) on "
      "bridge `br0` 172.18.0.1/16 through veth pairs, a default route via the bridge in each "
      "container, `ip_forward`, masquerade of 172.18.0.0/16 leaving through anything but the "
      "bridge, and one published TCP port per 10 containers (`c10` → host port 8010, `c20` → "
      "8020, ...).")
    A("")
    A("| method | converge | teardown |")
    A("| --- | --- | --- |")
    A("| `seed` | the seed article's commands as one generated shell script: `ip netns add`, "
      "`ip link add … type veth`, `set … netns`, `ip -n NS addr/link/route`, `master br0`, "
      "`sysctl`, `iptables -t nat -A POSTROUTING … MASQUERADE`, a PREROUTING + OUTPUT DNAT pair "
      "per published port | its script: `iptables -D` of each rule, `ip netns delete` each, "
      "delete `br0` |")
    A("| `cni` | Debian's containernetworking-plugins %s run as a runtime would: `ip netns add`, "
      "then `bridge` (isGateway, ipMasq, host-local IPAM on 172.18.0.0/16) and `portmap` "
      "(runtimeConfig portMappings) with `CNI_COMMAND=ADD`, chained by prevResult | `portmap` "
      "and `bridge` with `CNI_COMMAND=DEL` in reverse order, `ip netns delete`, delete `br0` "
      "(CNI never deletes its bridge) |" % mach.get("cni_plugins", ""))
    A("| `ours` | `ansible-playbook playbooks/site.yml -i localhost, -c local -e @vars.json` "
      "with `container_bridge_network_containers` = N × `{name: cN}` and the published ports | "
      "the same with `container_bridge_network_state: absent` |")
    A("| `ours6` | `ours`, dual stack (issue 12): the same plus "
      "`container_bridge_network_ipv6_subnet: fd00:18::/64`, so every container also gets an "
      "allocated IPv6 address and an IPv6 default route via fd00:18::1, every publication "
      "serves both families, NAT66 of fd00:18::/64, IPv6 forwarding on | the same with "
      "`container_bridge_network_state: absent` |")
    A("")
    A("Every trial runs in a fresh network + mount namespace (own `/run/netns`, "
      "`/var/lib/cni`, `/etc/sysctl.d`) below `scripts/sandbox`, so no method sees another's "
      "state; within a round the methods alternate in a rotating order. Times are wall-clock "
      "around the method's own commands (for `ours`: the whole `ansible-playbook` process, "
      "start-up and fact gathering included). Teardown counts until the last link of the "
      "topology is gone (the kernel destroys deleted namespaces asynchronously). After each "
      "converge a spot check must pass (ICMP echo host → first/middle/last container, their "
      "default route via 172.18.0.1, the DNAT rule present and a real TCP connection to the "
      "host's address on the last published port answered from inside the container) and "
      "after each teardown nothing may be left (namespaces, links, NAT rules of the subnet, "
      "sysctl drop-ins, CNI leases, `net.ipv6.conf.all.forwarding` back to its value before "
      "converge), so a broken method is never reported as fast. `ours6`'s spot check also runs "
      "over IPv6: ICMPv6 echo host → first/middle/last container's IPv6 address, their IPv6 "
      "default route via fd00:18::1, the `dnat ip6` rule present and a real TCP connection to "
      "the host's IPv6 address (2001:db8::15 on the uplink stand-in) on the last published "
      "port answered from inside the container.")
    A("")
    A("## Machine")
    A("")
    A("| | |")
    A("| --- | --- |")
    for k, lab in (("cpu_model", "CPU"), ("nproc", "CPUs (nproc)"), ("memory_gib", "memory (GiB)"),
                   ("os", "OS"), ("kernel", "kernel"), ("controller_python", "Python"),
                   ("ansible_core", "ansible-core"), ("pyroute2", "pyroute2"),
                   ("cni_plugins", "containernetworking-plugins"), ("iproute2", "iproute2"),
                   ("iptables", "iptables"), ("nft", "nftables")):
        A("| %s | %s |" % (lab, mach.get(k, "")))
    A("| load average (start → end) | %s → %s |" % (" ".join(mach.get("loadavg_start", [])),
                                                     " ".join(mach.get("loadavg_end", []))))
    A("| collection commit | %s%s |" % (mach.get("git_commit", "?"),
                                       " (plugins/roles modified)" if mach.get("git_dirty_role_or_plugins") else ""))
    A("| command | `%s` |" % result["command"])
    A("")
    A("The machine is shared and noisy (other jobs run on its 2 cores): medians over %d "
      "round(s); the per-round values are in the JSON result." % result["rounds"])
    A("")
    A("## Results (medians)")
    A("")
    A("| N | method | converge | rerun (changed) | teardown | rounds |")
    A("| ---: | --- | ---: | ---: | ---: | ---: |")
    for n in sizes:
        for m in result["methods"]:
            r = per.get(m, {}).get(str(n))
            if not r:
                A("| %d | %s | failed / not run | | | 0 |" % (n, m))
                continue
            rerun = "n/a"
            if m.startswith("ours"):
                rerun = "%s (%s)" % (_s(r["rerun_s"]), ",".join(str(c) for c in r["rerun_changed"]))
            A("| %d | %s | %s | %s | %s | %d |" % (n, m, _s(r["converge_s"]), rerun,
                                                   _s(r["teardown_s"]), r["rounds"]))
    A("")
    if s["ratios"]:
        A("### Ratios (ours / other; < 1 means ours is faster)")
        A("")
        A("| N | converge ours/seed | teardown ours/seed | converge ours/cni | teardown ours/cni |")
        A("| ---: | ---: | ---: | ---: | ---: |")
        for n in sizes:
            r = s["ratios"].get(str(n), {})
            os_, oc = r.get("ours/seed", {}), r.get("ours/cni", {})
            f = lambda d, k: "%.2f" % d[k] if k in d else "–"  # noqa: E731
            A("| %d | %s | %s | %s | %s |" % (n, f(os_, "converge"), f(os_, "teardown"),
                                              f(oc, "converge"), f(oc, "teardown")))
        A("")
    isrc = result if has_info(result) else info
    if isrc:
        info_section(A, isrc, own=isrc is result)
    ours_ms = [m for m in result["methods"] if m.startswith("ours") and per.get(m)]
    if ours_ms:
        A("### Our role: time inside the collection's modules")
        A("")
        A("Per-task wall time from a small callback plugin "
          "(`bench/callback_plugins/linuxnet_bench_timer.py`), summed over the tasks whose "
          "action is a `linuxnet.container_network.*` module: the \"kernel-side\" cost, without "
          "Ansible's start-up, fact gathering and templating.")
        A("")
        A("| N | method | converge: modules / whole run | rerun: modules / whole run | teardown: modules / whole run | module calls per run |")
        A("| ---: | --- | ---: | ---: | ---: | ---: |")
        for n in sizes:
            for m in ours_ms:
                r = per[m].get(str(n))
                if not r:
                    continue
                A("| %d | %s | %s / %s | %s / %s | %s / %s | %s |" % (
                    n, m, _s(r["converge_module_s"]), _s(r["converge_s"]), _s(r["rerun_module_s"]),
                    _s(r["rerun_s"]), _s(r["teardown_module_s"]), _s(r["teardown_s"]),
                    r.get("converge_module_calls")))
        A("")
    tb = task_breakdown(result)
    if tb:
        A("### Our role: median time per task")
        A("")
        A("Wall time of each task of the role (callback plugin), median over rounds; the "
          "last column is its marginal cost per added container between the smallest and "
          "the largest N. A module task costs ~0.4–0.5 s before its kernel work: Ansible "
          "builds and ships the AnsiballZ payload, a new Python process starts and imports "
          "ansible.module_utils and pyroute2.")
        A("")
        ns = result["sizes"]
        for phase in ("converge", "rerun", "teardown"):
            rows = tb.get(phase)
            if not rows:
                continue
            A("| %s task | %s | marginal |" % (phase, " | ".join("N=%d" % n for n in ns)))
            A("| --- | %s ---: |" % ("---: | " * len(ns)))
            for name, vals in rows:
                marg = (1000.0 * (vals[-1] - vals[0]) / (ns[-1] - ns[0])
                        if len(ns) > 1 and None not in (vals[0], vals[-1]) else None)
                A("| %s | %s | %s |" % (name, " | ".join(_s(v) for v in vals), _s(marg, "ms")))
            A("")
    if s["marginal_ms"]:
        A("### Marginal cost per added container")
        A("")
        A("(t(N2) − t(N1)) / (N2 − N1) of the converge medians.")
        A("")
        A("| method | %s | first → last N |" % " | ".join(
            "%s" % k for k in next(iter(s["marginal_ms"].values()))["pairs"]))
        A("| --- | %s ---: |" % ("---: | " * len(next(iter(s["marginal_ms"].values()))["pairs"])))
        for k, v in s["marginal_ms"].items():
            A("| %s | %s | %s |" % (k, " | ".join(_s(x, "ms") for x in v["pairs"].values()),
                                    _s(v["overall"], "ms")))
        A("")
    mem = result.get("memory") or {}
    if mem:
        A("### Peak memory of the module processes (our role)")
        A("")
        A("Maximum resident set size of each module process (its interpreter is wrapped by "
          "`bench/pywrap`, which reads the child's `ru_maxrss` from `wait4`), in a separate "
          "untimed trial per N (converge, rerun, teardown), after the timed rounds.")
        A("")
        A("| N | peak RSS | per module |")
        A("| ---: | ---: | --- |")
        for n in sizes:
            r = mem.get(str(n))
            if r:
                A("| %d | %.1f MiB | %s |" % (n, r["peak_kib"] / 1024.0, ", ".join(
                    "%s %.1f MiB" % (k, v / 1024.0) for k, v in sorted(r["per_module_kib"].items()))))
        A("")
    if "ours6" in result["methods"] and s.get("dual_stack"):
        dual_section(A, result, own=True)
    elif dual:
        dual_section(A, dual, own=False)
    if result.get("fleet"):
        fleet_section(A, result, own=True)
    elif fleet and fleet.get("fleet"):
        fleet_section(A, fleet, own=False)
    A("## Targets (issue 5)")
    A("")
    t = s.get("targets", {})
    n = t.get("at_n")
    if "status" in t:
        A("Not evaluated: %s." % t["status"])
    else:
        c = t.get("converge_le_half_seed")
        if c:
            A("- Converge ≤ 0.5 × seed at N=%s: %s — ours %s vs seed %s (ratio %.2f)." % (
                n, _met(c["met"]), _s(c["ours_s"]), _s(c["seed_s"]), c["ratio"]))
        r = t.get("rerun_le_third_converge_changed0")
        if r:
            A("- Rerun ≤ ⅓ of converge with changed=0 at N=%s: %s — rerun %s vs converge %s "
              "(ratio %.2f), changed per round %s." % (n, _met(r["met"]), _s(r["rerun_s"]),
                                                        _s(r["converge_s"]), r["ratio"], r["changed"]))
        d = t.get("teardown_faster_than_seed")
        if d:
            A("- Teardown faster than seed at N=%s: %s — ours %s vs seed %s (ratio %.2f)." % (
                n, _met(d["met"]), _s(d["ours_s"]), _s(d["seed_s"]), d["ratio"]))
        g = t.get("marginal_kernel_side_le_3ms")
        if g:
            A("- Marginal kernel-side cost ≤ 3 ms per container: %s — %.2f ms per container "
              "(module time, first → last N; pairs: %s)." % (
                  _met(g["met"]), g["ms_per_container"],
                  ", ".join("%s: %.2f ms" % kv for kv in g["pairs"].items())))
    A("")
    dsrc = result if ("ours6" in result["methods"] and s.get("dual_stack")) else dual
    if dsrc:
        A("## Target (issue 12)")
        A("")
        dt = dsrc["summary"].get("targets", {}).get("dual_stack_converge_le_1_3x_ipv4")
        if not dt:
            A("Not evaluated: no dual-stack result near N = 250.")
        elif "status" in dt:
            A("- Dual-stack converge ≤ 1.3 × IPv4-only converge: **NOT met** — %s." % dt["status"])
        else:
            A("- Dual-stack converge ≤ %.1f × IPv4-only converge at N=%s: %s — ours6 %s vs ours "
              "%s (ratio of the medians %.2f; median of the per-round ratios %s)%s." % (
                  dt["max_ratio"], dsrc["summary"]["targets"]["at_n"], _met(dt["met"]),
                  _s(dt["ours6_s"]), _s(dt["ours_s"]), dt["ratio"], _r(dt["median_per_round"]),
                  "" if dsrc is result else " (dual-stack run of %s, see above)"
                  % dsrc["started_utc"]))
        A("")
    if result.get("failures") or result.get("notes"):
        A("## Failures and notes")
        A("")
        for note in result.get("notes", []):
            A("- %s" % note)
        for f in result.get("failures", []):
            A("- %s N=%s round %s: %s" % (f.get("method"), f.get("n"), f.get("round"), f.get("error")))
        A("")
    analysis = os.path.join(HERE, "analysis.md")
    if os.path.exists(analysis):
        with open(analysis) as f:
            A(f.read().rstrip())
        A("")
    return "\n".join(L).rstrip("\n") + "\n"


def _r(x):
    return "–" if x is None else "%.2f" % x


def dual_section(A, res, own):
    """ours6 (dual stack) against ours (IPv4 only), same rounds; `own`: from the result
    of the main tables, else from a dual-stack-only run (its own machine state)."""
    s = res["summary"]
    A("### Dual stack (issue 12): ours6 / ours")
    A("")
    if own:
        A("From the rounds above: in every round `ours` and `ours6` ran at each N one after "
          "the other (rotating order), so each pair shares the machine's load of that moment.")
    else:
        m = res["machine"]
        A("From a separate dual-stack-only run (`%s`, %s → %s UTC, collection commit %s%s, "
          "load average %s → %s): `ours` and `ours6` only, %d round(s), in every round the two "
          "ran at each N one after the other (rotating order), so each pair shares the "
          "machine's load of that moment. Compare the two with each other, not with the "
          "tables above (another time, another load)." % (
              res["command"], res["started_utc"], res["finished_utc"], m.get("git_commit", "?"),
              " with plugins/roles modified" if m.get("git_dirty_role_or_plugins") else "",
              " ".join(m.get("loadavg_start", [])), " ".join(m.get("loadavg_end", [])),
              res["rounds"]))
    A("")
    A("Target: a dual-stack converge stays within **1.3 ×** the IPv4-only converge at N = 250.")
    A("")
    A("| N | phase | ours (IPv4) | ours6 (dual stack) | ours6 / ours (medians) | per-round ratios | median per-round | ≤ 1.3 |")
    A("| ---: | --- | ---: | ---: | ---: | --- | ---: | --- |")
    for n in res["sizes"]:
        d = s.get("dual_stack", {}).get(str(n))
        if not d:
            A("| %d | | failed / not run | | | | | |" % n)
            continue
        for ph in ("converge", "rerun", "teardown"):
            x = d[ph]
            A("| %d | %s | %s | %s | %.2f | %s | %s | %s |" % (
                n, ph, _s(x["ours_s"]), _s(x["ours6_s"]), x["ratio_of_medians"],
                ", ".join("%.2f" % v for v in x["per_round"]), _r(x["median_per_round"]),
                ("yes" if x["ratio_of_medians"] <= 1.3 else "**no**") if ph == "converge" else ""))
    A("")
    if not own:
        per = s["per"]
        A("| N | method | module time converge / rerun / teardown | rerun changed | rounds |")
        A("| ---: | --- | --- | --- | ---: |")
        for n in res["sizes"]:
            for m in ("ours", "ours6"):
                r = per.get(m, {}).get(str(n))
                if r:
                    A("| %d | %s | %s / %s / %s | %s | %d |" % (
                        n, m, _s(r["converge_module_s"]), _s(r["rerun_module_s"]),
                        _s(r["teardown_module_s"]), ",".join(str(c) for c in r["rerun_changed"]),
                        r["rounds"]))
        A("")
        for f in res.get("failures", []):
            A("- failure: %s N=%s round %s: %s" % (
                f.get("method"), f.get("n"), f.get("round"), f.get("error")))
        if res.get("failures"):
            A("")


def has_info(res):
    """Whether `res`'s ours rows have the network_info phase (issue 14)."""
    rows = res["summary"]["per"].get("ours", {})
    return bool(rows) and all(r.get("info_s") is not None for r in rows.values())


def info_section(A, res, own):
    """Issue 14: one network_info call (read + drift) after ours' converge, at each N,
    next to that trial's converge and rerun; `own`: from the result of the main tables,
    else from an info-only run (its own machine state)."""
    per = res["summary"]["per"].get("ours", {})
    A("### network_info (read + drift) at N (issue 14)")
    A("")
    A("Right after `ours`' converge (before its rerun) in each trial: `ansible-playbook` of a "
      "play of one task, `linuxnet.container_network.network_info` with `bridge: br0` and the "
      "role's own `network` arguments (the role's defaults and the converge's variables), so "
      "it reads the whole network from the kernel and computes the drift, as the module's "
      "pipeline in check mode. Timed like the converge (the whole `ansible-playbook` process); "
      "\"module\" is the task alone. Checked in every trial: the network lists all N "
      "containers, attached to the bridge, and its drift says changed false (a failed check "
      "fails the trial).")
    A("")
    if not own:
        m = res["machine"]
        A("From a separate info-only run (`%s`, %s → %s UTC, collection commit %s%s, load "
          "average %s → %s, %d round(s)); the converge and rerun columns are that run's, "
          "compare them with each other, not with the tables above (another time, another "
          "load)." % (
              res["command"], res["started_utc"], res["finished_utc"], m.get("git_commit", "?"),
              " with plugins/roles modified" if m.get("git_dirty_role_or_plugins") else "",
              " ".join(m.get("loadavg_start", [])), " ".join(m.get("loadavg_end", [])),
              res["rounds"]))
        A("")
    A("| N | ours converge | ours rerun (changed) | network_info: whole run | network_info: module | containers listed | drift changed | rounds |")
    A("| ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |")
    for n in res["sizes"]:
        r = per.get(str(n))
        if not r or r.get("info_s") is None:
            A("| %d | failed / not run | | | | | | 0 |" % n)
            continue
        A("| %d | %s | %s (%s) | %s | %s | %s | %s | %d |" % (
            n, _s(r["converge_s"]), _s(r["rerun_s"]),
            ",".join(str(c) for c in r["rerun_changed"]), _s(r["info_s"]),
            _s(r["info_module_s"]), ",".join(str(c) for c in r["info_containers"]),
            ",".join(str(c).lower() for c in r["info_drift_changed"]), r["rounds"]))
    A("")
    if not own:
        for f in res.get("failures", []):
            A("- failure: %s N=%s round %s: %s" % (
                f.get("method"), f.get("n"), f.get("round"), f.get("error")))
        if res.get("failures"):
            A("")


def fleet_section(A, res, own):
    """Issue 13: a fleet of lab hosts over real SSH, all hosts in parallel (bench/fleet.py);
    `own`: from the result of the main tables, else from a fleet-only run."""
    fl = res["fleet"]
    A("### Fleet (issue 13): %d hosts × N containers, hosts in parallel" % fl["hosts"])
    A("")
    A("`tests/lab/lab.py up --hosts %d --fleet BACKEND` builds %d simulated hosts (own network "
      "and mount namespaces, sshd) inside the sandbox; the role reaches them over real SSH. "
      "`host-gw`: one L2 segment, each host routes the peers' container subnets via their "
      "uplink addresses; `vxlan`: `--segments 2` (host 2 on another segment, only routed "
      "through lab-outside), a unicast VXLAN device per peer. Each host gets its own "
      "172.18.<i>.0/24 and, in `host_vars/`, N containers `c0..c<N-1>` without addresses "
      "(allocated in its subnet) and one published port. Each phase is one whole "
      "`ansible-playbook -i inventory.ini playbooks/site.yml --forks F` (F ≥ hosts, so the "
      "hosts run in parallel; SSH connection set-up included); teardown is the same with "
      "`container_bridge_network_state=absent`. Checked in every trial (a failed check "
      "fails it): after converge every host has exactly the N namespaces, `ip route show "
      "proto 76` in every host names both peers' subnets, and a real `ping` from host 1's "
      "`c0` to the last host's `c<N-1>` by its address is answered; the rerun reports "
      "changed=0 on every host; after teardown no namespace and no fleet route is left; "
      "`lab.py down` succeeds. Building the lab (`lab up`) is not timed in the phases." % (
          fl["hosts"], fl["hosts"]))
    A("")
    m = res["machine"]
    A("%s (`%s`, %s → %s UTC, collection commit %s%s, load average %s → %s, %d round(s)); "
      "the machine has %s CPUs, shared with the %d hosts' module processes, so the hosts' "
      "work overlaps but does not run truly side by side." % (
          "From this run" if own else "From a separate fleet-only run",
          res["command"], res["started_utc"], res["finished_utc"], m.get("git_commit", "?"),
          " with plugins/roles modified" if m.get("git_dirty_role_or_plugins") else "",
          " ".join(m.get("loadavg_start", [])), " ".join(m.get("loadavg_end", [])),
          fl["rounds"], m.get("nproc", "?"), fl["hosts"]))
    A("")
    A("| backend | hosts × N | converge | rerun (changed per host) | teardown | per round (converge / rerun / teardown) | lab up | rounds |")
    A("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for b in fl["backends"]:
        for n in fl["sizes"]:
            r = fl["summary"].get("%s:%d" % (b, n))
            if not r:
                A("| %s | %d × %d | failed / not run | | | | | 0 |" % (b, fl["hosts"], n))
                continue
            changed = "; ".join(",".join(str(v) for _, v in sorted(c.items()))
                                for c in r["rerun_changed"])
            rounds = "; ".join("%.1f / %.1f / %.1f" % x for x in zip(
                r["converge_all_s"], r["rerun_all_s"], r["teardown_all_s"]))
            A("| %s | %d × %d | %s | %s (%s) | %s | %s | %s | %d |" % (
                b, r["hosts"], n, _s(r["converge_s"]), _s(r["rerun_s"]), changed,
                _s(r["teardown_s"]), rounds, _s(r["lab_up_s"]), r["rounds"]))
    A("")
    retried = sum(r.get("lab_up_failures", 0) for r in fl["summary"].values())
    if retried:
        A("- `lab.py up` failed %d time(s) before anything of ours ran (the lab, not the role: "
          "\"whoami server did not come up\"); each such trial was started again in a new "
          "sandbox (bench/fleet.py, at most 3 attempts) and only the attempt that built its lab "
          "is in the table." % retried)
        A("")
    downs = sum(r.get("lab_down_retries", 0) for r in fl["summary"].values())
    if downs:
        A("- `lab.py down` failed once after the role's clean teardown in %d trial(s) and "
          "succeeded when run again (bench/fleet.py runs it a second time and records the "
          "first error in the trial's `lab_down_first_error`)." % downs)
        A("")
    fails = [f for f in res.get("failures", []) if str(f.get("method", "")).startswith("fleet")]
    for f in fails:
        A("- failure: %s N=%s round %s (of %d): %s" % (
            f.get("method"), f.get("n"), f["round"] + 1 if isinstance(f.get("round"), int)
            else "?", fl["rounds"], ((f.get("error") or "?").splitlines() or ["?"])[0][:300]))
    if fails:
        A("")


def _load(path):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


def load_dual(results=RESULTS):
    return _load(os.path.join(results, "latest-dualstack.json"))


def load_info(results=RESULTS):
    return _load(os.path.join(results, "latest-info.json"))


def load_fleet(results=RESULTS):
    return _load(os.path.join(results, "latest-fleet.json"))


def generate(result, docs=DOCS, dual=None, info=None, fleet=None):
    """`dual`: a dual-stack-only result; by default bench/results/latest-dualstack.json
    when `result` has no ours6 of its own.  `info`: an info-only result; by default
    bench/results/latest-info.json when `result` has no network_info phase of its own."""
    if dual is None and "ours6" not in result["methods"]:
        dual = load_dual()
    if info is None and not has_info(result):
        info = load_info()
    if fleet is None and not result.get("fleet"):
        fleet = load_fleet()
    os.makedirs(docs, exist_ok=True)
    md = os.path.join(docs, "benchmarks.md")
    png = os.path.join(docs, "benchmarks.png")
    with open(md, "w") as f:
        f.write(markdown(result, dual, info, fleet))
    plot(result, png)
    return md, png


def main(argv):
    path = argv[1] if len(argv) > 1 else os.path.join(RESULTS, "latest.json")
    with open(path) as f:
        result = json.load(f)
    dual = info = fleet = None
    if len(argv) > 2:
        with open(argv[2]) as f:
            dual = json.load(f)
    if len(argv) > 3:
        with open(argv[3]) as f:
            info = json.load(f)
    if len(argv) > 4:
        with open(argv[4]) as f:
            fleet = json.load(f)
    for p in generate(result, dual=dual, info=info, fleet=fleet):
        print("wrote", p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
