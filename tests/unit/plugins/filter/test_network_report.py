"""The report renderer (plugins/filter/network_report.py): pure, on network_info samples.

The samples (fixtures/network_info_hosts.json) follow the agreed network_info schema:
lab-host1 is a converged dual-stack network, lab-host2 a damaged one with drift.
Graphviz itself (scripts/setup.sh installs it) is run too, to prove the DOT is valid and the picture
names what it must (the lab test in tests/integration/test_report.py does it for real).
"""
import copy
import html
import json
import os
import re
import subprocess

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.linuxnet.container_network.plugins.filter import network_report as nr

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, 'fixtures', 'network_info_hosts.json')) as _f:
    HOSTS = json.load(_f)
H1 = HOSTS[0]
H2 = HOSTS[1]


def table(md, heading):
    """The rows (lists of cells) of the first Markdown table after `heading`."""
    lines = md.split('\n')
    i = lines.index(heading)
    rows = []
    for line in lines[i + 1:]:
        if line.startswith('|'):
            rows.append([c.strip() for c in re.split(r'(?<!\\)\|', line)[1:-1]])
        elif rows:
            break
    return rows


def section(md, heading):
    lines = md.split('\n')
    i = lines.index(heading)
    out = []
    for line in lines[i + 1:]:
        if line.startswith('#'):
            break
        out.append(line)
    return [x for x in out if x]


def test_filters_registered():
    assert sorted(nr.FilterModule().filters()) == [
        'report_dot', 'report_fleet_dot', 'report_has_fleet', 'report_index',
        'report_markdown']


def test_markdown_containers_table():
    md = nr.report_markdown(H1)
    rows = table(md, '### Containers')
    assert rows[0] == ['name', 'namespace', 'host ifname', 'ifname', 'IPv4', 'IPv6', 'MTU', 'up']
    assert rows[2:] == [
        ['netns0', 'yes', 'veth0', 'ceth0', '172.18.0.10/16', 'fd00:18::10/64', '1500', 'yes'],
        ['netns1', 'yes', 'veth1', 'ceth1', '172.18.0.20/16', 'fd00:18::20/64', '1500', 'yes']]


def test_markdown_missing_values_are_dashes():
    rows = table(nr.report_markdown(H2), '### Containers')
    assert rows[2:] == [
        ['netns0', 'yes', 'veth0', 'ceth0', '172.18.0.10/16', '-', '1500', 'no'],
        ['netns1', 'no', '-', '-', '-', '-', '-', 'no']]


def test_markdown_ports_sorted_and_rules_listed():
    rows = table(nr.report_markdown(H1), '### Published ports')
    assert [r[:7] for r in rows[2:]] == [
        ['tcp', 'ipv4', '*', '5000', 'netns0', '172.18.0.10', '5000'],
        ['tcp', 'ipv6', '*', '5000', 'netns0', 'fd00:18::10', '5000'],
        ['udp', 'ipv4', '127.0.0.1', '5353', 'netns1', '172.18.0.20', '53']]
    assert rows[2][7] == 'pub/br0/tcp/*/5000/pre, pub/br0/tcp/*/5000/out'


def test_markdown_header_nat_forwarding_uplink():
    md = nr.report_markdown(H1)
    assert 'Uplink: eth0 198.51.100.11/24, 2001:db8:100::11/64' in md
    assert 'Forwarding: IPv4 1, IPv6 1' in md
    assert '- masquerade: IPv4 yes, IPv6 yes' in md
    assert '- ingress protection: IPv4 yes, IPv6 yes' in md
    assert '- persistent: yes (linuxnet-network@br0.service)' in md
    assert '![lab-host1](lab-host1.svg)' in md
    assert '![' not in nr.report_markdown(H1, picture=False)
    # the uplink prefix from the netmask when the facts have no prefix
    assert 'Uplink: eth0 198.51.100.12/24\n' in nr.report_markdown(H2)


def test_markdown_drift():
    assert section(nr.report_markdown(H1), '### Drift') == ['none']
    md = nr.report_markdown(H2)
    parts = md.split('## Network br1')
    assert section(parts[0], '### Drift') == [
        '3 action(s) a converge would take:',
        '1. `[netns] create netns netns1`',
        '1. `[veth_pair] set link veth0 (state=up)`',
        '1. `[masquerade] add masq/br0`']
    assert section(parts[1], '### Drift') == [
        '1 action(s) a converge would take:', '1. `[bridge] create bridge br1`']


