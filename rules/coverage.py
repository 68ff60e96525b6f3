"""8xx Protection coverage (see ../shared/rule-catalog.md).

Every join here is on the lower-cased ARM id (protected item `sourceResourceId` / `virtualMachineId`
to VirtualMachine.id), never on names: two resource groups can hold VMs with the same name, which is
how peer scanners that join on names report a VM as backed up when only its namesake is.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterator, Mapping

from scanner import ids
from scanner import inventory as m

from . import knowledge
from ._common import vm_existence_gap
from .base import Result, fail, not_assessed, passed, rule
from .docs import DOC_BCM_NOT_PRESENT, DOC_ENABLE, DOC_MANAGE, DOC_MONITOR, DOC_SUPPORT, DOC_VM_TROUBLESHOOT, DOC_VMS_TROUBLESHOOT

# BackupsSuspended is "stop backup, retain data" in current api-versions (ItemProtectionState): no new
# backups run, exactly like ProtectionStopped (rule-catalog-v2 A, BCDR803).
STOPPED_STATES = frozenset({"protectionstopped", "protectionpaused", "backupssuspended"})
UNHEALTHY = frozenset({"actionrequired", "actionsuggested"})
_VM_TYPE = "/providers/microsoft.compute/virtualmachines/"


def _scanned(inv: m.Inventory) -> set[str]:
    return {s.lower() for s in inv.subscriptions}


@rule(
    code="BCDR801", slug="vm-not-backed-up", severity="medium",
    title="VM not backed up",
    predicts=("no recovery possible",),
    source="catalog 'vm-not-backed-up' (peer scanners check it by name; we join on ids); rule-catalog-v2 A: a vault "
           "in any scanned subscription counts (Azure Backup support matrix, cross-subscription backup, checked 2026-12)",
    remediation="""No Recovery Services vault in the scanned subscriptions holds a backup item for this VM, so there is
        nothing to restore from if it is lost or corrupted. Azure Backup can protect a VM from a vault in another
        subscription of the tenant: if the evidence says a vault elsewhere cannot be ruled out, scan those
        subscriptions too (--all-subscriptions). Otherwise enable Azure Backup for it with a policy that matches its
        recovery objectives, or record why it needs no backup: an entry in the --suppressions file (rule, resource
        glob, reason, owner, expiry) reports it as SUPPRESSED until the entry expires.""",
    references=(DOC_ENABLE, DOC_SUPPORT),
    needs=(m.VMS,),
)
def vm_not_backed_up(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    caveat = _elsewhere_caveat(inv)
    vaults_in = Counter(v.subscription_id.lower() for v in inv.vaults)
    for vm in inv.virtual_machines:
        # Items from every scanned subscription: protected_items_by_vm joins on the VM id whatever
        # vault (and subscription) the item sits in.
        items = inv.protected_items_by_vm.get(vm.id, ())
        if items and not any(p.state_known for p in items):
            # Only states the scanner does not know: whether the VM is backed up is unknown, and the
            # backup rules that key on "backed up" would skip it silently.
            yield not_assessed(vm, "backup item in an unknown protection state: "
                               + ", ".join(sorted({p.protection_state or "(none)" for p in items})))
            continue
        if items:
            yield passed(vm)
            continue
        # No item found. That only proves there is none in the VM's own subscription if every vault
        # there, and every vault's protected items, were read.
        reason = inv.gap(m.VAULTS, vm.subscription_id) or inv.gap(m.PROTECTED_ITEMS, vm.subscription_id)
        if reason:
            yield not_assessed(vm, f"cannot tell whether a vault protects this VM: {reason}")
        else:
            yield fail(vm, f"VM {vm.name} has no backup item in any Recovery Services vault of the scanned subscriptions",
                       vaults_in_subscription=vaults_in[vm.subscription_id.lower()],
                       vaults_scanned=len(inv.vaults), **caveat)


def _elsewhere_caveat(inv: m.Inventory) -> dict[str, Any]:
    """Cross-subscription backup (rule-catalog-v2 A): a vault in another subscription of the tenant
    may protect the VM. Say so when the scan did not cover every visible subscription, or when some
    scanned subscription's vaults could not be read."""
    unread = sorted(s for s in inv.subscriptions if inv.gap(m.VAULTS, s) or inv.gap(m.PROTECTED_ITEMS, s))
    out: dict[str, Any] = {}
    if inv.scope == "management-group":
        out["vault_elsewhere"] = ("only the subscriptions under the given management group(s) were scanned: a vault in "
                                  "a subscription outside them (cross-subscription backup) cannot be ruled out")
    elif inv.scope != "all-subscriptions":
        out["vault_elsewhere"] = ("only the named subscriptions were scanned: a vault in another subscription of "
                                  "the tenant (cross-subscription backup) cannot be ruled out")
    if unread:
        out["subscriptions_with_unread_vaults"] = unread
    return out


