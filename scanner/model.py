"""The typed report: what one scan found, as frozen dataclasses every output format reads.

`Report.to_dict()` is the JSON document published as JSON Schema in
`scanner/output/report.schema.json`; `Report.from_dict()` reads one back, including documents of
schema 1.0 (written before rules had their own section). A Report is valid by construction
(checked in `__post_init__`): every finding names a rule of `rules`, and statuses, severities and
coverage states are known words, so writers never second-guess what they are given.

Schema 2.0 moved rule metadata (slug, title, predicted errors, remediation, references, params)
off every finding into one top-level `rules[]` entry per rule that ran; a finding keeps its own
`severity` (a rule may choose another one for one resource, BCDR601 does) and refers to its rule by
`rule_id`. PASS results are counted in `summary`, not listed.

Schema 2.2 added `scan.shard` (K/N of a `--shard` run), `baseline` (what `--baseline` compared the scan with: the earlier report's scan
times and its resolved findings) and `baseline` on every finding (`new` or `unchanged`), both only
when the scan was compared with a baseline.

Schema 2.3 added status SUPPRESSED with `suppression` (rule, resource glob, reason, owner,
expiry) on the finding, `summary.suppressed`, and top-level `suppressions` (expired and unmatched
entries), the last only when a --suppressions file was given. Older reports load without them.

Schema 2.4 added `scan.scope`: how the subscriptions were chosen (`kind`: subscriptions named one by
one, every visible subscription, or the subscriptions under management groups) and the management
group ids given. Older reports load without it (the scope is unknown: `ScanInfo.scope` is "").

Schema 2.1 added `readiness` (three verdicts per VM, backup / restore / failover, derived from the
findings by scanner.readiness) and `affected_vms` on every finding (the VMs it concerns). Reports of
2.0 and 1.0 load with an empty readiness and no affected VMs.

Schema 2.2 added `passed` (rule code -> the resource ids it passed), so that a CI view can list a
pass as a test case (JUnit) and not only count it. Older reports load with no passed ids (their
counts stay in `summary`).
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from .inventory import FAILED, OK, PARTIAL, Coverage
from .quickinit import frozen_dataclass
from .readiness import OPERATIONS, VERDICTS, Verdict, VmReadiness
from .readiness import summary as readiness_summary
from .scope import SCOPE_KINDS
from .vocabulary import CATEGORIES, FAIL, NOT_ASSESSED, SEVERITIES, SEVERITY_RANK, SUPPRESSED

if TYPE_CHECKING:  # annotations only: the model loads the rule catalog only to read a 1.0 report
    from rules import RuleMeta

# Bump the minor version when keys are added, the major when a key changes meaning or goes away.
# The schema pins it with `const`, so a dashboard can tell which shape it is reading.
REPORT_SCHEMA_VERSION = "2.4"
READABLE_SCHEMA_VERSIONS = ("1.0", "2.0", "2.1", "2.2", "2.3", REPORT_SCHEMA_VERSION)
TOOL_NAME = "az-bcdr-scan"
FINDING_STATUSES = (FAIL, NOT_ASSESSED, SUPPRESSED)
COVERAGE_STATUSES = (OK, PARTIAL, FAILED)
NEW, UNCHANGED = "new", "unchanged"
BASELINE_STATES = (NEW, UNCHANGED)  # a finding's `baseline` when the scan was compared with one
_RULE_ID = re.compile("BCDR[0-9]{3}")

__all__ = ["BaselineComparison", "Coverage", "Finding", "ResolvedFinding", "Suppression", "SuppressionsReport",
           "Report", "ReportFormatError", "RuleDescriptor", "ScanInfo", "Summary",
           "VmReadiness", "REPORT_SCHEMA_VERSION", "TOOL_NAME"]


class ReportFormatError(ValueError):
    """A report document that cannot be read (not an object, a missing or mistyped key, an unknown
    word, a finding whose rule is not listed). The message names the offending path."""


# --------------------------------------------------------------------------- the parts
@dataclass(frozen=True)
class Suppression:
    """One entry of a --suppressions file (scanner.suppress), as the report records it."""
    rule: str  # rule code
    resource: str  # resource id glob (fnmatch, case-insensitive)
    reason: str
    expires: str  # YYYY-MM-DD
    owner: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "resource": self.resource, "reason": self.reason, "expires": self.expires,
                **({"owner": self.owner} if self.owner else {})}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "Suppression":
        d = _object(data, where)
        return cls(rule=_rule_id(d, "rule", where), resource=_str(d, "resource", where),
                   reason=_str(d, "reason", where), expires=_str(d, "expires", where),
                   owner=_str(d, "owner", where) if "owner" in d else "")


@dataclass(frozen=True)
class SuppressionsReport:
    """The entries of the --suppressions file that did not suppress: past their expiry, or matching
    no finding (schema 2.3)."""
    expired: tuple[Suppression, ...] = ()
    unmatched: tuple[Suppression, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"expired": [e.to_dict() for e in self.expired], "unmatched": [e.to_dict() for e in self.unmatched]}

    @classmethod
    def from_dict(cls, data: Any, where: str = "suppressions") -> "SuppressionsReport":
        d = _object(data, where)
        return cls(**{k: tuple(Suppression.from_dict(e, f"{where}/{k}/{i}")
                               for i, e in enumerate(_list(d.get(k), f"{where}/{k}"))) for k in ("expired", "unmatched")})


@dataclass(frozen=True)
class RuleDescriptor:
    """A rule as it ran in this scan: its catalog metadata, the severity it ran with (its default
    or the config's override) and its parameters after the config was applied."""
    id: str  # BCDR501
    slug: str  # rp-collection-limit-reached
    title: str
    severity: str
    category: str
    predicts: tuple[str, ...] = ()
    remediation: str = ""
    references: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @classmethod
    def from_meta(cls, meta: "RuleMeta", severity: str | None = None,
                  params: Mapping[str, Any] | None = None) -> "RuleDescriptor":
        return cls(id=meta.code, slug=meta.slug, title=meta.title, severity=severity or meta.severity,
                   category=meta.category, predicts=tuple(meta.predicts), remediation=meta.remediation,
                   references=tuple(meta.references),
                   params=dict(meta.defaults() if params is None else params))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "slug": self.slug, "title": self.title, "severity": self.severity,
                "category": self.category, "predicts": list(self.predicts), "remediation": self.remediation,
                "references": list(self.references), "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Any, where: str = "rule") -> "RuleDescriptor":
        d = _object(data, where)
        params = _object(d.get("params", {}), f"{where}/params")
        for name, value in params.items():
            if isinstance(value, (dict, list)) or value is None:
                raise ReportFormatError(f"{where}/params/{name}: expected a number, string or boolean")
        return cls(id=_rule_id(d, "id", where), slug=_str(d, "slug", where), title=_str(d, "title", where),
                   severity=_str(d, "severity", where), category=_str(d, "category", where),
                   predicts=_strs(d, "predicts", where), remediation=_str(d, "remediation", where),
                   references=_strs(d, "references", where), params=dict(params))


@frozen_dataclass(frozen=True, slots=True)
class Finding:
    """One FAIL, NOT_ASSESSED or SUPPRESSED (a FAIL a --suppressions entry accepted) result for one
    resource. Strings that came from Azure (ids, names, messages, evidence) are untrusted: writers
    escape them."""
    rule_id: str
    status: str  # FAIL | NOT_ASSESSED | SUPPRESSED
    severity: str
    subscription_id: str
    resource_id: str  # as Azure returned it (display casing)
    resource_type: str
    resource_group: str
    message: str
    evidence: Mapping[str, Any] = field(hash=False)  # JSON types only
    fingerprint: str  # stable across runs for the same rule and resource
    affected_vms: tuple[str, ...] = ()  # lower-cased ids of the VMs the finding concerns (schema 2.1)
    baseline: str = ""  # "new" | "unchanged" when compared with a --baseline, else "" (schema 2.2)
    suppression: Suppression | None = None  # the entry that suppressed it, when SUPPRESSED (schema 2.3)

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    @property
    def suppressed(self) -> bool:
        return self.status == SUPPRESSED

    @property
    def is_new(self) -> bool:
        return self.baseline == NEW

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "status": self.status, "severity": self.severity,
                "subscription_id": self.subscription_id, "resource_id": self.resource_id,
                "resource_type": self.resource_type, "resource_group": self.resource_group,
                "message": self.message, "evidence": dict(self.evidence), "fingerprint": self.fingerprint,
                "affected_vms": list(self.affected_vms), **({"baseline": self.baseline} if self.baseline else {}),
                **({"suppression": self.suppression.to_dict()} if self.suppression else {})}

    @classmethod
    def from_dict(cls, data: Any, where: str = "finding") -> "Finding":
        d = _object(data, where)
        resource_id = _str(d, "resource_id", where)
        if not resource_id:
            raise ReportFormatError(f"{where}/resource_id: empty")
        return cls(rule_id=_rule_id(d, "rule_id", where), status=_str(d, "status", where),
                   severity=_str(d, "severity", where), subscription_id=_str(d, "subscription_id", where),
                   resource_id=resource_id, resource_type=_str(d, "resource_type", where),
                   resource_group=_str(d, "resource_group", where), message=_str(d, "message", where),
                   evidence=dict(_object(d.get("evidence"), f"{where}/evidence")),
                   fingerprint=_str(d, "fingerprint", where),
                   affected_vms=_strs(d, "affected_vms", where) if "affected_vms" in d else (),
                   baseline=_str(d, "baseline", where) if "baseline" in d else "",
                   suppression=Suppression.from_dict(d["suppression"], f"{where}/suppression")
                   if d.get("suppression") is not None else None)


