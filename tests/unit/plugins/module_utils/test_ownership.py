"""Owner tags and rule ids: built and read in one place (module_utils/ownership.py)."""
from ansible_collections.linuxnet.container_network.plugins.module_utils.nat import plan as nat_plan
from ansible_collections.linuxnet.container_network.plugins.module_utils.ownership import (
    RuleId, fw_tag, fw_tag_network, owner_of, owner_tag,
)


def test_owner_tags_round_trip():
    assert owner_tag('br0') == 'linuxnet:br0' and owner_of('linuxnet:br0') == 'br0'
    assert owner_tag('') is None and owner_of(None) is None and owner_of('docker0') is None


def test_iptables_tags_name_their_network():
    assert fw_tag('br-lan', 'in') == 'linuxnet:br-lan/in'
    assert fw_tag_network(fw_tag('br-lan', 'fleet_172.19.0.0_24')) == 'br-lan'
    assert fw_tag_network('linuxnet:') is None and fw_tag_network('ufw-user-input') is None


def test_rule_ids_are_built_and_read_back():
    assert RuleId.masq('br0') == 'masq/br0' and RuleId.masq('br0', 6) == 'masq/br0/6'
    assert not isinstance(RuleId.masq('br0'), RuleId)  # results and JSON keep plain text
    for rid, family in (('masq/br0', 4), ('masq/br0/6', 6)):
        r = RuleId(rid)
        assert r.is_masquerade and r.network == 'br0' and r.family == family
        assert r.publication is None
    dnat = RuleId(RuleId.pub('br0', 'tcp', '*6', '8000-8010', 'pre'))
    assert dnat == 'pub/br0/tcp/*6/8000-8010/pre'
    assert dnat.kind == 'pub' and dnat.network == 'br0' and dnat.family is None
    assert dnat.publication == ('tcp', '*6', '8000-8010', 'pre')
    assert (dnat.publication.ports, dnat.publication.hook) == ('8000-8010', 'pre')
    shared = RuleId(RuleId.pub('br0', 'localhost-guard'))
    assert shared.network == 'br0' and shared.publication is None and not shared.is_masquerade
    assert RuleId('odd').network is None


def test_the_nft_comment_carries_the_rule_id():
    comment = nat_plan.tag(RuleId.pub('br0', 'ingress'), 'abcdef012345')
    assert comment == 'linuxnet:pub/br0/ingress#abcdef012345'
    assert nat_plan.parse_tag(comment) == ('pub/br0/ingress', 'abcdef012345')
    assert nat_plan.parse_tag('docker: something') is None
