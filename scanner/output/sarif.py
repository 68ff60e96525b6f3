"""SARIF 2.1.0 (OASIS), for code-scanning style dashboards.

- tool.driver.rules: one reportingDescriptor per rule id seen in the findings, with its metadata.
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
from typing import Any, Mapping, TextIO

from rules.base import SEVERITY_RANK

from . import _text

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://learn.microsoft.com/azure/backup/backup-azure-vms-troubleshoot"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
FINGERPRINT_KEY = "azBcdrScan/v1"


def write(report: Mapping[str, Any], stream: TextIO) -> None:
    json.dump(to_sarif(report), stream, indent=2, ensure_ascii=True, allow_nan=False)
    stream.write("\n")


def to_sarif(report: Mapping[str, Any]) -> dict[str, Any]:
    findings = list(report.get("findings", []))
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for f in findings:
        if f["rule_id"] not in index:
            index[f["rule_id"]] = len(rules)
            rules.append(_rule(f, [g for g in findings if g["rule_id"] == f["rule_id"]]))
    tool = report.get("tool", {})
    scan = report.get("scan", {})
    notifications = _notifications(report)
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": tool.get("name", "az-bcdr-scan"),
            "version": tool.get("version", ""),
            "informationUri": INFORMATION_URI,
            "rules": rules,
        }},
        "invocations": [{
            # False when a collector failed outright or a rule raised: the run did not see
            # everything it was asked to. Partial coverage is a warning, not a failed run.
            "executionSuccessful": not any(n["level"] == "error" for n in notifications),
            "startTimeUtc": scan.get("started_at"),
            "endTimeUtc": scan.get("finished_at"),
            "toolExecutionNotifications": notifications,
        }],
        "results": [_result(f, index[f["rule_id"]]) for f in findings],
        "properties": {
            "subscriptions": list(scan.get("subscriptions", [])),
            "armRequests": scan.get("arm_requests", 0),
            "summary": report.get("summary", {}),
            "reportSchemaVersion": report.get("schema_version"),
        },
    }
    if tool.get("version"):
        run["tool"]["driver"]["semanticVersion"] = tool["version"]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(first: Mapping[str, Any], all_findings: list[Mapping[str, Any]]) -> dict[str, Any]:
    # The rule's default severity is the one its FAIL findings carry most (a rule may choose a
    # different severity per finding, e.g. BCDR601 for VMs not backed up yet), the more severe on a
    # tie; each result carries its own level anyway.
    severities = [f["severity"] for f in all_findings if f["status"] == "FAIL"] or [first["severity"]]
    default = max(set(severities), key=lambda s: (severities.count(s), SEVERITY_RANK.get(s, -1)))
    name = str(first.get("rule_name", ""))
    descriptor: dict[str, Any] = {
        "id": first["rule_id"],
        "name": name,
        "shortDescription": {"text": _text.sarif(name.replace("-", " ").capitalize() or first["rule_id"])},
        "fullDescription": {"text": _text.sarif(first.get("remediation", ""))},
        "help": {"text": _text.sarif(first.get("remediation", ""))},
        "defaultConfiguration": {"level": LEVEL.get(default, "warning")},
        "properties": {
            "severity": default,
            "predictedErrors": list(first.get("predicted_errors", [])),
            "references": list(first.get("references", [])),
            "tags": ["bcdr", "azure"],
        },
    }
    refs = [u for u in (_text.safe_url(r) for r in first.get("references", [])) if u]
    if refs:
        descriptor["helpUri"] = refs[0]
    return descriptor


def _result(f: Mapping[str, Any], rule_index: int) -> dict[str, Any]:
    failed = f["status"] == "FAIL"
    resource_id = str(f.get("resource_id", ""))
    result: dict[str, Any] = {
        "ruleId": f["rule_id"],
        "ruleIndex": rule_index,
        "kind": "fail" if failed else "open",
        "level": LEVEL.get(f.get("severity", ""), "warning") if failed else "none",
        "message": {"text": _text.sarif(f.get("message", ""))},
        "locations": [{"logicalLocations": [{
            "name": _text.sarif(resource_id.rstrip("/").rsplit("/", 1)[-1]),
            "fullyQualifiedName": resource_id,
            "kind": "resource",
        }]}],
        "partialFingerprints": {FINGERPRINT_KEY: f["fingerprint"]},
        "properties": {
            "status": f["status"],
            "severity": f.get("severity"),
            "subscriptionId": f.get("subscription_id", ""),
            "resourceGroup": f.get("resource_group", ""),
            "resourceType": f.get("resource_type", ""),
            "evidence": f.get("evidence", {}),
            "predictedErrors": list(f.get("predicted_errors", [])),
        },
    }
    return result


def _notifications(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in report.get("coverage", []):
        status = c.get("status")
        if status == "ok":
            continue
        scopes = list(c.get("failed_scopes") or [])
        text = (f"{c.get('collector')} {status} for subscription {c.get('subscription_id')}: "
                f"{c.get('error_code') or 'error'}"
                + (f" ({len(scopes)} scope(s) unreadable)" if scopes else "")
                + (f": {c.get('message')}" if c.get("message") and c.get("message") != c.get("error_code") else ""))
        out.append({
            "level": "error" if status == "failed" else "warning",
            "message": {"text": _text.sarif(text)},
            "descriptor": {"id": f"coverage/{c.get('collector')}"},
            "properties": {"subscriptionId": c.get("subscription_id"), "collector": c.get("collector"),
                           "status": status, "errorCode": c.get("error_code", ""), "failedScopes": scopes},
        })
    for error in report.get("summary", {}).get("rule_errors", []):
        out.append({"level": "error", "message": {"text": _text.sarif(f"rule error: {error}")},
                    "descriptor": {"id": "rule-error"}})
    return out
