# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NAT model, validation and planner on hand-made observations: no kernel."""
import ipaddress

import pytest

from ansible_collections.linuxnet.container_network.plugins.module_utils import ownership
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import forwarding as fwd
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import resources as nat
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import model as nat_model
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import publications
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import plan as nat_plan
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import nft as nft_backend
from ansible_collections.linuxnet.container_network.plugins.module_utils.runner import (
    PlanError, ValidationError)

BACKEND = nft_backend.NftBackend(sock_factory=lambda: pytest.fail('the planner must not open a socket'))


def ALL(rid):
    return True


def compiled(*specs):
    return [BACKEND.compile(s) for s in specs]


def owned(c, handle):
    return nat_plan.OwnedRule(c.rid, c.digest, c.chain, handle, c.text)


N = len(nft_backend.CHAINS)  # the table's use count: its chains


def full_chains():
    return dict((k, v) for k, v in nft_backend.CHAINS.items())


def ops(actions):
    return [(a.op, a.target) for a in actions]


MASQ_A = nat_model.RuleSpec('masq/a', 'postrouting', saddr=ipaddress.ip_network('10.1.0.0/20'),
                            oif_not='bra', action='masquerade')
MASQ_B = nat_model.RuleSpec('masq/b', 'postrouting', saddr=ipaddress.ip_network('10.2.0.0/24'),
                            oif_not='brb', action='masquerade')


# ------------------------------------------------------------------ tags
def test_tag_roundtrip_and_hash_covers_chain_and_text():
    c = compiled(MASQ_A)[0]
    assert c.comment.startswith('linuxnet:masq/a#') and len(c.digest) == 12
    assert nat_plan.parse_tag(c.comment) == ('masq/a', c.digest)
    assert nat_plan.parse_tag('admin rule') is None and nat_plan.parse_tag(None) is None
    assert nat_plan.parse_tag('linuxnet:nohash') is None
    assert nat_plan.rule_hash('postrouting', 'x') != nat_plan.rule_hash('prerouting', 'x')
    assert c.text == 'ip saddr 10.1.0.0/20 oifname != "bra" masquerade'


# ------------------------------------------------------------------ planner
def test_plan_from_nothing_creates_table_chains_rules():
    want = compiled(MASQ_A, MASQ_B)
    acts = nft_backend.plan_rules(want, nft_backend.Observed(), ALL)
    assert ops(acts) == [('create_table', 'inet linuxnet')] + [
        ('create_chain', c) for c in nft_backend.CHAIN_ORDER] + [
        ('add_rule', 'postrouting: masq/a'), ('add_rule', 'postrouting: masq/b')]
    batch = nft_backend.batch_ops(acts)
    assert [b.kind for b in batch] == ['newtable'] + ['newchain'] * N + ['newrule'] * 2
    assert batch[-1].comment == want[1].comment


def test_plan_converged_is_empty():
    want = compiled(MASQ_A, MASQ_B)
    have = nft_backend.Observed(True, full_chains(), [owned(want[0], 5), owned(want[1], 6)], 0, N)
    assert nft_backend.plan_rules(want, have, ALL) == []


def test_plan_replaces_only_the_changed_rule():
    old = compiled(MASQ_A, MASQ_B)
    new_a = nat_model.RuleSpec('masq/a', 'postrouting', saddr=ipaddress.ip_network('10.1.0.0/21'),
                               oif_not='bra', action='masquerade')
    want = compiled(new_a, MASQ_B)
    have = nft_backend.Observed(True, full_chains(), [owned(old[0], 5), owned(old[1], 6)], 0, N)
    acts = nft_backend.plan_rules(want, have, ALL)
    assert ops(acts) == [('delete_rule', 'postrouting: masq/a'), ('add_rule', 'postrouting: masq/a')]
    assert acts[0].args['handle'] == 5
    assert [b.kind for b in nft_backend.batch_ops(acts)] == ['delrule', 'newrule']


def test_plan_leaves_out_of_scope_and_removes_unwanted_in_scope():
    c = compiled(MASQ_A, MASQ_B)
    have = nft_backend.Observed(True, full_chains(), [owned(c[0], 5), owned(c[1], 6)], 0, N)

    def only_a(rid):
        return rid == 'masq/a'
    acts = nft_backend.plan_rules([], have, only_a)
    assert ops(acts) == [('delete_rule', 'postrouting: masq/a')]


def test_plan_deletes_table_when_empty_but_not_with_foreign_content():
    c = compiled(MASQ_A)
    have = nft_backend.Observed(True, full_chains(), [owned(c[0], 5)], 0, N)
    assert ops(nft_backend.plan_rules([], have, ALL))[-1] == ('delete_table', 'inet linuxnet')
    with_foreign_rule = nft_backend.Observed(True, full_chains(), [owned(c[0], 5)], 1, N)
    assert ('delete_table', 'inet linuxnet') not in ops(nft_backend.plan_rules([], with_foreign_rule, ALL))
    with_a_set = nft_backend.Observed(True, full_chains(), [owned(c[0], 5)], 0, N + 1)
    assert ('delete_table', 'inet linuxnet') not in ops(nft_backend.plan_rules([], with_a_set, ALL))
    chains = full_chains()
    chains['admin'] = (None, None, None)
    with_chain = nft_backend.Observed(True, chains, [owned(c[0], 5)], 0, N + 1)
    assert ('delete_table', 'inet linuxnet') not in ops(nft_backend.plan_rules([], with_chain, ALL))
    assert nft_backend.plan_rules([], nft_backend.Observed(), ALL) == []


def test_plan_duplicates_of_a_rule_are_collapsed():
    c = compiled(MASQ_A)[0]
    have = nft_backend.Observed(True, full_chains(), [owned(c, 5), owned(c, 9)], 0, N)
    acts = nft_backend.plan_rules([c], have, ALL)
    assert ops(acts) == [('delete_rule', 'postrouting: masq/a')] and acts[0].args['handle'] == 9


