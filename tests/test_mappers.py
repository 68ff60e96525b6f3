"""Every collector mapper over the OFFICIAL example responses (../shared/azure-rest-examples, taken
unchanged from Azure/azure-rest-api-specs), asserting the derived fields the rules rely on.

Also the two SDK traps the mappers exist to sidestep, shown with the real SDK models:
- azure-mgmt-recoveryservicesbackup 11.2.0 deserialises a `Microsoft.Compute/virtualMachines`
  protected item as the base `ProtectedItem` (design.md, "Platform facts"): its VM fields are not
  attributes, only wire() still has them;
- the locks SDK is msrest-generation (`serialize()`), the others typespec-generation (`as_dict()`):
  wire() must give the REST JSON for both.
And the secrets rule (design.md, "Safety"): extension `settings`/`protectedSettings` never reach the
Inventory.
"""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from shared_data import REST_EXAMPLES as EXAMPLES

from scanner import ids
from scanner import inventory as m
from scanner.collectors import compute as cmp
from scanner.collectors import recovery as rsv
from scanner.collectors import resources as res
from scanner.collectors.base import MalformedItem, wire

pytestmark = pytest.mark.shared


def body(rel: str, status: str = "200") -> Any:
    """The response body of one example file, loaded at test time."""
    return json.loads((EXAMPLES / rel).read_text(encoding="utf-8"))["responses"][status]["body"]


def items(rel: str) -> list[dict[str, Any]]:
    return body(rel)["value"]


# --------------------------------------------------------------------------- compute
def test_instance_view_agent_extensions_and_power_state():
    view = cmp.map_instance_view(body("compute/VirtualMachine_Get_InstanceView.json"))
    assert view.agent_present is True
    assert view.agent_version == "2.7.41491.949"
    assert [(s.code, s.display_status) for s in view.agent_statuses] == [("ProvisioningState/succeeded", "Ready")]
    # One extension entry, joined to its handler by type: no extra handler-only entry.
    [ext] = view.extensions
    assert ext.name == "IaaSAntiMalware-ext0"
    assert ext.type == "Microsoft.Azure.Security.IaaSAntimalware"
    assert ext.publisher == "Microsoft.Azure.Security"
    assert ext.type_handler_version == "1.5.5.9"
    assert [s.code for s in ext.statuses] == ["ProvisioningState/succeeded"]
    assert ext.statuses[0].message == "Microsoft Antimalware enabled"
    assert ext.handler_status is not None and ext.handler_status.display_status == "Ready"
    codes = [s.code for s in view.statuses]
    assert codes == ["ProvisioningState/succeeded", "PowerState/running"]
    assert cmp.parse_status_codes(codes) == ("running", "succeeded", "")


def test_instance_view_without_agent_and_handler_only_extension():
    raw = body("compute/VirtualMachine_Get_InstanceView.json")
    handler_only = copy.deepcopy(raw)
    handler_only["extensions"] = []  # the agent reports a handler the VM model has no status for yet
    [ext] = cmp.map_instance_view(handler_only).extensions
    assert (ext.name, ext.type) == ("", "Microsoft.Azure.Security.IaaSAntimalware")
    assert ext.handler_status.code == "ProvisioningState/succeeded"

    no_agent = copy.deepcopy(raw)
    del no_agent["vmAgent"]  # a VM whose guest agent never reported
    view = cmp.map_instance_view(no_agent)
    assert view.agent_present is False
    assert view.agent_version is None and view.agent_statuses == ()
    assert view.extensions[0].handler_status is None


def test_instance_view_that_is_not_an_object_is_malformed():
    with pytest.raises(MalformedItem):
        cmp.map_instance_view([body("compute/VirtualMachine_Get_InstanceView.json")])


def test_vm_list_item_by_location():
    raw = items("compute/VirtualMachine_ListBySubscription_ByLocation.json")[0]
    vm = cmp.map_vm(raw)
    assert vm.id == ids.norm(raw["id"]) and vm.display_id == raw["id"]
    assert vm.name == "{virtualMachineName}"
    assert vm.subscription_id == "{subscriptionid}"
    assert vm.resource_group == "{resourceGroupName}"
    assert vm.location == "eastus"
    assert vm.vm_id == "{vmId}"
    assert vm.os_type == "Windows"
    assert vm.provisioning_state == "Succeeded"
    assert vm.provision_vm_agent is True
    assert vm.tags == {"RG": "rg", "testTag": "1"}
    # The example's OS disk is an unmanaged VHD: no managed disk id, size kept.
    [os_disk] = vm.disks
    assert (os_disk.name, os_disk.is_os_disk, os_disk.lun, os_disk.size_gb, os_disk.managed_disk_id) == \
        ("test", True, None, 127, "")
    # A list returns no instance view, so nothing about power or agent is known yet.
    assert vm.power_state is None and vm.instance_view is None and vm.extensions == ()


