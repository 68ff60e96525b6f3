"""Generate scanner/simulator/scenarios/demo.json, the demo subscription behind `az-bcdr-scan --demo`.

    python scripts/make_demo_scenario.py [OUT]     (default: the bundled scenario file)

The JSON is what ships; this script is how to change it without hand-editing 14,000 lines. It is
deterministic (ids are uuid5 of fixed names, times are "@now-..." offsets resolved at load), so a
run without changes reproduces the file byte for byte. Every rule in the catalog must keep at least
one FAIL in the demo: tests/test_simulator.py and tests/test_e2e_safety.py check it.
"""
import json
import sys
import uuid
from functools import partial
from pathlib import Path

SUB = "00000000-0000-4000-8000-00000000d3e0"
TENANT = "00000000-0000-4000-8000-0000000000a1"
P = f"/subscriptions/{SUB}"
NS = uuid.UUID("00000000-0000-4000-8000-00000000d3e0")


def gid(*parts):
    return str(uuid.uuid5(NS, "/".join(str(p) for p in parts)))


def now(hours=0.0):
    if hours == 0:
        return "@now"
    h = round(hours, 2)
    return f"@now-{h:g}h" if h > 0 else f"@now+{-h:g}h"


LOC_NAME = {"westeurope": "West Europe", "northeurope": "North Europe"}

# ------------------------------------------------------------------ resource groups
RGS = [
    ("rg-web-prod", "westeurope"), ("rg-app-prod", "westeurope"), ("rg-app-test", "westeurope"),
    ("rg-data-prod", "westeurope"), ("rg-fin-prod", "westeurope"), ("rg-mgmt", "westeurope"),
    ("rg-backup", "westeurope"), ("rg-backup-neu", "northeurope"),
    ("AzureBackupRG_westeurope_1", "westeurope"), ("AzureBackupRG_northeurope_1", "northeurope"),
    ("rg-rp-sql-1", "westeurope"), ("rg-identity-neu", "northeurope"), ("rg-files-neu", "northeurope"),
    ("rg-web-prod-asr", "northeurope"), ("rg-erp-dr", "westeurope"),
]
resource_groups = []
for name, loc in RGS:
    rg = {"id": f"{P}/resourceGroups/{name}", "name": name, "type": "Microsoft.Resources/resourceGroups",
          "location": loc, "properties": {"provisioningState": "Succeeded"}}
    if name.startswith("AzureBackupRG"):
        rg["managedBy"] = None
        rg["tags"] = {}
    elif name == "rg-rp-sql-1":
        rg["tags"] = {"purpose": "Azure Backup instant restore points (Std-Daily-SQL policy)"}
    else:
        rg["tags"] = {"env": "test" if "test" in name else "prod", "owner": "platform-team"}
    resource_groups.append(rg)

# ------------------------------------------------------------------ vaults
VAULTS = {
    "rsv-prod-weu": dict(rg="rg-backup", loc="westeurope", redundancy="GeoRedundant", crr="Disabled",
                         soft="Enabled", immut="Unlocked", created="2021-03-04T10:11:12Z"),
    "rsv-prod-neu": dict(rg="rg-backup-neu", loc="northeurope", redundancy="LocallyRedundant", crr="Disabled",
                         soft="Disabled", immut="Disabled", created="2021-06-14T08:01:02Z"),
    "rsv-legacy-weu": dict(rg="rg-backup", loc="westeurope", redundancy="ZoneRedundant", crr="Disabled",
                           soft="AlwaysON", immut="Locked", created="2019-11-20T15:30:00Z"),
}


def vault_id(v, casing="canonical"):
    d = VAULTS[v]
    sub = "Subscriptions" if casing == "upper" else "subscriptions"
    return f"/{sub}/{SUB}/resourceGroups/{d['rg']}/providers/Microsoft.RecoveryServices/vaults/{v}"


vaults = []
for name, d in VAULTS.items():
    soft = {"softDeleteState": d["soft"], "softDeleteRetentionPeriodInDays": 14,
            "enhancedSecurityState": "AlwaysON" if d["soft"] == "AlwaysON" else "Enabled" if d["soft"] == "Enabled" else "Disabled"}
    vaults.append({
        "id": vault_id(name), "name": name, "type": "Microsoft.RecoveryServices/vaults", "location": d["loc"],
        "etag": f"W/\"datetime'{d['created'].replace(':', '%3A')}'\"",
        "tags": {"env": "prod" if "prod" in name else "legacy", "costcenter": "cc-4711"},
        "identity": {"type": "SystemAssigned", "principalId": gid("principal", name), "tenantId": TENANT},
        "sku": {"name": "RS0", "tier": "Standard"},
        "properties": {
            "provisioningState": "Succeeded", "privateEndpointStateForBackup": "None",
            "privateEndpointStateForSiteRecovery": "None", "backupStorageVersion": "V2",
            "publicNetworkAccess": "Enabled",
            "monitoringSettings": {"azureMonitorAlertSettings": {"alertsForAllJobFailures": "Enabled"},
                                   "classicAlertSettings": {"alertsForCriticalOperations": "Disabled"}},
            "restoreSettings": {"crossSubscriptionRestoreSettings": {"crossSubscriptionRestoreState": "Enabled"}},
            "redundancySettings": {"standardTierStorageRedundancy": d["redundancy"], "crossRegionRestore": d["crr"]},
            "securitySettings": {"immutabilitySettings": {"state": d["immut"]}, "softDeleteSettings": soft,
                                 "multiUserAuthorization": "Disabled"},
            "secureScore": "Adequate" if d["soft"] != "Disabled" else "None",
            "bcdrSecurityLevel": "Good" if d["immut"] == "Locked" else "Fair" if d["soft"] != "Disabled" else "Poor",
        },
    })

# ------------------------------------------------------------------ policies
def daily_retention(days):
    return {"retentionPolicyType": "LongTermRetentionPolicy",
            "dailySchedule": {"retentionTimes": ["2021-03-04T23:00:00Z"], "retentionDuration": {"count": days, "durationType": "Days"}}}


POLICIES = {}  # (vault, name) -> dict(v2, hourly, instant)
policies = []


def policy(vault, name, *, v2, hourly=None, instant, policy_type_in_list=False, rg_prefix=None, count=0):
    pid = f"{vault_id(vault, 'upper')}/backupPolicies/{name}"
    props = {"backupManagementType": "AzureIaasVM", "protectedItemsCount": count, "timeZone": "UTC",
             "instantRpRetentionRangeInDays": instant}
    if v2:
        if hourly:
            sched = {"schedulePolicyType": "SimpleSchedulePolicyV2", "scheduleRunFrequency": "Hourly",
                     "hourlySchedule": {"interval": hourly, "scheduleWindowStartTime": "2021-06-14T06:00:00Z",
                                        "scheduleWindowDuration": 16}}
        else:
            sched = {"schedulePolicyType": "SimpleSchedulePolicyV2", "scheduleRunFrequency": "Daily",
                     "dailySchedule": {"scheduleRunTimes": ["2021-06-14T22:00:00Z"]}}
        if policy_type_in_list:
            props["policyType"] = "V2"
        props["snapshotConsistencyType"] = "OnlyCrashConsistent" if hourly else "Default"
        props["tieringPolicy"] = {"ArchivedRP": {"tieringMode": "DoNotTier", "duration": 0, "durationType": "Invalid"}}
    else:
        sched = {"schedulePolicyType": "SimpleSchedulePolicy", "scheduleRunFrequency": "Daily",
                 "scheduleRunTimes": ["2021-03-04T23:00:00Z"], "scheduleWeeklyFrequency": 0}
    props["schedulePolicy"] = sched
    props["retentionPolicy"] = daily_retention(30 if not v2 else 90)
    if rg_prefix:
        props["instantRPDetails"] = {"azureBackupRGNamePrefix": rg_prefix, "azureBackupRGNameSuffix": ""}
    policies.append({"id": pid, "name": name, "type": "Microsoft.RecoveryServices/vaults/backupPolicies", "properties": props})
    POLICIES[(vault, name)] = dict(v2=v2, hourly=hourly, instant=instant, id=pid)


policy("rsv-prod-weu", "DefaultPolicy", v2=False, instant=2, count=11)
policy("rsv-prod-weu", "Std-Daily-SQL", v2=False, instant=5, rg_prefix="rg-rp-sql-", count=1)
# Enhanced hourly: listed WITHOUT policyType, like v2-List-Policies.json.
policy("rsv-prod-weu", "EnhancedPolicy-4h", v2=True, hourly=4, instant=7, count=3)
policy("rsv-prod-weu", "Enhanced-Daily", v2=True, instant=7, policy_type_in_list=True, count=2)
policy("rsv-prod-neu", "DefaultPolicy", v2=False, instant=2, count=1)
policy("rsv-prod-neu", "EnhancedPolicy", v2=True, hourly=4, instant=5, count=1)
policy("rsv-legacy-weu", "DefaultPolicy", v2=False, instant=2, count=0)

