"""5xx Restore points. Counting needs one GET per collection ($expand=restorePoints); the collector
does it only for collections of backed-up VMs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from scanner import inventory as m

from ._common import not_assessed_for_failed, policy_is_v2
from .base import Param, Result, fail, not_assessed, passed, rule

DOC_RP_LIMIT = ("https://learn.microsoft.com/azure/backup/backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout"
                "#usererrorrpcollectionlimitreached---the-restore-point-collection-max-limit-has-reached")
DOC_ENHANCED = "https://learn.microsoft.com/azure/backup/backup-azure-vms-enhanced-policy"

LIMIT_PARAMS = (
    # seeds/004: "the restore point collection max limit (18) has been reached" (Standard policy).
    Param("limit", 18, "instant restore points a Standard (V1) policy VM can hold", 1, 1000),
    Param("near_limit", 15, "count at which BCDR502 warns (Standard policy)", 1, 1000),
    # Enhanced policy keeps up to 30 days of snapshots taken as often as every 4 hours: 30 x 6.
    Param("enhanced_limit", 180, "instant restore points an Enhanced (V2) policy VM is expected to hold at most", 1, 5000),
    Param("enhanced_near_limit", 170, "count at which BCDR502 warns (Enhanced policy)", 1, 5000),
)


@dataclass(frozen=True)
class _Count:
    resource: m.VirtualMachine | m.ProtectedItem
    count: int | None
    v2: bool
    reason: str  # why the count is unknown; empty when known
    collections: list[dict[str, Any]]


def _counts(inv: m.Inventory) -> tuple[list[Result], list[_Count]]:
    """NOT_ASSESSED results for subscriptions whose data is missing, and one count per backed-up VM
    (restore points summed over all its collections)."""
    skip, gaps = not_assessed_for_failed(inv, m.RESTORE_POINT_COLLECTIONS, m.PROTECTED_ITEMS)
    counts: list[_Count] = []
    seen: set[str] = set()
    for item in inv.protected_items:
        if not item.is_backed_up or item.source_resource_id in seen or item.subscription_id in skip:
            continue
        seen.add(item.source_resource_id)
        resource = inv.vm_by_id.get(item.source_resource_id) or item
        rpcs = inv.restore_point_collections_by_vm.get(item.source_resource_id, ())
        unknown = [r for r in rpcs if r.restore_point_count is None]
        v2 = policy_is_v2(inv, item)
        evidence = [{"collection": r.display_id, "restore_points": r.restore_point_count} for r in rpcs]
        if unknown:
            reason = (f"restore points of {len(unknown)} collection(s) could not be counted "
                      f"({unknown[0].restore_point_error or 'not fetched'})")
        elif v2 is None:
            reason = "backup policy type (Standard or Enhanced) unknown: policy not readable"
        else:
            reason = ""
        total = None if reason else sum(r.restore_point_count or 0 for r in rpcs)
        counts.append(_Count(resource, total, bool(v2), reason, evidence))
    return gaps, counts


def _limits(params: Mapping[str, Any], v2: bool) -> tuple[int, int]:
    if v2:
        return params["enhanced_limit"], params["enhanced_near_limit"]
    return params["limit"], params["near_limit"]


@rule(
    code="BCDR501", slug="rp-collection-limit-reached", severity="critical",
    title="Instant restore point limit reached",
    predicts=("UserErrorRpCollectionLimitReached",),
    source="seeds/004 UserErrorRpCollectionLimitReached",
    remediation="""The VM's restore point collections hold as many instant restore points as its policy allows,
        so the next backup cannot take a snapshot. Look for a lock on the restore point resource group
        (BCDR401/BCDR402) and remove it, stop extra on-demand backups (one backup a day is the recommended
        schedule on a Standard policy), then trigger one backup so the service can delete expired points.""",
    references=(DOC_RP_LIMIT, DOC_ENHANCED),
    params=LIMIT_PARAMS,
)
def rp_collection_limit_reached(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    gaps, counts = _counts(inv)
    yield from gaps
    for c in counts:
        if c.reason:
            yield not_assessed(c.resource, c.reason, collections=c.collections)
            continue
        limit, _near = _limits(params, c.v2)
        policy = "Enhanced" if c.v2 else "Standard"
        if c.count >= limit:
            yield fail(c.resource, f"{c.count} instant restore points, limit {limit} ({policy} policy)",
                       restore_points=c.count, limit=limit, policy=policy, collections=c.collections)
        else:
            yield passed(c.resource)


@rule(
    code="BCDR502", slug="rp-collection-near-limit", severity="medium",
    title="Instant restore points close to the limit",
    predicts=("UserErrorRpCollectionLimitReached",),
    source="seeds/004 UserErrorRpCollectionLimitReached",
    remediation="""The VM is a few restore points away from the limit. Check that old restore points are being
        cleaned up (no lock on the restore point resource group) and that no extra on-demand backups are
        scheduled; otherwise backups start failing with UserErrorRpCollectionLimitReached.""",
    references=(DOC_RP_LIMIT,),
    params=LIMIT_PARAMS,
)
def rp_collection_near_limit(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    gaps, counts = _counts(inv)
    yield from gaps
    for c in counts:
        if c.reason:
            yield not_assessed(c.resource, c.reason, collections=c.collections)
            continue
        limit, near = _limits(params, c.v2)
        if near <= c.count < limit:
            yield fail(c.resource, f"{c.count} instant restore points, {limit - c.count} below the limit of {limit}",
                       restore_points=c.count, limit=limit, near_limit=near, collections=c.collections)
        else:
            yield passed(c.resource)
