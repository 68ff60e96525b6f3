"""BCDR304 backup-network-path-blocked, and the NSG evaluator under it (rules/_nsg.py).

The evaluator is tested table-driven on the cases that decide real verdicts: a higher-priority
allow, `*` ports, port lists and ranges, `AzureCloud.<region>` and `Storage.<region>` tags (the right
region and a wrong one), a deny on 443 only, protocols, source prefixes, source ports, application
security groups and the default rules. The rule is tested on inventories: the NIC's NSG and the
subnet's NSG (both must allow), route tables, and coverage gaps.
"""
from __future__ import annotations

import pytest
from factories import SUB, failed, inventory, nic, nsg, nsg_rule, partial, protected_item, replication_item, route_table, vm, vnet, with_
from rulekit import run

from rules import _nsg
from scanner import inventory as m

CODE = "BCDR304"
STORAGE = _nsg.Flow(service="Storage", region="westeurope", source_ip="10.0.0.4")
BACKUP = _nsg.Flow(service="AzureBackup", region="westeurope", source_ip="10.0.0.4")
ASG = "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/applicationsecuritygroups/asg-web"

R = nsg_rule
# (case, custom rules, flow, expected allowed (None: undetermined), rule that decides)
TABLE = [
    ("defaults only: AllowInternetOutBound", (), STORAGE, True, "AllowInternetOutBound"),
    ("deny Internet", (R("deny-internet", 4000, destination="Internet"),), STORAGE, False, "deny-internet"),
    ("higher-priority allow Storage before deny Internet",
     (R("allow-storage", 100, "Allow", "Storage", "443", "Tcp"), R("deny-internet", 4000, destination="Internet")),
     STORAGE, True, "allow-storage"),
    ("the allow comes after the deny",
     (R("deny-internet", 4000, destination="Internet"), R("allow-storage", 4100, "Allow", "Storage", "443")),
     STORAGE, False, "deny-internet"),
    ("deny * to * on * ports", (R("deny-all", 200),), STORAGE, False, "deny-all"),
    ("deny 0.0.0.0/0", (R("deny-any", 300, destination="0.0.0.0/0", ports="443"),), STORAGE, False, "deny-any"),
    ("deny on 443 only", (R("deny-443", 300, ports="443"),), STORAGE, False, "deny-443"),
    ("deny on 80 only leaves 443 open", (R("deny-80", 300, ports="80"),), STORAGE, True, "AllowInternetOutBound"),
    ("deny a port list holding 443", (R("deny-web", 300, ports=("80", "443")),), STORAGE, False, "deny-web"),
    ("deny a port range holding 443", (R("deny-range", 300, ports="400-500"),), STORAGE, False, "deny-range"),
    ("deny a port range below 443", (R("deny-low", 300, ports="1-442"),), STORAGE, True, "AllowInternetOutBound"),
    ("allow AzureCloud.westeurope before deny Internet",
     (R("allow-cloud", 100, "Allow", "AzureCloud.westeurope"), R("deny-internet", 4000, destination="Internet")),
     STORAGE, True, "allow-cloud"),
    ("allow AzureCloud of another region does not help",
     (R("allow-cloud-neu", 100, "Allow", "AzureCloud.northeurope"), R("deny-internet", 4000, destination="Internet")),
     STORAGE, False, "deny-internet"),
    ("deny AzureCloud.westeurope", (R("deny-cloud", 500, destination="AzureCloud.WestEurope"),), STORAGE, False, "deny-cloud"),
    ("deny AzureCloud of another region", (R("deny-cloud-neu", 500, destination="AzureCloud.eastus"),),
     STORAGE, True, "AllowInternetOutBound"),
    ("allow Storage.WestEurope (tag casing) before deny *",
     (R("allow-st", 100, "Allow", "Storage.WestEurope", "443"), R("deny-all", 4096)), STORAGE, True, "allow-st"),
    ("allow Storage of another region does not help",
     (R("allow-st-neu", 100, "Allow", "Storage.northeurope", "443"), R("deny-all", 4096)), STORAGE, False, "deny-all"),
    ("allow Storage does not let AzureBackup through",
     (R("allow-st", 100, "Allow", "Storage", "443"), R("deny-all", 4096)), BACKUP, False, "deny-all"),
    ("deny AzureBackup leaves Storage open", (R("deny-bkp", 100, destination="AzureBackup"),), STORAGE, True,
     "AllowInternetOutBound"),
    ("deny AzureBackup", (R("deny-bkp", 100, destination="AzureBackup"),), BACKUP, False, "deny-bkp"),
    ("deny Udp only", (R("deny-udp", 100, protocol="Udp"),), STORAGE, True, "AllowInternetOutBound"),
    ("deny Tcp", (R("deny-tcp", 100, protocol="Tcp"),), STORAGE, False, "deny-tcp"),
    ("deny VirtualNetwork does not cover Storage", (R("deny-vnet", 100, destination="VirtualNetwork"),), STORAGE, True,
     "AllowInternetOutBound"),
    ("deny a private range does not cover Storage", (R("deny-10", 100, destination="10.0.0.0/8"),), STORAGE, True,
     "AllowInternetOutBound"),
    ("deny a specific public range: undetermined", (R("deny-20", 100, destination="20.0.0.0/8"),), STORAGE, None, "deny-20"),
    ("deny from another subnet's prefix", (R("deny-other", 100, source="10.1.0.0/16"),), STORAGE, True,
     "AllowInternetOutBound"),
    ("deny from the VM's own prefix", (R("deny-mine", 100, source="10.0.0.0/24"),), STORAGE, False, "deny-mine"),
    ("deny from a prefix when the VM's address is unknown", (R("deny-pfx", 100, source="10.0.0.0/24"),),
     _nsg.Flow(service="Storage", region="westeurope"), None, "deny-pfx"),
    ("deny source port 80: not the client side", (R("deny-sp80", 100, source_ports="80"),), STORAGE, True,
     "AllowInternetOutBound"),
    ("deny every ephemeral source port", (R("deny-eph", 100, source_ports="1024-65535"),), STORAGE, False, "deny-eph"),
    ("deny part of the ephemeral ports: undetermined", (R("deny-part", 100, source_ports="49152-65535"),), STORAGE, None,
     "deny-part"),
    ("deny from an application security group the VM is in",
     (R("deny-asg", 100, source=(), source_asg_ids=(ASG,)),),
     _nsg.Flow(service="Storage", region="westeurope", source_ip="10.0.0.4", source_asgs=frozenset({ASG})), False, "deny-asg"),
    ("deny from an application security group the VM is not in", (R("deny-asg", 100, source=(), source_asg_ids=(ASG,)),),
     STORAGE, True, "AllowInternetOutBound"),
    ("an inbound deny does not touch outbound traffic", (R("deny-in", 100, direction="Inbound"),), STORAGE, True,
     "AllowInternetOutBound"),
    ("custom deny * above the default allow", (R("deny-all-out", 4096, destination="*"),), STORAGE, False, "deny-all-out"),
]


