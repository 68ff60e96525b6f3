"""The scanner on responses recorded from live Azure (../shared/real-responses, issue 7).

Every body there goes through the real stack: the loopback simulator serves it verbatim over TLS,
the real SDK clients read it, the real collectors map it, the real rules judge the Inventory. The
tests assert what the inventory and the rules make of each body: the right findings, no false ones,
and no field a body carries and a rule needs left empty.

Two replays of routes.json (the recorded subscription):
- `as_recorded`: only the recorded routes. The recordings hold the children of one vault out of
  eight, so the other vaults' lists answer ARM's 404: per-vault coverage records and NOT_ASSESSED,
  and, with the protected-item list incomplete, instance views for every running VM (which is how
  iv_cctestvm.json is read).
- `filled`: the same, with empty lists for the children of the seven vaults nothing was recorded
  for (their GETs still answer 404), so every rule decides.
The probes (`probe_*.json`, bodies from other recordings) are each served as the only item of the
list they come from, under a vault list naming the vault in the item's own id.
"""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from recorded_arm import BODIES, Replay, empty_vault_children, get_route, list_route, real_body, real_routes, replay, strings, vault_stub
from shared_data import REST_EXAMPLES

from rules import knowledge
from scanner import ids
from scanner import inventory as m
from scanner.collectors.base import wire
from scanner.collectors.recovery import map_backup_job, vault_of

pytestmark = pytest.mark.shared

SUB, ROUTES = real_routes() if BODIES.is_dir() else ("", [])
NOW = "2023-12-21T06:00:00Z"  # twenty minutes after the last recorded response (05:39:55)
VAULT_ID = f"/subscriptions/{SUB}/resourcegroups/clitest.rg000001/providers/microsoft.recoveryservices/vaults/clitest-vault000002"
ASR_VAULT = f"/subscriptions/{SUB}/resourcegroups/cliteraformvaultrg/providers/microsoft.recoveryservices/vaults/cliterraformvault"
VM3 = f"/subscriptions/{SUB}/resourcegroups/clitest.rg000001/providers/microsoft.compute/virtualmachines/clitest-vm000003"
CLIVM2 = f"/subscriptions/{SUB}/resourcegroups/cliterraformvmrg/providers/microsoft.compute/virtualmachines/clivm2"
# The rules of rule-catalog.md; the exact-findings assertions leave later rules out (they may add findings).
FIRST_EDITION = frozenset(f"BCDR{n:03d}" for n in (
    1, 2, 3, 101, 102, 103, 201, 202, 203, 301, 302, 303, 401, 402, 403, 501, 502, 503, 504, 601, 602, 603,
    701, 702, 703, 704, 705, 801, 802, 803, 804, 901, 902, 903, 904, 905, 906))
OTHER_VAULTS = ("clitest-vault000003", "clitest-vault000004", "clitest-vault000005", "iaasvmsqlworkloadexistingcrrvault",
                "hiagaAlerts1", "tesy", "CliTerraformVault")


@pytest.fixture(scope="module")
def as_recorded():
    return replay(SUB, ROUTES, NOW)


@pytest.fixture(scope="module")
def filled():
    vaults = [v["id"] for v in real_body("vault_list.json")["value"]]
    return replay(SUB, ROUTES + empty_vault_children(ROUTES, vaults), NOW)


# --------------------------------------------------------------------------- every body is read
def test_every_recorded_route_is_requested_and_served(as_recorded):
    served = {(e.path.lower(), e.status) for e in as_recorded.served}
    for route in ROUTES:
        assert (route["path"], 200) in served, route["file"]
    queried = {e.query.lower() for e in as_recorded.served if e.path.lower().endswith("/virtualmachines")}
    assert any("statusonly=true" in q for q in queried)  # vm_status_only.json
    assert any("inprogress" in q for q in (e.query.lower() for e in as_recorded.served
                                             if e.path.lower().endswith("/backupjobs")))  # backup_jobs_inprogress.json


