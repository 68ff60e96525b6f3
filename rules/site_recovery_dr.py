"""9xx Site Recovery, second edition (../shared/rule-catalog-v2.md section B): the failures that show
on the day of a disaster. A disk never replicated, a failover never tested, a test failover never
cleaned up, a VM running unprotected since its failover, an expiring Mobility agent, a source VM that
is gone, a recovery plan that cannot fail over, and VMware failback infrastructure that stopped
reporting.

Items come from the replication item list (the engine says NOT_ASSESSED for vaults whose items could
not be read, needs=); plans, fabrics and container mappings from their own per-vault lists
(scanner.collectors.site_recovery), with their own coverage.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping

from scanner import inventory as m
from scanner.collectors.site_recovery import is_inmage
from scanner.timeutil import parse

from ._common import collected_at, per_inventory, vm_existence_gap
from .base import SEVERITIES, Param, Result, fail, not_assessed, passed, rule
from .docs import (
    DOC_A2A_ADDED_DISK,
    DOC_A2A_MOBILITY,
    DOC_A2A_REPROTECT,
    DOC_A2A_SUPPORT,
    DOC_ASR_DR_DRILL,
    DOC_ASR_MONITOR,
    DOC_ASR_PROCESS_SERVER,
    DOC_ASR_RECOVERY_PLANS,
    DOC_ASR_TEST_FAILOVER,
    DOC_AVS_FAILBACK,
    DOC_FAILBACK,
)
from .site_recovery import _is_a2a, _waiting_for_reprotect

NO_TEST_FAILOVER = "161011"  # health error: no successful test failover since replication started
NEVER_BEFORE = datetime(2000, 1, 2, tzinfo=timezone.utc)  # 0001-01-01 / 1753-01-01 placeholders mean "never"


def _when(value: str | None) -> datetime | None:
    when = parse(value)
    return when if when is not None and when > NEVER_BEFORE else None


def _label(item: m.ReplicationItem) -> str:
    return item.friendly_name or item.name


def _vms(item: m.ReplicationItem) -> tuple[str, ...]:
    return tuple(v for v in (item.source_vm_id, item.recovery_vm_id) if v)


@rule(
    code="BCDR907", slug="asr-disk-not-replicated", severity="high",
    title="Disk of a replicated VM is not replicated",
    predicts=("silent data loss at failover",),
    source="rule-catalog-v2 B; Azure-to-Azure support matrix (a disk added after replication was enabled)",
    remediation="""A managed disk attached to this VM is not replicated by Site Recovery, typically a data disk
        added after replication was enabled. After a failover the VM comes up without it. Enable replication
        for the added disk from the replicated item's Disks page (or turn on automatic protection of new data
        disks), then wait for it to reach Protected.""",
    references=(DOC_A2A_ADDED_DISK, DOC_A2A_SUPPORT),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_disk_not_replicated(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    items = inv.replication_items
    for item in items:
        if not _is_a2a(item) or item.active_location.lower() == "recovery" or not item.source_vm_id:
            continue  # only the primary side's disks can be missing from replication
        vm = inv.vm_by_id.get(item.source_vm_id)
        if vm is None:
            reason = vm_existence_gap(inv, item.source_vm_id)
            if reason:
                yield not_assessed(item, f"cannot read the source VM's disks: {reason}")
            continue  # the VM is gone: BCDR913
        if item.protected_disk_ids is None:
            yield not_assessed(item, "the item does not list the disks it replicates")
            continue
        attached = {d.managed_disk_id: d for d in vm.disks if d.managed_disk_id}
        attached.update({d.id: m.VmDisk(name=d.name, managed_disk_id=d.id) for d in inv.disks_by_vm.get(vm.id, ())
                         if d.id not in attached})
        if not attached:
            yield not_assessed(item, f"the disks of {vm.name} are not known", vm=vm.display_id)
            continue
        protected = set(item.protected_disk_ids)
        missing = sorted(d.name for did, d in attached.items() if did not in protected)
        by_lun = {d.lun: d.name for d in vm.disks if d.lun is not None}
        unprotected = sorted(by_lun.get(lun, f"LUN {lun}") for lun in item.unprotected_disk_luns)
        if missing or unprotected:
            names = sorted(set(missing) | set(unprotected))
            yield fail(item, f"{len(names)} disk(s) of {vm.name} are not replicated: {', '.join(names)}",
                       vm=vm.display_id, disks_not_replicated=names, unprotected_luns=list(item.unprotected_disk_luns),
                       replicated_disks=len(protected))
        else:
            yield passed(item)


def _last_test_failover(inv: m.Inventory, item: m.ReplicationItem) -> datetime | None:
    """The item's own time, or the newest test failover of a recovery plan holding it."""
    times = [_when(item.last_successful_test_failover_time)]
    times += [_when(p.last_test_failover_time) for p in inv.recovery_plans_by_item.get(item.id, ())]
    known = [t for t in times if t is not None]
    return max(known) if known else None


