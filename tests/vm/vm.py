#!/usr/bin/env python3
# Copyright: Contributors to the linuxnet.container_network collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real Debian 12 virtual machine for molecule/vm, booted with qemu.

    vm.py build                       # build (or find cached) the guest image
    vm.py up --dir D [--name N]       # inside scripts/sandbox: boot a VM, wait for SSH
    vm.py ssh --dir D [-- CMD...]     # run CMD (or a shell) in the VM as root
    vm.py down --dir D                # stop it, remove its tap and overlay (idempotent)

``build`` runs on the machine's own network (debootstrap downloads from the
Debian mirror this machine's apt uses, nothing else) but changes nothing there:
the packages' maintainer scripts run in a chroot inside a private network,
mount and PID namespace, with a policy-rc.d that refuses to start anything. The
image is cached under ``$LINUXNET_HOME/vm-images/KEY/`` (KEY: hash of the
recipe below), built in a temporary directory next to it and renamed into
place, so a rerun (or ``build`` inside the sandbox) finds it and does nothing:

    root.img      raw ext4 root file system (no partition table), made with
                  ``mkfs.ext4 -d`` (no loop mount)
    vmlinuz       the guest's kernel and initrd, booted directly by qemu
    initrd.img    (-kernel/-initrd/-append: no bootloader in the image)
    id_ed25519    the image's root SSH key pair (generated per image)
    image.json    key, kernel, package versions, build time

