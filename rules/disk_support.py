"""6xx Disks and encryption, second edition (BCDR604-608, ../shared/rule-catalog-v2.md section B).

What VM backup cannot protect, or will stop protecting, judged from the disk resources (sku,
maxShares, dataAccessAuthMode, securityProfile, encryptionSettingsCollection), the VM model
(storageProfile, securityProfile) and, for Azure Disk Encryption, the key vaults the disks name
(one GET each, only those of backed-up VMs).
"""
from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from scanner import inventory as m

from ._common import policy_is_v2
from .base import Param, Result, fail, not_assessed, passed, rule
from .disks import _vm_disks
from .docs import (
    DOC_ADE_OVERVIEW,
    DOC_ENCRYPTED_BACKUP,
    DOC_ENCRYPTED_TROUBLESHOOT,
    DOC_ENHANCED,
    DOC_HOST_ENCRYPTION,
    DOC_KEYVAULT_TRUSTED,
    DOC_SHARED_DISKS,
    DOC_SUPPORT,
    DOC_UNMANAGED_RETIREMENT,
)
from .vm_state import BACKUP_SELECTS, VM_NEEDS, VM_SELECTS, protected_vms

ENHANCED_ONLY_SKUS = frozenset({"ultrassd_lrs", "premiumv2_lrs"})
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _backed_up(inv: m.Inventory) -> list[m.VirtualMachine]:
    return [p.vm for p in protected_vms(inv, replication=False)]


def _policy_kind(inv: m.Inventory, vm: m.VirtualMachine) -> tuple[bool | None, list[str]]:
    """(is Enhanced, policy names) over the VM's backup items: Standard if any item is on a
    Standard policy, None when an item's policy type is unknown."""
    kinds, names = [], []
    for item in inv.backup_items_for(vm.id):
        kinds.append(policy_is_v2(inv, item))
        names.append(item.policy_name or item.policy_id)
    if any(k is False for k in kinds):
        return False, names
    if any(k is None for k in kinds):
        return None, names
    return True, names


def _os_disk_ids(vm: m.VirtualMachine) -> set[str]:
    return {d.managed_disk_id for d in vm.disks if d.is_os_disk and d.managed_disk_id}


