"""7xx Jobs. Backup jobs are collected per vault: every InProgress and every Cancelling job, whatever
its age, plus the last N days."""
from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable, Iterator, Mapping, Sequence

from scanner import ids
from scanner import inventory as m
from scanner.timeutil import hours_between, parse

from . import knowledge
from ._common import collected_at, first_backup_pending, no_time, per_inventory, remembered
from .base import Param, Result, fail, not_assessed, passed, rule
from .docs import DOC_ENHANCED, DOC_IN_PROGRESS, DOC_MONITOR, DOC_VM_TROUBLESHOOT, DOC_VMS_TROUBLESHOOT

# Every JobStatus the SDK knows (azure-mgmt-recoveryservicesbackup 11.2.0).
KNOWN_JOB_STATUSES = frozenset({"invalid", "inprogress", "completed", "failed", "completedwithwarnings", "cancelled",
                                "cancelling"})


# BCDR701's thresholds; BCDR302 takes the same two (a job running longer no longer excuses a
# transitioning snapshot extension).
STUCK_PARAMS = (
    Param("max_hours", 24, "hours after which an InProgress backup job counts as stuck when its policy is daily, "
          "weekly or unknown, and the ceiling for hourly policies (seeds/004: a day)", 1, 24 * 30),
    Param("first_backup_max_hours", 72, "hours a VM's first (full) backup may run before it counts as stuck "
          "(rule-catalog-v2 A, BCDR701)", 1, 24 * 30),
)


def job_within_threshold(inv: m.Inventory, job: m.BackupJob, params: Mapping[str, Any]) -> bool:
    """True for an InProgress job with a start time that is younger than BCDR701's threshold."""
    started = parse(job.start_time)
    if started is None or job.status.lower() != "inprogress":
        return False
    return hours_between(started, collected_at(inv)) <= _stuck_limit(inv, job, params)[0]