def test_vm_minimum_list_item_gets_name_from_id():
    raw = items("compute/VirtualMachine_List_MinimumSet_Gen.json")[0]
    vm = cmp.map_vm(raw)
    assert vm.name == "{virtualMachineName}"
    assert vm.resource_group == "rgcompute"
    assert vm.location == "eastus"
    assert vm.os_type == "" and vm.provision_vm_agent is None and vm.disks == ()


def _status_only_item() -> dict[str, Any]:
    """A statusOnly=true list item. No spec example exists (README of the examples): this one has the
    shape the README describes, with the statuses of the official instance-view example."""
    vm = items("compute/VirtualMachine_ListBySubscription_ByLocation.json")[0]
    view = body("compute/VirtualMachine_Get_InstanceView.json")
    return {"id": vm["id"], "name": vm["name"], "location": vm["location"], "type": vm["type"],
            "properties": {"provisioningState": "Succeeded", "vmId": "{vmId}",
                           "instanceView": {"platformFaultDomain": 1, "statuses": view["statuses"]}}}


def test_vm_status_item_and_with_status():
    raw = _status_only_item()
    vid, codes, minimal = cmp.map_vm_status(raw)
    assert vid == ids.norm(raw["id"])
    assert codes == ("ProvisioningState/succeeded", "PowerState/running")
    vm = cmp.with_status(cmp.map_vm(minimal), codes)
    assert (vm.power_state, vm.provisioning_status, vm.provisioning_error) == ("running", "succeeded", "")
    assert vm.status_codes == codes


def test_failed_provisioning_status_keeps_error_code():
    assert cmp.parse_status_codes(["ProvisioningState/failed/InternalOperationError", "PowerState/deallocated"]) == \
        ("deallocated", "failed", "InternalOperationError")


def test_disks_from_subscription_list_ade_flags_and_sizes():
    disks = [cmp.map_disk(x) for x in items("compute/Disk_ListBySubscription.json")]
    got = {d.name: (d.size_gb, d.ade_enabled, d.ade_has_bek, d.ade_has_kek, d.sse_type) for d in disks}
    assert got == {
        "myManagedDisk1": (200, True, True, True, "EncryptionAtRestWithPlatformKey"),
        "myManagedDisk2": (10, False, False, False, "EncryptionAtRestWithPlatformKey"),
        "myManagedDisk3": (200, True, True, True, "EncryptionAtRestWithPlatformKey"),
    }
    assert {d.location for d in disks} == {"westus"}
    assert {d.resource_group for d in disks} == {"myResourceGroup"}
    assert all(d.managed_by == "" for d in disks)  # the list example carries no managedBy


def test_disk_get_managed_by_is_normalised_vm_id():
    raw = body("compute/Disk_Get.json")
    d = cmp.map_disk(raw)
    assert d.managed_by == ids.norm(raw["managedBy"])
    assert d.managed_by.endswith("/virtualmachines/testvm414689371c88843d65ec")
    assert (d.size_gb, d.ade_enabled, d.ade_has_bek, d.ade_has_kek) == (10, True, True, True)


def test_disk_ade_bek_only_and_disabled_collection():
    raw = body("compute/Disk_Get.json")
    bek_only = copy.deepcopy(raw)
    del bek_only["properties"]["encryptionSettingsCollection"]["encryptionSettings"][0]["keyEncryptionKey"]
    d = cmp.map_disk(bek_only)
    assert (d.ade_enabled, d.ade_has_bek, d.ade_has_kek) == (True, True, False)

    disabled = copy.deepcopy(raw)
    disabled["properties"]["encryptionSettingsCollection"]["enabled"] = False
    d = cmp.map_disk(disabled)
    assert (d.ade_enabled, d.ade_has_bek, d.ade_has_kek) == (False, False, False)


