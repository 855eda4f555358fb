#!/usr/bin/env bash
# Benchmark the role against the seed article's script and the CNI bridge plugin
# (issue 5). Installs what it needs (scripts/setup.sh, idempotent), then runs
# bench/run.py inside scripts/sandbox, so nothing outside a private net+mount
# namespace is ever touched.
#
#   scripts/bench.sh              N = 50,250,500, 3 rounds; writes bench/results/*.json,
#                                 docs/benchmarks.md and docs/benchmarks.png
#   scripts/bench.sh --smoke      CI smoke test: N = 5, 1 round; asserts only that every
#                                 method converges correctly and tears down to nothing
#   scripts/bench.sh [--smoke] [bench/run.py options...]   e.g. --sizes 50,250 --rounds 5
#   scripts/bench.sh --dual-stack-only | --info-only [...]   only ours vs ours6, or only
#                                 ours with its network_info timing (merged into the report)
#   scripts/bench.sh --dual-stack-only --sizes 250 --rounds 3
#                                 issue 12: ours against ours6 (dual stack) only; the docs
#                                 keep latest.json's tables and get the dual-stack section
#
#   scripts/bench.sh --fleet-only [--sizes 100] [--rounds 3] [--fleet-backends host-gw,vxlan]
#                                 issue 13: 3 lab hosts (tests/lab/lab.py, real SSH) in one
#                                 fleet × N containers each (default 100): converge, rerun
#                                 (changed=0 on every host), teardown, hosts in parallel;
#                                 writes bench/results/latest-fleet.json and the docs' fleet
#                                 section (a full run does this phase too, --no-fleet skips it)
#
#   LINUXNET_SKIP_SETUP=1         do not run scripts/setup.sh first
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
LINUXNET_HOME=${LINUXNET_HOME:-/opt/linuxnet}
py="$LINUXNET_HOME/venv-2.19/bin/python"

smoke=0
fleet_only=0
args=()
for a in "$@"; do
  if [ "$a" = "--smoke" ]; then smoke=1; else args+=("$a"); fi
  if [ "$a" = "--fleet-only" ]; then fleet_only=1; fi
done

if [ "${LINUXNET_SKIP_SETUP:-0}" != 1 ]; then
  bash "$here/scripts/setup.sh"
fi

cd "$here"
if [ $smoke = 1 ]; then
  exec "$here/scripts/sandbox" "$py" bench/run.py --smoke --sizes 5 --rounds 1 \
    --out "${BENCH_OUT:-$here/bench/results}" ${args[@]+"${args[@]}"}
fi
if [ $fleet_only = 1 ]; then
  # --sizes: containers per host (run.py's default for --fleet-only: 100)
  exec "$here/scripts/sandbox" "$py" bench/run.py --rounds 3 \
    --out "${BENCH_OUT:-$here/bench/results}" ${args[@]+"${args[@]}"}
fi
exec "$here/scripts/sandbox" "$py" bench/run.py --sizes 50,250,500 --rounds 3 \
  --out "${BENCH_OUT:-$here/bench/results}" ${args[@]+"${args[@]}"}