def test_markdown_drift_unknown_without_description():
    rec = copy.deepcopy(H1)
    del rec['info']['drift']
    assert section(nr.report_markdown(rec), '### Drift')[0].startswith('not known')


def test_markdown_foreign_and_empty_host():
    md = nr.report_markdown(H1)
    assert section(md, '## Not ours') == ['- namespaces: other', '- bridges: docker0']
    rec = {'name': 'h', 'info': {'networks': {}, 'host': {}}, 'uplink': {}}
    md = nr.report_markdown(rec)
    assert 'No container network of this collection on this host.' in md
    assert 'Uplink: none (no default route)' in md
    assert '## Not ours' not in md   # foreign: not asked


def test_markdown_cells_escaped():
    rec = copy.deepcopy(H1)
    rec['info']['networks']['br0']['containers'][0]['name'] = 'a|b'
    rows = table(nr.report_markdown(rec), '### Containers')
    assert rows[2][0] == 'a\\|b'


def test_bad_input_says_what_to_pass():
    with pytest.raises(AnsibleFilterError, match='host record'):
        nr.report_markdown({'networks': {}})
    with pytest.raises(AnsibleFilterError, match='network_info'):
        nr.report_dot({'name': 'h', 'info': {'networks': []}})
    with pytest.raises(AnsibleFilterError, match='list'):
        nr.report_index(H1)


def test_index():
    md = nr.report_index(HOSTS, failed=['lab-host3'])
    rows = table(md, '# Container networks')
    assert rows[2:] == [
        ['lab-host1', 'br0', '2', '3', 'none', '[lab-host1.md](lab-host1.md)',
         '[svg](lab-host1.svg), [png](lab-host1.png)'],
        ['lab-host2', 'br0, br1', '2', '1', 'changes: br0, br1',
         '[lab-host2.md](lab-host2.md)', '[svg](lab-host2.svg), [png](lab-host2.png)'],
        ['lab-host3', 'no data (unreachable or failed)', '-', '-', '-', '-', '-']]
    assert 'Fleet: no picture, no host has fleet routes' in md
    assert not nr.report_has_fleet(HOSTS)


def test_dot_topology():
    dot = nr.report_dot(H1)
    assert dot.startswith('digraph "lab-host1" {')
    assert '"up:eth0" [fillcolor="#dde8f7", label="uplink eth0\\n198.51.100.11/24\\n' \
           '2001:db8:100::11/64"];' in dot
    assert 'label="bridge br0\\n172.18.0.1/16\\nfd00:18::1/64"' in dot
    # NAT on the uplink edge, one edge for both families on one uplink
    assert re.search(r'"up:eth0" -> "br:br0" \[[^]]*label="masquerade 172.18.0.0/16\\n'
                     r'NAT66 fd00:18::/64"', dot)
    # veth pairs: bridge - host end - container end
    assert '"br:br0" -> "veth:veth0"' in dot
    assert '"veth:veth0" -> "ns:br0/netns0"' in dot
    assert '"veth:veth1" -> "ns:br0/netns1"' in dot
    # published ports: one edge for both families from the uplink, loopback from lo
    assert re.search(r'"up:eth0" -> "ns:br0/netns0" \[[^]]*label="tcp 5000 -> '
                     r'netns0:5000 \(IPv4\+IPv6\)"', dot)
    assert re.search(r'"host:lo" -> "ns:br0/netns1" \[[^]]*label="udp 127.0.0.1:5353 -> '
                     r'netns1:53"', dot)
    assert 'label="not ours\\nbridge docker0\\nnetns other"' in dot


def test_dot_damage_shown():
    dot = nr.report_dot(H2)
    assert 'label="routed 172.18.0.0/16"' in dot           # no masquerade
    assert 'label="netns netns1 (missing)"' in dot
    assert 'label="(no interface)"' in dot
    assert 'label="detached"' in dot
    assert 'label="bridge br1\\n(missing)"' in dot
    assert 'ceth0\\n172.18.0.10/16\\nmtu 1500\\nDOWN' in dot


