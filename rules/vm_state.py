"""1xx VM state (see ../shared/rule-catalog.md).

This module also holds the VM-scope helpers the 2xx (agent) and 3xx (extension) rules share: which
VMs are backed up or replicated, their power and provisioning state, and whether their instance view
can be trusted. One place, so every VM rule draws the same line between FAIL and NOT_ASSESSED.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from scanner import inventory as m
from scanner.quickinit import frozen_dataclass

from ._common import per_inventory
from ._extension_health import FAILED, extensions_of, health, label
from .base import Result, fail, not_assessed, passed, rule
from .docs import DOC_CONSISTENCY, DOC_PROVISIONING_FAILED, DOC_TROUBLESHOOT, DOC_VM_STATES, DOC_VM_STATES_TROUBLESHOOT

# seeds/002 backup table ("VM is not in a state that allows backup": wait until the VM is out of the
# transitional state between running and shut down) and seeds/004 step 1 (stopped / deallocated /
# updating VMs block backup). Words are the second part of ProvisioningState/x and PowerState/x.
TRANSITIONAL_PROVISIONING = frozenset({"creating", "updating", "deleting"})
TRANSITIONAL_POWER = frozenset({"starting", "stopping", "deallocating"})
STOPPED_POWER = frozenset({"stopped", "deallocated"})
KNOWN_POWER = frozenset({"running"}) | TRANSITIONAL_POWER | STOPPED_POWER


# --------------------------------------------------------------------------- shared VM helpers
def _word(code: str, prefix: str) -> tuple[str, str] | None:
    """('failed', 'VMExtensionProvisioningError') for 'ProvisioningState/failed/VMExtension...'."""
    parts = (code or "").split("/")
    if len(parts) >= 2 and parts[0].lower() == prefix.lower() and parts[1]:
        return parts[1].lower(), "/".join(parts[2:])
    return None


def power_state(vm: m.VirtualMachine) -> str | None:
    """running | stopped | deallocated | starting | ...; None when nothing reported it."""
    if vm.power_state:
        return vm.power_state.lower()
    codes = [s.code for s in (vm.instance_view.statuses if vm.instance_view else ())] + list(vm.status_codes)
    for code in codes:
        word = _word(code, "PowerState")
        if word:
            return word[0]
    return None


def provisioning(vm: m.VirtualMachine) -> tuple[str | None, str]:
    """(state, error code). The instance view (one GET for this VM) is the most detailed source, then
    the status-only list, then the model's provisioningState. None when none of them reported it."""
    for st in (vm.instance_view.statuses if vm.instance_view else ()):
        word = _word(st.code, "ProvisioningState")
        if word:
            return word[0], word[1] or (vm.provisioning_error if word[0] == "failed" else "")
    if vm.provisioning_status:
        return vm.provisioning_status.lower(), vm.provisioning_error
    for code in vm.status_codes:
        word = _word(code, "ProvisioningState")
        if word:
            return word[0], word[1] or (vm.provisioning_error if word[0] == "failed" else "")
    if vm.provisioning_state:
        return vm.provisioning_state.lower(), vm.provisioning_error
    return None, ""


@frozen_dataclass(frozen=True, slots=True)
class ProtectedVm:
    vm: m.VirtualMachine
    backed_up: bool
    replicated: bool

    @property
    def protection(self) -> list[str]:
        return [name for name, on in (("backup", self.backed_up), ("site-recovery", self.replicated)) if on]


# What the VM rules read. The VM list decides (needs); the backup and replication item lists only
# select which VMs are protected (selects): when one of them is missing, the engine reports the
# subscription NOT_ASSESSED and the VMs we do know to be protected are still judged.
VM_NEEDS = (m.VMS,)
VM_SELECTS = (m.PROTECTED_ITEMS, m.REPLICATION_ITEMS)
BACKUP_SELECTS = (m.PROTECTED_ITEMS,)
REPLICATION_SELECTS = (m.REPLICATION_ITEMS,)
# The agent and extension rules also read instance views: a VM whose view could not be read is
# NOT_ASSESSED (instance_view_gap), and the engine refuses a PASS for it.
RUNNING_VM_NEEDS = (m.VMS, m.INSTANCE_VIEWS)


def protected_vms(inv: m.Inventory, *, backup: bool = True, replication: bool = True) -> tuple[ProtectedVm, ...]:
    """VMs that are backed up (and/or replicated), joined on lower-cased ARM ids, in id order."""
    return _protected_vms(inv, backup=backup, replication=replication)  # one memo key per selection


