"""SARIF 2.1.0 (OASIS) that GitHub code scanning accepts ("SARIF support for code scanning").

- tool.driver.rules: one reportingDescriptor per rule that ran, from the report's rules[] section:
  shortDescription is the rule's title, `help` its remediation (text and markdown, with the
  predicted errors and reference links), the default level its severity, and the properties GitHub
  reads: `security-severity` (a number as a string, SECURITY_SEVERITY) and `tags` (at most
  GitHub's 20 per rule).
- results: one per finding. `level` from severity (critical/high: error, medium: warning,
  low/info: note). The location: GitHub needs a physicalLocation with an artifactLocation.uri and a
  region, and there is no file, so every resource gets a stable synthetic URI (`artifact_uri`:
  `azure/<subscription>/<resource-group>/<provider>/<type>/<name>[/<child type>/<child name>...]`,
  lower-cased, each segment percent-encoded) at line 1; the ARM id stays as a logicalLocation.
  `partialFingerprints` carries `primaryLocationLineHash` (the key GitHub matches alerts across
  uploads with; derived from our fingerprint, so stable per rule and resource) and our own
  FINGERPRINT_KEY.
- runAutomationDetails.id is the category GitHub keeps uploads apart by (`az-bcdr-scan/` or
  `az-bcdr-scan/shard-K-of-N/`): each shard of a CI matrix replaces only its own alerts.
- GitHub rejects a run with more than 25,000 results and stores only 5,000 of a run's results
  (github/docs#38085: not the most severe 5,000, the first). Findings come most severe first, so
  the run keeps the first MAX_RESULTS (5,000) and says how many it left out in a notification
  (`sarif-results-capped`); the JSON report always has them all.
- NOT_ASSESSED findings are results with kind "open" and level "none". SARIF 2.1.0 section 3.27.9
  defines "open" as: the rule was evaluated and there was not enough information to decide
  whether there is a problem, which is exactly NOT_ASSESSED. The alternatives misstate it:
  "notApplicable" says the rule does not apply (reads like a pass, and a gap must never look like
  a pass), "review" says a decision is left to a human although the tool simply lacked data, and a
  notification would lose the resource and the fingerprint that let a dashboard track the gap.
  Section 3.27.10 requires level "none" whenever kind is not "fail".
- SUPPRESSED findings (a --suppressions entry accepted the FAIL) stay results of kind "fail" with
  a `suppressions` entry (section 3.35) of kind "external" (the suppression lives outside the
  scanned "artifact"), status "accepted", the entry's reason as justification and its owner and
  expiry as properties (a viewer that honours suppressions hides or dismisses them).
- Collector coverage that is failed or partial, and rules that raised, become
  invocations[0].toolExecutionNotifications: they are about the run, not about a resource.

Messages are plain text (`message.text`), escaped by `_text.sarif`; the only markdown is a rule's
`help.markdown`, built from escaped parts.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, TextIO
from urllib.parse import quote

from ..inventory import FAILED
from ..model import REPORT_SCHEMA_VERSION, TOOL_NAME, Finding, Report, RuleDescriptor
from . import _text

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://learn.microsoft.com/azure/backup/backup-azure-vms-troubleshoot"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub's bands: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. An info rule has
# none: it is not a security finding, GitHub then goes by the level.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}
FINGERPRINT_KEY = "azBcdrScan/v1"
LINE_HASH_KEY = "primaryLocationLineHash"
MAX_RESULTS = 5_000  # GitHub stores this many results of a run (and rejects a run over 25,000)
MAX_TAGS = 20  # GitHub rejects a rule with more tags
URI_BASE = "azure"
CATEGORY = TOOL_NAME


class SarifWriter:
    def write(self, report: Report, stream: TextIO) -> None:
        json.dump(to_sarif(report), stream, indent=2, ensure_ascii=True, allow_nan=False)
        stream.write("\n")


def category(report: Report) -> str:
    """runAutomationDetails.id: the tool, and the shard when the report is one."""
    shard = getattr(report.scan, "shard", "")
    return f"{CATEGORY}/shard-{shard.replace('/', '-of-')}/" if shard else f"{CATEGORY}/"


def artifact_uri(resource_id: str) -> str:
    """The synthetic, stable URI of a resource (README, "SARIF for GitHub code scanning"):
    `azure/<subscription>/<resource-group>/<provider path>`, lower-cased (ARM ids are
    case-insensitive and Azure returns the same id in several casings), every segment
    percent-encoded. A subscription-level resource has `-` for its resource group; an id that is
    not an ARM resource id keeps its segments under `azure/-/-/`."""
    parts = [p.lower() for p in resource_id.strip().split("/") if p]
    sub, rg, rest = "-", "-", parts
    if len(parts) >= 2 and parts[0] == "subscriptions":
        sub, rest = parts[1], parts[2:]
        if len(rest) >= 2 and rest[0] == "resourcegroups":
            rg, rest = rest[1], rest[2:]
        if rest and rest[0] == "providers":
            rest = rest[1:]
    return "/".join(quote(p, safe="") for p in (URI_BASE, sub, rg, *rest))


def line_hash(fingerprint: str) -> str:
    """primaryLocationLineHash in GitHub's own shape (`<16 hex>:<occurrence>`)."""
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:16] + ":1"