def test_restore_point_collection_get_with_points_is_counted():
    raw = body("compute/RestorePointCollection_Get_WithContainedRestorePoints.json")
    rpc = cmp.map_restore_point_collection(raw)
    assert rpc.restore_point_count == 1
    assert rpc.latest_restore_point_time == "2021-01-27T20:35:05.8401519+00:00"
    assert rpc.source_id == ids.norm(raw["properties"]["source"]["id"])
    assert rpc.source_display_id.endswith("/virtualMachines/myVM")
    assert (rpc.name, rpc.resource_group, rpc.location) == ("rpcName", "myResourceGroup", "westus")


def test_restore_point_collection_list_items_are_not_counted():
    rpcs = [cmp.map_restore_point_collection(x) for x in items("compute/RestorePointCollection_ListBySubscription.json")]
    # List items carry no restorePoints: the count is unknown (None), never 0.
    assert [(r.name, r.restore_point_count, r.latest_restore_point_time) for r in rpcs] == [
        ("restorePointCollection1", None, None), ("restorePointCollection2", None, None)]
    assert [ids.name_of(r.source_id) for r in rpcs] == ["vm_test", "vm_prod"]


def test_restore_point_latest_time_compares_instants_not_strings():
    raw = body("compute/RestorePointCollection_Get_WithContainedRestorePoints.json")
    point = raw["properties"]["restorePoints"][0]
    later = copy.deepcopy(point)
    later["properties"]["timeCreated"] = "2021-01-27T21:00:00Z"
    # Sorts after 21:00Z as a string, but is 2021-01-27T19:30Z: earlier.
    earlier = copy.deepcopy(point)
    earlier["properties"]["timeCreated"] = "2021-01-28T01:00:00+05:30"
    raw["properties"]["restorePoints"] = [later, point, earlier]
    rpc = cmp.map_restore_point_collection(raw)
    assert rpc.restore_point_count == 3
    assert rpc.latest_restore_point_time == "2021-01-27T21:00:00Z"


# --------------------------------------------------------------------------- resources
def test_subscription_level_lock_list_returns_resource_group_scoped_lock():
    [raw] = items("locks/ManagementLocks_ListAtSubscriptionLevel.json")
    lock = res.map_lock(raw)
    assert lock.scope == "/subscriptions/subscriptionid/resourcegroups/resourcegroupname"
    assert lock.scope_kind == "resourceGroup"
    assert lock.level == "ReadOnly"
    assert (lock.name, lock.subscription_id) == ("testlock", "subscriptionid")
    assert lock.id == ids.norm(raw["id"])


@pytest.mark.parametrize("scope,kind", [
    ("/subscriptions/subscriptionId", "subscription"),
    ("/subscriptions/subscriptionId/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1", "resource"),
    ("/subscriptions/subscriptionId/resourceGroups/rg1", "resourceGroup"),
])
def test_lock_scope_kind_at_every_level(scope, kind):
    [raw] = items("locks/ManagementLocks_ListAtResourceGroupLevel.json")
    raw["id"] = f"{scope}/providers/Microsoft.Authorization/locks/testlock"
    lock = res.map_lock(raw)
    assert (lock.scope, lock.scope_kind) == (ids.norm(scope), kind)


def test_lock_id_without_lock_segment_is_rejected():
    [raw] = items("locks/ManagementLocks_ListAtSubscriptionLevel.json")
    raw["id"] = "/subscriptions/subscriptionId/resourceGroups/resourcegroupname"
    with pytest.raises(ValueError):
        res.map_lock(raw)


def test_resource_group():
    # No resource-group example is in ../shared; this has the documented ResourceGroups_List item shape.
    raw = {"id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/AzureBackupRG_westeurope_1",
           "name": "AzureBackupRG_westeurope_1", "type": "Microsoft.Resources/resourceGroups", "location": "WestEurope",
           "properties": {"provisioningState": "Succeeded"}}
    rg = res.map_resource_group(raw)
    assert rg.id == ids.norm(raw["id"])
    assert (rg.name, rg.subscription_id, rg.location) == \
        ("AzureBackupRG_westeurope_1", "00000000-0000-0000-0000-000000000000", "westeurope")


# --------------------------------------------------------------------------- vaults and backup
def test_vaults_by_subscription():
    vaults = [rsv.map_vault(x) for x in items("recoveryservices/ListBySubscriptionIds.json")]
    assert [(v.name, v.resource_group, v.sku, v.location) for v in vaults] == [
        ("patchtest", "Default-RecoveryServices-ResourceGroup", "Standard", "westus"),
        ("swaggerExample", "HelloWorld", "Standard", "westus"),
        ("today1", "HelloWorld", "Standard", "westus"),
    ]
    assert {v.subscription_id for v in vaults} == {"77777777-b0c6-47a2-b37c-d8e65a629c18"}
    assert vaults[0].tags == {"Love": "India"}
    # The example carries no security/redundancy settings: unknown (None), not "Disabled".
    assert all(v.soft_delete_state is None and v.storage_redundancy is None and v.cross_region_restore is None
               and v.immutability_state is None for v in vaults)


