"""5xx Restore points. Counting needs one GET per collection ($expand=restorePoints); the collector
does it only for collections of backed-up VMs."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any, Iterator, Mapping

from scanner import ids
from scanner import inventory as m
from scanner.timeutil import parse

from ._common import collected_at, per_inventory, policy_is_v2
from .base import Param, Result, fail, not_assessed, passed, rule
from .docs import DOC_ENHANCED, DOC_RP_CLEANUP, DOC_RP_LIMIT

LIMIT_PARAMS = (
    # seeds/004: "the restore point collection max limit (18) has been reached" (Standard policy).
    Param("limit", 18, "instant restore points a Standard (V1) policy VM can hold (seeds/004)", 1, 1000),
    Param("near_limit", 15, "count at which BCDR502 warns (Standard policy)", 1, 1000),
    # rule-catalog-v2 A: an Enhanced policy has no 18-style limit; the platform allows 500 restore
    # points per VM (Microsoft "VM restore points" limits, checked 2026-12). The first edition used
    # 180 (30 days x every 4 h), which no current page states.
    Param("enhanced_limit", 500, "restore points a VM can hold on any policy: the platform limit (Microsoft 'VM "
          "restore points' limits, checked 2026-12)", 1, 5000),
    Param("enhanced_near_limit", 450, "count at which BCDR502 warns (Enhanced policy, below the platform limit)", 1, 5000),
    Param("cleanup_lag_days", 1, "days an expired instant restore point may stay before Azure Backup deletes it "
          "(instant-restore page, checked 2026-12: cleanup up to 24 h after expiry)", 0, 7),
    Param("history_days", 7, "days of backup job history to count on-demand backups over", 1, 30),
)


@dataclass(frozen=True)
class _Count:
    resource: m.VirtualMachine | m.ProtectedItem
    item: m.ProtectedItem
    count: int | None
    v2: bool
    reason: str  # why the count is unknown; empty when known
    rpcs: tuple[m.RestorePointCollection, ...]

    @property
    def collections(self) -> list[dict[str, Any]]:
        """The evidence: each collection with its count (built for a finding only)."""
        return [{"collection": r.display_id, "restore_points": r.restore_point_count} for r in self.rpcs]


# Counting reads the collections and the backup items; a collection whose restore points could not be
# counted makes its VM NOT_ASSESSED (restore_point_error), in the rule.
COUNT_NEEDS = (m.RESTORE_POINT_COLLECTIONS, m.PROTECTED_ITEMS)


@per_inventory
def _counts(inv: m.Inventory) -> tuple[_Count, ...]:
    """One count per backed-up VM (restore points summed over all its collections); BCDR501 and
    BCDR502 read the same counts."""
    counts: list[_Count] = []
    seen: set[str] = set()
    for item in inv.protected_items:
        if not item.is_backed_up or item.source_resource_id in seen:
            continue
        seen.add(item.source_resource_id)
        resource = inv.vm_by_id.get(item.source_resource_id) or item
        rpcs = inv.restore_point_collections_by_vm.get(item.source_resource_id, ())
        unknown = [r for r in rpcs if r.restore_point_count is None]
        v2 = policy_is_v2(inv, item)
        if unknown:
            reason = (f"restore points of {len(unknown)} collection(s) could not be counted "
                      f"({unknown[0].restore_point_error or 'not fetched'})")
        elif v2 is None:
            reason = "backup policy type (Standard or Enhanced) unknown: policy not readable"
        else:
            reason = ""
        total = None if reason else sum(r.restore_point_count or 0 for r in rpcs)
        counts.append(_Count(resource, item, total, bool(v2), reason, tuple(rpcs)))
    return tuple(counts)


def _scheduled_per_day(policy: m.BackupPolicy) -> float | None:
    """Scheduled backups (each leaves one instant restore point) per day, or None when unknown.
    Hourly: every `interval` hours inside the schedule window (24 h when the window is not given)."""
    freq = policy.schedule_run_frequency.lower()
    if freq == "daily":
        return 1.0
    if freq == "weekly":
        return 1 / 7
    if freq == "hourly" and policy.hourly_interval:
        return float(max(1, math.ceil((policy.schedule_window_hours or 24) / policy.hourly_interval)))
    return None


@dataclass(frozen=True)
class _Expected:
    """The most instant restore points an Enhanced policy can leave on a VM: its scheduled snapshots
    over the instant-RP retention plus the cleanup lag, plus the on-demand backups seen."""
    most: int | None
    reason: str  # why it is unknown
    evidence: dict[str, Any]


def _enhanced_expected(inv: m.Inventory, item: m.ProtectedItem, params: Mapping[str, Any]) -> _Expected:
    policy = inv.policy_by_id.get(item.policy_id)
    per_day = _scheduled_per_day(policy) if policy else None
    retention = policy.instant_rp_retention_days if policy else None
    if policy is None or per_day is None or retention is None:
        return _Expected(None, "Enhanced policy schedule or instant restore retention unknown", {})
    reason = inv.gap(m.BACKUP_JOBS, item.subscription_id, item.vault_id)
    if reason:
        return _Expected(None, f"on-demand backups unknown: {reason}", {})
    now = collected_at(inv)
    lag = params["cleanup_lag_days"]
    days = retention + lag
    jobs = _window_jobs(inv, item, now - timedelta(days=min(days, params["history_days"])), now)
    on_demand, method = _on_demand(jobs, per_day)
    scheduled = math.ceil(per_day * days)
    return _Expected(scheduled + on_demand, "", dict(
        policy_name=policy.name, instant_rp_retention_days=retention, cleanup_lag_days=lag,
        scheduled_per_day=round(per_day, 2), scheduled_restore_points=scheduled, on_demand_backups=on_demand,
        method=method, expected_max_restore_points=scheduled + on_demand))


@rule(
    code="BCDR501", slug="rp-collection-limit-reached", severity="critical",
    title="Instant restore point limit reached, or expired points not cleaned up",
    predicts=("UserErrorRpCollectionLimitReached",),
    source="seeds/004 UserErrorRpCollectionLimitReached (18, Standard policy); rule-catalog-v2 A: Enhanced policy per the "
           "instant-restore page (cleanup up to 24 h after expiry) and the VM restore points limit (500), checked 2026-12",
    remediation="""The VM's restore point collections hold as many instant restore points as its policy allows (18 on
        a Standard policy; 500 per VM on any policy), or, on an Enhanced policy, more than its schedule and
        retention can produce: expired points are not being cleaned up and the next backups will fail. Look for a
        lock on the restore point resource group (BCDR401/BCDR402) and remove it, stop extra on-demand backups (one
        backup a day is the recommended schedule on a Standard policy), then trigger one backup so the service can
        delete expired points.""",
    references=(DOC_RP_LIMIT, DOC_ENHANCED),
    params=LIMIT_PARAMS,
    needs=COUNT_NEEDS,
)
def rp_collection_limit_reached(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for c in _counts(inv):
        if c.reason or c.count is None:
            yield not_assessed(c.resource, c.reason, collections=c.collections)
            continue
        limit = params["enhanced_limit"] if c.v2 else params["limit"]
        policy = "Enhanced" if c.v2 else "Standard"
        if c.count >= limit:
            source = "platform limit of restore points per VM" if c.v2 else "Standard policy limit (seeds/004)"
            yield fail(c.resource, f"{c.count} instant restore points, limit {limit} ({policy} policy)",
                       restore_points=c.count, limit=limit, policy=policy, limit_source=source, collections=c.collections)
            continue
        if not c.v2:
            yield passed(c.resource)
            continue
        expected = _enhanced_expected(inv, c.item, params)
        if expected.most is None:
            yield not_assessed(c.resource, expected.reason, restore_points=c.count, collections=c.collections)
        elif c.count > expected.most:
            yield fail(c.resource, f"{c.count} instant restore points, more than the {expected.most} the Enhanced policy "
                                   "can produce: expired restore points are not being cleaned up",
                       restore_points=c.count, limit=limit, policy=policy, collections=c.collections,
                       limit_source="what the Enhanced policy can produce (instant-restore page, checked 2026-12)",
                       **expected.evidence)
        else:
            yield passed(c.resource)


@rule(
    code="BCDR502", slug="rp-collection-near-limit", severity="medium",
    title="Instant restore points close to the limit",
    predicts=("UserErrorRpCollectionLimitReached",),
    source="seeds/004 UserErrorRpCollectionLimitReached; rule-catalog-v2 A (Enhanced policy: the 500 platform limit)",
    remediation="""The VM is a few restore points away from the limit (18 on a Standard policy, the platform's 500 on an
        Enhanced one). Check that old restore points are being cleaned up (no lock on the restore point resource
        group) and that no extra on-demand backups are scheduled; otherwise backups start failing with
        UserErrorRpCollectionLimitReached.""",
    references=(DOC_RP_LIMIT,),
    params=LIMIT_PARAMS,
    needs=COUNT_NEEDS,
)
def rp_collection_near_limit(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for c in _counts(inv):
        if c.reason or c.count is None:
            yield not_assessed(c.resource, c.reason, collections=c.collections)
            continue
        limit, near = ((params["enhanced_limit"], params["enhanced_near_limit"]) if c.v2
                       else (params["limit"], params["near_limit"]))
        if near <= c.count < limit:
            yield fail(c.resource, f"{c.count} instant restore points, {limit - c.count} below the limit of {limit}",
                       restore_points=c.count, limit=limit, near_limit=near, collections=c.collections,
                       policy="Enhanced" if c.v2 else "Standard")
        else:
            yield passed(c.resource)


def _window_jobs(inv: m.Inventory, item: m.ProtectedItem, start: datetime, now: datetime) -> list[tuple[datetime, m.BackupJob]]:
    """Backup jobs of the item's VM (any vault) that started in [start, now] and may have left a
    restore point: failed and cancelled jobs did not. The spellings the service sends ('Backup',
    'Completed', 'InProgress', ...) are recognised before anything is lower-cased: at 10,000 VMs this
    reads 49,000 jobs for each rule that calls it."""
    out = []
    for job in inv.backup_jobs_by_vm.get(item.source_resource_id, ()):
        operation, status = job.operation, job.status
        if operation != "Backup" and operation.lower() != "backup":
            continue
        if status not in _LEFT_A_POINT and status.lower() in _NO_POINT:
            continue
        started = parse(job.start_time)
        if started is not None and start <= started <= now:
            out.append((started, job))
    out.sort(key=_started)
    return out


_NO_POINT = frozenset({"failed", "cancelled", "cancelling"})  # jobs that left no restore point (lower-cased)
_LEFT_A_POINT = frozenset({"Completed", "CompletedWithWarnings", "InProgress"})  # as sent: none of _NO_POINT
_started = itemgetter(0)
_item_id = attrgetter("id")


def _on_demand(jobs: list[tuple[datetime, m.BackupJob]], scheduled_per_day: float = 1.0) -> tuple[int, str]:
    """(on-demand backups, how they were told apart). isUserTriggered (AzureIaaSVMJob) says it when
    the service sends it; otherwise every backup of a UTC day beyond the policy's scheduled ones
    (one a day on a Standard policy) was on demand."""
    triggered = [j.is_user_triggered for _t, j in jobs]
    if None not in triggered:  # bools only
        return triggered.count(True), "isUserTriggered"
    per_day = Counter(t.date() for t, _j in jobs)
    allowed = max(1, math.ceil(scheduled_per_day))
    return sum(max(0, n - allowed) for n in per_day.values()), f"backups beyond {allowed} per UTC day"


@rule(
    code="BCDR503", slug="rp-projection-over-limit", severity="medium",
    title="On-demand backups will push instant restore points over the limit",
    predicts=("UserErrorRpCollectionLimitReached",),
    source="seeds/004 UserErrorRpCollectionLimitReached ('several backups a day'; 'one backup a day is recommended'); "
           "rule-catalog-v2 A: instant-restore page (checked 2026-12: with n days configured, n+1 days of points can exist)",
    remediation="""At the observed rate of on-demand backups, this Standard-policy VM will keep more instant restore
        points than the limit: (instant restore retention days + 1 day of cleanup lag) x backups a day + 1, and
        backups will start failing with UserErrorRpCollectionLimitReached. Stop the extra on-demand backups (one
        backup a day is the recommended schedule on a Standard policy), shorten the policy's instant restore
        retention, or move the VM to an Enhanced policy if it really needs several backups a day.""",
    references=(DOC_RP_LIMIT, DOC_ENHANCED),
    params=(Param("limit", 18, "instant restore points a Standard (V1) policy VM can hold (seeds/004)", 1, 1000),
            Param("history_days", 7, "days of backup job history to measure on-demand backups over", 1, 30),
            Param("cleanup_lag_days", 1, "days an expired instant restore point may stay before it is deleted "
                  "(instant-restore page, checked 2026-12: up to 24 h)", 0, 7)),
    needs=(m.PROTECTED_ITEMS, m.BACKUP_JOBS),
)
def rp_projection_over_limit(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    now = collected_at(inv)
    history = params["history_days"]
    limit = params["limit"]
    lag = params["cleanup_lag_days"]
    start = now - timedelta(days=history)
    seen: set[str] = set()
    for item in sorted(inv.protected_items, key=_item_id):
        if not item.is_backed_up or item.source_resource_id in seen:
            continue
        seen.add(item.source_resource_id)
        resource = inv.vm_by_id.get(item.source_resource_id) or item
        v2 = policy_is_v2(inv, item)
        if v2:
            continue  # Enhanced policies take several snapshots a day by design; BCDR501/502 judge them
        policy = inv.policy_by_id.get(item.policy_id)
        retention = policy.instant_rp_retention_days if policy else None
        if v2 is None or retention is None:
            yield not_assessed(resource, "backup policy not readable: policy type or instant restore retention unknown",
                               policy=item.policy_name or item.policy_id)
            continue
        reason = inv.gap(m.BACKUP_JOBS, item.subscription_id, item.vault_id)
        if reason:
            yield not_assessed(resource, reason)
            continue
        jobs = _window_jobs(inv, item, start, now)
        on_demand, method = _on_demand(jobs)
        # Days actually observed: from the VM's first backup in the window (a VM protected two days ago,
        # or a collector that read fewer days, must not have its rate diluted over the full window).
        days = min(history, max(1, math.ceil((now - jobs[0][0]).total_seconds() / 86400))) if jobs else history
        per_day = on_demand / days
        # With n days of instant retention, n + 1 days of points can exist (cleanup runs up to a day
        # after expiry), and the backup being taken adds one.
        projected = (retention + lag) * (1 + per_day) + 1
        if projected > limit:
            evidence = dict(instant_rp_retention_days=retention, cleanup_lag_days=lag, on_demand_backups=on_demand,
                            days_observed=days, on_demand_per_day=round(per_day, 2),
                            projected_restore_points=round(projected, 1), limit=limit, method=method,
                            formula="(retention days + cleanup lag) x backups per day + 1",
                            policy=policy.name if policy else "")
            yield fail(resource, f"({retention} + {lag}) day(s) x {round(1 + per_day, 2)} backups a day + 1 = "
                                 f"{round(projected, 1)} instant restore points, over the limit of {limit}", **evidence)
        else:
            yield passed(resource)


@rule(
    code="BCDR504", slug="orphaned-rp-collection", severity="low",
    title="Restore point collection whose source VM no longer exists",
    predicts=(),
    source="seeds/004 'clean up restore point collection' (instant restore snapshots outlive a deleted VM)",
    remediation="""The VM this restore point collection was made from no longer exists, but its snapshots are
        kept (and billed) until they expire. If nothing needs to be restored from them, delete the
        collection (retry if the portal times out on a large one); if the VM was deleted by mistake, restore
        it from the vault first.""",
    references=(DOC_RP_CLEANUP,),
    needs=(m.RESTORE_POINT_COLLECTIONS,),
)
def orphaned_rp_collection(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    scanned = {s.lower() for s in inv.subscriptions}
    for rpc in sorted(inv.restore_point_collections, key=lambda r: r.id):
        if not rpc.source_id:
            yield not_assessed(rpc, "the collection does not name its source VM")
            continue
        source_sub = ids.subscription_of(rpc.source_id)
        if source_sub not in scanned:
            continue  # the source's subscription was not scanned: whether its VM exists is unknown
        if rpc.source_id in inv.vm_by_id:
            yield passed(rpc)
            continue
        reason = _vm_list_gap(inv, source_sub, rpc.source_id)
        if reason:
            yield not_assessed(rpc, reason, source_vm=rpc.source_display_id or rpc.source_id)
            continue
        yield fail(rpc, f"restore point collection {rpc.name} belongs to VM "
                        f"{ids.name_of(rpc.source_display_id or rpc.source_id)}, which no longer exists",
                   source_vm=rpc.source_display_id or rpc.source_id, restore_points=rpc.restore_point_count,
                   latest_restore_point_time=rpc.latest_restore_point_time)


def _vm_list_gap(inv: m.Inventory, subscription_id: str, vm_id: str) -> str | None:
    """Why the VM list cannot prove that `vm_id` is gone: failed, or partial with this VM (or an item
    the collector could not identify) among the unreadable ones."""
    cov = inv.coverage_index.get((subscription_id, m.VMS))
    if cov is None or cov.status == m.FAILED:
        return inv.gap(m.VMS, subscription_id) or "VM list missing"
    if cov.status == m.PARTIAL and (vm_id in cov.failed_scopes or not cov.failed_scopes):
        return f"{m.VMS} partial: {cov.error_code or 'error'}"
    return None