@rule(
    code="BCDR802", slug="protected-item-source-missing", severity="medium",
    title="Backup item whose VM no longer exists",
    predicts=("BCMV2VMNotFound", "ResourceNotFound", "VM does not exist", "BackUpOperationFailed"),
    source="seeds/002 backup table ('the VM does not exist' / 'Azure virtual machine not found': the VM was "
           "deleted but the backup policy keeps looking for it)",
    remediation="""The VM this backup item protects has been deleted, but its protection is still active, so every
        scheduled backup fails. Stop protection of the item (keep the backup data if you may still need to
        restore it), or recreate the VM with the same name in the same resource group if it was deleted by
        mistake.""",
    references=(DOC_VMS_TROUBLESHOOT, DOC_MANAGE),
    needs=(m.PROTECTED_ITEMS,),
)
def protected_item_source_missing(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    scanned = _scanned(inv)
    for item in inv.protected_items:
        # Only active protection runs scheduled backups that fail; a stopped item whose VM is gone is
        # the documented fix (seeds/002), not a problem.
        if not item.is_backed_up:
            continue
        source = item.source_resource_id
        if not source:
            yield not_assessed(item, "the backup item reports no source VM id")
            continue
        if _VM_TYPE not in source:
            continue  # not an Azure Resource Manager VM (classic or another workload): no VM list to check
        if ids.subscription_of(source) not in scanned:
            continue  # we did not look at that subscription's VMs, so we say nothing about it
        if source in inv.vm_by_id:
            yield passed(item)
            continue
        reason = vm_existence_gap(inv, source)
        if reason:
            yield not_assessed(item, f"cannot tell whether the VM exists: {reason}", source_vm=item.source_display_id or source)
            continue
        yield fail(item, f"backup item {item.friendly_name or item.name} protects a VM that no longer exists",
                   source_vm=item.source_display_id or source, protection_state=item.protection_state,
                   vault=item.vault_id, last_backup_status=item.last_backup_status)


@rule(
    code="BCDR803", slug="protection-stopped-or-paused", severity="medium",
    title="Backup stopped or paused for an existing VM",
    predicts=("UserErrorBcmDatasourceNotPresent",),
    source="seeds/004 UserErrorBcmDatasourceNotPresent; rule-catalog-v2 A (BackupsSuspended, ItemProtectionState)",
    remediation="""The VM still exists but its backup protection is stopped, paused or suspended (stop backup,
        retain data): no new restore points are being taken and backups fail with
        UserErrorBcmDatasourceNotPresent. Resume protection (assign a policy again) if the VM still needs backup;
        if it does not, record that decision in the --suppressions file (rule, resource glob, reason, owner,
        expiry), which reports the finding as SUPPRESSED until the entry expires.""",
    references=(DOC_BCM_NOT_PRESENT, DOC_MANAGE),
    needs=(m.PROTECTED_ITEMS,),
)
def protection_stopped_or_paused(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for item in inv.protected_items:
        if item.protection_state.lower() not in STOPPED_STATES:
            continue
        if item.deferred_delete:
            continue  # soft-deleted: undelete first; that is BCDR805's finding, not a stopped backup
        source = item.source_resource_id
        vm = inv.vm_by_id.get(source) if source else None
        if vm is None:
            reason = vm_existence_gap(inv, source) if source else "the backup item reports no source VM id"
            if reason:
                yield not_assessed(item, f"cannot tell whether the VM exists: {reason}")
            else:
                yield passed(item)  # the VM is gone: stopping protection was the right thing to do
            continue
        # Backup reconfigured in another vault: the stopped item only keeps old data.
        active = inv.backup_items_for(vm.id)
        if active:
            yield passed(item)
            continue
        yield fail(item, f"backup of existing VM {vm.name} is {item.protection_state}",
                   vm_id=vm.display_id, protection_state=item.protection_state, vault=item.vault_id,
                   last_backup_time=item.last_backup_time)


@rule(
    code="BCDR804", slug="protected-item-unhealthy", severity="medium",
    title="Backup item health needs action",
    predicts=("the health detail codes listed in the evidence",),
    source="seeds/004 (error codes and causes); protected item healthStatus / healthDetails",
    remediation="""Azure Backup rates this item ActionRequired or ActionSuggested. The evidence lists the health
        details it reports, with the known cause and fix for each code we recognise; follow the recommendation,
        then run an on-demand backup and check that the item returns to Passed.""",
    references=(DOC_MONITOR, DOC_VM_TROUBLESHOOT),
    needs=(m.PROTECTED_ITEMS,),
)
def protected_item_unhealthy(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for item in inv.protected_items:
        health = item.health_status.lower()
        if health == "passed":
            yield passed(item)
            continue
        if health not in UNHEALTHY:
            yield not_assessed(item, f"health status not reported ({item.health_status or 'empty'})")
            continue
        # healthDetails[] is {code: number, title: name} (ResourceHealthDetails; real responses): the
        # knowledge base is looked up by either, and the evidence shows both.
        codes = [(d.code, d.title) for d in item.health_details]
        yield fail(item, f"backup item {item.friendly_name or item.name} health is {item.health_status}",
                   health_status=item.health_status, vm_id=item.source_display_id or item.source_resource_id,
                   health_details=[{"code": d.code, "title": d.title, "message": d.message} for d in item.health_details],
                   error_codes=knowledge.evidence_for(codes))
