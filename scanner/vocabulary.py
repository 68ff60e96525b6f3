"""The words the scanner and the rules share: statuses, severities, categories, and what a rule
yields for one resource.

Both packages import this module; `scanner` never imports `rules.base` (which re-exports these
names for rule authors), so the dependency runs one way: scanner.engine -> rules -> scanner.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import field
from typing import Any, Iterator

from . import ids
from . import inventory as m
from .quickinit import frozen_dataclass

PASS, FAIL, NOT_ASSESSED = "PASS", "FAIL", "NOT_ASSESSED"
STATUSES = (PASS, FAIL, NOT_ASSESSED)  # what a rule yields
# A FAIL that a live --suppressions entry matched (scanner.suppress): reported, never gating.
SUPPRESSED = "SUPPRESSED"
SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(reversed(SEVERITIES))}  # info=0 ... critical=4

# The first digit of a rule code (BCDR<d>xx) names its category.
CATEGORIES = {
    "0": "vault-posture",
    "1": "vm-state",
    "2": "guest-agent",
    "3": "extensions",
    "4": "locks",
    "5": "restore-points",
    "6": "disks",
    "7": "jobs",
    "8": "protection-coverage",
    "9": "site-recovery",
}

SUBSCRIPTION_TYPE = "Microsoft.Resources/subscriptions"
RESOURCE_TYPES: dict[type, str] = {
    m.VirtualMachine: "Microsoft.Compute/virtualMachines",
    m.Disk: "Microsoft.Compute/disks",
    m.RestorePointCollection: "Microsoft.Compute/restorePointCollections",
    m.ResourceGroup: "Microsoft.Resources/resourceGroups",
    m.Lock: "Microsoft.Authorization/locks",
    m.Vault: "Microsoft.RecoveryServices/vaults",
    m.ProtectedItem: "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems",
    m.BackupPolicy: "Microsoft.RecoveryServices/vaults/backupPolicies",
    m.BackupJob: "Microsoft.RecoveryServices/vaults/backupJobs",
    m.ReplicationItem: "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems",
    m.ReplicationJob: "Microsoft.RecoveryServices/vaults/replicationJobs",
    m.RecoveryPlan: "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans",
    m.ReplicationFabric: "Microsoft.RecoveryServices/vaults/replicationFabrics",
    m.ContainerMapping: ("Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/"
                         "replicationProtectionContainerMappings"),
}


@frozen_dataclass(frozen=True, slots=True)
class Result:
    """What a rule yields for one resource."""
    status: str
    resource_id: str  # as Azure returned it
    resource_type: str
    subscription_id: str
    resource_group: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None  # a rule may pick a severity other than its default (BCDR601)
    key: str = ""  # tells apart two results of one rule for one resource (fingerprint input)
    # Normalised ids of the VMs the result concerns. Empty: the engine derives them from the
    # resource (scanner.readiness.affected_vms); a rule names them when its resource does not say
    # (a plan, a fabric, a subscription-wide limit).
    affected_vms: tuple[str, ...] = ()
    # Normalised ids of the coverage scopes the resource sits in (its own id, its vault's id): the
    # engine refuses a PASS inside a scope that a needed collector could not read.
    scopes: tuple[str, ...] = ()


def not_assessed_subscription(subscription_id: str, reason: str) -> Result:
    """When a whole collector failed, the affected resources are unknown: say so once for the
    subscription rather than pretend there is nothing to check."""
    return Result(NOT_ASSESSED, f"/subscriptions/{subscription_id}", SUBSCRIPTION_TYPE,
                  subscription_id, "", reason, {"reason": reason}, None, "")


# ---- what rule bodies call: one line per result
def _where(resource: Any) -> tuple[str, str, str, str]:
    rtype = RESOURCE_TYPES.get(type(resource), "")
    return (getattr(resource, "display_id", "") or getattr(resource, "id", ""), rtype,
            getattr(resource, "subscription_id", ""), getattr(resource, "resource_group", "")
            or ids.resource_group_of(getattr(resource, "display_id", "")))


def _scopes(resource: Any) -> tuple[str, ...]:
    """The coverage scopes a resource sits in: itself, and the vault that holds it."""
    own = ids.norm(getattr(resource, "id", "") or getattr(resource, "display_id", ""))
    vault = getattr(resource, "vault_id", "")
    if own and vault:
        return own, vault
    return (own,) if own else (vault,) if vault else ()


def fail(resource: Any, message: str, *, severity: str | None = None, key: str = "",
         affected_vms: tuple[str, ...] | list[str] = (), **evidence: Any) -> Result:
    rid, rtype, sub, rg = _where(resource)
    return Result(FAIL, rid, rtype, sub, rg, message, evidence, severity, key, _vm_ids(affected_vms), _scopes(resource))


def passed(resource: Any, message: str = "", *, key: str = "") -> Result:
    shared = _PASSES.get()
    if shared is None:
        return _passed(resource, message, key)
    hit = shared.results.get(id(resource))
    if hit is None:
        rid, rtype, sub, rg = _where(resource)
        hit = shared.results[id(resource)] = Result(PASS, rid, rtype, sub, rg, "", _NO_EVIDENCE)
        shared.keep.append(resource)
    return hit


def _passed(resource: Any, message: str, key: str) -> Result:
    rid, rtype, sub, rg = _where(resource)
    return Result(PASS, rid, rtype, sub, rg, message, {}, None, key, (), _scopes(resource))


# While the engine evaluates a rule whose inputs were all read, a PASS is only counted and its
# resource id listed: its message, key, evidence and scopes are never read (the coverage gate has
# nothing to refuse). So a PASS for a resource is then the same Result whichever rule says it,
# whatever message or key the rule gives: it is built once per resource and shared (Results are
# frozen), with no message, key, evidence or scopes (at 10,000 VMs, 25,000 shared PASSes instead of
# 206,000, at about 120 bytes each: the scopes alone were a lower-cased copy of every id). Where the
# engine's coverage gate may turn a PASS into a NOT_ASSESSED finding (whose fingerprint takes the
# key), the engine runs the rule with `own_passes`, where every PASS is its own Result with its
# message, key and scopes. The memo keeps each resource it saw alive (so an id() is never reused
# within it) and is dropped when the evaluation ends.
class _SharedPasses:
    __slots__ = ("results", "keep")

    def __init__(self) -> None:
        self.results: dict[int, Result] = {}  # id(resource) -> its PASS
        self.keep: list[Any] = []  # the resources of `results`, alive while their ids are keys


_NO_EVIDENCE: dict[str, Any] = {}  # the shared PASSes' evidence: never read, never copied into a finding
_PASSES: ContextVar[_SharedPasses | None] = ContextVar("passes", default=None)


@contextlib.contextmanager
def shared_passes() -> Iterator[None]:
    token = _PASSES.set(_SharedPasses())
    try:
        yield
    finally:
        _PASSES.reset(token)


@contextlib.contextmanager
def own_passes() -> Iterator[None]:
    """Within shared_passes, a block where every PASS is a Result of its own (message and key kept)."""
    token = _PASSES.set(None)
    try:
        yield
    finally:
        _PASSES.reset(token)


def not_assessed(resource: Any, reason: str, *, key: str = "", affected_vms: tuple[str, ...] | list[str] = (),
                 **evidence: Any) -> Result:
    rid, rtype, sub, rg = _where(resource)
    return Result(NOT_ASSESSED, rid, rtype, sub, rg, reason, {"reason": reason, **evidence}, None, key,
                  _vm_ids(affected_vms), _scopes(resource))


def _vm_ids(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(sorted({ids.norm(v) for v in values if v}))