@pytest.mark.parametrize("case,custom,flow,allowed,decider", TABLE, ids=[t[0] for t in TABLE])
def test_nsg_evaluation_table(case, custom, flow, allowed, decider):
    verdict = _nsg.evaluate(nsg("nsg-t", *custom), flow)
    assert verdict.allowed is allowed
    assert verdict.rule is not None and verdict.rule.name == decider


def test_a_memo_shared_across_flows_decides_as_each_flow_alone():
    """BCDR304 evaluates every VM's flows with one memo: what it reuses (rule order, the match on protocol,
    ports and destination) must never carry one VM's source address or groups over to another."""
    memo: dict = {}
    for _case, custom, flow, allowed, decider in TABLE * 2:
        verdict = _nsg.evaluate(nsg("nsg-t", *custom), flow, memo)
        assert (verdict.allowed, verdict.rule.name) == (allowed, decider)
    shared = nsg("nsg-shared", R("deny-mine", 100, source="10.0.0.0/24"), R("deny-asg", 200, source=(), source_asg_ids=(ASG,)))
    flows = [(STORAGE, False, "deny-mine"),
             (_nsg.Flow(service="Storage", region="westeurope", source_ip="10.1.0.4"), True, "AllowInternetOutBound"),
             (_nsg.Flow(service="Storage", region="westeurope"), None, "deny-mine"),
             (_nsg.Flow(service="Storage", region="westeurope", source_ip="10.1.0.4", source_asgs=frozenset({ASG})),
              False, "deny-asg")]
    for flow, allowed, decider in flows * 2:
        for m_ in (memo, None):
            verdict = _nsg.evaluate(shared, flow, m_)
            assert (verdict.allowed, verdict.rule.name) == (allowed, decider)