def test_vault_security_and_redundancy_settings():
    raw = items("recoveryservices/ListBySubscriptionIds.json")[0]
    raw["properties"].update({
        "securitySettings": {"softDeleteSettings": {"softDeleteState": "AlwaysON"},
                             "immutabilitySettings": {"state": "Locked"}},
        "redundancySettings": {"standardTierStorageRedundancy": "GeoRedundant", "crossRegionRestore": "Enabled"}})
    v = rsv.map_vault(raw)
    assert (v.soft_delete_state, v.immutability_state, v.storage_redundancy, v.cross_region_restore) == \
        ("AlwaysON", "Locked", "GeoRedundant", "Enabled")


def test_vault_get_carries_the_settings():
    v = rsv.map_vault(body("recoveryservices/GETVault.json"))
    assert (v.soft_delete_state, v.immutability_state, v.storage_redundancy, v.cross_region_restore) == \
        ("Enabled", "Disabled", "GeoRedundant", "Enabled")
    assert (v.multi_user_authorization, v.job_failure_alerts) == ("Disabled", "Enabled")


@pytest.mark.parametrize("security,expected", [
    ({"immutabilitySettings": None}, m.IMMUTABILITY_NOT_CONFIGURED),  # the real GET of a never-configured vault
    ({"softDeleteSettings": {"softDeleteState": "Enabled"}}, m.IMMUTABILITY_NOT_CONFIGURED),
    ({"immutabilitySettings": {}}, None),  # configured, state not reported: unknown
    ({"immutabilitySettings": "Locked"}, None),  # not the API's shape: unknown
    (None, None),  # no securitySettings at all: nothing known
])
def test_vault_immutability_never_configured_versus_unknown(security, expected):
    raw = body("recoveryservices/GETVault.json")
    raw["properties"]["securitySettings"] = security
    assert rsv.map_vault(raw).immutability_state == expected


def test_compute_protected_item():
    raw = body("recoveryservicesbackup/Compute_ProtectedItem_Get.json")
    item = rsv.map_protected_item(raw)
    props = raw["properties"]
    assert item.source_resource_id == ids.norm(props["sourceResourceId"])
    assert item.source_display_id == props["sourceResourceId"]
    assert item.vault_id == ("/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/pythonsdkbackuptestrg"
                             "/providers/microsoft.recoveryservices/vaults/pysdkbackuptestrsvault")
    assert item.container_name == "iaasvmcontainerv2;iaasvm-rg;iaasvm-1"
    assert item.policy_type == "V2"
    assert item.policy_id == ids.norm(props["policyId"]) and item.policy_name == "testPolicy1"
    assert (item.protection_state, item.protection_status, item.health_status) == ("Protected", "Healthy", "Passed")
    assert item.is_backed_up
    assert (item.last_backup_status, item.last_backup_time) == ("Completed", "2018-01-22T12:25:32.048723Z")
    # lastRecoveryPoint is the last *successful* backup (BCDR705 reads it; inventory.py).
    assert item.last_recovery_point_time == "2017-11-22T12:25:32.048723Z"
    assert (item.protected_item_type, item.workload_type, item.friendly_name) == \
        ("Microsoft.Compute/virtualMachines", "VM", "iaasvm-1")


def test_protected_item_list_classic_item_and_source_fallback():
    [raw] = items("recoveryservicesbackup/BackupProtectedItems_List.json")
    item = rsv.map_protected_item(raw)
    assert item.protected_item_type == "Microsoft.ClassicCompute/virtualMachines"
    assert item.vault_id.endswith("/vaults/netsdktestrsvault")
    assert item.subscription_id == "00000000-0000-0000-0000-000000000000"
    del raw["properties"]["sourceResourceId"]  # older items name the VM only in virtualMachineId
    assert rsv.map_protected_item(raw).source_resource_id == ids.norm(raw["properties"]["virtualMachineId"])


