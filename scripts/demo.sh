#!/usr/bin/env bash
# The README's main command: build the seed's container network on a simulated
# host over real SSH and prove it with real packets, without touching this
# machine's own network.
#
#   bash scripts/demo.sh [--hosts N] [--vars FILE] [-- EXTRA ansible-playbook ARGS]
#
# 1. scripts/setup.sh (idempotent) installs the toolchain;
# 2. inside scripts/sandbox (private net+mount namespace):
#    tests/lab/lab.py up         -> outside netns + N lab hosts running sshd
#    ansible-playbook -i LAB/inventory.ini playbooks/site.yml   (role defaults,
#                                   or -e @FILE with --vars FILE)
#    tests/lab/lab.py check      -> the seed's checks as a PASS/FAIL table
#    tests/lab/lab.py down       -> always (trap), verifies nothing is left
# Exit status: non-zero if any step fails (including teardown).
#
# Environment: LINUXNET_HOME (default /opt/linuxnet), LINUXNET_LAB_DIR (lab
# working directory; default a fresh mktemp dir, removed afterwards unless set).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
LINUXNET_HOME=${LINUXNET_HOME:-/opt/linuxnet}
PY=$LINUXNET_HOME/venv-2.19/bin/python

if [ "${1:-}" != "--inside" ]; then
  bash "$here/scripts/setup.sh"
  exec "$here/scripts/sandbox" bash "$here/scripts/demo.sh" --inside "$@"
fi
shift

hosts=1 vars="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hosts=$2; shift 2 ;;
    --vars) vars=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "demo: unknown argument $1" >&2; exit 2 ;;
  esac
done

lab() { "$PY" "$here/tests/lab/lab.py" "$@"; }
step() { printf '\n=== %s\n' "$*"; }

if [ -n "${LINUXNET_LAB_DIR:-}" ]; then
  dir=$LINUXNET_LAB_DIR keep_dir=1
else
  dir=$(mktemp -d /tmp/linuxnet-lab.XXXXXX) keep_dir=0
fi

teardown() {
  local rc=$?
  step "lab down"
  if ! lab down --dir "$dir"; then
    echo "demo: lab down FAILED (leftovers listed above)" >&2
    rc=1
  fi
  if [ "$keep_dir" = 0 ] && [ "$rc" = 0 ]; then rm -rf "$dir"; fi
  if [ "$rc" = 0 ]; then echo "demo: OK"; else echo "demo: FAILED (lab dir $dir)" >&2; fi
  exit "$rc"
}

step "lab up ($hosts host(s)) in $dir"
lab up --dir "$dir" --hosts "$hosts" --python "$PY"
trap teardown EXIT

step "ansible-playbook playbooks/site.yml"
export ANSIBLE_COLLECTIONS_PATH=$LINUXNET_HOME/collections
export ANSIBLE_HOST_KEY_CHECKING=False
export ANSIBLE_RETRY_FILES_ENABLED=False
pb=("$LINUXNET_HOME/venv-2.19/bin/ansible-playbook" -i "$dir/inventory.ini" "$here/playbooks/site.yml")
[ -n "$vars" ] && pb+=(-e "@$vars")
(cd "$here" && "${pb[@]}" ${extra[@]+"${extra[@]}"})

step "checks (real packets)"
ck=(check --dir "$dir")
[ -n "$vars" ] && ck+=(--vars "$vars")
lab "${ck[@]}"
