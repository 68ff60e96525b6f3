"""6xx Disks and encryption (seeds/004 UserErrorUnsupportedDiskSize)."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from scanner import ids
from scanner import inventory as m

from ._common import per_inventory, policy_is_v2, remembered
from .base import Param, Result, fail, not_assessed, passed, rule
from .docs import DOC_DISK_SIZE, DOC_ENCRYPTED_BACKUP, DOC_ENHANCED, DOC_SUPPORT

VmDisks = tuple[tuple[str, str, int | None, m.Disk | None], ...]


def _vm_disks(inv: m.Inventory, vm: m.VirtualMachine) -> VmDisks:
    """(key, name, size in GiB, Disk) for every disk attached to the VM. Managed disks are sized from
    the disk resource; unmanaged (VHD) disks from the VM's storage profile. Built once per VM for the
    disk rules (BCDR601-605)."""
    return remembered(_vm_disks_memo(inv), vm, lambda: _attached(inv, vm))


def _attached(inv: m.Inventory, vm: m.VirtualMachine) -> VmDisks:
    out: dict[str, tuple[str, str, int | None, m.Disk | None]] = {}
    for disk in inv.disks_by_vm.get(vm.id, ()):
        out[disk.id] = (disk.id, disk.name, disk.size_gb, disk)
    for ref in vm.disks:
        key = ref.managed_disk_id or f"{vm.id}/disks/{ref.name.lower()}"
        if key not in out:
            out[key] = (key, ref.name, ref.size_gb, inv.disk_by_id.get(ref.managed_disk_id))
    return tuple(sorted(out.values()))


@per_inventory
def _vm_disks_memo(inv: m.Inventory) -> dict[Any, Any]:
    return {}


# Per-disk limits of Azure VM backup (rule-catalog-v2 A, BCDR601). The seed (004, 2021) knew only
# 32 TB; the Azure Backup support matrix (checked 2026-12) allows 64 TiB per disk on an Enhanced
# policy. Disks over 32,767 GiB exist only as Ultra or Premium SSD v2, which need Enhanced anyway.
STANDARD_DISK_SOURCE = ("Standard policy: 32 TiB per disk (seeds/004 UserErrorUnsupportedDiskSize; "
                        "Azure Backup support matrix, checked 2026-12)")
ENHANCED_DISK_SOURCE = "Enhanced policy: 64 TiB per disk (Azure Backup support matrix, checked 2026-12)"
_ENHANCED_ONLY_SKUS = frozenset({"premiumv2_lrs", "ultrassd_lrs"})


def _disk_limit(inv: m.Inventory, items: tuple[m.ProtectedItem, ...], params: Mapping[str, Any]) -> tuple[int | None, str, str]:
    """(limit in GiB, policy word, where the limit comes from) for the VM's backup policy. A VM on
    several items takes the tightest policy; a VM not backed up yet gets the Enhanced limit, the most
    any policy allows (its evidence says a larger disk needs Enhanced). None: the policy type of a
    backed-up VM is unknown. `items`: the VM's backup items."""
    if not items:
        return params["enhanced_max_disk_gb"], "none (not backed up)", ENHANCED_DISK_SOURCE
    kinds = {policy_is_v2(inv, item) for item in items}
    if False in kinds:
        return params["max_disk_gb"], "Standard", STANDARD_DISK_SOURCE
    if None in kinds:
        return None, "unknown", ""
    return params["enhanced_max_disk_gb"], "Enhanced", ENHANCED_DISK_SOURCE