The guest is configured like a CentOS 8 server where it matters to the role:
firewalld (EL8's public zone: no <forward/>) and NetworkManager enabled and
running, NetworkManager owns both NICs with static keyfile profiles, sshd with
root login by key, br_netfilter not loaded at boot.

``up`` refuses to run outside ``scripts/sandbox`` (it creates a tap device).
The VM it starts (qemu daemonized, its PID in D/qemu.pid):

* NIC1 ``eth0`` (management, like vagrant's NAT NIC): qemu user networking,
  restricted (the guest reaches nothing but the forwarded ports),
  10.0.2.15/24 via 10.0.2.2; 127.0.0.1:SSH_PORT -> guest:22 and
  127.0.0.1:PUBLISHED_PORT -> guest:5000 on the controller (this sandbox);
* NIC2 ``eth1`` (like vagrant's host-only network): tap ``lnvm0`` in the
  sandbox's network namespace with 192.0.2.1/24; the guest is 192.0.2.10/24.

KVM is used when it can boot the guest's kernel (the banner "Linux version"
on the serial console within LINUXNET_VM_KVM_PROBE seconds, default 15), else
qemu is killed and the VM boots with TCG. ``LINUXNET_VM_ACCEL=kvm|tcg`` forces
one. A reboot inside the guest reboots the same qemu process (same kernel, same
overlay: changes persist until ``down``). ``up`` writes D/state.json.

Only the Python standard library is used.
"""

import argparse
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SELF = os.path.abspath(__file__)
LINUXNET_HOME = os.environ.get("LINUXNET_HOME", "/opt/linuxnet")
IMAGES = os.path.join(LINUXNET_HOME, "vm-images")

# ---- recipe (everything between these markers is hashed into the image key) ----
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = [
    "linux-image-amd64", "systemd-sysv", "dbus", "libpam-systemd", "openssh-server",
    "python3", "python3-pyroute2", "firewalld", "network-manager", "iproute2",
    "nftables", "iptables", "procps", "kmod",
    # Ansible's become (sudo) is used even by root, as on the lab hosts
    "sudo",
]
HOSTNAME = "linuxnet-vm"
MGMT_MAC = "52:54:00:4c:4e:01"
UPLINK_MAC = "52:54:00:4c:4e:02"
GUEST_MGMT = "10.0.2.15"
GUEST_UPLINK = "192.0.2.10"
HOST_UPLINK = "192.0.2.1"
UPLINK_PREFIX = 24

# EL8's firewalld 0.8/0.9 public zone (tests/firewalls.py EL8_PUBLIC_ZONE): no
# <forward/>, so nothing is forwarded between the zone's interfaces unless a
# policy or zone lets it (Debian's firewalld 1.3 zone has <forward/>).
EL8_PUBLIC_ZONE = """<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <description>For use in public areas. You do not trust the other computers on networks to \
not harm your computer. Only selected incoming connections are accepted.</description>
  <service name="ssh"/>
  <service name="dhcpv6-client"/>
  <service name="cockpit"/>
</zone>
"""

# path -> (mode, text); written into the root before the configure script runs
FILES = {
    "/etc/hostname": (0o644, HOSTNAME + "\n"),
    "/etc/hosts": (0o644, "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n" % HOSTNAME),
    "/etc/fstab": (0o644, "/dev/vda\t/\text4\trw,errors=remount-ro\t0\t0\n"),
    "/etc/firewalld/zones/public.xml": (0o644, EL8_PUBLIC_ZONE),
    # NetworkManager owns both NICs, as on a CentOS 8 server: static keyfile
    # profiles bound by MAC, no automatic "Wired connection" profiles.
    "/etc/NetworkManager/conf.d/50-linuxnet-vm.conf": (0o644, """\
[main]
plugins=keyfile
no-auto-default=*
"""),
    "/etc/NetworkManager/system-connections/mgmt.nmconnection": (0o600, """\
[connection]
id=mgmt
uuid=6d0b1c1e-4c4e-4d01-9a01-000000000001
type=ethernet
autoconnect=true

[ethernet]
mac-address=%s

[ipv4]
method=manual
address1=%s/24,10.0.2.2
dns=10.0.2.3;

[ipv6]
method=disabled
""" % (MGMT_MAC, GUEST_MGMT)),
    "/etc/NetworkManager/system-connections/uplink.nmconnection": (0o600, """\
[connection]
id=uplink
uuid=6d0b1c1e-4c4e-4d01-9a01-000000000002
type=ethernet
autoconnect=true

[ethernet]
mac-address=%s

[ipv4]
method=manual
address1=%s/%d
never-default=true

[ipv6]
method=disabled
""" % (UPLINK_MAC, GUEST_UPLINK, UPLINK_PREFIX)),
    "/etc/ssh/sshd_config.d/50-linuxnet-vm.conf": (0o644, """\
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""),
    # a small initrd: only what mounts /dev/vda (virtio) as ext4
    "/etc/initramfs-tools/conf.d/linuxnet-vm.conf": (0o644, "MODULES=list\nCOMPRESS=gzip\n"),
    "/etc/initramfs-tools/conf.d/resume": (0o644, "RESUME=none\n"),
    "/etc/initramfs-tools/modules": (0o644, "virtio_pci\nvirtio_blk\next4\ncrc32c_generic\n"),
    # "ready BOOT_ID" on the serial console once SSH and firewalld are up and
    # NetworkManager has configured both NICs (network-online): vm.py up waits for it (and a reboot can be followed in serial.log).
    # First a datagram to qemu's gateway 10.0.2.2: with a static address the guest
    # has not talked to qemu's user network yet, which then does not know its MAC
    # and drops the first forwarded SYN (the first SSH connection waited ~20 s).
    "/etc/systemd/system/linuxnet-vm-ready.service": (0o644, """\
[Unit]
Description=Tell the host on the serial console that the VM is ready
Wants=network-online.target
After=ssh.service firewalld.service network-online.target

[Service]
Type=oneshot
ExecStart=-/usr/bin/python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'', ('10.0.2.2', 9))"
ExecStart=/bin/sh -c 'echo "linuxnet-vm: ready $(cat /proc/sys/kernel/random/boot_id)" >/dev/ttyS0'

[Install]
WantedBy=multi-user.target
"""),
}
# written before the packages are configured (the kernel's postinst makes the
# initrd with them); the rest of FILES after
EARLY_FILES = ("/etc/initramfs-tools/conf.d/linuxnet-vm.conf",
               "/etc/initramfs-tools/conf.d/resume")