def test_default_rules_are_added_when_the_response_leaves_them_out():
    bare = nsg("bare", R("allow-443", 100, "Allow", "Storage", "443"), defaults=False)
    assert _nsg.evaluate(bare, STORAGE).rule.name == "allow-443"
    verdict = _nsg.evaluate(bare, BACKUP)  # nothing custom matches: the platform's AllowInternetOutBound does
    assert verdict.allowed is True and verdict.rule.name == "AllowInternetOutBound" and verdict.rule.priority == 65001
    deny_all = nsg("deny-all-only", defaults=False)
    assert [r.name for r in _nsg.outbound_rules(deny_all)] == ["AllowVnetOutBound", "AllowInternetOutBound", "DenyAllOutBound"]


@pytest.mark.parametrize("routes,expected", [
    ((("0.0.0.0/0", "VirtualAppliance", "10.0.255.4"),), "VirtualAppliance"),
    ((("0.0.0.0/0", "VirtualAppliance", "10.0.255.4"), ("Storage", "Internet", "")), "Internet"),
    ((("0.0.0.0/0", "VirtualAppliance", "10.0.255.4"), ("Storage.northeurope", "Internet", "")), "VirtualAppliance"),
    ((("0.0.0.0/0", "None", ""),), "None"),
    ((("10.0.3.0/24", "VirtualNetworkGateway", ""),), None),
    ((), None),
])
def test_route_for_the_flow(routes, expected):
    route = _nsg.route_for(route_table("rt", *routes), STORAGE)
    assert (route.next_hop_type if route else None) == expected


# --------------------------------------------------------------------------- the rule
def estate(nic_rules=(), subnet_rules=(), routes=None, *, backed_up=True, replicated=False, nic_nsg=True, **vm_kw):
    """One VM with a NIC (and its NSG) in a subnet (with its NSG and, optionally, a route table)."""
    target = vm("vm1", **vm_kw)
    nic_group = nsg("nsg-nic", *nic_rules) if nic_nsg else None
    subnet_group = nsg("nsg-subnet", *subnet_rules)
    table = route_table("rt1", *routes) if routes is not None else None
    net = vnet("vnet1", (("app", subnet_group, table),))
    the_nic = nic(target, net.subnets[0].display_id, nic_group)
    target = with_(target, nic_ids=(the_nic.id,))
    parts = dict(virtual_machines=[target], network_interfaces=[the_nic],
                 network_security_groups=[g for g in (nic_group, subnet_group) if g], virtual_networks=[net],
                 route_tables=[table] if table else [])
    if backed_up:
        parts["protected_items"] = [protected_item(target)]
    if replicated:
        parts["replication_items"] = [replication_item(source=target)]
    return target, parts


def findings(parts, **params):
    return run(CODE, inventory(**parts), **params)


def test_pass_with_the_default_rules():
    target, parts = estate()
    assert findings(parts) == []


def test_fail_when_the_nic_nsg_denies_443_names_the_rule_and_priority():
    target, parts = estate(nic_rules=(R("deny-https", 310, ports="443", protocol="Tcp"),))
    [f] = findings(parts)
    assert (f.status, f.severity, f.resource_id) == ("FAIL", "medium", target.display_id)
    first = f.evidence["blocked"][0]
    assert (first["level"], first["rule"], first["priority"], first["access"]) == ("network interface", "deny-https", 310, "Deny")
    assert first["traffic"] == "Tcp 443 to Storage.westeurope"


def test_fail_when_only_the_subnet_nsg_denies_both_must_allow():
    allow = R("allow-all-out", 100, "Allow")
    target, parts = estate(nic_rules=(allow,), subnet_rules=(R("deny-internet", 4000, destination="Internet"),))
    [f] = findings(parts)
    assert f.status == "FAIL" and f.evidence["blocked"][0]["level"] == "subnet"
    assert f.evidence["blocked"][0]["nsg"].endswith("/networkSecurityGroups/nsg-subnet")


