#!/usr/bin/env bash
# `ansible-test sanity` for the collection, offline, with $LINUXNET_HOME/venv-sanity
# (built by scripts/setup.sh). Exit code = ansible-test's.
#
#   scripts/sanity.sh [ansible-test sanity options...]   e.g. --test pylint, -v
#   scripts/sanity.sh units [ansible-test units options...]
#       the same copy, `ansible-test units --venv --requirements` (tests/unit in a
#       fresh venv with ansible-test's unit requirements and tests/unit/requirements.txt;
#       pytest on tests/unit in scripts/test.sh runs the same tests, so test.sh
#       does not call this mode).
#
# ansible-test wants the collection at .../ansible_collections/<ns>/<name> inside a
# git work tree, so the collection is copied into a temporary tree and a throwaway
# git repo is made there; the checkout itself is never changed.
#
# Scope: what ships in the collection (plugins/, roles/, playbooks/, meta/,
# changelogs/, galaxy.yml, README.md) and its tests that ansible-test knows
# (tests/unit, tests/integration, tests/sanity, tests/conftest.py, tests/config.yml).
# Left out of the copy, because they are developer tooling that is not part of the
# collection (galaxy.yml's build_ignore keeps them out of the built artifact too)
# and are not code ansible-test has rules for: bench/ and tests/bench (benchmark
# harness), scripts/ (setup/test/demo drivers), molecule/, tests/lab, tests/vm and
# tests/testinfra (the SSH lab and its testinfra checks), docs/, .ci/.
# See tests/sanity/README.md.
#
# Skipped tests: pslint (PowerShell; the collection has no PowerShell, and
# ansible-test would need pwsh). shellcheck runs when the shellcheck binary is
# installed (scripts/setup.sh installs Debian's).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
LINUXNET_HOME=${LINUXNET_HOME:-/opt/linuxnet}
V="$LINUXNET_HOME/venv-sanity/bin"
[ -x "$V/ansible-test" ] || { echo "sanity: $V/ansible-test missing: run scripts/setup.sh" >&2; exit 2; }
ns=$(sed -n 's/^namespace: *//p' "$here/galaxy.yml")
name=$(sed -n 's/^name: *//p' "$here/galaxy.yml")

tmp=$(mktemp -d /tmp/linuxnet-sanity.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/ansible_collections/$ns/$name"
mkdir -p "$dest"
rsync -a \
  --exclude=.git --exclude=.ci --exclude=.gitignore --exclude=.pytest_cache \
  --exclude=__pycache__ --exclude='*.pyc' --exclude=.build --exclude='*.tar.gz' \
  --exclude=/bench --exclude=/scripts --exclude=/molecule --exclude=/docs \
  --exclude=/tests/bench --exclude=/tests/lab --exclude=/tests/vm --exclude=/tests/testinfra \
  --exclude=/tests/output \
  "$here/" "$dest/"
cd "$dest"
git init -q
git add -A

if [ "${1:-}" = units ]; then
  shift
  PATH="$V:$PATH" "$V/ansible-test" units --venv --requirements --python 3.11 --color no "$@"
  exit
fi
skip=(--skip-test pslint)
command -v shellcheck >/dev/null || skip+=(--skip-test shellcheck)
PATH="$V:$PATH" "$V/ansible-test" sanity --local --python 3.11 --color no \
  "${skip[@]}" "$@"