# runs in the chroot (no network, no services start), after FILES are written
CONFIGURE = """\
set -eu
systemctl enable NetworkManager.service firewalld.service ssh.service \
    linuxnet-vm-ready.service
systemctl set-default multi-user.target
# timers and units a throwaway test VM does not need, that cost boot time
systemctl mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
    e2scrub_all.timer e2scrub_reap.service fstrim.timer systemd-tmpfiles-clean.timer \
    getty@tty1.service
# br_netfilter must not be loaded at boot (nothing here may ask for it)
if grep -rqs br_netfilter /etc/modules /etc/modules-load.d /usr/lib/modules-load.d; then
    echo "br_netfilter is loaded at boot" >&2; exit 1
fi
# Debian's ifupdown hook for NetworkManager's dispatcher (not on CentOS; no ifupdown
# here): a failing pre-up script that held each NIC's activation for ~9 s
find /etc/NetworkManager/dispatcher.d -name 01-ifupdown -delete
update-initramfs -u -k all
passwd -l root >/dev/null
install -d -m 0700 /root/.ssh
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* \
    /usr/share/info/* /var/log/*.log
dpkg-query -W -f '${Package} ${Version}\\n' > /var/lib/linuxnet-vm-packages.txt
"""
# ---- end recipe ----

STAGE_TIMEOUT = 1800
BOOT_TIMEOUT = int(os.environ.get("LINUXNET_VM_BOOT_TIMEOUT", "300"))
KVM_PROBE_SECONDS = float(os.environ.get("LINUXNET_VM_KVM_PROBE", "15"))
TAP = "lnvm0"
QBOOT = "/usr/share/qemu/qboot.rom"
GUEST_SSH_PORT = 22
GUEST_PUBLISHED_PORT = 5000
CPUS = os.environ.get("LINUXNET_VM_CPUS", "2")
# TCG: qemu64 boots and runs Python ~10% faster than max here (fewer features
# to emulate); Debian 12 needs nothing more than x86-64 baseline
CPU_MODEL = os.environ.get("LINUXNET_VM_CPU_MODEL", "qemu64")
KVM_CPU_MODEL = os.environ.get("LINUXNET_VM_KVM_CPU_MODEL", "host")
MEMORY = os.environ.get("LINUXNET_VM_MEMORY", "1024")
KERNEL_APPEND = ("root=/dev/vda rw console=ttyS0 net.ifnames=0 loglevel=6 "
                 "systemd.show_status=error mitigations=off")
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]


class VMError(Exception):
    pass


def log(msg):
    print("vm: %s" % msg, file=sys.stderr, flush=True)


def recipe_key():
    with open(SELF, encoding="utf-8") as f:
        text = f.read()
    start = text.index("# ---- recipe ")
    end = text.index("# ---- end recipe ----")
    return hashlib.sha256(text[start:end].encode()).hexdigest()[:16]


def image_dir(key=None):
    return os.path.join(IMAGES, key or recipe_key())


def cached_image():
    d = image_dir()
    return d if os.path.isfile(os.path.join(d, "image.json")) else None


# ---------------------------------------------------------------- build --

def run(argv, check=True, **kw):
    return subprocess.run(argv, check=check, **kw)


def isolated(argv, **kw):
    """ARGV in private network, mount and PID namespaces (killed with us)."""
    return run(["unshare", "--net", "--mount", "--pid", "--kill-child",
                "--propagation", "private", "--"] + argv, **kw)


def in_chroot(root, script, logf):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root"}
    isolated(["sh", "-c", 'mount -t proc proc "$1/proc" && exec chroot "$1" sh -c "$2"',
              "sh", root, script], env=env, stdout=logf, stderr=subprocess.STDOUT,
             timeout=STAGE_TIMEOUT)


def write_files(root, paths):
    for path in paths:
        mode, text = FILES[path]
        dst = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "w") as f:
            f.write(text)
        os.chmod(dst, mode)