def test_unrecorded_vaults_are_not_assessed_vault_by_vault(as_recorded):
    """Only clitest-vault000002 (backup) and CliTerraformVault (Site Recovery) have recorded children."""
    inv = as_recorded.inventory
    for collector in (m.PROTECTED_ITEMS, m.BACKUP_POLICIES, m.BACKUP_JOBS):
        cov = as_recorded.coverage(collector)
        assert cov.status == m.PARTIAL and len(cov.failed_scopes) == 7 and VAULT_ID not in cov.failed_scopes
    for collector in (m.REPLICATION_ITEMS, m.REPLICATION_JOBS):
        cov = as_recorded.coverage(collector)
        assert cov.status == m.PARTIAL and len(cov.failed_scopes) == 7 and ASR_VAULT not in cov.failed_scopes
    # The protected-item list is incomplete: the instance views of all running VMs are read (one has none recorded).
    views = as_recorded.coverage(m.INSTANCE_VIEWS)
    assert (views.status, views.items, len(views.failed_scopes)) == (m.PARTIAL, 3, 1)
    assert inv.vm_by_id[f"/subscriptions/{SUB}/resourcegroups/test_vm/providers/microsoft.compute/virtualmachines/cctestvm"] \
        .instance_view.agent_version == "2.2.54.2"  # iv_cctestvm.json
    # Nothing is passed blind: every finding about an unrecorded vault is NOT_ASSESSED.
    for f in as_recorded.findings:
        if ids.name_of(f.resource_id) in OTHER_VAULTS[:-1]:
            assert f.status == "NOT_ASSESSED", f


# --------------------------------------------------------------------------- vault: list + GET
def test_vault_list_carries_no_settings_and_the_get_decides_bcdr001_to_003(filled):
    inv = filled.inventory
    assert len(inv.vaults) == 8
    vault = inv.vault_by_id[VAULT_ID]
    assert (vault.soft_delete_state, vault.storage_redundancy, vault.cross_region_restore, vault.immutability_state) == \
        ("Enabled", "GeoRedundant", "Disabled", m.IMMUTABILITY_NOT_CONFIGURED)
    assert (vault.multi_user_authorization, vault.job_failure_alerts) == ("Disabled", "Enabled")
    assert filled.results("BCDR001").get("clitest-vault000002") is None  # soft delete Enabled: PASS
    assert filled.finding("BCDR002", "clitest-vault000002").evidence["cross_region_restore"] == "Disabled"
    bcdr003 = filled.finding("BCDR003", "clitest-vault000002")
    assert bcdr003.status == "FAIL" and bcdr003.evidence["immutability_settings"] == "null (never configured)"
    # The seven vaults whose GET was not recorded (404): NOT_ASSESSED, each on its own.
    cov = filled.coverage(m.VAULT_SETTINGS)
    assert (cov.status, cov.items, len(cov.failed_scopes)) == (m.PARTIAL, 1, 7)
    for code in ("BCDR001", "BCDR002", "BCDR003"):
        assert {n: s for n, s in filled.results(code).items() if n != "clitest-vault000002"} == \
            {n: "NOT_ASSESSED" for n in OTHER_VAULTS}
        assert all("vault_settings partial" in filled.finding(code, n).evidence["reason"] for n in OTHER_VAULTS)


# --------------------------------------------------------------------------- Site Recovery
def test_protected_a2a_item_with_an_rpo_has_a_recovery_point(filled):
    [item] = filled.inventory.replication_items
    assert item.display_id.startswith("/Subscriptions/")
    assert item.vault_id == ASR_VAULT and ASR_VAULT in filled.inventory.vault_by_id  # /Subscriptions/ joins
    assert (item.instance_type, item.protection_state, item.rpo_seconds, item.has_recovery_point) == \
        ("A2A", "Protected", 393, True)  # monitoringJobType says InitialReplication: no signal
    assert item.source_vm_id == CLIVM2 and filled.inventory.is_replicated(CLIVM2)
    assert item.agent_update_required is False and item.replication_health == "Normal"
    assert [(e.code, e.message[:32]) for e in item.health_errors] == [("161011", "No successful test failover has ")]
    for code in ("BCDR901", "BCDR903", "BCDR905", "BCDR906"):
        assert filled.results(code) == {} and filled.evaluation.passed[code] == 1, code
    [job] = filled.inventory.replication_jobs
    assert job.vault_id == ASR_VAULT and job.state == "Succeeded"