def test_plan_recreates_missing_chain_and_refuses_a_foreign_shaped_one():
    c = compiled(MASQ_A)
    chains = full_chains()
    del chains['output']
    acts = nft_backend.plan_rules(c, nft_backend.Observed(True, chains, [], 0, N - 1), ALL)
    assert ops(acts) == [('create_chain', 'output'), ('add_rule', 'postrouting: masq/a')]
    chains = full_chains()
    chains['postrouting'] = (4, 0, 'filter')
    with pytest.raises(PlanError, match='changed outside'):
        nft_backend.plan_rules(c, nft_backend.Observed(True, chains, [], 0, N), ALL)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize('value,expected', [
    (80, (80, 80)), ('80', (80, 80)), ('8000-8010', (8000, 8010)), ('1 - 2', (1, 2)),
    (65535, (65535, 65535))])
def test_parse_ports_ok(value, expected):
    assert nat_model.parse_ports(value, 'x') == expected


@pytest.mark.parametrize('value,words', [
    (0, 'out of range'), (65536, 'out of range'), ('10-5', 'reversed'), ('a', 'not a port'),
    ('1-2-3', 'not a port'), (True, 'not a port'), ('-5', 'not a port'), (None, 'missing')])
def test_parse_ports_errors(value, words):
    with pytest.raises(ValidationError, match=words):
        nat_model.parse_ports(value, 'x')


def pub_params(*pubs, **kw):
    p = {'network': 'br0', 'bridge': 'br0', 'subnet': '172.18.0.0/16', 'state': 'present',
         'ingress_protection': True, 'publications': list(pubs)}
    p.update(kw)
    return p


@pytest.mark.parametrize('pub,words', [
    ({'host_port': 80, 'container_address': '172.19.0.2'}, r"publications\[0\]\.container_address: "
                                                           r"'172.19.0.2' is not a host address of "
                                                           r"subnet 172.18.0.0/16 \(it is outside it\)"),
    ({'host_port': 80, 'container_address': '172.18.0.0'}, 'network or broadcast'),
    ({'host_port': 80, 'container_address': '172.18.0.2', 'protocol': 'icmp'}, 'protocol'),
    ({'host_port': 80, 'container_address': '172.18.0.2', 'host_ip': 'x'}, 'not an IP'),
    ({'host_port': 80, 'container_address': '172.18.0.2', 'host_ip': '::1'}, 'IPv6'),
    ({'host_port': '80-81', 'container_address': '172.18.0.2', 'container_port': 80},
     'different lengths'),
    ({'host_port': '1-2000', 'container_address': '172.18.0.2', 'container_port': '2001-4000'},
     'limited'),
    ({'container_address': '172.18.0.2'}, r'publications\[0\]\.host_port: missing'),
])
def test_publication_validation(pub, words):
    with pytest.raises(ValidationError, match=words):
        nat.PortPublishResource().want(pub_params(pub))


def test_publication_overlaps():
    r = nat.PortPublishResource()
    with pytest.raises(ValidationError, match=r"publications\[1\]: 'tcp 10.0.0.1:8005' overlaps "
                                              r'tcp \*:8000-8010 of publications\[0\]'):
        r.want(pub_params({'host_port': '8000-8010', 'container_address': '172.18.0.2'},
                          {'host_port': 8005, 'container_address': '172.18.0.3',
                           'host_ip': '10.0.0.1'}))
    # different protocol or different specific addresses do not overlap
    r.want(pub_params({'host_port': 80, 'container_address': '172.18.0.2'},
                      {'host_port': 80, 'container_address': '172.18.0.2', 'protocol': 'udp'}))
    r.want(pub_params({'host_port': 80, 'container_address': '172.18.0.2', 'host_ip': '10.0.0.1'},
                      {'host_port': 80, 'container_address': '172.18.0.3', 'host_ip': '10.0.0.2'}))


def test_present_needs_bridge_and_subnet_absent_does_not():
    with pytest.raises(ValidationError, match='bridge: missing; give it: it is required when state is present'):
        nat.PortPublishResource().want({'network': 'br0', 'state': 'present'})
    w = nat.PortPublishResource().want({'network': 'br0', 'state': 'absent'})
    assert nat.PortPublishResource.specs(w) == []


# ------------------------------------------------------------------ specs
def test_publication_specs_and_rids():
    w = nat.PortPublishResource().want(pub_params(
        {'host_port': 8080, 'container_address': '172.18.0.10', 'container_port': 80},
        {'host_port': '9000-9001', 'container_address': '172.18.0.11'},
        {'host_port': '9100-9101', 'container_address': '172.18.0.12', 'container_port': '7100-7101',
         'protocol': 'udp', 'host_ip': '10.0.0.3'}))
    texts = dict((c.rid, (c.chain, c.text)) for c in compiled(*nat.PortPublishResource.specs(w)))
    assert texts == {
        'pub/br0/tcp/*/8080/pre': ('prerouting',
                                   'fib daddr type local tcp dport 8080 dnat to 172.18.0.10:80'),
        'pub/br0/tcp/*/8080/out': ('output', 'fib daddr type local ip daddr != 127.0.0.0/8 '
                                             'tcp dport 8080 dnat to 172.18.0.10:80'),
        'pub/br0/tcp/*/9000-9001/pre': ('prerouting', 'fib daddr type local tcp dport 9000-9001 '
                                                      'dnat to 172.18.0.11'),
        'pub/br0/tcp/*/9000-9001/out': ('output', 'fib daddr type local ip daddr != 127.0.0.0/8 '
                                                  'tcp dport 9000-9001 dnat to 172.18.0.11'),
        'pub/br0/udp/10.0.0.3/9100/pre': ('prerouting', 'ip daddr 10.0.0.3 udp dport 9100 '
                                                        'dnat to 172.18.0.12:7100'),
        'pub/br0/udp/10.0.0.3/9100/out': ('output', 'ip daddr 10.0.0.3 udp dport 9100 '
                                                    'dnat to 172.18.0.12:7100'),
        'pub/br0/udp/10.0.0.3/9101/pre': ('prerouting', 'ip daddr 10.0.0.3 udp dport 9101 '
                                                        'dnat to 172.18.0.12:7101'),
        'pub/br0/udp/10.0.0.3/9101/out': ('output', 'ip daddr 10.0.0.3 udp dport 9101 '
                                                    'dnat to 172.18.0.12:7101'),
        'pub/br0/hairpin': ('postrouting', 'ip saddr 172.18.0.0/16 ip daddr 172.18.0.0/16 '
                                           'ct status dnat masquerade'),
        'pub/br0/ingress': ('forward', 'ip daddr 172.18.0.0/16 iifname != "br0" '
                                       'ct state ! established,related ct status ! dnat drop'),
    }
    for rid in texts:
        assert len(ownership.OWNER_PREFIX + rid + '#' + 'x' * 12) < 128


