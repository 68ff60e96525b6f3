"""--baseline and --fail-on-new: findings marked new / unchanged by fingerprint, resolved ones
listed, the gate on new findings only; old report versions load as baselines. Reports from the
real engine, the real CLI over a saved inventory, real files."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import report_scenarios as rs

from scanner.baseline import BaselineError, compare, load_baseline
from scanner.model import NEW, UNCHANGED, Report
from scanner.policy import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_USAGE, exit_code
from scanner.report import validate_report

OLD_REPORTS = Path(__file__).resolve().parent.parent / "fixtures" / "reports"


def _without(report: Report, rule_id: str) -> Report:
    return dataclasses.replace(report, findings=tuple(f for f in report.findings if f.rule_id != rule_id))


def test_findings_are_new_or_unchanged_and_the_gone_ones_resolved():
    now = rs.report()
    before = _without(now, "BCDR501")  # BCDR501 appeared since
    extra = dataclasses.replace(before.findings[0], fingerprint="f" * 32, resource_id="/subscriptions/x/gone")
    before = dataclasses.replace(before, findings=(*before.findings, extra))  # and this one went away
    compared = compare(now, before)
    marks = {f.fingerprint: f.baseline for f in compared.findings}
    assert {marks[f.fingerprint] for f in now.findings if f.rule_id == "BCDR501"} == {NEW}
    assert {marks[f.fingerprint] for f in now.findings if f.rule_id != "BCDR501"} == {UNCHANGED}
    assert [r.fingerprint for r in compared.baseline.resolved] == ["f" * 32]
    doc = compared.to_dict()
    validate_report(doc)
    assert doc["schema_version"] == "2.4"
    assert doc["baseline"]["new"] == sum(1 for f in now.findings if f.rule_id == "BCDR501") > 0
    assert doc["baseline"]["resolved"][0]["resource_id"] == "/subscriptions/x/gone"
    assert Report.from_dict(doc) == compared  # reads back


def test_without_a_baseline_the_document_has_no_baseline_keys():
    doc = rs.report().to_dict()
    assert "baseline" not in doc and all("baseline" not in f for f in doc["findings"])


def test_fail_on_new_gates_only_on_new_findings():
    now = rs.report()
    same = compare(now, now)
    assert exit_code(same, "none", "high") == EXIT_INCOMPLETE  # nothing new (the scenario has coverage gaps)
    assert exit_code(compare(now, _without(now, "BCDR501")), "none", "critical") == EXIT_FINDINGS  # BCDR501 is new
    assert exit_code(compare(now, _without(now, "BCDR601")), "none", "critical") == EXIT_INCOMPLETE  # new, but high


@pytest.mark.parametrize("name", ["v1.0-demo.json", "v1.0-scenario-hostile.json"])
def test_schema_1_0_reports_load_as_baselines(name):
    old = load_baseline(str(OLD_REPORTS / name))
    assert old.findings
    compared = compare(Report.from_dict(old.to_dict()), old)
    assert {f.baseline for f in compared.findings} == {UNCHANGED} and compared.baseline.resolved == ()


def test_a_bad_baseline_is_one_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "9.9"}', encoding="utf-8")
    with pytest.raises(BaselineError, match="is not a report"):
        load_baseline(str(bad))
    with pytest.raises(BaselineError, match="cannot read"):
        load_baseline(str(tmp_path / "missing.json"))


@pytest.fixture(scope="module")
def saved_inventory(tmp_path_factory):
    inv = rs.scenario()
    path = tmp_path_factory.mktemp("inv") / "inventory.json"
    path.write_text(inv.to_json(), encoding="utf-8")
    return path


def test_cli_baseline_round_trip(run_cli, tmp_path, saved_inventory):
    first = run_cli("evaluate", str(saved_inventory), "--fail-on", "none", "-o", "night1.json")
    assert first.code == EXIT_INCOMPLETE, first.err
    # the same data again: nothing new, so --fail-on-new passes where --fail-on high would fail
    second = run_cli("evaluate", str(saved_inventory), "--baseline", "night1.json", "--fail-on-new", "high",
                     "-o", "night2.json", "-o", "night2.sarif")
    assert second.code == EXIT_INCOMPLETE, second.err
    doc = json.loads((tmp_path / "night2.json").read_text(encoding="utf-8"))
    assert {f["baseline"] for f in doc["findings"]} == {"unchanged"} and doc["baseline"]["resolved"] == []
    assert run_cli("evaluate", str(saved_inventory), "--fail-on-new", "high").code == EXIT_USAGE  # needs --baseline
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    broken = run_cli("evaluate", str(saved_inventory), "--baseline", "broken.json")
    assert broken.code == EXIT_USAGE and len(broken.err.strip().splitlines()) == 1 and "broken.json" in broken.err
