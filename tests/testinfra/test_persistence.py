# Copyright: Contributors to the linuxnet.container_network collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network survives a reboot (role variable container_bridge_network_persistent).

Shared by molecule/vm, molecule/default and molecule/lab (runs before test_seed.py:
pytest takes the files in order). On every host: the unit and the network's state are
installed and the unit is enabled. On a host running systemd that has been rebooted
since the converge (molecule/default/reboot.yml leaves the boot id it rebooted from in
/var/tmp/linuxnet-test-reboot), the unit restored the network at boot, and the test
service molecule/default/netns_service.yml installed (a TCP server in netns0, started
by systemd after the unit) answers through the published port: from this controller
(at the uplink address, and through the VM's forwarded port where the inventory gives
one in linuxnet_test_forwarded_ports). It is then stopped: test_seed.py serves on the
same port.
"""

import json
import shlex
import socket

import pytest

UNIT = "linuxnet-network@br0.service"
SERVICE = "linuxnet-test-netns0.service"
STATE = "/var/lib/linuxnet/networks/br0"
MARKER = "/var/tmp/linuxnet-test-reboot"


@pytest.fixture(scope="module")
def hv(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def systemd(host):
    return host.file("/run/systemd/system").is_directory


@pytest.fixture(scope="module")
def rebooted(host, systemd):
    """True when this host has been rebooted by reboot.yml since the converge."""
    marker = host.file(MARKER)
    if not marker.exists:
        return False
    assert systemd, "reboot.yml ran on a host without systemd"
    before = marker.content_string.strip()
    now = host.file("/proc/sys/kernel/random/boot_id").content_string.strip()
    return before != now


def _persistent(hv):
    return bool(hv.get("container_bridge_network_persistent", True))


def test_persistence_is_installed(host, hv, systemd):
    assert _persistent(hv), "these tests expect container_bridge_network_persistent: true"
    unit = host.file("/etc/systemd/system/" + UNIT)
    assert unit.is_file, "the unit file is missing"
    text = unit.content_string
    assert "ExecStart=" in text and STATE + "/boot.py" in text, text
    before = [l for l in text.splitlines() if l.startswith("Before=")]
    assert before and "network-online.target" in before[0].split(), text
    for target in ("multi-user.target", "network-online.target"):
        link = host.file("/etc/systemd/system/%s.wants/%s" % (target, UNIT))
        assert link.is_symlink and link.linked_to == "/etc/systemd/system/" + UNIT
    saved = json.loads(host.file(STATE + "/network.json").content_string)
    assert saved["network"]["bridge"] == "br0"
    assert host.file(STATE + "/lib").is_directory
    if systemd:
        assert host.run("systemctl is-enabled %s" % UNIT).stdout.strip() == "enabled"


def _fetch(addr, port):
    with socket.create_connection((addr, int(port)), timeout=5) as s:
        s.settimeout(5)
        return s.recv(1024).decode().strip()


def test_after_reboot_the_unit_restored_the_network(host, hv, rebooted):
    if not rebooted:
        # before the reboot the network is Ansible's; the unit has not run
        return
    r = host.run("systemctl is-active %s" % UNIT)
    assert r.stdout.strip() == "active", host.run("journalctl -b -u %s --no-pager" % UNIT).stdout
    log = host.run("journalctl -b -u %s --no-pager -o cat" % UNIT).stdout
    assert "%s: network restored" % UNIT in log, log
    # nothing ran Ansible on this boot: the network is the unit's work
    assert "FAILED" not in log, log


def test_after_reboot_a_service_in_netns0_answers_on_the_published_port(host, hv, systemd,
                                                                        rebooted):
    if not rebooted:
        if systemd:  # netns_service.yml only enabled it: it starts at the next boot
            assert host.run("systemctl is-active %s" % SERVICE).stdout.strip() != "active"
        return
    try:
        st = host.run("systemctl show -p ActiveState -p NetworkNamespacePath %s" % SERVICE).stdout
        assert "ActiveState=active" in st and "/run/netns/netns0" in st, st
        uplink = hv.get("linuxnet_test_uplink_address") or hv.get("ansible_host")
        answer = _fetch(uplink, 5000)
        assert answer.startswith("netns0-service from="), answer
        for port, where in (hv.get("linuxnet_test_forwarded_ports") or {}).items():
            if int(port) == 5000:
                addr, _, p = str(where).rpartition(":")
                answer = _fetch(addr, p)
                assert answer.startswith("netns0-service from="), (where, answer)
        # it really runs inside netns0
        pid = host.run("systemctl show -p MainPID --value %s" % SERVICE).stdout.strip()
        ns = host.run("readlink /proc/%s/ns/net" % shlex.quote(pid)).stdout.strip()
        assert ns == host.run("ip netns exec netns0 readlink /proc/self/ns/net").stdout.strip()
    finally:
        host.run("systemctl stop %s" % SERVICE)
