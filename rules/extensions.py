"""3xx Extensions (see ../shared/rule-catalog.md).

Extension health comes from the instance view: `extensions[].statuses` (code
`ProvisioningState/<word>[/<detail>]`, level, displayStatus) and `vmAgent.extensionHandlers[].status`
(compute/VirtualMachine_Get_InstanceView.json), merged with the extension's `provisioningState` from
the VM model when the list carries it. Like the agent rules, these judge running backed-up or
replicated VMs only: a stopped VM runs no extension, and its instance view is not fetched.

BCDR301 is the generic rule; the backup snapshot extension on a backed-up VM and the Site Recovery
extension on a replicated VM are judged by BCDR302 / BCDR303, which carry the specific fix, so one
broken extension gives one finding.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from scanner import inventory as m
from scanner.timeutil import parse

from ._common import first_backup_pending, no_time
from ._extension_health import ASR_PREFIX, BACKUP_PREFIX, FAILED, OK, TRANSITIONING, extensions_of, full_type, health, label
from .agent import READY, agent_state
from .base import Result, fail, not_assessed, passed, rule
from .docs import DOC_ASR_EXTENSIONS, DOC_EXTENSIONS, DOC_LINUX_AGENT_UPDATE, DOC_TROUBLESHOOT, DOC_VMSNAPSHOT
from .jobs import STUCK_PARAMS, job_within_threshold
from .vm_state import BACKUP_SELECTS, REPLICATION_SELECTS, RUNNING_VM_NEEDS, VM_SELECTS, ProtectedVm, running_with_instance_view


def _evidence(ext: m.Extension, state: str) -> dict[str, Any]:
    return {
        "name": ext.name, "type": full_type(ext), "version": ext.type_handler_version, "health": state,
        "provisioning_state": ext.provisioning_state,
        "statuses": [{"code": s.code, "level": s.level, "display_status": s.display_status, "message": s.message[:300]}
                     for s in ext.statuses],
        "handler_status": ({"code": ext.handler_status.code, "level": ext.handler_status.level,
                            "display_status": ext.handler_status.display_status} if ext.handler_status else None),
    }


def _is_backup_ext(ext: m.Extension) -> bool:
    return full_type(ext).lower().startswith(BACKUP_PREFIX)


def _is_asr_ext(ext: m.Extension) -> bool:
    return full_type(ext).lower().startswith(ASR_PREFIX)


def _has_dedicated_rule(pvm: ProtectedVm, ext: m.Extension) -> bool:
    return (pvm.backed_up and _is_backup_ext(ext)) or (pvm.replicated and _is_asr_ext(ext))


def _fresh_backup_job(inv: m.Inventory, vm_id: str, params: Mapping[str, Any]) -> m.BackupJob | None:
    """A Backup job of the VM that is in progress and younger than BCDR701's threshold: while it runs,
    the snapshot extension is expected to be transitioning. A stuck job excuses nothing
    (rule-catalog-v2 A, BCDR302)."""
    return next((j for j in inv.backup_jobs_by_vm.get(vm_id, ())
                 if j.operation.lower() in ("backup", "") and job_within_threshold(inv, j, params)), None)


def _last_completed_backup(inv: m.Inventory, vm_id: str) -> datetime | None:
    """When the VM's newest completed backup finished, as far as the items and jobs tell (None: no
    completed backup). A completed backup whose time is not given counts at the epoch."""
    times: list[datetime] = []
    for item in inv.backup_items_for(vm_id):
        if not first_backup_pending(item):
            for raw in (item.last_recovery_point_time, item.last_backup_time):
                t = None if no_time(raw) else parse(raw)
                times.append(t or datetime.min.replace(tzinfo=timezone.utc))
    for j in inv.backup_jobs_by_vm.get(vm_id, ()):
        if j.operation.lower() == "backup" and j.status.lower() in ("completed", "completedwithwarnings"):
            times.append(parse(j.end_time) or parse(j.start_time) or datetime.min.replace(tzinfo=timezone.utc))
    return max(times) if times else None


def _view_time(iv: m.InstanceView) -> datetime | None:
    """When the agent last reported in this instance view (its status times)."""
    times = [t for st in iv.agent_statuses if (t := parse(st.time)) is not None]
    return max(times) if times else None


@rule(
    code="BCDR301", slug="extension-failed", severity="medium",
    title="Failed extension on a protected VM",
    predicts=("UserErrorVmProvisioningStateFailed",),
    source="seeds/004 step 3 (all extensions must be 'Provisioning succeeded')",
    remediation="""An extension on this VM reports failure. Any extension in an error state can stop a backup:
        a failed extension puts the VM in a failed provisioning state, and Azure Backup then refuses to
        snapshot it. Read the extension's status message, fix the cause or uninstall the extension, and
        retry the backup.""",
    references=(DOC_EXTENSIONS, DOC_TROUBLESHOOT),
    needs=RUNNING_VM_NEEDS, selects=VM_SELECTS,
)
def extension_failed(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    gaps, vms = running_with_instance_view(inv)
    yield from gaps
    for pvm, iv in vms:
        failed = [e for e in extensions_of(pvm.vm, iv) if not _has_dedicated_rule(pvm, e) and health(e) == FAILED]
        if failed:
            yield fail(pvm.vm, f"{len(failed)} failed extension(s) on {pvm.vm.name}: {', '.join(label(e) for e in failed)}",
                       extensions=[_evidence(e, FAILED) for e in failed], protection=pvm.protection)
        else:
            yield passed(pvm.vm)


@rule(
    code="BCDR302", slug="backup-extension-unhealthy", severity="high",
    title="Azure Backup snapshot extension unhealthy",
    predicts=("ExtensionOperationFailedForManagedDisks", "UserErrorVmProvisioningStateFailed"),
    source="seeds/004 step 4 and ExtensionOperationFailedForManagedDisks; seeds/003 last paragraph (a stuck job "
           "excuses nothing); rule-catalog-v2 A",
    remediation="""The VMSnapshot extension that takes the backup snapshot is failed, stuck transitioning or
        reports no status. Check that the VM agent is Ready and current, that antivirus or application
        control does not block IaaSBcdrExtension (exclude the Microsoft.Azure.RecoveryServices.VMSnapshot
        plugin folders), that the VM can reach 168.63.129.16 and Azure Storage, and that DHCP is enabled in
        the guest. If it stays failed, uninstall the extension: Azure Backup reinstalls it at the next
        backup. A VM that has been backed up before but shows no VMSnapshot extension at all cannot take
        the next snapshot: on Linux the agent is usually too old to install VMSnapshotLinux (update
        walinuxagent); on Windows check that the agent is current and the extension was not removed.""",
    references=(DOC_VMSNAPSHOT, DOC_TROUBLESHOOT, DOC_LINUX_AGENT_UPDATE),
    params=STUCK_PARAMS,
    needs=RUNNING_VM_NEEDS, selects=BACKUP_SELECTS,
)
def backup_extension_unhealthy(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    gaps, vms = running_with_instance_view(inv, replication=False)
    yield from gaps
    for pvm, iv in vms:
        vm = pvm.vm
        exts = [e for e in extensions_of(vm, iv) if _is_backup_ext(e)]
        if not exts:
            # Azure Backup installs VMSnapshot with the first scheduled backup after protection is
            # enabled (seeds/004 step 4): not installed yet is not a fault. Once a backup has completed
            # the extension must be there (rule-catalog-v2 A).
            done = _last_completed_backup(inv, vm.id)
            seen = _view_time(iv)
            if done is None or _fresh_backup_job(inv, vm.id, params) is not None:
                yield passed(vm)  # first backup still to come, or one running now may be installing it
            elif seen is not None and seen < done:
                yield not_assessed(vm, "no VMSnapshot extension reported, but the instance view predates the last "
                                       "completed backup", instance_view_time=seen.isoformat(),
                                   last_completed_backup=done.isoformat())
            elif agent_state(iv) != READY:
                yield not_assessed(vm, "no VMSnapshot extension reported, and the VM agent is not Ready to report "
                                       "one (BCDR201/BCDR202)", agent_version=iv.agent_version)
            else:
                linux = vm.os_type.lower() == "linux"
                yield fail(vm, f"{vm.name} has completed backups but no VMSnapshot extension"
                               + (" (on Linux: the VM agent is likely too old to install it)" if linux else ""),
                           extensions=[], health="missing", os_type=vm.os_type, agent_version=iv.agent_version)
            continue
        bad = []
        for ext in exts:
            state = health(ext)
            if state == TRANSITIONING:
                if _fresh_backup_job(inv, vm.id, params) is not None:
                    continue  # a snapshot in progress: the extension is expected to be transitioning
            if state != OK:
                bad.append((ext, state))
        if bad:
            evidence: dict[str, Any] = dict(extensions=[_evidence(e, s) for e, s in bad], agent_version=iv.agent_version)
            stuck = [j.display_id for j in inv.backup_jobs_by_vm.get(vm.id, ()) if j.status.lower() == "inprogress"]
            if stuck:  # running longer than BCDR701's threshold: no excuse for a transitioning extension
                evidence["in_progress_jobs_past_threshold"] = stuck
            yield fail(vm, f"backup extension on {vm.name} is {', '.join(s for _e, s in bad)}", **evidence)
        else:
            yield passed(vm)


@rule(
    code="BCDR303", slug="site-recovery-extension-unhealthy", severity="high",
    title="Site Recovery extension unhealthy",
    predicts=("151076", "150066"),
    source="seeds/003 'the Site Recovery extension fails to update or load' (state empty, not ready, transitioning)",
    remediation="""The Site Recovery extension shows an empty, not ready, transitioning or failed state, and
        Site Recovery's extension operations time out on it. Check that the VM agent is Ready and current,
        then uninstall the Site Recovery extension from the VM's extensions and restart the operation:
        Site Recovery reinstalls the extension.""",
    references=(DOC_ASR_EXTENSIONS,),
    needs=RUNNING_VM_NEEDS, selects=REPLICATION_SELECTS,
)
def site_recovery_extension_unhealthy(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    gaps, vms = running_with_instance_view(inv, backup=False)
    yield from gaps
    for pvm, iv in vms:
        vm = pvm.vm
        bad = [(e, s) for e in extensions_of(vm, iv) if _is_asr_ext(e) and (s := health(e)) != OK]
        if bad:
            yield fail(vm, f"Site Recovery extension on {vm.name} is {', '.join(s for _e, s in bad)}",
                       extensions=[_evidence(e, s) for e, s in bad], agent_version=iv.agent_version)
        else:
            # Includes a VM without the extension: on a failed-over recovery VM it is absent by design,
            # and replication health (9xx) reports a source whose replication does not work.
            yield passed(vm)
