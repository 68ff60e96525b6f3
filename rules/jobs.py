"""7xx Jobs. Backup jobs are collected per vault: every InProgress job, plus the last N days."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from scanner import inventory as m
from scanner.timeutil import hours_between, parse

from ._common import collected_at, not_assessed_for_failed
from .base import Param, Result, fail, not_assessed, passed, rule

DOC_IN_PROGRESS = ("https://learn.microsoft.com/azure/backup/backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout"
                   "#usererrorbackupoperationinprogress---unable-to-initiate-backup-as-another-backup-operation-is-currently-in-progress")


def vault_gaps(inv: m.Inventory, collector: str, skip: set[str]) -> Iterator[Result]:
    """NOT_ASSESSED for each vault whose `collector` data could not be read (partial coverage)."""
    for vault in inv.vaults:
        if vault.subscription_id in skip:
            continue
        reason = inv.gap(collector, vault.subscription_id, vault.id)
        if reason:
            yield not_assessed(vault, reason)


@rule(
    code="BCDR701", slug="backup-job-stuck", severity="high",
    title="Backup job in progress for too long",
    predicts=("UserErrorBackupOperationInProgress",),
    source="seeds/004 UserErrorBackupOperationInProgress",
    remediation="""A backup job that has run for more than a day blocks the next scheduled backup of the same VM.
        Look at the job's sub-tasks in the vault; if it is stuck on the snapshot step, check the VM agent and
        the VMSnapshot extension, and cancel the job from the vault before the next backup window.""",
    references=(DOC_IN_PROGRESS,),
    params=(Param("max_hours", 24, "hours after which an InProgress backup job counts as stuck", 1, 24 * 30),),
)
def backup_job_stuck(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    skip, gaps = not_assessed_for_failed(inv, m.BACKUP_JOBS)
    yield from gaps
    yield from vault_gaps(inv, m.BACKUP_JOBS, skip)
    now = collected_at(inv)
    for job in inv.backup_jobs:
        if job.subscription_id in skip or job.status.lower() != "inprogress":
            continue
        if job.operation and job.operation.lower() not in ("backup", "configurebackup"):
            continue
        started = parse(job.start_time)
        if started is None:
            yield not_assessed(job, "job has no start time")
            continue
        hours = round(hours_between(started, now), 1)
        if hours > params["max_hours"]:
            vm = inv.vm_id_for_job(job)
            yield fail(job, f"backup of {job.entity_friendly_name or 'a VM'} has been in progress for {hours} h",
                       hours_in_progress=hours, max_hours=params["max_hours"], started=job.start_time,
                       vm=job.entity_friendly_name, vm_id=inv.vm_by_id[vm].display_id if vm in inv.vm_by_id else vm,
                       vault=inv.vault_by_id[job.vault_id].name if job.vault_id in inv.vault_by_id else job.vault_id)
        else:
            yield passed(job)