@pytest.mark.parametrize("probe,has_rp,bcdr901", [
    ("probe_rpi_a2a_reprotected.json", True, None),  # Protected after failover + reprotect, RPO 114 s
    ("probe_rpi_a2a_selfcreated.json", True, None),  # Protected, RPO 95 s
    ("probe_rpi_a2a_waiting_first_rp.json", False, "FAIL"),  # 'Waiting for first recovery point', no RPO
])
def test_a2a_probes_recovery_point_from_provider_fields_never_from_monitoring_job_type(probe, has_rp, bcdr901):
    run = _probe(probe, "replicationProtectedItems", items=[real_body(probe)])
    [item] = run.inventory.replication_items
    assert item.has_recovery_point is has_rp
    assert run.results("BCDR901").get(item.name) == bcdr901
    # Only the probe is known (every other list unreadable): no other first-edition rule fails.
    assert {f.rule_id for f in run.findings if f.status == "FAIL" and f.rule_id in FIRST_EDITION} == \
        ({"BCDR901"} if bcdr901 else set())
    if bcdr901:
        assert run.finding("BCDR901", item.name).evidence["protection_state"] == "InitialReplicationRecoveryCompletionPending"


# --------------------------------------------------------------------------- Backup
def test_protected_item_policies_and_jobs(filled):
    inv = filled.inventory
    [item] = inv.protected_items
    assert (item.source_resource_id, item.protection_state, item.health_status, item.last_backup_status) == \
        (VM3, "Protected", "Passed", "Completed")
    assert item.last_backup_time == "2023-12-21T04:56:55.3271607Z"
    assert item.last_recovery_point_time == "2023-12-21T04:56:59.7056594Z"
    assert [(d.code, d.title) for d in item.health_details] == [("400239", "IaasVmHealthGreenDefault")]  # number and name
    assert inv.policy_by_id[item.policy_id].name == "DefaultPolicy"
    # Recorded without $filter: the replay applies backupManagementType as the service would.
    assert sorted((p.name, p.is_v2) for p in inv.backup_policies) == [
        ("DefaultPolicy", False), ("EnhancedPolicy", True), ("clitest-item000003", False), ("clitest-item000004", False)]
    jobs = {j.operation: j for j in inv.backup_jobs}
    assert set(jobs) == {"Restore", "Backup", "ConfigureBackup"} and jobs["Restore"].status == "InProgress"
    assert all(inv.vm_id_for_job(j) == VM3 for j in inv.backup_jobs)
    # No failed job, so no job GET; the vault GETs are the only per-vault GETs.
    assert filled.coverage(m.BACKUP_JOB_DETAILS).items == 0
    assert sum(1 for e in filled.served if e.path.lower().split("/providers/")[-1].count("/") == 2
               and "/vaults/" in e.path.lower()) == 8
    for code in ("BCDR701", "BCDR702", "BCDR703", "BCDR705", "BCDR802", "BCDR803", "BCDR804"):
        assert filled.results(code) == {}, code


@pytest.mark.parametrize("probe,expected", [
    ("probe_job_workload_failed.json", [("520512", "UserErrorIncompatibleSrcTargetSystemsForRestore")]),
    ("probe_job_storage_failed.json", [("1073871825", "")]),
])
def test_failed_job_probes_keep_number_and_name_and_evidence_shows_the_entry(probe, expected):
    """Workload and file-share jobs: the scanner lists AzureIaasVM jobs only, so the list leaves them
    out; read as the job GET the collector sends for a failed job, they map with both identifiers."""
    raw = real_body(probe)
    run = _probe(probe, "backupJobs", items=[raw], extra=[get_route(raw["id"], raw)])
    assert run.inventory.backup_jobs == ()  # backupManagementType eq 'AzureIaasVM'
    job = _job_get(run, raw)
    assert job.status == "Failed" and [(e.code, e.title) for e in job.errors] == expected
    [entry] = knowledge.evidence_for(e.identifiers for e in job.errors)
    if expected[0][1]:
        assert entry["code"] == "520512 UserErrorIncompatibleSrcTargetSystemsForRestore"
        assert entry["link"].startswith("https://learn.microsoft.com/") and entry["fix"]
    else:  # a number the service sent without a name: kept as it came
        assert entry == {"code": "1073871825", "meaning": knowledge.UNKNOWN, "fix": "", "link": ""}


