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
                           "sourceResourceId": f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/app",
                           **props}}


def test_protected_item_soft_delete_flag():
    assert rsv.map_protected_item(_item(isScheduledForDeferredDelete=True)).deferred_delete is True
    assert rsv.map_protected_item(_item()).deferred_delete is None
    assert rsv.map_protected_item(_item(isScheduledForDeferredDelete="yes")).deferred_delete is None
