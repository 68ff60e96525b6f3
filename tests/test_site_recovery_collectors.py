"""Site Recovery collectors of the second edition: recovery plans, fabrics (VMware failback
infrastructure), protection container mappings and an item's recovery points; the vault alert / MUA
settings and soft-delete flags. Mappers on the official examples and the real recordings in
../shared, then the real SDK clients against the loopback simulator (request budget, coverage)."""
from __future__ import annotations

import copy
import json

import pytest
from shared_data import REAL_RESPONSES, REST_EXAMPLES
from simfaults import Fault, FaultySimulator

from scanner import ids
from scanner import inventory as m
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
from scanner.collect import CollectOptions, collect
from scanner.collectors import recovery as rsv
from scanner.collectors import site_recovery as asrc

SR = REST_EXAMPLES / "siterecovery"
BODIES = REAL_RESPONSES / "bodies"


def _example(name: str) -> dict:
    return json.loads((SR / name).read_text(encoding="utf-8"))["responses"]["200"]["body"]


def _body(name: str) -> dict:
    return json.loads((BODIES / name).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- mappers, official examples
@pytest.mark.shared
def test_recovery_plan_lists_the_items_of_every_group():
    plan = asrc.map_recovery_plan(_example("ReplicationRecoveryPlans_Get.json"))
    assert plan.vault_id.endswith("/providers/microsoft.recoveryservices/vaults/vault1")
    assert [ids.name_of(i) for i in plan.item_ids] == ["f8491e4f-817a-40dd-a90c-af773978c75b",
                                                       "c0c14913-3d7a-48ea-9531-cc99e0e686e6"]
    assert all(i == i.lower() for i in plan.item_ids)  # joined lower-cased: the id starts /Subscriptions/
    assert plan.replication_providers == ("HyperVReplicaAzure",)
    [listed] = [asrc.map_recovery_plan(v) for v in _example("ReplicationRecoveryPlans_List.json")["value"]]
    assert listed.name


@pytest.mark.shared
def test_container_mapping_reads_agent_auto_update_for_a2a_only():
    a2a = asrc.map_container_mapping(_example("ReplicationProtectionContainerMappings_Update.json"))
    assert (a2a.provider_type, a2a.agent_auto_update, a2a.state) == ("A2A", "Enabled", "Paired")
    assert a2a.source_container_id.endswith("/replicationprotectioncontainers/cloud_6d224fc6-f326-5d35-96de-fbf51efb3179")
    [hyperv] = [asrc.map_container_mapping(v) for v in _example("ReplicationProtectionContainerMappings_List.json")["value"]]
    assert hyperv.agent_auto_update is None  # no provider details: not reported, never "Enabled"


@pytest.mark.shared
def test_a_hyperv_fabric_has_no_failback_servers():
    [fabric] = [asrc.map_fabric(v) for v in _example("ReplicationFabrics_List.json")["value"]]
    assert (fabric.fabric_type, fabric.health, fabric.servers) == ("HyperVSite", "Normal", ())


@pytest.mark.shared
def test_recovery_points_example():
    times = [asrc.recovery_point_time(v) for v in _example("RecoveryPoints_ListByReplicationProtectedItems.json")["value"]]
    item = asrc.with_recovery_points(m.ReplicationItem(id="/x", display_id="/x", name="x", subscription_id="s", vault_id="v"), times)
    assert (item.recovery_point_count, item.has_recovery_point) == (2, True)
    assert item.last_recovery_point_time == "2017-04-26T07:37:30.9722019Z"
    empty = asrc.with_recovery_points(item.__class__(id="/y", display_id="/y", name="y", subscription_id="s", vault_id="v"), [])
    assert (empty.recovery_point_count, empty.has_recovery_point) == (0, False)


# --------------------------------------------------------------------------- mappers, real recordings
@pytest.mark.shared
def test_real_a2a_items_carry_disks_health_and_agent_dates():
    tested = rsv.map_replication_item(_body("probe_rpi_a2a_reprotected.json"))
    assert tested.failover_health == "Warning"
    assert [(e.code, e.category, e.level) for e in tested.health_errors] == [("161011", "TestFailover", "Warning")]
    assert tested.protected_disk_ids == (
        "/subscriptions/6b1a3f0e-5c2d-4e8f-9a7b-3d4c5e6f7a8b/resourcegroups/cliteraformvaultrg/providers/microsoft.compute/disks/"
        "clivm2_osdisk_1_80694d2fed274d0ca369121bd4fd635b",)
    assert tested.agent_expiry_time == "9999-12-31T23:59:59.9999999"
    assert tested.agent_certificate_expiry_time == "2026-01-15T08:55:33Z"
    assert tested.container_id.endswith(
        "/replicationfabrics/cli-test-fabric-a2a-2/replicationprotectioncontainers/cli-test-container-a2a-2")
    assert tested.recovery_container_id.endswith("/replicationprotectioncontainers/cli-test-container-a2a-1")
    assert tested.test_failover_state == "None" and tested.last_successful_test_failover_time is None
    waiting = rsv.map_replication_item(_body("probe_rpi_a2a_waiting_first_rp.json"))
    assert waiting.agent_certificate_expiry_time is None and waiting.unprotected_disk_luns == ()


@pytest.mark.shared
def test_real_soft_deleted_item_and_vault_settings():
    [raw] = _body("probe_item_softdeleted.json")["value"]
    item = rsv.map_protected_item(raw)
    assert (item.deferred_delete, item.deferred_delete_time) == (True, "2023-12-21T05:53:22.6606471Z")
    vault = rsv.map_vault(_body("vault_get.json"))
    assert (vault.job_failure_alerts, vault.multi_user_authorization, vault.soft_delete_state) == ("Enabled", "Disabled", "Enabled")
    listed = [rsv.map_vault(v) for v in _body("vault_list.json")["value"]]
    assert all(v.job_failure_alerts is None and v.multi_user_authorization is None for v in listed)  # the LIST has no settings


# --------------------------------------------------------------------------- VMware / modernized infrastructure
def test_vmware_fabric_servers_configuration_process_and_master_target():
    custom = {"instanceType": "VMware", "hostName": "cs01.contoso.local", "lastHeartbeat": "2026-11-22T05:59:00Z",
              "csServiceStatus": "Running",
              "processServers": [{"friendlyName": "ps01", "id": "ps-1", "lastHeartbeat": "2026-11-22T05:10:00Z", "health": "Warning",
                                  "healthErrors": [{"errorCode": "ProcessServerHeartbeatMissing", "errorLevel": "Error"}]}],
              "masterTargetServers": [{"name": "mt01", "id": "mt-1", "lastHeartbeat": "2026-11-22T05:58:00Z"}, "garbage"]}
    servers = asrc.fabric_servers(custom)
    assert [(x.role, x.name, x.last_heartbeat) for x in servers] == [
        ("configuration-server", "cs01.contoso.local", "2026-11-22T05:59:00Z"),
        ("process-server", "ps01", "2026-11-22T05:10:00Z"), ("master-target", "mt01", "2026-11-22T05:58:00Z")]
    assert servers[1].health_errors[0].code == "ProcessServerHeartbeatMissing"
    rcm = asrc.fabric_servers({"instanceType": "InMageRcm",
                               "processServers": [{"name": "appliance-ps", "lastHeartbeatUtc": "2026-11-22T05:59:00Z"}],
                               "rcmProxies": [{"fqdn": "appliance.contoso.local", "lastHeartbeatUtc": None}],
                               "reprotectAgents": [{"name": "appliance-rpa", "lastHeartbeatUtc": "2026-11-22T05:00:00Z"}]})
    assert [(x.role, x.name) for x in rcm] == [("process-server", "appliance-ps"), ("rcm-proxy", "appliance.contoso.local"),
                                               ("reprotect-agent", "appliance-rpa")]
    assert asrc.fabric_servers({"instanceType": "Azure"}) == ()


def test_which_vault_lists_are_read_and_which_items_get_a_recovery_point_get():
    a2a = m.ReplicationItem(id="/a", display_id="/a", name="a", subscription_id="s", vault_id="v", instance_type="A2A")
    vmw = m.ReplicationItem(id="/b", display_id="/b", name="b", subscription_id="s", vault_id="v", instance_type="InMageRcm")
    assert asrc.vault_needs([], True) == ()
    assert asrc.vault_needs([a2a], True) == (m.RECOVERY_PLANS, m.CONTAINER_MAPPINGS)
    assert asrc.vault_needs([vmw], True) == (m.RECOVERY_PLANS, m.REPLICATION_FABRICS)
    assert asrc.vault_needs([], False) == (m.RECOVERY_PLANS, m.REPLICATION_FABRICS, m.CONTAINER_MAPPINGS)
    assert not asrc.needs_recovery_points(a2a, in_plan=False)  # healthy A2A on the primary side: not needed
    assert asrc.needs_recovery_points(a2a, in_plan=True)
    assert asrc.needs_recovery_points(vmw, in_plan=False)
    known = m.ReplicationItem(id="/c", display_id="/c", name="c", subscription_id="s", vault_id="v",
                              instance_type="InMageRcm", has_recovery_point=True)
    assert not asrc.needs_recovery_points(known, in_plan=True)  # the provider already says


# --------------------------------------------------------------------------- the real SDK over the simulator
SUB = "00000000-0000-4000-8000-00000000a5a5"
P = f"/subscriptions/{SUB}"
VAULT = f"{P}/resourceGroups/rg-dr/providers/Microsoft.RecoveryServices/vaults/rsv-dr"
EMPTY = f"{P}/resourceGroups/rg-dr/providers/Microsoft.RecoveryServices/vaults/rsv-empty"
CONT = f"{VAULT}/replicationFabrics/vcenter/replicationProtectionContainers/vcenter-container"
ITEM_VMW = f"{CONT}/replicationProtectedItems/vmw-01"
ITEM_A2A = f"{VAULT}/replicationFabrics/azure-weu/replicationProtectionContainers/weu-container/replicationProtectedItems/a2a-01"


def _scenario() -> dict:
    def vault(vid):
        return {"id": vid, "name": ids.name_of(vid), "type": "Microsoft.RecoveryServices/vaults", "location": "westeurope",
                "properties": {"monitoringSettings": {"azureMonitorAlertSettings": {"alertsForAllJobFailures": "Disabled"}}}}

    def item(iid, kind, **props):
        return {"id": iid, "name": ids.name_of(iid), "properties": {
            "friendlyName": ids.name_of(iid), "protectionState": "Protected", "activeLocation": "Primary",
            "replicationHealth": "Normal", "failoverHealth": "Normal", "providerSpecificDetails": {"instanceType": kind}, **props}}

    return {
        "subscriptions": [SUB],
        "resourceGroups": [{"id": f"{P}/resourceGroups/rg-dr", "name": "rg-dr", "location": "westeurope"}],
        "vaults": [vault(VAULT), vault(EMPTY)],
        "replicationProtectedItems": [item(ITEM_VMW, "InMageRcm"), item(ITEM_A2A, "A2A")],
        "recoveryPlans": [{"id": f"{VAULT}/replicationRecoveryPlans/erp", "name": "erp", "properties": {
            "friendlyName": "erp", "groups": [{"groupType": "Boot", "replicationProtectedItems": [{"id": ITEM_VMW}, {"id": ITEM_A2A}]}]}}],
        "replicationFabrics": [{"id": f"{VAULT}/replicationFabrics/vcenter", "name": "vcenter", "properties": {
            "friendlyName": "vcenter", "customDetails": {"instanceType": "InMageRcm", "processServers": [
                {"name": "ps01", "lastHeartbeatUtc": "@now-2h"}]}}}],
        "containerMappings": [{"id": f"{VAULT}/replicationFabrics/azure-weu/replicationProtectionContainers/weu-container"
                                      "/replicationProtectionContainerMappings/weu-neu", "name": "weu-neu", "properties": {
            "state": "Paired", "providerSpecificDetails": {"instanceType": "A2A", "agentAutoUpdateStatus": "Disabled"}}}],
        "recoveryPoints": [{"id": f"{ITEM_VMW}/recoveryPoints/rp{i}", "name": f"rp{i}",
                            "properties": {"recoveryPointTime": f"@now-{i}h", "recoveryPointType": "CrashConsistent"}}
                           for i in (1, 2, 3)],
    }


def _collect(scenario, faults=()):
    with FaultySimulator(scenario, faults=list(faults), page_size=2) as sim:
        factory = ClientFactory(StaticTokenCredential("t"), ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, retry_total=0))
        inv = collect(factory, [SUB], CollectOptions(workers=2))
        paths = [e.path.lower() for e in sim.ledger if "skiptoken" not in e.query.lower()]  # first pages: one per list
        assert sim.writes() == []
    return inv, paths