@per_inventory
def _protected_vms(inv: m.Inventory, *, backup: bool, replication: bool) -> tuple[ProtectedVm, ...]:
    if not (backup and replication):  # a narrower selection: filtered from the full one, in its order
        return tuple(_narrowed(pvm, backup, replication) for pvm in _protected_vms(inv, backup=True, replication=True)
                     if (backup and pvm.backed_up) or (replication and pvm.replicated))
    out: list[ProtectedVm] = []
    for vm in sorted(inv.virtual_machines, key=lambda v: v.id):
        b = inv.is_backed_up(vm.id)
        r = inv.is_replicated(vm.id)
        if b or r:
            out.append(ProtectedVm(vm, b, r))
    return tuple(out)


def _narrowed(pvm: ProtectedVm, backup: bool, replication: bool) -> ProtectedVm:
    """The VM as a narrower selection sees it: only the protections it selects."""
    b, r = backup and pvm.backed_up, replication and pvm.replicated
    return pvm if (b, r) == (pvm.backed_up, pvm.replicated) else ProtectedVm(pvm.vm, b, r)


def instance_view_gap(inv: m.Inventory, vm: m.VirtualMachine) -> str | None:
    """Why this VM's instance view cannot be used, or None."""
    if vm.instance_view_error:
        return f"instance view could not be read: {vm.instance_view_error}"
    reason = inv.gap(m.INSTANCE_VIEWS, vm.subscription_id, vm.id)
    if reason:
        return reason
    if vm.instance_view is None:
        return "instance view was not collected for this running VM"
    return None


def running_with_instance_view(inv: m.Inventory, *, backup: bool = True, replication: bool = True
                               ) -> tuple[tuple[Result, ...], tuple[tuple[ProtectedVm, m.InstanceView], ...]]:
    """For the agent and extension rules: NOT_ASSESSED for the VMs whose power state or instance
    view is unknown, and (VM, instance view) pairs for running backed-up/replicated VMs whose
    instance view was read.

    VMs that are not running are left out on purpose: their agent does not report and their
    extensions do not run, so an agent or extension rule has nothing to judge (neither FAIL nor
    PASS). BCDR103 tells the operator that a backed-up VM is stopped and its agent is not checked."""
    return _running_with_instance_view(inv, backup=backup, replication=replication)


@per_inventory
def _running_with_instance_view(inv: m.Inventory, *, backup: bool, replication: bool
                                ) -> tuple[tuple[Result, ...], tuple[tuple[ProtectedVm, m.InstanceView], ...]]:
    gaps: list[Result] = []
    out: list[tuple[ProtectedVm, m.InstanceView]] = []
    for pvm, gap, view in _judged_running(inv):
        if (backup and pvm.backed_up) or (replication and pvm.replicated):
            if gap is not None:
                gaps.append(gap)
            elif view is not None:
                out.append((_narrowed(pvm, backup, replication), view))
    return tuple(gaps), tuple(out)


@per_inventory
def _judged_running(inv: m.Inventory) -> tuple[tuple[ProtectedVm, Result | None, m.InstanceView | None], ...]:
    """Every protected VM that is (or may be) running, with its NOT_ASSESSED or its instance view:
    judged once, whichever selection of protected VMs a rule asks for."""
    out: list[tuple[ProtectedVm, Result | None, m.InstanceView | None]] = []
    for pvm in protected_vms(inv):
        vm = pvm.vm
        power = power_state(vm)
        if power is None:
            reason = inv.gap(m.VM_STATUS, vm.subscription_id) or "the service did not report it"
            out.append((pvm, not_assessed(vm, f"power state unknown ({reason})"), None))
            continue
        if power not in KNOWN_POWER:
            # A state the scanner does not know (the service added one): it may be running, and
            # its instance view was not read (only running VMs get one).
            out.append((pvm, not_assessed(vm, f"power state {power!r} is not one the scanner knows"), None))
            continue
        if power != "running":
            continue
        gap = instance_view_gap(inv, vm)
        if gap or vm.instance_view is None:  # instance_view_gap names a missing view
            out.append((pvm, not_assessed(vm, gap or "instance view missing", instance_view_error=vm.instance_view_error), None))
            continue
        out.append((pvm, None, vm.instance_view))
    return tuple(out)