def test_no_publications_no_hairpin_and_ingress_optional():
    w = nat.PortPublishResource().want(pub_params(ingress_protection=False))
    assert nat.PortPublishResource.specs(w) == []
    w = nat.PortPublishResource().want(pub_params())
    assert [s.rid for s in nat.PortPublishResource.specs(w)] == ['pub/br0/ingress']


def test_conflict_with_another_network_is_a_plan_error():
    r = nat.PortPublishResource()
    other = nat.PortPublishResource().want(dict(pub_params(
        {'host_port': '8000-8010', 'container_address': '10.9.0.2'}),
        network='net2', bridge='br2', subnet='10.9.0.0/24'))
    other_rules = compiled(*nat.PortPublishResource.specs(other))
    have_nat = nft_backend.Observed(True, full_chains(), [owned(c, i) for i, c in enumerate(other_rules)],
                                    0, N)
    w = r.want(pub_params({'host_port': 8010, 'container_address': '172.18.0.2'}))
    have = {'nat': have_nat, 'compiled': compiled(*r.specs(w)), 'backend': BACKEND,
            'ip_forward': '1', 'route_localnet': '0'}
    with pytest.raises(PlanError, match=r'conflicts with network net2, which already publishes '
                                        r'tcp \*:8000-8010'):
        r.plan(w, have)
    w = r.want(pub_params({'host_port': 8011, 'container_address': '172.18.0.2'}))
    have['compiled'] = compiled(*r.specs(w))
    acts = r.plan(w, have)
    assert all(a.target.split(': ')[1].startswith('pub/br0/') for a in acts if 'rule' in a.op)


def test_pub_from_rid():
    assert nat_model.pub_from_rid('pub/br0/tcp/*/8000-8010/pre') == {
        'proto': 'tcp', 'host_ip': None, 'host': (8000, 8010), 'families': (4,)}
    assert nat_model.pub_from_rid('pub/br0/tcp/*6/8000/out') == {
        'proto': 'tcp', 'host_ip': None, 'host': (8000, 8000), 'families': (6,)}
    assert nat_model.pub_from_rid('pub/br0/udp/2001:db8::15/53/pre') == {
        'proto': 'udp', 'host_ip': ipaddress.ip_address('2001:db8::15'), 'host': (53, 53),
        'families': (6,)}
    assert nat_model.pub_from_rid('pub/br0/hairpin6') is None
    assert nat_model.pub_from_rid('pub/br0/udp/10.0.0.1/53/out')['host_ip'] == \
        ipaddress.ip_address('10.0.0.1')
    assert nat_model.pub_from_rid('pub/br0/hairpin') is None
    assert nat_model.pub_from_rid('pub/br0/tcp/*/x/pre') is None


# ------------------------------------------------------------------ masquerade resource
def masq_have(owned_rules=(), ip_forward='0', dropin=None, specs=()):
    return {'nat': nft_backend.Observed(bool(owned_rules), full_chains() if owned_rules else {},
                                        list(owned_rules), 0, 4 if owned_rules else 0),
            'compiled': compiled(*specs), 'backend': BACKEND, 'ip_forward': ip_forward,
            'dropin': dropin}


def test_masquerade_want_validation():
    r = nat.MasqueradeResource()
    with pytest.raises(ValidationError, match=r"networks\[1\]\.name: 'a' is listed twice \(also at networks\[0\]\.name\)"):
        r.want({'networks': [{'name': 'a', 'state': 'absent'}, {'name': 'a', 'state': 'absent'}]})
    with pytest.raises(ValidationError, match=r"networks\[1\]\.subnet: '10.1.0.0/16' overlaps network a"):
        r.want({'networks': [{'name': 'a', 'subnet': '10.0.0.0/8', 'bridge': 'x'},
                             {'name': 'b', 'subnet': '10.1.0.0/16', 'bridge': 'y'}]})
    # host bits set: refused as everywhere else (was silently taken as 10.1.0.0/20)
    with pytest.raises(ValidationError, match=r"networks\[0\]\.subnet: '10.1.2.3/20' has host bits "
                                              r'set; write the network address 10.1.0.0/20'):
        r.want({'networks': [{'name': 'a', 'subnet': '10.1.2.3/20', 'bridge': 'x'}]})


def test_masquerade_sysctl_actions():
    r = nat.MasqueradeResource()
    w = r.want({'networks': [{'name': 'a', 'subnet': '10.1.0.0/20', 'bridge': 'bra',
                              'state': 'present'}]})
    specs = r.specs(w)
    acts = r.plan(w, masq_have(specs=specs))
    assert ops(acts)[-2:] == [('set_sysctl', 'net.ipv4.ip_forward'),
                              ('write_file', fwd.SYSCTL_DROPIN)]
    c = compiled(*specs)
    converged = masq_have([owned(c[0], 3)], '1', fwd.SYSCTL_DROPIN_CONTENT, specs)
    assert r.plan(w, converged) == []
    before, after = r.render(w, converged, [])
    assert before == after and 'masquerade comment "linuxnet:masq/a#' in after
    # a stale drop-in is rewritten
    assert ops(r.plan(w, masq_have([owned(c[0], 3)], '1', 'old', specs))) == [
        ('write_file', fwd.SYSCTL_DROPIN)]
    # absent: rule and table go, drop-in removed, ip_forward left alone
    gone = r.want({'networks': [{'name': 'a', 'state': 'absent'}]})
    acts = r.plan(gone, masq_have([owned(c[0], 3)], '1', fwd.SYSCTL_DROPIN_CONTENT))
    assert ops(acts) == [('delete_rule', 'postrouting: masq/a'), ('delete_table', 'inet linuxnet'),
                         ('remove_file', fwd.SYSCTL_DROPIN)]