def to_sarif(report: Report, max_results: int = MAX_RESULTS) -> dict[str, Any]:
    index = {rule.id: i for i, rule in enumerate(report.rules)}
    notifications = _notifications(report)
    kept = report.findings[:max_results]
    if len(report.findings) > len(kept):
        notifications.append({
            "level": "warning",
            "message": {"text": f"{len(report.findings) - len(kept)} of {len(report.findings)} findings are not in "
                                f"this SARIF run (GitHub stores {max_results} results per run); the JSON report "
                                f"has them all"},
            "descriptor": {"id": "sarif-results-capped"},
            "properties": {"findings": len(report.findings), "results": len(kept)},
        })
    scan = report.scan
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": TOOL_NAME,
            "version": report.tool_version,
            "informationUri": INFORMATION_URI,
            "rules": [_rule(rule) for rule in report.rules],
        }},
        "automationDetails": {"id": category(report)},
        "invocations": [{
            # False when a collector failed outright or a rule raised: the run did not see
            # everything it was asked to. Partial coverage and capping are warnings.
            "executionSuccessful": not any(n["level"] == "error" for n in notifications),
            "startTimeUtc": scan.started_at,
            "endTimeUtc": scan.finished_at,
            "toolExecutionNotifications": notifications,
        }],
        "results": [_result(f, index[f.rule_id]) for f in kept],
        "properties": {
            "subscriptions": list(scan.subscriptions),
            **({"scope": scan.scope_dict()} if scan.scope else {}),
            "armRequests": scan.arm_requests,
            "summary": report.summary.to_dict(),
            "reportSchemaVersion": REPORT_SCHEMA_VERSION,
        },
    }
    if report.tool_version:
        run["tool"]["driver"]["semanticVersion"] = report.tool_version
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _help_markdown(rule: RuleDescriptor, refs: list[str]) -> str:
    lines = [f"**{_text.markdown(rule.title or rule.id)}**", ""]
    if rule.remediation:
        lines += ["Remediation: " + _text.markdown(rule.remediation), ""]
    if rule.predicts:
        lines += ["Predicts: " + ", ".join(f"`{_text.visible(p).replace('`', '')}`" for p in rule.predicts), ""]
    lines += [f"- [{_text.markdown(u)}]({u})" for u in refs]
    return "\n".join(lines).strip() + "\n"


def _rule(rule: RuleDescriptor) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"id": rule.id}
    if rule.slug:
        descriptor["name"] = rule.slug
    if rule.title:  # empty only for a rule read from a schema 1.0 report that this version no longer has
        descriptor["shortDescription"] = {"text": _text.sarif(rule.title)}
        predicts = f" Predicts: {', '.join(rule.predicts)}." if rule.predicts else ""
        descriptor["fullDescription"] = {"text": _text.sarif(rule.title + "." + predicts)}
    refs = [u for u in (_text.safe_url(r) for r in rule.references) if u]
    descriptor["help"] = {"text": _text.sarif(rule.remediation or rule.title or rule.id),
                          "markdown": _help_markdown(rule, refs)}
    if refs:
        descriptor["helpUri"] = refs[0]
    descriptor["defaultConfiguration"] = {"level": LEVEL[rule.severity]}
    tags = ["bcdr", "azure"] + ([rule.category] if rule.category else [])
    if rule.severity in SECURITY_SEVERITY:
        tags.insert(0, "security")
    descriptor["properties"] = {
        "severity": rule.severity,
        "category": rule.category,
        "predictedErrors": list(rule.predicts),
        "references": list(rule.references),
        "params": dict(rule.params),
        "tags": tags[:MAX_TAGS],
        **({"security-severity": SECURITY_SEVERITY[rule.severity]} if rule.severity in SECURITY_SEVERITY else {}),
        "precision": "high",
    }
    return descriptor


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    result = _plain_result(f, rule_index)
    if f.suppression is not None:
        s = f.suppression
        result["suppressions"] = [{
            "kind": "external", "status": "accepted", "justification": _text.sarif(s.reason),
            "properties": {"expires": s.expires, "resourceGlob": s.resource, **({"owner": s.owner} if s.owner else {})},
        }]
    return result


def _plain_result(f: Finding, rule_index: int) -> dict[str, Any]:
    judged = f.failed or f.suppressed  # a suppressed finding is a FAIL someone accepted
    return {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "kind": "fail" if judged else "open",
        "level": LEVEL[f.severity] if judged else "none",
        "message": {"text": _text.sarif(f.message)},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": artifact_uri(f.resource_id)},
                                 "region": {"startLine": 1}},
            "logicalLocations": [{
                "name": _text.sarif(f.resource_id.rstrip("/").rsplit("/", 1)[-1]),
                "fullyQualifiedName": f.resource_id,
                "kind": "resource",
            }]}],
        "partialFingerprints": {LINE_HASH_KEY: line_hash(f.fingerprint), FINGERPRINT_KEY: f.fingerprint},
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
