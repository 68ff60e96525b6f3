"""The report: the one model every output format writes, and what dashboards and CI read.

`build_report` turns an engine Evaluation plus the Inventory it ran over into a plain dict (JSON
types only) whose shape is published as JSON Schema in `scanner/output/report.schema.json`.
Writers never see the Evaluation or the Inventory: a report loaded back from a JSON file renders
exactly like a fresh one.

PASS results are counted in `summary`, not listed; findings are FAIL and NOT_ASSESSED only.
"""
from __future__ import annotations

import dataclasses
import json
import math
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping

from rules.base import FAIL, NOT_ASSESSED, SEVERITIES, SEVERITY_RANK

if TYPE_CHECKING:  # only for annotations: the report module must not pull the engine in at import
    from .engine import Evaluation, Finding
    from .inventory import Inventory

# Bump the minor version when keys are added, the major when a key changes meaning or goes away.
# The schema pins it with `const`, so a dashboard can tell which shape it is reading.
REPORT_SCHEMA_VERSION = "1.0"
TOOL_NAME = "az-bcdr-scan"
SCHEMA_RESOURCE = "report.schema.json"

# Inventory fields that are not resource collections (everything else that is a tuple is one).
_NOT_RESOURCES = frozenset({"subscriptions", "coverage"})

Report = dict[str, Any]


class ReportValidationError(ValueError):
    """The report does not match report.schema.json."""


# --------------------------------------------------------------------------- building
def build_report(evaluation: "Evaluation", inventory: "Inventory", started_at: str, finished_at: str,
                 arm_requests: int, tool_version: str) -> Report:
    """The report for one scan (or one offline re-evaluation of a saved inventory)."""
    findings = [_finding(f) for f in evaluation.findings]
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": str(tool_version)},
        "scan": {
            "started_at": started_at,
            "finished_at": finished_at,
            "subscriptions": list(inventory.subscriptions),
            "arm_requests": int(arm_requests),
        },
        "coverage": [
            {"subscription_id": c.subscription_id, "collector": c.collector, "status": c.status,
             "error_code": c.error_code, "message": c.message, "failed_scopes": list(c.failed_scopes)}
            for c in inventory.coverage
        ],
        "summary": _summary(evaluation, inventory, findings),
        "findings": findings,
    }


def _finding(f: "Finding") -> dict[str, Any]:
    return {
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "status": f.status,
        "severity": f.severity,
        "subscription_id": f.subscription_id,
        "resource_id": f.resource_id,
        "resource_type": f.resource_type,
        "resource_group": f.resource_group,
        "message": f.message,
        "evidence": _plain(dict(f.evidence)),
        "predicted_errors": list(f.predicted_errors),
        "remediation": f.remediation,
        "references": list(f.references),
        "fingerprint": f.fingerprint,
    }


def _summary(evaluation: "Evaluation", inventory: "Inventory", findings: list[dict[str, Any]]) -> dict[str, Any]:
    # Every rule that ran gets a key in the per-rule maps, zero included: a dashboard can tell
    # "ran, found nothing" (0) from "did not run" (absent).
    codes = sorted(set(evaluation.rules_run) | {f["rule_id"] for f in findings} | set(evaluation.passed))
    failed_by_rule = dict.fromkeys(codes, 0)
    not_assessed_by_rule = dict.fromkeys(codes, 0)
    failed_by_severity = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        if f["status"] == FAIL:
            failed_by_rule[f["rule_id"]] += 1
            failed_by_severity[f["severity"]] = failed_by_severity.get(f["severity"], 0) + 1
        elif f["status"] == NOT_ASSESSED:
            not_assessed_by_rule[f["rule_id"]] += 1
    passed_by_rule = {code: int(evaluation.passed.get(code, 0)) for code in codes}
    return {
        "failed": sum(failed_by_rule.values()),
        "not_assessed": sum(not_assessed_by_rule.values()),
        "passed": sum(passed_by_rule.values()),
        "failed_by_severity": failed_by_severity,
        "failed_by_rule": failed_by_rule,
        "not_assessed_by_rule": not_assessed_by_rule,
        "passed_by_rule": passed_by_rule,
        "resources_by_type": resources_by_type(inventory),
        "rules_run": list(evaluation.rules_run),
        "rule_errors": list(evaluation.rule_errors),
    }


def resources_by_type(inventory: "Inventory") -> dict[str, int]:
    """How many items of each kind the Inventory holds (virtual_machines, disks, vaults, ...).
    Read from the dataclass fields so a collection added to the Inventory later is counted too."""
    out: dict[str, int] = {}
    for field in dataclasses.fields(inventory):
        if field.name in _NOT_RESOURCES:
            continue
        value = getattr(inventory, field.name)
        if isinstance(value, tuple):
            out[field.name] = len(value)
    return out


def _plain(value: Any) -> Any:
    """Evidence as JSON types only. Rules put tuples, sets and the odd model object in evidence;
    the report must serialise the same way whichever writer reads it. NaN and infinities are not
    JSON (most parsers reject them), so they become strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


# --------------------------------------------------------------------------- reading
def failed_at_or_above(report: Report, severity: str) -> int:
    """FAIL findings at `severity` or worse (what `--fail-on` compares against)."""
    if severity not in SEVERITY_RANK:
        raise ValueError(f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}")
    floor = SEVERITY_RANK[severity]
    return sum(n for sev, n in report["summary"]["failed_by_severity"].items()
               if SEVERITY_RANK.get(sev, -1) >= floor)


# --------------------------------------------------------------------------- schema
@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("scanner.output").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The published report schema (JSON Schema draft 2020-12)."""
    return json.loads(_schema_text())


def validate_report(report: Report) -> None:
    """Raise ReportValidationError naming the first offending path when `report` does not match
    the schema. Needs the `jsonschema` package (a test extra): the scanner itself never validates
    at run time, the tests validate every report they build."""
    try:
        from jsonschema import Draft202012Validator
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("validate_report needs the jsonschema package (pip install 'az-bcdr-scan[test]')") from exc
    validator = Draft202012Validator(load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(report), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ReportValidationError(f"report {where}: {first.message}{more}")
