"""Synthetic subscriptions for the benchmarks (benchmarks/run.py): a realistic mix per subscription.

`synthetic(n_vms, sub)`: 80 % of the VMs running, 70 % backed up (one vault per 500 VMs), 10 %
replicated (A2A), two managed disks each, one NIC each, an NSG and subnet per resource group (50
VMs), a restore point collection per backed-up VM, a week of daily backup jobs, and Azure Disk
Encryption on every 20th VM with one key vault per 1,000 VMs.
"""
from __future__ import annotations

SUB = "00000000-0000-4000-8000-0000000be4c4"


def synthetic(n_vms: int, sub: str = SUB) -> dict:
    """A subscription with n_vms VMs: 80 % running, 70 % backed up (one vault per 500), 10 %
    replicated, two managed disks each, a restore point collection per backed-up VM and a week
    of daily backup jobs."""
    S = f"/subscriptions/{sub}"
    rgs = [f"rg-{i:03d}" for i in range(max(1, n_vms // 50))]
    vaults = [f"{S}/resourceGroups/rg-backup/providers/Microsoft.RecoveryServices/vaults/vault-{i}"
              for i in range(max(1, n_vms // 500))]
    sc: dict = {"subscriptions": [sub], "resourceGroups": [], "virtualMachines": [], "instanceViews": {}, "disks": [],
                "restorePointCollections": [], "locks": [], "vaults": [], "backupProtectedItems": [],
                "backupPolicies": [], "backupJobs": [], "replicationProtectedItems": [], "replicationJobs": []}
    for rg in rgs + ["rg-backup", "AzureBackupRG_westeurope_1"]:
        sc["resourceGroups"].append({"id": f"{S}/resourceGroups/{rg}", "name": rg, "location": "westeurope",
                                     "properties": {"provisioningState": "Succeeded"}})
    for v in vaults:
        sc["vaults"].append({"id": v, "name": v.rsplit("/", 1)[1], "type": "Microsoft.RecoveryServices/vaults",
                             "location": "westeurope", "sku": {"name": "RS0", "tier": "Standard"},
                             "properties": {"provisioningState": "Succeeded",
                                            "redundancySettings": {"standardTierStorageRedundancy": "GeoRedundant",
                                                                   "crossRegionRestore": "Enabled"},
                                            "securitySettings": {"softDeleteSettings": {"softDeleteState": "Enabled"},
                                                                 "immutabilitySettings": {"state": "Locked"}}}})
        sc["backupPolicies"].append({"id": f"{v}/backupPolicies/DefaultPolicy", "name": "DefaultPolicy",
                                     "properties": {"backupManagementType": "AzureIaasVM", "instantRpRetentionRangeInDays": 2,
                                                    "schedulePolicy": {"schedulePolicyType": "SimpleSchedulePolicy",
                                                                       "scheduleRunFrequency": "Daily",
                                                                       "scheduleRunTimes": ["2026-01-01T22:00:00Z"]}}})
    for i in range(n_vms):
        rg, name = rgs[i % len(rgs)], f"vm-{i:05d}"
        vid = f"{S}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"
        disks = [f"{S}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{name}-{d}" for d in ("os", "data")]
        sc["virtualMachines"].append({
            "id": vid, "name": name, "location": "westeurope", "type": "Microsoft.Compute/virtualMachines",
            "properties": {"vmId": f"{i:08d}-0000-4000-8000-000000000000", "provisioningState": "Succeeded",
                           "storageProfile": {"osDisk": {"osType": "Linux", "name": f"{name}-os", "managedDisk": {"id": disks[0]}},
                                              "dataDisks": [{"lun": 0, "name": f"{name}-data", "managedDisk": {"id": disks[1]}}]},
                           "osProfile": {"computerName": name, "linuxConfiguration": {"provisionVMAgent": True}}}})
        running = i % 5 != 0
        sc["instanceViews"][vid] = {
            "vmAgent": {"vmAgentVersion": "2.10.0.8",
                        "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Ready"}]},
            "extensions": [{"name": "VMSnapshotLinux", "type": "Microsoft.Azure.RecoveryServices.VMSnapshotLinux",
                            "typeHandlerVersion": "1.0.9",
                            "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                                          "displayStatus": "Provisioning succeeded"}]}],
            "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info"},
                         {"code": "PowerState/running" if running else "PowerState/deallocated", "level": "Info"}]}
        for d, size in zip(disks, (64, 512)):
            sc["disks"].append({"id": d, "name": d.rsplit("/", 1)[1], "location": "westeurope", "managedBy": vid,
                                "properties": {"diskSizeGB": size, "encryption": {"type": "EncryptionAtRestWithPlatformKey"}}})
        if i % 10 < 7:  # backed up
            vault = vaults[i % len(vaults)]
            container = f"iaasvmcontainerv2;{rg};{name}"
            sc["backupProtectedItems"].append({
                "id": f"{vault}/backupFabrics/Azure/protectionContainers/IaasVMContainer;{container}/protectedItems/VM;{container}",
                "name": f"VM;{container}",
                "properties": {"backupManagementType": "AzureIaasVM", "protectedItemType": "Microsoft.Compute/virtualMachines",
                               "workloadType": "VM", "containerName": container, "friendlyName": name, "sourceResourceId": vid,
                               "virtualMachineId": vid, "protectionState": "Protected", "healthStatus": "Passed",
                               "lastBackupStatus": "Completed", "lastBackupTime": "@now-8h", "lastRecoveryPoint": "@now-8h",
                               "policyId": f"{vault}/backupPolicies/DefaultPolicy"}})
            rpc = f"{S}/resourceGroups/AzureBackupRG_westeurope_1/providers/Microsoft.Compute/restorePointCollections/AzureBackup_{name}"
            sc["restorePointCollections"].append({
                "id": rpc, "name": rpc.rsplit("/", 1)[1], "location": "westeurope",
                "properties": {"source": {"id": vid}, "restorePoints": [
                    {"id": f"{rpc}/restorePoints/rp{k}", "name": f"rp{k}", "properties": {"timeCreated": f"@now-{k + 1}d"}}
                    for k in range(3)]}})
            for day in range(7):
                sc["backupJobs"].append({
                    "id": f"{vault}/backupJobs/{i:08d}-{day:04d}-4000-8000-000000000000", "name": f"{i:08d}-{day:04d}",
                    "properties": {"jobType": "AzureIaaSVMJob", "backupManagementType": "AzureIaasVM", "operation": "Backup",
                                   "status": "Completed", "entityFriendlyName": name, "containerName": container,
                                   # real jobs' times are to the 100 ns and nearly all distinct: so are these
                                   # (a shared few would flatter the time-parse cache's CPU and memory)
                                   "startTime": f"@now-{day}d-8h-{i}.{day}s", "endTime": f"@now-{day}d-7h-{i}.{day}s"}})
        if i % 10 == 9:  # replicated
            vault = vaults[0]
            sc["replicationProtectedItems"].append({
                "id": f"{vault}/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/rpi-{i}",
                "name": f"rpi-{i}",
                "properties": {"friendlyName": name, "protectionState": "Protected", "replicationHealth": "Normal",
                               "activeLocation": "Primary", "allowedOperations": ["PlannedFailover", "TestFailover"],
                               "providerSpecificDetails": {"instanceType": "A2A", "fabricObjectId": vid, "rpoInSeconds": 120,
                                                           "lastRpoCalculatedTime": "@now-5m",
                                                           "isReplicationAgentUpdateRequired": False}}})
    add_network_and_key_vaults(sc, rgs, S)
    return sc


def add_network_and_key_vaults(sc: dict, rgs: list[str], S: str) -> None:
    """One NIC per VM, an NSG per resource group on its subnet (one virtual network, a subnet per
    resource group), one route table, and Azure Disk Encryption on the OS disk of every 20th VM with
    one key vault per 1,000 VMs: what the BCDR304 / BCDR608 collectors read."""
    net = f"{S}/resourceGroups/rg-network/providers/Microsoft.Network"
    vnet = f"{net}/virtualNetworks/vnet-bench"
    rt = f"{net}/routeTables/rt-bench"
    nsg_rules = [{"name": n, "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                                            "sourceAddressPrefix": "*", "destinationAddressPrefix": d, "access": a,
                                            "priority": p, "direction": "Outbound"}}
                 for n, d, a, p in (("AllowVnetOutBound", "VirtualNetwork", "Allow", 65000),
                                    ("AllowInternetOutBound", "Internet", "Allow", 65001), ("DenyAllOutBound", "*", "Deny", 65500))]
    sc["networkSecurityGroups"] = [{"id": f"{net}/networkSecurityGroups/nsg-{rg}", "name": f"nsg-{rg}", "location": "westeurope",
                                    "properties": {"securityRules": [], "defaultSecurityRules": nsg_rules}} for rg in rgs]
    sc["virtualNetworks"] = [{"id": vnet, "name": "vnet-bench", "location": "westeurope", "properties": {"subnets": [
        {"id": f"{vnet}/subnets/{rg}", "name": rg, "properties": {"networkSecurityGroup": {"id": f"{net}/networkSecurityGroups/nsg-{rg}"},
                                                                  "routeTable": {"id": rt}}} for rg in rgs]}}]
    sc["routeTables"] = [{"id": rt, "name": "rt-bench", "location": "westeurope", "properties": {"routes": []}}]
    sc["networkInterfaces"], sc["keyVaults"] = [], []
    disks = {d["id"]: d for d in sc["disks"]}
    for i, vm in enumerate(sc["virtualMachines"]):
        rg = vm["id"].split("/")[4]
        nic = f"{S}/resourceGroups/{rg}/providers/Microsoft.Network/networkInterfaces/{vm['name']}-nic"
        vm["properties"]["networkProfile"] = {"networkInterfaces": [{"id": nic, "properties": {"primary": True}}]}
        ip = {"primary": True, "privateIPAddress": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
              "subnet": {"id": f"{vnet}/subnets/{rg}"}}
        sc["networkInterfaces"].append({"id": nic, "name": f"{vm['name']}-nic", "location": "westeurope", "properties": {
            "primary": True, "virtualMachine": {"id": vm["id"]}, "ipConfigurations": [{"name": "ipconfig1", "properties": ip}]}})
        if i % 20 == 1:  # backed up (i % 10 < 7) and encrypted
            kv = f"{S}/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-{i // 1000:03d}"
            os_disk = disks[vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]]
            os_disk["properties"]["encryptionSettingsCollection"] = {"enabled": True, "encryptionSettings": [
                {"diskEncryptionKey": {"sourceVault": {"id": kv}, "secretUrl": f"https://kv.vault.azure.net/secrets/{i}"}}]}
            if not any(k["id"] == kv for k in sc["keyVaults"]):
                sc["keyVaults"].append({"id": kv, "name": kv.rsplit("/", 1)[1], "location": "westeurope", "properties": {
                    "accessPolicies": [], "enableRbacAuthorization": True,
                    "networkAcls": {"defaultAction": "Allow", "bypass": "AzureServices"}}})


def subscription_id(k: int) -> str:
    """The k-th synthetic subscription's id (k = 0 is SUB)."""
    return SUB if k == 0 else f"00000000-0000-4000-8000-{k:012x}"


def tenant(n_subscriptions: int, vms_each: int) -> dict:
    """One scenario holding `n_subscriptions` synthetic subscriptions of `vms_each` VMs."""
    out: dict = {}
    for k in range(n_subscriptions):
        for key, value in synthetic(vms_each, subscription_id(k)).items():
            if isinstance(value, dict):
                out.setdefault(key, {}).update(value)
            else:
                out.setdefault(key, []).extend(value)
    return out