def test_collectors_read_plans_fabrics_mappings_and_recovery_points_through_the_sdk():
    inv, paths = _collect(_scenario())
    cov = {c.collector: c for c in inv.coverage}
    for c in (m.RECOVERY_PLANS, m.REPLICATION_FABRICS, m.CONTAINER_MAPPINGS, m.ASR_RECOVERY_POINTS):
        assert cov[c].status == m.OK, cov[c]
    [plan] = inv.recovery_plans
    assert set(plan.item_ids) == {ids.norm(ITEM_VMW), ids.norm(ITEM_A2A)}
    [fabric] = inv.replication_fabrics
    assert [(s.role, s.name) for s in fabric.servers] == [("process-server", "ps01")]
    [mapping] = inv.container_mappings
    assert mapping.agent_auto_update == "Disabled"
    assert mapping.source_container_id == ids.norm(ITEM_A2A.split("/replicationProtectedItems/")[0])
    items = {i.name: i for i in inv.replication_items}
    assert (items["vmw-01"].recovery_point_count, items["vmw-01"].has_recovery_point) == (3, True)
    assert items["a2a-01"].recovery_point_count == 0 and items["a2a-01"].has_recovery_point is False  # in the plan, no signal
    vault = inv.vault_by_id[ids.norm(VAULT)]
    assert vault.job_failure_alerts == "Disabled"
    # The empty vault costs no Site Recovery list beyond its items and jobs; the full one exactly one each.
    empty = ids.norm(EMPTY)
    assert not [p for p in paths if p.startswith(empty) and ("recoveryplans" in p or "fabrics" in p or "mappings" in p)]
    assert sum(p.endswith("/recoverypoints") for p in paths) == 2  # one list per item that needed it


