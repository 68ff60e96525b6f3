"""Building the report (scanner.model.Report) from a scan, and its published JSON Schema.

`build_report` turns an engine Evaluation plus the Inventory it ran over into a Report. Writers
never see the Evaluation or the Inventory: a report loaded back from a JSON file
(`Report.from_dict`) renders exactly like a fresh one.

PASS results are counted in `summary`, not listed; findings are FAIL and NOT_ASSESSED only.
"""
from __future__ import annotations

import dataclasses
import json
import math
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping

from .inventory import RESOURCE_COLLECTIONS
from .model import REPORT_SCHEMA_VERSION, TOOL_NAME, Finding, Report, ReportFormatError, ScanInfo
from .readiness import readiness

if TYPE_CHECKING:  # only for annotations: the report module must not pull the engine in at import
    from . import engine
    from .inventory import Inventory

__all__ = ["REPORT_SCHEMA_VERSION", "TOOL_NAME", "Report", "ReportFormatError", "ReportValidationError",
           "build_report", "load_schema", "resources_by_type", "validate_report"]

SCHEMA_RESOURCE = "report.schema.json"



class ReportValidationError(ValueError):
    """The report does not match report.schema.json."""


# --------------------------------------------------------------------------- building
def build_report(evaluation: "engine.Evaluation", inventory: "Inventory", started_at: str, finished_at: str,
                 arm_requests: int, tool_version: str) -> Report:
    """The report for one scan (or one offline re-evaluation of a saved inventory)."""
    return Report(
        tool_version=str(tool_version),
        scan=ScanInfo(started_at=started_at, finished_at=finished_at, subscriptions=tuple(inventory.subscriptions),
                      arm_requests=int(arm_requests), scope=inventory.scope,
                      management_groups=tuple(inventory.management_groups)),
        rules=evaluation.rules,
        coverage=tuple(inventory.coverage),
        findings=tuple(_finding(f) for f in evaluation.findings),
        passed_by_rule={r.id: int(evaluation.passed.get(r.id, 0)) for r in evaluation.rules},
        resources_by_type=resources_by_type(inventory),
        rule_errors=tuple(evaluation.rule_errors),
        readiness=readiness(inventory, evaluation.findings),
        passed_resources=dict(evaluation.passed_resources),
    )


def _finding(f: "engine.Finding") -> Finding:
    # Positional, in the fields' order (rule_id, status, severity, subscription_id, resource_id,
    # resource_type, resource_group, message, evidence, fingerprint, affected_vms): keywords cost
    # ~0.3 us per finding.
    return Finding(f.rule_id, f.status, f.severity, f.subscription_id, f.resource_id, f.resource_type,
                   f.resource_group, f.message, _plain(f.evidence), f.fingerprint, tuple(f.affected_vms))


def resources_by_type(inventory: "Inventory") -> dict[str, int]:
    """How many items of each kind the Inventory holds (virtual_machines, disks, vaults, ...): every
    collection of inventory.RESOURCE_COLLECTIONS, so one added to the Inventory later is counted too."""
    out: dict[str, int] = {}
    for name in RESOURCE_COLLECTIONS:
        value = getattr(inventory, name)
        if isinstance(value, tuple):
            out[name] = len(value)
    return out


def _plain(value: Any) -> Any:
    """Evidence as JSON types only. Rules put tuples, sets and the odd model object in evidence;
    the report must serialise the same way whichever writer reads it. NaN and infinities are not
    JSON (most parsers reject them), so they become strings. A dict or list that is already plain
    is returned as it is, not copied: the report's finding shares the engine finding's evidence
    (both are frozen), so the evidence is not held twice while the report is built."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # most evidence: as it is
        return value
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str or _plain(v) is not v:
                return {str(k): _plain(v) for k, v in value.items()}
        return value
    if kind is list:
        for v in value:
            if _plain(v) is not v:
                return [_plain(v) for v in value]
        return value
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


# --------------------------------------------------------------------------- schema
@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("scanner.output").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The published report schema (JSON Schema draft 2020-12)."""
    return json.loads(_schema_text())


def validate_report(report: Report | Mapping[str, Any]) -> None:
    """Raise ReportValidationError naming the first offending path when `report` (a Report, or a
    document as read from JSON) does not match the schema. Needs the `jsonschema` package (a test
    extra): the scanner itself never validates at run time, the tests validate every report they
    build."""
    try:
        from jsonschema import Draft202012Validator
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("validate_report needs the jsonschema package (pip install 'az-bcdr-scan[test]')") from exc
    validator = Draft202012Validator(load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    document = report.to_dict() if isinstance(report, Report) else report
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ReportValidationError(f"report {where}: {first.message}{more}")