@rule(
    code="BCDR908", slug="asr-test-failover-stale", severity="medium",
    title="No recent successful test failover",
    predicts=("failover untested",),
    source="rule-catalog-v2 B; Site Recovery sample alert (90 days); health error 161011",
    remediation="""Nobody has proven that this VM fails over: there is no successful test failover, or the last one
        is older than the drill interval. Run a test failover into an isolated network (it does not touch
        replication), check that the VM and its application come up, then clean the test up.""",
    references=(DOC_ASR_DR_DRILL, DOC_ASR_TEST_FAILOVER),
    params=(Param("max_days", 90, "days after which the last successful test failover is too old", 1, 3650),),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_test_failover_stale(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    items = inv.replication_items
    now, limit = collected_at(inv), params["max_days"]
    for item in items:
        if not item.protection_state.lower().startswith("protected"):
            continue  # not yet (or no longer) replicating: nothing to test (BCDR901 / BCDR911)
        last = _last_test_failover(inv, item)
        never = any(e.code == NO_TEST_FAILOVER for e in item.health_errors)
        if last is None and never:
            yield fail(item, f"{_label(item)} has never had a successful test failover", last_test_failover=None,
                       health_error=NO_TEST_FAILOVER)
        elif last is None:
            yield not_assessed(item, "the item reports no test failover time")
        elif now - last > timedelta(days=limit) and (plans_gap := inv.gap(m.RECOVERY_PLANS, item.subscription_id,
                                                                          item.vault_id)):
            # A recovery plan's drill counts for its items: with the plans unread, a newer one cannot be ruled out.
            yield not_assessed(item, f"the item's own last test failover is {(now - last).days} days old and its "
                                     f"recovery plans could not be read: {plans_gap}",
                               last_test_failover=last.isoformat(), max_days=limit)
        elif now - last > timedelta(days=limit):
            yield fail(item, f"the last successful test failover of {_label(item)} was {(now - last).days} days ago",
                       last_test_failover=last.isoformat(), max_days=limit)
        else:
            yield passed(item)


@rule(
    code="BCDR909", slug="asr-failover-health-degraded", severity="high",
    title="Failover health is Critical or Warning",
    predicts=("failover fails or runs partly",),
    source="rule-catalog-v2 B; real recordings (failoverHealth with health errors); Site Recovery monitoring",
    remediation="""Site Recovery's own failover validation reports a problem for this item, so a failover now would
        fail or bring the VM up incomplete. The evidence lists the errors with their recommended actions;
        resolve them until failover health returns to Normal.""",
    references=(DOC_ASR_MONITOR,),
    params=(Param("warning_severity", "medium", "severity of a finding for failoverHealth Warning"),),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_failover_health_degraded(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    items = inv.replication_items
    warning = params["warning_severity"] if params["warning_severity"] in SEVERITIES else "medium"
    for item in items:
        health = item.failover_health.lower()
        if health == "normal":
            yield passed(item)
        elif health in ("critical", "warning"):
            # The item's health errors cover replication too; failover validation errors come first.
            errors = sorted(item.health_errors, key=lambda e: e.category.lower() == "replication")
            yield fail(item, f"failover health of {_label(item)} is {item.failover_health}",
                       severity=None if health == "critical" else warning, failover_health=item.failover_health,
                       health_errors=[{"code": e.code, "category": e.category, "level": e.level, "message": e.message}
                                      for e in errors])
        else:
            yield not_assessed(item, f"failover health not reported ({item.failover_health or 'empty'})")


def _test_failover_pending(item: m.ReplicationItem) -> bool:
    """A test failover environment exists: the service offers its cleanup."""
    return any(op.lower() == "testfailovercleanup" for op in item.allowed_operations)


def _test_failover_end(inv: m.Inventory, item: m.ReplicationItem) -> datetime | None:
    """When the pending test failover finished: the newest TestFailover job for the item, else the
    item's last successful test failover time."""
    ends = [_when(j.end_time) for j in inv.replication_jobs
            if j.vault_id == item.vault_id and j.scenario_name.lower() == "testfailover"
            and j.target_object_id.lower() in (item.name.lower(), item.id)]
    ends.append(_when(item.last_successful_test_failover_time))
    known = [t for t in ends if t is not None]
    return max(known) if known else None


@rule(
    code="BCDR910", slug="asr-test-failover-not-cleaned-up", severity="low",
    title="Test failover not cleaned up",
    predicts=("next test failover blocked; cost",),
    source="rule-catalog-v2 B; Site Recovery test failover docs (cleanup after the drill)",
    remediation="""A test failover of this VM finished but was never cleaned up: the test VM and its disks still
        run (and cost), and the next test failover cannot start until the cleanup runs. Note the drill's
        results, then run 'Cleanup test failover' on the item or its recovery plan.""",
    references=(DOC_ASR_TEST_FAILOVER, DOC_ASR_DR_DRILL),
    params=(Param("max_hours", 24, "hours after the test failover ended before a missing cleanup is flagged", 1, 24 * 30),),
    # The jobs too: the newest TestFailover job's end is when the drill ended (the item's own time is
    # only its last *successful* test failover). A subscription whose job list failed is the engine's
    # to say; a vault whose job list could not be read is said below.
    needs=(m.REPLICATION_ITEMS, m.REPLICATION_JOBS),
)
def asr_test_failover_not_cleaned_up(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    items = inv.replication_items
    now, limit = collected_at(inv), params["max_hours"]
    unread: dict[str, str | None] = {}  # vault -> why its job list is missing (None: read)
    for item in items:
        if item.vault_id not in unread:
            unread[item.vault_id] = inv.gap(m.REPLICATION_JOBS, item.subscription_id, item.vault_id)
        jobs_unread = unread[item.vault_id]
        if not _test_failover_pending(item):
            if not jobs_unread:  # else no PASS in a vault the engine says it could not read (its NOT_ASSESSED)
                yield passed(item)
            continue
        if jobs_unread:  # a later test failover may have ended since the item's own time: cannot tell when
            yield not_assessed(item, f"a test failover awaits cleanup, but its vault's job list was not read: {jobs_unread}",
                               test_failover_state=item.test_failover_state)
            continue
        ended = _test_failover_end(inv, item)
        if ended is None:
            yield not_assessed(item, "a test failover awaits cleanup, but when it ended is not known",
                               test_failover_state=item.test_failover_state)
        elif now - ended > timedelta(hours=limit):
            hours = int((now - ended).total_seconds() // 3600)
            yield fail(item, f"the test failover of {_label(item)} ended {hours} h ago and was not cleaned up",
                       test_failover_state=item.test_failover_state, ended=ended.isoformat(), max_hours=limit)
        else:
            yield passed(item)


@rule(
    code="BCDR911", slug="asr-not-reprotected", severity="high",
    title="Failed-over VM not reprotected",
    predicts=("no DR for the failed-over VM",),
    source="rule-catalog-v2 B; seeds/000, 001 (reprotect after failover and after failback)",
    remediation="""This item failed over and was not reprotected, so the VM now runs with no disaster recovery at
        all: another outage in this region would lose it. Reprotect the item (reverse replication) as soon as
        the original region is usable, and wait for it to reach Protected; then plan the failback.""",
    references=(DOC_A2A_REPROTECT, DOC_FAILBACK),
    params=(Param("max_hours", 24, "hours after the failover before a missing reprotect is flagged", 1, 24 * 30),),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_not_reprotected(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    items = inv.replication_items
    now, limit = collected_at(inv), params["max_hours"]
    for item in items:
        if not _waiting_for_reprotect(item):
            yield passed(item)
            continue
        failed_over = _when(item.last_successful_failover_time)
        if failed_over is None:
            yield not_assessed(item, "the item waits for reprotect, but its failover time is not reported",
                               protection_state=item.protection_state)
        elif now - failed_over > timedelta(hours=limit):
            hours = int((now - failed_over).total_seconds() // 3600)
            yield fail(item, f"{_label(item)} failed over {hours} h ago and has not been reprotected",
                       protection_state=item.protection_state, active_location=item.active_location,
                       failed_over=failed_over.isoformat(), max_hours=limit)
        else:
            yield passed(item)


@per_inventory
def _mappings_from(inv: m.Inventory) -> dict[str, tuple[m.ContainerMapping, ...]]:
    """Container mappings by source container, in list order."""
    out: dict[str, list[m.ContainerMapping]] = {}
    for c in inv.container_mappings:
        out.setdefault(c.source_container_id, []).append(c)
    return {k: tuple(v) for k, v in out.items()}


def _mapping_for(inv: m.Inventory, item: m.ReplicationItem) -> m.ContainerMapping | None:
    """The container mapping an A2A item replicates under: same source container, and the item's
    recovery container as target when several mappings leave that container."""
    candidates = _mappings_from(inv).get(item.container_id, ())
    exact = [c for c in candidates if c.target_container_id == item.recovery_container_id]
    chosen = exact or candidates
    return chosen[0] if len(chosen) == 1 else None


@rule(
    code="BCDR912", slug="asr-agent-expiring", severity="medium",
    title="Mobility agent or its certificate expires soon, or auto-update is off",
    predicts=("replication stops when the agent expires",),
    source="rule-catalog-v2 B; A2A replication details (agentExpiryDate, agentCertificateExpiryDate); "
           "container mapping agentAutoUpdateStatus",
    remediation="""The Site Recovery Mobility agent on this VM, or its certificate, expires soon (or already has);
        when it does, replication stops and new recovery points stop with it. Let Site Recovery manage the
        agent: turn on automatic updates of the Mobility service for the vault's container mappings, or update
        the agent and renew its certificate from the replicated item now.""",
    references=(DOC_A2A_MOBILITY,),
    params=(Param("days", 30, "days before the agent or certificate expiry to flag it", 1, 365),),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_agent_expiring(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    items = inv.replication_items
    now, days = collected_at(inv), params["days"]
    horizon = now + timedelta(days=days)
    for item in items:
        if not _is_a2a(item):
            continue
        expiries = {what: when for what, when in (("agent", parse(item.agent_expiry_time)),
                                                  ("agent certificate", parse(item.agent_certificate_expiry_time)))
                    if when is not None}
        soon = {what: when for what, when in expiries.items() if when <= horizon}
        mapping = _mapping_for(inv, item)
        evidence = dict(agent_expiry=item.agent_expiry_time, agent_certificate_expiry=item.agent_certificate_expiry_time,
                        days=days, agent_auto_update=mapping.agent_auto_update if mapping else None)
        if soon:
            what = ", ".join(f"{w} {'expired' if t <= now else 'expires'} {t.date().isoformat()}" for w, t in sorted(soon.items()))
            yield fail(item, f"{_label(item)}: {what}", **evidence)
            continue
        if mapping is not None and (mapping.agent_auto_update or "").lower() == "disabled":
            yield fail(item, f"automatic Mobility agent update is off for the container mapping of {_label(item)}",
                       container_mapping=mapping.display_id, **evidence)
            continue
        gap = inv.gap(m.CONTAINER_MAPPINGS, item.subscription_id, item.vault_id)
        if not expiries:
            yield not_assessed(item, "the item reports no agent or certificate expiry date", **evidence)
        elif gap:
            yield not_assessed(item, f"agent auto-update setting unknown: {gap}", **evidence)
        else:
            yield passed(item)


@rule(
    code="BCDR913", slug="asr-source-vm-missing", severity="medium",
    title="Replicated item whose source VM no longer exists",
    predicts=("replication broken; disable and re-enable",),
    source="rule-catalog-v2 B; Azure-to-Azure support matrix (moving a replicated VM is not supported)",
    remediation="""The VM this item replicates no longer exists where the item says (deleted, or moved to another
        resource group or subscription). Replication of the item is broken and it keeps costing. Disable
        replication of the item; if the VM was moved, enable replication again from its new location.""",
    references=(DOC_A2A_SUPPORT,),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_source_vm_missing(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    items = inv.replication_items
    for item in items:
        if not item.source_vm_id or item.active_location.lower() == "recovery":
            continue  # on-premises source, or failed over (the source may be gone on purpose: BCDR911)
        if item.source_vm_id in inv.vm_by_id:
            yield passed(item)
            continue
        reason = vm_existence_gap(inv, item.source_vm_id)
        if reason:
            yield not_assessed(item, f"cannot tell whether the source VM exists: {reason}", source_vm=item.source_vm_id)
        else:
            yield fail(item, f"the source VM of {_label(item)} no longer exists", source_vm=item.source_vm_id,
                       affected_vms=(item.source_vm_id,))


@rule(
    code="BCDR914", slug="asr-recovery-plan-not-ready", severity="high",
    title="Recovery plan holds an item that cannot fail over",
    predicts=("failback impossible",),
    source="seeds/001 (every VM of a recovery plan needs a recovery point); rule-catalog-v2 B",
    remediation="""A recovery plan fails over (and fails back) all of its VMs together, and it fails when one of
        them cannot: an item with no recovery point, an item that is not protected, or an item that was
        removed from replication but is still in the plan. Fix or reprotect that item, or take it out of the
        plan, then run a test failover of the whole plan.""",
    references=(DOC_ASR_RECOVERY_PLANS, DOC_AVS_FAILBACK),
    needs=(m.RECOVERY_PLANS, m.REPLICATION_ITEMS),
)
def asr_recovery_plan_not_ready(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    plans = inv.recovery_plans
    for plan in plans:
        item_gap = inv.gap(m.REPLICATION_ITEMS, plan.subscription_id, plan.vault_id)
        if item_gap:
            yield not_assessed(plan, f"the plan's items could not be read: {item_gap}")
            continue
        problems: list[dict[str, Any]] = []
        unknown: list[str] = []
        vms: list[str] = []
        for item_id in plan.item_ids:
            item = inv.replication_item_by_id.get(item_id)
            if item is None:
                problems.append({"item": item_id, "problem": "no longer exists"})
                continue
            vms.extend(_vms(item))
            if not item.protection_state.lower().startswith("protected"):
                problems.append({"item": _label(item), "problem": f"not protected ({item.protection_state or 'no state'})"})
            elif item.has_recovery_point is False:
                problems.append({"item": _label(item), "problem": "no recovery point"})
            elif item.has_recovery_point is None:
                unknown.append(_label(item) + (f" ({item.recovery_point_error})" if item.recovery_point_error else ""))
        if problems:
            yield fail(plan, f"recovery plan {plan.friendly_name or plan.name}: "
                             + "; ".join(f"{p['item']} {p['problem']}" for p in problems),
                       problems=problems, items=len(plan.item_ids), affected_vms=vms)
        elif unknown:
            yield not_assessed(plan, f"recovery point unknown for {', '.join(unknown)}", affected_vms=vms)
        else:
            yield passed(plan)


@rule(
    code="BCDR915", slug="asr-failback-infrastructure-unhealthy", severity="high",
    title="VMware failback infrastructure not reporting or unhealthy",
    predicts=("95226", "78052", "8061"),
    source="seeds/000, 001 (reprotect and failback prerequisites: configuration, process and master target servers)",
    remediation="""Reprotect and failback of VMware and physical machines run through the configuration server, a
        process server and a master target on-premises (the replication appliance in the modernized
        experience). One of them has stopped sending heartbeats or reports health errors, so reprotect and
        failback jobs will fail. Check that its services run and that it reaches Azure, then confirm the
        heartbeat in the vault's Site Recovery infrastructure view.""",
    references=(DOC_ASR_PROCESS_SERVER, DOC_FAILBACK),
    params=(Param("max_heartbeat_minutes", 15, "minutes without a heartbeat before a server counts as not reporting",
                  1, 24 * 60),),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_failback_infrastructure_unhealthy(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    items = inv.replication_items
    now, limit = collected_at(inv), timedelta(minutes=params["max_heartbeat_minutes"])
    vaults = sorted({i.vault_id for i in items if is_inmage(i)})
    for vault_id in vaults:
        vms = [v for i in items if i.vault_id == vault_id and is_inmage(i) for v in _vms(i)]
        vault = inv.vault_by_id.get(vault_id)
        sub = vault.subscription_id if vault else vault_id.split("/")[2]
        gap = inv.gap(m.REPLICATION_FABRICS, sub, vault_id)
        fabrics = [f for f in inv.replication_fabrics if f.vault_id == vault_id and f.servers]
        if gap or not fabrics:
            target: Any = vault if vault is not None else next(i for i in items if i.vault_id == vault_id)
            yield not_assessed(target, gap or "no VMware / physical infrastructure reported for the vault's items",
                               affected_vms=vms)
            continue
        for fabric in fabrics:
            bad: list[dict[str, Any]] = []
            silent: list[str] = []
            for server in fabric.servers:
                beat = _when(server.last_heartbeat)
                errors = [e.code or e.title for e in server.health_errors]
                if beat is not None and now - beat > limit:
                    bad.append({"role": server.role, "name": server.name, "last_heartbeat": server.last_heartbeat,
                                "minutes_silent": int((now - beat).total_seconds() // 60)})
                elif errors:
                    bad.append({"role": server.role, "name": server.name, "health_errors": errors})
                elif beat is None:
                    silent.append(f"{server.role} {server.name}")
            if bad:
                yield fail(fabric, f"{len(bad)} failback server(s) of {fabric.friendly_name or fabric.name} are not "
                                   f"reporting or unhealthy: " + ", ".join(f"{b['role']} {b['name']}" for b in bad),
                           servers=bad, max_heartbeat_minutes=params["max_heartbeat_minutes"], affected_vms=vms)
            elif silent:
                yield not_assessed(fabric, f"no heartbeat reported by {', '.join(silent)}", affected_vms=vms)
            else:
                yield passed(fabric)