def test_failed_backup_listed_without_error_details_is_fetched_and_explained(filled):
    """A failed Backup of clitest-vm000003 listed without errorDetails (as the recorded list items
    are): one job GET brings the errors, and BCDR703's evidence names the error and its entry. The
    list item is the recorded Backup job with status Failed; the GET adds the recorded errorDetails
    of probe_job_workload_failed.json."""
    recorded_jobs = real_body("backup_jobs.json")["value"]
    [backup] = [copy.deepcopy(j) for j in recorded_jobs if j["properties"]["operation"] == "Backup"]
    backup["properties"].update(status="Failed")
    detail = copy.deepcopy(backup)
    detail["properties"]["errorDetails"] = real_body("probe_job_workload_failed.json")["properties"]["errorDetails"]
    vaults = [v["id"] for v in real_body("vault_list.json")["value"]]
    routes = [r for r in ROUTES if not r["path"].endswith("/backupjobs")]
    routes += [list_route(f"{VAULT_ID}/backupJobs", [backup]), get_route(backup["id"], detail)]
    item = real_body("protected_items.json")
    item["value"][0]["properties"]["lastBackupStatus"] = "Failed"
    routes = [r for r in routes if not r["path"].endswith("/backupprotecteditems")] + \
        [list_route(f"{VAULT_ID}/backupProtectedItems", item["value"])]
    run = replay(SUB, routes + empty_vault_children(routes, vaults), NOW)
    assert run.coverage(m.BACKUP_JOB_DETAILS).items == 1
    [job] = run.inventory.backup_jobs
    assert [(e.code, e.title) for e in job.errors] == [("520512", "UserErrorIncompatibleSrcTargetSystemsForRestore")]
    finding = run.finding("BCDR703", "clitest-vm000003")
    [entry] = finding.evidence["error_codes"]
    assert entry["code"] == "520512 UserErrorIncompatibleSrcTargetSystemsForRestore" and entry["meaning"] != knowledge.UNKNOWN
    assert finding.evidence["failed_jobs"][0]["codes"] == ["520512 UserErrorIncompatibleSrcTargetSystemsForRestore"]


@pytest.mark.parametrize("probe", ["probe_item_irpending.json", "probe_item_softdeleted.json", "probe_item_kpis.json"])
def test_protected_item_probes(probe):
    run = _probe(probe, "backupProtectedItems")
    [item] = run.inventory.protected_items
    raw = real_body(probe)["value"][0]["properties"]
    assert item.source_resource_id == ids.norm(raw["sourceResourceId"]) and item.protection_state == raw["protectionState"]
    assert item.last_backup_status == raw["lastBackupStatus"]
    if raw["lastBackupTime"].startswith("2001-01-01"):
        assert item.last_backup_time is None  # the "never" sentinel
    else:
        assert item.last_backup_time == raw["lastBackupTime"]
    if "isScheduledForDeferredDelete" in raw:
        assert item.deferred_delete is True
    assert not [f for f in run.findings if f.status == "FAIL" and f.rule_id in FIRST_EDITION]


def test_never_sentinel_is_no_inventory_time(filled):
    runs = [filled] + [_probe(p, "backupProtectedItems") for p in ("probe_item_irpending.json", "probe_item_softdeleted.json")]
    for run in runs:
        assert not [s for s in strings(run.inventory.to_dict()) if s.startswith("2001-01-01")]


