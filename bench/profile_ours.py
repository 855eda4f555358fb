#!/usr/bin/env python3
# Copyright: linuxnet.container_network developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where does our role's time go?  One `ours` trial (converge, rerun, teardown) at size N
with every module process under cProfile; prints the per-phase module wall times and
the top functions (cumulative and own time) of each module process.

    scripts/sandbox /opt/linuxnet/venv-2.19/bin/python bench/profile_ours.py --n 250 \
        [--method ours6] [--out bench/results/profile-250.txt]
"""
import argparse
import glob
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import netns_inode, require_sandbox  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=250)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--method", choices=("ours", "ours6"), default="ours",
                    help="ours6: the role dual stack (issue 12)")
    ap.add_argument("--out")
    ap.add_argument("--ours-teardown-without-ports", action="store_true")
    a = ap.parse_args()
    require_sandbox()
    pdir = tempfile.mkdtemp(prefix="linuxnet-bench-prof.")
    fd, res_path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "--",
                    sys.executable, os.path.join(HERE, "trial.py"), "--inside", "--method", a.method,
                    "--n", str(a.n), "--out", res_path, "--parent-netns", str(netns_inode()),
                    "--profile-dir", pdir]
                   + (["--ours-teardown-without-ports"] if a.ours_teardown_without_ports else []),
                   check=False)
    with open(res_path) as f:
        res = json.load(f)
    os.unlink(res_path)
    buf = io.StringIO()
    w = buf.write
    w("%s at N=%d (modules under cProfile, so slower than the benchmark): ok=%s %s\n" % (
        a.method, a.n, res.get("ok"), res.get("error", "")))
    for phase in ("converge", "rerun", "teardown"):
        info = res.get("%s_info" % phase) or {}
        w("\n=== %s: whole run %.3f s, modules %.3f s, recap %s\n" % (
            phase, res.get("%s_s" % phase) or 0, info.get("module_seconds", 0), info.get("recap")))
        for t in info.get("tasks", []):
            w("  %7.3f s  %-8s %-45s %s\n" % (t["duration"], "changed" if t["changed"] else "",
                                              t["action"], t["name"]))
        for prof in sorted(glob.glob(os.path.join(pdir, phase, "*.prof"))):
            st = pstats.Stats(prof)
            w("\n--- %s/%s: %.3f s total in the module process\n" % (
                phase, os.path.basename(prof), st.total_tt))
            for key in ("cumulative", "tottime"):
                s = io.StringIO()
                pstats.Stats(prof, stream=s).strip_dirs().sort_stats(key).print_stats(a.top)
                body = s.getvalue()
                w("    [by %s]\n" % key)
                w("\n".join("    " + l for l in body.splitlines()[body.count("\n") and 6:]) + "\n")
    text = buf.getvalue()
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    print("profiles kept in", pdir)
    return 0 if res.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
