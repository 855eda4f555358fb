# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netns module on the real kernel (each test in its own private net+mount namespace)."""
from conftest import ip, ipj, run_in
from l2util import (NsProcess, is_up, link, links, netns, netns_names, only, seed_pair,
                    snapshot, veth, wait_gone)


def lo_up(ns):
    return is_up(link('lo', ns))


def test_converge_and_idempotent(play, toolchain):
    r = only(play([netns(['netns0', 'netns1'])], toolchain=toolchain))
    assert r[0]['changed'] is True
    assert [a['op'] for a in r[0]['actions']] == ['netns_create', 'netns_create']
    assert r[0]['namespaces'] == ['netns0', 'netns1']
    assert netns_names() == ['netns0', 'netns1']
    for ns in ('netns0', 'netns1'):
        assert list(links(ns)) == ['lo'] and lo_up(ns)
        # usable by ip netns exec, and really a different namespace from ours
        out = run_in(ns, 'ip', '-j', 'link', 'show').stdout
        assert '"lo"' in out and 'veth' not in out
        assert run_in(ns, 'ping', '-c1', '-W1', '127.0.0.1').returncode == 0
    # plain `ip netns list` (what people type) lists both
    assert sorted(l.split()[0] for l in ip('netns', 'list').splitlines()) == ['netns0',
                                                                              'netns1']
    r2 = only(play([netns(['netns0', 'netns1'])], toolchain=toolchain))
    assert r2[0]['changed'] is False and r2[0]['actions'] == []
    assert netns_names() == ['netns0', 'netns1']


def test_namespaces_are_distinct(play):
    only(play([netns(['a', 'b'])]))
    ip('link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1', 'netns', 'b')
    ip('link', 'set', 'x0', 'netns', 'a')
    assert set(links('a')) == {'lo', 'x0'} and set(links('b')) == {'lo', 'x1'}
    assert 'x0' not in links() and 'x1' not in links()


def test_check_mode_predicts_and_changes_nothing(play):
    r = only(play([netns(['netns0', 'netns1'])], check=True))
    assert r[0]['changed'] is True
    assert [(a['op'], a['target']) for a in r[0]['actions']] == [
        ('netns_create', 'netns0'), ('netns_create', 'netns1')]
    assert netns_names() == []
    only(play([netns(['netns0'])]))
    before = snapshot()
    r = only(play([netns(['netns0', 'netns1'], state='absent')], check=True))
    assert r[0]['changed'] is True
    assert r[0]['actions'] == [{'op': 'netns_delete', 'target': 'netns0'}]
    assert snapshot() == before


def test_diff(play):
    r = only(play([netns(['netns0'], owner='net1')], diff=True, check=True))
    assert r[0]['diff'] == {'before': {'namespaces': {'netns0': 'absent'}},
                            'after': {'namespaces': {'netns0': {'lo': 'up', 'owner': 'net1'}}}}
    only(play([netns(['netns0'])]))
    r = only(play([netns(['netns0'], state='absent')], diff=True))
    assert r[0]['diff']['before']['namespaces']['netns0'] != 'absent'
    assert r[0]['diff']['after']['namespaces']['netns0'] == 'absent'
    assert netns_names() == []


def test_absent_leaves_nothing(play, toolchain):
    only(play([netns(['netns0', 'netns1'])], toolchain=toolchain))
    r = only(play([netns(['netns0', 'netns1'], state='absent'),
                   netns(['netns0', 'netns1'], state='absent')], toolchain=toolchain))
    assert r[0]['changed'] is True and r[1]['changed'] is False
    assert netns_names() == []
    assert ip('netns', 'list').strip() == ''


def test_absent_with_process_inside_removes_interfaces(play):
    """A process keeps the namespace alive: its interfaces (and host veth ends) must go."""
    only(play([netns(['netns0', 'netns1']), veth([seed_pair(0), seed_pair(1)])]))
    assert link('veth0') is not None and link('ceth0', 'netns0') is not None
    with NsProcess('netns0') as sleeper:
        assert sleeper.links() == ['ceth0', 'lo']
        r = only(play([netns(['netns0'], state='absent')]))
        assert r[0]['changed'] is True
        assert netns_names() == ['netns1']
        assert sleeper.alive()
        assert sleeper.links() == ['lo']        # the namespace lives on, emptied
        assert link('veth0') is None            # host end of its pair went with it
        assert link('veth1') is not None        # the other container is untouched
        assert link('ceth1', 'netns1') is not None
        r = only(play([netns(['netns0'], state='absent')]))
        assert r[0]['changed'] is False
    assert not sleeper.alive()


def test_recreated_after_ip_netns_del(play, toolchain):
    only(play([netns(['netns0', 'netns1']), veth([seed_pair(0)])], toolchain=toolchain))
    ip('netns', 'del', 'netns0')
    assert netns_names() == ['netns1']
    assert wait_gone('veth0')
    r = only(play([netns(['netns0', 'netns1']), veth([seed_pair(0)]),
                   netns(['netns0', 'netns1']), veth([seed_pair(0)])], toolchain=toolchain))
    assert [x['changed'] for x in r] == [True, True, False, False]
    assert r[0]['actions'] == [{'op': 'netns_create', 'target': 'netns0'}]
    assert netns_names() == ['netns0', 'netns1'] and lo_up('netns0')
    assert link('ceth0', 'netns0') is not None and is_up(link('veth0'))


def test_lo_down_is_brought_up(play):
    only(play([netns(['netns0'])]))
    ip('link', 'set', 'lo', 'down', ns='netns0')
    assert not lo_up('netns0')
    r = only(play([netns(['netns0']), netns(['netns0'])]))
    assert [x['changed'] for x in r] == [True, False]
    assert r[0]['actions'] == [{'op': 'link_set', 'target': 'lo', 'netns': 'netns0',
                                'up': True}]
    assert lo_up('netns0')


def test_interoperates_with_ip_netns_add(play):
    ip('netns', 'add', 'byhand')
    assert not lo_up('byhand')   # iproute2 leaves lo down; the module brings it up
    r = only(play([netns(['byhand', 'netns0'])]))
    assert r[0]['actions'] == [
        {'op': 'link_set', 'target': 'lo', 'netns': 'byhand', 'up': True},
        {'op': 'netns_create', 'target': 'netns0'}]
    assert lo_up('byhand')
    assert netns_names() == ['byhand', 'netns0']
    only(play([netns(['byhand'], state='absent')]))
    assert netns_names() == ['netns0']


def test_exclusive_removes_only_own_unlisted(play):
    ip('netns', 'add', 'foreign')
    only(play([netns(['a', 'b', 'c'], owner='net1'), netns(['other'], owner='net2')]))
    assert ipj('link', 'show', 'lo', ns='a')[0].get('ifalias') == 'linuxnet:net1'
    r = only(play([netns(['a'], owner='net1', exclusive=True),
                   netns(['a'], owner='net1', exclusive=True)]))
    assert sorted(x['target'] for x in r[0]['actions']) == ['b', 'c']
    assert r[1]['changed'] is False
    assert netns_names() == ['a', 'foreign', 'other']
