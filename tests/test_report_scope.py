"""The report says what was scanned (schema 2.4, `scan.scope`): the scope kind and the management
group ids, in the JSON document and wherever the outputs show the subscriptions (table, markdown,
HTML, SARIF run properties), for a scan, for `evaluate` of its saved inventory, and through `merge`.
Reports of schema 2.3 (no scope) still load, as baselines too. The real CLI over the demo's
loopback simulator, real files, the published schema."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import report_scenarios as rs

from scanner.cli import EXIT_FINDINGS
from scanner.inventory import Inventory
from scanner.merge import merge_reports
from scanner.model import UNCHANGED, Report, ReportFormatError
from scanner.report import validate_report
from scanner.scope import ALL_VISIBLE, MANAGEMENT_GROUP, NAMED

OLD_REPORTS = Path(__file__).resolve().parent.parent / "fixtures" / "reports"
V23_DEMO = OLD_REPORTS / "v2.3-demo.json"  # `az-bcdr-scan --demo --format json` of schema 2.3, as written then


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def outputs(tmp_path: Path) -> list[str]:
    return [f"{fmt}={tmp_path / name}" for fmt, name in
            (("json", "r.json"), ("markdown", "r.md"), ("html", "r.html"), ("sarif", "r.sarif"), ("table", "r.txt"))]


def test_a_management_group_scan_names_the_group_and_kind_in_every_output(tmp_path, run_cli):
    run = run_cli("--demo", "-m", "contoso", "--save-inventory", str(tmp_path / "inv.json"),
                  *sum((["-o", o] for o in outputs(tmp_path)), []))
    assert run.code == EXIT_FINDINGS, run.err
    doc = load(tmp_path / "r.json")
    validate_report(doc)
    assert doc["schema_version"] == "2.4"
    assert doc["scan"]["scope"] == {"kind": MANAGEMENT_GROUP, "management_groups": ["contoso"]}
    assert Report.from_dict(doc).scan.management_groups == ("contoso",)
    words = "every subscription under management group contoso"
    assert f"(scope: {words})" in (tmp_path / "r.md").read_text(encoding="utf-8")
    assert f"<li>Scope: {words}</li>" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert words in " ".join((tmp_path / "r.txt").read_text(encoding="utf-8").split())  # the terminal may wrap it
    sarif = load(tmp_path / "r.sarif")
    assert sarif["runs"][0]["properties"]["scope"] == doc["scan"]["scope"]
    # The saved inventory carries the groups, so `evaluate` of it reports the same scope.
    assert load(tmp_path / "inv.json")["management_groups"] == ["contoso"]
    again = run_cli("evaluate", str(tmp_path / "inv.json"), "-o", str(tmp_path / "again.json"))
    assert again.code == EXIT_FINDINGS, again.err
    redo = load(tmp_path / "again.json")
    validate_report(redo)
    assert redo["scan"]["scope"] == doc["scan"]["scope"]
    assert [f["fingerprint"] for f in redo["findings"]] == [f["fingerprint"] for f in doc["findings"]]


def test_a_subscription_scan_says_subscriptions(tmp_path, run_cli):
    run = run_cli("--demo", *sum((["-o", o] for o in outputs(tmp_path)), []))
    assert run.code == EXIT_FINDINGS, run.err
    doc = load(tmp_path / "r.json")
    validate_report(doc)
    assert doc["scan"]["scope"] == {"kind": NAMED, "management_groups": []}
    assert "(scope: subscriptions named one by one)" in (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "<li>Scope: subscriptions named one by one</li>" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert load(tmp_path / "r.sarif")["runs"][0]["properties"]["scope"]["kind"] == NAMED


def test_an_inventory_saved_before_the_groups_were_recorded_still_says_its_kind(tmp_path, run_cli):
    inv = dataclasses.replace(rs.scenario(), scope=MANAGEMENT_GROUP)
    plain = inv.to_dict()
    del plain["management_groups"]  # the inventory layout of the previous release
    path = tmp_path / "old-inventory.json"
    path.write_text(json.dumps(plain), encoding="utf-8")
    assert Inventory.from_json(path.read_text(encoding="utf-8")).management_groups == ()
    run_cli("evaluate", str(path), "-o", "r.json", "-o", "r.html")
    doc = load(tmp_path / "r.json")
    validate_report(doc)
    assert doc["scan"]["scope"] == {"kind": MANAGEMENT_GROUP, "management_groups": []}
    assert "<li>Scope: every subscription under the management group(s) given</li>" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_a_schema_2_3_report_loads_and_serves_as_a_baseline(tmp_path, run_cli):
    old = load(V23_DEMO)
    assert old["schema_version"] == "2.3" and "scope" not in old["scan"]
    report = Report.from_dict(old)
    assert report.scan.scope == "" and report.scan.management_groups == ()
    again = report.to_dict()  # written again (merge, another format): the scope stays unknown, not invented
    assert "scope" not in again["scan"]
    validate_report(again)
    run = run_cli("--demo", "--baseline", str(V23_DEMO), "-o", "r.json")
    assert run.code == EXIT_FINDINGS, run.err
    doc = load(tmp_path / "r.json")
    validate_report(doc)
    assert doc["findings"] and {f["baseline"] for f in doc["findings"]} == {UNCHANGED}
    assert doc["baseline"]["resolved"] == [] and doc["scan"]["scope"]["kind"] == NAMED


def test_merge_keeps_a_scope_the_reports_share_and_drops_one_they_do_not():
    base = rs.report()
    assert base.scan.scope == NAMED  # the Inventory's default: subscriptions named
    group = dataclasses.replace(base, scan=dataclasses.replace(base.scan, scope=MANAGEMENT_GROUP, management_groups=("mg",)))
    assert merge_reports([group, group]).scan.scope == MANAGEMENT_GROUP
    assert merge_reports([group, group]).scan.management_groups == ("mg",)
    other = dataclasses.replace(group, scan=dataclasses.replace(group.scan, management_groups=("other",)))
    old = dataclasses.replace(base, scan=dataclasses.replace(base.scan, scope=""))
    for mixed in ([group, other], [group, old], [base, group]):
        merged = merge_reports(mixed)
        assert merged.scan.scope == "" and "scope" not in merged.to_dict()["scan"]
        validate_report(merged)


@pytest.mark.parametrize("kind", [ALL_VISIBLE, MANAGEMENT_GROUP, NAMED])
def test_every_kind_validates_and_reads_back(kind):
    base = rs.report()
    report = dataclasses.replace(base, scan=dataclasses.replace(base.scan, scope=kind, management_groups=("a", "b")))
    validate_report(report)
    assert Report.from_dict(report.to_dict()) == report


def test_an_unknown_scope_kind_is_refused():
    doc = rs.report().to_dict()
    doc["scan"]["scope"]["kind"] = "tenant<script>"
    with pytest.raises(ReportFormatError, match="scan/scope/kind"):
        Report.from_dict(doc)
    doc["scan"]["scope"] = {"management_groups": []}
    with pytest.raises(ReportFormatError, match="scan/scope/kind"):
        Report.from_dict(doc)