def test_masquerade_dropin_stays_while_another_network_is_masqueraded():
    r = nat.MasqueradeResource()
    cb = compiled(MASQ_B)[0]
    ca = compiled(MASQ_A)[0]
    gone = r.want({'networks': [{'name': 'a', 'state': 'absent'}]})
    acts = r.plan(gone, masq_have([owned(ca, 3), owned(cb, 4)], '1', fwd.SYSCTL_DROPIN_CONTENT))
    assert ops(acts) == [('delete_rule', 'postrouting: masq/a')]


# ------------------------------------------------------------------ inet table, migration
def legacy_owned(c, handle):
    """An owned rule as an earlier release left it in table ip linuxnet: its bytes there
    lack the leading ``meta nfproto ipv4`` our inet table's rules start with."""
    from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_expr
    raw = nft_expr.encode_exprs(c.native)
    nfproto = nft_expr.encode_exprs(nft_expr.match_nfproto(4))
    assert raw.startswith(nfproto)
    return nat_plan.OwnedRule(c.rid, c.digest, c.chain, handle, c.text, where='ip linuxnet',
                              native=raw)


def legacy_table(foreign_rules=0, use=4):
    """The earlier release's table: its four chains (no guard)."""
    chains = dict((k, v) for k, v in full_chains().items() if k != 'guard')
    return nft_backend.Legacy(2, 'linuxnet', chains, foreign_rules, use)


def test_rules_say_their_family_and_the_text_hides_it_where_implied():
    from ansible_collections.linuxnet.container_network.plugins.module_utils.kernel import nft_expr
    c = compiled(MASQ_A)[0]
    assert [e.name for e in c.native[:2]] == ['meta', 'cmp']  # meta nfproto ipv4 first
    assert c.text == 'ip saddr 10.1.0.0/20 oifname != "bra" masquerade'
    only_fib = nft_backend.render_nft(nft_expr.match_nfproto(4) + nft_expr.match_fib_daddr_local()
                                      + [nft_expr.masq()])
    assert only_fib == 'meta nfproto ipv4 fib daddr type local masquerade'


def test_an_old_ip_table_is_migrated_whole_in_one_plan():
    a, b = compiled(MASQ_A, MASQ_B)
    have = nft_backend.Observed(legacy=[legacy_table()],
                                owned=[legacy_owned(a, 5), legacy_owned(b, 6)])
    # the run of network a: its own rule replaced, b's moved as it is, the old table gone
    acts = nft_backend.plan_rules([a], have, lambda rid: rid == 'masq/a')
    assert ops(acts) == [('create_table', 'inet linuxnet')] + [
        ('create_chain', n) for n in nft_backend.CHAIN_ORDER] + [
        ('delete_rule', 'postrouting: masq/a'), ('delete_rule', 'postrouting: masq/b'),
        ('add_rule', 'postrouting: masq/a'), ('add_rule', 'postrouting: masq/b'),
        ('delete_table', 'ip linuxnet')]
    assert [x.args.get('table') for x in acts if x.op == 'delete_rule'] == ['ip linuxnet'] * 2
    moved_b = acts[-2].args['_compiled']
    assert (moved_b.text, moved_b.digest) == (b.text, b.digest)  # what b's owner compiles
    batch = nft_backend.batch_ops(acts)
    assert [(o.kind, o.family) for o in batch] == [('newtable', 1)] + [('newchain', 1)] * N + [
        ('delrule', 2)] * 2 + [('newrule', 1)] * 2 + [('deltable', 2)]
    # b's owner then finds its rule in place: nothing to do
    after = nft_backend.Observed(True, full_chains(), [owned(moved_b, 7)], 0, N)
    assert nft_backend.plan_rules([b], after, lambda rid: rid == 'masq/b') == []


def test_an_old_table_with_foreign_content_stays_but_loses_our_rules():
    a = compiled(MASQ_A)[0]
    have = nft_backend.Observed(legacy=[legacy_table(foreign_rules=1)], owned=[legacy_owned(a, 5)])
    acts = nft_backend.plan_rules([a], have, ALL)
    assert ('delete_table', 'ip linuxnet') not in ops(acts)
    assert ('delete_rule', 'postrouting: masq/a') in ops(acts)
    have = nft_backend.Observed(legacy=[legacy_table(use=5)], owned=[legacy_owned(a, 5)])
    assert ('delete_table', 'ip linuxnet') not in ops(nft_backend.plan_rules([a], have, ALL))


def test_teardown_on_an_old_host_removes_the_old_table_too():
    a = compiled(MASQ_A)[0]
    have = nft_backend.Observed(legacy=[legacy_table()], owned=[legacy_owned(a, 5)])
    assert ops(nft_backend.plan_rules([], have, ALL)) == [
        ('delete_rule', 'postrouting: masq/a'), ('delete_table', 'ip linuxnet')]


def test_a_chain_changed_by_hand_is_refused_before_anything():
    chains = full_chains()
    chains['prerouting'] = (0, 0, 'nat')
    with pytest.raises(PlanError, match='chain prerouting in table inet linuxnet'):
        BACKEND.check(nft_backend.Observed(True, chains, [], 0, N))
    BACKEND.check(nft_backend.Observed(True, full_chains(), [], 0, N))


# ------------------------------------------------------------------ localhost publications
LOCAL = {'host_port': 5432, 'container_address': '172.18.0.10', 'host_ip': '127.0.0.1'}


