#!/usr/bin/env bash
# molecule test -s lab: the role on lab hosts over real SSH (create = lab up,
# converge, idempotence, testinfra verify, teardown + leftover check, destroy =
# lab down), all inside scripts/sandbox. Extra args go to `molecule test`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
LINUXNET_HOME=${LINUXNET_HOME:-/opt/linuxnet}
# (radvd: the lab's IPv6 router advertisements, a later addition to setup.sh)
{ [ -x "$LINUXNET_HOME/venv-2.19/bin/molecule" ] && [ -x /usr/sbin/radvd ]; } || bash "$here/scripts/setup.sh"
if [ "${1:-}" != "--inside" ]; then
  exec "$here/scripts/sandbox" bash "$here/scripts/test-molecule-lab.sh" --inside "$@"
fi
shift
export PATH="$LINUXNET_HOME/venv-2.19/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH=$LINUXNET_HOME/collections
export ANSIBLE_HOST_KEY_CHECKING=False
# per-run ephemeral dir: concurrent runs must not share molecule state or labs
eph=$(mktemp -d /tmp/linuxnet-mol.XXXXXX)
export MOLECULE_EPHEMERAL_DIRECTORY=$eph
rc=0
(cd "$here" && molecule test -s lab "$@") || rc=$?
# destroy ran inside `molecule test` (lab down verifies its own leftovers);
# if molecule died before it, tear the lab down here and fail.
if [ -e "$eph/lab/state.json" ]; then
  echo "test-molecule-lab: lab still up after molecule; tearing down" >&2
  "$LINUXNET_HOME/venv-2.19/bin/python" "$here/tests/lab/lab.py" down --dir "$eph/lab" || true
  rc=1
fi
[ "$rc" = 0 ] && rm -rf "$eph"
echo "test-molecule-lab: $([ "$rc" = 0 ] && echo PASS || echo "FAIL (molecule dir $eph)")"
exit $rc