def test_policy_v1_v2_detection_in_mixed_list():
    policies = {p.name: p for p in (rsv.map_policy(x) for x in items("recoveryservicesbackup/v2-List-Policies.json"))}
    # The V2 item carries no policyType: only its SimpleSchedulePolicyV2 schedule says Enhanced.
    v2_raw = items("recoveryservicesbackup/v2-List-Policies.json")[2]
    assert "policyType" not in v2_raw["properties"]
    assert {n: p.is_v2 for n, p in policies.items()} == {"DefaultPolicy": False, "testPolicy1": False,
                                                          "v2-daily-policy": True}
    assert policies["v2-daily-policy"].schedule_policy_type == "SimpleSchedulePolicyV2"
    assert {p.schedule_run_frequency for p in policies.values()} == {"Daily"}
    assert {p.vault_id for p in policies.values()} == {
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/swaggertestrg"
        "/providers/microsoft.recoveryservices/vaults/netsdktestrsvault"}


def test_standard_policy_list_and_get():
    listed = [rsv.map_policy(x) for x in items("recoveryservicesbackup/BackupPolicies_List.json")]
    assert [(p.name, p.is_v2, p.schedule_policy_type) for p in listed] == [
        ("DefaultPolicy", False, "SimpleSchedulePolicy"), ("testPolicy1", False, "SimpleSchedulePolicy")]
    got = rsv.map_policy(body("recoveryservicesbackup/ProtectionPolicies_Get.json"))
    assert (got.is_v2, got.schedule_run_frequency, got.hourly_interval, got.instant_rp_retention_days) == \
        (False, "Daily", None, None)


def test_enhanced_daily_policy_get():
    p = rsv.map_policy(body("recoveryservicesbackup/v2-Get-Policy.json"))
    assert (p.is_v2, p.schedule_run_frequency, p.instant_rp_retention_days) == (True, "Daily", 30)


def test_enhanced_hourly_policy_interval_and_window():
    p = rsv.map_policy(body("recoveryservicesbackup/IaaS_v2_hourly.json"))
    assert (p.is_v2, p.schedule_run_frequency, p.backup_management_type) == (True, "Hourly", "AzureIaasVM")
    assert p.hourly_interval == 4
    # Without the window, BCDR705 cannot tell the overnight gap from a missed backup (rules/jobs.py).
    assert p.schedule_window_hours == 16
    assert p.instant_rp_retention_days == 30


def test_backup_jobs_list_and_detail():
    [listed] = [rsv.map_backup_job(x) for x in items("recoveryservicesbackup/ListJobsWithAllSupportedFilters.json")]
    detail = rsv.map_backup_job(body("recoveryservicesbackup/GetJobDetails.json"))
    for job in (listed, detail):
        assert (job.operation, job.status, job.entity_friendly_name, job.backup_management_type) == \
            ("Backup", "InProgress", "testvm", "AzureIaasVM")
        assert job.start_time == "2017-08-03T05:31:07.014604Z" and job.end_time is None
        assert job.vault_id.endswith("/vaults/netsdktestrsvault")
        assert job.errors == () and job.container_name == ""
    assert listed.subscription_id == "00000000-0000-0000-0000-000000000000"


def test_mapping_a_job_leaves_the_rules_time_cache_alone():
    # Collect reads each time once; real jobs' times are nearly all distinct (timeutil.parse_once).
    from scanner import timeutil
    timeutil.forget()
    raw = body("recoveryservicesbackup/GetJobDetails.json")
    raw["properties"].update(status="Completed", endTime="2017-08-03T06:00:00.1234567Z")
    job = rsv.map_backup_job(raw)
    assert (job.start_time, job.end_time) == ("2017-08-03T05:31:07.014604Z", "2017-08-03T06:00:00.1234567Z")
    assert timeutil._parse.cache_info().currsize == 0
    raw["properties"]["endTime"] = "0001-01-01T00:00:00Z"  # the "never" sentinel is still read as none
    assert rsv.map_backup_job(raw).end_time is None
    assert timeutil.parse_once("2017-08-03T06:00:00.1234567Z") == timeutil.parse("2017-08-03T06:00:00.1234567Z")


def test_backup_job_error_details():
    raw = body("recoveryservicesbackup/GetJobDetails.json")
    raw["properties"].update(status="Failed", endTime="2017-08-03T06:00:00Z", errorDetails=[
        {"errorCode": "UserErrorGuestAgentStatusUnavailable", "errorString": "VM Agent unable to communicate",
         "recommendations": ["Ensure the VM agent is running", 7]}])
    job = rsv.map_backup_job(raw)
    [err] = job.errors
    assert err.code == "UserErrorGuestAgentStatusUnavailable" and err.title == ""
    assert err.identifiers == ("UserErrorGuestAgentStatusUnavailable",)
    assert err.recommendations == ("Ensure the VM agent is running",)


