"""9xx Site Recovery (see ../shared/rule-catalog.md).

Replication protected items and jobs are read per vault; a vault whose items or jobs could not be
read yields NOT_ASSESSED (the engine says it: needs=) instead of silently passing.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from scanner import inventory as m
from scanner.collectors.site_recovery import is_inmage
from scanner.timeutil import parse

from . import knowledge
from ._common import vm_existence_gap
from .base import SEVERITIES, Param, Result, fail, not_assessed, passed, rule
from .docs import DOC_A2A_MOBILITY, DOC_A2A_TROUBLESHOOT, DOC_ASR_EXTENSIONS, DOC_ASR_MONITOR, DOC_AVS_FAILBACK, DOC_FAILBACK

A2A = "a2a"
# allowedOperations value that offers reprotect: ReplicationProtectedItemOperation.REVERSE_REPLICATE
# in azure-mgmt-recoveryservicessiterecovery ("Execute Reverse Replication\\Reprotect"); the portal
# calls it "Re-protect".
REPROTECT_OPERATIONS = frozenset({"reversereplicate", "reprotect"})
FAILED_JOB_STATES = frozenset({"failed"})
SUCCEEDED_JOB_STATES = frozenset({"succeeded", "completedwithinformation"})


def _is_a2a(item: m.ReplicationItem) -> bool:
    return item.instance_type.lower() == A2A


@rule(
    code="BCDR901", slug="asr-no-recovery-point", severity="high",
    title="Replicated item has no recovery point",
    predicts=("failover and failback impossible",),
    source="seeds/001 'run a failover to fail back' (every VM needs at least one recovery point; every VM of a "
           "recovery plan); rule-catalog-v2 A: every provider (A2A, InMageRcm, InMage consistencyPoints / "
           "lastRpoCalculatedTime, InMageAzureV2 RPO / last recovery point, InMageRcmFailback and others via the item's "
           "recoveryPoints list)",
    remediation="""Failover, and failback after a failover, need at least one recovery point for the VM, and a
        recovery plan needs one for every VM in it. Wait for initial replication to finish, or fix what keeps it
        from producing recovery points (replication health errors, BCDR903); after a reprotect, do not plan a
        failback until the item shows a recovery point.""",
    references=(DOC_AVS_FAILBACK, DOC_ASR_MONITOR),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_no_recovery_point(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for item in inv.replication_items:
        has = item.has_recovery_point
        if has is None and item.last_recovery_point_time:
            has = True
        if has is None:
            # The provider gave no signal and the item's recoveryPoints list was not read (not in a
            # failback-relevant state), or reading it failed.
            why = (f"its recoveryPoints list could not be read ({item.recovery_point_error})" if item.recovery_point_error
                   else "the replication provider reports no recovery point information")
            yield not_assessed(item, why, instance_type=item.instance_type)
        elif has:
            yield passed(item)
        else:
            yield fail(item, f"{item.friendly_name or item.name} has no recovery point to fail over to",
                       protection_state=item.protection_state, replication_health=item.replication_health,
                       instance_type=item.instance_type, source_vm=item.source_vm_id)


def _waiting_for_reprotect(item: m.ReplicationItem) -> bool:
    """Failed over (and committed) and not yet protected in the other direction. The item says so
    by offering reprotect in allowedOperations, or by a protectionState such as
    'UnplannedFailoverCommitted' (A2A, after `failover-commit`)."""
    if {op.lower() for op in item.allowed_operations} & REPROTECT_OPERATIONS:
        return True
    return item.protection_state.lower().endswith("failovercommitted")


def _azure_vm_of(item: m.ReplicationItem) -> str:
    """The Azure VM that must run for reprotect: after failover to Azure (activeLocation Recovery)
    the recovery-side VM; when the item is active on the primary side (A2A after failback), the
    source VM."""
    where = item.active_location.lower()
    if where == "recovery":
        return item.recovery_vm_id
    if where == "primary":
        return item.source_vm_id
    return item.recovery_vm_id or item.source_vm_id


@rule(
    code="BCDR902", slug="asr-reprotect-vm-not-running", severity="high",
    title="Failed-over VM waiting for reprotect is not running",
    predicts=("78093", "reprotect failure"),
    source="seeds/000 error code 78093 (VMware / AVS, InMage* providers); seeds/001 (reprotect fails for up to 15 "
           "minutes after the VM starts); rule-catalog-v2 A (A2A: the same check, without that code)",
    remediation="""The item has failed over and must be reprotected, but its Azure VM is not running. Reprotect
        needs the VM up: for VMware / AVS failback its Mobility service must register with the configuration
        server (otherwise reprotect fails with 78093); for Azure-to-Azure the reverse replication cannot start.
        Start the VM (for VMware failback on a network that reaches the configuration server), wait about 15
        minutes for the agent to re-register, then run reprotect.""",
    references=(DOC_FAILBACK + "#error-code-78093", DOC_AVS_FAILBACK),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_reprotect_vm_not_running(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for item in inv.replication_items:
        if not _waiting_for_reprotect(item):
            continue
        vm_id = _azure_vm_of(item)
        evidence: dict[str, Any] = dict(protection_state=item.protection_state, active_location=item.active_location,
                                        allowed_operations=list(item.allowed_operations))
        if not vm_id:
            yield not_assessed(item, "the item does not name its Azure VM", **evidence)
            continue
        vm = inv.vm_by_id.get(vm_id)
        if vm is None:
            reason = vm_existence_gap(inv, vm_id)
            if reason:
                yield not_assessed(item, f"cannot tell whether the VM runs: {reason}", vm_id=vm_id, **evidence)
            else:
                yield fail(item, f"{item.friendly_name or item.name} waits for reprotect but its Azure VM no longer exists",
                           vm_id=vm_id, vm_exists=False, power_state=None, **evidence, **_reprotect_prediction(item))
            continue
        status_gap = inv.gap(m.VM_STATUS, vm.subscription_id, vm.id)
        if vm.power_state is None or status_gap:
            yield not_assessed(item, f"power state of {vm.name} unknown{': ' + status_gap if status_gap else ''}",
                               vm_id=vm.display_id, **evidence)
        elif vm.power_state.lower() == "running":
            yield passed(item)
        else:
            yield fail(item, f"{item.friendly_name or item.name} waits for reprotect but VM {vm.name} is {vm.power_state}",
                       vm_id=vm.display_id, vm_exists=True, power_state=vm.power_state, **evidence,
                       **_reprotect_prediction(item))


def _reprotect_prediction(item: m.ReplicationItem) -> dict[str, Any]:
    """Error 78093 is the VMware / AVS failback code (seeds/000, InMage* providers); an A2A reprotect
    of a VM that is not running fails as well, under no code of the table (rule-catalog-v2 A)."""
    if is_inmage(item):
        return {"predicted_error": "78093"}
    return {"predicted_error": "reprotect failure (no 78093: that code is VMware / AVS failback's)"}


@rule(
    code="BCDR903", slug="asr-replication-unhealthy", severity="high",
    title="Replication health is Critical or Warning",
    predicts=("the health error codes listed in the evidence",),
    source="seeds/000 (reprotect/failback errors); seeds/003 (extension errors); replicationHealth / healthErrors",
    remediation="""Site Recovery reports the item's replication as unhealthy: recovery points may stop, and a
        failover would use old data or fail. The evidence lists the health error codes with the known cause and
        fix for each code we recognise (agent not ready, extension time-outs, configuration server unreachable);
        resolve them and check that health returns to Normal.""",
    references=(DOC_ASR_MONITOR, DOC_ASR_EXTENSIONS, DOC_A2A_TROUBLESHOOT),
    params=(Param("warning_severity", "medium", "severity of a finding for replicationHealth Warning"),),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_replication_unhealthy(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    warning = params["warning_severity"] if params["warning_severity"] in SEVERITIES else "medium"
    for item in inv.replication_items:
        health = item.replication_health.lower()
        if health == "normal":
            yield passed(item)
        elif health in ("critical", "warning"):
            yield fail(item, f"replication health of {item.friendly_name or item.name} is {item.replication_health}",
                       severity=None if health == "critical" else warning,
                       replication_health=item.replication_health, protection_state=item.protection_state,
                       health_errors=[{"code": e.code, "title": e.title, "message": e.message} for e in item.health_errors],
                       error_codes=knowledge.evidence_for(e.code for e in item.health_errors))
        else:
            yield not_assessed(item, f"replication health not reported ({item.replication_health or 'empty'})")


@rule(
    code="BCDR904", slug="asr-job-failed-known-error", severity="medium",
    title="Site Recovery failover, failback or reprotect job failed (or any job with a known error)",
    predicts=("95226", "78052", "78093", "8061", "8038", "151076", "150066", "151099", "151095"),
    source="seeds/000 (reprotect and failback error codes); seeds/003 (extension error codes); rule-catalog-v2 A: "
           "Site Recovery sample alert 'job fails' (any failed Reprotect, Failover, Failback, Commit or TestFailover job)",
    remediation="""A Site Recovery job failed: a reprotect, failover, failback, commit or test failover (the operations a
        disaster depends on), or another job with an error whose cause is known. The evidence lists each error code
        as the service sent it, with the known cause, fix and Microsoft Learn page where the code is in the table.
        Fix the cause, then rerun the job. A later successful run of the same job on the same item clears this
        finding.""",
    references=(DOC_FAILBACK, DOC_ASR_EXTENSIONS),
    needs=(m.REPLICATION_JOBS,),
)
def asr_job_failed_known_error(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    jobs = inv.replication_jobs
    # Newest successful run of each (vault, target, scenario): a failure before it is resolved.
    last_success: dict[tuple[str, str, str], Any] = {}
    for job in jobs:
        started = parse(job.start_time)
        if job.state.lower() in SUCCEEDED_JOB_STATES and started is not None and job.target_object_id:
            key = (job.vault_id, job.target_object_id.lower(), job.scenario_name.lower())
            if key not in last_success or started > last_success[key]:
                last_success[key] = started
    for job in jobs:
        if job.state.lower() not in FAILED_JOB_STATES:
            continue
        codes = [e.identifiers for e in job.errors]
        dr_operation = _is_dr_operation(job.scenario_name)
        if not dr_operation and not knowledge.known(codes):
            yield passed(job)  # another kind of job, failed with a code this rule cannot explain
            continue
        key = (job.vault_id, job.target_object_id.lower(), job.scenario_name.lower())
        started = parse(job.start_time)
        resolved = job.target_object_id and key in last_success and started is not None and last_success[key] > started
        if resolved:
            yield passed(job)
            continue
        shown = [e.code for e in knowledge.known(codes)] or [" ".join(c for c in e.identifiers if c) for e in job.errors]
        yield fail(job, f"{job.scenario_name or 'job'} for {job.target_object_name or job.friendly_name or job.name} failed"
                        + (f" with {', '.join(x for x in shown if x)}" if any(shown) else ""),
                   scenario=job.scenario_name, target=job.target_object_name, started=job.start_time,
                   dr_operation=dr_operation, error_codes=knowledge.evidence_for(codes))


# Job scenarios a failover, failback or reprotect runs as (replicationJobs scenarioName: PlannedFailover,
# UnplannedFailover, TestFailover, CommitFailover / Commit, Reprotect / ReverseReplicate /
# SwitchProtection, Failback, ...). TestFailoverCleanup is housekeeping, not a drill.
_DR_WORDS = ("failover", "failback", "reprotect", "reversereplicat", "switchprotection", "commit")


def _is_dr_operation(scenario: str) -> bool:
    word = scenario.replace(" ", "").replace("-", "").lower()
    return any(w in word for w in _DR_WORDS) and "cleanup" not in word


@rule(
    code="BCDR905", slug="asr-rpo-breach", severity="medium",
    title="Replication RPO above target",
    predicts=("data loss beyond RPO on failover",),
    source="catalog 'asr-rpo-breach' (the Site Recovery workbook shows rpoInSeconds but never flags it); "
           "rule-catalog-v2 A: Site Recovery sample alert 'RPO exceeded' (30 minutes, checked 2026-12)",
    remediation="""The item's current recovery point objective is above the target, so a failover now would lose
        more data than planned. Check replication health and the source VM's disk churn against the limits for
        Azure-to-Azure replication, and the network path from the VM to the cache storage account.""",
    references=(DOC_A2A_TROUBLESHOOT, DOC_ASR_MONITOR),
    params=(Param("max_rpo_seconds", 1800, "RPO in seconds above which an item is flagged (1,800 s: Site Recovery's "
                  "sample alert 'RPO exceeded', checked 2026-12; the first edition used 3,600)", 60, 7 * 24 * 3600),),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_rpo_breach(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    limit = params["max_rpo_seconds"]
    for item in inv.replication_items:
        if item.rpo_seconds is None:
            if _is_a2a(item):  # A2A reports rpoInSeconds; a missing value is missing data
                yield not_assessed(item, "the A2A item reports no RPO")
            continue
        if item.rpo_seconds > limit:
            yield fail(item, f"RPO of {item.friendly_name or item.name} is {item.rpo_seconds} s, above {limit} s",
                       rpo_seconds=item.rpo_seconds, max_rpo_seconds=limit,
                       last_recovery_point_time=item.last_recovery_point_time)
        else:
            yield passed(item)


@rule(
    code="BCDR906", slug="asr-agent-update-required", severity="medium",
    title="Site Recovery replication agent update required",
    predicts=("Mobility agent failures (replication stops on an outdated Mobility service)",),
    source="seeds/003 (Site Recovery agent updates); rule-catalog-v2 A: the flag is about the Mobility agent, not the "
           "Linux guest agent of 151095",
    remediation="""Site Recovery reports that the replication (Mobility service) agent on this VM needs an update. An
        outdated Mobility agent stops replicating when its version leaves support, and failover then uses ever
        older data. Update the agent from the replicated item, or turn on automatic update of the Mobility
        service for the vault (or, for VMware, through the configuration server).""",
    references=(DOC_ASR_EXTENSIONS, DOC_A2A_MOBILITY),
    needs=(m.REPLICATION_ITEMS,),
)
def asr_agent_update_required(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for item in inv.replication_items:
        if item.agent_update_required is None:
            if _is_a2a(item):  # A2A reports isReplicationAgentUpdateRequired; missing means missing data
                yield not_assessed(item, "the A2A item does not say whether its agent needs an update")
            continue
        if item.agent_update_required:
            yield fail(item, f"the replication agent of {item.friendly_name or item.name} needs an update",
                       instance_type=item.instance_type, source_vm=item.source_vm_id)
        else:
            yield passed(item)
