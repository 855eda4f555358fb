# Copyright: linuxnet.container_network developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke test of the benchmark harness (issue 5): N = 5, one round, inside scripts/sandbox.

Asserts only correctness: each method (seed script, CNI plugins, our role IPv4 only and
dual stack) converges,
passes the harness's spot check with real packets, and tears down to nothing; our role's
network_info phase (issue 14) lists the N containers and no drift.  Timings
are never asserted (this machine is shared and noisy).  Where the sandbox cannot be
made (not root, no unshare) the test FAILS with the reason; it is never skipped.
"""
import json
import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANDBOX = os.path.join(REPO, "scripts", "sandbox")
PY = os.path.join(os.environ.get("LINUXNET_HOME", "/opt/linuxnet"), "venv-2.19", "bin", "python")
METHODS = ("seed", "cni", "ours", "ours6")


def _sandbox_works():
    try:
        p = subprocess.run([SANDBOX, "sh", "-c", 'test "$LINUXNET_SANDBOX" = 1 && ip -o link'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    except OSError as exc:
        return False, str(exc)
    links = [l for l in p.stdout.splitlines() if ": " in l]
    if p.returncode != 0 or len(links) != 1:
        return False, "rc=%d, output: %s" % (p.returncode, p.stdout[-2000:])
    return True, ""


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    ok, why = _sandbox_works()
    if not ok:
        pytest.fail("FAIL: scripts/sandbox is unavailable here, so the benchmark smoke test "
                    "cannot run (it needs root and unshare of net+mount namespaces): %s" % why,
                    pytrace=False)
    out = tmp_path_factory.mktemp("bench")
    p = subprocess.run([SANDBOX, PY, os.path.join(REPO, "bench", "run.py"), "--smoke",
                        "--sizes", "5", "--rounds", "1", "--out", str(out)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=1800, cwd=REPO)
    path = out / "latest-smoke.json"
    assert path.exists(), "bench/run.py wrote no result (rc=%d):\n%s" % (p.returncode, p.stdout[-6000:])
    return p, json.loads(path.read_text())


def test_refuses_without_sandbox_variable():
    env = dict(os.environ)
    env.pop("LINUXNET_SANDBOX", None)
    p = subprocess.run([PY, os.path.join(REPO, "bench", "run.py"), "--smoke", "--sizes", "1"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                       timeout=120)
    assert p.returncode != 0 and "refusing to run" in p.stdout, p.stdout


def test_refuses_in_the_host_network_namespace(monkeypatch):
    """LINUXNET_SANDBOX=1 alone is not enough: the guard also compares network
    namespaces (PID 1's where readable, and the kernel's initial one).  Checked without
    ever running the benchmark in the host's namespace: the guard is made to see its own
    namespace as the initial one."""
    import sys
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import common
    monkeypatch.setenv("LINUXNET_SANDBOX", "1")
    monkeypatch.setattr(common, "INIT_NET_INO", common.netns_inode())
    with pytest.raises(SystemExit, match="refusing to run"):
        common.require_sandbox()
    monkeypatch.setattr(common, "INIT_NET_INO", 0xEFFFFFF9)
    if common.netns_inode() != 0xEFFFFFF9 and common.outside_netns().get("PID 1") != common.netns_inode():
        common.require_sandbox()  # in a sandbox: accepted


@pytest.mark.parametrize("method", METHODS)
def test_method_converges_and_tears_down(smoke, method):
    proc, result = smoke
    trials = [t for t in result["trials"] if t["method"] == method]
    fails = [f for f in result["failures"] if f["method"] == method]
    assert trials and not fails, "%s failed: %s\n%s" % (
        method, json.dumps(fails, indent=1)[-4000:], proc.stdout[-4000:])
    t = trials[0]
    assert t["check_ok"], "spot check after converge failed: %s" % json.dumps(t["check"])
    for ns in ("c1", "c3", "c5"):
        assert t["check"][ns]["ping_from_host"] and t["check"][ns]["default_via"] == "172.18.0.1"
        if method == "ours6":
            assert t["check"][ns]["address6"].startswith("fd00:18::")
            assert t["check"][ns]["ping6_from_host"] and t["check"][ns]["default_via6"] == "fd00:18::1"
        else:
            assert "address6" not in t["check"][ns]
    assert t["check"]["dnat"]["connect"], t["check"]["dnat"]
    if method == "ours6":
        assert t["check"]["dnat"]["rule6_present"]
        assert "[2001:db8::15]:8005 -> bench-ok c5" in t["check"]["dnat"]["reply"], t["check"]["dnat"]
    if method == "ours":
        # issue 14: one network_info call (read + drift) timed after converge
        r = t["info_info"]["result"]
        assert t["info_ok"] and t["info_s"] > 0, json.dumps(r)
        assert r["networks"] == ["br0"] and r["containers"] == 5 == r["containers_attached"], r
        assert r["published_ports"] == 1 and r["drift_present"], r
        assert r["drift_changed"] is False and r["drift_actions"] == [] and not r["changed"], r
        assert t["info_info"]["module_calls"] == 1 and t["info_info"]["recap"]["changed"] == 0
        row = result["summary"]["per"]["ours"]["5"]
        assert row["info_containers"] == [5] and row["info_drift_changed"] == [False], row
    else:
        assert "info_s" not in t
    assert t["clean"], "teardown left: %s" % json.dumps(t["leftovers"])
    assert t["leftovers"]["ipv6_forwarding"]["after"] == t["leftovers"]["ipv6_forwarding"]["before"]
    assert t["ok"]


def test_smoke_run_exit_code(smoke):
    proc, result = smoke
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert result["smoke"] is True and result["sizes"] == [5]
    assert set(result["methods"]) == set(METHODS)


def test_collection_mismatch(monkeypatch, tmp_path):
    """The benchmark measures the collection ansible-playbook finds on the collections
    path; one that is not this checkout is refused with what was found (never measured
    under this checkout's name)."""
    import sys
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import common
    ns = tmp_path / "ansible_collections" / "linuxnet"
    monkeypatch.setattr(common, "COLLECTIONS", str(tmp_path))
    assert "does not exist" in common.collection_mismatch()
    ns.mkdir(parents=True)
    other = tmp_path / "other"
    other.mkdir()
    (ns / "container_network").symlink_to(other)
    msg = common.collection_mismatch()
    assert msg and str(other) in msg and "not this checkout" in msg
    (ns / "container_network").unlink()
    (ns / "container_network").symlink_to(REPO)
    assert common.collection_mismatch() is None