@pytest.mark.parametrize("sent,code,title", [
    ({"errorCode": 520512, "errorTitle": "UserErrorIncompatibleSrcTargetSystemsForRestore"},
     "520512", "UserErrorIncompatibleSrcTargetSystemsForRestore"),  # what the service sends today
    ({"errorCode": 1073871825}, "1073871825", ""),  # a number without a name
    ({"errorTitle": "UserErrorVmNotInDesirableState"}, "UserErrorVmNotInDesirableState", ""),
    ({"errorCode": True, "errorTitle": "X"}, "X", ""),  # not a code: the name stands alone
])
def test_backup_job_error_keeps_number_and_name(sent, code, title):
    raw = body("recoveryservicesbackup/GetJobDetails.json")
    raw["properties"].update(status="Failed", errorDetails=[sent])
    [err] = rsv.map_backup_job(raw).errors
    assert (err.code, err.title) == (code, title)
    assert err.identifiers == tuple(x for x in (code, title) if x)


@pytest.mark.parametrize("value,expected", [
    ("2001-01-01T00:00:00Z", None),  # Backup's "never backed up"
    ("1601-01-01T00:00:00.0000000Z", None), ("1753-01-01T01:01:01Z", None),  # Site Recovery's
    ("2009-12-31T23:59:59Z", None),
    ("2010-01-01T00:00:00Z", "2010-01-01T00:00:00Z"),
    ("2023-12-21T04:56:55.3271607Z", "2023-12-21T04:56:55.3271607Z"),
    ("not a time", "not a time"), ("", None), (None, None), (20010101, None),
])
def test_never_sentinel_times_are_none(value, expected):
    from scanner.collectors.base import time_or_none
    assert time_or_none(value) == expected
    raw = body("recoveryservicesbackup/Compute_ProtectedItem_Get.json")
    raw["properties"].update(lastBackupTime=value, lastRecoveryPoint=value)
    item = rsv.map_protected_item(raw)
    assert item.last_backup_time == expected and item.last_recovery_point_time == expected


# --------------------------------------------------------------------------- site recovery
def test_replication_protected_items():
    [raw] = items("siterecovery/ReplicationProtectedItems_List.json")
    item = rsv.map_replication_item(raw)
    assert item.id == ids.norm(raw["id"])
    assert item.vault_id == ("/subscriptions/c183865e-6077-46f2-a3b1-deb0f4f4650a/resourcegroups/resourcegroupps1"
                             "/providers/microsoft.recoveryservices/vaults/vault1")
    assert (item.instance_type, item.friendly_name, item.protection_state, item.replication_health,
            item.active_location) == ("HyperVReplicaAzure", "vm1", "Protected", "Normal", "Primary")
    assert item.allowed_operations == ("PlannedFailover", "UnplannedFailover", "DisableProtection", "TestFailover")
    # A Hyper-V item names no Azure VM yet and reports no recovery point: unknown, not "none".
    assert (item.source_vm_id, item.recovery_vm_id, item.has_recovery_point, item.rpo_seconds) == ("", "", None, None)


def test_replication_a2a_item_joins_source_and_recovery_vms():
    [raw] = items("siterecovery/ReplicationProtectedItems_List.json")
    src = "/subscriptions/c183865e-6077-46f2-a3b1-deb0f4f4650a/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm1"
    raw["properties"]["providerSpecificDetails"] = {
        "instanceType": "A2A", "fabricObjectId": src, "rpoInSeconds": 42,
        "recoveryAzureResourceGroupId": "/subscriptions/c183865e-6077-46f2-a3b1-deb0f4f4650a/resourceGroups/rg-app-asr",
        "recoveryAzureVMName": "vm1", "lastRpoCalculatedTime": "2026-11-22T05:00:00Z",
        "lastRecoveryPointReceived": "2026-11-22T05:59:00Z"}
    item = rsv.map_replication_item(raw)
    assert item.source_vm_id == ids.norm(src)
    assert item.recovery_vm_id == ids.norm(src.replace("/rg-app/", "/rg-app-asr/"))
    assert (item.rpo_seconds, item.has_recovery_point, item.last_recovery_point_time) == (42, True, "2026-11-22T05:59:00Z")


