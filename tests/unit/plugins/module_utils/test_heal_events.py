"""The heal service's reading of nf_tables notifications (issue 22): pure, no kernel."""
import signal
import socket
import struct

from ansible_collections.linuxnet.container_network.plugins.module_utils.network import heal


def message(msg, family, table, pad=b''):
    """One nf_tables notification as the kernel sends it (nlmsghdr, nfgenmsg, attrs)."""
    name = table.encode() + b'\0'
    attr = struct.pack('=HH', 4 + len(name), 1) + name
    attr += b'\0' * ((4 - len(attr) % 4) % 4)
    body = struct.pack('BBH', family, 0, 0) + attr + pad
    return struct.pack('=IHHII', 16 + len(body), (10 << 8) | msg, 0, 0, 0) + body


def test_notifications_are_decoded_with_their_table():
    data = message(heal.DELTABLE, 1, 'linuxnet') + message(heal.NEWRULE, 2, 'filter') + \
        message(heal.DELCHAIN, 10, 'filter')
    assert heal.decode(data) == [(heal.DELTABLE, 'inet', 'linuxnet'),
                                 (heal.NEWRULE, 'ip', 'filter'), (heal.DELCHAIN, 'ip6', 'filter')]
    # another subsystem's message and a truncated one are passed over
    other = struct.pack('=IHHII', 20, (1 << 8) | 2, 0, 0, 0) + b'\0' * 4
    assert heal.decode(other + message(heal.DELRULE, 1, 'x')[:-4]) == []


def test_what_can_have_removed_something_of_ours():
    own = heal.OWN_TABLE
    # our own table: deletions count, our own additions do not (no pass after our pass)
    assert all(heal.relevant(m, own) for m in (heal.DELTABLE, heal.DELCHAIN, heal.DELRULE,
                                               heal.DELSET))
    assert not any(heal.relevant(m, own) for m in (heal.NEWTABLE, heal.NEWCHAIN, heal.NEWRULE,
                                                   heal.NEWSET))
    # elsewhere: tables and chains (a reload, a DROP policy), rule deletions
    assert all(heal.relevant(m, 'filter') for m in (heal.NEWTABLE, heal.DELTABLE,
                                                    heal.NEWCHAIN, heal.DELCHAIN, heal.DELRULE))
    # new rules (what firewalls and our firewall stage add), set elements, generations: not
    assert not any(heal.relevant(m, 'filter') for m in (heal.NEWRULE, 12, 14, 15))


def test_the_log_names_each_change_once():
    changes = [('delete table', 'inet', 'linuxnet')] * 3 + [('overrun', '', '')]
    assert heal.summary(changes) == 'delete table inet linuxnet, overrun'
    many = [('delete rule', 'ip', 't%d' % i) for i in range(6)]
    assert heal.summary(many).endswith('delete rule ip t3 and 2 more')


def test_the_lock_is_reentrant_and_needs_the_state_directory(tmp_path):
    d = tmp_path / 'br0'
    with heal.NetworkLock(str(d)) as nolock:  # not persistent: no directory, no lock
        assert nolock.fd is None and not d.exists()
    d.mkdir()
    with heal.NetworkLock(str(d)) as outer:
        assert outer.fd is not None
        with heal.NetworkLock(str(d)) as inner:  # the boot restore inside a heal pass
            assert inner.fd is None
    assert heal.NetworkLock._held == {}


def test_a_failed_pass_is_tried_again_a_bounded_number_of_times():
    assert [heal.retry_after(n) for n in range(heal.RETRIES + 2)] == \
        [None] + [heal.RETRY * 2 ** i for i in range(heal.RETRIES)] + [None]


def test_the_service_tries_a_failed_pass_again_without_a_new_change(tmp_path, monkeypatch, capsys):
    """firewalld answers no D-Bus call while it reloads: the pass that the reload's own
    changes started fails; the service tries again by itself, not only at the next change."""
    d = tmp_path / 'br0'
    d.mkdir()
    (d / 'network.json').write_text('{}')
    kernel, ours = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    monkeypatch.setattr(heal, 'listen', lambda: ours)
    monkeypatch.setattr(heal, 'RETRY', 0.01)
    outcomes = [(1, 'FAILED: cannot read firewalld'), (1, 'FAILED: cannot read firewalld'),
                (0, 'network restored, 14 change(s)')]

    def restore(directory):
        assert directory == str(d)
        code, out = outcomes.pop(0)
        if not outcomes:  # then the network is removed: the next change ends the service
            (d / 'network.json').unlink()
            kernel.send(message(heal.DELTABLE, 1, 'linuxnet'))
        return code, out
    monkeypatch.setattr(heal, 'restore', restore)
    kernel.send(message(heal.DELTABLE, 1, 'linuxnet'))

    def waited(*_):
        raise AssertionError('the service waited for a change instead of trying again')
    before = signal.signal(signal.SIGALRM, waited)
    signal.alarm(10)
    try:
        assert heal.main(str(d)) == 0
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line.split(': ', 2)[1] for line in lines] == [
        'after delete table inet linuxnet', 'after a failed pass (try 2)',
        'after a failed pass (try 3)', 'the network was removed; exiting']
    assert lines[0].endswith('; next try in 0 s') and lines[2].endswith('after the change)')
