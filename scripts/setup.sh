#!/usr/bin/env bash
# Install everything the collection's tests, lab, demo and benchmarks need on a
# Debian 12 machine (run as root). Idempotent: a second run only checks.
#
#   LINUXNET_HOME  where the virtualenvs and the collection link live
#                  (default /opt/linuxnet)
#
# Two toolchains are built, because the collection is tested on both ends of what
# it supports:
#   $LINUXNET_HOME/venv-2.19  PyPI Python 3.11: ansible-core 2.19, pyroute2 0.9.7,
#                             pytest, molecule, pytest-testinfra
#   $LINUXNET_HOME/venv-2.16  Debian's /usr/bin/python3 with system site packages:
#                             ansible-core 2.16 and Debian's pyroute2 0.7.2
# and two for checks: venv-lint (ansible-lint) and venv-sanity (ansible-test sanity).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
LINUXNET_HOME=${LINUXNET_HOME:-/opt/linuxnet}
export DEBIAN_FRONTEND=noninteractive

apt_pkgs=(iproute2 nftables iptables openssh-server openssh-client
          containernetworking-plugins python3-pyroute2 python3-venv python3-pip
          procps psmisc util-linux rsync iputils-ping sudo
          vagrant   # vagrant: molecule's vagrant driver needs the binary even for
                    # `molecule syntax -s default` (no box is ever booted here)
          # foreign firewalls for tests/firewalls.py (run only inside the sandbox,
          # each with a private D-Bus / config): iptables has iptables-nft and
          # iptables-legacy; firewalld brings python3-firewall; dbus-daemon is its bus
          firewalld python3-firewall ufw dbus-daemon
          # radvd: the lab's IPv6 router (tests/lab/lab.py runs it in lab-outside with
          # its own config file; its unit is inert without /etc/radvd.conf)
          radvd
          # graphviz: `dot` draws the pictures of playbooks/report.yml (on the controller)
          graphviz)
# >>> vm scenario (molecule/vm, tests/vm/vm.py, scripts/test-molecule-vm.sh) >>>
# qemu boots a Debian 12 guest (TCG, or KVM when it can boot a stock kernel);
# debootstrap builds its root from the Debian mirror (gpgv + the archive keyring
# check the Release file), mkfs.ext4 -d (e2fsprogs) turns it into an image without
# loop mounts, qemu-img makes the per-run overlay, ssh-keygen the image's key pair.
apt_pkgs+=(qemu-system-x86 qemu-utils debootstrap gpgv debian-archive-keyring
           e2fsprogs openssh-client)
# <<< vm scenario <<<
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# No package's maintainer script may start a service (firewalld, ufw, dbus, sshd)
# on this machine: a policy-rc.d that refuses everything is in place during the
# install (any existing one is set aside and put back), and the packages are
# unpacked and configured inside a private network namespace (downloaded first,
# installed from the cache with no network), so even a postinst that ran
# iptables or ufw would only touch a throwaway namespace.
policy=/usr/sbin/policy-rc.d
policy_saved=
policy_restore() {
  rm -f "$policy"
  if [ -n "$policy_saved" ]; then mv -f "$policy_saved" "$policy"; fi
}
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends --download-only "${missing[@]}"
  # (one left behind by an interrupted run of ours is not worth keeping)
  if { [ -e "$policy" ] || [ -L "$policy" ]; } && ! grep -qs 'linuxnet setup.sh' "$policy"; then
    policy_saved=$(mktemp /usr/sbin/policy-rc.d.linuxnet.XXXXXX)
    mv -f "$policy" "$policy_saved"
  fi
  trap policy_restore EXIT
  printf '#!/bin/sh\n# linuxnet setup.sh: no service starts during the install\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  unshare --net -- apt-get install -y -q --no-install-recommends --no-download "${missing[@]}"
  policy_restore
  trap - EXIT
  # Their units were enabled by the postinsts: a reboot would start firewalld/ufw on
  # the machine's own network. The tests start private instances by hand inside the
  # sandbox, never through systemd: disable (ufw: its sysv links too) and mask what
  # this run installed (an admin's own, already installed firewalld is left alone).
  # ufw's init script is inert anyway while /etc/ufw/ufw.conf says ENABLED=no, which
  # nothing here changes (tests/firewalls.py enables a private copy).
  for svc in firewalld ufw radvd; do
    if [[ " ${missing[*]} " == *" $svc "* ]]; then
      systemctl --no-reload disable "$svc.service" >/dev/null 2>&1 || true
      systemctl --no-reload mask "$svc.service" >/dev/null 2>&1 || true
    fi
  done
