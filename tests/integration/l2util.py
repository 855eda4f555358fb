# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the L2 integration tests: kernel state as `ip -j` reports it, task builders."""
import json
import os
import signal
import subprocess
import time

from conftest import ip, ipj

C = 'linuxnet.container_network.'


# -- kernel state, read with iproute2 (independent of the code under test) ------------------

def netns_names():
    out = ip('-j', 'netns', 'list')
    return sorted(n['name'] for n in json.loads(out)) if out.strip() else []


def links(ns=None):
    """{name: `ip -j -d link` entry} of a namespace."""
    return dict((l['ifname'], l) for l in ipj('-d', 'link', 'show', ns=ns))


def link(name, ns=None):
    return links(ns).get(name)


def kind(entry):
    return (entry.get('linkinfo') or {}).get('info_kind')


def is_up(entry):
    return 'UP' in entry['flags']


def addrs(name, ns=None):
    """Global addresses of an interface as 'ip/prefix' strings (link-local left out)."""
    out = set()
    for e in ipj('addr', 'show', 'dev', name, ns=ns):
        for a in e.get('addr_info', []):
            if a.get('scope') != 'link':
                out.add('%s/%d' % (a['local'], a['prefixlen']))
    return out


def default_route(ns=None, family='-4'):
    """(gateway, dev) of the main table's default route, or None."""
    for r in ipj(family, 'route', 'show', 'default', ns=ns):
        return (r.get('gateway'), r.get('dev'))
    return None


def snapshot():
    """Everything L2 in every namespace, to compare before/after (no volatile fields)."""
    state = {'netns': netns_names()}
    for ns in [None] + state['netns']:
        ls = []
        for e in ipj('-d', 'link', 'show', ns=ns):
            ls.append((e['ifname'], kind(e), is_up(e), e.get('mtu'), e.get('address'),
                       e.get('master'), e.get('ifalias'),
                       ((e.get('linkinfo') or {}).get('info_slave_data') or {}).get('hairpin')))
        ad = sorted((e['ifname'], a['local'], a['prefixlen'])
                    for e in ipj('addr', 'show', ns=ns) for a in e.get('addr_info', [])
                    if a.get('scope') != 'link')
        rt = sorted(json.dumps(r, sort_keys=True) for fam in ('-4', '-6')
                    for r in ipj(fam, 'route', 'show', ns=ns) if r.get('dst') != 'fe80::/64'
                    and not str(r.get('dst', '')).startswith('ff00'))
        state[ns or '<host>'] = {'links': sorted(ls), 'addrs': ad, 'routes': rt}
    return state


def wait_gone(name, ns=None, timeout=5.0):
    """Namespace teardown is asynchronous in the kernel: wait for a link to disappear."""
    end = time.time() + timeout
    while time.time() < end:
        if link(name, ns) is None:
            return True
        time.sleep(0.05)
    return False


# -- tasks --------------------------------------------------------------------------------

def task(module, **args):
    return {'name': '%s %s' % (module, json.dumps(args, sort_keys=True)[:60]),
            C + module: args}


def netns(names, **kw):
    return task('netns', name=list(names), **kw)


def veth(pairs, **kw):
    return task('veth_pair', pairs=list(pairs), **kw)


def bridge(bridges, **kw):
    return task('bridge', bridges=list(bridges), **kw)


def ports(bridge_name, port_list, **kw):
    return task('bridge_port', bridge=bridge_name, ports=list(port_list), **kw)


def seed_pair(i, **kw):
    """The seed article's containers: vethI <-> cethI in netnsI, 172.18.0.(10*(I+1))/16."""
    p = {'name': 'veth%d' % i, 'peer': 'ceth%d' % i, 'netns': 'netns%d' % i,
         'addresses': ['172.18.0.%d/16' % (10 * (i + 1))], 'gateway': '172.18.0.1'}
    p.update(kw)
    return p


def only(results, status='ok'):
    """Every task result has this status; returns the results."""
    for r in results:
        assert r['_status'] == status, r
    return results


# -- processes inside a namespace ------------------------------------------------------------

class NsProcess(object):
    """`ip netns exec NS sleep 60` (exec, so the PID is sleep's); killed by PID on exit."""

    def __init__(self, ns, seconds=60):
        self.proc = subprocess.Popen(['ip', 'netns', 'exec', ns, 'sleep', str(seconds)])
        self.pid = self.proc.pid
        end = time.time() + 5
        while time.time() < end:  # wait until it runs in the namespace
            try:
                if os.readlink('/proc/%d/ns/net' % self.pid) != os.readlink('/proc/self/ns/net'):
                    break
            except OSError:
                pass
            time.sleep(0.02)

    def alive(self):
        return self.proc.poll() is None

    def links(self):
        """Link names in the process's network namespace (through /proc/PID/ns/net)."""
        out = subprocess.run(['nsenter', '--net=/proc/%d/ns/net' % self.pid, 'ip', '-j',
                              'link', 'show'], check=True, capture_output=True,
                             text=True).stdout
        return sorted(l['ifname'] for l in json.loads(out))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()
        return False