# ------------------------------------------------------------------ VMs
WIN_IMG = {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter-azure-edition", "version": "latest", "exactVersion": "20348.2340.240303"}
WIN12_IMG = {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2012-R2-Datacenter", "version": "latest", "exactVersion": "9600.21620.231004"}
LIN_IMG = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": "latest", "exactVersion": "22.04.202403010"}
WIN_AGENT, LIN_AGENT = "2.7.41491.1102", "2.9.1.1"

SAS_URL = ("https://stcontososcripts.blob.core.windows.net/bootstrap/configure-iis.ps1"
           "?sv=2022-11-02&ss=b&srt=o&sp=r&se=2031-01-01T00%3A00%3A00Z&st=2024-01-01T00%3A00%3A00Z&spr=https"
           "&sig=SIMULATOR-CANARY-not-a-real-signature%3D")

VMS = []


def vm(name, rg, loc, os, *, size="Standard_D4s_v5", data=(), power="running", prov="Succeeded", prov_error=None,
       agent="ok", agent_version=None, provision_agent=True, exts=(), backup=None, backup_rg_casing=None,
       id_rg=None, img=None, zone=None, tags=None, created="2022-05-10T09:00:00Z", item=None, os_ade=None):
    VMS.append(dict(name=name, rg=rg, loc=loc, os=os, size=size, data=list(data), power=power, prov=prov, os_ade=os_ade,
                    prov_error=prov_error, agent=agent, agent_version=agent_version, provision_agent=provision_agent,
                    exts=list(exts), backup=backup, id_rg=id_rg or rg, img=img, zone=zone, tags=tags or {},
                    created=created, item=item or {}))


def ext(name, etype, publisher, version, state="succeeded", message=None, settings=None):
    return dict(name=name, type=etype, publisher=publisher, version=version, state=state, message=message, settings=settings)


SNAP_W = partial(ext, "VMSnapshot", "VMSnapshot", "Microsoft.Azure.RecoveryServices", "1.0.9214.0")  # (state, message)
SNAP_L = partial(ext, "VMSnapshotLinux", "VMSnapshotLinux", "Microsoft.Azure.RecoveryServices", "1.0.9215.0")  # (state, message)
ASR_W = partial(ext, "SiteRecovery-Windows", "Windows", "Microsoft.Azure.RecoveryServices.SiteRecovery", "1.0.0.9185")  # (state, message)
ASR_L = partial(ext, "SiteRecovery-Linux", "Linux", "Microsoft.Azure.RecoveryServices.SiteRecovery", "1.0.0.9186")  # (state, message)
AMA_W = partial(ext, "AzureMonitorWindowsAgent", "AzureMonitorWindowsAgent", "Microsoft.Azure.Monitor", "1.22.0.0")  # (state, message)
AMA_L = partial(ext, "AzureMonitorLinuxAgent", "AzureMonitorLinuxAgent", "Microsoft.Azure.Monitor", "1.29.6")  # (state, message)

# West Europe ------------------------------------------------------------
vm("vm-web-01", "rg-web-prod", "westeurope", "Windows", zone="1",
   exts=[SNAP_W(), ASR_W(), AMA_W(),
         ext("CustomScriptExtension", "CustomScriptExtension", "Microsoft.Compute", "1.10", settings={
             "fileUris": [SAS_URL], "commandToExecute": "powershell -ExecutionPolicy Unrestricted -File configure-iis.ps1"})],
   backup=("rsv-prod-weu", "EnhancedPolicy-4h"), tags={"app": "storefront", "tier": "web"})
vm("vm-web-02", "rg-web-prod", "westeurope", "Windows", zone="2", agent="notready",
   exts=[SNAP_W(), AMA_W()], backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "storefront", "tier": "web"},
   item=dict(healthStatus="ActionRequired", lastBackupStatus="Failed", last_ok=74, healthDetails=[{
       "code": "UserErrorGuestAgentStatusUnavailable", "title": "UserErrorGuestAgentStatusUnavailable",
       "message": "VM Agent unable to communicate with Azure Backup",
       "recommendations": ["Ensure that the VM agent is installed, running and up to date, and that the VM can reach Azure Backup over the network."]}]))
vm("vm-web-03", "rg-web-prod", "westeurope", "Linux", size="Standard_D2s_v5", exts=[SNAP_L(), AMA_L()],
   backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "storefront", "tier": "web"}, item=dict(last_ok=54))
vm("vm-web-04", "rg-web-prod", "westeurope", "Windows", prov="Updating", exts=[SNAP_W(), AMA_W("transitioning", "Updating extension")],
   backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "storefront", "tier": "web"})
vm("vm-web-05", "rg-web-prod", "westeurope", "Linux", size="Standard_D2s_v5", exts=[SNAP_L(), ASR_L()],
   backup=("rsv-prod-weu", "Enhanced-Daily"), tags={"app": "storefront", "tier": "web"})
vm("vm-web-06", "rg-web-prod", "westeurope", "Windows", power="deallocated", agent="none", exts=[ASR_W()],
   tags={"app": "storefront", "tier": "web"})
vm("vm-app-01", "rg-app-prod", "westeurope", "Linux", exts=[SNAP_L(), ASR_L(), AMA_L()],
   backup=("rsv-prod-weu", "EnhancedPolicy-4h"), tags={"app": "orders", "tier": "app"})
# Same name, another resource group: the test copy. Its backup was stopped (retain data).
vm("vm-app-01", "rg-app-test", "westeurope", "Linux", size="Standard_B2ms", exts=[AMA_L()],
   backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "orders", "tier": "app", "env": "test"},
   item=dict(protectionState="ProtectionStopped", protectionStatus="Healthy", policy=None, last_ok=20 * 24, lastBackupStatus="Completed"))
vm("vm-app-02", "rg-app-prod", "westeurope", "Windows", exts=[SNAP_W(), ASR_W()],
   backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "orders", "tier": "app"})
vm("vm-app-03", "rg-app-prod", "westeurope", "Windows", exts=[
    SNAP_W("failed", "Snapshot operation failed: the VMSnapshot extension could not complete the snapshot of managed disks. (ExtensionOperationFailedForManagedDisks)"),
    AMA_W()], backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "orders", "tier": "app"},
   item=dict(lastBackupStatus="Failed", last_ok=45))
vm("vm-app-04", "rg-app-prod", "westeurope", "Windows", prov="Failed", prov_error="VMExtensionProvisioningError",
   exts=[SNAP_W(), ext("IaaSAntimalware", "IaaSAntimalware", "Microsoft.Azure.Security", "1.5.5.9", "failed",
                       "Microsoft Antimalware could not be enabled: the service failed to start (0x80070422).")],
   backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "orders", "tier": "app"},
   item=dict(lastBackupStatus="Failed", last_ok=46))
vm("vm-app-05", "rg-app-prod", "westeurope", "Linux", exts=[SNAP_L(), AMA_L()],
   backup=("rsv-prod-weu", "EnhancedPolicy-4h"), tags={"app": "orders", "tier": "app"})
vm("vm-batch-02", "rg-app-prod", "westeurope", "Linux", size="Standard_F8s_v2", agent_version="2.2.45",
   exts=[SNAP_L(), ASR_L()], backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "billing-batch"})
vm("vm-sql-01", "rg-data-prod", "westeurope", "Windows", size="Standard_E8s_v5", id_rg="RG-DATA-PROD",
   data=[("vm-sql-01_data_0", 1024, None), ("vm-sql-01_log_0", 512, None)], exts=[SNAP_W(), AMA_W()],
   backup=("rsv-prod-weu", "Std-Daily-SQL"), tags={"app": "orders-db", "tier": "data"})
vm("vm-sql-02", "rg-data-prod", "westeurope", "Windows", size="Standard_E8s_v5", id_rg="RG-DATA-PROD",
   data=[("vm-sql-02_data_0", 1024, None)],
   exts=[SNAP_W(), ASR_W("transitioning", "Enable replication: installing the Mobility service extension")],
   backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "billing-db", "tier": "data"})
vm("vm-archive-01", "rg-data-prod", "westeurope", "Linux", size="Standard_E4s_v5", id_rg="RG-DATA-PROD",
   data=[("vm-archive-01_data_0", 32768, None)], exts=[SNAP_L()], backup=("rsv-prod-weu", "DefaultPolicy"),
   tags={"app": "archive"}, item=dict(lastBackupStatus="Failed", last_ok=70))
vm("vm-report-01", "rg-data-prod", "westeurope", "Windows", id_rg="RG-DATA-PROD", power="deallocated", agent="none",
   exts=[SNAP_W()], backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "reporting", "schedule": "month-end"})
vm("vm-fin-01", "rg-fin-prod", "westeurope", "Windows", size="Standard_E4s_v5", os_ade="kek",
   data=[("vm-fin-01_data_0", 8192, "kek")],
   exts=[SNAP_W(), ext("AzureDiskEncryption", "AzureDiskEncryption", "Microsoft.Azure.Security", "2.2"),
         AMA_W("failed", "Enable failed: the Azure Monitor Agent could not download its configuration (HTTP 403).")],
   backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "ledger", "compliance": "sox"})
vm("vm-hr-01", "rg-fin-prod", "westeurope", "Windows", size="Standard_D2s_v5", os_ade="bek",
   exts=[SNAP_W(), ext("AzureDiskEncryption", "AzureDiskEncryption", "Microsoft.Azure.Security", "2.2")],
   backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "hr-portal"})
vm("vm-legacy-01", "rg-mgmt", "westeurope", "Windows", size="Standard_D2s_v3", img=WIN12_IMG, agent="none",
   provision_agent=False, exts=[], backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "license-server"},
   created="2017-09-01T12:00:00Z")
vm("vm-jump-01", "rg-mgmt", "westeurope", "Windows", size="Standard_B2ms", exts=[AMA_W()], tags={"app": "jumpbox"})
# rule-catalog-v2 A, BCDR601: a 40 TiB Premium SSD v2 disk on an Enhanced policy is within its 64 TiB
# limit (the first edition failed it at 32 TiB).
vm("vm-lake-01", "rg-data-prod", "westeurope", "Linux", size="Standard_E16s_v5", id_rg="RG-DATA-PROD",
   data=[("vm-lake-01_data_0", 40960, None, "PremiumV2_LRS")], exts=[SNAP_L(), AMA_L()],
   backup=("rsv-prod-weu", "Enhanced-Daily"), tags={"app": "data-lake", "tier": "data"})
# rule-catalog-v2 A, BCDR803: backup stopped with "retain data" reports BackupsSuspended (the first
# edition gave no finding at all).
vm("vm-print-01", "rg-mgmt", "westeurope", "Windows", size="Standard_B2ms", exts=[SNAP_W(), AMA_W()],
   backup=("rsv-prod-weu", "DefaultPolicy"), tags={"app": "print-server"},
   item=dict(protectionState="BackupsSuspended", protectionStatus="Healthy", last_ok=9 * 24, lastBackupStatus="Completed"))
# North Europe -----------------------------------------------------------
vm("vm-dc-neu-01", "rg-identity-neu", "northeurope", "Windows", size="Standard_D2s_v5", exts=[SNAP_W(), AMA_W()],
   backup=("rsv-prod-neu", "EnhancedPolicy"), tags={"app": "identity"})
vm("vm-files-neu-01", "rg-files-neu", "northeurope", "Linux", data=[("vm-files-neu-01_data_0", 2048, None)],
   exts=[SNAP_L(), AMA_L()], backup=("rsv-prod-neu", "DefaultPolicy"), tags={"app": "file-share"})
# The Site Recovery target of vm-web-06 after its failover: same name, another resource group and region.
vm("vm-web-06", "rg-web-prod-asr", "northeurope", "Windows", power="deallocated", agent="none", exts=[],
   tags={"app": "storefront", "tier": "web", "asr": "failover-target"}, created="@now-5d")

# ------------------------------------------------------------------ builders
def vm_id(v, rg=None):
    return f"{P}/resourceGroups/{rg or v['id_rg']}/providers/Microsoft.Compute/virtualMachines/{v['name']}"


def disk_name_os(v):
    return f"{v['name']}_OsDisk_1_{gid('osdisk', v['rg'], v['name']).replace('-', '')[:32]}"


def disk_id(v, name):
    # Disk ids carry the resource group as the portal created it: upper-case.
    return f"{P}/resourceGroups/{v['rg'].upper()}/providers/Microsoft.Compute/disks/{name}"


KEYVAULT = f"{P}/resourceGroups/rg-fin-prod/providers/Microsoft.KeyVault/vaults/kv-contoso-ade"


def ade_settings(kind, disk):
    if not kind:
        return None
    s = {"diskEncryptionKey": {"sourceVault": {"id": KEYVAULT},
                               "secretUrl": f"https://kv-contoso-ade.vault.azure.net/secrets/{gid('bek', disk).replace('-', '')[:32]}/{gid('bekv', disk).replace('-', '')}"}}
    if kind == "kek":
        s["keyEncryptionKey"] = {"sourceVault": {"id": KEYVAULT},
                                 "keyUrl": "https://kv-contoso-ade.vault.azure.net/keys/ade-kek/4f2c9f3b1a5e4d7c8b6a9e0d1c2b3a4f"}
    return {"enabled": True, "encryptionSettings": [s], "encryptionSettingsVersion": "1.1"}


