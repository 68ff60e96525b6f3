"""6xx Disks and encryption (seeds/004 UserErrorUnsupportedDiskSize)."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from scanner import inventory as m

from ._common import not_assessed_for_failed
from .base import Param, Result, fail, not_assessed, passed, rule
from .docs import DOC_DISK_SIZE, DOC_ENCRYPTED_BACKUP, DOC_SUPPORT


def _vm_disks(inv: m.Inventory, vm: m.VirtualMachine) -> list[tuple[str, str, int | None, m.Disk | None]]:
    """(key, name, size in GiB, Disk) for every disk attached to the VM. Managed disks are sized from
    the disk resource; unmanaged (VHD) disks from the VM's storage profile."""
    out: dict[str, tuple[str, str, int | None, m.Disk | None]] = {}
    for disk in inv.disks_by_vm.get(vm.id, ()):
        out[disk.id] = (disk.id, disk.name, disk.size_gb, disk)
    for ref in vm.disks:
        key = ref.managed_disk_id or f"{vm.id}/disks/{ref.name.lower()}"
        if key not in out:
            out[key] = (key, ref.name, ref.size_gb, inv.disk_by_id.get(ref.managed_disk_id))
    return sorted(out.values())


@rule(
    code="BCDR601", slug="disk-over-backup-size-limit", severity="high",
    title="Disk larger than Azure Backup supports",
    predicts=("UserErrorUnsupportedDiskSize",),
    source="seeds/004 UserErrorUnsupportedDiskSize (disks over 32 TB)",
    remediation="""Azure Backup cannot snapshot a disk larger than 32 TiB. Split the data over smaller disks, or
        exclude the large disk from the VM backup (selective disk backup) and protect that data another
        way. A VM that is not backed up yet will fail as soon as backup is enabled.""",
    references=(DOC_DISK_SIZE, DOC_SUPPORT),
    params=(Param("max_disk_gb", 32767, "largest disk size in GiB that VM backup supports", 1, 1_000_000),
            Param("unprotected_severity", "medium", "severity for VMs that are not backed up yet")),
)
def disk_over_backup_size_limit(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    skip, gaps = not_assessed_for_failed(inv, m.DISKS, m.VMS)
    yield from gaps
    limit = params["max_disk_gb"]
    for vm in inv.virtual_machines:
        if vm.subscription_id in skip:
            continue
        backed_up = inv.is_backed_up(vm.id)
        for key, name, size, _disk in _vm_disks(inv, vm):
            if size is not None and size > limit:
                yield fail(vm, f"disk {name} is {size} GiB, over the {limit} GiB backup limit",
                           severity=None if backed_up else params["unprotected_severity"], key=key,
                           disk=name, disk_id=key, size_gb=size, limit_gb=limit, backed_up=backed_up)
            else:
                yield passed(vm, key=key)


@rule(
    code="BCDR602", slug="encrypted-disk-over-size-limit", severity="high",
    title="Azure Disk Encryption disk larger than Azure Backup supports",
    predicts=("UserErrorUnsupportedDiskSize",),
    source="seeds/004 UserErrorUnsupportedDiskSize (encrypted disks over 4 TB)",
    remediation="""Backup of VMs encrypted with Azure Disk Encryption supports disks up to 4 TiB. Move the data to
        disks of 4 TiB or less, or switch from Azure Disk Encryption to server-side encryption with
        customer-managed keys, which does not have this limit.""",
    references=(DOC_DISK_SIZE, DOC_SUPPORT),
    params=(Param("max_encrypted_disk_gb", 4095, "largest ADE-encrypted disk size in GiB that VM backup supports", 1, 1_000_000),),
)
def encrypted_disk_over_size_limit(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    skip, gaps = not_assessed_for_failed(inv, m.DISKS, m.VMS)
    yield from gaps
    limit = params["max_encrypted_disk_gb"]
    for vm in inv.virtual_machines:
        if vm.subscription_id in skip:
            continue
        for key, name, size, disk in _vm_disks(inv, vm):
            if disk is None or not disk.ade_enabled:
                continue
            if size is not None and size > limit:
                yield fail(vm, f"ADE-encrypted disk {name} is {size} GiB, over the {limit} GiB backup limit", key=key,
                           disk=name, disk_id=key, size_gb=size, limit_gb=limit)
            else:
                yield passed(vm, key=key)


@rule(
    code="BCDR603", slug="ade-bek-without-kek", severity="info",
    title="Azure Disk Encryption with a BitLocker key but no key-encryption key",
    predicts=("backup validation failure: VM encrypted with BEK only",),
    source="seeds/002 backup table ('validation failed because the VM is encrypted with BEK only; "
           "backup can be enabled only for VMs encrypted with both BEK and KEK')",
    remediation="""The disk is encrypted with Azure Disk Encryption using only a BitLocker encryption key
        (secret), without a key-encryption key wrapping it. Older Azure Backup stacks refused to protect such
        VMs; current ones accept them, so this is for information. To wrap the key, re-run Azure Disk
        Encryption with a key-encryption key; either way, make sure Azure Backup has access to the key
        vault.""",
    references=(DOC_ENCRYPTED_BACKUP,),
)
def ade_bek_without_kek(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    skip, gaps = not_assessed_for_failed(inv, m.DISKS, m.VMS)
    yield from gaps
    for vm in sorted(inv.virtual_machines, key=lambda v: v.id):
        if vm.subscription_id.lower() in skip:
            continue
        for key, name, _size, disk in _vm_disks(inv, vm):
            if disk is None or not disk.ade_enabled:
                continue
            if not disk.ade_has_bek:
                # ADE on, but no disk encryption key in encryptionSettingsCollection: the key setup is
                # not visible (e.g. an older dual-pass setup keeps it on the VM model), so say so.
                yield not_assessed(vm, f"ADE is enabled on disk {name} but no encryption key is listed", key=key,
                                   disk=name, disk_id=key)
            elif not disk.ade_has_kek:
                yield fail(vm, f"ADE disk {name} has a BitLocker key but no key-encryption key", key=key,
                           disk=name, disk_id=disk.display_id, backed_up=inv.is_backed_up(vm.id))
            else:
                yield passed(vm, key=key)