def test_pass_when_a_higher_priority_allow_precedes_the_deny_on_both_levels():
    rules = (R("allow-storage", 100, "Allow", "Storage.westeurope", "443"), R("allow-backup", 110, "Allow", "AzureBackup", "443"),
             R("deny-internet", 4000, destination="Internet"))
    _t, parts = estate(nic_rules=rules, subnet_rules=rules)
    assert findings(parts) == []


def test_replicated_vm_needs_site_recovery_not_backup():
    rules = (R("allow-storage", 100, "Allow", "Storage", "443"), R("deny-internet", 4000, destination="Internet"))
    _t, parts = estate(subnet_rules=rules, backed_up=False, replicated=True)
    [f] = findings(parts)
    assert f.status == "FAIL"
    assert [b["traffic"] for b in f.evidence["blocked"]] == ["Tcp 443 to AzureSiteRecovery.westeurope"]
    assert f.evidence["protection"] == ["site-recovery"]


def test_unprotected_vm_is_not_judged():
    _t, parts = estate(nic_rules=(R("deny-all", 100),), backed_up=False)
    assert findings(parts) == []


def test_appliance_route_is_info_and_service_tag_route_bypasses_it():
    _t, parts = estate(routes=(("0.0.0.0/0", "VirtualAppliance", "10.0.255.4"),))
    [f] = findings(parts)
    assert (f.status, f.severity) == ("FAIL", "info")
    assert f.evidence["appliance_routes"][0]["next_hop_ip"] == "10.0.255.4"
    _t, parts = estate(routes=(("0.0.0.0/0", "VirtualAppliance", "10.0.255.4"), ("Storage", "Internet", ""),
                               ("AzureBackup", "Internet", "")))
    assert findings(parts) == []


def test_route_to_none_drops_the_traffic():
    _t, parts = estate(routes=(("0.0.0.0/0", "None", ""),))
    [f] = findings(parts)
    assert (f.status, f.severity) == ("FAIL", "medium") and f.evidence["blocked"][0]["level"] == "route"


def test_undetermined_rule_is_not_assessed_never_pass():
    _t, parts = estate(nic_rules=(R("deny-public", 100, destination="20.60.0.0/16"),))
    [f] = findings(parts)
    assert f.status == "NOT_ASSESSED" and f.evidence["undetermined"][0]["rule"] == "deny-public"


def test_not_assessed_when_a_network_list_failed():
    _t, parts = estate(nic_rules=(R("deny-all", 100),))
    inv = inventory(**parts, coverage_overrides={m.NETWORK_SECURITY_GROUPS: failed(m.NETWORK_SECURITY_GROUPS)})
    [f] = run(CODE, inv)
    assert f.status == "NOT_ASSESSED" and f.resource_id == f"/subscriptions/{SUB}"
    assert "AuthorizationFailed" in f.message


def test_not_assessed_when_the_nsg_was_skipped_as_malformed():
    target, parts = estate(nic_rules=(R("deny-all", 100),))
    bad = parts["network_security_groups"][0]
    parts["network_security_groups"] = parts["network_security_groups"][1:]
    inv = inventory(**parts, coverage_overrides={
        m.NETWORK_SECURITY_GROUPS: partial(m.NETWORK_SECURITY_GROUPS, (bad.display_id,), code="MalformedResponse")})
    [f] = run(CODE, inv)
    assert (f.status, f.resource_id) == ("NOT_ASSESSED", target.display_id) and "MalformedResponse" in f.message


def test_not_assessed_when_the_nic_is_missing():
    target, parts = estate()
    parts["network_interfaces"] = []
    [f] = findings(parts)
    assert f.status == "NOT_ASSESSED" and "not in the subscription's list" in f.message


def test_vm_without_nsgs_passes():
    target, parts = estate(nic_nsg=False)
    net = parts["virtual_networks"][0]
    parts["virtual_networks"] = [with_(net, subnets=(with_(net.subnets[0], nsg_id=""),))]
    parts["network_security_groups"] = []
    assert findings(parts) == []