def test_a_localhost_publication_is_output_dnat_snat_out_of_the_bridge_and_the_guard():
    w = nat.PortPublishResource().want(pub_params(LOCAL))
    texts = dict((c.rid, (c.chain, c.text)) for c in compiled(*nat.PortPublishResource.specs(w)))
    assert texts == {
        # the host's own connections only: no prerouting rule
        'pub/br0/tcp/127.0.0.1/5432/out': ('output', 'ip daddr 127.0.0.1 tcp dport 5432 '
                                                     'dnat to 172.18.0.10:5432'),
        'pub/br0/hairpin': ('postrouting', 'ip saddr 172.18.0.0/16 ip daddr 172.18.0.0/16 '
                                           'ct status dnat masquerade'),
        'pub/br0/localhost-snat': ('postrouting', 'ip saddr 127.0.0.0/8 oifname "br0" '
                                                  'masquerade'),
        'pub/br0/localhost-guard': ('guard', 'ip daddr 127.0.0.0/8 iifname != "lo" drop'),
        'pub/br0/ingress': ('forward', 'ip daddr 172.18.0.0/16 iifname != "br0" '
                                       'ct state ! established,related ct status ! dnat drop'),
    }
    assert nft_backend.CHAINS['guard'] == (0, -300, 'filter')  # prerouting, before conntrack
    # any 127.0.0.0/8 address; never ::1 (the kernel does not route it off lo)
    nat.PortPublishResource().want(pub_params(dict(LOCAL, host_ip='127.0.0.53')))
    with pytest.raises(ValidationError, match=r"publications\[0\]\.host_ip: '::1' is the IPv6 "
                                              r"loopback address, which the kernel never routes "
                                              r"off lo .*; use 127.0.0.1"):
        nat.PortPublishResource().want(pub_params(dict(LOCAL, host_ip='::1')))


def test_a_localhost_publication_collides_with_an_all_addresses_one():
    with pytest.raises(ValidationError, match=r'publications\[1\]'):
        nat.PortPublishResource().want(pub_params(LOCAL, dict(LOCAL, host_ip=None)))
    r = nat.PortPublishResource()
    other = r.want(dict(pub_params(dict(LOCAL, container_address='10.9.0.2')),
                        network='net2', bridge='br2', subnet='10.9.0.0/24'))
    have_nat = nft_backend.Observed(True, full_chains(), [
        owned(c, i) for i, c in enumerate(compiled(*r.specs(other)))], 0, N)
    mine = r.want(pub_params(dict(LOCAL, host_ip=None)))
    with pytest.raises(PlanError, match=r'conflicts with network net2, which already publishes '
                                        r'tcp 127.0.0.1:5432'):
        r.check_conflicts(mine, have_nat)


@pytest.mark.parametrize('pubs, state, current, expected', [
    ([LOCAL], 'present', '0', '1'),
    ([LOCAL], 'present', None, '1'),     # the bridge is made by an earlier step (check mode)
    ([LOCAL], 'present', '1', None),
    ([], 'present', '1', '0'),           # the last localhost publication went: back off
    ([], 'present', '0', None),
    ([], 'absent', '1', '0'),            # teardown of the publications, bridge given
])
def test_route_localnet_only_on_this_bridge_and_only_while_needed(
        pubs, state, current, expected):
    r = nat.PortPublishResource()
    w = r.want(pub_params(*pubs, state=state))
    acts = r.host_actions(w, {'route_localnet': current})
    assert [(a.target, a.args['value']) for a in acts] == (
        [('net.ipv4.conf.br0.route_localnet', expected)] if expected else [])
    assert all(a.args['_path'] == '/proc/sys/net/ipv4/conf/br0/route_localnet' for a in acts)


def test_commit_never_has_route_localnet_on_without_the_guard(monkeypatch):
    order = []

    class Backend(object):
        def apply(self, actions):
            order.append(('batch', [a.op for a in actions]))
    monkeypatch.setattr(nat, 'apply_host',
                        lambda acts, done: order.extend(('sysctl', a.args['value']) for a in acts))
    on = nat.Action('set_sysctl', 'x', value='1', _path='/nonexistent')
    off = nat.Action('set_sysctl', 'x', value='0', _path='/nonexistent')
    rule = nat.Action('add_rule', 'guard: pub/br0/localhost-guard')
    nat.commit(Backend(), [on, rule])
    nat.commit(Backend(), [off, rule])
    assert order == [('batch', ['add_rule']), ('sysctl', '1'),
                     ('sysctl', '0'), ('batch', ['add_rule'])]


# ------------------------------------------------------------------ IPv6 (issue 12)
PUB6 = {'host_port': 5000, 'container_address': '172.18.0.10',
        'container_ipv6_address': 'fd00:18::10'}


def pub6_params(*pubs, **kw):
    return pub_params(*pubs, **dict({'ipv6_subnet': 'fd00:18::/64'}, **kw))