@dataclass(frozen=True)
class ScanInfo:
    started_at: str
    finished_at: str
    subscriptions: tuple[str, ...]
    arm_requests: int  # the cost the throttling budget is measured against
    shard: str = ""  # "K/N" for a --shard run (schema 2.2), else ""
    # How the subscriptions were chosen (schema 2.4): one of SCOPE_KINDS (Inventory.scope), or ""
    # when unknown (a report of an older schema, shards of different scopes merged).
    scope: str = ""
    management_groups: tuple[str, ...] = ()  # the --management-group ids given (schema 2.4)

    def scope_dict(self) -> dict[str, Any] | None:
        """`scan.scope` of the JSON document; None when the scope is unknown."""
        if not self.scope:
            return None
        return {"kind": self.scope, "management_groups": list(self.management_groups)}

    def to_dict(self) -> dict[str, Any]:
        scope = self.scope_dict()
        return {"started_at": self.started_at, "finished_at": self.finished_at,
                "subscriptions": list(self.subscriptions), "arm_requests": self.arm_requests,
                **({"shard": self.shard} if self.shard else {}), **({"scope": scope} if scope else {})}

    @classmethod
    def from_dict(cls, data: Any, where: str = "scan") -> "ScanInfo":
        d = _object(data, where)
        scope = _object(d["scope"], f"{where}/scope") if "scope" in d else None
        return cls(started_at=_str(d, "started_at", where), finished_at=_str(d, "finished_at", where),
                   subscriptions=_strs(d, "subscriptions", where), arm_requests=_count(d, "arm_requests", where),
                   shard=_str(d, "shard", where) if "shard" in d else "",
                   scope=_str(scope, "kind", f"{where}/scope") if scope is not None else "",
                   management_groups=_strs(scope, "management_groups", f"{where}/scope") if scope is not None else ())