@rule(
    code="BCDR601", slug="disk-over-backup-size-limit", severity="high",
    title="Disk larger than Azure Backup supports for the VM's policy",
    predicts=("UserErrorUnsupportedDiskSize",),
    source="seeds/004 UserErrorUnsupportedDiskSize (disks over 32 TB); rule-catalog-v2 A: Azure Backup support matrix "
           "(checked 2026-12: 32 TiB per disk on Standard policy, 64 TiB on Enhanced)",
    remediation="""Azure Backup cannot snapshot a disk larger than its policy allows: 32 TiB per disk on a Standard
        policy, 64 TiB on an Enhanced policy. Move a VM whose disks are between 32 and 64 TiB (Premium SSD v2 or
        Ultra) to an Enhanced policy; for larger disks split the data over smaller disks, or exclude the disk from
        the VM backup (selective disk backup) and protect that data another way. A VM that is not backed up yet
        will fail as soon as backup is enabled.""",
    references=(DOC_DISK_SIZE, DOC_SUPPORT, DOC_ENHANCED),
    params=(Param("max_disk_gb", 32767, "largest disk in GiB a Standard policy backs up (32 TiB: seeds/004; "
                  "Azure Backup support matrix, checked 2026-12)", 1, 1_000_000),
            Param("enhanced_max_disk_gb", 65536, "largest disk in GiB an Enhanced policy backs up (64 TiB: Azure "
                  "Backup support matrix, checked 2026-12; the 2021 seed knew only 32 TB)", 1, 1_000_000),
            Param("unprotected_severity", "medium", "severity for VMs that are not backed up yet")),
    needs=(m.DISKS, m.VMS),
)
def disk_over_backup_size_limit(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for vm in inv.virtual_machines:
        policy_read = False
        for key, name, size, disk in _vm_disks(inv, vm):
            if size is None or size <= params["max_disk_gb"]:
                yield passed(vm, key=key)  # within every policy's limit
                continue
            if not policy_read:  # the VM's policy matters only for a disk over the Standard limit
                items = inv.backup_items_for(vm.id)
                backed_up = bool(items)  # inv.is_backed_up
                limit, policy, source = _disk_limit(inv, items, params)
                policy_read = True
            sku = disk.sku if disk else ""
            if limit is None and size <= params["enhanced_max_disk_gb"]:
                yield not_assessed(vm, f"disk {name} is {size} GiB: within the Enhanced limit, over the Standard one, "
                                       "and the VM's backup policy type is unknown", key=key,
                                   disk=name, disk_id=key, size_gb=size, sku=sku)
            elif size > (limit if limit is not None else params["enhanced_max_disk_gb"]):
                limit = limit if limit is not None else params["enhanced_max_disk_gb"]
                source = source or ENHANCED_DISK_SOURCE
                hint = (" (Premium SSD v2 and Ultra disks need an Enhanced policy)"
                        if policy == "Standard" and sku.lower() in _ENHANCED_ONLY_SKUS else "")
                yield fail(vm, f"disk {name} is {size} GiB, over the {limit} GiB backup limit of a {policy} policy{hint}"
                           if backed_up else f"disk {name} is {size} GiB, over the {limit} GiB limit of any backup policy",
                           severity=None if backed_up else params["unprotected_severity"], key=key,
                           disk=name, disk_id=key, size_gb=size, sku=sku, limit_gb=limit, policy=policy,
                           limit_source=source, backed_up=backed_up)
            else:
                yield passed(vm, key=key)


def _ade_disks(vm: m.VirtualMachine, disks: VmDisks) -> Iterator[tuple[str, str, int | None, m.Disk | None, str]]:
    """The VM's disks encrypted with Azure Disk Encryption, with where that was read: the disk's
    encryptionSettingsCollection (single pass), or for the OS disk the VM model's
    storageProfile.osDisk.encryptionSettings (dual pass, ADE with an AAD app)."""
    os_keys = ({ids.norm(r.managed_disk_id) or f"{vm.id}/disks/{r.name.lower()}" for r in vm.disks if r.is_os_disk}
               if vm.ade_dual_pass else set())  # read only for a dual-pass VM
    for key, name, size, disk in disks:
        if disk is not None and disk.ade_enabled:
            yield key, name, size, disk, "disk encryptionSettingsCollection"
        elif vm.ade_dual_pass and key in os_keys:
            yield key, name, size, disk, "VM model storageProfile.osDisk.encryptionSettings (dual pass)"


@rule(
    code="BCDR602", slug="encrypted-disk-over-size-limit", severity="high",
    title="Azure Disk Encryption disk larger than Azure Backup supports",
    predicts=("UserErrorUnsupportedDiskSize",),
    source="seeds/004 UserErrorUnsupportedDiskSize (encrypted disks over 4 TB); rule-catalog-v2 A: the limit is on "
           "the troubleshooting page only, the support matrix (checked 2026-12) lists none for ADE",
    remediation="""Backup of VMs encrypted with Azure Disk Encryption is documented (troubleshooting page) for disks
        up to 4 TiB. Move the data to disks of 4 TiB or less, or switch from Azure Disk Encryption to server-side
        encryption with customer-managed keys or encryption at host, which do not have this limit (ADE is being
        retired anyway).""",
    references=(DOC_DISK_SIZE, DOC_SUPPORT),
    params=(Param("max_encrypted_disk_gb", 4096, "largest ADE-encrypted disk in GiB that VM backup supports (4 TiB = "
                  "4,096 GiB: seeds/004 and the troubleshooting page; the support matrix, checked 2026-12, lists no "
                  "limit)", 1, 1_000_000),),
    needs=(m.DISKS, m.VMS),
)
def encrypted_disk_over_size_limit(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    limit = params["max_encrypted_disk_gb"]
    for vm in inv.virtual_machines:
        for key, name, size, _disk, where in _ade_disks(vm, _vm_disks(inv, vm)):
            if size is None:
                yield not_assessed(vm, f"size of ADE-encrypted disk {name} unknown", key=key, disk=name, disk_id=key)
            elif size > limit:
                yield fail(vm, f"ADE-encrypted disk {name} is {size} GiB, over the {limit} GiB backup limit", key=key,
                           disk=name, disk_id=key, size_gb=size, limit_gb=limit, ade_read_from=where,
                           limit_source="Azure Backup troubleshooting page only (seeds/004 UserErrorUnsupportedDiskSize); "
                                        "the support matrix (checked 2026-12) lists no size limit for ADE")
            else:
                yield passed(vm, key=key)


@rule(
    code="BCDR603", slug="ade-bek-without-kek", severity="info",
    title="Azure Disk Encryption with a BitLocker key but no key-encryption key",
    predicts=("backup validation failure: VM encrypted with BEK only",),
    source="seeds/002 backup table ('validation failed because the VM is encrypted with BEK only; "
           "backup can be enabled only for VMs encrypted with both BEK and KEK'); rule-catalog-v2 A: obsolete, "
           "off by default (Azure Backup encryption page, checked 2026-12)",
    remediation="""The disk is encrypted with Azure Disk Encryption using only a BitLocker encryption key
        (secret), without a key-encryption key wrapping it. Older Azure Backup stacks refused to protect such
        VMs; current ones accept them, so this rule is off by default and for information only. To wrap the key, re-run Azure Disk
        Encryption with a key-encryption key; either way, make sure Azure Backup has access to the key
        vault.""",
    references=(DOC_ENCRYPTED_BACKUP,),
    # rule-catalog-v2 A: obsolete. The Azure Backup encryption page (checked 2026-12) supports ADE with a
    # BitLocker key and no key-encryption key; kept, off by default, for old stacks.
    enabled_by_default=False,
    needs=(m.DISKS, m.VMS),
)
def ade_bek_without_kek(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for vm in sorted(inv.virtual_machines, key=lambda v: v.id):
        for key, name, _size, disk, where in _ade_disks(vm, _vm_disks(inv, vm)):
            if disk is None or not disk.ade_enabled:  # dual pass: the keys are on the VM model
                has_bek, has_kek = vm.ade_dual_pass_has_bek, vm.ade_dual_pass_has_kek
            else:
                has_bek, has_kek = disk.ade_has_bek, disk.ade_has_kek
            if not has_bek:
                # ADE on, but no disk encryption key in encryptionSettingsCollection: the key setup is
                # not visible (e.g. an older dual-pass setup keeps it on the VM model), so say so.
                yield not_assessed(vm, f"ADE is enabled on disk {name} but no encryption key is listed", key=key,
                                   disk=name, disk_id=key, ade_read_from=where)
            elif not has_kek:
                yield fail(vm, f"ADE disk {name} has a BitLocker key but no key-encryption key", key=key,
                           disk=name, disk_id=disk.display_id if disk else key, backed_up=inv.is_backed_up(vm.id),
                           ade_read_from=where)
            else:
                yield passed(vm, key=key)