@rule(
    code="BCDR701", slug="backup-job-stuck", severity="high",
    title="Backup job in progress for longer than its policy's interval",
    predicts=("UserErrorBackupOperationInProgress",),
    source="seeds/004 UserErrorBackupOperationInProgress; rule-catalog-v2 A (threshold relative to the policy's "
           "backup interval; a first backup may run longer)",
    remediation="""A backup job that runs longer than the interval of its policy (a day for a daily policy, the hourly
        interval for an hourly one) collides with the next scheduled backup of the same VM, which then fails with
        UserErrorBackupOperationInProgress. Look at the job's sub-tasks in the vault; if it is stuck on the
        snapshot step, check the VM agent and the VMSnapshot extension, and cancel the job from the vault before
        the next backup window. A VM's first backup copies every disk in full and may run up to a few days.""",
    references=(DOC_IN_PROGRESS,),
    params=STUCK_PARAMS,
    needs=(m.BACKUP_JOBS,),
)
def backup_job_stuck(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for job, hours, gap in _aged_jobs(inv, "inprogress", operations=("backup", "configurebackup")):
        if gap:
            yield not_assessed(job, gap)
            continue
        limit, basis = _stuck_limit(inv, job, params)
        if hours > limit:
            yield fail(job, f"backup of {job.entity_friendly_name or 'a VM'} has been in progress for {hours} h, "
                            f"longer than {limit:g} h ({basis})",
                       hours_in_progress=hours, max_hours=limit, threshold_basis=basis, **_job_evidence(inv, job))
        else:
            yield passed(job)


def _stuck_limit(inv: m.Inventory, job: m.BackupJob, params: Mapping[str, Any]) -> tuple[float, str]:
    """Hours an InProgress job may run before it collides with the next scheduled backup, and why:
    the policy's backup interval (daily 24 h, hourly its interval; never above `max_hours`), the
    first-backup limit for a VM that has never completed one, or `max_hours` when the policy is
    unknown."""
    vm = job_vm_id(inv, job)
    items = [p for p in inv.protected_items_by_vm.get(vm, ()) if p.vault_id == job.vault_id] if vm else []
    ceiling = float(params["max_hours"])
    if job.operation.lower() != "configurebackup" and items and all(first_backup_pending(p) for p in items):
        return float(params["first_backup_max_hours"]), "first backup of the VM"
    policy = next((inv.policy_by_id[p.policy_id] for p in items if p.policy_id in inv.policy_by_id), None)
    if policy is None:
        return ceiling, "policy unknown"
    if policy.schedule_run_frequency.lower() == "hourly" and policy.hourly_interval:
        return min(ceiling, float(policy.hourly_interval)), f"policy {policy.name} backs up every {policy.hourly_interval} h"
    if policy.schedule_run_frequency.lower() == "daily":
        return min(ceiling, 24.0), f"policy {policy.name} backs up daily"
    return ceiling, f"policy {policy.name} ({policy.schedule_run_frequency or 'schedule unknown'})"


def _aged_jobs(inv: m.Inventory, status: str, operations: tuple[str, ...] = ()
               ) -> Iterator[tuple[m.BackupJob, float, str]]:
    """Backup jobs in `status` (and, if given, one of `operations`) with their age in hours at
    collection time, and why a job cannot be judged (empty when it can): no start time, or a status
    the scanner does not know."""
    now = collected_at(inv)

    def wanted(operation: str, state: str) -> bool:
        if operations and operation and operation.lower() not in operations:
            return False
        return state.lower() not in KNOWN_JOB_STATUSES or state.lower() == status

    for job in jobs_in_state(inv, wanted):
        if job.status.lower() not in KNOWN_JOB_STATUSES:
            # No status, or one the SDK does not know: it may be the very state this rule looks for.
            yield job, 0.0, f"job status {job.status or '(none)'!r} is not one the scanner knows"
            continue
        if job.status.lower() != status:
            continue
        started = parse(job.start_time)
        if started is None:
            yield job, 0.0, "job has no start time"
            continue
        yield job, round(hours_between(started, now), 1), ""


@per_inventory
def _jobs_by_state(inv: m.Inventory) -> dict[tuple[str, str], tuple[m.BackupJob, ...]]:
    """The backup jobs by (operation, status) as the service sent them, each group in inventory order."""
    out: dict[tuple[str, str], list[m.BackupJob]] = {}
    for job in inv.backup_jobs:
        out.setdefault((job.operation, job.status), []).append(job)
    return {key: tuple(jobs) for key, jobs in out.items()}


def jobs_in_state(inv: m.Inventory, wanted: Callable[[str, str], bool]) -> Sequence[m.BackupJob]:
    """The backup jobs whose (operation, status) `wanted` accepts, in inventory order. The rules that
    look for a few states (InProgress, Cancelling) among every job (49,000 at 10,000 VMs, nearly all
    Completed) decide once per (operation, status) pair the jobs carry, not once per job."""
    groups = [jobs for (operation, status), jobs in _jobs_by_state(inv).items() if wanted(operation, status)]
    if len(groups) <= 1:
        return groups[0] if groups else ()
    chosen = {id(job) for jobs in groups for job in jobs}  # several groups: back in inventory order
    return [job for job in inv.backup_jobs if id(job) in chosen]


def _job_evidence(inv: m.Inventory, job: m.BackupJob) -> dict[str, Any]:
    vm = job_vm_id(inv, job)
    return dict(started=job.start_time, operation=job.operation, vm=job.entity_friendly_name,
                vm_id=inv.vm_by_id[vm].display_id if vm in inv.vm_by_id else vm, vault=_vault_name(inv, job.vault_id))


# --------------------------------------------------------------------------- BCDR702-705

BACKUP_OPERATIONS = frozenset({"backup", "configurebackup"})
SUCCEEDED = frozenset({"completed", "completedwithwarnings"})
FAILED = frozenset({"failed"})
ITEM_FAILED = frozenset({"failed", "unhealthy"})  # lastBackupStatus ("Healthy/Unhealthy" in older api-versions)
ITEM_SUCCEEDED = SUCCEEDED | {"healthy"}
FINISHED = SUCCEEDED | FAILED
_FINISHED_AS_SENT = frozenset({"Completed", "CompletedWithWarnings", "Failed"})  # FINISHED as the service spells them
_started = itemgetter(0)
_CONTAINER = "iaasvmcontainerv2;"


def _is_backup_job(job: m.BackupJob) -> bool:
    return not job.operation or job.operation.lower() in BACKUP_OPERATIONS


def _in_progress_backup(operation: str, status: str) -> bool:
    return status.lower() == "inprogress" and (not operation or operation.lower() in BACKUP_OPERATIONS)


def _iaas(job_or_item: m.BackupJob | m.ProtectedItem) -> bool:
    kind = job_or_item.backup_management_type.lower()
    return not kind or kind == "azureiaasvm"


def job_vm_id(inv: m.Inventory, job: m.BackupJob) -> str:
    """The normalised id of the VM a job is about. First through a protected item in the job's vault
    (Inventory.vm_id_for_job); if the vault no longer holds one (backup moved to another vault and
    the old item deleted), from the container name: for Resource Manager VMs it is
    iaasvmcontainerv2;<resource group>;<vm name>, and a vault only protects VMs of its own
    subscription, so the three parts spell the VM's ARM id. No name-only guessing."""
    vm = inv.vm_id_for_job(job)
    if vm:
        return vm
    name = job.container_name.lower()
    if name.startswith(_CONTAINER):
        parts = name[len(_CONTAINER):].split(";")
        if len(parts) == 2 and all(parts) and job.subscription_id:
            return ids.norm(ids.vm_id(job.subscription_id, parts[0], parts[1]))
    return ""


def _finished_backups(inv: m.Inventory, item: m.ProtectedItem) -> tuple[m.BackupJob, ...]:
    """Finished (succeeded or failed) Backup jobs of the item's VM in the item's vault, newest first.
    Cancelled jobs say nothing about whether a backup can succeed and are left out. Sorted once per
    item for the rules that read them (BCDR703, BCDR705)."""
    def newest_first() -> tuple[m.BackupJob, ...]:
        vault = item.vault_id
        dated = [(started, j) for j in inv.backup_jobs_by_vm.get(item.source_resource_id, ())
                 if j.vault_id == vault and (j.operation == "Backup" or _is_backup_job(j))
                 and ((status := j.status) in _FINISHED_AS_SENT or status.lower() in FINISHED)
                 and (started := parse(j.start_time)) is not None]
        dated.sort(key=_started, reverse=True)
        return tuple([j for _, j in dated])
    return remembered(_finished_memo(inv), item, newest_first)


@per_inventory
def _finished_memo(inv: m.Inventory) -> dict[Any, Any]:
    return {}


def _resource_for(inv: m.Inventory, item: m.ProtectedItem) -> m.VirtualMachine | m.ProtectedItem:
    return inv.vm_by_id.get(item.source_resource_id) or item


def _vault_name(inv: m.Inventory, vault_id: str) -> str:
    vault = inv.vault_by_id.get(vault_id)
    return vault.name if vault else ids.name_of(vault_id)


def _vault_display(inv: m.Inventory, vault_id: str) -> str:
    vault = inv.vault_by_id.get(vault_id)
    return vault.display_id if vault else vault_id


def _backed_up_items(inv: m.Inventory) -> Iterator[m.ProtectedItem]:
    for item in inv.protected_items:
        if item.is_backed_up and _iaas(item):
            yield item


@rule(
    code="BCDR702", slug="job-in-previous-vault", severity="medium",
    title="Backup job still running in a vault that no longer protects the VM",
    predicts=("UserErrorBackupOperationInProgress",),
    source="seeds/004 UserErrorBackupOperationInProgress ('if you reconfigured backup in another vault, make sure no "
           "backup job is running in the old vault')",
    remediation="""The VM is now protected by another vault, but a backup job for it is still running in the old
        one. While it runs, backups from the new vault fail with UserErrorBackupOperationInProgress. Open Backup
        jobs in the old vault and cancel the job (portal, or Stop-AzRecoveryServicesBackupJob), then run a backup
        from the vault that protects the VM now.""",
    references=(DOC_IN_PROGRESS,),
    needs=(m.BACKUP_JOBS,),
)
def job_in_previous_vault(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    now = collected_at(inv)
    for job in jobs_in_state(inv, _in_progress_backup):
        if not _iaas(job):
            continue
        vm = job_vm_id(inv, job)
        if not vm:
            yield not_assessed(job, "the job names no VM container that can be joined to a VM id")
            continue
        current = sorted({p.vault_id for p in inv.backup_items_for(vm)})
        if job.vault_id in current:
            yield passed(job)
        elif current:
            started = parse(job.start_time)
            yield fail(job, f"backup job for {job.entity_friendly_name or ids.name_of(vm)} still runs in vault "
                            f"{_vault_name(inv, job.vault_id)}, but the VM is now protected by "
                            f"{', '.join(_vault_name(inv, v) for v in current)}",
                       vm_id=inv.vm_by_id[vm].display_id if vm in inv.vm_by_id else vm,
                       job_vault=_vault_display(inv, job.vault_id),
                       protecting_vaults=[_vault_display(inv, v) for v in current],
                       started=job.start_time,
                       hours_in_progress=round(hours_between(started, now), 1) if started else None)
        else:
            # The VM is protected nowhere we could see. If some vault's items could not be read, the
            # vault protecting it now may be that one: say so rather than pass.
            reason = inv.gap(m.PROTECTED_ITEMS, ids.subscription_of(vm))
            if reason:
                yield not_assessed(job, f"cannot tell which vault protects the VM now: {reason}", vm_id=vm)
            else:
                yield passed(job)


@rule(
    code="BCDR703", slug="backup-failing", severity="high",
    title="Backups of the VM are failing",
    predicts=("the error codes listed in the evidence",),
    source="seeds/004 (error codes and causes); seeds/002 backup table",
    remediation="""The VM's backups are failing, so its newest restore point is getting older with every run.
        The evidence lists every error code seen in the failing jobs with its known cause, fix and Microsoft Learn
        page: work through them (agent, extension, network, locks on the restore point resource group), then run
        an on-demand backup to confirm the fix.""",
    references=(DOC_VM_TROUBLESHOOT, DOC_VMS_TROUBLESHOOT),
    params=(Param("failed_jobs", 2, "fail when this many most recent finished Backup jobs all failed", 1, 50),),
    needs=(m.PROTECTED_ITEMS,),
)
def backup_failing(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    n = params["failed_jobs"]
    for item in _backed_up_items(inv):
        resource = _resource_for(inv, item)
        jobs_gap = inv.gap(m.BACKUP_JOBS, item.subscription_id, item.vault_id)
        jobs = () if jobs_gap else _finished_backups(inv, item)
        # The failure streak: newest finished Backup jobs up to the first success.
        streak: list[m.BackupJob] = []
        for job in jobs:
            if job.status.lower() not in FAILED:
                break
            streak.append(job)
        item_failed = item.last_backup_status.lower() in ITEM_FAILED
        if item_failed and jobs and jobs[0].status.lower() in SUCCEEDED:
            # A successful job newer than the item's last backup: the item's status is older news.
            last_op, newest = parse(item.last_backup_time), parse(jobs[0].start_time)
            if last_op is not None and newest is not None and newest > last_op:
                item_failed = False
        jobs_failed = len(streak) >= n
        if not item_failed and not jobs_failed:
            if jobs_gap:
                yield not_assessed(resource, f"backup job history unavailable: {jobs_gap}", key=item.id)
            else:
                yield passed(resource, key=item.id)
            continue
        codes = [e.identifiers for job in streak for e in job.errors]  # (number, name) as sent
        yield fail(resource, f"backups of {item.friendly_name or ids.name_of(item.source_resource_id)} are failing"
                             f" ({len(streak)} failed job(s) in a row"
                             f"{', last backup status ' + item.last_backup_status if item_failed else ''})",
                   key=item.id, protected_item=item.display_id, vault=_vault_name(inv, item.vault_id),
                   last_backup_status=item.last_backup_status, last_backup_time=item.last_backup_time,
                   consecutive_failed_jobs=len(streak), failed_jobs_threshold=n,
                   failed_jobs=[_failed_job(inv, j) for j in streak],
                   error_codes=knowledge.evidence_for(codes),
                   job_history=jobs_gap or "read")


def _failed_job(inv: m.Inventory, job: m.BackupJob) -> dict[str, Any]:
    entry: dict[str, Any] = {"job": job.display_id, "start_time": job.start_time,
                             "codes": [" ".join(e.identifiers) for e in job.errors]}
    if not job.errors:  # listed without errorDetails, and its job GET could not be read
        gap = inv.gap(m.BACKUP_JOB_DETAILS, job.subscription_id, job.id)
        if gap:
            entry["error_details"] = f"not read: {gap}"
    return entry


@rule(
    code="BCDR704", slug="job-cancel-stuck", severity="low",
    title="Backup job stuck in Cancelling",
    predicts=("job is not in a cancellable state",),
    source="seeds/002 jobs table (cancel errors: 'the job is not in a cancellable state'); rule-catalog-v2 A "
           "(Cancelling jobs are read whatever their age, like InProgress jobs)",
    remediation="""A cancelled job normally leaves the Cancelling state within minutes; while it lingers it cannot
        be cancelled again and can block the VM's next backup. Wait for it to finish, then look at the job's
        sub-tasks in the vault; if it stays in Cancelling, open a support case for the job id.""",
    references=(DOC_VMS_TROUBLESHOOT,),
    # The jobs API has no time of the cancel request (AzureIaaSVMJob carries startTime, endTime and
    # duration only), so the age is counted from the job's start: an upper bound on time spent
    # cancelling.
    params=(Param("max_hours", 2, "hours since the job started after which a Cancelling job counts as stuck", 1, 24 * 30),),
    needs=(m.BACKUP_JOBS,),
)
def job_cancel_stuck(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for job, hours, gap in _aged_jobs(inv, "cancelling"):
        if gap:
            yield not_assessed(job, gap)
        elif hours > params["max_hours"]:
            yield fail(job, f"{job.operation or 'job'} of {job.entity_friendly_name or 'an item'} has been cancelling; "
                            f"it started {hours} h ago",
                       hours_since_start=hours, max_hours=params["max_hours"], **_job_evidence(inv, job))
        else:
            yield passed(job)


def _stale_limit(policy: m.BackupPolicy, params: Mapping[str, Any]) -> tuple[float | None, str]:
    """Hours after which the last successful backup is stale, and how that bound was chosen."""
    freq = policy.schedule_run_frequency.lower()
    if freq == "daily":
        return float(params["daily_max_hours"]), "daily"
    if freq == "weekly":
        return float(params["weekly_max_hours"]), "weekly"
    if freq == "hourly":
        interval, window = policy.hourly_interval, policy.schedule_window_hours
        if not interval or not window:
            # Without the schedule window the overnight gap is unknown; it is at most a day, so the
            # daily bound is the tightest one that cannot misfire.
            return float(params["daily_max_hours"]), "hourly (interval or window unknown: daily bound)"
        # An hourly schedule runs every `interval` hours inside a window of `window` hours a day
        # (hourlySchedule in IaaS_v2_hourly.json: interval 4, window 16). The longest normal gap is
        # the night outside the window plus one interval.
        gap = interval + max(0, 24 - window)
        return float(gap + params["hourly_grace_hours"]), f"hourly every {interval} h in a {window} h window"
    return None, ""


@rule(
    code="BCDR705", slug="last-backup-stale", severity="high",
    title="Last successful backup older than the policy allows",
    predicts=("missed RPO",),
    source="seeds/004 (backup health); catalog 'last-backup-stale' (peer scanners only check 'is protected'); "
           "rule-catalog-v2 A (first backup never completed)",
    remediation="""The VM's newest successful backup is older than its policy's schedule allows, or its first backup
        never completed, so a restore today would lose more data than planned, or find nothing to restore. Look at
        the VM's recent Backup jobs: failing jobs (BCDR703) point to the cause; if no jobs run at all, check that the
        policy's schedule is what you expect and that protection is not paused. Run an on-demand backup once the cause is fixed.""",
    references=(DOC_MONITOR, DOC_ENHANCED),
    params=(
        Param("daily_max_hours", 36, "hours after which a Daily policy's last successful backup is stale (24 h + grace)", 25, 24 * 10),
        Param("hourly_grace_hours", 3, "grace hours added to an Hourly policy's longest scheduled gap", 0, 48),
        Param("weekly_max_hours", 180, "hours after which a Weekly policy's last successful backup is stale (7 d + grace)", 169, 24 * 60),
    ),
    needs=(m.PROTECTED_ITEMS,),
)
def last_backup_stale(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    now = collected_at(inv)
    for item in _backed_up_items(inv):
        resource = _resource_for(inv, item)
        policy = inv.policy_by_id.get(item.policy_id) if item.policy_id else None
        if policy is None:
            reason = (inv.gap(m.BACKUP_POLICIES, item.subscription_id, item.vault_id)
                      or f"backup policy {item.policy_name or item.policy_id or '(none)'} not found")
            yield not_assessed(resource, f"schedule unknown: {reason}", key=item.id)
            continue
        limit, basis = _stale_limit(policy, params)
        if limit is None:
            yield not_assessed(resource, f"policy {policy.name} has no known schedule frequency "
                                         f"({policy.schedule_run_frequency or 'empty'})", key=item.id)
            continue
        # Last success: lastRecoveryPoint; lastBackupTime when the last operation succeeded; the newest
        # successful Backup job in the collected history.
        candidates = [None if no_time(item.last_recovery_point_time) else parse(item.last_recovery_point_time)]
        if item.last_backup_status.lower() in ITEM_SUCCEEDED and not no_time(item.last_backup_time):
            candidates.append(parse(item.last_backup_time))
        jobs_gap = inv.gap(m.BACKUP_JOBS, item.subscription_id, item.vault_id)
        if not jobs_gap:
            # A job's start is when its snapshot (the recovery point) was taken.
            # A ConfigureBackup job enables protection; it takes no recovery point.
            # Newest first: the first successful one is the newest (its start parses: _finished_backups).
            candidates.append(next((parse(j.start_time) for j in _finished_backups(inv, item)
                                    if j.status.lower() in SUCCEEDED and j.operation.lower() != "configurebackup"), None))
        known = [c for c in candidates if c is not None]
        if not known:
            yield _first_backup_never_completed(inv, item, resource, policy, limit, basis, now, jobs_gap)
            continue
        last = max(known)
        age = round(hours_between(last, now), 1)
        if age > limit:
            yield fail(resource, f"last successful backup of {item.friendly_name or ids.name_of(item.source_resource_id)} "
                                 f"was {age} h ago; policy {policy.name} allows {limit:g} h",
                       key=item.id, protected_item=item.display_id, last_success=last.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       hours_since_success=age, max_hours=limit, schedule=basis, policy=policy.display_id,
                       last_backup_status=item.last_backup_status)
        else:
            yield passed(resource, key=item.id)


def _first_backup_never_completed(inv: m.Inventory, item: m.ProtectedItem, resource: Any, policy: m.BackupPolicy,
                                  limit: float, basis: str, now: Any, jobs_gap: str | None) -> Result:
    """rule-catalog-v2 A (BCDR705): an item with no completed backup at all (no recovery point,
    lastBackupTime absent or the 2001-01-01 sentinel) fails once it has been protected for longer
    than its interval plus grace. The item carries no protection date: the oldest ConfigureBackup
    or Backup job of its VM in its vault dates it."""
    name = item.friendly_name or ids.name_of(item.source_resource_id)
    if jobs_gap:
        return not_assessed(resource, f"no successful backup time reported; backup job history unavailable: {jobs_gap}",
                            key=item.id, protection_state=item.protection_state, last_backup_status=item.last_backup_status)
    starts = [t for j in inv.backup_jobs_by_vm.get(item.source_resource_id, ())
              if j.vault_id == item.vault_id and _is_backup_job(j) and (t := parse(j.start_time)) is not None]
    if not starts:
        return not_assessed(resource, "no backup has completed and no ConfigureBackup or Backup job in the history "
                                      "dates the protection", key=item.id, protection_state=item.protection_state,
                            last_backup_time=item.last_backup_time)
    since = min(starts)
    age = round(hours_between(since, now), 1)
    if age <= limit:
        return passed(resource, key=item.id)
    return fail(resource, f"first backup of {name} never completed; protected since {age} h ago, policy "
                          f"{policy.name} allows {limit:g} h",
                key=item.id, protected_item=item.display_id, first_backup_never_completed=True,
                protected_since=since.strftime("%Y-%m-%dT%H:%M:%SZ"), protected_since_basis="oldest ConfigureBackup or Backup job",
                hours_since_protected=age, max_hours=limit, schedule=basis, policy=policy.display_id,
                last_backup_time=item.last_backup_time, last_backup_status=item.last_backup_status)