@dataclass(frozen=True)
class ResolvedFinding:
    """A finding of the baseline report that this scan no longer has."""
    rule_id: str
    status: str
    severity: str
    resource_id: str
    message: str
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "ResolvedFinding":
        d = _object(data, where)
        return cls(rule_id=_rule_id(d, "rule_id", where), **{k: _str(d, k, where) for k in (
            "status", "severity", "resource_id", "message", "fingerprint")})


@dataclass(frozen=True)
class BaselineComparison:
    """What `--baseline` compared the scan with (scanner.baseline)."""
    started_at: str  # the baseline report's scan
    finished_at: str
    tool_version: str
    resolved: tuple[ResolvedFinding, ...] = ()

    def to_dict(self, findings: tuple["Finding", ...]) -> dict[str, Any]:
        return {"started_at": self.started_at, "finished_at": self.finished_at, "tool_version": self.tool_version,
                "new": sum(1 for f in findings if f.baseline == NEW),
                "unchanged": sum(1 for f in findings if f.baseline == UNCHANGED),
                "resolved": [r.to_dict() for r in self.resolved]}

    @classmethod
    def from_dict(cls, data: Any, where: str = "baseline") -> "BaselineComparison":
        d = _object(data, where)
        return cls(started_at=_str(d, "started_at", where), finished_at=_str(d, "finished_at", where),
                   tool_version=_str(d, "tool_version", where),
                   resolved=tuple(ResolvedFinding.from_dict(r, f"{where}/resolved/{i}")
                                  for i, r in enumerate(_list(d.get("resolved"), f"{where}/resolved"))))