fi
# The Debian sshd unit must never start on the real host network for us; the lab
# starts its own sshd processes inside sandbox namespaces.
mkdir -p /run/sshd

py311=$(command -v python3.11 || command -v python3)
mkvenv() { # dir python requirements...
  local dir=$1 py=$2; shift 2
  local stamp="$dir/.req" want="$*"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  echo "setup: building $dir"
  rm -rf "$dir"
  "$py" -m venv ${SYSTEM_SITE:+--system-site-packages} "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check "$@"
  echo "$want" > "$stamp"
}
mkdir -p "$LINUXNET_HOME"
mkvenv "$LINUXNET_HOME/venv-2.19" "$py311" \
  'ansible-core==2.19.*' 'pyroute2==0.9.7' 'pytest>=8' 'pytest-xdist' 'pytest-testinfra' \
  'molecule>=25' 'molecule-plugins[vagrant]' 'antsibull-changelog' \
  'matplotlib' 'pyyaml'
SYSTEM_SITE=1 mkvenv "$LINUXNET_HOME/venv-2.16" /usr/bin/python3 \
  'ansible-core==2.16.*' 'pytest>=8'
# The 2.16 venv must see Debian's pyroute2 0.7.2, not a PyPI one.
"$LINUXNET_HOME/venv-2.16/bin/python" -c 'import sys; from importlib.metadata import version; v=version("pyroute2"); sys.exit(0 if v.startswith("0.7") else "venv-2.16 has pyroute2 %s, want Debian 0.7.x" % v)'

# ansible-lint --profile production (scripts/test.sh): a venv of its own, so a new
# or upgraded ansible-lint never rebuilds the toolchains the tests run on.
mkvenv "$LINUXNET_HOME/venv-lint" "$py311" 'ansible-core==2.19.*' 'ansible-lint>=25'

# ansible-test sanity (scripts/sanity.sh): ansible-core 2.19 with every sanity
# test's pinned requirements, and shellcheck for the shell scripts.
# ansible-test bootstraps pip in its per-test venvs with a get-pip script from a
# host we cannot reach; put our stand-in (scripts/get_pip_shim.py: pip from PyPI)
# where ansible-test caches that script, for the pip version it pins.
dpkg-query -W -f='${Status}' shellcheck 2>/dev/null | grep -q 'install ok installed' || {
  apt-get update -q; apt-get install -y -q --no-install-recommends shellcheck; }
sanity_req=$("$LINUXNET_HOME/venv-2.19/bin/python" -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements"))')
mkvenv "$LINUXNET_HOME/venv-sanity" "$py311" 'ansible-core==2.19.*' \
  $(for t in pylint validate-modules yamllint ansible-doc changelog pep8 runtime-metadata; do
      echo "-r $sanity_req/sanity.$t.txt"; done)
get_pip=$("$LINUXNET_HOME/venv-sanity/bin/python" -c 'import types; from ansible_test._internal.python_requirements import get_venv_packages as g; print(g(types.SimpleNamespace(version="3.11"))["pip"].replace(".", "_"))')
mkdir -p ~/.ansible/test/cache
cmp -s "$here/scripts/get_pip_shim.py" ~/.ansible/test/cache/"get_pip_$get_pip.py" ||
  install -m 0644 "$here/scripts/get_pip_shim.py" ~/.ansible/test/cache/"get_pip_$get_pip.py"

# A local copy of pyroute2's wheel: the role's prerequisites test installs it with pip
# inside a sandbox that has no network (PIP_NO_INDEX + PIP_FIND_LINKS).
wheels="$LINUXNET_HOME/wheels"
ls "$wheels"/pyroute2-0.9.7-*.whl >/dev/null 2>&1 ||
  "$LINUXNET_HOME/venv-2.19/bin/pip" download -q --no-deps -d "$wheels" 'pyroute2==0.9.7'

# The collection as Ansible finds it: ansible_collections/linuxnet/container_network
coll="$LINUXNET_HOME/collections/ansible_collections/linuxnet"
mkdir -p "$coll"
ln -sfn "$here" "$coll/container_network"
echo "setup: ok (collection linked from $coll/container_network -> $here)"