def test_replication_jobs():
    jobs = [rsv.map_replication_job(x) for x in items("siterecovery/ReplicationJobs_List.json")]
    assert [(j.scenario_name, j.state, j.target_instance_type) for j in jobs] == [
        ("AddProtectionProfile", "Succeeded", "ProtectionProfile"), ("RegisterDra", "Succeeded", "Server"),
        ("CreateSite", "Succeeded", "Server")]
    assert jobs[0].start_time == "2017-04-27T12:46:04.641851Z" and jobs[0].end_time == "2017-04-27T12:46:11Z"
    assert {j.vault_id for j in jobs} == {rsv.vault_of(items("siterecovery/ReplicationJobs_List.json")[0]["id"])}
    assert all(j.errors == () for j in jobs)


def test_replication_job_errors_from_provider_and_service():
    raw = items("siterecovery/ReplicationJobs_List.json")[0]
    raw["properties"]["state"] = "Failed"
    raw["properties"]["errors"] = [
        {"providerErrorDetails": {"errorCode": 150097, "errorMessage": "Mobility service stopped",
                                  "recommendedAction": "Restart the service"}},
        {"serviceErrorDetails": {"code": "539", "message": "Timed out", "recommendedAction": ""}}]
    job = rsv.map_replication_job(raw)
    assert [(e.code, e.recommendations) for e in job.errors] == [("150097", ("Restart the service",)), ("539", ())]


# --------------------------------------------------------------------------- SDK generations and wire()
def test_sdk_deserialises_compute_protected_item_as_base_class_but_wire_keeps_vm_fields():
    from azure.mgmt.recoveryservicesbackup import models as bm
    from azure.mgmt.recoveryservicesbackup._utils.model_base import _deserialize

    raw = body("recoveryservicesbackup/Compute_ProtectedItem_Get.json")
    for obj in (bm.ProtectedItemResource(copy.deepcopy(raw)), _deserialize(bm.ProtectedItemResource, copy.deepcopy(raw))):
        # The trap: the discriminator value Microsoft.Compute/virtualMachines is not in the base
        # class's mapping, so the SDK falls back to the base ProtectedItem.
        assert type(obj.properties) is bm.ProtectedItem
        assert not isinstance(obj.properties, bm.AzureIaaSVMProtectedItem)
        assert getattr(obj.properties, "virtual_machine_id", None) is None
        assert getattr(obj.properties, "health_status", None) is None
        _ = obj.properties.source_resource_id, obj.properties.last_recovery_point  # attribute access must not alter wire()
        w = wire(obj)
        assert w["properties"]["sourceResourceId"] == raw["properties"]["sourceResourceId"]
        assert w["properties"]["virtualMachineId"] == raw["properties"]["virtualMachineId"]
        assert rsv.map_protected_item(w) == rsv.map_protected_item(raw)
        item = rsv.map_protected_item(w)
        assert item.source_resource_id == ids.norm(raw["properties"]["sourceResourceId"])
        assert item.health_status == "Passed" and item.policy_type == "V2"


def test_wire_on_msrest_generation_lock_model():
    from azure.mgmt.resource.locks.models import ManagementLockObject

    [raw] = items("locks/ManagementLocks_ListAtSubscriptionLevel.json")
    obj = ManagementLockObject.deserialize(raw)
    assert obj.level == "ReadOnly"
    assert hasattr(obj, "_attribute_map")  # msrest generation: as_dict() would give snake_case names
    w = wire(obj)
    assert w["properties"]["level"] == "ReadOnly" and w["id"] == raw["id"]
    assert res.map_lock(w) == res.map_lock(raw)


@pytest.mark.parametrize("model_path,rel,mapper", [
    ("azure.mgmt.compute.models:Disk", "compute/Disk_Get.json", cmp.map_disk),
    ("azure.mgmt.compute.models:RestorePointCollection",
     "compute/RestorePointCollection_Get_WithContainedRestorePoints.json", cmp.map_restore_point_collection),
    ("azure.mgmt.compute.models:VirtualMachineInstanceView", "compute/VirtualMachine_Get_InstanceView.json",
     cmp.map_instance_view),
    ("azure.mgmt.recoveryservicesbackup.models:ProtectionPolicyResource", "recoveryservicesbackup/IaaS_v2_hourly.json",
     rsv.map_policy),
    ("azure.mgmt.recoveryservicesbackup.models:JobResource", "recoveryservicesbackup/GetJobDetails.json",
     rsv.map_backup_job),
])
def test_wire_on_typespec_generation_models_equals_raw(model_path, rel, mapper):
    import importlib
    module, name = model_path.split(":")
    cls = getattr(importlib.import_module(module), name)
    raw = body(rel)
    assert mapper(wire(cls(copy.deepcopy(raw)))) == mapper(raw)