def coverage_to_dict(c: Coverage) -> dict[str, Any]:
    return {"subscription_id": c.subscription_id, "collector": c.collector, "status": c.status,
            "error_code": c.error_code, "message": c.message, "failed_scopes": list(c.failed_scopes),
            "items": c.items}


def coverage_from_dict(data: Any, where: str = "coverage") -> Coverage:
    d = _object(data, where)
    return Coverage(subscription_id=_str(d, "subscription_id", where), collector=_str(d, "collector", where),
                    status=_str(d, "status", where), error_code=_str(d, "error_code", where),
                    message=_str(d, "message", where), failed_scopes=_strs(d, "failed_scopes", where),
                    items=_count(d, "items", where) if "items" in d else 0)


@dataclass(frozen=True)
class Summary:
    """Counts derived from the report (never stored separately, so they cannot disagree with it).
    Every rule that ran has a key in the per-rule maps, zero included: a dashboard can tell "ran,
    found nothing" (0) from "did not run" (absent)."""
    failed: int
    not_assessed: int
    passed: int
    suppressed: int
    failed_by_severity: Mapping[str, int]
    failed_by_rule: Mapping[str, int]
    not_assessed_by_rule: Mapping[str, int]
    passed_by_rule: Mapping[str, int]
    resources_by_type: Mapping[str, int]
    rules_run: tuple[str, ...]
    rule_errors: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"failed": self.failed, "not_assessed": self.not_assessed, "passed": self.passed,
                "suppressed": self.suppressed,
                "failed_by_severity": dict(self.failed_by_severity), "failed_by_rule": dict(self.failed_by_rule),
                "not_assessed_by_rule": dict(self.not_assessed_by_rule),
                "passed_by_rule": dict(self.passed_by_rule), "resources_by_type": dict(self.resources_by_type),
                "rules_run": list(self.rules_run), "rule_errors": list(self.rule_errors)}


def readiness_to_dict(r: VmReadiness) -> dict[str, Any]:
    return {"vm_id": r.vm_id, "name": r.name, "subscription_id": r.subscription_id, "resource_group": r.resource_group,
            **{op: {"verdict": getattr(r, op).verdict, "rules": list(getattr(r, op).rules)} for op in OPERATIONS}}


def readiness_from_dict(data: Any, where: str) -> VmReadiness:
    d = _object(data, where)
    verdicts = {}
    for op in OPERATIONS:
        v = _object(d.get(op), f"{where}/{op}")
        rules = _strs(v, "rules", f"{where}/{op}")
        for code in rules:
            if not _RULE_ID.fullmatch(code):
                raise ReportFormatError(f"{where}/{op}/rules: {code[:20]!r} is not a rule id")
        verdicts[op] = Verdict(_str(v, "verdict", f"{where}/{op}"), rules)
    return VmReadiness(vm_id=_str(d, "vm_id", where), name=_str(d, "name", where),
                       subscription_id=_str(d, "subscription_id", where),
                       resource_group=_str(d, "resource_group", where), **verdicts)


