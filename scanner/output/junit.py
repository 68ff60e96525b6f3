"""JUnit XML, for CI systems that chart test results (Jenkins, GitLab, Azure Pipelines).

Valid against the strict Jenkins schema (the xunit plugin's junit-10.xsd): one `testsuites` root
carrying only name, time, tests, failures and errors; `testsuite` with its required name, tests,
failures and errors (plus skipped, time, timestamp); `testcase` with name, classname and time.

- One <testsuite> per rule that ran (name "BCDR501 rp-collection-limit-reached"), one <testcase>
  per rule x resource, passes included (the report keeps the ids each rule passed, schema 2.2):
  FAIL is a <failure>, NOT_ASSESSED is <skipped> (it was not decided, which is what skipped means
  to a CI), PASS is a bare testcase. A CI then shows 54 failed out of 700, not 54 of 59. A rule
  that judged nothing gets one passing "no resources" case, so it shows rather than goes missing.
  A report without passed ids (older schema) still counts its passes in the suite's properties.
- Test names are readable and stable across runs: rule code + short resource name
  ("BCDR501 vm-sql-01"); the resource group and the full ARM id are in the classname and the
  failure text, so two VMs of one name in two groups stay apart.
- Times: the scan's duration on the root; rules are evaluated offline over the inventory in
  milliseconds and not timed one by one, so suites and cases carry time="0" (an honest zero;
  some CI parsers reject a case without a time).
- Collector coverage that failed or was partial, and rules that raised, are <error> testcases in a
  "scan" suite: they are problems with the run, not with a resource.

ElementTree escapes & < > and quotes; `_text.xml` strips characters that XML 1.0 forbids outright
(NUL, ESC, other C0 controls: escaping cannot make them legal) and makes C1/bidi characters
visible.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, TextIO

from .. import ids
from ..model import Finding, Report, RuleDescriptor
from ..timeutil import parse as parse_time
from ._marks import short_name, suppression_note
from ._text import xml

CLASS_PREFIX = "az-bcdr-scan"


class JunitWriter:
    def write(self, report: Report, stream: TextIO) -> None:
        root = to_xml(report)
        ET.indent(root)
        stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        # ElementTree writes straight to the stream ("unicode" means: give me str, not bytes).
        ET.ElementTree(root).write(stream, encoding="unicode", xml_declaration=False)
        stream.write("\n")


def to_xml(report: Report) -> ET.Element:
    started = report.scan.started_at
    root = ET.Element("testsuites", _attrs(name=CLASS_PREFIX))
    totals = {"tests": 0, "failures": 0, "errors": 0}

    scan_suite = _scan_suite(report)
    if scan_suite is not None:
        root.append(scan_suite)
        _add(totals, scan_suite)

    passed = report.summary.passed_by_rule
    for rule in report.rules:
        mine = [f for f in report.findings if f.rule_id == rule.id]
        suite = ET.SubElement(root, "testsuite", _attrs(name=f"{rule.id} {rule.slug}".strip(), timestamp=started))
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", _attrs(name="passed", value=passed[rule.id]))
        for f in mine:
            case = ET.SubElement(suite, "testcase", _case(rule, f.resource_id, f.resource_group))
            if f.failed:
                failure = ET.SubElement(case, "failure", _attrs(message=f.message, type=f"{rule.id} {f.severity}"))
                failure.text = xml(_details(f, rule))
            elif f.suppression is not None:  # an accepted FAIL: not a failure of this run
                skipped = ET.SubElement(case, "skipped", _attrs(message=suppression_note(f.suppression)))
                skipped.text = xml(_details(f, rule))
            else:
                skipped = ET.SubElement(case, "skipped", _attrs(message=f.message))
                skipped.text = xml(_details(f, rule))
        passes = report.passed_resources.get(rule.id, ())
        for resource_id in passes:
            ET.SubElement(suite, "testcase", _case(rule, resource_id, ids.resource_group_of(resource_id)))
        if not mine and not passes:
            # Nothing judged, or (a report older than schema 2.2) passes counted without their ids.
            label = f"{passed[rule.id]} passed" if passed[rule.id] else "no resources"
            ET.SubElement(suite, "testcase", _attrs(name=f"{rule.id} {label}", classname=f"{CLASS_PREFIX}.{rule.id}",
                                                    time=0))
        _count(suite)
        _add(totals, suite)
    root.attrib.update(_attrs(**totals, time=_duration(report)))
    return root


def _case(rule: RuleDescriptor, resource_id: str, resource_group: str) -> dict[str, str]:
    classname = f"{CLASS_PREFIX}.{rule.id}" + (f".{resource_group}" if resource_group else "")
    return _attrs(name=f"{rule.id} {short_name(resource_id)}", classname=classname, time=0)


def _duration(report: Report) -> str:
    """The scan's wall time in seconds (0 when a time is missing or unreadable)."""
    start, end = parse_time(report.scan.started_at), parse_time(report.scan.finished_at)
    if start is None or end is None:
        return "0"
    return f"{max((end - start).total_seconds(), 0.0):.3f}"


def _scan_suite(report: Report) -> ET.Element | None:
    gaps = report.coverage_gaps
    if not gaps and not report.rule_errors:
        return None
    suite = ET.Element("testsuite", _attrs(name="scan", timestamp=report.scan.started_at))
    for c in gaps:
        case = ET.SubElement(suite, "testcase", _attrs(
            name=f"coverage {c.collector} {c.subscription_id}", classname=f"{CLASS_PREFIX}.coverage", time=0))
        err = ET.SubElement(case, "error", _attrs(message=f"{c.collector} {c.status}: {c.error_code or 'error'}",
                                                  type=c.error_code or "error"))
        err.text = xml("\n".join([c.message] + [f"unreadable: {s}" for s in c.failed_scopes]))
    for i, error in enumerate(report.rule_errors):
        case = ET.SubElement(suite, "testcase", _attrs(name=f"rule error {i + 1}", classname=f"{CLASS_PREFIX}.rules",
                                                       time=0))
        ET.SubElement(case, "error", _attrs(message=error, type="RuleError"))
    _count(suite)
    return suite


def _details(f: Finding, rule: RuleDescriptor) -> str:
    lines = [
        f"resource: {f.resource_id}",
        f"resource type: {f.resource_type}",
        f"subscription: {f.subscription_id}",
        f"resource group: {f.resource_group}",
        f"message: {f.message}",
    ]
    for key, value in f.evidence.items():
        lines.append(f"evidence {key}: {value}")
    if rule.predicts:
        lines.append("predicted errors: " + ", ".join(rule.predicts))
    if rule.remediation:
        lines.append(f"remediation: {rule.remediation}")
    for ref in rule.references:
        lines.append(f"see: {ref}")
    lines.append(f"fingerprint: {f.fingerprint}")
    return "\n".join(lines)


def _attrs(**values: Any) -> dict[str, str]:
    return {k: xml(v) for k, v in values.items()}


def _count(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.attrib.update(_attrs(
        time=0,
        tests=len(cases),
        failures=sum(1 for c in cases if c.find("failure") is not None),
        errors=sum(1 for c in cases if c.find("error") is not None),
        skipped=sum(1 for c in cases if c.find("skipped") is not None),
    ))


def _add(totals: dict[str, int], suite: ET.Element) -> None:
    for key in totals:
        totals[key] += int(suite.get(key, "0"))
