"""JUnit XML, for CI systems that chart test results (Jenkins, GitLab, Azure Pipelines).

- One <testsuite> per rule that ran (name "BCDR501 rp-collection-limit-reached"), one <testcase>
  per finding: FAIL is a <failure>, NOT_ASSESSED is <skipped> (it was not decided, which is what
  skipped means to a CI). A rule without findings gets one passing testcase, so it shows green
  rather than missing; its PASS count is in the suite's properties.
- Collector coverage that failed or was partial, and rules that raised, are <error> testcases in a
  "scan" suite: they are problems with the run, not with a resource.

ElementTree escapes & < > and quotes; `_text.xml` strips characters that XML 1.0 forbids outright
(NUL, ESC, other C0 controls: escaping cannot make them legal) and makes C1/bidi characters
visible. The testcase name is the ARM id so that CI history tracks the same resource across runs.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Mapping, TextIO

from ._text import xml

CLASS_PREFIX = "az-bcdr-scan"


def write(report: Mapping[str, Any], stream: TextIO) -> None:
    root = to_xml(report)
    ET.indent(root)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    # ElementTree writes straight to the stream ("unicode" means: give me str, not bytes).
    ET.ElementTree(root).write(stream, encoding="unicode", xml_declaration=False)
    stream.write("\n")


def to_xml(report: Mapping[str, Any]) -> ET.Element:
    findings = list(report.get("findings", []))
    summary = report.get("summary", {})
    scan = report.get("scan", {})
    codes = list(summary.get("rules_run", []))
    for f in findings:
        if f["rule_id"] not in codes:
            codes.append(f["rule_id"])

    root = ET.Element("testsuites", _attrs(name=CLASS_PREFIX, timestamp=scan.get("started_at", "")))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    scan_suite = _scan_suite(report)
    if scan_suite is not None:
        root.append(scan_suite)
        _add(totals, scan_suite)

    passed = summary.get("passed_by_rule", {})
    for code in codes:
        mine = [f for f in findings if f["rule_id"] == code]
        slug = mine[0].get("rule_name", "") if mine else ""
        suite = ET.SubElement(root, "testsuite", _attrs(name=f"{code} {slug}".strip(),
                                                        timestamp=scan.get("started_at", "")))
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", _attrs(name="passed", value=passed.get(code, 0)))
        classname = f"{CLASS_PREFIX}.{code}"
        for f in mine:
            case = ET.SubElement(suite, "testcase", _attrs(name=f.get("resource_id", ""), classname=classname))
            if f["status"] == "FAIL":
                failure = ET.SubElement(case, "failure", _attrs(message=f.get("message", ""),
                                                                type=f"{code} {f.get('severity', '')}"))
                failure.text = xml(_details(f))
            else:
                skipped = ET.SubElement(case, "skipped", _attrs(message=f.get("message", "")))
                skipped.text = xml(_details(f))
        if not mine:
            ET.SubElement(suite, "testcase", _attrs(name="no findings", classname=classname))
        _count(suite)
        _add(totals, suite)
    root.attrib.update(_attrs(**totals))
    return root


def _scan_suite(report: Mapping[str, Any]) -> ET.Element | None:
    gaps = [c for c in report.get("coverage", []) if c.get("status") != "ok"]
    errors = list(report.get("summary", {}).get("rule_errors", []))
    if not gaps and not errors:
        return None
    suite = ET.Element("testsuite", _attrs(name="scan", timestamp=report.get("scan", {}).get("started_at", "")))
    for c in gaps:
        case = ET.SubElement(suite, "testcase", _attrs(
            name=f"{c.get('subscription_id')} {c.get('collector')}", classname=f"{CLASS_PREFIX}.coverage"))
        scopes = list(c.get("failed_scopes") or [])
        err = ET.SubElement(case, "error", _attrs(
            message=f"{c.get('collector')} {c.get('status')}: {c.get('error_code') or 'error'}",
            type=c.get("error_code") or "error"))
        err.text = xml("\n".join([str(c.get("message", ""))] + [f"unreadable: {s}" for s in scopes]))
    for i, error in enumerate(errors):
        case = ET.SubElement(suite, "testcase", _attrs(name=f"rule error {i + 1}", classname=f"{CLASS_PREFIX}.rules"))
        ET.SubElement(case, "error", _attrs(message=error, type="RuleError"))
    _count(suite)
    return suite


def _details(f: Mapping[str, Any]) -> str:
    lines = [
        f"resource: {f.get('resource_id', '')}",
        f"resource type: {f.get('resource_type', '')}",
        f"subscription: {f.get('subscription_id', '')}",
        f"resource group: {f.get('resource_group', '')}",
        f"message: {f.get('message', '')}",
    ]
    for key, value in (f.get("evidence") or {}).items():
        lines.append(f"evidence {key}: {value}")
    if f.get("predicted_errors"):
        lines.append("predicted errors: " + ", ".join(str(e) for e in f["predicted_errors"]))
    if f.get("remediation"):
        lines.append(f"remediation: {f['remediation']}")
    for ref in f.get("references", []):
        lines.append(f"see: {ref}")
    lines.append(f"fingerprint: {f.get('fingerprint', '')}")
    return "\n".join(lines)


def _attrs(**values: Any) -> dict[str, str]:
    return {k: xml(v) for k, v in values.items()}


def _count(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.attrib.update(_attrs(
        tests=len(cases),
        failures=sum(1 for c in cases if c.find("failure") is not None),
        errors=sum(1 for c in cases if c.find("error") is not None),
        skipped=sum(1 for c in cases if c.find("skipped") is not None),
    ))


def _add(totals: dict[str, int], suite: ET.Element) -> None:
    for key in totals:
        totals[key] += int(suite.get(key, "0"))
