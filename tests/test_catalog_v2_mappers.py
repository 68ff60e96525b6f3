"""Mapper fields the second-edition rules read (../shared/rule-catalog-v2.md section A): each test
feeds the wire shape the SDK model declares (azure-mgmt-recoveryservicesbackup / -compute field
names) and checks the Inventory field the rule uses."""
from __future__ import annotations

from scanner import ids
from scanner.collectors import compute as cmp
from scanner.collectors import recovery as rsv

SUB = "11111111-1111-1111-1111-111111111111"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.RecoveryServices/vaults/v1"


def _item(**props):
    container = "iaasvmcontainerv2;rg-app;app"
    return {"id": f"{VAULT}/backupFabrics/Azure/protectionContainers/IaasVMContainer;{container}/protectedItems/VM;{container}",
            "name": f"VM;{container}",
            "properties": {"protectedItemType": "Microsoft.Compute/virtualMachines", "protectionState": "Protected",
                           "sourceResourceId":
                               f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/app",
                           **props}}


def test_protected_item_soft_delete_flag():
    assert rsv.map_protected_item(_item(isScheduledForDeferredDelete=True)).deferred_delete is True
    assert rsv.map_protected_item(_item()).deferred_delete is None
    assert rsv.map_protected_item(_item(isScheduledForDeferredDelete="yes")).deferred_delete is None


def test_disk_sku_name():
    raw = {"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/big",
           "sku": {"name": "PremiumV2_LRS", "tier": "Premium"}, "properties": {"diskSizeGB": 40960}}
    d = cmp.map_disk(raw)
    assert (d.sku, d.size_gb) == ("PremiumV2_LRS", 40960)
    assert cmp.map_disk({**raw, "sku": "odd"}).sku == ""


def test_vm_dual_pass_ade_from_the_os_disk_encryption_settings():
    vm_id = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/dp"
    settings = {"enabled": True,
                "diskEncryptionKey": {"secretUrl": "https://kv.vault.azure.net/secrets/x", "sourceVault": {"id": "/x"}}}
    raw = {"id": vm_id, "properties": {"storageProfile": {"osDisk": {"name": "os", "encryptionSettings": settings}}}}
    vm = cmp.map_vm(raw)
    assert (vm.ade_dual_pass, vm.ade_dual_pass_has_bek, vm.ade_dual_pass_has_kek) == (True, True, False)
    settings["enabled"] = False
    assert cmp.map_vm(raw).ade_dual_pass is False
    assert cmp.map_vm({"id": vm_id, "properties": {}}).ade_dual_pass is False
    assert ids.norm(vm_id) == vm.id


def test_policy_custom_instant_restore_resource_groups():
    raw = {"id": f"{VAULT}/backupPolicies/enh", "name": "enh",
           "properties": {"backupManagementType": "AzureIaasVM", "policyType": "V2",
                          "instantRPDetails": {"azureBackupRGNamePrefix": "snaprg", "azureBackupRGNameSuffix": "-weu"},
                          "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicyV2", "scheduleRunFrequency": "Daily"}}}
    p = rsv.map_policy(raw)
    assert (p.instant_rp_rg_prefix, p.instant_rp_rg_suffix, p.is_v2) == ("snaprg", "-weu", True)
    del raw["properties"]["instantRPDetails"]
    assert (rsv.map_policy(raw).instant_rp_rg_prefix, rsv.map_policy(raw).instant_rp_rg_suffix) == ("", "")


ASR_VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-dr/providers/Microsoft.RecoveryServices/vaults/asr"


def _rpi(psd, **props):
    return {"id": f"{ASR_VAULT}/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/i1",
            "name": "i1", "properties": {"friendlyName": "vm1", "protectionState": "Protected",
                                         "providerSpecificDetails": psd, **props}}


def test_inmage_failback_recovery_points_from_consistency_points():
    # VMware failback from Azure (seeds 000/001): consistencyPoints {name: time} (InMageReplicationDetails).
    item = rsv.map_replication_item(_rpi({"instanceType": "InMage", "consistencyPoints": {
        "app": "2026-11-22T04:00:00Z", "crash": "2026-11-22T05:30:00Z"}}))
    assert (item.has_recovery_point, item.last_recovery_point_time) == (True, "2026-11-22T05:30:00Z")
    assert rsv.map_replication_item(_rpi({"instanceType": "InMage", "consistencyPoints": {}})).has_recovery_point is False
    rpo_only = rsv.map_replication_item(_rpi({"instanceType": "InMage", "lastRpoCalculatedTime": "2026-11-22T05:00:00Z"}))
    assert rpo_only.has_recovery_point is True
    # No field at all: unknown (BCDR901 then reads the item's recoveryPoints list).
    assert rsv.map_replication_item(_rpi({"instanceType": "InMage"})).has_recovery_point is None


def test_inmage_azure_v2_and_rcm_failback_signals():
    v2 = rsv.map_replication_item(_rpi({"instanceType": "InMageAzureV2", "rpoInSeconds": 120}))
    assert v2.has_recovery_point is True
    initial = rsv.map_replication_item(_rpi({"instanceType": "InMageAzureV2", "vmProtectionState": "InitialReplication"}))
    assert initial.has_recovery_point is False
    received = rsv.map_replication_item(_rpi({"instanceType": "InMageAzureV2",
                                              "lastRecoveryPointReceived": "2026-11-22T05:00:00Z"}))
    assert received.has_recovery_point is True
    back = rsv.map_replication_item(_rpi({"instanceType": "InMageRcmFailback", "initialReplicationProgressPercentage": 40}))
    assert back.has_recovery_point is False
    done = rsv.map_replication_item(_rpi({"instanceType": "InMageRcmFailback", "initialReplicationProgressPercentage": 100}))
    assert done.has_recovery_point is None  # no RPO field: the recoveryPoints list decides