def _failed_extensions(vm: m.VirtualMachine) -> list[str]:
    """Names of extensions reporting failure (seeds/004: a failed extension puts the VM in a failed
    provisioning state), judged exactly as the extension rules judge them."""
    view = vm.instance_view or m.InstanceView(agent_present=False)
    return sorted({label(ext) for ext in extensions_of(vm, view) if health(ext) == FAILED})


# --------------------------------------------------------------------------- rules
@rule(
    code="BCDR101", slug="vm-provisioning-failed", severity="high",
    title="Protected VM in a failed provisioning state",
    predicts=("UserErrorVmProvisioningStateFailed",),
    source="seeds/004 step 1 and UserErrorVmProvisioningStateFailed",
    remediation="""The VM's last operation failed, usually because an extension failed, and Azure Backup will
        not snapshot a VM in a failed provisioning state. Open the VM's extensions, fix or remove the failed
        one (the evidence names it and the provisioning error code), then bring the VM back to Succeeded
        (for example by reapplying the VM) and retry the backup.""",
    references=(DOC_PROVISIONING_FAILED, DOC_VM_STATES),
    needs=VM_NEEDS, selects=VM_SELECTS,
)
def vm_provisioning_failed(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for pvm in protected_vms(inv):
        vm = pvm.vm
        state, error = provisioning(vm)
        if state is None:
            reason = inv.gap(m.VM_STATUS, vm.subscription_id) or "the service did not report it"
            yield not_assessed(vm, f"provisioning state unknown ({reason})")
        elif state == "failed":
            yield fail(vm, f"VM {vm.name} is in a failed provisioning state"
                           f"{f' ({error})' if error else ''}",
                       provisioning_state=state, provisioning_error=error, status_codes=list(vm.status_codes),
                       failed_extensions=_failed_extensions(vm), protection=pvm.protection)
        else:
            yield passed(vm)


@rule(
    code="BCDR102", slug="vm-transitional-state", severity="low",
    title="Backed-up VM caught in a transitional state",
    predicts=("UserErrorVmNotInDesirableState", "VM is not in a state that allows backup"),
    source="seeds/002 backup table ('VM is not in a state that allows backup'); seeds/004 step 1",
    remediation="""The VM was being created, updated, deleted, started or stopped when the scan ran. A backup
        that starts in that window fails. If the state persists across scans, look for a stuck operation
        (activity log) and bring the VM to running or fully stopped before the backup window.""",
    references=(DOC_VM_STATES_TROUBLESHOOT, DOC_VM_STATES),
    needs=VM_NEEDS, selects=BACKUP_SELECTS,
)
def vm_transitional_state(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for pvm in protected_vms(inv, replication=False):
        vm = pvm.vm
        state, _error = provisioning(vm)
        power = power_state(vm)
        if state in TRANSITIONAL_PROVISIONING or power in TRANSITIONAL_POWER:
            yield fail(vm, f"VM {vm.name} is in a transitional state "
                           f"(provisioning {state or 'unknown'}, power {power or 'unknown'})",
                       provisioning_state=state, power_state=power)
        elif state is None or power is None:
            # The unknown half could be the transitional one.
            reason = inv.gap(m.VM_STATUS, vm.subscription_id) or "the service did not report it"
            yield not_assessed(vm, f"{'provisioning' if state is None else 'power'} state unknown ({reason})",
                               provisioning_state=state, power_state=power)
        else:
            yield passed(vm)


@rule(
    code="BCDR103", slug="vm-deallocated-while-protected", severity="info",
    title="Backed-up VM stopped or deallocated",
    predicts=(),
    source="seeds/004 step 1",
    remediation="""A stopped or deallocated VM is still backed up, but only crash-consistently (no VM agent or
        snapshot extension runs inside it), and the scanner cannot check its agent or extensions. If the VM
        is meant to be off, no action is needed; if it should be running, start it before the backup
        window.""",
    references=(DOC_TROUBLESHOOT, DOC_CONSISTENCY),
    needs=VM_NEEDS, selects=BACKUP_SELECTS,
)
def vm_deallocated_while_protected(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for pvm in protected_vms(inv, replication=False):
        vm = pvm.vm
        power = power_state(vm)
        if power is None:
            reason = inv.gap(m.VM_STATUS, vm.subscription_id) or "the service did not report it"
            yield not_assessed(vm, f"power state unknown ({reason})")
        elif power in STOPPED_POWER:
            yield fail(vm, f"backed-up VM {vm.name} is {power}: backups are crash-consistent only",
                       power_state=power)
        else:
            yield passed(vm)