def test_wire_rejects_unknown_objects_and_passes_dicts():
    assert wire(None) == {}
    d = {"id": "/x"}
    assert wire(d) is d
    with pytest.raises(MalformedItem):
        wire(42)


# --------------------------------------------------------------------------- secrets
SAS = "https://acct.blob.core.windows.net/c/s.ps1?sv=2022-11-02&sig=abc123SECRET"
COMMAND = "powershell -ExecutionPolicy Unrestricted -File s.ps1 -Password Hunter2"


def test_vm_extension_settings_never_reach_the_inventory():
    raw = items("compute/VirtualMachine_ListBySubscription_ByLocation.json")[0]
    ext = items("compute/VirtualMachineExtension_List_MaximumSet_Gen.json")[0]
    ext["name"] = "CustomScriptExtension"
    ext["properties"].update(publisher="Microsoft.Compute", type="CustomScriptExtension", typeHandlerVersion="1.10",
                             provisioningState="Succeeded",
                             settings={"fileUris": [SAS], "commandToExecute": COMMAND},
                             protectedSettings={"commandToExecute": COMMAND, "storageAccountKey": "S3cr3tKey=="})
    raw["resources"] = [ext]
    vm = cmp.map_vm(raw)
    [got] = vm.extensions
    assert (got.name, got.type, got.publisher, got.type_handler_version, got.provisioning_state) == \
        ("CustomScriptExtension", "Microsoft.Compute.CustomScriptExtension", "Microsoft.Compute", "1.10", "Succeeded")
    text = m.build_inventory("2026-11-22T06:00:00Z", ["{subscriptionid}"], virtual_machines=[vm]).to_json()
    assert "CustomScriptExtension" in text  # the derived facts are there...
    for secret in ("abc123SECRET", "sig=", "acct.blob.core.windows.net", "Hunter2", "commandToExecute", "S3cr3tKey"):
        assert secret not in text  # ...the settings are not


# --------------------------------------------------------------------------- all together
def test_inventory_from_every_example_round_trips_through_json():
    vm = cmp.map_vm(items("compute/VirtualMachine_ListBySubscription_ByLocation.json")[0])
    vm = cmp.with_status(vm, cmp.map_vm_status(_status_only_item())[1])
    from dataclasses import replace
    vm = replace(vm, instance_view=cmp.map_instance_view(body("compute/VirtualMachine_Get_InstanceView.json")))
    inv = m.build_inventory(
        "2026-11-22T06:00:00Z", ["00000000-0000-0000-0000-000000000000"],
        virtual_machines=[vm],
        disks=[cmp.map_disk(x) for x in items("compute/Disk_ListBySubscription.json")],
        restore_point_collections=[cmp.map_restore_point_collection(
            body("compute/RestorePointCollection_Get_WithContainedRestorePoints.json"))],
        locks=[res.map_lock(x) for x in items("locks/ManagementLocks_ListAtSubscriptionLevel.json")],
        vaults=[rsv.map_vault(x) for x in items("recoveryservices/ListBySubscriptionIds.json")],
        protected_items=[rsv.map_protected_item(body("recoveryservicesbackup/Compute_ProtectedItem_Get.json"))],
        backup_policies=[rsv.map_policy(x) for x in items("recoveryservicesbackup/v2-List-Policies.json")],
        backup_jobs=[rsv.map_backup_job(x) for x in items("recoveryservicesbackup/ListJobsWithAllSupportedFilters.json")],
        replication_items=[rsv.map_replication_item(x) for x in items("siterecovery/ReplicationProtectedItems_List.json")],
        replication_jobs=[rsv.map_replication_job(x) for x in items("siterecovery/ReplicationJobs_List.json")],
    )
    assert m.Inventory.from_json(inv.to_json()) == inv
    assert len(inv.disks) == 3 and len(inv.backup_policies) == 3 and len(inv.replication_jobs) == 3
    # The restore point collection joins to its VM by the lower-cased source id.
    assert inv.restore_point_collections_by_vm[ids.norm(
        "/subscriptions/{subscription-id}/resourceGroups/myResourceGroup/providers/Microsoft.Compute/virtualMachines/myVM")]
