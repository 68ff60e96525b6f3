"""4xx Locks. Locks come from one subscription-wide list (which includes locks on resource groups
and resources); a lock on the subscription applies to every resource group in it."""
from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from scanner import ids
from scanner import inventory as m

from .base import Param, Result, fail, passed, rule
from .docs import DOC_LOCKS, DOC_RP_LIMIT, DOC_SUPPORT

# seeds/004: Azure Backup keeps instant restore points in a resource group it creates per region,
# named AzureBackupRG_<geo>_<number>. A lock there stops it deleting old restore points.
BACKUP_RG = re.compile(r"^azurebackuprg_(?P<geo>[a-z0-9]+)_(?P<n>\d+)$", re.IGNORECASE)


def custom_rp_groups(inv: m.Inventory) -> list[tuple[m.BackupPolicy, re.Pattern[str]]]:
    """Policies that name their own instant-restore resource groups, with the pattern of those names:
    instantRPDetails.azureBackupRGNamePrefix + N (from 1) + azureBackupRGNameSuffix (Microsoft "Azure
    Backup resource group for virtual machines", checked 2026-12)."""
    out = []
    for policy in sorted(inv.backup_policies, key=lambda p: p.id):
        if policy.instant_rp_rg_prefix:
            out.append((policy, re.compile(rf"^{re.escape(policy.instant_rp_rg_prefix)}(?P<n>[1-9]\d*)"
                                           rf"{re.escape(policy.instant_rp_rg_suffix)}$", re.IGNORECASE)))
    return out


def _policy_vms(inv: m.Inventory, policy: m.BackupPolicy) -> list[m.VirtualMachine]:
    ids_ = {p.source_resource_id for p in inv.protected_items if p.is_backed_up and p.policy_id == policy.id}
    return sorted((inv.vm_by_id[i] for i in ids_ if i in inv.vm_by_id), key=lambda v: v.id)


def _lock_evidence(locks: tuple[m.Lock, ...]) -> list[dict[str, str]]:
    return [{"name": lock.name, "level": lock.level, "scope": lock.scope_kind, "id": lock.display_id} for lock in locks]


