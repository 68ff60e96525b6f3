"""2xx Guest agent (see ../shared/rule-catalog.md).

Agent state exists only in a VM's instance view (`vmAgent`: `vmAgentVersion`, `statuses`,
`extensionHandlers`; compute/VirtualMachine_Get_InstanceView.json), one GET per VM, so the collector
reads it only for running backed-up or replicated VMs (design.md). The rules below judge exactly
those VMs; a VM that is not running has no reporting agent and is left out (BCDR103 reports it).

Each VM's agent falls in one state, so that one problem gives one finding:
- absent / silent (no `vmAgent`, or one that reports neither status nor version): BCDR202;
- reporting but not Ready (Not Ready, Unresponsive, provisioning failed, no status): BCDR201;
- Ready but without a version: BCDR202 ("no agent version");
- Ready with a version: BCDR203 compares it with the minimum for its OS.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterator, Mapping

from scanner import inventory as m

from .base import Param, Result, fail, not_assessed, passed, rule
from .docs import DOC_AGENT_MIN_VERSION, DOC_AGENT_UNAVAILABLE, DOC_ASR_EXTENSIONS, DOC_LINUX_AGENT_UPDATE, DOC_WINDOWS_AGENT
from .vm_state import RUNNING_VM_NEEDS, VM_SELECTS, running_with_instance_view

ABSENT, SILENT, NO_VERSION, NOT_READY, READY = "absent", "silent", "no-version", "not-ready", "ready"

# A status says the agent is unwell when its level is Warning/Error or its words say so: the portal's
# "Not Ready", the ProvisioningState/Unavailable code an unresponsive agent reports, a failed
# provisioning. It says Ready through displayStatus "Ready", or a clean ProvisioningState/succeeded.
_BAD_WORDS = frozenset({"failed", "unavailable", "notready", "unresponsive", "error"})
_BAD_DISPLAY = frozenset({"not ready", "notready", "unresponsive"})
_VERSION = re.compile(r"(\d+(?:\.\d+)+)")


def _status_word(status: m.Status) -> str:
    parts = status.code.split("/")
    return parts[1].lower() if len(parts) >= 2 else ""


def _bad(status: m.Status) -> bool:
    return (status.level.lower() in ("warning", "error") or _status_word(status) in _BAD_WORDS
            or status.display_status.strip().lower() in _BAD_DISPLAY)


def _good(status: m.Status) -> bool:
    return status.display_status.strip().lower() == "ready" or _status_word(status) == "succeeded"


@lru_cache(maxsize=1024)  # a fleet runs a handful of agent versions: each is parsed once
def parse_version(text: str | None) -> tuple[int, ...] | None:
    """(2, 7, 41491, 1010) from '2.7.41491.1010'; None for 'Unknown', '' or None."""
    match = _VERSION.search(text or "")
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def version_below(version: tuple[int, ...], minimum: tuple[int, ...]) -> bool:
    """Numeric, component by component; missing components count as 0 (2.2.53 == 2.2.53.0)."""
    width = max(len(version), len(minimum))
    return version + (0,) * (width - len(version)) < minimum + (0,) * (width - len(minimum))


def agent_state(iv: m.InstanceView) -> str:
    version = parse_version(iv.agent_version)
    if not iv.agent_present:
        return ABSENT
    if not iv.agent_statuses and version is None:
        return SILENT
    if iv.agent_statuses and any(_good(s) for s in iv.agent_statuses) and not any(_bad(s) for s in iv.agent_statuses):
        return READY if version is not None else NO_VERSION
    return NOT_READY


def _status_evidence(statuses: tuple[m.Status, ...]) -> list[dict[str, str]]:
    return [{"code": s.code, "level": s.level, "display_status": s.display_status, "message": s.message[:300]}
            for s in statuses]


@rule(
    code="BCDR201", slug="agent-not-ready", severity="high",
    title="VM agent not Ready on a protected running VM",
    predicts=("UserErrorGuestAgentStatusUnavailable", "GuestAgentSnapshotTaskStatusError", "151099"),
    source="seeds/004 UserErrorGuestAgentStatusUnavailable and step 2; seeds/003 (151099); seeds/002",
    remediation="""The VM agent is installed but not Ready, so Azure Backup cannot trigger a snapshot and Site
        Recovery cannot run its extension. On Windows, restart the Windows Azure Guest Agent service, and if
        that does not help reinstall the latest agent MSI (it needs .NET 4.5 or later). On Linux, check that
        waagent / walinuxagent is running, restart it, and update it from the distribution's repository.
        Make sure no guest firewall or proxy blocks 168.63.129.16 (ports 80, 443 and 32526). Then run an on-demand backup.""",
    references=(DOC_AGENT_UNAVAILABLE, DOC_ASR_EXTENSIONS, DOC_WINDOWS_AGENT),
    needs=RUNNING_VM_NEEDS, selects=VM_SELECTS,
)
def agent_not_ready(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    gaps, vms = running_with_instance_view(inv)
    yield from gaps
    for pvm, iv in vms:
        state = agent_state(iv)
        if state in (ABSENT, SILENT):
            continue  # no agent reporting at all: BCDR202's finding, not a second one here
        if state == NOT_READY:
            shown = ", ".join(s.display_status or s.code for s in iv.agent_statuses) or "no status"
            yield fail(pvm.vm, f"VM agent on {pvm.vm.name} is not Ready ({shown})",
                       agent_version=iv.agent_version, agent_statuses=_status_evidence(iv.agent_statuses),
                       protection=pvm.protection)
        else:
            yield passed(pvm.vm)


@rule(
    code="BCDR202", slug="agent-not-reporting", severity="high",
    title="No VM agent reporting on a protected running VM",
    predicts=("UserErrorGuestAgentStatusUnavailable", "VM agent is not present"),
    source="seeds/002 VM agent section ('virtual machine agent is not present'); seeds/004 step 2",
    remediation="""No VM agent reports from this VM: it was never installed (VMs migrated from on-premises or
        built from custom images often lack it; provisionVMAgent false means the platform did not install
        it), or it stopped reporting entirely. Backup and Site Recovery both need it. Install the current
        agent (Windows: the agent MSI; Linux: the distribution's walinuxagent package), check that its
        service is running, then retry the backup or protection.""",
    references=(DOC_AGENT_UNAVAILABLE, DOC_WINDOWS_AGENT, DOC_LINUX_AGENT_UPDATE),
    needs=RUNNING_VM_NEEDS, selects=VM_SELECTS,
)
def agent_not_reporting(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    gaps, vms = running_with_instance_view(inv)
    yield from gaps
    for pvm, iv in vms:
        vm = pvm.vm
        state = agent_state(iv)
        evidence: dict[str, Any] = dict(agent_present=iv.agent_present, agent_version=iv.agent_version,
                                        provision_vm_agent=vm.provision_vm_agent, protection=pvm.protection)
        if state == ABSENT:
            yield fail(vm, f"no VM agent in the instance view of {vm.name}"
                           f"{' (provisionVMAgent is false)' if vm.provision_vm_agent is False else ''}", **evidence)
        elif state == SILENT:
            yield fail(vm, f"the VM agent on {vm.name} reports neither a status nor a version", **evidence)
        elif state == NO_VERSION:
            yield fail(vm, f"the VM agent on {vm.name} reports no version", **evidence,
                       agent_statuses=_status_evidence(iv.agent_statuses))
        else:
            # An agent that reports a version is present, whatever provisionVMAgent says (that flag
            # only records whether the platform installed it at creation; it may be installed by hand).
            yield passed(vm)


@rule(
    code="BCDR203", slug="agent-outdated", severity="medium",
    title="VM agent older than the supported minimum",
    predicts=("151095", "151076", "GuestAgentSnapshotTaskStatusError", "ExtensionOperationFailedForManagedDisks",
              "BackUpOperationFailed"),
    source="seeds/003 (151095), seeds/004 (agent out of date), seeds/002 (2.6.1198.718 in 2017); "
           "Microsoft 'Minimum version support for virtual machine agents in Azure' (KB 4049215)",
    remediation="""The VM agent is older than the minimum version extensions support, and Backup or Site
        Recovery extension operations fail or time out on it. Update it: on Windows install the latest
        agent MSI; on Linux update walinuxagent through the distribution's package repository (not from
        GitHub) and restart it.""",
    references=(DOC_AGENT_MIN_VERSION, DOC_LINUX_AGENT_UPDATE, DOC_WINDOWS_AGENT),
    params=(Param("windows_min_version", "2.7.41491.1010", "oldest Windows VM agent version accepted"),
            Param("linux_min_version", "2.2.53.1", "oldest Linux VM agent (waagent) version accepted")),
    needs=RUNNING_VM_NEEDS, selects=VM_SELECTS,
)
def agent_outdated(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    minimums = {}
    for os_name in ("windows", "linux"):
        text = params[f"{os_name}_min_version"]
        parsed = parse_version(text) if isinstance(text, str) else None
        if parsed is None:
            raise ValueError(f"{os_name}_min_version {text!r} is not a dotted version")
        minimums[os_name] = (text, parsed)
    gaps, vms = running_with_instance_view(inv)
    yield from gaps
    for pvm, iv in vms:
        vm = pvm.vm
        if agent_state(iv) in (ABSENT, SILENT):
            continue  # no agent to date: BCDR202 reports it
        version = parse_version(iv.agent_version)
        os_name = vm.os_type.lower()
        if version is None:
            yield not_assessed(vm, f"the VM agent reports no usable version ({iv.agent_version!r})",
                               agent_version=iv.agent_version)
        elif os_name not in minimums:
            yield not_assessed(vm, "OS type unknown: cannot pick the minimum agent version",
                               agent_version=iv.agent_version, os_type=vm.os_type)
        elif version_below(version, minimums[os_name][1]):
            yield fail(vm, f"{vm.os_type} VM agent {iv.agent_version} on {vm.name} is older than {minimums[os_name][0]}",
                       agent_version=iv.agent_version, minimum_version=minimums[os_name][0], os_type=vm.os_type,
                       protection=pvm.protection)
        else:
            yield passed(vm)