def test_ipv6_publication_specs_rids_and_texts():
    w = nat.PortPublishResource().want(pub6_params(
        PUB6,
        dict(PUB6, host_port=5353, container_port=53, protocol='udp'),
        dict(PUB6, host_port=5001, host_ip='2001:db8::15'),
        dict(PUB6, host_port=5002, host_ip='10.0.0.3'),
        {'host_port': 5003, 'container_address': '172.18.0.11'}))
    texts = dict((c.rid, (c.chain, c.text)) for c in compiled(*nat.PortPublishResource.specs(w)))
    six = dict((k, t) for k, t in texts.items() if ' ip6 ' in ' %s ' % t[1] or 'ip6' in t[1])
    assert six == {
        'pub/br0/tcp/*6/5000/pre': ('prerouting', 'meta nfproto ipv6 fib daddr type local '
                                                  'tcp dport 5000 dnat ip6 to [fd00:18::10]:5000'),
        'pub/br0/tcp/*6/5000/out': ('output', 'fib daddr type local ip6 daddr != ::1 '
                                              'tcp dport 5000 dnat ip6 to [fd00:18::10]:5000'),
        'pub/br0/udp/*6/5353/pre': ('prerouting', 'meta nfproto ipv6 fib daddr type local '
                                                  'udp dport 5353 dnat ip6 to [fd00:18::10]:53'),
        'pub/br0/udp/*6/5353/out': ('output', 'fib daddr type local ip6 daddr != ::1 '
                                              'udp dport 5353 dnat ip6 to [fd00:18::10]:53'),
        'pub/br0/tcp/2001:db8::15/5001/pre': ('prerouting', 'ip6 daddr 2001:db8::15 tcp dport '
                                                            '5001 dnat ip6 to [fd00:18::10]:5001'),
        'pub/br0/tcp/2001:db8::15/5001/out': ('output', 'ip6 daddr 2001:db8::15 tcp dport 5001 '
                                                        'dnat ip6 to [fd00:18::10]:5001'),
        'pub/br0/hairpin6': ('postrouting', 'ip6 saddr fd00:18::/64 ip6 daddr fd00:18::/64 '
                                            'ct status dnat masquerade'),
        'pub/br0/ingress6': ('forward', 'ip6 daddr fd00:18::/64 iifname != "br0" '
                                        'ct state ! established,related ct status ! dnat drop'),
    }
    # an IPv4 host_ip: IPv4 only; no container IPv6 address: IPv4 only
    assert 'pub/br0/tcp/10.0.0.3/5002/pre' in texts and 'pub/br0/tcp/*/5003/pre' in texts
    assert not [rid for rid in texts if '/5002/' in rid and '6' in rid.split('/')[3]]
    assert 'pub/br0/tcp/*6/5003/pre' not in texts
    # the IPv4 rules are what they were
    assert texts['pub/br0/tcp/*/5000/pre'] == (
        'prerouting', 'fib daddr type local tcp dport 5000 dnat to 172.18.0.10:5000')
    for rid in texts:
        assert len(ownership.OWNER_PREFIX + rid + '#' + 'x' * 12) < 128
    longest = 'pub/%s/tcp/%s/10000-10001/pre' % ('n' * 32, 'ffff:' * 7 + 'ffff')
    assert len(ownership.OWNER_PREFIX + longest + '#' + 'x' * 12) < 128


def test_ipv4_only_publications_have_no_ipv6_rules():
    w = nat.PortPublishResource().want(pub_params(
        {'host_port': 80, 'container_address': '172.18.0.2'}))
    assert [s.family for s in nat.PortPublishResource.specs(w)] == [4, 4, 4, 4]


@pytest.mark.parametrize('pub,kw,words', [
    (dict(PUB6, host_ip='::1'), {}, r"host_ip: '::1' is the IPv6 loopback"),
    (dict(PUB6, host_ip='::'), {}, r"host_ip: '::' is the unspecified address; leave host_ip out"),
    (dict(PUB6, host_ip='2001:db8::15', container_ipv6_address=None), {},
     r"publications\[0\]\.host_ip: '2001:db8::15' is an IPv6 address but the container has no "
     r'IPv6 address to forward it to; set ipv6_subnet and the container\'s '
     r'container_ipv6_address'),
    (PUB6, {'ipv6_subnet': None}, r"publications\[0\]\.container_ipv6_address: 'fd00:18::10' is "
                                  r'given but the network has no IPv6 subnet; set ipv6_subnet'),
    (dict(PUB6, container_ipv6_address='172.18.0.10'), {},
     r"container_ipv6_address: '172.18.0.10' is IPv4; give the container's IPv6 address"),
    (dict(PUB6, container_ipv6_address='fd00:19::1'), {},
     r"container_ipv6_address: 'fd00:19::1' is not a host address of subnet fd00:18::/64"),
    (PUB6, {'ipv6_subnet': '172.18.0.0/16'}, r"^ipv6_subnet: '172.18.0.0/16' is IPv4, this option "
                                             r'takes the IPv6 subnet'),
    (PUB6, {'ipv6_subnet': '::/0'}, r"^ipv6_subnet: '::/0' would cover every IPv6 address"),
    (PUB6, {'ipv6_subnet': 'fd00:18::1/64'}, r"^ipv6_subnet: 'fd00:18::1/64' has host bits set"),
    (PUB6, {'ipv6_subnet': 'fd00:18::'}, r"^ipv6_subnet: 'fd00:18::' has no prefix length"),
])
def test_ipv6_publication_validation(pub, kw, words):
    with pytest.raises(ValidationError, match=words):
        nat.PortPublishResource().want(pub6_params(pub, **kw))


def test_ipv6_overlaps_within_and_across_networks():
    r = nat.PortPublishResource()
    # every address of both families vs one IPv6 address: overlap; vs an IPv4 one: overlap
    with pytest.raises(ValidationError, match='overlaps'):
        r.want(pub6_params(PUB6, dict(PUB6, host_ip='2001:db8::15')))
    # an IPv4-only wildcard and one IPv6 address do not overlap
    r.want(pub6_params(dict(PUB6, container_ipv6_address=None), dict(PUB6, host_ip='2001:db8::15')))
    # across networks: another network's *6 rule conflicts with ours when we serve IPv6
    other = r.want(dict(pub6_params(dict(PUB6, container_address='10.9.0.2',
                                         container_ipv6_address='fd00:9::2')),
                        network='net2', bridge='br2', subnet='10.9.0.0/24',
                        ipv6_subnet='fd00:9::/64'))
    only6 = [c for c in compiled(*r.specs(other)) if c.rid.split('/')[3:4] == ['*6']]
    have_nat = nft_backend.Observed(True, full_chains(), [owned(c, i) for i, c in enumerate(only6)],
                                    0, N)
    with pytest.raises(PlanError, match=r'conflicts with network net2, which already publishes '
                                        r'tcp \[\*\]:5000'):
        r.check_conflicts(r.want(pub6_params(PUB6)), have_nat)
    r.check_conflicts(r.want(pub6_params(dict(PUB6, container_ipv6_address=None))), have_nat)
    with pytest.raises(PlanError, match=r'tcp \[2001:db8::15\]:5000 conflicts'.replace(
            ' conflicts', r'\) conflicts')):
        r.check_conflicts(r.want(pub6_params(dict(PUB6, host_ip='2001:db8::15'))), have_nat)