def extension_resource(v, e):
    body = {"id": f"{vm_id(v)}/extensions/{e['name']}", "name": e["name"],
            "type": "Microsoft.Compute/virtualMachines/extensions", "location": v["loc"],
            "properties": {"autoUpgradeMinorVersion": True, "provisioningState":
                           {"succeeded": "Succeeded", "failed": "Failed", "transitioning": "Updating"}[e["state"]],
                           "publisher": e["publisher"], "type": e["type"], "typeHandlerVersion": e["version"].rsplit(".", 2)[0]
                           if e["publisher"].startswith("Microsoft.Azure.RecoveryServices") else e["version"]}}
    if e["settings"] is not None:
        body["properties"]["settings"] = e["settings"]
    elif e["publisher"] == "Microsoft.Azure.Monitor":
        body["properties"]["enableAutomaticUpgrade"] = True
        body["properties"]["settings"] = {}
    return body


disks, vm_bodies, instance_views = [], [], {}
DISK_SKU: dict[str, str] = {}  # data disk name -> sku.name
for v in VMS:
    win = v["os"] == "Windows"
    img = v["img"] or (WIN_IMG if win else LIN_IMG)
    os_disk = disk_name_os(v)
    storage = {"imageReference": img, "osDisk": {
        "osType": v["os"], "name": os_disk, "createOption": "FromImage", "caching": "ReadWrite",
        "managedDisk": {"storageAccountType": "Premium_LRS", "id": disk_id(v, os_disk)},
        "deleteOption": "Delete", "diskSizeGB": 127 if win else 30}, "dataDisks": [], "diskControllerType": "SCSI"}
    if v["os_ade"]:
        # The VM model's DiskEncryptionSettings: the keys directly, not the disk's settings collection.
        storage["osDisk"]["encryptionSettings"] = {**ade_settings(v["os_ade"], os_disk)["encryptionSettings"][0], "enabled": True}
    all_disks = [(os_disk, 127 if win else 30, v["os_ade"], True)]
    for lun, (dname, size, ade, *sku) in enumerate(v["data"]):
        # A data disk may name its SKU (default Premium_LRS): PremiumV2_LRS disks go past 32 TiB.
        storage["dataDisks"].append({"lun": lun, "name": dname, "createOption": "Attach", "caching": "None" if "log" in dname or sku else "ReadOnly",
                                     "writeAcceleratorEnabled": False, "managedDisk": {"storageAccountType": sku[0] if sku else "Premium_LRS",
                                     "id": disk_id(v, dname)}, "deleteOption": "Detach", "diskSizeGB": size, "toBeDetached": False})
        all_disks.append((dname, size, ade, False))
        DISK_SKU[dname] = sku[0] if sku else "Premium_LRS"
    computer = v["name"].replace("-", "")[:15]
    if win:
        osp = {"computerName": computer, "adminUsername": "contosoadmin", "windowsConfiguration": {
            "provisionVMAgent": v["provision_agent"], "enableAutomaticUpdates": True,
            "patchSettings": {"patchMode": "AutomaticByOS", "assessmentMode": "ImageDefault"}},
            "secrets": [], "allowExtensionOperations": True, "requireGuestProvisionSignal": True}
    else:
        osp = {"computerName": computer, "adminUsername": "azureuser", "linuxConfiguration": {
            "disablePasswordAuthentication": True, "ssh": {"publicKeys": [{"path": "/home/azureuser/.ssh/authorized_keys",
                                                                              "keyData": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemoKeyNotARealKey0000000000000000000 demo"}]},
            "provisionVMAgent": v["provision_agent"], "patchSettings": {"patchMode": "ImageDefault", "assessmentMode": "ImageDefault"}},
            "secrets": [], "allowExtensionOperations": True, "requireGuestProvisionSignal": True}
    vm_guid = gid("vmid", v["rg"], v["name"])
    body = {
        "id": vm_id(v), "name": v["name"], "type": "Microsoft.Compute/virtualMachines", "location": v["loc"],
        "tags": v["tags"],
        "properties": {
            "vmId": vm_guid, "hardwareProfile": {"vmSize": v["size"]}, "storageProfile": storage, "osProfile": osp,
            "securityProfile": {"securityType": "TrustedLaunch", "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True}}
            if v["img"] is None and not v["os_ade"] else None,
            "networkProfile": {"networkInterfaces": [{"id": f"{P}/resourceGroups/{v['rg']}/providers/Microsoft.Network/networkInterfaces/{v['name']}-nic01",
                                                      "properties": {"deleteOption": "Detach"}}]},
            "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
            "provisioningState": v["prov"], "timeCreated": v["created"],
        },
    }
    if body["properties"]["securityProfile"] is None:
        del body["properties"]["securityProfile"]
    if v["zone"]:
        body["zones"] = [v["zone"]]
    if v["exts"]:
        body["resources"] = [extension_resource(v, e) for e in v["exts"]]
    vm_bodies.append(body)

    # managed disks
    for dname, size, ade, is_os in all_disks:
        d = {"id": disk_id(v, dname), "name": dname, "type": "Microsoft.Compute/disks", "location": v["loc"],
             "managedBy": vm_id(v, v["rg"]), "sku": {"name": DISK_SKU.get(dname, "Premium_LRS"), "tier": "Premium"},
             "properties": {"creationData": {"createOption": "FromImage", "imageReference": {"id": f"/Subscriptions/{SUB}/Providers/Microsoft.Compute/Locations/{v['loc']}/Publishers/{img['publisher']}/ArtifactTypes/VMImage/Offers/{img['offer']}/Skus/{img['sku']}/Versions/{img['exactVersion']}"}}
                            if is_os else {"createOption": "Empty"},
                            "diskSizeGB": size, "diskIOPSReadWrite": 500 if size < 1024 else 7500 if size < 8192 else 20000,
                            "diskMBpsReadWrite": 100 if size < 1024 else 250 if size < 8192 else 900,
                            "encryption": {"type": "EncryptionAtRestWithPlatformKey"}, "timeCreated": v["created"],
                            "provisioningState": "Succeeded", "diskState": "Reserved" if v["power"] == "deallocated" else "Attached",
                            "diskSizeBytes": size * 1024 ** 3, "uniqueId": gid("disk", dname), "networkAccessPolicy": "AllowAll",
                            "publicNetworkAccess": "Enabled", "tier": "P10" if size <= 128 else "P30" if size <= 1024 else "P50" if size <= 4096 else "P70" if size <= 16384 else "P80"}}
        if is_os:
            d["properties"]["osType"] = v["os"]
            d["properties"]["hyperVGeneration"] = "V2" if v["img"] is None else "V1"
        if ade:
            d["properties"]["encryptionSettingsCollection"] = ade_settings(ade, dname)
        if v["zone"]:
            d["zones"] = [v["zone"]]
        disks.append(d)

    # instance view
    vid = vm_id(v)
    prov_word = v["prov"].lower()
    if v["prov_error"]:
        prov_status = {"code": f"ProvisioningState/failed/{v['prov_error']}", "level": "Error", "displayStatus": "Provisioning failed",
                       "message": "VM has reported a failure when processing extension 'IaaSAntimalware' (publisher "
                                  "'Microsoft.Azure.Security' and type 'IaaSAntimalware'). Error message: 'Microsoft Antimalware "
                                  "could not be enabled: the service failed to start (0x80070422).'", "time": now(20)}
    else:
        prov_status = {"code": f"ProvisioningState/{prov_word}", "level": "Info",
                       "displayStatus": "Updating" if prov_word == "updating" else "Provisioning succeeded", "time": now(0.4 if prov_word == "updating" else 300)}
    power = {"running": ("PowerState/running", "VM running"), "deallocated": ("PowerState/deallocated", "VM deallocated")}[v["power"]]
    view = {"computerName": computer} if v["power"] == "running" else {}
    if v["power"] == "running":
        view["osName"] = "Windows Server 2022 Datacenter Azure Edition" if win and v["img"] is None else "Windows Server 2012 R2 Datacenter" if win else "ubuntu"
        view["osVersion"] = "Microsoft Windows NT 10.0.20348.0" if win and v["img"] is None else "Microsoft Windows NT 6.3.9600.0" if win else "22.04"
    if v["power"] == "running" and v["agent"] != "none":
        agent_version = v["agent_version"] or (WIN_AGENT if win else LIN_AGENT)
        if v["agent"] == "notready":
            agent = {"vmAgentVersion": "Unknown", "statuses": [{"code": "ProvisioningState/Unavailable", "level": "Warning",
                     "displayStatus": "Not Ready", "message": "VM Agent is unresponsive.", "time": now(27)}]}
        else:
            agent = {"vmAgentVersion": agent_version, "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                     "displayStatus": "Ready", "message": "GuestAgent is running and processing the extensions." if win else
                     "Guest Agent is running", "time": now(0.05)}]}
        agent["extensionHandlers"] = []
        for e in v["exts"]:
            full = f"{e['publisher']}.{e['type']}"
            hstate = {"succeeded": ("ProvisioningState/succeeded", "Info", "Ready"),
                      "failed": ("ProvisioningState/failed", "Error", "Not Ready"),
                      "transitioning": ("ProvisioningState/transitioning", "Info", "Transitioning")}[e["state"]]
            if v["agent"] == "notready":
                hstate = ("ProvisioningState/Unavailable", "Warning", "Not Ready")
            agent["extensionHandlers"].append({"type": full, "typeHandlerVersion": e["version"],
                                               "status": {"code": hstate[0], "level": hstate[1], "displayStatus": hstate[2]}})
        view["vmAgent"] = agent
    view["disks"] = [{"name": dn, "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                                                "displayStatus": "Provisioning succeeded", "time": v["created"]}]}
                     | ({"encryptionSettings": [ade_settings(a, dn)["encryptionSettings"][0] | {"enabled": True}]} if a else {})
                     for dn, _s, a, _o in all_disks]
    if v["power"] == "running":
        exts = []
        for e in v["exts"]:
            full = f"{e['publisher']}.{e['type']}"
            if e["state"] == "succeeded":
                st = {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
                      "message": e["message"] or "Enable succeeded"}
            elif e["state"] == "failed":
                st = {"code": "ProvisioningState/failed/-1" if "Snapshot" in e["type"] else "ProvisioningState/failed/1009",
                      "level": "Error", "displayStatus": "Provisioning failed", "message": e["message"]}
            else:
                st = {"code": "ProvisioningState/transitioning", "level": "Info", "displayStatus": "Transitioning",
                      "message": e["message"]}
            st["time"] = now(1.5)
            exts.append({"name": e["name"], "type": full, "typeHandlerVersion": e["version"], "statuses": [st]})
        if exts:
            view["extensions"] = exts
    view["hyperVGeneration"] = "V2" if v["img"] is None else "V1"
    view["statuses"] = [prov_status, {"code": power[0], "level": "Info", "displayStatus": power[1]}]
    view["platformFaultDomain"] = 0
    instance_views[vid] = view


# ------------------------------------------------------------------ backup: protected items, RPCs, jobs
by_key = {(v["rg"], v["name"]): v for v in VMS}
protected_items, rpcs, jobs = [], [], []


def container(rg, name):
    return f"iaasvmcontainerv2;{rg.lower()};{name.lower()}"


def item_body(vault, rg, name, *, source_id, policy_name, state="Protected", status="Healthy", health="Passed",
              last_status="Completed", last_ok=21.0, details=None, deleted=False):
    cont = container(rg, name)
    pol = POLICIES.get((vault, policy_name)) if policy_name else None
    props = {
        "friendlyName": name, "virtualMachineId": source_id, "protectionStatus": status, "protectionState": state,
        "healthStatus": health, "lastBackupStatus": last_status, "lastBackupTime": now(last_ok),
        "protectedItemDataId": str(int(gid("dataid", vault, rg, name).replace("-", "")[:15], 16)),
        "protectedItemType": "Microsoft.Compute/virtualMachines", "backupManagementType": "AzureIaasVM",
        "workloadType": "VM", "containerName": cont, "sourceResourceId": source_id,
        "lastRecoveryPoint": now(last_ok - 0.3), "isScheduledForDeferredDelete": False, "isArchiveEnabled": False,
        "softDeleteRetentionPeriodInDays": 14, "vaultId": vault_id(vault),
    }
    if pol:
        props["policyId"] = pol["id"]
        props["policyName"] = policy_name
        if pol["v2"]:
            props["policyType"] = "V2"
    else:
        props["policyId"] = ""
    if details:
        props["healthDetails"] = details
    iid = (f"{vault_id(vault, 'upper')}/backupFabrics/Azure/protectionContainers/IaasVMContainer;{cont}"
           f"/protectedItems/VM;{cont}")
    return {"id": iid, "name": f"VM;{cont}", "type": "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems",
            "properties": props}


def job(vault, rg, name, start_h, *, status="Completed", minutes=28, user=False, op="Backup", errors=None, actions=None):
    jid = gid("job", vault, rg, name, start_h, op, status)
    props = {"jobType": "AzureIaaSVMJob", "entityFriendlyName": name, "backupManagementType": "AzureIaasVM",
             "operation": op, "status": status, "startTime": now(start_h), "activityId": gid("activity", jid),
             "containerName": container(rg, name), "isUserTriggered": user, "virtualMachineVersion": "Compute",
             "duration": f"PT{int(minutes)}M{int(jid[:4], 16) % 60}.{int(jid[9:13], 16) % 10**7:07d}S"}
    if status in ("InProgress", "Cancelling"):
        elapsed = start_h * 60
        props["duration"] = f"PT{int(elapsed // 60)}H{int(elapsed % 60)}M5.2716643S"
        props["actionsInfo"] = actions or (["Cancellable"] if status == "InProgress" else [])
    else:
        props["endTime"] = now(start_h - minutes / 60)
        props["actionsInfo"] = actions or (["Retriable"] if status == "Failed" else [])
    props["errorDetails"] = errors or []
    jobs.append({"id": f"{vault_id(vault, 'upper')}/backupJobs/{jid}", "name": jid,
                 "type": "Microsoft.RecoveryServices/vaults/backupJobs", "properties": props})


def err(code, message, *recs):
    return [{"errorCode": code, "errorString": message, "errorTitle": "", "recommendations": list(recs)}]


ERR = {
    "agent": err("UserErrorGuestAgentStatusUnavailable", "VM Agent unable to communicate with Azure Backup",
                 "Ensure the VM agent is installed, running and up to date, and that the VM can reach Azure over the network."),
    "snapshot": err("ExtensionOperationFailedForManagedDisks", "VMSnapshot extension operation failed",
                    "Retry the backup. If the issue persists, check the VMSnapshot extension on the VM."),
    "provisioning": err("UserErrorVmProvisioningStateFailed", "The VM is in failed state",
                        "Fix the failed extension, restart the VM or redeploy it so that its provisioning state is Succeeded."),
    "disksize": err("UserErrorUnsupportedDiskSize", "The configured disk sizes is currently not supported by Azure Backup.",
                    "Azure Backup supports disks up to 32 TB; exclude the larger disk or reduce its size."),
}

RP_COUNT = {("rg-app-prod", "vm-app-02"): 16, ("rg-data-prod", "vm-sql-01"): 18, ("rg-web-prod", "vm-web-02"): 1}


def rpc(v, count, *, rg=None, source_id=None, latest_h=21.0, spacing_h=24.0, name=None):
    loc = v["loc"] if v else "westeurope"
    vmname = v["name"] if v else name
    rpc_rg = rg or f"AzureBackupRG_{loc}_1"
    rid = f"{P}/resourceGroups/{rpc_rg}/providers/Microsoft.Compute/restorePointCollections/AzureBackup_{vmname}_{int(gid('rpc', vmname, source_id)[:8], 16) % 10**11:011d}"
    points = []
    for i in range(count):
        t = latest_h + i * spacing_h
        rp_name = gid("rp", rid, i)
        points.append({"name": rp_name, "id": f"{rid}/restorePoints/{rp_name}", "type": "Microsoft.Compute/restorePointCollections/restorePoints",
                       "properties": {"excludeDisks": [], "sourceMetadata": {"vmId": gid("vmid", v["rg"], vmname) if v else gid("vmid", "gone", vmname),
                                      "location": loc, "hardwareProfile": {"vmSize": v["size"] if v else "Standard_F4s_v2"}},
                                      "provisioningState": "Succeeded", "consistencyMode": "ApplicationConsistent" if (v and v["power"] == "running") else "CrashConsistent",
                                      "timeCreated": now(t), "instantAccessDurationMinutes": 120}})
    rpcs.append({"id": rid, "name": ids_name(rid), "type": "Microsoft.Compute/restorePointCollections", "location": loc,
                 "tags": {"AzureBackupRGName": rpc_rg}, "properties": {
                     "source": {"id": source_id, "location": loc}, "restorePointCollectionId": gid("rpcid", rid),
                     "provisioningState": "Succeeded", "instantAccess": True, "restorePoints": points}})


def ids_name(rid):
    return rid.rstrip("/").split("/")[-1]


for v in VMS:
    if not v["backup"]:
        continue
    vault, pol_name = v["backup"]
    pol = POLICIES[(vault, pol_name)]
    it = v["item"]
    # Backup stores the VM id as it was given when protection was configured: lower-case resource group.
    source = vm_id(v, v["rg"].lower())
    last_ok = it.get("last_ok", 2.5 if pol["hourly"] else 21.0)
    protected_items.append(item_body(
        vault, v["rg"], v["name"], source_id=source, policy_name=None if "policy" in it and it["policy"] is None else pol_name,
        state=it.get("protectionState", "Protected"), status=it.get("protectionStatus", "Unhealthy" if it.get("lastBackupStatus") == "Failed" else "Healthy"),
        health=it.get("healthStatus", "Passed"), last_status=it.get("lastBackupStatus", "Completed"), last_ok=last_ok,
        details=it.get("healthDetails")))
    if it.get("protectionState") in ("ProtectionStopped", "BackupsSuspended"):
        rpc(v, 1, source_id=vm_id(v, v["rg"].upper()), latest_h=last_ok)
        continue
    # restore points: the collection names the source VM in the casing of the VM model (upper-case RG for data VMs)
    if pol["hourly"]:
        # every 4 h in a 16 h window: 4 a day over the instant-restore retention (what an Enhanced
        # policy can keep; BCDR501 fails a VM holding more)
        count, spacing = pol["instant"] * 4, 24 / 4
    elif pol["v2"]:
        count, spacing = pol["instant"], 24
    else:
        count, spacing = pol["instant"], 24
    count = RP_COUNT.get((v["rg"], v["name"]), count)
    if v["name"] == "vm-sql-01":
        spacing = 6
    rpc(v, count, rg="rg-rp-sql-1" if pol_name == "Std-Daily-SQL" else None, source_id=vm_id(v),
        latest_h=last_ok if v["name"] != "vm-sql-01" else 3.1, spacing_h=spacing)
    # jobs (last 3 days; hourly policies: last 2 days every 4 h)
    name, rg = v["name"], v["rg"]
    if name == "vm-web-02":
        job(vault, rg, name, 74)
        job(vault, rg, name, 50, status="Failed", minutes=31, errors=ERR["agent"])
        job(vault, rg, name, 26, status="Failed", minutes=30, errors=ERR["agent"])
    elif name == "vm-web-03":
        job(vault, rg, name, 78)
        job(vault, rg, name, 54)
        job(vault, rg, name, 30, status="InProgress")  # BCDR701: in progress for ~30 h
    elif name == "vm-app-03":
        job(vault, rg, name, 69)
        job(vault, rg, name, 45)
        job(vault, rg, name, 21, status="Failed", minutes=62, errors=ERR["snapshot"])
    elif name == "vm-app-04":
        job(vault, rg, name, 70)
        job(vault, rg, name, 46)
        job(vault, rg, name, 22, status="Failed", minutes=4, errors=ERR["provisioning"])
    elif name == "vm-archive-01":
        job(vault, rg, name, 70)
        job(vault, rg, name, 46, status="Failed", minutes=2, errors=ERR["disksize"])
        job(vault, rg, name, 22, status="Failed", minutes=2, errors=ERR["disksize"])
    elif name == "vm-sql-01":
        for d in range(7):
            job(vault, rg, name, 21 + 24 * d, minutes=41)
        # An automation runbook triggers an on-demand backup every 6 hours (BCDR503, and the 18
        # restore points of BCDR501).
        for k in range(28):
            job(vault, rg, name, 3 + 6 * k, minutes=37, user=True)
    elif name == "vm-files-neu-01":
        job(vault, rg, name, 45)
        job(vault, rg, name, 21)
        job(vault, rg, name, 3, status="Cancelling", user=True)  # BCDR704: cancelling for 3 h
    elif pol["hourly"]:
        for k in range(8):
            job(vault, rg, name, 2.5 + 4 * k + (0 if k < 4 else 8), minutes=12)
    else:
        for h in (69, 45, 21):
            job(vault, rg, name, h + (0.5 if v["power"] == "deallocated" else 0), minutes=18 if v["power"] == "deallocated" else 27)

# vm-app-05 used to be protected in the legacy vault: stopped there (retain data), and a backup job
# from before the move is still InProgress there (BCDR702).
va5 = by_key[("rg-app-prod", "vm-app-05")]
protected_items.append(item_body("rsv-legacy-weu", "rg-app-prod", "vm-app-05", source_id=vm_id(va5), policy_name=None,
                                 state="ProtectionStopped", status="Healthy", last_ok=6 * 24 + 3))
job("rsv-legacy-weu", "rg-app-prod", "vm-app-05", 6 * 24 + 1, status="InProgress")

# A VM deleted without stopping its backup: the protected item and its restore point collection remain.
gone_id = f"{P}/resourceGroups/rg-app-prod/providers/Microsoft.Compute/virtualMachines/vm-batch-07"
protected_items.append(item_body("rsv-prod-weu", "rg-app-prod", "vm-batch-07", source_id=gone_id, policy_name="DefaultPolicy",
                                 state="ProtectionError", status="Unhealthy", health="ActionRequired",
                                 last_status="Failed", last_ok=9 * 24 + 21))
rpc(None, 2, source_id=gone_id.replace("rg-app-prod", "RG-APP-PROD"), latest_h=9 * 24 + 21, name="vm-batch-07")

# ------------------------------------------------------------------ Site Recovery (A2A west -> north in rsv-prod-neu)
asr_items, asr_jobs = [], []
NEU = "rsv-prod-neu"
FAB_P, FAB_R = "asr-a2a-default-westeurope", "asr-a2a-default-northeurope"
CONT_P, CONT_R = f"{FAB_P}-container", f"{FAB_R}-container"
ASR_POLICY = f"{vault_id(NEU, 'upper')}/replicationPolicies/24-hour-retention-policy"


def asr_item(v, *, state="Protected", state_desc="Protected", health="Normal", errors=(), active="Primary",
             ops=("PlannedFailover", "UnplannedFailover", "TestFailover", "DisableProtection", "RepairReplication"),
             rpo=42, rpo_time=0.1, agent_update=False, failover_time=None, recovery_vm=None, monitoring=None, recovery_point=True):
    name = gid("asr-item", v["rg"], v["name"])
    rid = (f"{vault_id(NEU, 'upper')}/replicationFabrics/{FAB_P}/replicationProtectionContainers/{CONT_P}"
           f"/replicationProtectedItems/{name}")
    win = v["os"] == "Windows"
    disks_ = [(disk_name_os(v), 127 if win else 30)] + [(d[0], d[1]) for d in v["data"]]
    psd = {
        "instanceType": "A2A", "fabricObjectId": vm_id(v, v["rg"]).lower(),
        "primaryFabricLocation": "westeurope", "recoveryFabricLocation": "northeurope",
        "osType": v["os"], "recoveryAzureVMSize": v["size"], "recoveryAzureVMName": v["name"],
        "recoveryAzureResourceGroupId": f"{P}/resourceGroups/rg-web-prod-asr" if v["rg"] == "rg-web-prod" else f"{P}/resourceGroups/{v['rg']}-asr",
        "recoveryCloudService": None, "recoveryAvailabilitySet": None,
        "selectedRecoveryAzureNetworkId": f"{P}/resourceGroups/rg-network-neu/providers/Microsoft.Network/virtualNetworks/vnet-prod-neu",
        "monitoringPercentageCompletion": monitoring[1] if monitoring else None,
        "monitoringJobType": monitoring[0] if monitoring else None,
        "lastHeartbeat": now(0.05), "agentVersion": "9.56.6879.1" if agent_update else "9.62.7172.1",
        "agentExpiryDate": now(-24 * 200) if not agent_update else now(-24 * 12),
        "isReplicationAgentUpdateRequired": agent_update, "isReplicationAgentCertificateUpdateRequired": False,
        "vmProtectionState": "Protected" if state == "Protected" else state, "vmProtectionStateDescription": state_desc,
        "lifecycleId": gid("lifecycle", rid), "vmEncryptionType": "NotEncrypted",
        "autoProtectionOfDataDisk": "Disabled", "isAgentUpgradeable": not agent_update, "osFamilyName": v["os"],
        "protectedManagedDisks": [{
            "diskId": disk_id(v, dn), "diskName": dn, "diskType": "Premium_LRS", "diskCapacityInBytes": size * 1024 ** 3,
            "recoveryResourceGroupId": f"{P}/resourceGroups/rg-web-prod-asr", "recoveryReplicaDiskAccountType": "Premium_LRS",
            "recoveryTargetDiskAccountType": "Premium_LRS", "monitoringPercentageCompletion": monitoring[1] if monitoring else None,
            "monitoringJobType": monitoring[0] if monitoring else None, "dataPendingInStagingStorageAccountInMB": 0.0,
            "dataPendingAtSourceAgentInMB": 0.0, "diskState": "InitialReplicationPending" if monitoring else "Protected",
            "allowedDiskLevelOperation": [], "isDiskEncrypted": False, "isDiskKeyEncrypted": False, "resyncRequired": False}
            for dn, size in disks_],
        "vmNics": [],
    }
    if rpo is not None:
        psd["rpoInSeconds"] = rpo
        psd["lastRpoCalculatedTime"] = now(rpo_time)
    if recovery_vm:
        psd["recoveryFabricObjectId"] = recovery_vm
    props = {
        "friendlyName": v["name"], "protectedItemType": "", "protectableItemId": None,
        "recoveryServicesProviderId": "", "primaryFabricFriendlyName": "West Europe", "primaryFabricProvider": "Azure",
        "recoveryFabricFriendlyName": "North Europe", "recoveryFabricId": f"{vault_id(NEU, 'upper')}/replicationFabrics/{FAB_R}",
        "primaryProtectionContainerFriendlyName": CONT_P, "recoveryProtectionContainerFriendlyName": CONT_R,
        "protectionState": state, "protectionStateDescription": state_desc, "activeLocation": active,
        "testFailoverState": "None", "testFailoverStateDescription": "None", "allowedOperations": list(ops),
        "replicationHealth": health, "failoverHealth": "Normal" if health != "Critical" else "Warning",
        "healthErrors": list(errors), "policyId": ASR_POLICY, "policyFriendlyName": "24-hour-retention-policy",
        "lastSuccessfulFailoverTime": failover_time, "lastSuccessfulTestFailoverTime": now(40 * 24) if recovery_point else None,
        "currentScenario": {"scenarioName": "None", "jobId": f"{vault_id(NEU, 'upper')}/replicationJobs/None", "startTime": "1753-01-01T01:01:01Z"},
        "failoverRecoveryPointId": None, "providerSpecificDetails": psd,
        "recoveryContainerId": f"{vault_id(NEU, 'upper')}/replicationFabrics/{FAB_R}/replicationProtectionContainers/{CONT_R}",
        "eventCorrelationId": gid("corr", rid),
    }
    asr_items.append({"id": rid, "name": name, "type": "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems",
                      "location": "northeurope", "properties": props})
    return rid, name


def health_error(code, summary, message, causes, action, level="Error", hours=2.0):
    return {"innerHealthErrors": [], "errorSource": "ProtectedItem", "errorType": "Replication", "errorLevel": level,
            "errorCategory": "Replication", "errorCode": code, "summaryMessage": summary, "errorMessage": message,
            "possibleCauses": causes, "recommendedAction": action, "creationTimeUtc": now(hours),
            "recoveryProviderErrorMessage": None, "entityId": None, "errorId": gid("health", code, summary), "customerResolvability": "Allowed"}


def V(rg, n):
    return by_key[(rg, n)]


asr_item(V("rg-web-prod", "vm-web-01"))
asr_item(V("rg-app-prod", "vm-app-01"), rpo=37)
# Agent update required (BCDR906).
asr_item(V("rg-app-prod", "vm-app-02"), rpo=51, agent_update=True)
# Initial replication still running: no recovery point yet (BCDR901), nothing to fail over to.
asr_item(V("rg-web-prod", "vm-web-05"), state="UnprotectedStatesBegin", state_desc="Initial replication in progress",
         ops=("DisableProtection",), rpo=None, monitoring=("InitialReplication", 42), recovery_point=False)
# Failed over to North Europe and committed; waiting for reprotect, but the recovery VM is deallocated (BCDR902).
web06_target = f"{P}/resourceGroups/rg-web-prod-asr/providers/Microsoft.Compute/virtualMachines/vm-web-06"
asr_item(V("rg-web-prod", "vm-web-06"), state="FailoverCommitted", state_desc="Failover committed", active="Recovery",
         ops=("ReverseReplicate", "DisableProtection"), rpo=None, failover_time=now(5 * 24 - 1), recovery_vm=web06_target.lower())
# Critical health, Site Recovery extension stuck (BCDR903, BCDR303).
asr_item(V("rg-data-prod", "vm-sql-02"), health="Critical", rpo=2900, rpo_time=0.2, errors=[
    health_error("150066", "Site Recovery extension operation is taking too long",
                 "The previous Site Recovery extension operation on the virtual machine vm-sql-02 is taking more time than expected.",
                 "The Site Recovery extension on the VM is stuck in the transitioning state, or the VM agent is not responding.",
                 "Check that the VM agent is running and the Site Recovery extension is not stuck; then retry the operation."),
    health_error("153007", "Replication of the virtual machine is lagging",
                 "No app-consistent recovery point has been generated for vm-sql-02 in the last 6 hours.",
                 "The VM's disk churn exceeds what the replication can keep up with, or the extension is unhealthy.",
                 "Check the VM's disk churn and the Site Recovery extension state.", level="Warning")])
# RPO far above an hour; health Warning (BCDR905).
asr_item(V("rg-app-prod", "vm-batch-02"), health="Warning", rpo=5400, rpo_time=0.1, errors=[
    health_error("153017", "RPO exceeds the configured threshold",
                 "The recovery point objective for vm-batch-02 is 90 minutes, above the 60 minute threshold.",
                 "High data churn on the source disks during batch runs.",
                 "Consider Premium disks or moving the batch window; monitor the churn of the source disks.", level="Warning")])

# An on-premises VMware server replicating to West Europe (InMageRcm), still in initial replication:
# no recovery point yet, so it could neither fail over nor (seeds/001) fail back.
erp_name = gid("asr-item", "vmware", "vmw-erp-01")
WEU = "rsv-prod-weu"
asr_items.append({
    "id": f"{vault_id(WEU, 'upper')}/replicationFabrics/contoso-vcenter-fabric/replicationProtectionContainers/contoso-vcenter-fabric-container/replicationProtectedItems/{erp_name}",
    "name": erp_name, "type": "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems",
    "location": "westeurope",
    "properties": {
        "friendlyName": "vmw-erp-01", "protectedItemType": "InMageRcm", "primaryFabricFriendlyName": "contoso-vcenter",
        "primaryFabricProvider": "InMageRcmFabric", "recoveryFabricFriendlyName": "Microsoft Azure",
        "recoveryFabricId": "Microsoft Azure", "protectionState": "UnprotectedStatesBegin",
        "protectionStateDescription": "Initial replication in progress", "activeLocation": "Primary",
        "testFailoverState": "None", "testFailoverStateDescription": "None", "allowedOperations": ["DisableProtection"],
        "replicationHealth": "Normal", "failoverHealth": "Normal", "healthErrors": [],
        "policyId": f"{vault_id(WEU, 'upper')}/replicationPolicies/vmware-24h-policy", "policyFriendlyName": "vmware-24h-policy",
        "lastSuccessfulFailoverTime": None, "lastSuccessfulTestFailoverTime": None,
        "currentScenario": {"scenarioName": "None", "jobId": f"{vault_id(WEU, 'upper')}/replicationJobs/None", "startTime": "1753-01-01T01:01:01Z"},
        "failoverRecoveryPointId": None,
        "providerSpecificDetails": {
            "instanceType": "InMageRcm", "internalIdentifier": gid("inmage", "vmw-erp-01"), "fabricDiscoveryMachineId": gid("disc", "vmw-erp-01"),
            "discoveryType": "vCenter", "processServerName": "contoso-ps-01", "osType": "Windows", "firmwareType": "BIOS",
            "targetGeneration": "V1", "targetVmName": "vmw-erp-01", "targetVmSize": "Standard_E8s_v5",
            "targetResourceGroupId": f"{P}/resourceGroups/rg-erp-dr", "targetLocation": "westeurope",
            "targetNetworkId": f"{P}/resourceGroups/rg-network/providers/Microsoft.Network/virtualNetworks/vnet-prod-weu",
            "failoverRecoveryPointId": None, "lastRecoveryPointReceived": None, "lastRpoInSeconds": None,
            "lastRpoCalculatedTime": None, "lastRecoveryPointId": None, "initialReplicationProgressPercentage": 37,
            "initialReplicationProcessedBytes": 412316860416, "initialReplicationTransferredBytes": 398458880000,
            "initialReplicationProgressHealth": "Normal", "resyncRequired": False, "agentUpgradeState": "None",
            "isLastUpgradeSuccessful": None, "mobilityAgentDetails": {"version": "9.62.7172.1", "latestVersion": "9.62.7172.1",
                                                                       "isUpgradeable": "False", "lastHeartbeatUtc": now(0.1)},
            "isAgentRegistrationSuccessfulAfterFailover": None,
        },
    }})


def asr_job(scenario, friendly, target, state, start_h, minutes, *, errors=None, desc=None, target_id=None):
    jid = gid("asr-job", scenario, target, start_h)
    asr_jobs.append({
        "id": f"{vault_id(NEU, 'upper')}/replicationJobs/{jid}", "name": jid, "type": "Microsoft.RecoveryServices/vaults/replicationJobs",
        "location": "northeurope",
        "properties": {"activityId": f"{gid('asr-activity', jid)} ActivityId: {gid('asr-activity2', jid)}",
                       "scenarioName": scenario, "friendlyName": friendly, "state": state,
                       "stateDescription": desc or {"Succeeded": "Completed", "Failed": "Failed"}[state],
                       "tasks": [], "errors": errors or [], "startTime": now(start_h), "endTime": now(start_h - minutes / 60),
                       "allowedActions": ["Restart"] if state == "Failed" else [],
                       "targetObjectId": target_id or gid("asr-item", "target", target), "targetObjectName": target,
                       "targetInstanceType": "ProtectionEntity", "customDetails": {"instanceType": "AsrJobDetails", "affectedObjectDetails": {}}}})


asr_job("EnableDr", "Enable replication", "vm-web-01", "Succeeded", 60 * 24, 14, target_id=gid("asr-item", "rg-web-prod", "vm-web-01"))
asr_job("TestFailover", "Test failover", "vm-web-01", "Succeeded", 40 * 24, 9, target_id=gid("asr-item", "rg-web-prod", "vm-web-01"))
asr_job("UnplannedFailover", "Failover", "vm-web-06", "Succeeded", 5 * 24, 11, target_id=gid("asr-item", "rg-web-prod", "vm-web-06"))
asr_job("CommitFailover", "Commit", "vm-web-06", "Succeeded", 5 * 24 - 1, 2, target_id=gid("asr-item", "rg-web-prod", "vm-web-06"))
asr_job("EnableDr", "Enable replication", "vm-web-05", "Succeeded", 8, 21, target_id=gid("asr-item", "rg-web-prod", "vm-web-05"))
# Someone tried to protect the jump box; the Site Recovery extension timed out (BCDR904, 151076).
asr_job("EnableDr", "Enable replication", "vm-jump-01", "Failed", 50, 95, errors=[{
    "serviceErrorDetails": {"code": "151076", "message": "Protection couldn't be enabled for the virtual machine.",
                            "possibleCauses": "The Site Recovery extension operation timed out.",
                            "recommendedAction": "Ensure the VM agent is running and up to date, then retry the operation.",
                            "activityId": gid("svc-activity", "jump")},
    "providerErrorDetails": {"errorCode": 151076, "errorMessage": "Site Recovery extension operation on the virtual machine vm-jump-01 timed out.",
                             "errorId": gid("prov-err", "jump"), "possibleCauses": "The VM agent is unresponsive or out of date, or the extension installation failed.",
                             "recommendedAction": "Check that the VM agent is Ready and that the VM can reach the Site Recovery service endpoints; then retry enable replication."},
    "errorLevel": "Error", "creationTime": now(48.5), "taskId": gid("task", "jump")}])

# ------------------------------------------------------------------ locks
def lock(scope, name, level, notes):
    return {"id": f"{scope}/providers/Microsoft.Authorization/locks/{name}", "name": name, "type": "Microsoft.Authorization/locks",
            "properties": {"level": level, "notes": notes, "owners": []}}


locks = [
    # BCDR401: Azure Policy put a delete lock on every resource group, including the one Azure Backup
    # keeps its restore points in.
    lock(f"{P}/resourceGroups/AzureBackupRG_westeurope_1", "rg-delete-lock", "CanNotDelete", "Applied by policy 'lock-all-resource-groups'"),
    # BCDR401 (rule-catalog-v2 A): the custom instant-restore resource group of the Std-Daily-SQL policy
    # (instantRPDetails prefix rg-rp-sql-).
    lock(f"{P}/resourceGroups/rg-rp-sql-1", "do-not-delete", "CanNotDelete", "DBA team: keep SQL restore points"),
    # BCDR402: a lock on a backed-up VM's restore point collection itself.
    lock(next(r["id"] for r in rpcs if r["name"].startswith("AzureBackup_vm-app-02_")), "keep-rp", "CanNotDelete",
         "Change freeze: keep this VM's restore points"),
    # BCDR403: a ReadOnly lock on a backed-up VM.
    lock(f"{P}/resourceGroups/rg-fin-prod/providers/Microsoft.Compute/virtualMachines/vm-hr-01", "freeze-during-audit", "ReadOnly", "Audit freeze"),
    # Healthy practice: delete locks on the vaults and the domain controllers' group.
    lock(vault_id("rsv-prod-weu"), "vault-delete-lock", "CanNotDelete", "Protect the vault"),
    lock(vault_id("rsv-prod-neu"), "vault-delete-lock", "CanNotDelete", "Protect the vault"),
    lock(f"{P}/resourceGroups/rg-identity-neu", "identity-delete-lock", "CanNotDelete", "Domain controllers"),
]

# an unattached disk, and a disk of the deleted VM
unattached = {"id": f"{P}/resourceGroups/RG-DATA-PROD/providers/Microsoft.Compute/disks/disk-old-export-01", "name": "disk-old-export-01",
              "type": "Microsoft.Compute/disks", "location": "westeurope", "sku": {"name": "StandardSSD_LRS", "tier": "Standard"},
              "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 256, "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                             "timeCreated": "2023-02-01T08:00:00Z", "provisioningState": "Succeeded", "diskState": "Unattached",
                             "diskSizeBytes": 256 * 1024 ** 3, "uniqueId": gid("disk", "old-export"), "networkAccessPolicy": "AllowAll",
                             "publicNetworkAccess": "Enabled", "tier": "E15"}}
disks.append(unattached)

# ------------------------------------------------------------------ second edition: vault settings, Site Recovery
# (rule-catalog-v2 section B, this block's rules: BCDR004, 005, 805, 907-915; BCDR006 and BCDR007 need a vault
# with more than 1,000 VMs and a subscription with 950 resource groups, which the demo does not hold.)
def asr_second_edition():
    by_name = {a["properties"]["friendlyName"]: a for a in asr_items}
    weu_vault = next(v for v in vaults if v["name"] == "rsv-legacy-weu")
    # BCDR004: nobody is told when a job of the legacy vault fails.
    weu_vault["properties"]["monitoringSettings"]["azureMonitorAlertSettings"]["alertsForAllJobFailures"] = "Disabled"
    # BCDR805: the jump box's backup was stopped with "delete data": soft-deleted, purged in 9 days.
    jump = by_key[("rg-mgmt", "vm-jump-01")]
    body = item_body("rsv-prod-weu", "rg-mgmt", "vm-jump-01", source_id=vm_id(jump, "rg-mgmt"), policy_name=None,
                     state="ProtectionStopped", status="Healthy", last_ok=30 * 24)
    body["properties"].update({"isScheduledForDeferredDelete": True, "deferredDeleteTimeInUTC": now(-9 * 24),
                               "deferredDeleteTimeRemaining": "8.23:59:00"})
    protected_items.append(body)
    # BCDR907: vm-sql-02's data disk was added after replication was enabled: not replicated.
    sql2 = by_name["vm-sql-02"]["properties"]["providerSpecificDetails"]
    sql2["protectedManagedDisks"] = [d for d in sql2["protectedManagedDisks"] if "_data_" not in d["diskName"]]
    sql2["unprotectedDisks"] = [{"diskLunId": 0, "diskAutoProtectionStatus": "Disabled"}]
    # BCDR908: vm-batch-02's last drill was four months ago.
    by_name["vm-batch-02"]["properties"]["lastSuccessfulTestFailoverTime"] = now(120 * 24)
    # BCDR910: vm-web-01's test failover 40 days ago was never cleaned up.
    web01 = by_name["vm-web-01"]["properties"]
    web01["allowedOperations"] = ["TestFailoverCleanup", "DisableProtection"]
    web01["testFailoverState"], web01["testFailoverStateDescription"] = "TestFailoverCompleted", "Test failover completed"
    # BCDR913: vm-app-09 was deleted; its replication was never disabled.
    gone = dict(name="vm-app-09", rg="rg-app-prod", id_rg="rg-app-prod", os="Linux", size="Standard_D2s_v5", data=[])
    asr_item(gone, rpo=44)
    # Recovery plans (BCDR914): the storefront plan holds vm-web-05, still in initial replication.
    def plan_items(*names):
        return [{"id": by_name[n]["id"], "virtualMachineId": by_name[n]["name"]} for n in names]

    for plan, names in (("rp-storefront", ("vm-web-01", "vm-web-05")), ("rp-orders", ("vm-app-01", "vm-app-02"))):
        recovery_plans.append({
            "id": f"{vault_id(NEU, 'upper')}/replicationRecoveryPlans/{plan}", "name": plan,
            "type": "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans",
            "properties": {"friendlyName": plan, "primaryFabricId": f"{vault_id(NEU, 'upper')}/replicationFabrics/{FAB_P}",
                           "primaryFabricFriendlyName": "West Europe", "recoveryFabricFriendlyName": "North Europe",
                           "recoveryFabricId": f"{vault_id(NEU, 'upper')}/replicationFabrics/{FAB_R}",
                           "failoverDeploymentModel": "ResourceManager", "replicationProviders": ["A2A"],
                           "allowedOperations": ["PlannedFailover", "UnplannedFailover", "TestFailover"],
                           "lastTestFailoverTime": now(40 * 24) if plan == "rp-storefront" else None,
                           "currentScenario": {"scenarioName": "None"},
                           "groups": [{"groupType": "Shutdown", "replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": []},
                                      {"groupType": "Failover", "replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": []},
                                      {"groupType": "Boot", "replicationProtectedItems": plan_items(*names),
                                       "startGroupActions": [], "endGroupActions": []}]}})
    # Container mapping of the A2A pair: Site Recovery manages the Mobility agent (BCDR912 passes on it).
    container_mappings.append({
        "id": f"{vault_id(NEU, 'upper')}/replicationFabrics/{FAB_P}/replicationProtectionContainers/{CONT_P}"
              f"/replicationProtectionContainerMappings/{CONT_P}-to-{CONT_R}",
        "name": f"{CONT_P}-to-{CONT_R}", "type": "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectionContainerMappings",
        "properties": {"targetProtectionContainerId": f"{vault_id(NEU, 'upper')}/replicationFabrics/{FAB_R}/replicationProtectionContainers/{CONT_R}",
                       "targetProtectionContainerFriendlyName": CONT_R, "health": "Normal", "healthErrorDetails": [],
                       "policyId": ASR_POLICY, "state": "Paired", "sourceProtectionContainerFriendlyName": CONT_P,
                       "sourceFabricFriendlyName": "West Europe", "targetFabricFriendlyName": "North Europe",
                       "policyFriendlyName": "24-hour-retention-policy",
                       "providerSpecificDetails": {"instanceType": "A2A", "agentAutoUpdateStatus": "Enabled",
                                                   "automationAccountArmId": f"{P}/resourceGroups/rg-mgmt/providers/Microsoft.Automation/automationAccounts/aa-asr-updates"}}})
    # The VMware replication appliance of vmw-erp-01 (modernized, InMageRcm): its process server stopped
    # sending heartbeats 40 minutes ago (BCDR915).
    fabric_id = f"{vault_id(WEU, 'upper')}/replicationFabrics/contoso-vcenter-fabric"
    def appliance(name, minutes, **kw):
        return {"id": gid("appliance", name), "name": name, "fqdn": f"{name}.contoso.local", "biosId": gid("bios", name),
                "fabricObjectId": gid("fabobj", name), "version": "9.62.7172.1", "lastHeartbeatUtc": now(minutes / 60),
                "health": "Normal", "healthErrors": [], **kw}

    replication_fabrics.append({
        "id": fabric_id, "name": "contoso-vcenter-fabric", "type": "Microsoft.RecoveryServices/vaults/replicationFabrics",
        "location": "westeurope",
        "properties": {"friendlyName": "contoso-vcenter", "encryptionDetails": {"kekState": "None"},
                       "rolloverEncryptionDetails": {"kekState": "None"}, "internalIdentifier": gid("fabric", "vcenter"),
                       "bcdrState": "Valid", "health": "Normal", "healthErrorDetails": [],
                       "customDetails": {"instanceType": "InMageRcm", "vmwareSiteId": f"{P}/resourceGroups/rg-mgmt/providers/Microsoft.OffAzure/VMwareSites/contoso-site",
                                         "processServers": [appliance("contoso-ps-01", 40, health="Critical")],
                                         "rcmProxies": [appliance("contoso-appliance-01", 1)],
                                         "reprotectAgents": [appliance("contoso-rpa-01", 2)],
                                         "replicationAgents": [], "pushInstallers": [], "marsAgents": [], "dras": []}}})


recovery_plans, container_mappings, replication_fabrics, recovery_points = [], [], [], []
asr_second_edition()
# ------------------------------------------------------------------ network and key vault (BCDR204, 304, 604-608)
# Kept in one block that only adds resources and adjusts a few VMs after they are built, so that
# changes to the VM and backup sections above stay easy to merge.
NET_RG = {"westeurope": "rg-network", "northeurope": "rg-network-neu"}
VNETS = {  # name -> (location, address space, {subnet: (prefix, nsg or None, route table or None)})
    "vnet-prod-weu": ("westeurope", "10.10.0.0/16", {
        "snet-web": ("10.10.1.0/24", "nsg-snet-web", None), "snet-app": ("10.10.2.0/24", "nsg-snet-app", None),
        "snet-data": ("10.10.3.0/24", "nsg-snet-data", "rt-snet-data"), "snet-fin": ("10.10.4.0/24", "nsg-snet-fin", None),
        "snet-mgmt": ("10.10.5.0/24", None, None)}),
    "vnet-prod-neu": ("northeurope", "10.20.0.0/16", {
        "snet-identity": ("10.20.1.0/24", "nsg-snet-identity", None), "snet-files": ("10.20.2.0/24", None, None),
        "snet-dr": ("10.20.3.0/24", "nsg-snet-dr", None)}),
}
SUBNET_OF_RG = {"rg-web-prod": "snet-web", "rg-app-prod": "snet-app", "rg-app-test": "snet-app", "rg-data-prod": "snet-data",
                "rg-fin-prod": "snet-fin", "rg-mgmt": "snet-mgmt", "rg-identity-neu": "snet-identity",
                "rg-files-neu": "snet-files", "rg-web-prod-asr": "snet-dr"}


def net_id(loc, kind, name):
    return f"{P}/resourceGroups/{NET_RG[loc]}/providers/Microsoft.Network/{kind}/{name}"


def nsg_rule_body(nsg, name, priority, access, *, dest="*", ports="*", protocol="*", direction="Outbound", source="*",
                  default=False, description=None):
    props = {"provisioningState": "Succeeded", "protocol": protocol, "sourcePortRange": "*", "sourceAddressPrefix": source,
             "access": access, "priority": priority, "direction": direction}
    if description:
        props["description"] = description
    props.update({"destinationPortRanges": list(ports)} if isinstance(ports, tuple) else {"destinationPortRange": ports})
    props.update({"destinationAddressPrefixes": list(dest)} if isinstance(dest, tuple) else {"destinationAddressPrefix": dest})
    kind = "defaultSecurityRules" if default else "securityRules"
    return {"name": name, "id": f"{nsg}/{kind}/{name}", "properties": props}


def nsg_body(loc, name, custom, rg=None):
    nid = net_id(loc, "networkSecurityGroups", name) if rg is None else \
        f"{P}/resourceGroups/{rg}/providers/Microsoft.Network/networkSecurityGroups/{name}"
    defaults = [
        nsg_rule_body(nid, "AllowVnetInBound", 65000, "Allow", dest="VirtualNetwork", direction="Inbound", source="VirtualNetwork", default=True),
        nsg_rule_body(nid, "AllowAzureLoadBalancerInBound", 65001, "Allow", direction="Inbound", source="AzureLoadBalancer", default=True),
        nsg_rule_body(nid, "DenyAllInBound", 65500, "Deny", direction="Inbound", default=True),
        nsg_rule_body(nid, "AllowVnetOutBound", 65000, "Allow", dest="VirtualNetwork", source="VirtualNetwork", default=True),
        nsg_rule_body(nid, "AllowInternetOutBound", 65001, "Allow", dest="Internet", default=True),
        nsg_rule_body(nid, "DenyAllOutBound", 65500, "Deny", default=True),
    ]
    return {"name": name, "id": nid, "type": "Microsoft.Network/networkSecurityGroups", "location": loc,
            "etag": f"W/\"{gid('etag', nid)}\"", "properties": {
                "provisioningState": "Succeeded", "resourceGuid": gid("nsg", nid),
                "securityRules": [nsg_rule_body(nid, *r[:3], **r[3]) for r in custom], "defaultSecurityRules": defaults}}


HARDENED = [  # outbound locked down, with the backup and replication paths opened first
    ("allow-storage-weu", 100, "Allow", dict(dest="Storage.WestEurope", ports="443", protocol="Tcp")),
    ("allow-azure-backup", 110, "Allow", dict(dest="AzureBackup", ports="443", protocol="Tcp")),
    ("allow-site-recovery", 120, "Allow", dict(dest="AzureSiteRecovery", ports="443", protocol="Tcp")),
    ("allow-entra-id", 130, "Allow", dict(dest="AzureActiveDirectory", ports="443", protocol="Tcp")),
    ("allow-vnet-out", 200, "Allow", dict(dest="VirtualNetwork")),
    ("deny-internet-out", 4000, "Deny", dict(dest="Internet", description="No direct internet egress")),
]
network_security_groups = [
    nsg_body("westeurope", "nsg-snet-web", [("allow-https-in", 100, "Allow", dict(dest="*", ports="443", protocol="Tcp",
                                                                               direction="Inbound", source="Internet"))]),
    nsg_body("westeurope", "nsg-snet-app", HARDENED),
    nsg_body("westeurope", "nsg-snet-data", [("allow-sql-from-app", 100, "Allow", dict(dest="10.10.3.0/24", ports="1433", protocol="Tcp",
                                                                                     direction="Inbound", source="10.10.2.0/24"))]),
    nsg_body("westeurope", "nsg-snet-fin", [("allow-web-in", 100, "Allow", dict(dest="*", ports=("443", "8443"), protocol="Tcp",
                                                                             direction="Inbound", source="10.10.1.0/24"))]),
    nsg_body("northeurope", "nsg-snet-identity", [("allow-ad-in", 100, "Allow", dict(dest="*", ports=("53", "88", "389", "445"),
                                                                                  direction="Inbound", source="VirtualNetwork"))]),
    nsg_body("northeurope", "nsg-snet-dr", []),
    # BCDR304: the batch server's NIC allows AzureCloud of the DR region only (copied from a North
    # Europe template), then denies the internet: Storage and Backup in West Europe are blocked.
    nsg_body("westeurope", "vm-batch-02-nsg", [
        ("allow-azurecloud", 200, "Allow", dict(dest="AzureCloud.northeurope", ports="443", protocol="Tcp")),
        ("deny-internet-out", 4000, "Deny", dict(dest="Internet"))], rg="rg-app-prod"),
    # BCDR304: a deny on 443 only, on the NIC of vm-app-03; its subnet's NSG would allow the traffic.
    nsg_body("westeurope", "vm-app-03-nsg", [
        ("deny-https-out", 150, "Deny", dict(dest="*", ports="443", protocol="Tcp", description="Egress review 2026-10"))],
        rg="rg-app-prod"),
]
NIC_NSG = {("rg-app-prod", "vm-batch-02"): "vm-batch-02-nsg", ("rg-app-prod", "vm-app-03"): "vm-app-03-nsg"}

# BCDR304 (info): the data subnet's default route goes through the hub firewall.
route_tables = [{
    "name": "rt-snet-data", "id": net_id("westeurope", "routeTables", "rt-snet-data"), "type": "Microsoft.Network/routeTables",
    "location": "westeurope", "properties": {"provisioningState": "Succeeded", "disableBgpRoutePropagation": True, "routes": [
        {"name": "default-to-firewall", "id": net_id("westeurope", "routeTables", "rt-snet-data") + "/routes/default-to-firewall",
         "properties": {"provisioningState": "Succeeded", "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
                        "nextHopIpAddress": "10.10.255.4"}},
        {"name": "onprem", "id": net_id("westeurope", "routeTables", "rt-snet-data") + "/routes/onprem",
         "properties": {"provisioningState": "Succeeded", "addressPrefix": "192.168.0.0/16", "nextHopType": "VirtualNetworkGateway"}}]}}]

virtual_networks = []
for vname, (loc, space, subnets) in VNETS.items():
    vid = net_id(loc, "virtualNetworks", vname)
    sn_bodies = []
    for sname, (prefix, nsg_name, rt_name) in subnets.items():
        props = {"addressPrefix": prefix, "provisioningState": "Succeeded", "privateEndpointNetworkPolicies": "Disabled"}
        if nsg_name:
            props["networkSecurityGroup"] = {"id": net_id(loc, "networkSecurityGroups", nsg_name)}
        if rt_name:
            props["routeTable"] = {"id": net_id(loc, "routeTables", rt_name)}
        sn_bodies.append({"name": sname, "id": f"{vid}/subnets/{sname}", "type": "Microsoft.Network/virtualNetworks/subnets",
                          "properties": props})
    virtual_networks.append({"name": vname, "id": vid, "type": "Microsoft.Network/virtualNetworks", "location": loc,
                             "properties": {"provisioningState": "Succeeded", "resourceGuid": gid("vnet", vid),
                                            "addressSpace": {"addressPrefixes": [space]}, "dhcpOptions": {"dnsServers": []},
                                            "subnets": sn_bodies, "virtualNetworkPeerings": [], "enableDdosProtection": False}})

network_interfaces = []
next_ip = {}
for v in VMS:
    sname = SUBNET_OF_RG[v["rg"]]
    vname = next(n for n, (_l, _s, subs) in VNETS.items() if sname in subs)
    loc = VNETS[vname][0]
    prefix = VNETS[vname][2][sname][0]
    host = next_ip[sname] = next_ip.get(sname, 3) + 1
    nic_id = f"{P}/resourceGroups/{v['rg']}/providers/Microsoft.Network/networkInterfaces/{v['name']}-nic01"
    props = {"provisioningState": "Succeeded", "resourceGuid": gid("nic", nic_id), "primary": True,
             "enableAcceleratedNetworking": v["size"].endswith("v5"), "enableIPForwarding": False,
             "macAddress": "00-0D-3A-" + "-".join(gid("mac", nic_id)[i:i + 2].upper() for i in (0, 2, 4)),
             "virtualMachine": {"id": vm_id(v)}, "dnsSettings": {"dnsServers": [], "appliedDnsServers": []},
             "ipConfigurations": [{"name": "ipconfig1", "id": f"{nic_id}/ipConfigurations/ipconfig1", "properties": {
                 "provisioningState": "Succeeded", "primary": True, "privateIPAddressVersion": "IPv4",
                 "privateIPAllocationMethod": "Dynamic", "privateIPAddress": prefix.rsplit(".", 1)[0] + f".{host}",
                 "subnet": {"id": f"{net_id(loc, 'virtualNetworks', vname)}/subnets/{sname}"}}}]}
    if (v["rg"], v["name"]) in NIC_NSG:
        props["networkSecurityGroup"] = {"id": f"{P}/resourceGroups/{v['rg']}/providers/Microsoft.Network/networkSecurityGroups/{NIC_NSG[(v['rg'], v['name'])]}"}
    network_interfaces.append({"name": f"{v['name']}-nic01", "id": nic_id, "type": "Microsoft.Network/networkInterfaces",
                               "location": v["loc"], "properties": props})

resource_groups += [{"id": f"{P}/resourceGroups/{name}", "name": name, "type": "Microsoft.Resources/resourceGroups", "location": loc,
                     "properties": {"provisioningState": "Succeeded"}, "tags": {"env": "prod", "owner": "network-team"}}
                    for loc, name in NET_RG.items()]


def vm_body(rg, name):
    return next(b for b in vm_bodies if b["id"] == vm_id(by_key[(rg, name)]))


def disk_body(name):
    return next(d for d in disks if d["name"] == name)


# BCDR204: the domain controller was hardened with extension operations switched off.
vm_body("rg-identity-neu", "vm-dc-neu-01")["properties"]["osProfile"]["allowExtensionOperations"] = False

# BCDR604: the file server's data disk was moved to Premium SSD v2; its policy is still Standard.
files_data = disk_body("vm-files-neu-01_data_0")
files_data["sku"] = {"name": "PremiumV2_LRS", "tier": "Premium"}
files_data["properties"].pop("tier", None)
vm_body("rg-files-neu", "vm-files-neu-01")["properties"]["storageProfile"]["dataDisks"][0]["managedDisk"]["storageAccountType"] = "PremiumV2_LRS"

# BCDR605: the archive server grew to 34 data disks (its original one plus 33 of 1 TiB each).
archive = by_key[("rg-data-prod", "vm-archive-01")]
archive_storage = vm_body("rg-data-prod", "vm-archive-01")["properties"]["storageProfile"]
for lun in range(1, 34):
    dname = f"vm-archive-01_data_{lun}"
    archive_storage["dataDisks"].append({"lun": lun, "name": dname, "createOption": "Attach", "caching": "None",
                                         "writeAcceleratorEnabled": False, "managedDisk": {"storageAccountType": "Standard_LRS",
                                         "id": disk_id(archive, dname)}, "deleteOption": "Detach", "diskSizeGB": 1024, "toBeDetached": False})
    disks.append({"id": disk_id(archive, dname), "name": dname, "type": "Microsoft.Compute/disks", "location": "westeurope",
                  "managedBy": vm_id(archive, archive["rg"]), "sku": {"name": "Standard_LRS", "tier": "Standard"},
                  "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 1024, "diskIOPSReadWrite": 500,
                                 "diskMBpsReadWrite": 60, "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                                 "timeCreated": "2023-06-01T10:00:00Z", "provisioningState": "Succeeded", "diskState": "Attached",
                                 "diskSizeBytes": 1024 ** 4, "uniqueId": gid("disk", dname), "networkAccessPolicy": "AllowAll",
                                 "publicNetworkAccess": "Enabled", "tier": "S30"}})

# BCDR606: the 2017 license server still runs on unmanaged disks (VHDs in a storage account).
legacy = by_key[("rg-mgmt", "vm-legacy-01")]
legacy_os = vm_body("rg-mgmt", "vm-legacy-01")["properties"]["storageProfile"]["osDisk"]
disks.remove(disk_body(legacy_os["name"]))
legacy_os.pop("managedDisk")
legacy_os["vhd"] = {"uri": f"https://stcontosolegacy01.blob.core.windows.net/vhds/{legacy_os['name']}.vhd"}

# BCDR607 / BCDR608: vm-fin-01 and vm-hr-01 use Azure Disk Encryption with kv-contoso-ade. Its
# firewall denies by default without the trusted-services exception, and the Backup Management
# Service's access policy lacks the backup permission on keys.
key_vaults = [{
    "id": KEYVAULT, "name": "kv-contoso-ade", "type": "Microsoft.KeyVault/vaults", "location": "westeurope",
    "tags": {"owner": "security-team"},
    "properties": {
        "sku": {"family": "A", "name": "standard"}, "tenantId": TENANT,
        "accessPolicies": [
            {"tenantId": TENANT, "objectId": gid("principal", "security-admins"),
             "permissions": {"keys": ["get", "list", "create", "update", "wrapKey", "unwrapKey", "backup", "restore"],
                             "secrets": ["get", "list", "set", "backup", "restore"], "certificates": []}},
            {"tenantId": TENANT, "objectId": gid("principal", "backup-management-service"),
             "permissions": {"keys": ["get", "list"], "secrets": ["get", "list", "backup"], "certificates": []}}],
        "enabledForDeployment": False, "enabledForDiskEncryption": True, "enabledForTemplateDeployment": False,
        "enableSoftDelete": True, "softDeleteRetentionInDays": 90, "enableRbacAuthorization": False, "enablePurgeProtection": True,
        "networkAcls": {"bypass": "None", "defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}], "virtualNetworkRules": []},
        "vaultUri": "https://kv-contoso-ade.vault.azure.net/", "provisioningState": "Succeeded", "publicNetworkAccess": "Enabled"}}]

# The demo tenant's management groups (--demo --management-group contoso), shaped like GET
# .../managementGroups/{id}?$expand=children (2023-04-01 examples): the tenant root group, then
# contoso > contoso-landing-zones > contoso-corp > the demo subscription, and an empty contoso-sandbox.
MG = "/providers/Microsoft.Management/managementGroups/"


def management_group(name, display, parent, children):
    return {"id": MG + name, "type": "Microsoft.Management/managementGroups", "name": name,
            "properties": {"tenantId": TENANT, "displayName": display, "details": {"parent": {"id": MG + parent}},
                           "children": children}}


def child_group(name, display):
    return {"id": MG + name, "type": "Microsoft.Management/managementGroups", "name": name, "displayName": display}


management_groups = [
    management_group(TENANT, "Tenant Root Group", TENANT, [child_group("contoso", "Contoso")]),
    management_group("contoso", "Contoso", TENANT, [child_group("contoso-landing-zones", "Landing zones"),
                                                    child_group("contoso-sandbox", "Sandbox")]),
    management_group("contoso-landing-zones", "Landing zones", "contoso", [child_group("contoso-corp", "Corp")]),
    management_group("contoso-corp", "Corp", "contoso-landing-zones",
                     [{"id": f"/subscriptions/{SUB}", "type": "/subscriptions", "name": SUB, "displayName": "contoso-prod"}]),
    management_group("contoso-sandbox", "Sandbox", "contoso", []),
]

scenario = {
    "_comment": ("Demo subscription 'contoso-prod' for az-bcdr-scan --demo. Fictitious: the ids are fake GUIDs, the SAS "
                 "signature is a canary string, and '@now-30h' style times are resolved when the scenario is loaded. "
                 "Every rule of shared/rule-catalog.md has at least one resource here that makes it fail, next to healthy ones."),
    "subscriptions": [SUB],
    "subscriptionDetails": {SUB: {"displayName": "contoso-prod", "tenantId": TENANT}},
    "resourceGroups": resource_groups,
    "virtualMachines": vm_bodies,
    "instanceViews": instance_views,
    "disks": disks,
    "restorePointCollections": rpcs,
    "locks": locks,
    "vaults": vaults,
    "backupProtectedItems": protected_items,
    "backupPolicies": policies,
    "backupJobs": jobs,
    "replicationProtectedItems": asr_items,
    "replicationJobs": asr_jobs,
    "recoveryPlans": recovery_plans,
    "replicationFabrics": replication_fabrics,
    "containerMappings": container_mappings,
    "recoveryPoints": recovery_points,
    "networkInterfaces": network_interfaces,
    "networkSecurityGroups": network_security_groups,
    "routeTables": route_tables,
    "virtualNetworks": virtual_networks,
    "keyVaults": key_vaults,
    "managementGroups": management_groups,
}

out = sys.argv[1] if len(sys.argv) > 1 else str(
    Path(__file__).resolve().parents[1] / "scanner" / "simulator" / "scenarios" / "demo.json")
with open(out, "w") as f:
    json.dump(scenario, f, indent=1)
    f.write("\n")
print(out, len(vm_bodies), "vms", len(jobs), "jobs", len(rpcs), "rpcs", len(protected_items), "items")