@rule(
    code="BCDR401", slug="backup-rg-locked", severity="high",
    title="Lock on an Azure Backup restore point resource group",
    predicts=("UserErrorRpCollectionLimitReached", "BackUpOperationFailed"),
    source="seeds/004 UserErrorRpCollectionLimitReached; 'remove the lock on the restore point resource group'; "
           "rule-catalog-v2 A: a policy's custom groups (Microsoft 'Azure Backup resource group for virtual machines')",
    remediation="""Remove the lock from the AzureBackupRG_<geo>_<n> resource group, or from the custom instant-restore
        resource group a policy names (<prefix><N><suffix>), or the subscription lock that it inherits. Azure
        Backup must delete expired instant restore points there; with a lock the restore point collection fills
        up to its limit and every later backup fails. Once unlocked, run an on-demand backup so the service
        cleans up the old restore points.""",
    references=(DOC_RP_LIMIT,),
    params=(Param("rg_name_pattern", BACKUP_RG.pattern, "regular expression for the Backup-managed resource group names"),),
    # The RG list and the policies (which name custom groups) only find the backup groups: without
    # them, a lock placed directly on a group is still found from the lock's scope, and the
    # subscription is reported NOT_ASSESSED for the groups that could not be listed.
    needs=(m.LOCKS,), selects=(m.RESOURCE_GROUPS, m.BACKUP_POLICIES),
)
def backup_rg_locked(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    pattern = re.compile(params["rg_name_pattern"], re.IGNORECASE)
    custom = custom_rp_groups(inv)

    def policies_naming(rg: m.ResourceGroup) -> list[m.BackupPolicy]:
        return [p for p, rx in custom if p.subscription_id.lower() == rg.subscription_id.lower() and rx.match(rg.name)]

    # Backup resource groups: from the RG list, and from lock scopes (so a failed RG list still
    # finds a lock placed directly on one).
    groups: dict[str, m.ResourceGroup] = {}
    for rg in inv.resource_groups:
        if pattern.match(rg.name) or policies_naming(rg):
            groups[rg.id] = rg
    for lock in inv.locks:
        if lock.scope_kind == "resourceGroup":
            name = ids.name_of(lock.display_id.split("/providers/")[0])
            sub = ids.subscription_of(lock.scope)
            candidate = m.ResourceGroup(id=lock.scope, display_id=ids.resource_group_id(sub, name), name=name,
                                        subscription_id=sub)
            if lock.scope not in groups and (pattern.match(name) or policies_naming(candidate)):
                groups[lock.scope] = candidate
    for rg in sorted(groups.values(), key=lambda g: g.id):
        locks = inv.locks_applying_to(rg.id)
        if not locks:
            yield passed(rg)
            continue
        naming = policies_naming(rg)
        if naming and not pattern.match(rg.name):
            # A policy's custom group, in the region of the policy's VMs (a group of another region
            # with the same name pattern holds no restore points of theirs).
            where = rg.location.lower()
            vms = sorted({vm.name for p in naming for vm in _policy_vms(inv, p) if not where or vm.location.lower() == where})
            if where and not vms:
                yield passed(rg)
                continue
            levels = sorted({lk.level for lk in locks})
            yield fail(rg, f"{'/'.join(levels)} lock on {rg.name}, the instant-restore resource group of policy "
                           f"{', '.join(p.name for p in naming)}, blocks Azure Backup from deleting expired restore points"
                           f"{f' for {len(vms)} backed-up VM(s)' if vms else ''}",
                       locks=_lock_evidence(locks), region=where, backed_up_vms=vms,
                       policies=[p.display_id for p in naming], group_kind="custom (instantRPDetails)")
            continue
        match = pattern.match(rg.name)
        geo = (match.groupdict().get("geo") or "").lower() if match else ""
        vms = sorted(vm.name for vm in inv.virtual_machines
                     if vm.subscription_id == rg.subscription_id and vm.location.lower() == geo and inv.is_backed_up(vm.id))
        levels = sorted({lock.level for lock in locks})
        yield fail(rg, f"{'/'.join(levels)} lock on {rg.name} blocks Azure Backup from deleting expired restore points"
                       f"{f' for {len(vms)} backed-up VM(s) in {geo}' if vms else ''}",
                   locks=_lock_evidence(locks), region=geo, backed_up_vms=vms)


@rule(
    code="BCDR402", slug="rp-collection-locked", severity="high",
    title="Lock on a backed-up VM's restore point collection",
    predicts=("UserErrorRpCollectionLimitReached",),
    source="seeds/004 UserErrorRpCollectionLimitReached ('a lock on the restore point resource group "
           "prevents automatic cleanup')",
    remediation="""Remove the lock from the restore point collection, or from the resource group that holds it
        (the custom resource group an Enhanced policy may name for instant restore points, or the one
        inherited from the subscription). Azure Backup must delete expired restore points from this
        collection; while it is locked the collection fills to its limit and backups fail. Then run an
        on-demand backup to trigger the cleanup.""",
    references=(DOC_RP_LIMIT, DOC_LOCKS),
    params=(Param("rg_name_pattern", BACKUP_RG.pattern,
                  "regular expression for the Backup-managed resource group names (their locks are BCDR401's)"),),
    needs=(m.LOCKS, m.RESTORE_POINT_COLLECTIONS, m.PROTECTED_ITEMS),
)
def rp_collection_locked(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    pattern = re.compile(params["rg_name_pattern"], re.IGNORECASE)
    custom = custom_rp_groups(inv)  # their group locks are BCDR401's, like AzureBackupRG_<geo>_<n>
    for rpc in sorted(inv.restore_point_collections, key=lambda r: r.id):
        vm_id = rpc.source_id
        if not inv.is_backed_up(vm_id):
            continue
        # A lock on an AzureBackupRG_<geo>_<n> group, direct or inherited from the subscription, is
        # BCDR401's finding (it names every VM in the region); here only the collection's own lock
        # counts for those. For a collection kept anywhere else, its group and subscription count too.
        backup_rg = bool(pattern.match(rpc.resource_group)) or any(rx.match(rpc.resource_group) for _p, rx in custom)
        locks = tuple(lock for lock in inv.locks_applying_to(rpc.id) if not backup_rg or lock.scope == rpc.id)
        if not locks:
            yield passed(rpc)
            continue
        vm = inv.vm_by_id.get(vm_id)
        levels = sorted({lock.level for lock in locks})
        vm_name = vm.name if vm else ids.name_of(rpc.source_display_id or vm_id)
        yield fail(rpc, f"{'/'.join(levels)} lock on restore point collection {rpc.name} "
                        f"(VM {vm_name}) blocks cleanup of expired restore points",
                   locks=_lock_evidence(locks), vm_id=vm.display_id if vm else (rpc.source_display_id or vm_id),
                   restore_points=rpc.restore_point_count)


@rule(
    code="BCDR403", slug="readonly-lock-on-backed-up-vm", severity="medium",
    title="ReadOnly lock on a backed-up VM",
    predicts=("extension install/update failures", "snapshot failures"),
    source="Azure Backup support matrix ('backup after enabling a resource group lock: not supported')",
    remediation="""A ReadOnly lock on the VM, its resource group or its subscription blocks every write to the
        VM, including the extension install and update that Azure Backup performs before a snapshot. Replace
        it with a CanNotDelete lock on the VM (it blocks deletion, not the updates Backup makes), or move the
        lock to resources that Azure Backup does not need to update.""",
    references=(DOC_SUPPORT, DOC_LOCKS),
    needs=(m.LOCKS, m.VMS, m.PROTECTED_ITEMS),
)
def readonly_lock_on_backed_up_vm(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for vm in sorted(inv.virtual_machines, key=lambda v: v.id):
        if not inv.is_backed_up(vm.id):
            continue
        locks = tuple(lock for lock in inv.locks_applying_to(vm.id) if lock.level.lower() == "readonly")
        if locks:
            yield fail(vm, f"ReadOnly lock applies to backed-up VM {vm.name}", locks=_lock_evidence(locks))
        else:
            yield passed(vm)