# --------------------------------------------------------------------------- compute, locks, groups
def test_vms_instance_views_and_extensions(filled):
    inv = filled.inventory
    assert {vm.name: vm.power_state for vm in inv.virtual_machines} == {
        "clitest-vm000003": "running", "CliVM2": "running", "c7n-test-vm": "running", "cctestvm": "running"}
    vm3, clivm2 = inv.vm_by_id[VM3], inv.vm_by_id[CLIVM2]
    assert vm3.instance_view.agent_version == "2.7.41491.1095" and vm3.instance_view.agent_statuses[0].display_status == "Ready"
    failed = [e for e in clivm2.instance_view.extensions if e.name == "joindomain"]
    assert [s.code for s in failed[0].statuses][:1] == ["ProvisioningState/failed/1"]
    # The VM model of CliVM2 (Site Recovery recording) has SiteRecovery-Windows in provisioningState Failed.
    assert {e.name: e.provisioning_state for e in clivm2.extensions}["SiteRecovery-Windows"] == "Failed"
    assert filled.finding("BCDR301", "CliVM2").status == "FAIL"
    assert filled.finding("BCDR303", "CliVM2").status == "FAIL"
    # Only running backed-up or replicated VMs get an instance view.
    assert filled.coverage(m.INSTANCE_VIEWS).items == 2
    assert inv.vm_by_id[f"/subscriptions/{SUB}/resourcegroups/test_vm/providers/microsoft.compute/virtualmachines/cctestvm"] \
        .instance_view is None


def test_disks_restore_points_locks_and_groups(filled):
    inv = filled.inventory
    assert len(inv.disks) == 5 and all(d.size_gb for d in inv.disks)
    [rpc] = inv.restore_point_collections
    expected = len(real_body("rpc_expand.json")["properties"]["restorePoints"])
    assert (rpc.source_id, rpc.restore_point_count) == (VM3, expected) and rpc.latest_restore_point_time
    assert len(inv.locks) == 58 and {lk.scope_kind for lk in inv.locks} >= {"resourceGroup"}
    assert len(inv.resource_groups) == 100


def test_findings_on_the_recorded_subscription_are_exactly_these(filled):
    """The first-edition rules' verdicts on the recorded bodies: the right findings and no false
    ones (new rules may add findings; they are left out here)."""
    got = sorted((f.rule_id, f.status, ids.name_of(f.resource_id)) for f in filled.findings if f.rule_id in FIRST_EDITION)
    expected = sorted(
        [("BCDR002", "FAIL", "clitest-vault000002"), ("BCDR003", "FAIL", "clitest-vault000002"),
         ("BCDR301", "FAIL", "CliVM2"), ("BCDR303", "FAIL", "CliVM2"),
         # backed up (a Backup job completed at 05:38) but its instance view, recorded at 04:56 before
         # protection, shows no VMSnapshot: too old to judge the extension (rule-catalog-v2 A, BCDR302)
         ("BCDR302", "NOT_ASSESSED", "clitest-vm000003"),
         # not backed up by any vault of the scanned subscription
         ("BCDR801", "FAIL", "CliVM2"), ("BCDR801", "FAIL", "c7n-test-vm"), ("BCDR801", "FAIL", "cctestvm")]
        + [(code, "NOT_ASSESSED", name) for code in ("BCDR001", "BCDR002", "BCDR003") for name in OTHER_VAULTS])
    assert got == expected


# --------------------------------------------------------------------------- probes of other shapes
@pytest.mark.parametrize("probe", ["probe_iv_agent_unknown.json", "probe_iv_ext_name_only.json"])
def test_instance_view_probes(probe):
    """A VM GET $expand=instanceView: served as the VM list item, its instanceView as the view and
    its statuses as the status-only list (as vm_status_only.json was derived)."""
    vm = real_body(probe)
    view = vm["properties"]["instanceView"]
    sub = ids.subscription_of(vm["id"])
    status = {"id": vm["id"], "name": vm["name"], "location": vm["location"], "type": vm["type"],
              "properties": {"provisioningState": vm["properties"]["provisioningState"],
                             "instanceView": {"statuses": view["statuses"]}}}
    unreadable = f"/subscriptions/{sub}/resourceGroups/rg-x/providers/Microsoft.RecoveryServices/vaults/unreadable"
    routes = [list_route(f"/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines", [vm]),
              list_route(f"/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines", [status], query="statusonly=true"),
              get_route(f"{vm['id']}/instanceView", view),
              # a vault whose items cannot be read (404): the scanner cannot tell which VMs are backed
              # up, so it reads the view of every running VM
              list_route(f"/subscriptions/{sub}/providers/Microsoft.RecoveryServices/vaults", [vault_stub(unreadable)])]
    run = replay(sub, routes, NOW)
    assert run.coverage(m.PROTECTED_ITEMS).status == m.PARTIAL
    [got] = run.inventory.virtual_machines
    assert got.power_state == "running" and got.instance_view is not None
    assert got.instance_view.agent_version == "Unknown"
    assert [(s.code, s.display_status) for s in got.instance_view.agent_statuses] == [("ProvisioningState/Unavailable", "Not Ready")]
    names = [e.name for e in got.instance_view.extensions]
    assert names == [e["name"] for e in view.get("extensions", [])]


