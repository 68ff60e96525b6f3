"""SARIF as GitHub code scanning takes it. GitHub's documented upload requirements ("SARIF support
for code scanning" and "SARIF results exceed one or more limits", docs.github.com) are written out
as the explicit checks of `github_upload_problems`; every SARIF file the writer makes for the test
scenarios, the hostile one and a capped one must pass all of them (and the OASIS schema, in
test_outputs)."""
from __future__ import annotations

import dataclasses
import io
import json
import re

import pytest
import report_scenarios as rs

from scanner.model import Report
from scanner.output import write_report
from scanner.output.sarif import MAX_RESULTS, artifact_uri, line_hash, to_sarif

# GitHub's limits (docs.github.com, "SARIF results exceed one or more limits").
GITHUB_MAX_RUNS = 20
GITHUB_MAX_RESULTS_PER_RUN = 25_000
GITHUB_STORED_RESULTS_PER_RUN = 5_000
GITHUB_MAX_RULES_PER_RUN = 25_000
GITHUB_MAX_LOCATIONS_PER_RESULT = 1_000
GITHUB_MAX_TAGS_PER_RULE = 20
GITHUB_MAX_FILE_BYTES = 10 * 1024 * 1024  # applies to the gzip-compressed upload; we check the raw file
# A relative URI reference of unreserved characters, percent-escapes and "/" separators (RFC 3986).
_RELATIVE_URI = re.compile(r"[A-Za-z0-9._~%-]+(/[A-Za-z0-9._~%-]+)*")

GITHUB_CHECKS = (
    "version 2.1.0 with $schema",
    "at most 20 runs, each with a distinct automationDetails.id category",
    "tool.driver.name set",
    "at most 25,000 rules and 25,000 results per run (5,000 stored)",
    "every rule: id, shortDescription, help text and markdown, at most 20 tags, security-severity a number 0-10",
    "every result: ruleId of a listed rule, message.text",
    "every result: 1-1,000 locations, each a physicalLocation with a relative artifactLocation.uri and region.startLine >= 1",
    "every result: partialFingerprints.primaryLocationLineHash",
    "no two results with the same rule, location and fingerprint (one alert each)",
    "file under 10 MB",
)


def github_upload_problems(doc: dict, raw: str) -> list[str]:
    """What GitHub code scanning would reject or mis-track in `doc`, one line per problem."""
    problems: list[str] = []
    if doc.get("version") != "2.1.0" or not doc.get("$schema"):
        problems.append("version/$schema")
    runs = doc.get("runs") or []
    if not 1 <= len(runs) <= GITHUB_MAX_RUNS:
        problems.append(f"{len(runs)} runs")
    categories = [(r.get("automationDetails") or {}).get("id") for r in runs]
    if not all(categories) or len(set(categories)) != len(categories):
        problems.append(f"categories {categories}")
    for run in runs:
        driver = run.get("tool", {}).get("driver", {})
        if not driver.get("name"):
            problems.append("tool.driver.name")
        rules = driver.get("rules", [])
        results = run.get("results", [])
        if len(rules) > GITHUB_MAX_RULES_PER_RUN:
            problems.append(f"{len(rules)} rules")
        if len(results) > GITHUB_STORED_RESULTS_PER_RUN:  # the 25,000 hard limit is then far away too
            problems.append(f"{len(results)} results (GitHub stores {GITHUB_STORED_RESULTS_PER_RUN})")
        ids = {r.get("id") for r in rules}
        for r in rules:
            props = r.get("properties", {})
            if not r.get("id") or not r.get("shortDescription", {}).get("text"):
                problems.append(f"rule {r.get('id')}: id/shortDescription")
            if not r.get("help", {}).get("text") or not r.get("help", {}).get("markdown"):
                problems.append(f"rule {r.get('id')}: help")
            if len(props.get("tags", [])) > GITHUB_MAX_TAGS_PER_RULE:
                problems.append(f"rule {r.get('id')}: tags")
            if "security-severity" in props:
                value = props["security-severity"]
                if not isinstance(value, str) or not re.fullmatch(r"\d+(\.\d+)?", value) or not 0 <= float(value) <= 10:
                    problems.append(f"rule {r.get('id')}: security-severity {value!r}")
        seen = set()
        for i, res in enumerate(results):
            where = f"result {i}"
            if res.get("ruleId") not in ids:
                problems.append(f"{where}: ruleId {res.get('ruleId')}")
            if not res.get("message", {}).get("text"):
                problems.append(f"{where}: message.text")
            locations = res.get("locations") or []
            if not 1 <= len(locations) <= GITHUB_MAX_LOCATIONS_PER_RESULT:
                problems.append(f"{where}: {len(locations)} locations")
            for loc in locations:
                phys = loc.get("physicalLocation") or {}
                uri = phys.get("artifactLocation", {}).get("uri", "")
                if not _RELATIVE_URI.fullmatch(uri):
                    problems.append(f"{where}: artifact uri {uri!r}")
                if not isinstance(phys.get("region", {}).get("startLine"), int) or phys["region"]["startLine"] < 1:
                    problems.append(f"{where}: region.startLine")
            fp = res.get("partialFingerprints", {}).get("primaryLocationLineHash")
            if not fp:
                problems.append(f"{where}: primaryLocationLineHash")
            key = (res.get("ruleId"), json.dumps(locations, sort_keys=True), fp)
            if key in seen:
                problems.append(f"{where}: duplicate alert")
            seen.add(key)
    if len(raw.encode("utf-8")) >= GITHUB_MAX_FILE_BYTES:
        problems.append("file size")
    return problems


