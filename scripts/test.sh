#!/usr/bin/env bash
# The README's test command: set everything up, then run every test suite.
# Everything that changes kernel network state runs inside scripts/sandbox (a private
# network + mount namespace); the integration tests also give each test its own.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/setup.sh
LINUXNET_HOME=${LINUXNET_HOME:-/opt/linuxnet}
V="$LINUXNET_HOME/venv-2.19/bin"
export ANSIBLE_COLLECTIONS_PATH="$LINUXNET_HOME/collections"
export PYTHONDONTWRITEBYTECODE=1
failed=()
step() { # name cmd...
  local name=$1; shift
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then echo "=== $name: ok ($((SECONDS - t0)) s)"; else
    echo "=== $name: FAILED ($((SECONDS - t0)) s)"; failed+=("$name"); fi
}
# tests/testinfra holds molecule's verifier tests: they run inside molecule below.
step "unit + integration tests (pytest)" \
  scripts/sandbox "$V/pytest" -p no:cacheprovider -q -ra --durations=25 -n "${LINUXNET_PYTEST_WORKERS:-2}" \
    tests/unit tests/integration tests/bench
step "molecule syntax -s default (vagrant, CentOS 8: cannot boot here)" \
  env PATH="$V:$PATH" "$V/molecule" syntax -s default
step "molecule test -s lab (scripts/test-molecule-lab.sh)" bash scripts/test-molecule-lab.sh
step "molecule test -s vm: a Debian 12 VM with reboots (scripts/test-molecule-vm.sh)" \
  bash scripts/test-molecule-vm.sh
step "ansible-test sanity (scripts/sanity.sh)" bash scripts/sanity.sh
# ansible-lint (.ansible-lint: profile production, offline) from the collection's place
# under ANSIBLE_COLLECTIONS_PATH, so the role's and playbooks' FQCNs resolve to this tree.
lint() {
  (cd "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/linuxnet/container_network" &&
     PATH="$LINUXNET_HOME/venv-lint/bin:$PATH" ansible-lint --nocolor)
}
step "ansible-lint --profile production" lint
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED suites: ${failed[*]}"
  exit 1
fi
echo "all suites passed"