def test_vault_list_of_another_subscription():
    raw = real_body("probe_vault_list_c7n.json")
    sub = ids.subscription_of(raw["value"][0]["id"])
    run = replay(sub, [list_route(f"/subscriptions/{sub}/providers/Microsoft.RecoveryServices/vaults", raw["value"])], NOW)
    [vault] = run.inventory.vaults
    assert vault.soft_delete_state is None and vault.immutability_state is None  # the list says nothing
    assert {f.rule_id: f.status for f in run.findings if f.rule_id in ("BCDR001", "BCDR002", "BCDR003")} == \
        {"BCDR001": "NOT_ASSESSED", "BCDR002": "NOT_ASSESSED", "BCDR003": "NOT_ASSESSED"}  # its GET was not recorded


def _job_get(run: Replay, raw: dict[str, Any]) -> m.BackupJob:
    """The job GET of the collector (scanner.collect._job_details), against the replay's server."""
    with run.server() as (factory, _sim):
        rid = raw["id"]
        return map_backup_job(wire(factory.backup(ids.subscription_of(rid)).job_details.get(
            ids.name_of(vault_of(rid)), ids.resource_group_of(rid), ids.name_of(rid))))


def _probe(name: str, child: str, items: list[dict[str, Any]] | None = None, extra: list[dict[str, Any]] = ()):
    """Serve a probe as the only content of its vault's `child` list (the vault's other lists empty);
    every other list of the subscription is unreadable (404), since the probe is all that is known."""
    items = items if items is not None else real_body(name)["value"]
    vault = vault_of(items[0]["id"])
    display = next(i["id"] for i in items)[: len(vault)]
    sub = ids.subscription_of(vault)
    routes = [list_route(f"/subscriptions/{sub}/providers/Microsoft.RecoveryServices/vaults", [vault_stub(display)]),
              list_route(f"{vault}/{child}", items), *extra]
    return replay(sub, routes + empty_vault_children(routes, [vault]), NOW, only_recorded=True)


# --------------------------------------------------------------------------- the official REST examples
# Every example of ../shared/azure-rest-examples that a collector reads, served the same way (each in
# the list the scanner requests; a GET example as the only item of its list, since list items have
# the GET's shape). Placeholder subscription ids ("{subscriptionId}", "subid") become one GUID so
# the SDK clients can address them; nothing else is changed.
EX_SUB = "00000000-0000-4000-8000-00000000e7e7"
_PLACEHOLDER_SUBS = ("{subscriptionId}", "{subscription-id}", "subscriptionId", "77777777-b0c6-47a2-b37c-d8e65a629c18",
                     "00000000-0000-0000-0000-000000000000", "c183865e-6077-46f2-a3b1-deb0f4f4650a")
SUB_LISTS = {"vms": "Microsoft.Compute/virtualMachines", "disks": "Microsoft.Compute/disks",
             "rpcs": "Microsoft.Compute/restorePointCollections", "locks": "Microsoft.Authorization/locks",
             "vaults": "Microsoft.RecoveryServices/vaults"}
