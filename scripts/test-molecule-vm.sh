#!/usr/bin/env bash
# molecule test -s vm: the role on a real Debian 12 VM booted with qemu
# (tests/vm/vm.py; firewalld and NetworkManager in charge, like CentOS 8):
# create = VM up, prepare = check the VM, converge, idempotence, testinfra
# verify, cleanup = teardown + leftover check, destroy = VM down.
#
# The image is built (or found cached under $LINUXNET_HOME/vm-images) first,
# outside the sandbox: debootstrap downloads from the Debian mirror, and changes
# nothing on this machine (the packages are configured in a chroot in private
# namespaces). Everything else runs inside scripts/sandbox; the VM is always torn
# down, also when molecule fails or the run is interrupted. Extra args go to
# `molecule test`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
LINUXNET_HOME=${LINUXNET_HOME:-/opt/linuxnet}
export LINUXNET_HOME
py=$LINUXNET_HOME/venv-2.19/bin/python
vm_py=$here/tests/vm/vm.py
if [ "${1:-}" != "--inside" ]; then
  { [ -x "$LINUXNET_HOME/venv-2.19/bin/molecule" ] && command -v qemu-system-x86_64 &&
    command -v debootstrap; } >/dev/null || bash "$here/scripts/setup.sh"
  t0=$(date +%s)
  if ! build_line=$("$py" "$vm_py" build); then
    echo "test-molecule-vm: FAIL (image build)"
    exit 1
  fi
  echo "$build_line"
  export LINUXNET_VM_T0=$t0 LINUXNET_VM_BUILD="$build_line"
  exec "$here/scripts/sandbox" bash "$here/scripts/test-molecule-vm.sh" --inside "$@"
fi
shift
export PATH="$LINUXNET_HOME/venv-2.19/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH=$LINUXNET_HOME/collections
export ANSIBLE_HOST_KEY_CHECKING=False
# per-run ephemeral dir: concurrent runs must not share molecule state or VMs
run=$(mktemp -d /tmp/linuxnet-molvm.XXXXXX)
eph=$run/molecule
vm_dir=$run/vm        # qemu's pidfile, overlay, serial log (molecule prunes $eph)
mkdir -p "$eph"
export MOLECULE_EPHEMERAL_DIRECTORY=$eph LINUXNET_VM_DIR=$vm_dir
teardown() {
  # destroy ran inside `molecule test`; if molecule died before it (or we are
  # interrupted), stop the VM here: no qemu, tap or overlay may outlive the run
  if [ -e "$vm_dir/qemu.pid" ] || [ -e "$vm_dir/state.json" ] || ip link show dev lnvm0 >/dev/null 2>&1; then
    echo "test-molecule-vm: VM still up after molecule; tearing down" >&2
    "$py" "$vm_py" down --dir "$vm_dir" || true
    rc=1
  fi
}
rc=0
mol_pid=
# shellcheck disable=SC2317  # called by the trap below
interrupted() {
  trap - INT TERM
  # molecule (and what it runs) first, by its PID, then the VM
  if [ -n "$mol_pid" ]; then kill -TERM "$mol_pid" 2>/dev/null || true; wait "$mol_pid" || true; fi
  teardown
  echo "test-molecule-vm: FAIL (interrupted; logs in $run)"
  exit 130
}
trap interrupted INT TERM
log=$run/molecule.log
cd "$here"
# molecule in the background so that a signal reaches the trap at once (bash
# runs traps only between foreground commands); each line of its output is
# logged with the seconds since the start, to time its steps
molecule test -s vm "$@" > >("$py" -u -c '
import sys, time
t0 = time.monotonic()
with open(sys.argv[1], "w") as log:
    for line in sys.stdin:
        sys.stdout.write(line); sys.stdout.flush()
        log.write("%8.1f %s" % (time.monotonic() - t0, line)); log.flush()
' "$log") 2>&1 &
mol_pid=$!
wait "$mol_pid" || rc=$?
mol_pid=
trap - INT TERM
teardown
# timings: the image, the boot, each molecule step, the whole run
"$py" - "$log" "$vm_dir" <<'PY' || true
import json, os, re, sys
log, vm_dir = sys.argv[1], sys.argv[2]
steps, last = [], None
ansi = re.compile(r"\x1b\[[0-9;]*m")
start = re.compile(r"\u279c (\w+): Executing\s*$")      # "vm -> create: Executing"
done = re.compile(r"\u279c (\w+): Executed")
for line in open(log, errors="replace"):
    t, _, text = line.strip().partition(" ")
    text = ansi.sub("", text).strip()
    if start.search(text):
        last = (start.search(text).group(1), float(t))
    elif done.search(text) and last and done.search(text).group(1) == last[0]:
        steps.append((last[0], float(t) - last[1]))
        last = None
build = os.environ.get("LINUXNET_VM_BUILD", "?")
boots = []
try:
    boots = [json.loads(l) for l in open(os.path.join(vm_dir, "boots.jsonl"))]
except OSError:
    pass
print("test-molecule-vm: image: %s" % build.replace("vm build: ", ""))
for b in boots:
    print("test-molecule-vm: boot %.1f s to SSH (%s%s)" % (b["boot_seconds"], b["accel"],
          "".join("; %s not used: %s" % (f["accel"], f["why"]) for f in b.get("accel_fallbacks", []))))
print("test-molecule-vm: molecule steps: " + ", ".join("%s %.0f s" % s for s in steps))
PY
# molecule skips a `side_effect` step without failing when it finds no playbook for
# it: the reboots and the firewall events must have run (three side_effect steps), or
# nothing was proven
# (molecule logs each step as it ends, "INFO ... side_effect: Executed: Successful" or
# "... N successful" for a step of N playbooks, and again in its summary: count the former)
reboots=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -cE 'INFO .* side_effect: Executed: (Successful|[0-9]+ successful)' || true)
if [ "$rc" = 0 ] && [ "$reboots" != 3 ]; then
  echo "test-molecule-vm: the side_effect steps (reboot, firewall events, reboot) ran $reboots time(s), want 3" >&2
  rc=1
fi
echo "test-molecule-vm: total $(( $(date +%s) - ${LINUXNET_VM_T0:-$(date +%s)} )) s"
[ "$rc" = 0 ] && rm -rf "$run"
echo "test-molecule-vm: $([ "$rc" = 0 ] && echo PASS || echo "FAIL (logs in $run: molecule.log, vm/serial.log)")"
exit $rc
