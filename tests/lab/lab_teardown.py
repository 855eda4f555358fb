#!/usr/bin/env python3
# Copyright: Contributors to the linuxnet.container_network collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Taking the lab down (``lab.py down``): every process by PID, every namespace, verified gone."""

import os
import signal
import time

from lab_common import (
    FIREWALL_STOP_TIMEOUT,
    LabError,
    all_pids,
    guard,
    ip,
    load_state,
    log,
    netns_inode,
    ns_link,
    pid_is,
    run,
    state_path)


# --------------------------------------------------------------------------
# down
# --------------------------------------------------------------------------

def cmd_down(args):
    d = os.path.abspath(args.dir)
    state = load_state(d)
    _down(d, state)
    os.replace(state_path(d), os.path.join(d, "state.down.json"))
    print("lab down: nothing of the lab is left")
    return 0


def _ns_inodes_of_host(host):
    """netns inodes visible in a lab host's private /run/netns (its containers)."""
    res = run(["nsenter", "-t", str(host["sshd_pid"]), "-m", "--",
               "sh", "-c", "for f in /run/netns/*; do [ -e \"$f\" ] && stat -L -c '%i' \"$f\"; done; true"],
              check=False)
    return {"net:[%s]" % x.strip() for x in res.stdout.split() if x.strip().isdigit()}


def _kill(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _wait_gone(check_alive, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not check_alive():
            return True
        time.sleep(0.05)
    return not check_alive()


def _reap_children():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _down(d, state, quiet=False):
    guard()
    problems = []
    # Which namespaces belong to the lab world: the lab's named netns, the
    # host mount namespaces, and the netns the role created inside each host.
    lab_net = set()
    lab_mnt = set()
    for name in state.get("netns", []):
        p = "/run/netns/" + name
        if os.path.exists(p):
            try:
                lab_net.add("net:[%d]" % netns_inode(p))
            except OSError:
                pass
    # A namespace's inode number is reused once the namespace is freed: a recorded one
    # whose namespace is gone may now name another lab's (tests run labs in parallel),
    # and killing by it would kill their processes. So only namespaces alive now count,
    # and each is held open until the end of down (then it cannot be freed and reused
    # while strays are looked for, after step 1 kills the sshd that kept it).
    held = []
    for h in state.get("hosts", []):
        if not pid_is(h["sshd_pid"], _starttime_of(state, h["sshd_pid"])):
            continue
        for kind, into in (("mnt", lab_mnt), ("net", lab_net)):
            try:
                held.append(os.open("/proc/%d/ns/%s" % (h["sshd_pid"], kind), os.O_RDONLY))
            except OSError:
                continue
            if ns_link(h["sshd_pid"], kind) == h.get(kind + "_ns"):
                into.add(h[kind + "_ns"])
        lab_net |= _ns_inodes_of_host(h)
    try:
        return _down_held(d, state, quiet, problems, lab_net, lab_mnt)
    finally:
        for fd in held:
            os.close(fd)


def _down_held(d, state, quiet, problems, lab_net, lab_mnt):

    # 0. the firewall keepers, one by one in reverse order, before anything else:
    #    SIGTERM lets each undo its firewall (stop firewalld and its D-Bus, ufw
    #    disable, unmount) while the host's namespaces are still there.
    problems += _stop_firewalls(state)

    # 1. the PIDs the lab started (only if they are still the same processes)
    own = [e["pid"] for e in state.get("pids", []) if pid_is(e["pid"], e["starttime"])]
    _kill(own, signal.SIGTERM)
    alive = lambda: [e for e in state.get("pids", []) if pid_is(e["pid"], e["starttime"])]
    if not _wait_gone(lambda: (_reap_children(), alive())[1], 5):
        _kill([e["pid"] for e in alive()], signal.SIGKILL)
        _wait_gone(lambda: (_reap_children(), alive())[1], 5)
    for e in alive():
        problems.append("process %d (%s) still running" % (e["pid"], e["what"]))

    # 2. whatever still runs inside the lab world (ssh sessions left by
    #    ControlPersist, servers a check or a test started, ...)
    me = os.getpid()

    def strays():
        out = []
        for pid in all_pids():
            if pid == me:
                continue
            if ns_link(pid, "net") in lab_net or ns_link(pid, "mnt") in lab_mnt:
                out.append(pid)
        return out
    s = strays()
    if s:
        if not quiet:
            log("killing %d process(es) left inside lab namespaces: %s" % (len(s), s))
        _kill(s, signal.SIGKILL)

        def still():
            # a process that appears meanwhile (sshd answering an SSH client's last
            # reconnect) is killed too, not reported as left behind
            _reap_children()
            left = strays()
            _kill(left, signal.SIGKILL)
            return left
        _wait_gone(still, 5)
        for pid in strays():
            problems.append("process %d still inside a lab namespace" % pid)

    # 3. the links and named netns it created
    for link in state.get("links", []):
        if os.path.exists("/sys/class/net/" + link) or ip("link", "show", link, check=False).returncode == 0:
            r = ip("link", "del", link, check=False)
            if r.returncode != 0:
                problems.append("cannot delete link %s: %s" % (link, r.stderr.strip()))
    for name in reversed(state.get("netns", [])):
        if os.path.exists("/run/netns/" + name):
            r = ip("netns", "del", name, check=False)
            if r.returncode != 0:
                problems.append("cannot delete netns %s: %s" % (name, r.stderr.strip()))

    # 4. verify
    names = set(ip("netns", "list").stdout.split())
    for name in state.get("netns", []):
        if name in names or os.path.exists("/run/netns/" + name):
            problems.append("netns %s still exists" % name)
    links = ip("-o", "link").stdout
    for link in state.get("links", []):
        if (" %s:" % link) in links or (" %s@" % link) in links:
            problems.append("link %s still exists" % link)
    left = strays()
    if left:
        problems.append("processes still inside lab namespaces: %s" % left)
    if problems:
        raise LabError("down: leftovers:\n  " + "\n  ".join(problems))


def _stop_firewalls(state):
    problems = []
    keepers = [e for e in state.get("pids", []) if e.get("fw_keeper")]
    for e in reversed(keepers):
        if not pid_is(e["pid"], e["starttime"]):
            continue

        def alive(e=e):
            return pid_is(e["pid"], e["starttime"])
        _kill([e["pid"]], signal.SIGTERM)
        if not _wait_gone(lambda: (_reap_children(), alive())[1], FIREWALL_STOP_TIMEOUT):
            problems.append("%s (pid %d) did not stop within %ds after SIGTERM; killed" % (
                e["what"], e["pid"], FIREWALL_STOP_TIMEOUT))
            _kill([e["pid"]], signal.SIGKILL)
            _wait_gone(lambda: (_reap_children(), alive())[1], 5)
    for h in state.get("hosts", []):
        fw = h.get("firewall")
        if not fw:
            continue
        try:
            with open(os.path.join(fw["dir"], "down")) as fh:
                res = fh.read().strip()
        except OSError:
            res = None
        ready = os.path.exists(os.path.join(fw["dir"], "ready"))
        if ready and res != "ok":
            problems.append("firewall %s on %s was not undone: %s (see %s)" % (
                fw["kind"], h["name"], res or "keeper wrote no result",
                os.path.join(fw["dir"], "keeper.log")))
    return problems


def _starttime_of(state, pid):
    for e in state.get("pids", []):
        if e["pid"] == pid:
            return e["starttime"]
    return None