COLLECTOR_OF = {"vms": m.VMS, "disks": m.DISKS, "rpcs": m.RESTORE_POINT_COLLECTIONS, "locks": m.LOCKS, "vaults": m.VAULTS,
                "backupProtectedItems": m.PROTECTED_ITEMS, "backupPolicies": m.BACKUP_POLICIES, "backupJobs": m.BACKUP_JOBS,
                "replicationProtectedItems": m.REPLICATION_ITEMS, "replicationJobs": m.REPLICATION_JOBS}
# file -> (list it is served in, Inventory attribute, items expected there)
REST_EXAMPLES_READ = {
    "compute/VirtualMachine_ListBySubscription_ByLocation.json": ("vms", "virtual_machines", 1),
    "compute/VirtualMachine_List_MinimumSet_Gen.json": ("vms", "virtual_machines", 1),
    "compute/VirtualMachine_Get_WithDeterministicProcessorMode.json": ("vms", "virtual_machines", 1),
    "compute/Disk_ListBySubscription.json": ("disks", "disks", 3),
    "compute/Disk_Get.json": ("disks", "disks", 1),
    "compute/RestorePointCollection_ListBySubscription.json": ("rpcs", "restore_point_collections", 2),
    "locks/ManagementLocks_ListAtSubscriptionLevel.json": ("locks", "locks", 1),
    "recoveryservices/ListBySubscriptionIds.json": ("vaults", "vaults", 3),
    "recoveryservicesbackup/BackupProtectedItems_List.json": ("backupProtectedItems", "protected_items", 1),
    "recoveryservicesbackup/Compute_ProtectedItem_Get.json": ("backupProtectedItems", "protected_items", 1),
    "recoveryservicesbackup/BackupPolicies_List.json": ("backupPolicies", "backup_policies", 2),
    "recoveryservicesbackup/v2-List-Policies.json": ("backupPolicies", "backup_policies", 3),
    "recoveryservicesbackup/ProtectionPolicies_Get.json": ("backupPolicies", "backup_policies", 1),
    "recoveryservicesbackup/v2-Get-Policy.json": ("backupPolicies", "backup_policies", 1),
    "recoveryservicesbackup/IaaS_v2_hourly.json": ("backupPolicies", "backup_policies", 1),
    "recoveryservicesbackup/ListJobsWithAllSupportedFilters.json": ("backupJobs", "backup_jobs", 1),
    "recoveryservicesbackup/GetJobDetails.json": ("backupJobs", "backup_jobs", 1),
    "siterecovery/ReplicationProtectedItems_List.json": ("replicationProtectedItems", "replication_items", 1),
    "siterecovery/ReplicationProtectedItems_Get.json": ("replicationProtectedItems", "replication_items", 1),
    "siterecovery/ReplicationProtectedItems_AddDisks.json": ("replicationProtectedItems", "replication_items", 1),
    "siterecovery/ReplicationProtectedItems_FailoverCancel.json": ("replicationProtectedItems", "replication_items", 1),
    "siterecovery/ReplicationJobs_List.json": ("replicationJobs", "replication_jobs", 3),
}


def _example(rel: str) -> dict[str, Any]:
    text = (REST_EXAMPLES / rel).read_text(encoding="utf-8")
    for placeholder in _PLACEHOLDER_SUBS:
        text = text.replace(f"/subscriptions/{placeholder}/", f"/subscriptions/{EX_SUB}/") \
                   .replace(f"/Subscriptions/{placeholder}/", f"/Subscriptions/{EX_SUB}/")
    return json.loads(text)


def _example_items(rel: str) -> list[dict[str, Any]]:
    data = _example(rel)
    responses = data["responses"]
    body = (responses.get("200") or responses.get("201"))["body"]
    return body["value"] if "value" in body else [body]


