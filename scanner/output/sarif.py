"""SARIF 2.1.0 (OASIS), for code-scanning style dashboards.

- tool.driver.rules: one reportingDescriptor per rule that ran, from the report's rules[] section:
  shortDescription is the rule's title, help its remediation, the default level its severity.
- results: one per finding. `level` from severity (critical/high: error, medium: warning,
  low/info: note); `partialFingerprints` from the report fingerprint (stable per rule and
  resource); the location is a logicalLocation whose fullyQualifiedName is the ARM id (there is
  no file to point at).
- NOT_ASSESSED findings are results with kind "open" and level "none". SARIF 2.1.0 section 3.27.9
  defines "open" as: the rule was evaluated and there was not enough information to decide
  whether there is a problem, which is exactly NOT_ASSESSED. The alternatives misstate it:
  "notApplicable" says the rule does not apply (reads like a pass, and a gap must never look like
  a pass), "review" says a decision is left to a human although the tool simply lacked data, and a
  notification would lose the resource and the fingerprint that let a dashboard track the gap.
  Section 3.27.10 requires level "none" whenever kind is not "fail".
- Collector coverage that is failed or partial, and rules that raised, become
  invocations[0].toolExecutionNotifications: they are about the run, not about a resource.

Messages are plain text (`message.text` only, never `markdown`), escaped by `_text.sarif`.
"""
from __future__ import annotations

import json
from typing import Any, TextIO

from ..inventory import FAILED
from ..model import REPORT_SCHEMA_VERSION, TOOL_NAME, Finding, Report, RuleDescriptor
from . import _text

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://learn.microsoft.com/azure/backup/backup-azure-vms-troubleshoot"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
FINGERPRINT_KEY = "azBcdrScan/v1"


class SarifWriter:
    def write(self, report: Report, stream: TextIO) -> None:
        json.dump(to_sarif(report), stream, indent=2, ensure_ascii=True, allow_nan=False)
        stream.write("\n")


def to_sarif(report: Report) -> dict[str, Any]:
    index = {rule.id: i for i, rule in enumerate(report.rules)}
    notifications = _notifications(report)
    scan = report.scan
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": TOOL_NAME,
            "version": report.tool_version,
            "informationUri": INFORMATION_URI,
            "rules": [_rule(rule) for rule in report.rules],
        }},
        "invocations": [{
            # False when a collector failed outright or a rule raised: the run did not see
            # everything it was asked to. Partial coverage is a warning, not a failed run.
            "executionSuccessful": not any(n["level"] == "error" for n in notifications),
            "startTimeUtc": scan.started_at,
            "endTimeUtc": scan.finished_at,
            "toolExecutionNotifications": notifications,
        }],
        "results": [_result(f, index[f.rule_id]) for f in report.findings],
        "properties": {
            "subscriptions": list(scan.subscriptions),
            "armRequests": scan.arm_requests,
            "summary": report.summary.to_dict(),
            "reportSchemaVersion": REPORT_SCHEMA_VERSION,
        },
    }
    if report.tool_version:
        run["tool"]["driver"]["semanticVersion"] = report.tool_version
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(rule: RuleDescriptor) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"id": rule.id}
    if rule.slug:
        descriptor["name"] = rule.slug
    if rule.title:  # empty only for a rule read from a schema 1.0 report that this version no longer has
        descriptor["shortDescription"] = {"text": _text.sarif(rule.title)}
        predicts = f" Predicts: {', '.join(rule.predicts)}." if rule.predicts else ""
        descriptor["fullDescription"] = {"text": _text.sarif(rule.title + "." + predicts)}
    if rule.remediation:
        descriptor["help"] = {"text": _text.sarif(rule.remediation)}
    descriptor["defaultConfiguration"] = {"level": LEVEL[rule.severity]}
    descriptor["properties"] = {
        "severity": rule.severity,
        "category": rule.category,
        "predictedErrors": list(rule.predicts),
        "references": list(rule.references),
        "params": dict(rule.params),
        "tags": ["bcdr", "azure"] + ([rule.category] if rule.category else []),
    }
    refs = [u for u in (_text.safe_url(r) for r in rule.references) if u]
    if refs:
        descriptor["helpUri"] = refs[0]
    return descriptor


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    return {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "kind": "fail" if f.failed else "open",
        "level": LEVEL[f.severity] if f.failed else "none",
        "message": {"text": _text.sarif(f.message)},
        "locations": [{"logicalLocations": [{
            "name": _text.sarif(f.resource_id.rstrip("/").rsplit("/", 1)[-1]),
            "fullyQualifiedName": f.resource_id,
            "kind": "resource",
        }]}],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {
            "status": f.status,
            "severity": f.severity,
            "subscriptionId": f.subscription_id,
            "resourceGroup": f.resource_group,
            "resourceType": f.resource_type,
            "evidence": dict(f.evidence),
        },
    }


def _notifications(report: Report) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in report.coverage_gaps:
        text = (f"{c.collector} {c.status} for subscription {c.subscription_id}: {c.error_code or 'error'}"
                + (f" ({len(c.failed_scopes)} scope(s) unreadable)" if c.failed_scopes else "")
                + (f": {c.message}" if c.message and c.message != c.error_code else ""))
        out.append({
            "level": "error" if c.status == FAILED else "warning",
            "message": {"text": _text.sarif(text)},
            "descriptor": {"id": f"coverage/{c.collector}"},
            "properties": {"subscriptionId": c.subscription_id, "collector": c.collector, "status": c.status,
                           "errorCode": c.error_code, "failedScopes": list(c.failed_scopes)},
        })
    for error in report.rule_errors:
        out.append({"level": "error", "message": {"text": _text.sarif(f"rule error: {error}")},
                    "descriptor": {"id": "rule-error"}})
    return out
