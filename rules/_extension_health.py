"""Extension health, shared by the extension rules (3xx) and BCDR101, which names the failed
extension behind a failed provisioning state: one definition of "failed", so both say the same.

Health comes from the instance view (`extensions[].statuses`, `vmAgent.extensionHandlers[].status`)
merged with the extension's `provisioningState` from the VM model when the list carries it.
"""
from __future__ import annotations

from dataclasses import replace

from scanner import inventory as m

# Extension types (publisher.type): VMSnapshot (Windows) and VMSnapshotLinux; Site Recovery installs
# Microsoft.Azure.RecoveryServices.SiteRecovery.Windows / .Linux.
BACKUP_PREFIX = "microsoft.azure.recoveryservices.vmsnapshot"
ASR_PREFIX = "microsoft.azure.recoveryservices.siterecovery"

FAILED, TRANSITIONING, NOT_READY, NO_STATUS, OK = "failed", "transitioning", "not-ready", "no-status", "ok"
_TRANSITIONAL = frozenset({"transitioning", "creating", "updating", "deleting"})


def full_type(ext: m.Extension) -> str:
    """'Microsoft.Azure.RecoveryServices.VMSnapshot', whether the source gave the full type (instance
    view) or the short type plus publisher (VM model)."""
    if ext.publisher and not ext.type.lower().startswith(ext.publisher.lower() + "."):
        return f"{ext.publisher}.{ext.type}"
    return ext.type


def extensions_of(vm: m.VirtualMachine, iv: m.InstanceView) -> list[m.Extension]:
    """Instance-view extensions (including entries the collector made from a handler status alone,
    which carry a type but no name), with the VM model's provisioningState filled in, matched by
    name or else by type; plus the model's extensions the instance view does not show at all (those
    have no status to show)."""
    out = list(iv.extensions)
    for known in vm.extensions:
        match = next((i for i, e in enumerate(out) if e.name and e.name.lower() == known.name.lower()), None)
        if match is None:
            match = next((i for i, e in enumerate(out) if full_type(e).lower() == full_type(known).lower()), None)
        if match is None:
            out.append(known)
            continue
        ext = out[match]
        out[match] = replace(ext, name=ext.name or known.name,
                             provisioning_state=ext.provisioning_state or known.provisioning_state,
                             publisher=ext.publisher or known.publisher)
    return sorted(out, key=lambda e: (e.name.lower(), full_type(e).lower()))


def label(ext: m.Extension) -> str:
    return ext.name or full_type(ext)


def status_word(status: m.Status) -> str:
    parts = status.code.split("/")
    return parts[1].lower() if len(parts) >= 2 else ""


def health(ext: m.Extension) -> str:
    """failed | transitioning | not-ready | no-status | ok, worst first."""
    statuses = list(ext.statuses) + ([ext.handler_status] if ext.handler_status else [])
    prov = ext.provisioning_state.lower()
    if prov == "failed" or any(s.level.lower() == "error" or status_word(s) in ("failed", "error") for s in statuses):
        return FAILED
    if prov in _TRANSITIONAL or any(status_word(s) in _TRANSITIONAL or s.display_status.strip().lower() == "transitioning"
                                    for s in statuses):
        return TRANSITIONING
    if any(status_word(s) in ("notready", "unavailable")
           or s.display_status.strip().lower() in ("not ready", "notready", "unresponsive") for s in statuses):
        return NOT_READY
    if not statuses:
        # Nothing reported by the extension or its handler (the model's provisioningState is what
        # ARM last did, not what the extension says).
        return NO_STATUS
    return OK
