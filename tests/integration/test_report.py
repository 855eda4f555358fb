"""playbooks/report.yml on the lab fleet (tests/lab/lab.py: 2 hosts over real SSH).

The role converges both hosts, the report playbook reads them (network_info) and writes
the Markdown report and the Graphviz pictures; they are checked against the kernel of
each lab host, read with `ip -j` in its own namespaces (lab.py exec), after the converge
and after out-of-band damage.
"""
import html
import os
import re

import pytest

from conftest import REPO
from labutil import ipj, lab
from labutil import playbook as run_playbook

HOSTS = ['lab-host1', 'lab-host2']
BRIDGE = 'br0'


@pytest.fixture
def fleet(make_lab):
    return make_lab(len(HOSTS))


def playbook(d, name, *extra):
    r = run_playbook(d, os.path.join(REPO, 'playbooks', name), *extra)
    assert r.returncode == 0, '%s failed:\n%s\n%s' % (name, r.stdout[-6000:], r.stderr[-3000:])
    return r.stdout


def kernel_rows(d, host):
    """The containers table as the kernel of `host` says it must be: one row per named
    namespace, found through the veth pairs on the bridge (host end -> peer ifindex)."""
    host_links = ipj(d, host, '-d', 'link', 'show')
    listed = ipj(d, host, 'netns', 'list')
    namespaces = sorted(n['name'] for n in listed)
    ids = {n.get('id'): n['name'] for n in listed}
    rows = []
    for name in namespaces:
        row = None
        for link in ipj(d, '%s/%s' % (host, name), 'addr', 'show'):
            if link['ifname'] == 'lo':
                continue
            hosts_end = [h for h in host_links
                         if h.get('link_index') == link['ifindex']
                         and ids.get(h.get('link_netnsid')) == name]
            assert len(hosts_end) == 1, (host, name, link['ifname'], hosts_end)
            assert hosts_end[0].get('master') == BRIDGE, hosts_end[0]
            glob = [a for a in link['addr_info'] if a.get('scope') == 'global']
            v4 = ['%s/%s' % (a['local'], a['prefixlen']) for a in glob if a['family'] == 'inet']
            v6 = ['%s/%s' % (a['local'], a['prefixlen']) for a in glob if a['family'] == 'inet6']
            up = 'UP' in link['flags'] and 'UP' in hosts_end[0]['flags']
            row = [name, 'yes', hosts_end[0]['ifname'], link['ifname'],
                   ', '.join(v4) or '-', ', '.join(v6) or '-', str(link['mtu']),
                   'yes' if up else 'no']
        assert row is not None, 'no veth in %s/%s' % (host, name)
        rows.append(row)
    return rows


def md_table(md, heading):
    lines = md.split('\n')
    rows = []
    for line in lines[lines.index(heading) + 1:]:
        if line.startswith('|'):
            rows.append([c.strip() for c in line.strip('|').split('|')])
        elif rows:
            break
    return rows[2:]


def md_section(md, heading):
    lines = md.split('\n')
    out = []
    for line in lines[lines.index(heading) + 1:]:
        if line.startswith('#'):
            break
        if line:
            out.append(line)
    return out


def svg_texts(path):
    with open(path) as f:
        svg = f.read()
    assert svg.lstrip().startswith('<?xml') and '<svg' in svg, path
    return [html.unescape(t) for t in re.findall(r'<text[^>]*>([^<]*)</text>', svg)]


def check_report(d, rep, host):
    """Files exist; the table matches the kernel; the picture names every container and
    address (bridge, containers, uplink). Returns the host's Markdown."""
    for ext in ('md', 'dot', 'svg', 'png'):
        assert os.path.getsize(os.path.join(rep, '%s.%s' % (host, ext))) > 0, (host, ext)
    with open(os.path.join(rep, '%s.png' % host), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    with open(os.path.join(rep, '%s.md' % host)) as f:
        md = f.read()
    rows = kernel_rows(d, host)
    assert md_table(md, '### Containers') == rows
    texts = svg_texts(os.path.join(rep, '%s.svg' % host))
    for row in rows:
        assert 'netns %s' % row[0] in texts
        for addr in (row[4] + ', ' + row[5]).split(', '):
            if addr != '-':
                assert addr in texts, (host, addr)
    for link in ipj(d, host, 'addr', 'show'):
        if link['ifname'] in (BRIDGE, 'eth0'):
            for a in link['addr_info']:
                if a.get('scope') == 'global':
                    assert '%s/%s' % (a['local'], a['prefixlen']) in texts, (host, a)
    return md


def test_report_on_the_lab_fleet(fleet, tmp_path):
    d = fleet
    playbook(d, 'site.yml')
    rep = str(tmp_path / 'report')
    out = playbook(d, 'report.yml', '-e', 'report_dir=%s' % rep)
    assert 'Report of 2 host(s): %s/README.md' % rep in out

    with open(os.path.join(rep, 'README.md')) as f:
        index = f.read()
    assert [r[0] for r in md_table(index, '# Container networks')] == HOSTS
    assert [r[4] for r in md_table(index, '# Container networks')] == ['none', 'none']
    assert 'Fleet: no picture, no host has fleet routes' in index
    assert not os.path.exists(os.path.join(rep, 'fleet.svg'))
    for host in HOSTS:
        md = check_report(d, rep, host)
        rows = md_table(md, '### Containers')
        assert [r[0] for r in rows] == ['netns0', 'netns1']   # the role's defaults
        assert md_section(md, '### Drift') == ['none']
        ports = md_table(md, '### Published ports')
        assert [p[:7] for p in ports] == [
            ['tcp', 'ipv4', '*', '5000', 'netns0', '172.18.0.10', '5000']]
        assert 'tcp 5000 -> netns0:5000' in svg_texts(os.path.join(rep, host + '.svg'))
        assert 'masquerade 172.18.0.0/16' in svg_texts(os.path.join(rep, host + '.svg'))

    # out-of-band damage on lab-host1: a link down, an address gone
    lab('exec', '--dir', d, 'lab-host1', '--', 'ip', 'link', 'set', 'veth1', 'down')
    lab('exec', '--dir', d, 'lab-host1/netns1', '--', 'ip', 'addr', 'flush', 'dev', 'ceth1',
        'scope', 'global')
    rep2 = str(tmp_path / 'report2')
    playbook(d, 'report.yml', '-e', 'report_dir=%s' % rep2)
    with open(os.path.join(rep2, 'README.md')) as f:
        index = f.read()
    assert [r[4] for r in md_table(index, '# Container networks')] == ['changes: br0', 'none']
    md1 = check_report(d, rep2, 'lab-host1')
    assert md_table(md1, '### Containers')[1][4:] == ['-', '-', '1500', 'no']
    drift = md_section(md1, '### Drift')
    assert drift[0].endswith('action(s) a converge would take:'), drift
    assert any('veth1' in a and 'up=True' in a for a in drift[1:]), drift
    assert any('172.18.0.20/16' in a for a in drift[1:]), drift
    md2 = check_report(d, rep2, 'lab-host2')
    assert md_section(md2, '### Drift') == ['none']