def test_a_failed_recovery_point_get_is_partial_for_that_item_only():
    inv, _ = _collect(_scenario(), [Fault.authorization_failed(r"vmw-01/recoveryPoints$")])
    cov = inv.coverage_index[(SUB, m.ASR_RECOVERY_POINTS)]
    assert (cov.status, cov.failed_scopes) == (m.PARTIAL, (ids.norm(ITEM_VMW),))
    items = {i.name: i for i in inv.replication_items}
    assert items["vmw-01"].recovery_point_error == "AuthorizationFailed" and items["vmw-01"].has_recovery_point is None
    assert items["a2a-01"].recovery_point_count == 0


def test_forbidden_plan_list_is_partial_for_the_vault_and_rules_say_not_assessed():
    from scanner.engine import evaluate
    inv, _ = _collect(_scenario(), [Fault.authorization_failed(r"/replicationRecoveryPlans$")])
    cov = inv.coverage_index[(SUB, m.RECOVERY_PLANS)]
    assert (cov.status, cov.failed_scopes) == (m.PARTIAL, (ids.norm(VAULT),))
    [finding] = evaluate(inv, only=["BCDR914"]).findings
    assert (finding.status, finding.resource_id.lower()) == ("NOT_ASSESSED", ids.norm(VAULT))


def test_malformed_fabric_never_breaks_the_collection():
    scenario = _scenario()
    bad = copy.deepcopy(scenario["replicationFabrics"][0])
    bad["id"], bad["name"] = f"{VAULT}/replicationFabrics/bad", "bad"
    bad["properties"]["customDetails"] = {"instanceType": "VMware", "processServers": "not-a-list", "lastHeartbeat": 17}
    scenario["replicationFabrics"].append(bad)
    inv, _ = _collect(scenario)
    # A list where a string belongs, a number where a time belongs: read as "not reported", never a crash.
    assert {f.name for f in inv.replication_fabrics} == {"vcenter", "bad"}
    bad_fabric = next(f for f in inv.replication_fabrics if f.name == "bad")
    assert [(s.role, s.last_heartbeat) for s in bad_fabric.servers] == [("configuration-server", None)]