@pytest.mark.parametrize("rel", sorted(REST_EXAMPLES_READ))
def test_rest_example_through_the_collectors(rel):
    where, attribute, expected = REST_EXAMPLES_READ[rel]
    items = _example_items(rel)
    if where in SUB_LISTS:
        routes = [list_route(f"/subscriptions/{EX_SUB}/providers/{SUB_LISTS[where]}", items)]
        if where == "vaults":
            routes += empty_vault_children(routes, [i["id"] for i in items])
    else:
        vault = vault_of(items[0]["id"])
        display = items[0]["id"][: len(vault)]
        routes = [list_route(f"/subscriptions/{EX_SUB}/providers/Microsoft.RecoveryServices/vaults", [vault_stub(display)]),
                  list_route(f"{vault}/{where}", items)]
        routes += empty_vault_children(routes, [vault])
    run = replay(EX_SUB, routes, "2026-11-22T06:00:00Z")
    got = getattr(run.inventory, attribute)
    # (synthetic examples repeat one placeholder id: the Inventory keeps one item per id)
    assert sorted(x.id for x in got) == sorted({ids.norm(i["id"]) for i in items}) and len(got) == expected
    assert run.coverage(COLLECTOR_OF[where]).status == m.OK
    assert not run.evaluation.rule_errors


def test_rest_example_vault_get_decides_bcdr001_to_003():
    [vault_body] = _example_items("recoveryservices/GETVault.json")
    routes = [list_route(f"/subscriptions/{EX_SUB}/providers/Microsoft.RecoveryServices/vaults", [vault_stub(vault_body["id"])]),
              get_route(vault_body["id"], vault_body)]
    run = replay(EX_SUB, routes, "2026-11-22T06:00:00Z")
    [vault] = run.inventory.vaults
    assert (vault.soft_delete_state, vault.storage_redundancy, vault.cross_region_restore, vault.immutability_state) == \
        ("Enabled", "GeoRedundant", "Enabled", "Disabled")
    assert run.results("BCDR001") == {} and run.results("BCDR002") == {}  # soft delete on; GRS with CRR
    assert run.results("BCDR003") == {vault.name: "FAIL"}


def test_rest_example_instance_view_and_restore_points_through_the_collectors():
    """The two GET examples with no list of their own: the VM's instance view and a collection's
    $expand=restorePoints. The VM and the collection come from their request parameters; a vault
    whose items cannot be read makes the scanner fetch both (it cannot tell what is backed up)."""
    iv = _example("compute/VirtualMachine_Get_InstanceView.json")
    view = iv["responses"]["200"]["body"]
    vm_id = ids.vm_id(EX_SUB, iv["parameters"]["resourceGroupName"], iv["parameters"]["vmName"])
    vm = {"id": vm_id, "name": iv["parameters"]["vmName"], "location": "westus", "type": "Microsoft.Compute/virtualMachines",
          "properties": {"provisioningState": "Succeeded"}}
    status = {**vm, "properties": {"provisioningState": "Succeeded", "instanceView": {"statuses": view["statuses"]}}}
    [rpc] = _example_items("compute/RestorePointCollection_Get_WithContainedRestorePoints.json")
    listed = copy.deepcopy(rpc)
    listed["properties"].pop("restorePoints")
    unreadable = f"/subscriptions/{EX_SUB}/resourceGroups/rg-x/providers/Microsoft.RecoveryServices/vaults/unreadable"
    routes = [list_route(f"/subscriptions/{EX_SUB}/providers/Microsoft.Compute/virtualMachines", [vm]),
              list_route(f"/subscriptions/{EX_SUB}/providers/Microsoft.Compute/virtualMachines", [status], query="statusonly=true"),
              get_route(f"{vm_id}/instanceView", view),
              list_route(f"/subscriptions/{EX_SUB}/providers/Microsoft.Compute/restorePointCollections", [listed]),
              {**get_route(rpc["id"], rpc), "query": r"\$expand=restorepoints"},
              list_route(f"/subscriptions/{EX_SUB}/providers/Microsoft.RecoveryServices/vaults", [vault_stub(unreadable)])]
    run = replay(EX_SUB, routes, "2026-11-22T06:00:00Z")
    [got] = run.inventory.virtual_machines
    assert got.power_state == "running" and got.instance_view.agent_version == "2.7.41491.949"
    assert [e.name for e in got.instance_view.extensions] == ["IaaSAntiMalware-ext0"]
    [collection] = run.inventory.restore_point_collections
    assert collection.restore_point_count == len(rpc["properties"]["restorePoints"])
