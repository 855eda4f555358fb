#!/usr/bin/env bash
# The README's main command: build the seed's container network on a simulated
# host over real SSH and prove it with real packets, without touching this
# machine's own network.
#
#   bash scripts/demo.sh [--hosts N] [--vars FILE] [--firewall KIND] [--report DIR]
#                        [--fleet [host-gw|vxlan]] [--segments 1|2]
#                        [-- EXTRA ansible-playbook ARGS]
#
# 1. scripts/setup.sh (idempotent) installs the toolchain;
# 2. inside scripts/sandbox (private net+mount namespace):
#    tests/lab/lab.py up         -> outside netns + N lab hosts running sshd
#                                   (--firewall KIND: that firewall in charge of
#                                   each host: firewalld, firewalld-el8, docker,
#                                   docker-legacy, ufw or nft-drop;
#                                   --fleet [BACKEND] (default host-gw): all hosts in the inventory
#                                   group [fleet] with that backend, lab-hostN with
#                                   subnet 172.18.N.0/24; vxlan also puts the
#                                   even-numbered hosts on a second L2 segment,
#                                   --segments 2, routed by lab-outside)
#    ansible-playbook -i LAB/inventory.ini playbooks/site.yml   (role defaults,
#                                   or -e @FILE with --vars FILE)
#    tests/lab/lab.py check      -> the seed's checks as a PASS/FAIL table (with
#                                   --fleet also container -> container across the
#                                   hosts, source preserved, and outside -> container
#                                   direct, dropped)
#    ansible-playbook playbooks/report.yml -> the report and pictures of the run
#                                   (README.md, HOST.md, HOST.svg, HOST.png) in
#                                   --report DIR (default ./linuxnet-report); with the
#                                   default topology (no --vars, --firewall, --fleet
#                                   or --segments 2) also
#                                   docs/images/default-topology.svg/.png (README)
#    with --firewall: what the network module did in that firewall (lab-host1)
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

hosts=1 vars="" firewall="" fleet="" segments="" extra=() report=$PWD/linuxnet-report
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hosts=$2; shift 2 ;;
    --vars) vars=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --firewall)
      case "${2:-}" in
        firewalld|firewalld-el8|docker|docker-nft|docker-legacy|ufw|nft-drop) firewall=$2 ;;
        *) echo "demo: --firewall wants firewalld, firewalld-el8, docker, docker-legacy, ufw or nft-drop" >&2
           exit 2 ;;
      esac
      shift 2 ;;
    --report) mkdir -p "$2"; report=$(cd "$2" && pwd); shift 2 ;;
    --) shift; extra=("$@"); break ;;
    --fleet)  # the backend is optional: host-gw by default
      case "${2:-}" in
        host-gw|vxlan) fleet=$2; shift 2 ;;
        *) fleet=host-gw; shift ;;
      esac ;;
    --segments)
      case "${2:-}" in
        1|2) segments=$2 ;;
        *) echo "demo: --segments wants 1 or 2" >&2; exit 2 ;;
      esac
      shift 2 ;;
    -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
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

# vxlan is the backend for hosts that share no L2 segment: show it across two
[ "$fleet" = vxlan ] && [ -z "$segments" ] && segments=2
up=(up --dir "$dir" --hosts "$hosts" --python "$PY")
[ -n "$firewall" ] && up+=(--firewall "$firewall")
[ -n "$segments" ] && up+=(--segments "$segments")
[ -n "$fleet" ] && up+=(--fleet "$fleet")
step "lab up ($hosts host(s)${segments:+, $segments segment(s)}${fleet:+, fleet $fleet}) in $dir"
lab "${up[@]}"
trap teardown EXIT
if [ -n "$firewall" ]; then
  echo "demo: firewall in charge of every lab host: $firewall (see tests/firewalls.py)"
  if [ "$firewall" = nft-drop ]; then
    echo "demo: nft-drop is a firewall the module does not know: it is left alone," \
      "Ansible warns, and the checks it blocks FAIL"
  fi
else
  echo "demo: no firewall in charge of the lab hosts (--firewall KIND puts one there)"
fi
if [ -n "$fleet" ]; then
  echo "demo: fleet $fleet: every lab host in the inventory group [fleet], lab-hostN's" \
    "containers in 172.18.N.0/24${segments:+ (${segments} L2 segment(s))}"
fi

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
ck_rc=0; lab "${ck[@]}" || ck_rc=$?

step "ansible-playbook playbooks/report.yml (the report and pictures of this run)"
(cd "$here" && "$LINUXNET_HOME/venv-2.19/bin/ansible-playbook" -i "$dir/inventory.ini" \
   "$here/playbooks/report.yml" -e "report_dir=$report")
# The README's picture is this one, of the default topology: regenerated, never drawn.
if [ -z "$vars" ] && [ -z "$firewall" ] && [ -z "$fleet" ] && [ "${segments:-1}" = 1 ]; then
  mkdir -p "$here/docs/images"
  for ext in svg png; do
    cp "$report/lab-host1.$ext" "$here/docs/images/default-topology.$ext"
  done
  echo "demo: README picture updated: $here/docs/images/default-topology.svg (.png)"
fi
echo "demo: report: $report/README.md (per host: HOST.md, HOST.svg, HOST.png)"
for f in "$report"/*.md "$report"/*.svg; do
  [ -e "$f" ] && echo "demo:   $f"
done

# The network module's side of the firewall integration, seen by the firewall itself.
fwview() {
  printf -- '--- lab-host1# %s\n' "$*"
  lab exec --dir "$dir" lab-host1 -- "$@" || echo "(exit status $?)"
}
case "$firewall" in
  "") ;;
  firewalld*)
    step "firewall: firewalld on lab-host1 (the network module's zone and policy)"
    fwview firewall-cmd --get-active-zones
    fwview firewall-cmd --zone=linuxnet --list-all
    fwview firewall-cmd --info-policy=linuxnet-forward ;;
  docker|docker-nft|docker-legacy|ufw)
    v=nft; [ "$firewall" = docker-legacy ] && v=legacy
    step "firewall: $firewall on lab-host1 (iptables-$v: the network module's accept rules)"
    fwview "iptables-$v" -S FORWARD
    if [ "$firewall" = ufw ]; then fwview "iptables-$v" -S INPUT
    else fwview "iptables-$v" -S DOCKER-USER; fi ;;
  nft-drop)
    step "firewall: an unknown nftables table on lab-host1 (left alone: the module warns)"
    fwview nft list table inet hardening ;;
esac
if [ "$ck_rc" != 0 ]; then exit "$ck_rc"; fi