# --------------------------------------------------------------------------- the report
@dataclass(frozen=True)
class Report:
    tool_version: str
    scan: ScanInfo
    rules: tuple[RuleDescriptor, ...]  # every rule that ran, in the order it ran
    coverage: tuple[Coverage, ...]  # one record per subscription x collector
    findings: tuple[Finding, ...]  # FAIL and NOT_ASSESSED, most severe first
    passed_by_rule: Mapping[str, int] = field(default_factory=dict, hash=False)
    resources_by_type: Mapping[str, int] = field(default_factory=dict, hash=False)  # Inventory items by kind
    rule_errors: tuple[str, ...] = ()  # rules that raised; their subscriptions got NOT_ASSESSED findings
    readiness: tuple[VmReadiness, ...] = ()  # one entry per VM of the inventory (schema 2.1)
    # rule code -> resource ids it passed (schema 2.2); the counts are passed_by_rule
    passed_resources: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    baseline: BaselineComparison | None = None  # set when compared with --baseline (schema 2.2)
    suppressions: SuppressionsReport | None = None  # set when a --suppressions file was given (schema 2.3)

    def __post_init__(self) -> None:
        # What every writer relies on: known words (they become CSS classes, SARIF levels, table
        # groups) and a rules[] entry for every finding.
        known = {r.id for r in self.rules}
        if len(known) != len(self.rules):
            raise ReportFormatError("rules: a rule id is listed twice")
        for i, r in enumerate(self.rules):
            _check_word(r.severity, SEVERITIES, f"rules/{i}/severity")
        for i, f in enumerate(self.findings):
            if f.rule_id not in known:
                raise ReportFormatError(f"findings/{i}/rule_id: {f.rule_id} is not in rules")
            _check_word(f.status, FINDING_STATUSES, f"findings/{i}/status")
            _check_word(f.severity, SEVERITIES, f"findings/{i}/severity")
            if f.baseline:
                _check_word(f.baseline, BASELINE_STATES, f"findings/{i}/baseline")
            if (f.status == SUPPRESSED) != (f.suppression is not None):
                raise ReportFormatError(f"findings/{i}/suppression: present exactly when the status is SUPPRESSED")
        for i, c in enumerate(self.coverage):
            _check_word(c.status, COVERAGE_STATUSES, f"coverage/{i}/status")
        if self.scan.scope:
            _check_word(self.scan.scope, SCOPE_KINDS, "scan/scope/kind")
        for code in self.passed_by_rule:
            if code not in known:
                raise ReportFormatError(f"summary/passed_by_rule: {code} is not in rules")
        for code in self.passed_resources:
            if code not in known:
                raise ReportFormatError(f"passed: {code} is not in rules")
        for i, vm in enumerate(self.readiness):  # verdict words become CSS classes and table styles
            for op in OPERATIONS:
                _check_word(getattr(vm, op).verdict, VERDICTS, f"readiness/vms/{i}/{op}/verdict")

    # ---- reading
    @cached_property
    def rules_by_id(self) -> Mapping[str, RuleDescriptor]:
        return {r.id: r for r in self.rules}

    def rule(self, rule_id: str) -> RuleDescriptor:
        """The rule a finding refers to (always there: the report is checked on construction)."""
        return self.rules_by_id[rule_id]

    @property
    def complete(self) -> bool:
        """Every collector read everything it was asked to."""
        return all(c.status == OK for c in self.coverage)

    @property
    def coverage_gaps(self) -> tuple[Coverage, ...]:
        return tuple(c for c in self.coverage if c.status != OK)

    def failed_at_or_above(self, severity: str) -> int:
        """FAIL findings at `severity` or worse: what `--fail-on` compares against."""
        if severity not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}")
        floor = SEVERITY_RANK[severity]
        return sum(1 for f in self.findings if f.failed and SEVERITY_RANK[f.severity] >= floor)

    def new_failed_at_or_above(self, severity: str) -> int:
        """New FAIL findings (not in the --baseline) at `severity` or worse: what `--fail-on-new`
        compares against."""
        self.failed_at_or_above(severity)  # the same check of the word
        floor = SEVERITY_RANK[severity]
        return sum(1 for f in self.findings if f.failed and f.is_new and SEVERITY_RANK[f.severity] >= floor)

    @cached_property
    def summary(self) -> Summary:
        codes = [r.id for r in self.rules]
        failed_by_rule = dict.fromkeys(codes, 0)
        not_assessed_by_rule = dict.fromkeys(codes, 0)
        failed_by_severity = dict.fromkeys(SEVERITIES, 0)
        suppressed = 0
        for f in self.findings:
            if f.failed:
                failed_by_rule[f.rule_id] += 1
                failed_by_severity[f.severity] += 1
            elif f.suppressed:  # accepted risks: counted apart, never as failed
                suppressed += 1
            else:
                not_assessed_by_rule[f.rule_id] += 1
        passed_by_rule = {code: int(self.passed_by_rule.get(code, 0)) for code in codes}
        return Summary(failed=sum(failed_by_rule.values()), not_assessed=sum(not_assessed_by_rule.values()),
                       passed=sum(passed_by_rule.values()), suppressed=suppressed, failed_by_severity=failed_by_severity,
                       failed_by_rule=failed_by_rule, not_assessed_by_rule=not_assessed_by_rule,
                       passed_by_rule=passed_by_rule, resources_by_type=dict(self.resources_by_type),
                       rules_run=tuple(codes), rule_errors=self.rule_errors)

    # ---- the JSON document
    def to_dict(self) -> dict[str, Any]:
        """The report as JSON types only, in the shape of report.schema.json."""
        return _made(self.document())

    def document(self) -> dict[str, Any]:
        """`to_dict()` with its two long lists (readiness VMs, findings: one entry per VM or
        finding, tens of MiB at 10,000 VMs) left as `Items`, made one entry at a time by whoever
        walks them: the JSON writer streams them without the whole document in memory."""
        out = {
            "schema_version": REPORT_SCHEMA_VERSION,
            "tool": {"name": TOOL_NAME, "version": self.tool_version},
            "scan": self.scan.to_dict(),
            "rules": [r.to_dict() for r in self.rules],
            "coverage": [coverage_to_dict(c) for c in self.coverage],
            "summary": self.summary.to_dict(),
            "readiness": {"summary": readiness_summary(self.readiness),
                          "vms": Items(lambda: (readiness_to_dict(r) for r in self.readiness))},
            "findings": Items(lambda: (f.to_dict() for f in self.findings)),
            "passed": {code: list(ids) for code, ids in self.passed_resources.items()},
        }
        if self.baseline is not None:
            out["baseline"] = self.baseline.to_dict(self.findings)
        if self.suppressions is not None:
            out["suppressions"] = self.suppressions.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "Report":
        """Read a report document of schema 2.0 or 1.0. Checks structure and words (enough for
        every writer to rely on them), not every pattern of the schema: `validate_report` in
        scanner.report does that."""
        d = _object(data, "(root)")
        version = d.get("schema_version")
        if version not in READABLE_SCHEMA_VERSIONS:
            raise ReportFormatError(f"schema_version {str(version)[:20]!r} is not one of "
                                    f"{', '.join(READABLE_SCHEMA_VERSIONS)}")
        tool = _object(d.get("tool"), "tool")
        summary = _object(d.get("summary"), "summary")
        findings_in = _list(d.get("findings"), "findings")
        if version == "1.0":
            rules = _rules_of_v1(summary, findings_in)
        else:
            rules = tuple(RuleDescriptor.from_dict(r, f"rules/{i}") for i, r in enumerate(_list(d.get("rules"), "rules")))
        return cls(
            tool_version=_str(tool, "version", "tool"),
            scan=ScanInfo.from_dict(d.get("scan")),
            rules=rules,
            coverage=tuple(coverage_from_dict(c, f"coverage/{i}") for i, c in enumerate(_list(d.get("coverage"), "coverage"))),
            findings=tuple(Finding.from_dict(x, f"findings/{i}") for i, x in enumerate(findings_in)),
            passed_by_rule=_counts(summary, "passed_by_rule", "summary"),
            resources_by_type=_counts(summary, "resources_by_type", "summary"),
            rule_errors=_strs(summary, "rule_errors", "summary"),
            readiness=tuple(readiness_from_dict(r, f"readiness/vms/{i}") for i, r in enumerate(
                _list(_object(d.get("readiness", {"vms": []}), "readiness").get("vms"), "readiness/vms"))),
            passed_resources=_passed(d),
            baseline=BaselineComparison.from_dict(d["baseline"]) if d.get("baseline") is not None else None,
            suppressions=SuppressionsReport.from_dict(d["suppressions"]) if d.get("suppressions") is not None else None,
        )

    @classmethod
    def from_json(cls, text: str) -> "Report":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReportFormatError(f"not valid JSON: {exc}") from None
        return cls.from_dict(data)