def _render(report: Report) -> tuple[dict, str]:
    out = io.StringIO()
    write_report(report, "sarif", out)
    return json.loads(out.getvalue()), out.getvalue()


@pytest.mark.parametrize("hostile", [False, True])
def test_sarif_passes_githubs_upload_checks(hostile):
    doc, raw = _render(rs.report(hostile=hostile))
    assert github_upload_problems(doc, raw) == []


def test_the_checks_catch_what_github_rejects():
    """The check function is not vacuous: the SARIF this writer used to make (a logical location
    only, our own fingerprint key, no category) fails it."""
    doc, raw = _render(rs.report())
    run = doc["runs"][0]
    del run["automationDetails"]
    for res in run["results"]:
        res["locations"] = [{"logicalLocations": res["locations"][0]["logicalLocations"]}]
        del res["partialFingerprints"]["primaryLocationLineHash"]
    problems = github_upload_problems(doc, raw)
    assert any("categories" in p for p in problems)
    assert any("artifact uri" in p for p in problems) and any("startLine" in p for p in problems)
    assert any("primaryLocationLineHash" in p for p in problems)


def test_artifact_uri_is_stable_synthetic_and_escaped():
    rid = "/subscriptions/AAAA/resourceGroups/RG-App/providers/Microsoft.Compute/virtualMachines/App1"
    assert artifact_uri(rid) == "azure/aaaa/rg-app/microsoft.compute/virtualmachines/app1"
    assert artifact_uri(rid.lower()) == artifact_uri(rid + "/")  # Azure's casings are one resource
    child = "/subscriptions/s/resourceGroups/r/providers/Microsoft.RecoveryServices/vaults/v/backupPolicies/p"
    assert artifact_uri(child) == "azure/s/r/microsoft.recoveryservices/vaults/v/backuppolicies/p"
    assert artifact_uri("/subscriptions/s/providers/Microsoft.Authorization/locks/l") == \
        "azure/s/-/microsoft.authorization/locks/l"
    hostile = artifact_uri(f"/subscriptions/s/resourceGroups/{rs.FORMULA}/providers/x.y/t/{rs.HOSTILE}")
    assert _RELATIVE_URI.fullmatch(hostile), hostile
    assert "<" not in hostile and " " not in hostile and "\x1b" not in hostile


def test_results_point_at_their_resources_uri_and_a_stable_line_hash():
    report = rs.report()
    doc, _ = _render(report)
    for res, f in zip(doc["runs"][0]["results"], report.findings):
        phys = res["locations"][0]["physicalLocation"]
        assert phys == {"artifactLocation": {"uri": artifact_uri(f.resource_id)}, "region": {"startLine": 1}}
        assert res["partialFingerprints"] == {"primaryLocationLineHash": line_hash(f.fingerprint),
                                              "azBcdrScan/v1": f.fingerprint}
    again, _ = _render(rs.report())
    assert again["runs"][0]["results"] == doc["runs"][0]["results"]


def test_rule_metadata_for_github():
    report = rs.report()
    rules = {r["id"]: r for r in _render(report)[0]["runs"][0]["tool"]["driver"]["rules"]}
    bcdr501 = rules["BCDR501"]  # critical
    assert bcdr501["properties"]["security-severity"] == "9.5"
    assert "security" in bcdr501["properties"]["tags"]
    md = bcdr501["help"]["markdown"]
    assert "Remediation:" in md and "UserErrorRpCollectionLimitReached" in md
    assert "](https://learn.microsoft.com/" in md  # the reference link
    assert float(rules["BCDR601"]["properties"]["security-severity"]) >= 7.0  # high


def test_category_per_shard():
    report = rs.report()
    assert _render(report)[0]["runs"][0]["automationDetails"] == {"id": "az-bcdr-scan/"}
    if "shard" in {f.name for f in dataclasses.fields(report.scan)}:
        sharded = dataclasses.replace(report, scan=dataclasses.replace(report.scan, shard="2/3"))
        assert to_sarif(sharded)["runs"][0]["automationDetails"] == {"id": "az-bcdr-scan/shard-2-of-3/"}


def test_results_are_capped_at_what_github_stores_with_a_notification():
    report = rs.report()
    many = tuple(dataclasses.replace(report.findings[i % len(report.findings)], fingerprint=f"{i:032x}")
                 for i in range(MAX_RESULTS + 7))
    big = dataclasses.replace(report, findings=many)
    doc = to_sarif(big)
    run = doc["runs"][0]
    assert len(run["results"]) == MAX_RESULTS == GITHUB_STORED_RESULTS_PER_RUN
    [note] = [n for n in run["invocations"][0]["toolExecutionNotifications"]
              if n["descriptor"]["id"] == "sarif-results-capped"]
    assert note["properties"] == {"findings": MAX_RESULTS + 7, "results": MAX_RESULTS}
    assert github_upload_problems(doc, json.dumps(doc)) == []
    # the most severe come first in the report, so they are the ones kept
    assert [r["partialFingerprints"]["azBcdrScan/v1"] for r in run["results"]] == [f.fingerprint for f in many[:MAX_RESULTS]]