@rule(
    code="BCDR604", slug="disk-unsupported-by-policy", severity="high",
    title="Backed-up VM has a disk its backup policy cannot protect",
    predicts=("UserErrorUnsupportedDiskSize", "enable or backup fails for an unsupported disk type"),
    source="Azure VM backup support matrix; Enhanced policy page; rule-catalog-v2.md section B",
    remediation="""Some disks cannot be protected by the VM's backup as configured. Ultra Disks and Premium SSD v2
        disks need the Enhanced backup policy: move the VM to an Enhanced policy (a VM cannot move back to
        Standard). Shared disks (maxShares above 1), disks that require Microsoft Entra authentication for
        data access, Trusted Launch or confidential data disks, and Confidential VMs are not supported by
        VM backup: exclude such a disk from the VM's backup and protect it with Azure Disk Backup, or change
        the disk's configuration.""",
    references=(DOC_SUPPORT, DOC_ENHANCED, DOC_SHARED_DISKS),
    needs=(m.DISKS, m.VMS), selects=BACKUP_SELECTS,
)
def disk_unsupported_by_policy(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    vms = _backed_up(inv)
    for vm in vms:
        problems: list[dict[str, Any]] = []
        unknown: list[str] = []
        if vm.security_type.lower() == "confidentialvm":
            problems.append({"disk": "", "why": "the VM is a Confidential VM"})
        enhanced, policies = _policy_kind(inv, vm)
        os_ids = _os_disk_ids(vm)
        for key, name, _size, disk in _vm_disks(inv, vm):
            if disk is None:
                if not key.startswith(vm.id + "/disks/"):  # a managed disk the disk list did not carry
                    unknown.append(f"disk {name} was not in the disk list ({inv.gap(m.DISKS, vm.subscription_id) or 'missing'})")
                continue
            found = []
            if disk.sku.lower() in ENHANCED_ONLY_SKUS:
                if enhanced is False:
                    found.append(f"{disk.sku} needs the Enhanced policy")
                elif enhanced is None:
                    unknown.append(f"disk {name} is {disk.sku}, and the policy type is unknown")
            if disk.max_shares is not None and disk.max_shares > 1:
                found.append(f"shared disk (maxShares {disk.max_shares})")
            if disk.data_access_auth_mode.lower() == "azureactivedirectory":
                found.append("data access needs Microsoft Entra authentication (dataAccessAuthMode)")
            if os_ids and disk.id not in os_ids and disk.security_type.lower().startswith(("trustedlaunch", "confidentialvm")):
                found.append(f"data disk with security type {disk.security_type}")
            problems += [{"disk": name, "disk_id": disk.display_id, "sku": disk.sku, "why": w} for w in found]
        if problems:
            first = problems[0]
            yield fail(vm, (f"disk {first['disk']}: " if first["disk"] else "") + first["why"],
                       problems=problems, policies=policies, enhanced_policy=enhanced)
        elif unknown:
            yield not_assessed(vm, unknown[0], unknown=unknown)
        else:
            yield passed(vm)


@rule(
    code="BCDR605", slug="vm-disk-limits", severity="high",
    title="Backed-up VM has more disks or more capacity than VM backup supports",
    predicts=("backup enable failure: too many disks or too large a VM",),
    source="Azure VM backup support matrix (32 data disks, 512 TiB per VM); rule-catalog-v2.md section B",
    remediation="""VM backup protects up to a fixed number of data disks and a fixed total capacity per VM. Reduce the
        number of data disks (consolidate data onto fewer, larger disks), or exclude disks from the VM backup
        with selective disk backup and protect them with Azure Disk Backup, so that the protected part stays
        within the limits.""",
    references=(DOC_SUPPORT,),
    params=(Param("max_data_disks", 32, "data disks per VM that VM backup supports", 1, 1024),
            Param("max_total_tib", 512, "total disk capacity per VM in TiB that VM backup supports", 1, 100_000)),
    needs=(m.DISKS, m.VMS), selects=BACKUP_SELECTS,
)
def vm_disk_limits(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    vms = _backed_up(inv)
    max_disks, max_gib = params["max_data_disks"], params["max_total_tib"] * 1024
    for vm in vms:
        if not vm.disks:
            yield not_assessed(vm, "the VM model lists no storage profile")
            continue
        data_disks = sum(1 for d in vm.disks if not d.is_os_disk)
        sizes = [size for _k, _n, size, _d in _vm_disks(inv, vm)]
        total = sum(s for s in sizes if s is not None)
        unknown = None in sizes
        if data_disks <= max_disks and total <= max_gib and not unknown:
            yield passed(vm)
            continue
        evidence = dict(data_disks=data_disks, max_data_disks=max_disks, total_gib=total, max_total_gib=max_gib)
        if data_disks > max_disks:
            yield fail(vm, f"{data_disks} data disks, over the {max_disks} VM backup supports", **evidence)
        elif total > max_gib:
            yield fail(vm, f"{total} GiB of disks, over the {params['max_total_tib']} TiB VM backup supports", **evidence)
        else:
            yield not_assessed(vm, "the size of some disks is unknown", **evidence)


@rule(
    code="BCDR606", slug="unmanaged-disks", severity="medium",
    title="Backed-up or replicated VM still on unmanaged disks",
    predicts=(),
    source="Azure VM backup support matrix; Azure-to-Azure Site Recovery support matrix; unmanaged disk retirement",
    remediation="""The VM keeps its disks as VHD page blobs in a storage account. Unmanaged disks are retired, and
        backup and replication of such VMs are on their way out. Convert the VM to managed disks (deallocate,
        convert, start), then check that its backup and replication still run.""",
    references=(DOC_UNMANAGED_RETIREMENT, DOC_SUPPORT),
    needs=VM_NEEDS, selects=VM_SELECTS,
)
def unmanaged_disks(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for pvm in protected_vms(inv):
        vm = pvm.vm
        if not vm.disks:
            yield not_assessed(vm, "the VM model lists no storage profile")
            continue
        vhds = [d.name for d in vm.disks if d.unmanaged]
        if vhds:
            yield fail(vm, f"{len(vhds)} unmanaged disk(s): {', '.join(vhds)}", disks=vhds, protection=pvm.protection)
        else:
            yield passed(vm)


@rule(
    code="BCDR607", slug="ade-retirement", severity="info",
    title="Backed-up VM uses Azure Disk Encryption, which is retiring",
    predicts=(),
    source="Azure Disk Encryption retirement notice (2028-09-15); rule-catalog-v2.md section B",
    remediation="""Azure Disk Encryption retires; after the retirement date encrypted disks may not unlock after a
        reboot, and restores of their backups are affected too. Plan the move to encryption at host (or to
        server-side encryption with customer-managed keys): there is no in-place switch, so build the new VM,
        move the data, protect the new VM, and keep the old backups readable until they expire.""",
    references=(DOC_ADE_OVERVIEW, DOC_HOST_ENCRYPTION, DOC_ENCRYPTED_BACKUP),
    params=(Param("retirement_date", "2028-09-15", "the day Azure Disk Encryption retires"),),
    needs=(m.DISKS, m.VMS), selects=BACKUP_SELECTS,
)
def ade_retirement(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    vms = _backed_up(inv)
    for vm in vms:
        ade = [d.name for d in inv.disks_by_vm.get(vm.id, ()) if d.ade_enabled]
        if vm.ade_dual_pass and not ade:  # the older dual-pass ADE keeps its settings on the VM model
            ade = [next((d.name for d in vm.disks if d.is_os_disk), "the OS disk")]
        if ade:
            yield fail(vm, f"Azure Disk Encryption on {', '.join(sorted(ade))}; it retires on {params['retirement_date']}",
                       disks=sorted(ade), retirement_date=params["retirement_date"])
        else:
            yield passed(vm)


def _has(granted: set[str], needed: tuple[str, ...]) -> list[str]:
    return [] if "all" in granted else [p for p in needed if p not in granted]


@rule(
    code="BCDR608", slug="ade-keyvault-access-missing", severity="high",
    title="Azure Backup cannot read the key vault of an ADE disk",
    predicts=("UserErrorKeyvaultPermissionsNotConfigured",),
    source="seeds/004 UserErrorKeyvaultPermissionsNotConfigured; rule-catalog-v2.md section B",
    remediation="""Backing up a VM encrypted with Azure Disk Encryption copies its keys and secrets from the key vault.
        Give the Backup Management Service an access policy on the key vault with get, list and backup on
        keys and on secrets (or, under the RBAC model, an equivalent role assignment), and when the key vault
        firewall is on, allow trusted Microsoft services to bypass it. Set the service's object id in this
        rule's parameter (it differs per tenant) so the scanner can check the access policy.""",
    references=(DOC_ENCRYPTED_BACKUP, DOC_ENCRYPTED_TROUBLESHOOT, DOC_KEYVAULT_TRUSTED),
    params=(Param("backup_management_service_object_id", "",
                  "object id of the Backup Management Service's service principal in your tenant"),),
    needs=(m.DISKS, m.KEY_VAULTS, m.VMS), selects=BACKUP_SELECTS,
)
def ade_keyvault_access_missing(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    vms = _backed_up(inv)
    object_id = str(params["backup_management_service_object_id"]).strip().lower()
    for vm in vms:
        needs: dict[str, dict[str, Any]] = {}  # vault id -> what its ADE disks need from it
        for disk in inv.disks_by_vm.get(vm.id, ()):
            if not disk.ade_enabled:
                continue
            if not disk.ade_secret_vault_ids:
                yield not_assessed(vm, f"ADE is enabled on disk {disk.name} but no key vault is named", key=disk.id)
            for vid in disk.ade_secret_vault_ids:
                needs.setdefault(vid, {"keys": False, "disks": []})["disks"].append(disk.name)
            for vid in disk.ade_key_vault_ids:
                entry = needs.setdefault(vid, {"keys": False, "disks": []})
                entry["keys"] = True
                entry["disks"].append(disk.name)
        if vm.ade_dual_pass:  # the older dual-pass ADE names its key vaults on the VM model
            os_name = next((d.name for d in vm.disks if d.is_os_disk), "the OS disk")
            if not vm.ade_dual_pass_secret_vault_ids and not needs:
                yield not_assessed(vm, "dual-pass ADE is enabled on the VM model but no key vault is named", key=vm.id)
            for vid in vm.ade_dual_pass_secret_vault_ids:
                needs.setdefault(vid, {"keys": False, "disks": []})["disks"].append(os_name)
            for vid in vm.ade_dual_pass_key_vault_ids:
                entry = needs.setdefault(vid, {"keys": False, "disks": []})
                entry["keys"] = True
                entry["disks"].append(os_name)
        for vid, need in sorted(needs.items()):
            yield _judge_vault(inv, vm, vid, need["keys"], sorted(set(need["disks"])), object_id)


def _judge_vault(inv: m.Inventory, vm: m.VirtualMachine, vault_id: str, needs_keys: bool, disks: list[str],
                 object_id: str) -> Result:
    kv = inv.key_vault_by_id.get(vault_id)
    if kv is None:
        reason = inv.gap(m.KEY_VAULTS, vm.subscription_id, vault_id) or "the key vault was not read"
        return not_assessed(vm, f"key vault {vault_id}: {reason}", key=vault_id, key_vault=vault_id, disks=disks)
    where: dict[str, Any] = dict(key=vault_id, key_vault=kv.display_id, disks=disks)
    closed = kv.network_default_action.lower() == "deny" or kv.public_network_access.lower() == "disabled"
    if closed and "azureservices" not in kv.network_bypass.lower():
        return fail(vm, f"key vault {kv.name}'s firewall does not let trusted Microsoft services through",
                    network_default_action=kv.network_default_action, network_bypass=kv.network_bypass,
                    public_network_access=kv.public_network_access, **where)
    if kv.rbac_authorization is True:
        return not_assessed(vm, f"key vault {kv.name} uses the RBAC permission model; role assignments are not read",
                            **where)
    if not object_id:
        return not_assessed(vm, "the Backup Management Service's object id is not set "
                                "(parameter backup_management_service_object_id)", **where)
    if not _GUID.match(object_id):
        return not_assessed(vm, f"parameter backup_management_service_object_id {object_id!r} is not a GUID", **where)
    policies = [p for p in kv.access_policies if p.object_id == object_id]
    keys = {p for ap in policies for p in ap.keys}
    secrets = {p for ap in policies for p in ap.secrets}
    missing = {"secrets": _has(secrets, ("get", "list", "backup"))}
    if needs_keys:
        missing["keys"] = _has(keys, ("get", "list", "backup"))
    missing = {k: v for k, v in missing.items() if v}
    if not policies:
        return fail(vm, f"key vault {kv.name} has no access policy for the Backup Management Service",
                    object_id=object_id, missing=missing, **where)
    if missing:
        shown = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(missing.items()))
        return fail(vm, f"the Backup Management Service's access policy on key vault {kv.name} lacks {shown}",
                    object_id=object_id, missing=missing, **where)
    return passed(vm, key=vault_id)