def test_dot_quotes_names():
    rec = copy.deepcopy(H1)
    rec['name'] = 'we"ird\\host'
    assert nr.report_dot(rec).startswith('digraph "we\\"ird\\\\host" {')


def test_dot_ipv6_only_uplink_and_no_uplink():
    rec = copy.deepcopy(H1)
    rec['uplink'] = {'ipv4': {'interface': 'eth0', 'address': '198.51.100.11', 'prefix': '24'},
                     'ipv6': {'interface': 'eth1', 'address': '2001:db8::5', 'prefix': '64'}}
    dot = nr.report_dot(rec)
    assert re.search(r'"up:eth0" -> "br:br0" \[[^]]*label="masquerade 172.18.0.0/16"', dot)
    assert re.search(r'"up:eth1" -> "br:br0" \[[^]]*label="NAT66 fd00:18::/64"', dot)
    rec['uplink'] = {}
    dot = nr.report_dot(rec)
    assert '"up:?" [label="uplink unknown\\n(no default route)"' in dot


def test_fleet_dot():
    recs = copy.deepcopy(HOSTS)
    recs[0]['info']['networks']['br0']['fleet_routes'] = [
        {'dst': '172.19.0.0/16', 'gateway': '198.51.100.12'}]
    assert nr.report_has_fleet(recs)
    dot = nr.report_fleet_dot(recs)
    assert '"host:lab-host1" -> "host:lab-host2" [label="172.19.0.0/16 via 198.51.100.12"];' \
        in dot
    assert 'Fleet: ![fleet](fleet.svg)' in nr.report_index(recs)
    # a VXLAN route's gateway is the peer's VTEP: the edge goes to the FDB's destination
    recs[1]['info']['networks']['br0']['fleet_routes'] = [
        {'dst': '172.18.1.0/24', 'gateway': '172.18.1.0', 'dev': 'lnvx42', 'backend': 'vxlan',
         'underlay': '198.51.100.11'}]
    dot = nr.report_fleet_dot(recs)
    assert ('"host:lab-host2" -> "host:lab-host1" [label="172.18.1.0/24 via 172.18.1.0 dev '
            'lnvx42 (vxlan to 198.51.100.11)"];') in dot


@pytest.mark.parametrize('rec', HOSTS, ids=[h['name'] for h in HOSTS])
def test_graphviz_renders_every_container_and_address(rec):
    svg = subprocess.run(['dot', '-Tsvg'], input=nr.report_dot(rec), capture_output=True,
                         text=True, check=True).stdout
    texts = [html.unescape(t) for t in re.findall(r'<text[^>]*>([^<]*)</text>', svg)]
    for net in rec['info']['networks'].values():
        for addr in net['bridge']['addresses']:
            assert addr in texts
        for ctr in net['containers']:
            assert any(ctr['name'] in t for t in texts)
            for addr in ctr['addresses']:
                assert addr in texts
    assert 'tcp 5000 -> netns0:5000' in ' '.join(texts)


def test_drift_error_and_nameless_pair():
    rec = copy.deepcopy(H2)
    rec['info']['drift']['br0'] = {'changed': None, 'actions': [],
                                   'error': 'subnet 10.0.0.0/8 overlaps eth0'}
    parts = nr.report_markdown(rec).split('## Network br1')
    assert section(parts[0], '### Drift') == [
        'a converge would fail: subnet 10.0.0.0/8 overlaps eth0']
    assert 'changes: br0, br1' in nr.report_index([rec])
    rec['info']['networks']['br0']['containers'][1].update(
        name=None, host_ifname='veth9', namespace=False)
    dot = nr.report_dot(rec)
    assert 'label="netns ?veth9 (missing)"' in dot
    assert '"veth:veth9" -> "ns:br0/?veth9"' not in dot   # no ifname: no pair edge
    assert '"br:br0" -> "veth:veth9"' in dot


def test_port_to_no_container():
    rec = copy.deepcopy(H2)
    rec['info']['networks']['br0']['published_ports'][0]['container'] = None
    dot = nr.report_dot(rec)
    assert '"gone:br0/172.18.0.10" [color="#c03030", label="no container\\n172.18.0.10"' in dot
    assert re.search(r'"up:eth0" -> "gone:br0/172.18.0.10" \[[^]]*label="tcp 5000 -> 172.18.0.10:5000"',
                     dot)