def no_services(root, on):
    """A policy-rc.d in ROOT that lets no service start (on), or none (off)."""
    policy = os.path.join(root, "usr/sbin/policy-rc.d")
    if on:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\n# vm.py build: no service starts in the chroot\nexit 101\n")
        os.chmod(policy, 0o755)
    elif os.path.lexists(policy):
        os.unlink(policy)


def images_in_use():
    """Image directories a running qemu boots from (its -kernel path)."""
    used = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]).startswith("qemu-system"):
            used.update(os.path.dirname(a) for a in argv if a.startswith(IMAGES + "/"))
    return used


def prune_images(keep):
    """Remove the images of older recipes (unless a VM still runs on one)."""
    used = images_in_use()
    for name in os.listdir(IMAGES):
        path = os.path.join(IMAGES, name)
        if (name != keep and not name.startswith(".") and name != "debs"
                and os.path.isfile(os.path.join(path, "image.json")) and path not in used):
            log("build: removing the image of an older recipe, %s" % path)
            shutil.rmtree(path, ignore_errors=True)


def build(args):
    t0 = time.monotonic()
    key = recipe_key()
    final = image_dir(key)
    if os.path.isfile(os.path.join(final, "image.json")):
        print("vm build: cached image %s (%.1f s)" % (final, time.monotonic() - t0))
        return 0
    if os.environ.get("LINUXNET_SANDBOX") == "1":
        raise VMError("no image %s, and it cannot be built inside the sandbox (no network): "
                      "run `%s tests/vm/vm.py build` outside it first"
                      % (final, sys.executable))
    if os.geteuid() != 0:
        raise VMError("build needs root (debootstrap, chroot)")
    for tool in ("debootstrap", "mkfs.ext4", "ssh-keygen", "unshare"):
        if not shutil.which(tool):
            raise VMError("%s not found: run scripts/setup.sh" % tool)
    os.makedirs(IMAGES, exist_ok=True)
    with open(os.path.join(IMAGES, ".build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(final, "image.json")):   # built while we waited
            print("vm build: cached image %s (%.1f s)" % (final, time.monotonic() - t0))
            return 0
        # we hold the lock: any other .build-* is what a killed build left
        for name in os.listdir(IMAGES):
            if name.startswith(".build-"):
                shutil.rmtree(os.path.join(IMAGES, name), ignore_errors=True)
        if os.path.isdir(final):                                # incomplete, unusable
            shutil.rmtree(final)
        tmp = tempfile.mkdtemp(prefix=".build-%s." % key, dir=IMAGES)
        try:
            info = _build_into(tmp, key, t0)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        prune_images(key)
    print("vm build: built %s in %.0f s (%s, kernel %s)"
          % (final, info["build_seconds"], ", ".join(
              "%s %.0f s" % kv for kv in info["stage_seconds"].items()), info["kernel"]))
    return 0


def _build_into(tmp, key, t0):
    root = os.path.join(tmp, "root")
    logpath = os.path.join(tmp, "build.log")
    stages = {}
    # downloaded .debs are kept for the next build (of a changed recipe)
    debs = os.path.join(IMAGES, "debs")
    os.makedirs(debs, exist_ok=True)
    with open(logpath, "w") as logf:
        def stage(name, fn):
            s = time.monotonic()
            log("build: %s ..." % name)
            try:
                fn()
                log("build: %s done in %.0f s" % (name, time.monotonic() - s))
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
                logf.flush()
                with open(logpath, errors="replace") as f:
                    tail = f.read()[-3000:]
                raise VMError("build step %s failed (%s); end of %s:\n%s"
                              % (name, e, logpath, tail)) from None
            stages[name] = time.monotonic() - s

        # 1. download + unpack (no maintainer script runs), from the Debian mirror
        stage("debootstrap (download)", lambda: run(
            ["debootstrap", "--foreign", "--variant=minbase", "--arch=amd64",
             "--cache-dir=" + debs,
             "--include=" + ",".join(PACKAGES), SUITE, root, MIRROR],
            stdout=logf, stderr=subprocess.STDOUT, timeout=STAGE_TIMEOUT))

        # 2. configure the packages, isolated: no network, nothing may start
        # (debootstrap puts its own policy-rc.d in place for this stage, too)
        def second():
            write_files(root, EARLY_FILES)
            no_services(root, True)
            isolated(["sh", "-c", 'mount -t proc proc "$1/proc" && exec chroot "$1" '
                      '/debootstrap/debootstrap --second-stage', "sh", root],
                     stdout=logf, stderr=subprocess.STDOUT, timeout=STAGE_TIMEOUT)
        stage("debootstrap (install)", second)

        # 3. the recipe's files and configuration
        def configure():
            write_files(root, FILES)
            no_services(root, True)
            in_chroot(root, CONFIGURE, logf)
            no_services(root, False)
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "linuxnet-vm-" + key,
                 "-f", os.path.join(tmp, "id_ed25519")], stdout=logf, stderr=subprocess.STDOUT)
            ak = os.path.join(root, "root/.ssh/authorized_keys")
            shutil.copyfile(os.path.join(tmp, "id_ed25519.pub"), ak)
            os.chmod(ak, 0o600)
        stage("configure", configure)

        # 4. kernel + initrd out, root file system image (mkfs.ext4 -d: no loop mount)
        kernel = {}

        def image():
            boot = os.path.join(root, "boot")
            vmlinuz = sorted(n for n in os.listdir(boot) if n.startswith("vmlinuz-"))
            if len(vmlinuz) != 1:
                raise VMError("want exactly one kernel in /boot, found %s" % vmlinuz)
            kernel["version"] = vmlinuz[0][len("vmlinuz-"):]
            shutil.copyfile(os.path.join(boot, vmlinuz[0]), os.path.join(tmp, "vmlinuz"))
            shutil.copyfile(os.path.join(boot, "initrd.img-" + kernel["version"]),
                            os.path.join(tmp, "initrd.img"))
            img = os.path.join(tmp, "root.img")
            with open(img, "wb") as f:
                f.truncate(4 << 30)    # sparse; the guest sees 4 GiB
            run(["mkfs.ext4", "-q", "-F", "-L", "linuxnet-root", "-m", "0",
                 "-E", "lazy_itable_init=0,lazy_journal_init=0", "-d", root, img],
                stdout=logf, stderr=subprocess.STDOUT, timeout=STAGE_TIMEOUT)
        stage("image", image)

    with open(os.path.join(root, "var/lib/linuxnet-vm-packages.txt")) as f:
        packages = dict(line.split(" ", 1) for line in f.read().splitlines() if " " in line)
    shutil.rmtree(root)
    info = {"key": key, "suite": SUITE, "mirror": MIRROR, "kernel": kernel["version"],
            "packages": packages, "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.monotonic() - t0, 1),
            "stage_seconds": {k: round(v, 1) for k, v in stages.items()}}
    with open(os.path.join(tmp, "image.json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
    return info


# ------------------------------------------------------------------- up --

def require_sandbox():
    if os.environ.get("LINUXNET_SANDBOX") != "1":
        raise VMError("run inside scripts/sandbox (up creates a tap device and must never "
                      "touch this machine's own network)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def link_exists(name):
    # (not /sys/class/net: sysfs shows the network namespace that mounted it, and
    # the sandbox has its own network namespace but the machine's /sys)
    return subprocess.run(["ip", "-o", "link", "show", "dev", name], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False).returncode == 0


def read_pid(d):
    try:
        with open(os.path.join(d, "qemu.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def our_qemu(pid, d):
    """True if PID is alive and is a qemu started for directory D."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return False
    return (os.path.basename(argv[0]).startswith("qemu-system")
            and any(os.path.realpath(d) in a for a in argv))


def stop_qemu(d, grace=10.0):
    pid = read_pid(d)
    if not pid or not our_qemu(pid, d):
        return None
    try:
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + grace
        while time.monotonic() < end and our_qemu(pid, d):
            time.sleep(0.1)
        if our_qemu(pid, d):
            os.kill(pid, signal.SIGKILL)
            end = time.monotonic() + 5
            while time.monotonic() < end and our_qemu(pid, d):
                time.sleep(0.05)
    except ProcessLookupError:
        pass
    return pid


def tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return "(%s)" % e


def kvm_usable():
    return os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK)


def qemu_argv(d, img, accel, name, ssh_port, pub_port, serial):
    if accel == "kvm":
        acc = ["-accel", "kvm", "-cpu", KVM_CPU_MODEL]
    else:
        acc = ["-accel", "tcg,thread=multi", "-cpu", CPU_MODEL]
    if os.path.exists(QBOOT):
        acc += ["-bios", QBOOT]    # boots a -kernel faster than SeaBIOS
    return ["qemu-system-x86_64", "-name", name, "-machine", "pc"] + acc + [
        "-smp", CPUS, "-m", MEMORY,
        "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
        "-kernel", os.path.join(img, "vmlinuz"),
        "-initrd", os.path.join(img, "initrd.img"),
        "-append", " ".join([KERNEL_APPEND, os.environ.get("LINUXNET_VM_APPEND", "")]).strip(),
        "-drive", "file=%s,if=virtio,format=qcow2,cache=unsafe,discard=unmap"
        % os.path.join(d, "overlay.qcow2"),
        "-netdev", "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:%d,"
        "hostfwd=tcp:127.0.0.1:%d-:%d" % (ssh_port, GUEST_SSH_PORT, pub_port,
                                          GUEST_PUBLISHED_PORT),
        "-device", "virtio-net-pci,netdev=n0,mac=%s,romfile=" % MGMT_MAC,
        "-netdev", "tap,id=n1,ifname=%s,script=no,downscript=no" % TAP,
        "-device", "virtio-net-pci,netdev=n1,mac=%s,romfile=" % UPLINK_MAC,
        "-device", "virtio-rng-pci",
        "-serial", "file:%s" % serial,
        "-monitor", "none",
        "-qmp", "unix:%s,server=on,wait=off" % os.path.join(d, "qmp.sock"),
        "-pidfile", os.path.join(d, "qemu.pid"),
        "-daemonize",
    ]


def start_qemu(d, img, accel, name, ssh_port, pub_port):
    serial = os.path.join(d, "serial.log")
    argv = qemu_argv(d, img, accel, name, ssh_port, pub_port, serial)
    with open(os.path.join(d, "qemu.argv"), "w") as f:
        f.write(" ".join(shlex.quote(a) for a in argv) + "\n")
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=60, check=False)
    if r.returncode != 0:
        raise VMError("qemu (%s) failed to start: %s" % (accel, r.stdout.strip()))
    pid = read_pid(d)
    if not pid:
        raise VMError("qemu started but wrote no pidfile")
    return pid, serial


def kvm_boots(d, pid, serial):
    """Wait for the kernel banner on the serial console; None if it came, else why not."""
    end = time.monotonic() + KVM_PROBE_SECONDS
    while time.monotonic() < end:
        if not our_qemu(pid, d):
            return "qemu exited (KVM could not run the guest)"
        try:
            with open(serial, "rb") as f:
                if b"Linux version" in f.read():
                    return None
        except OSError:
            pass
        time.sleep(0.2)
    return "no kernel banner within %.0f s" % KVM_PROBE_SECONDS


def ssh_argv(state, *cmd):
    return (["ssh"] + SSH_OPTS + ["-i", state["identity_file"], "-p", str(state["ssh_port"]),
                                  "root@" + state["address"]] + list(cmd))


def wait_ready(d, pid, state, serial, deadline):
    """Wait for the guest's ready line on the serial console, then for SSH.

    (Polling SSH through qemu's user networking before the guest listens would
    leave half-open connections that sshd later counts against MaxStartups.)"""
    marker = b"linuxnet-vm: ready "
    while True:
        if not our_qemu(pid, d):
            raise VMError("qemu exited during boot; end of %s:\n%s" % (serial, tail(serial)))
        try:
            with open(serial, "rb") as f:
                ready = marker in f.read()
        except OSError:
            ready = False
        if ready:
            try:
                r = subprocess.run(ssh_argv(state, "true"), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   timeout=max(5, min(60, deadline - time.monotonic())),
                                   check=False)
                if r.returncode == 0:
                    return
                why = r.stderr.decode(errors="replace").strip()
            except subprocess.TimeoutExpired:
                why = "ssh timed out"
        else:
            why = "no ready line on the serial console yet"
        if time.monotonic() > deadline:
            raise VMError("VM not reachable by SSH on 127.0.0.1:%d after %d s (%s); end of %s:\n%s"
                          % (state["ssh_port"], BOOT_TIMEOUT, why, serial, tail(serial)))
        time.sleep(0.5)


def up(args):
    require_sandbox()
    d = os.path.abspath(args.dir)
    img = cached_image()
    if not img:
        raise VMError("no image for this recipe (%s): run `vm.py build` first, outside the "
                      "sandbox" % image_dir())
    if os.path.exists(os.path.join(d, "state.json")):
        raise VMError("%s/state.json exists: a VM is up there (vm.py down --dir %s)" % (d, d))
    if link_exists(TAP):
        raise VMError("%s already exists in this network namespace: another VM is up" % TAP)
    os.makedirs(d, exist_ok=True)
    accel = os.environ.get("LINUXNET_VM_ACCEL", "auto")
    if accel not in ("auto", "kvm", "tcg"):
        raise VMError("LINUXNET_VM_ACCEL must be auto, kvm or tcg, not %r" % accel)
    t0 = time.monotonic()
    try:
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", os.path.join(img, "root.img"),
             "-F", "raw", os.path.join(d, "overlay.qcow2")])
        run(["ip", "tuntap", "add", "dev", TAP, "mode", "tap"])
        run(["ip", "addr", "add", "%s/%d" % (HOST_UPLINK, UPLINK_PREFIX), "dev", TAP])
        run(["ip", "link", "set", TAP, "up"])
        ssh_port, pub_port = free_port(), free_port()
        while pub_port == ssh_port:
            pub_port = free_port()
        state = {"name": args.name, "dir": d, "image": img, "address": "127.0.0.1",
                 "ssh_port": ssh_port, "published_port": pub_port,
                 "guest_published_port": GUEST_PUBLISHED_PORT, "user": "root",
                 "identity_file": os.path.join(img, "id_ed25519"),
                 "uplink_address": GUEST_UPLINK, "controller_address": HOST_UPLINK,
                 "management_address": GUEST_MGMT, "tap": TAP}
        tried, pid = [], None
        if accel == "auto":
            accel = "kvm" if kvm_usable() else "tcg"
            if accel == "kvm":
                # KVM only if it can boot this kernel, else TCG (rather than hang)
                try:
                    pid, serial = start_qemu(d, img, "kvm", args.name, ssh_port, pub_port)
                    why = kvm_boots(d, pid, serial)
                except VMError as e:
                    why = str(e).splitlines()[0]
                if why:
                    log("KVM cannot boot the guest (%s): falling back to TCG" % why)
                    stop_qemu(d, grace=2)
                    if os.path.exists(os.path.join(d, "serial.log")):
                        os.replace(os.path.join(d, "serial.log"),
                                   os.path.join(d, "serial-kvm.log"))
                    tried.append({"accel": "kvm", "why": why,
                                  "seconds": round(time.monotonic() - t0, 1)})
                    accel, pid = "tcg", None
            else:
                tried.append({"accel": "kvm", "why": "/dev/kvm missing or not accessible"})
        if pid is None:
            pid, serial = start_qemu(d, img, accel, args.name, ssh_port, pub_port)
        t_boot = time.monotonic()
        state.update(pid=pid, accel=accel, accel_fallbacks=tried, serial_log=serial,
                     overlay=os.path.join(d, "overlay.qcow2"),
                     pidfile=os.path.join(d, "qemu.pid"))
        wait_ready(d, pid, state, serial, t_boot + BOOT_TIMEOUT)
        state["boot_seconds"] = round(time.monotonic() - t_boot, 1)
        state["up_seconds"] = round(time.monotonic() - t0, 1)
        tmp = os.path.join(d, "state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(state, f, indent=1, sort_keys=True)
        os.replace(tmp, os.path.join(d, "state.json"))
        with open(os.path.join(d, "boots.jsonl"), "a") as f:     # kept by down
            f.write(json.dumps({k: state[k] for k in ("accel", "accel_fallbacks",
                                                      "boot_seconds", "up_seconds")}) + "\n")
    except BaseException:
        _teardown(d)
        raise
    print("vm up: %s (%s) booted to SSH in %.1f s (up %.1f s): ssh -p %d root@127.0.0.1, "
          "127.0.0.1:%d -> guest:%d, %s <-> %s on %s"
          % (args.name, accel, state["boot_seconds"], state["up_seconds"], ssh_port,
             pub_port, GUEST_PUBLISHED_PORT, HOST_UPLINK, GUEST_UPLINK, TAP))
    return 0


# ----------------------------------------------------------------- down --

def _teardown(d):
    """Stop qemu, remove the tap and the overlay; what is not there is skipped."""
    pid = stop_qemu(d)
    if pid and our_qemu(pid, d):
        raise VMError("qemu %d does not die" % pid)
    if os.environ.get("LINUXNET_SANDBOX") == "1" and link_exists(TAP):
        subprocess.run(["ip", "link", "del", TAP], check=False)
    for name in ("overlay.qcow2", "qemu.pid", "qmp.sock", "state.json.tmp"):
        try:
            os.unlink(os.path.join(d, name))
        except FileNotFoundError:
            pass
    return pid


def down(args):
    d = os.path.abspath(args.dir)
    if not os.path.isdir(d):
        print("vm down: nothing at %s" % d)
        return 0
    pid = _teardown(d)
    if link_exists(TAP) and os.environ.get("LINUXNET_SANDBOX") == "1":
        raise VMError("%s is still there" % TAP)
    try:
        os.unlink(os.path.join(d, "state.json"))
    except FileNotFoundError:
        pass
    print("vm down: %s" % ("stopped qemu %d" % pid if pid else "no qemu running"))
    return 0


def ssh(args):
    d = os.path.abspath(args.dir)
    try:
        with open(os.path.join(d, "state.json")) as f:
            state = json.load(f)
    except OSError as e:
        raise VMError("no VM up in %s (%s)" % (d, e)) from None
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    argv = ssh_argv(state, *cmd)
    if not cmd:
        argv.insert(1, "-t")
    os.execvp(argv[0], argv)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build or find the cached guest image")
    s = sub.add_parser("up", help="boot a VM (inside scripts/sandbox)")
    s.add_argument("--dir", required=True)
    s.add_argument("--name", default=HOSTNAME)
    s = sub.add_parser("down", help="stop the VM, remove its tap and overlay")
    s.add_argument("--dir", required=True)
    s = sub.add_parser("ssh", help="run a command in the VM")
    s.add_argument("--dir", required=True)
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    sub.add_parser("key", help="print the image key of this recipe")
    args = p.parse_args(argv)
    # SIGTERM (a CI timeout) unwinds like Ctrl-C: a build removes its temporary
    # directory, an interrupted `up` stops the qemu it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.command == "key":
            print(recipe_key())
            return 0
        return {"build": build, "up": up, "down": down, "ssh": ssh}[args.command](args)
    except VMError as e:
        print("vm %s: ERROR: %s" % (args.command, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
