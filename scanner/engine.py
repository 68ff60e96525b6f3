"""Run the rules over an Inventory and attach their metadata to what they yield.

The engine owns coverage: a rule declares the collectors it reads (`needs=`, `selects=`), and the
engine says NOT_ASSESSED where one of them could not be read, hands the rule an inventory without
the resources it cannot judge, and refuses any PASS the rule still yields for a resource there
(see `Gate`). A rule body never checks coverage of its declared inputs itself.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping

from rules import REGISTRY, Rule, load_all
from rules._common import forget as forget_memos

from . import inventory as m
from .inventory import Inventory
from .malloc import gc_paused
from .model import RuleDescriptor
from .quickinit import frozen_dataclass
from .readiness import affected_vms
from .readiness import forget as forget_lookups
from .timeutil import forget as forget_times
from .vocabulary import FAIL, NOT_ASSESSED, PASS, SEVERITY_RANK, Result, not_assessed, not_assessed_subscription, own_passes, shared_passes

log = logging.getLogger(__name__)


@frozen_dataclass(frozen=True, slots=True)
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
    # rule code -> the resources it passed, in the order it judged them (JUnit lists passes as test cases)
    passed_resources: dict[str, tuple[str, ...]] = field(default_factory=dict)


def fingerprint(rule_id: str, resource_id: str, key: str = "") -> str:
    """Stable across runs for the same rule and resource: ids are case-folded, nothing
    time-dependent goes in."""
    raw = "\x1f".join((rule_id, resource_id.lower(), key.lower()))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def evaluate(inv: Inventory, settings: Mapping[str, RuleSettings] | None = None,
             only: Iterable[str] | None = None) -> Evaluation:
    with gc_paused():
        try:
            return _evaluate(inv, settings, only)
        finally:
            forget(inv)


def forget(inv: Inventory) -> None:
    """Drop everything the evaluation derived from `inv`: the rules' memos (rules._common, this
    thread's: they hold `inv` or a view of it), the affected-VMs lookups (scanner.readiness), the
    Inventory's own indexes (its cached_property maps, rebuilt on next use) and the parsed times
    (scanner.timeutil). At 10,000 VMs they are about 20 MiB, held until now only because the last
    evaluated inventory stayed in the one-slot memos; the report is built after this, in the memory
    they leave."""
    forget_memos()
    forget_lookups(inv)
    forget_times()
    for name in _INDEXES:
        inv.__dict__.pop(name, None)


def _evaluate(inv: Inventory, settings: Mapping[str, RuleSettings] | None, only: Iterable[str] | None) -> Evaluation:
    load_all()
    settings = settings or {}
    wanted = set(only) if only else None
    findings: list[Finding] = []
    passed: dict[str, int] = {}
    passed_ids: dict[str, tuple[str, ...]] = {}
    run: list[str] = []
    descriptors: list[RuleDescriptor] = []
    errors: list[str] = []
    with shared_passes():  # one PASS Result per resource, whichever rule says it
        for code in sorted(REGISTRY):
            if wanted is not None and code not in wanted:
                continue
            rule = REGISTRY[code]
            cfg = settings.get(code, RuleSettings())
            # A rule named in `only` runs unless the configuration turned it off; otherwise a rule that
            # is off by default (BCDR603) runs only when the configuration enables it.
            enabled = cfg.enabled if cfg.enabled is not None else (wanted is not None or rule.meta.enabled_by_default)
            if not enabled:
                continue
            params = {**rule.meta.defaults(), **dict(cfg.params)}
            run.append(code)
            descriptors.append(RuleDescriptor.from_meta(rule.meta, cfg.severity, params))
            try:
                results, refused = run_rule(rule, inv, params)
            except Exception as exc:  # a rule bug must not hide the other rules' findings
                log.debug("rule %s raised", code, exc_info=True)
                errors.append(f"{code}: {type(exc).__name__}: {exc}")
                for sub in inv.subscriptions:
                    findings.append(_finding(rule, cfg, inv=inv, res=Result(
                        NOT_ASSESSED, f"/subscriptions/{sub}", "Microsoft.Resources/subscriptions", sub, "",
                        f"rule {code} could not be evaluated (internal error: {type(exc).__name__})",
                        {"reason": "internal error"})))
                continue
            errors.extend(refused)
            seen: set[str] = set()
            mine: list[str] = []
            for res in results:
                if res.status == PASS:
                    mine.append(res.resource_id)
                    continue
                f = _finding(rule, cfg, res, inv)
                if f.fingerprint in seen:
                    continue
                seen.add(f.fingerprint)
                findings.append(f)
            del results
            if mine:
                passed[code] = len(mine)
                passed_ids[code] = tuple(mine)
    findings.sort(key=lambda f: (f.status != FAIL, -_rank(f.severity), f.rule_id, f.resource_id.lower()))
    return Evaluation(tuple(findings), passed, tuple(run), tuple(errors), tuple(descriptors), passed_ids)


def _rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, 0)


# --------------------------------------------------------------------------- the coverage gate
@dataclass(frozen=True)
class Gate:
    """What one rule cannot judge in one inventory, from the coverage of the collectors it declares.

    - `blind`: subscription -> reason, where a needed collector failed (or was not collected).
    - `scopes`: normalised id -> {collector: reason}, for the scopes (vaults, VMs, items) a needed
      collector names as unreadable while the rest of the subscription was read.
    - `notes`: subscription -> reason for the one NOT_ASSESSED the engine says for it: the blind
      subscriptions, and those where a `selects` collector failed or is partial.
    - `unread`: the resources the engine itself says NOT_ASSESSED for and leaves out of the rule's
      view: a vault a needed collector could not read (its list of items, or its own GET), an item
      of a needed list named as unreadable. Other scopes (a VM whose instance view failed) stay in
      the view: the rule says why it cannot judge them, and may not PASS them.
    """
    blind: dict[str, str]
    scopes: dict[str, dict[str, str]]
    notes: dict[str, str]
    unread: dict[str, Any]
    unread_jobs: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)  # `unread`, split_last

    @classmethod
    def of(cls, rule: Rule, inv: Inventory) -> "Gate":
        blind: dict[str, str] = {}
        notes: dict[str, str] = {}
        scopes: dict[str, dict[str, str]] = {}
        for sub in inv.subscriptions:
            key = sub.lower()
            reasons = []
            for collector in rule.meta.needs:
                cov = inv.coverage_index.get((key, collector))
                if cov is None or cov.status == m.FAILED:
                    reasons.append(inv.gap(collector, sub) or f"{collector} missing")
                elif cov.status == m.PARTIAL:
                    for scope in cov.failed_scopes:
                        scopes.setdefault(scope, {})[collector] = f"{collector} partial: {cov.error_code or 'error'}"
            if reasons:
                blind[key] = "; ".join(reasons)
            for collector in rule.meta.selects:
                reason = _incomplete(inv, collector, sub)
                if reason:
                    reasons.append(reason)
            if reasons:
                notes[sub] = "; ".join(reasons)
        unread: dict[str, Any] = {}
        if scopes:
            # A scope that is no vault may be an item of a list the rule needs; backup jobs derive their
            # ids (m.BackupJob), so items are matched by id_parts: no id is built per job.
            wanted = {parts: scope for scope in scopes if scope not in inv.vault_by_id
                      for parts in (("", scope), m.split_last(scope))}
            own = {wanted[parts]: x for c in ({c for r in scopes.values() for c in r} & set(_COLLECTIONS) if wanted else ())
                   for x in getattr(inv, c) if (parts := m.id_parts(x)) in wanted}
            for scope in sorted(scopes):
                resource = inv.vault_by_id.get(scope) or own.get(scope)
                if resource is not None and resource.subscription_id.lower() not in blind:
                    unread[scope] = resource
        split: dict[str, set[str]] = {}
        for scope in unread:
            where, rest = m.split_last(scope)
            split.setdefault(where, set()).add(rest)
        return cls(blind, scopes, notes, unread, {where: frozenset(rests) for where, rests in split.items()})

    def reason(self, scope: str) -> str:
        return "; ".join(self.scopes[scope].values())

    def opening(self) -> list[Result]:
        """The NOT_ASSESSED results the engine says before the rule runs."""
        return ([not_assessed_subscription(sub, reason) for sub, reason in self.notes.items()]
                + [not_assessed(resource, self.reason(scope)) for scope, resource in self.unread.items()])

    def hides(self, collection: str, item: Any) -> bool:
        """Whether `item` of the inventory field `collection` is left out of what the rule sees: every
        resource of a blind subscription, what the engine speaks for (`unread`), and the items a
        partial list read from a failed vault (that list's own items only: a vault's jobs failing
        does not hide the vault's backup items)."""
        if str(getattr(item, "subscription_id", "")).lower() in self.blind:
            return True
        if self.unread:
            if type(item) is m.BackupJob:  # it derives its id: matched by its parts, the shared one first
                rests = self.unread_jobs.get(item.id_where)
                if rests is not None and item.id_parts[1] in rests:
                    return True
            elif getattr(item, "id", "") in self.unread:
                return True
        vault = getattr(item, "vault_id", "")
        return bool(vault) and collection in self.scopes.get(vault, ())

    def refusal(self, res: Result) -> str | None:
        """Why a PASS for this resource cannot stand, or None."""
        reason = self.blind.get(res.subscription_id.lower())
        if reason:
            return reason
        return next((self.reason(s) for s in res.scopes if s in self.scopes), None)


def _incomplete(inv: Inventory, collector: str, subscription_id: str) -> str | None:
    """Why `collector` is not complete for the subscription (failed, partial, missing), else None."""
    cov = inv.coverage_index.get((subscription_id.lower(), collector))
    if cov is None or cov.status == m.FAILED:
        return inv.gap(collector, subscription_id) or f"{collector} missing"
    if cov.status == m.PARTIAL:
        return f"{collector} partial: {cov.error_code or 'error'}"
    return None


_INDEXES = tuple(name for name, attr in vars(Inventory).items() if isinstance(attr, cached_property))
_COLLECTIONS = m.RESOURCE_COLLECTIONS


def view(inv: Inventory, gate: Gate) -> Inventory:
    """The inventory a rule sees: without the resources `gate` hides from the top-level lists the
    rule iterates. Lookups (vm_by_id, backup_items_for, locks_applying_to, ...) still see
    everything read, so joins across subscriptions work as before."""
    if not (gate.blind or gate.scopes):
        return inv
    changes: dict[str, Any] = {name: tuple(x for x in getattr(inv, name) if not gate.hides(name, x))
                               for name in _COLLECTIONS}
    out = dataclasses.replace(inv, **changes)
    for name in _INDEXES:  # share the full indexes (cached_property stores them in __dict__)
        out.__dict__[name] = getattr(inv, name)
    return out


def run_rule(rule: Rule, inv: Inventory, params: Mapping[str, Any]) -> tuple[list[Result], list[str]]:
    """Every result of one rule (PASS included) after the gate, and one error line for each PASS the
    gate refused (a rule that judged what it was not given: a bug, reported like one)."""
    gate = Gate.of(rule, inv)
    code = rule.meta.code
    results = gate.opening()
    if not (results or gate.blind or gate.scopes):  # everything read: nothing to refuse (the usual case)
        results.extend(rule(inv, params))
        return results, []
    said = {r.resource_id.lower() for r in results}
    refused: list[str] = []
    with own_passes():  # a refused PASS becomes a finding: its key goes into the fingerprint
        judged = list(rule(view(inv, gate), params))
    for res in judged:
        if res.status == PASS and res.resource_id.lower() in said:
            continue  # a PASS for the very resource the engine said NOT_ASSESSED for (a subscription)
        reason = gate.refusal(res) if res.status == PASS else None
        if reason:
            log.debug("rule %s passed %s in a blind scope (%s): turned into NOT_ASSESSED", code, res.resource_id, reason)
            refused.append(f"{code}: PASS for {res.resource_id} refused, its input was not read ({reason})")
            res = dataclasses.replace(res, status=NOT_ASSESSED, message=reason, evidence={"reason": reason})
        results.append(res)
    return results, refused


def _finding(rule: Rule, cfg: RuleSettings, res: Result, inv: Inventory) -> Finding:
    meta = rule.meta
    severity = cfg.severity or res.severity or meta.severity
    vms = res.affected_vms or affected_vms(inv, res.resource_type, res.resource_id)
    # Positional, in the fields' order (rule_id, rule_name, status, severity, subscription_id,
    # resource_id, resource_type, resource_group, message, evidence, predicted_errors, remediation,
    # references, fingerprint, affected_vms): fifteen keywords cost ~0.4 us per finding.
    return Finding(meta.code, meta.slug, res.status, severity, res.subscription_id, res.resource_id,
                   res.resource_type, res.resource_group, res.message, dict(res.evidence), meta.predicts,
                   meta.remediation, meta.references, fingerprint(meta.code, res.resource_id, res.key), vms)
