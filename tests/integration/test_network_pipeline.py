# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `network` module as a pipeline: what each run reads, computes and commits once.

In-process (no Ansible), each test in its own sandbox (conftest): the NAT table is read
once per run, the address allocation is computed once (also with --diff, whose rendering
and result reuse the plan's), the NAT stages commit one batch, and a teardown needs the
bridge only.
"""
import pytest

from test_network import NET, nft_tables


def run(check_mode=False, diff=False, **kw):
    from ansible_collections.linuxnet.container_network.plugins.module_utils import runner
    from ansible_collections.linuxnet.container_network.plugins.module_utils.network import pipeline as net
    params = dict(NET, state='present', masquerade=True, ingress_protection=True)
    params.update(kw)
    res = net.NetworkResource()
    result = {'changed': False, 'actions': []}
    with res.context(runner.Invocation(params, check_mode, diff)) as ctx:
        result.update(res.converge(ctx, res.want(params), check_mode, diff, result))
    return result


@pytest.fixture
def count():
    """count(module, name) -> a list that grows by one per call of module.name."""
    patched = []

    def patch(module, name):
        calls = []
        real = getattr(module, name)

        def counting(*a, **kw):
            calls.append(a)
            return real(*a, **kw)
        setattr(module, name, counting)
        patched.append((module, name, real))
        return calls
    yield patch
    for module, name, real in patched:
        setattr(module, name, real)


@pytest.mark.parametrize('check_mode', [True, False])
def test_one_nat_reading_one_allocation_with_diff(count, check_mode):
    from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_socket
    from ansible_collections.linuxnet.container_network.plugins.module_utils.l2 import plan
    tables = count(nft_socket.NftSocket, 'tables')
    dumps = count(nft_socket.NftSocket, 'dump_table')
    allocations = count(plan, '_allocate')
    first = run(check_mode=check_mode, diff=True)
    assert first['changed'] and 'port_publish' in first['diff']['after']
    # one reading: one table listing, our table and the legacy one looked up in it (the
    # firewall stage's own reading of other tables' chains is not a table dump)
    assert len(tables) == 1 and len(dumps) == 2, (tables, dumps)
    assert len(allocations) == 1, allocations
    # the allocation the plan made is the one the diff shows and the DNAT rules use
    addresses = dict((p['netns'], p['address']) for p in first['pairs'].values())
    rules = ' '.join(first['rules'])
    assert 'dnat to %s:8081' % addresses['c1'] in rules, (addresses, rules)
    veth_after = first['diff']['after']['veth_pair']
    assert addresses['c1'] + '/16' in str(veth_after)


def test_the_nat_stages_commit_one_batch_and_a_rerun_reads_once(count):
    from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_socket
    batches = count(nft_socket.NftSocket, 'batch')
    assert run()['changed']
    assert len(batches) == 1
    tables = count(nft_socket.NftSocket, 'tables')
    again = run(diff=True)
    assert not again['changed'] and len(batches) == 1 and len(tables) == 1


def test_a_teardown_needs_the_bridge_only():
    assert run()['changed']
    gone = run(state='absent', subnet=None, gateway=None, containers=[], published_ports=[])
    assert gone['changed'] and nft_tables() == []
    assert not run(state='absent', subnet=None, gateway=None)['changed']