def test_the_network_pipeline_fills_ipv6_addresses():
    at = nat_model.Path().published_ports
    subnet, subnet6 = ipaddress.ip_network('172.18.0.0/16'), ipaddress.ip_network('fd00:18::/64')
    pubs = [publications.publication(at[0], {'host_port': 80, 'container': 'netns0'}, subnet, subnet6),
            publications.publication(at[1], {'host_port': 81, 'container': 'netns1'}, subnet, subnet6),
            publications.publication(at[2], {'host_port': 82, 'container': 'netns0',
                                             'host_ip': 'fd00:99::1'}, subnet, subnet6)]
    assert publications.publication(at[0], {'host_port': 80, 'container': 'netns0'}, subnet)[
        'families'] == (4,)  # subnet6 stays optional
    want = nat_model.publish_record('br0', 'present', 'br0', subnet, True, pubs,
                                    ipv6_subnet=subnet6)
    full = publications.with_addresses(want, {'netns0': ipaddress.ip_address('172.18.0.10'),
                                              'netns1': ipaddress.ip_address('172.18.0.11')},
                                       {'netns0': ipaddress.ip_interface('fd00:18::10/64')})
    p0, p1, p2 = full['publications']
    assert p0['addr6'] == ipaddress.ip_address('fd00:18::10') and p0['families'] == (4, 6)
    assert p1['addr6'] is None and p1['families'] == (4,)
    assert p2['families'] == (6,)
    rids = [s.rid for s in nat_model.publish_specs(full)]
    assert 'pub/br0/tcp/*6/80/pre' in rids and 'pub/br0/tcp/*6/81/pre' not in rids
    assert 'pub/br0/tcp/fd00:99::1/82/out' in rids and 'pub/br0/tcp/*/82/pre' not in rids
    with pytest.raises(ValidationError, match=r"published_ports\[2\]\.host_ip: 'fd00:99::1' is an "
                                              r'IPv6 address but the container has no IPv6'):
        publications.with_addresses(want, {'netns0': '172.18.0.10', 'netns1': '172.18.0.11'})
    # IPv4-only callers: as before
    v4 = nat_model.publish_record('br0', 'present', 'br0', subnet, True, pubs[:2])
    assert v4['ipv6_subnet'] is None
    assert publications.with_addresses(v4, {'netns0': '172.18.0.10', 'netns1': '172.18.0.11'})[
        'publications'][0]['addr6'] is None


# ------------------------------------------------------------------ masquerade, IPv6
def test_masquerade_ipv6_specs_and_validation():
    r = nat.MasqueradeResource()
    w = r.want({'networks': [
        {'name': 'a', 'subnet': '10.1.0.0/20', 'ipv6_subnet': 'fd00:a::/64', 'bridge': 'bra'},
        {'name': 'b', 'ipv6_subnet': 'fd00:b::/48', 'bridge': 'brb', 'ipv6_masquerade': False},
        {'name': 'c', 'ipv6_subnet': 'fd00:c::/127', 'bridge': 'brc'}]})
    texts = dict((c.rid, c.text) for c in compiled(*r.specs(w)))
    assert texts == {'masq/a': 'ip saddr 10.1.0.0/20 oifname != "bra" masquerade',
                     'masq/a/6': 'ip6 saddr fd00:a::/64 oifname != "bra" masquerade',
                     'masq/c/6': 'ip6 saddr fd00:c::/127 oifname != "brc" masquerade'}
    assert nat_model.ipv6_networks(w) == ['a', 'b', 'c']
    scope = r.in_scope(w)
    assert scope('masq/b/6') and scope('masq/a') and not scope('masq/d/6')
    for net, words in [
            ({'name': 'x', 'bridge': 'br0'}, r"networks\[0\]\.subnet: missing; give it \(or "
                                             r'ipv6_subnet, or both\)'),
            ({'name': 'x', 'ipv6_subnet': '10.0.0.0/8', 'bridge': 'br0'},
             r"networks\[0\]\.ipv6_subnet: '10.0.0.0/8' is IPv4"),
            ({'name': 'x', 'ipv6_subnet': '::/0', 'bridge': 'br0'}, 'would cover every IPv6'),
            ({'name': 'x', 'subnet': 'fd00::/64', 'bridge': 'br0'}, r'subnet: .* is IPv6')]:
        with pytest.raises(ValidationError, match=words):
            r.want({'networks': [net]})
    with pytest.raises(ValidationError, match=r"networks\[1\]\.ipv6_subnet: 'fd00:a:0:1::/64' "
                                              r'overlaps network a \(fd00:a::/48'):
        r.want({'networks': [{'name': 'a', 'ipv6_subnet': 'fd00:a::/48', 'bridge': 'bra'},
                             {'name': 'b', 'ipv6_subnet': 'fd00:a:0:1::/64', 'bridge': 'brb'}]})


@pytest.mark.parametrize('plen', [0, 1, 61, 64, 127, 128])
def test_ipv6_masquerade_any_prefix_length(plen):
    net = ipaddress.ip_network('fd00:18::/%d' % plen, strict=False)
    spec = nat_model.RuleSpec('masq/x/6', 'postrouting', saddr=net, oif_not='br0',
                              action='masquerade')
    assert spec.family == 6
    text = compiled(spec)[0].text
    addr = str(net.network_address) if plen == 128 else str(net)
    assert text == 'ip6 saddr %s oifname != "br0" masquerade' % addr


def six_have(forwarding='0', text=None, ra_in_use=(), accept_ra=None):
    return {'text': text, 'record': fwd.parse_dropin6(text), 'ra_in_use': list(ra_in_use),
            'forwarding': forwarding, 'accept_ra': dict(accept_ra or {})}


def plan6(want, six):
    return [(a.op, a.target, a.args.get('value')) for a in fwd.ipv6_actions(want, six)]