@dataclass(frozen=True)
class Items:
    """A list of the report document (Report.document) whose entries are made on demand, each a
    JSON value of its own."""
    make: Callable[[], Iterator[Any]]

    def __iter__(self) -> Iterator[Any]:
        return self.make()


def _made(value: Any) -> Any:
    """A document part with every `Items` in it made into a list."""
    if isinstance(value, Items):
        return list(value)
    if isinstance(value, dict):
        return {k: _made(v) for k, v in value.items()}
    return value


def _passed(d: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The passed resource ids by rule (schema 2.2; absent before, read as none)."""
    passed = _object(d.get("passed", {}), "passed")
    for code in passed:
        _rule_id({"id": code}, "id", "passed")
    return {code: _strs(passed, code, "passed") for code in passed}


# --------------------------------------------------------------------------- schema 1.0
def _rules_of_v1(summary: Mapping[str, Any], findings: list[Any]) -> tuple[RuleDescriptor, ...]:
    """Schema 1.0 copied a rule's slug, predicted errors, remediation and references onto each of
    its findings and listed only the codes of the rules that ran. The descriptors are rebuilt from
    the current catalog (title, category, default severity) overlaid with what the old report said
    about each rule; params are left empty because 1.0 did not record them. A code the catalog no
    longer knows keeps what its findings say (severity: its first finding's, or info without
    findings), with an empty title."""
    from rules import load_all
    catalog = load_all()
    first: dict[str, tuple[str, Mapping[str, Any]]] = {}  # code -> (path, its first finding)
    for i, raw in enumerate(findings):
        f = _object(raw, f"findings/{i}")
        first.setdefault(_rule_id(f, "rule_id", f"findings/{i}"), (f"findings/{i}", f))
    codes = [_rule_id({"id": c}, "id", "summary/rules_run") for c in _strs(summary, "rules_run", "summary")]
    codes += sorted(set(first) - set(codes))
    out = []
    for code in codes:
        known = catalog.get(code)
        rule = RuleDescriptor.from_meta(known.meta, params={}) if known else RuleDescriptor(
            id=code, slug="", title="", severity="info", category=CATEGORIES.get(code[4], ""))
        if code in first:
            where, old = first[code]
            rule = dataclasses.replace(
                rule, slug=_str(old, "rule_name", where), predicts=_strs(old, "predicted_errors", where),
                remediation=_str(old, "remediation", where), references=_strs(old, "references", where),
                severity=rule.severity if known else _str(old, "severity", where))
        out.append(rule)
    return tuple(out)


# --------------------------------------------------------------------------- readers
def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ReportFormatError(f"{where}: expected an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ReportFormatError(f"{where}: expected a list")
    return value


def _str(d: Mapping[str, Any], key: str, where: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise ReportFormatError(f"{where}/{key}: expected a string")
    return value


def _strs(d: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = _list(d.get(key), f"{where}/{key}")
    if not all(isinstance(v, str) for v in values):
        raise ReportFormatError(f"{where}/{key}: expected a list of strings")
    return tuple(values)


def _count(d: Mapping[str, Any], key: str, where: str) -> int:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReportFormatError(f"{where}/{key}: expected a non-negative integer")
    return value


def _counts(d: Mapping[str, Any], key: str, where: str) -> dict[str, int]:
    values = _object(d.get(key), f"{where}/{key}")
    return {str(k): _count(values, k, f"{where}/{key}") for k in values}


def _check_word(value: str, allowed: tuple[str, ...], where: str) -> None:
    if value not in allowed:
        raise ReportFormatError(f"{where}: {str(value)[:40]!r} is not one of {', '.join(allowed)}")


def _rule_id(d: Mapping[str, Any], key: str, where: str) -> str:
    value = _str(d, key, where)
    if not _RULE_ID.fullmatch(value):
        raise ReportFormatError(f"{where}/{key}: {value[:40]!r} is not a rule id (BCDR and three digits)")
    return value
