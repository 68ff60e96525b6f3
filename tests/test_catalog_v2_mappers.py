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
