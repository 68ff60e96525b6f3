"""What a rule is: metadata next to a pure function over the Inventory.

A rule decides and explains with evidence; it never does I/O, never reads the clock (it uses
`inv.collected_at`), and takes its thresholds from `params`. The engine attaches the metadata
(severity, predicted errors, remediation, references) to what a rule yields.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from scanner import inventory as m

PASS, FAIL, NOT_ASSESSED = "PASS", "FAIL", "NOT_ASSESSED"
SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(reversed(SEVERITIES))}  # info=0 ... critical=4

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


@dataclass(frozen=True)
class Param:
    name: str
    default: int | float | str | bool
    description: str
    minimum: float | None = None
    maximum: float | None = None

    @property
    def type(self) -> type:
        return type(self.default)


@dataclass(frozen=True)
class RuleMeta:
    code: str  # BCDR501: stable forever once released
    slug: str  # rp-collection-limit-reached
    severity: str
    title: str
    predicts: tuple[str, ...]  # error codes (or quoted messages) the rule predicts
    source: str  # seeds/ file and section, or a public Microsoft page
    remediation: str  # our own words
    references: tuple[str, ...]  # public Microsoft documentation links
    params: tuple[Param, ...] = ()
    # False for a rule kept for old stacks (BCDR603): listed and explainable, run only when the
    # configuration enables it ([rules.CODE] enabled = true) or a caller asks for it by code.
    enabled_by_default: bool = True

    @property
    def category(self) -> str:
        return CATEGORIES[self.code[4]]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


@dataclass(frozen=True)
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


RuleFn = Callable[[m.Inventory, Mapping[str, Any]], Iterator[Result]]


@dataclass(frozen=True)
class Rule:
    meta: RuleMeta
    fn: RuleFn

    def __call__(self, inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
        return self.fn(inv, params)


REGISTRY: dict[str, Rule] = {}


def rule(*, code: str, slug: str, severity: str, title: str, predicts: tuple[str, ...] | list[str],
         source: str, remediation: str, references: tuple[str, ...] | list[str],
         params: tuple[Param, ...] | list[Param] = (), enabled_by_default: bool = True) -> Callable[[RuleFn], RuleFn]:
    """Register a rule function with its catalog metadata."""
    if severity not in SEVERITIES:
        raise ValueError(f"{code}: unknown severity {severity}")
    if code in REGISTRY:
        raise ValueError(f"{code}: registered twice")
    if any(r.meta.slug == slug for r in REGISTRY.values()):
        raise ValueError(f"{slug}: slug registered twice")

    def register(fn: RuleFn) -> RuleFn:
        meta = RuleMeta(code=code, slug=slug, severity=severity, title=title, predicts=tuple(predicts),
                        source=source, remediation=" ".join(remediation.split()),
                        references=tuple(references), params=tuple(params),
                        enabled_by_default=enabled_by_default)
        REGISTRY[code] = Rule(meta=meta, fn=fn)
        return fn

    return register


# ---- helpers that keep rule bodies one-liners
def _where(resource: Any) -> tuple[str, str, str, str]:
    rtype = RESOURCE_TYPES.get(type(resource), "")
    return (getattr(resource, "display_id", "") or getattr(resource, "id", ""), rtype,
            getattr(resource, "subscription_id", ""), getattr(resource, "resource_group", "")
            or _rg_from_id(getattr(resource, "display_id", "")))


def _rg_from_id(resource_id: str) -> str:
    from scanner import ids
    return ids.resource_group_of(resource_id)


def fail(resource: Any, message: str, *, severity: str | None = None, key: str = "",
         affected_vms: tuple[str, ...] | list[str] = (), **evidence: Any) -> Result:
    rid, rtype, sub, rg = _where(resource)
    return Result(FAIL, rid, rtype, sub, rg, message, evidence, severity, key, _vm_ids(affected_vms))


def passed(resource: Any, message: str = "", *, key: str = "") -> Result:
    rid, rtype, sub, rg = _where(resource)
    return Result(PASS, rid, rtype, sub, rg, message, {}, None, key)


def not_assessed(resource: Any, reason: str, *, key: str = "", affected_vms: tuple[str, ...] | list[str] = (),
                 **evidence: Any) -> Result:
    rid, rtype, sub, rg = _where(resource)
    return Result(NOT_ASSESSED, rid, rtype, sub, rg, reason, {"reason": reason, **evidence}, None, key,
                  _vm_ids(affected_vms))


def _vm_ids(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    from scanner import ids
    return tuple(sorted({ids.norm(v) for v in values if v}))


def not_assessed_subscription(subscription_id: str, reason: str) -> Result:
    """When a whole collector failed, the affected resources are unknown: say so once for the
    subscription rather than pretend there is nothing to check."""
    return Result(NOT_ASSESSED, f"/subscriptions/{subscription_id}", "Microsoft.Resources/subscriptions",
                  subscription_id, "", reason, {"reason": reason}, None, "")
