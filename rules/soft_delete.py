"""8xx Protection coverage, second edition: a backup item that was deleted (soft delete) while its
VM still runs. BCDR803 covers stopped and suspended protection and leaves these items to this rule."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from scanner import inventory as m

from ._common import vm_existence_gap
from .base import Result, fail, not_assessed, passed, rule
from .docs import DOC_BCM_NOT_PRESENT, DOC_SOFT_DELETE_VMS


@rule(
    code="BCDR805", slug="protected-item-soft-deleted", severity="medium",
    title="Backup item of an existing VM is soft-deleted",
    predicts=("UserErrorBcmDatasourceNotPresent",),
    source="rule-catalog-v2 B; seeds/004 UserErrorBcmDatasourceNotPresent; Azure Backup soft delete docs",
    remediation="""Someone stopped the backup of this VM and deleted its data; soft delete keeps the item until the
        time in the evidence, then purges it with every recovery point. Meanwhile no backup runs. If the VM
        still needs protection, undelete the item in the vault and resume backup with a policy; if not, let it
        expire.""",
    references=(DOC_SOFT_DELETE_VMS, DOC_BCM_NOT_PRESENT),
    needs=(m.PROTECTED_ITEMS,),
)
def protected_item_soft_deleted(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for item in inv.protected_items:
        if not item.deferred_delete:  # the service omits the flag on items that are not deleted
            yield passed(item)
            continue
        vm = inv.vm_by_id.get(item.source_resource_id)
        if vm is None:
            reason = vm_existence_gap(inv, item.source_resource_id)
            if reason:
                yield not_assessed(item, f"cannot tell whether the VM still exists: {reason}")
            else:
                yield passed(item)  # VM gone too: deleting its backup was the point
            continue
        purge = item.deferred_delete_time or "an unreported time"
        yield fail(item, f"the backup item of {vm.name} is soft-deleted; it is purged at {purge}",
                   deferred_delete_time_utc=item.deferred_delete_time, protection_state=item.protection_state,
                   vm=vm.display_id)
