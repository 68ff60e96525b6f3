"""Run the rules over an Inventory and attach their metadata to what they yield."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from rules import REGISTRY, load_all
from rules.base import FAIL, NOT_ASSESSED, PASS, Result, Rule

from .inventory import Inventory
from .model import RuleDescriptor
from .readiness import affected_vms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    rule_id: str
    rule_name: str
    status: str  # FAIL | NOT_ASSESSED (PASS results are counted, not listed)
    severity: str
    subscription_id: str
    resource_id: str
    resource_type: str
    resource_group: str
    message: str
    evidence: dict[str, Any]
    predicted_errors: tuple[str, ...]
    remediation: str
    references: tuple[str, ...]
    fingerprint: str
    affected_vms: tuple[str, ...] = ()  # normalised ids of the VMs this finding concerns


@dataclass(frozen=True)
class RuleSettings:
    """Per-rule configuration after validation (see scanner.config). `enabled` None: the rule's
    own default (RuleMeta.enabled_by_default)."""
    enabled: bool | None = None
    severity: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    findings: tuple[Finding, ...]
    passed: dict[str, int]  # rule code -> PASS count
    rules_run: tuple[str, ...]
    rule_errors: tuple[str, ...] = ()
    rules: tuple[RuleDescriptor, ...] = ()  # every rule that ran, with the severity and params it ran with


def fingerprint(rule_id: str, resource_id: str, key: str = "") -> str:
    """Stable across runs for the same rule and resource: ids are case-folded, nothing
    time-dependent goes in."""
    raw = "\x1f".join((rule_id, resource_id.lower(), key.lower()))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def evaluate(inv: Inventory, settings: Mapping[str, RuleSettings] | None = None,
             only: Iterable[str] | None = None) -> Evaluation:
    load_all()
    settings = settings or {}
    wanted = set(only) if only else None
    findings: list[Finding] = []
    passed: dict[str, int] = {}
    run: list[str] = []
    descriptors: list[RuleDescriptor] = []
    errors: list[str] = []
    for code in sorted(REGISTRY):
        if wanted is not None and code not in wanted:
            continue
        rule = REGISTRY[code]
        cfg = settings.get(code, RuleSettings())
        # A rule named in `only` runs unless the configuration turned it off; otherwise a rule that is
        # off by default (BCDR603) runs only when the configuration enables it.
        enabled = cfg.enabled if cfg.enabled is not None else (wanted is not None or rule.meta.enabled_by_default)
        if not enabled:
            continue
        params = {**rule.meta.defaults(), **dict(cfg.params)}
        run.append(code)
        descriptors.append(RuleDescriptor.from_meta(rule.meta, cfg.severity, params))
        try:
            results = list(rule(inv, params))
        except Exception as exc:  # a rule bug must not hide the other rules' findings
            log.debug("rule %s raised", code, exc_info=True)
            errors.append(f"{code}: {type(exc).__name__}: {exc}")
            for sub in inv.subscriptions:
                findings.append(_finding(rule, cfg, inv=inv, res=Result(
                    NOT_ASSESSED, f"/subscriptions/{sub}", "Microsoft.Resources/subscriptions", sub, "",
                    f"rule {code} could not be evaluated (internal error: {type(exc).__name__})",
                    {"reason": "internal error"})))
            continue
        seen: set[str] = set()
        for res in results:
            if res.status == PASS:
                passed[code] = passed.get(code, 0) + 1
                continue
            f = _finding(rule, cfg, res, inv)
            if f.fingerprint in seen:
                continue
            seen.add(f.fingerprint)
            findings.append(f)
    findings.sort(key=lambda f: (f.status != FAIL, -_rank(f.severity), f.rule_id, f.resource_id.lower()))
    return Evaluation(tuple(findings), passed, tuple(run), tuple(errors), tuple(descriptors))


def _rank(severity: str) -> int:
    from rules.base import SEVERITY_RANK
    return SEVERITY_RANK.get(severity, 0)


def _finding(rule: Rule, cfg: RuleSettings, res: Result, inv: Inventory) -> Finding:
    meta = rule.meta
    severity = cfg.severity or res.severity or meta.severity
    vms = res.affected_vms or affected_vms(inv, res.resource_type, res.resource_id)
    return Finding(
        rule_id=meta.code, rule_name=meta.slug, status=res.status, severity=severity,
        subscription_id=res.subscription_id, resource_id=res.resource_id, resource_type=res.resource_type,
        resource_group=res.resource_group, message=res.message, evidence=dict(res.evidence),
        predicted_errors=meta.predicts, remediation=meta.remediation, references=meta.references,
        fingerprint=fingerprint(meta.code, res.resource_id, res.key), affected_vms=vms,
    )