def test_dropin6_text_round_trip():
    text = fwd.dropin6_text(['b', 'a'], '0', [('eth0', '1'), ('eth0.100', '1')])
    assert '# networks: a b\n' in text
    assert '# found: net.ipv6.conf.all.forwarding=0\n# found: net.ipv6.conf.eth0.accept_ra=1\n' \
        '# found: net.ipv6.conf.eth0.100.accept_ra=1\n' in text
    assert text.endswith('net.ipv6.conf.eth0.accept_ra = 2\n'
                         'net/ipv6/conf/eth0.100/accept_ra = 2\n'
                         'net.ipv6.conf.all.forwarding = 1\n')
    assert fwd.parse_dropin6(text) == {'networks': ['a', 'b'], 'forwarding': '0',
                                       'accept_ra': [('eth0', '1'), ('eth0.100', '1')]}
    assert fwd.parse_dropin6(None) is None
    assert fwd.sysctl_path('net.ipv6.conf.eth0.100.accept_ra') == \
        '/proc/sys/net/ipv6/conf/eth0.100/accept_ra'
    assert fwd.sysctl_path('net.ipv6.conf.all.forwarding') == \
        '/proc/sys/net/ipv6/conf/all/forwarding'


def test_ipv6_forwarding_plan_order_idempotence_and_restore():
    r = nat.MasqueradeResource()
    w = r.want({'networks': [{'name': 'a', 'ipv6_subnet': 'fd00:a::/64', 'bridge': 'bra'}]})
    six = six_have('0', None, ['eth0'], {'eth0': '1'})
    acts = fwd.ipv6_actions(w, six)
    # accept_ra 2 before forwarding goes on, then the drop-in recording what was found
    assert [(a.op, a.target, a.args.get('value')) for a in acts] == [
        ('set_sysctl', 'net.ipv6.conf.eth0.accept_ra', '2'),
        ('set_sysctl', 'net.ipv6.conf.all.forwarding', '1'),
        ('write_file', fwd.SYSCTL_DROPIN6, None)]
    text = acts[-1].args['_content']
    assert '# found: net.ipv6.conf.eth0.accept_ra=1' in text
    before, after = fwd.render_ipv6(six, acts)
    assert before == ['sysctl net.ipv6.conf.all.forwarding = 0',
                      'sysctl net.ipv6.conf.eth0.accept_ra = 1',
                      'file %s: absent' % fwd.SYSCTL_DROPIN6]
    assert after == ['sysctl net.ipv6.conf.all.forwarding = 1',
                     'sysctl net.ipv6.conf.eth0.accept_ra = 2',
                     'file %s: present' % fwd.SYSCTL_DROPIN6]
    # converged: nothing (the RA route is gone from ra_in_use once accept_ra is 2)
    done = six_have('1', text, [], {'eth0': '2'})
    assert plan6(w, done) == []
    # another network joins: only the record changes; the found values are kept
    w2 = r.want({'networks': [{'name': 'b', 'ipv6_subnet': 'fd00:b::/64', 'bridge': 'brb'}]})
    acts = fwd.ipv6_actions(w2, done)
    assert [a.op for a in acts] == ['write_file']
    assert '# networks: a b\n' in acts[0].args['_content']
    assert '# found: net.ipv6.conf.all.forwarding=0' in acts[0].args['_content']
    # a leaves while b stays: nothing restored
    both = six_have('1', acts[0].args['_content'], [], {'eth0': '2'})
    gone_a = r.want({'networks': [{'name': 'a', 'state': 'absent'}]})
    assert [a.op for a in fwd.ipv6_actions(gone_a, both)] == ['write_file']
    # the last one goes: forwarding back first, accept_ra back, the drop-in removed
    gone = r.want({'networks': [{'name': 'a', 'state': 'absent'}]})
    assert plan6(gone, done) == [
        ('set_sysctl', 'net.ipv6.conf.all.forwarding', '0'),
        ('set_sysctl', 'net.ipv6.conf.eth0.accept_ra', '1'),
        ('remove_file', fwd.SYSCTL_DROPIN6, None)]
    # ... also when it stays but loses its IPv6 subnet
    v4 = r.want({'networks': [{'name': 'a', 'subnet': '10.1.0.0/24', 'bridge': 'bra'}]})
    assert [op for op, _t, _v in plan6(v4, done)] == ['set_sysctl', 'set_sysctl', 'remove_file']
    # an interface gone meanwhile is skipped; forwarding found on stays on
    assert plan6(gone, six_have('1', fwd.dropin6_text(['a'], '1', [('eth9', '1')]), [],
                                {'eth9': None})) == [('remove_file', fwd.SYSCTL_DROPIN6, None)]
    # IPv4-only runs without a drop-in: no IPv6 at all
    assert fwd.ipv6_actions(v4, None) == [] and fwd.render_ipv6(None, []) == ([], [])


def test_commit_turns_forwarding_off_before_accept_ra_back(monkeypatch):
    order = []

    class Backend(object):
        def apply(self, actions):
            order.append(('batch', [a.op for a in actions]))
    monkeypatch.setattr(nat, 'apply_host',
                        lambda acts, done: order.extend((a.target, a.args.get('value'))
                                                        for a in acts))
    r = nat.MasqueradeResource()
    gone = r.want({'networks': [{'name': 'a', 'state': 'absent'}]})
    acts = fwd.ipv6_actions(gone, six_have('1', fwd.dropin6_text(['a'], '0', [('eth0', '1')]),
                                           [], {'eth0': '2'}))
    nat.commit(Backend(), [nat.Action('delete_rule', 'postrouting: masq/a/6')] + acts)
    assert order == [('net.ipv6.conf.all.forwarding', '0'), (fwd.SYSCTL_DROPIN6, None),
                     ('batch', ['delete_rule']), ('net.ipv6.conf.eth0.accept_ra', '1')]
    order[:] = []
    w = r.want({'networks': [{'name': 'a', 'ipv6_subnet': 'fd00:a::/64', 'bridge': 'bra'}]})
    nat.commit(Backend(), fwd.ipv6_actions(w, six_have('0', None, ['eth0'], {'eth0': '1'})))
    assert [t for t, _v in order[1:]] == ['net.ipv6.conf.eth0.accept_ra',
                                          'net.ipv6.conf.all.forwarding', fwd.SYSCTL_DROPIN6]


def test_ipv4_ip_forward_ignores_ipv6_only_networks():
    r = nat.MasqueradeResource()
    w = r.want({'networks': [{'name': 'a', 'ipv6_subnet': 'fd00:a::/64', 'bridge': 'bra'}]})
    have = masq_have(specs=r.specs(w))
    assert r.ipv4_actions(w, have) == []
