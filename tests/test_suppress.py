"""--suppressions FILE: matching FAIL findings become SUPPRESSED (with reason, owner, expiry) and
never gate the exit code; expired and unmatched entries are listed; a malformed file is one line,
exit 2, before anything is read. The real CLI over a saved inventory, the real writers, real files."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import report_scenarios as rs
from shared_data import SARIF_DIR

from scanner.model import Report
from scanner.output import write_report
from scanner.policy import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_USAGE, exit_code
from scanner.report import validate_report
from scanner.suppress import SuppressionError, apply, load_suppressions

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "suppressions" / "example.toml"
SUB = "11111111-1111-1111-1111-111111111111"


@pytest.fixture(scope="module")
def saved_inventory(tmp_path_factory):
    path = tmp_path_factory.mktemp("inv") / "inventory.json"
    path.write_text(rs.scenario().to_json(), encoding="utf-8")
    return path


def _entry(**kw) -> str:
    fields = {"rule": '"BCDR501"', "resource": '"*/app1"', "reason": '"ok"', "expires": "2099-01-01", **kw}
    return "[[suppress]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v is not None)


def test_the_example_suppresses_every_high_fail_so_the_run_no_longer_fails(run_cli, tmp_path, saved_inventory):
    plain = run_cli("evaluate", str(saved_inventory), "--fail-on", "high", "-o", "plain.json")
    assert plain.code == EXIT_FINDINGS, plain.err
    run = run_cli("evaluate", str(saved_inventory), "--fail-on", "high", "--suppressions", str(EXAMPLE),
                  "-o", "night.json", "-o", "night.sarif", "-o", "night.xml", "-o", "night.md", "-o", "night.html",
                  "-o", "night.csv")
    assert run.code == EXIT_INCOMPLETE, run.err  # only the coverage gaps of SUB2 remain
    doc = json.loads((tmp_path / "night.json").read_text(encoding="utf-8"))
    validate_report(doc)
    suppressed = {(f["rule_id"], f["resource_id"].rsplit("/", 1)[-1]): f["suppression"]
                  for f in doc["findings"] if f["status"] == "SUPPRESSED"}
    assert set(suppressed) == {("BCDR501", "app1"), ("BCDR401", "AzureBackupRG_westeurope_1"), ("BCDR601", "app1"),
                               ("BCDR701", "00000000-0000-0000-0000-000000000001")}
    assert suppressed[("BCDR601", "app1")] == {"rule": "BCDR601", "resource": "*/virtualMachines/app1",
                                               "reason": "the 40 TiB data disk is excluded from backup on purpose",
                                               "expires": "2099-12-31", "owner": "storage-team"}
    assert doc["summary"]["suppressed"] == 4
    assert doc["summary"]["failed_by_severity"]["critical"] == doc["summary"]["failed_by_severity"]["high"] == 0
    # the expired entry no longer suppresses: BCDR801 on web1 is a FAIL again, and listed
    assert [f["status"] for f in doc["findings"] if f["rule_id"] == "BCDR801"] == ["FAIL"]
    assert [e["rule"] for e in doc["suppressions"]["expired"]] == ["BCDR801"]
    assert [e["resource"] for e in doc["suppressions"]["unmatched"]] == ["*/virtualMachines/gone-vm"]
    # NOT_ASSESSED findings are never suppressed, even by a matching glob
    assert all(f["status"] != "SUPPRESSED" for f in doc["findings"] if f["rule_id"] == "BCDR401"
               and f["resource_id"] == "/subscriptions/22222222-2222-2222-2222-222222222222")
    # every writer says it
    junit = ET.parse(tmp_path / "night.xml").getroot()
    skipped = [s.get("message") for s in junit.iter("skipped") if s.get("message", "").startswith("suppressed")]
    assert "suppressed until 2099-12-31 by storage-team: the 40 TiB data disk is excluded from backup on purpose" \
        in skipped and len(skipped) == 4
    assert not [c for c in junit.iter("testcase") if c.find("failure") is not None
                and c.get("name", "").startswith(("BCDR501", "BCDR601"))]
    assert (tmp_path / "night.md").read_text(encoding="utf-8").count("| SUPPRESSED |") == 4
    assert (tmp_path / "night.csv").read_text(encoding="utf-8").count(",SUPPRESSED,") == 4
    assert (tmp_path / "night.html").read_text(encoding="utf-8").count('data-status="SUPPRESSED"') == 4
    results = json.loads((tmp_path / "night.sarif").read_text(encoding="utf-8"))["runs"][0]["results"]
    marked = [r for r in results if r.get("suppressions")]
    assert len(marked) == 4 and {r["kind"] for r in marked} == {"fail"}
    assert {s["kind"] for r in marked for s in r["suppressions"]} == {"external"}


def test_without_the_entry_that_covered_the_last_high_fail_the_run_fails(run_cli, tmp_path, saved_inventory):
    text = EXAMPLE.read_text(encoding="utf-8")
    kept = "[[suppress]]".join(part for part in text.split("[[suppress]]") if '"BCDR701"' not in part)
    (tmp_path / "s.toml").write_text(kept, encoding="utf-8")
    run = run_cli("evaluate", str(saved_inventory), "--fail-on", "high", "--suppressions", "s.toml", "-o", "r.json")
    assert run.code == EXIT_FINDINGS, run.err
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [f["status"] for f in doc["findings"] if f["rule_id"] == "BCDR701" and "backupJobs" in f["resource_id"]] \
        == ["FAIL"]


@pytest.mark.parametrize("text, words", [
    ("[[suppress]\nrule = 1", "not valid TOML"),
    (_entry(colour='"red"'), "unknown key 'colour'"),
    ("[extra]\nx = 1\n" + _entry(), "unknown key 'extra'"),
    (_entry(reason=None), "missing 'reason'"),
    (_entry(resource=None), "missing 'resource'"),
    (_entry(expires=None), "missing 'expires'"),
    (_entry(expires='"31/12/2099"'), "not a date"),
    (_entry(expires='"2099-02-30"'), "not a date"),
    (_entry(expires="2099-01-01T00:00:00Z"), "not a date-time"),
    (_entry(rule='"BCDR999"'), "not a rule code"),
    (_entry(reason='""'), "non-empty string"),
    ("suppress = 3", "array of tables"),
])
def test_a_malformed_file_is_one_line_and_exit_2_before_the_inventory_is_read(run_cli, tmp_path, text, words):
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    # the inventory does not exist: the suppressions file is checked first, so that is not the error
    run = run_cli("evaluate", "missing-inventory.json", "--suppressions", "bad.toml")
    assert run.code == EXIT_USAGE
    assert len(run.err.strip().splitlines()) == 1 and words in run.err and "bad.toml" in run.err, run.err
    assert "Traceback" not in run.err


def test_a_malformed_file_stops_the_scan_command_before_it_scans(run_cli, tmp_path):
    (tmp_path / "bad.toml").write_text(_entry(rule='"nope"'), encoding="utf-8")
    run = run_cli("--demo", "--suppressions", "bad.toml", "-o", "r.json")
    assert run.code == EXIT_USAGE and len(run.err.strip().splitlines()) == 1 and "not a rule code" in run.err
    assert not (tmp_path / "r.json").exists()
    missing = run_cli("--demo", "--suppressions", "absent.toml")
    assert missing.code == EXIT_USAGE and "cannot read --suppressions absent.toml" in missing.err


def _load(tmp_path, text: str):
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    return load_suppressions(str(tmp_path / "s.toml"))


def test_glob_and_case_insensitivity(tmp_path):
    report = rs.report()
    upper = _load(tmp_path, _entry(resource=f'"/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG-*/PROVIDERS/*/APP?"',
                                   rule='"bcdr501"'))
    done = apply(report, upper, dt.date(2026, 12, 1))
    assert [(f.rule_id, f.status) for f in done.findings if f.suppressed] == [("BCDR501", "SUPPRESSED")]
    assert done.suppressions.unmatched == ()
    # a glob that does not reach the whole id does not match (fnmatch is anchored)
    partial = apply(report, _load(tmp_path, _entry(resource='"/subscriptions/*/resourceGroups/rg-app"')),
                    dt.date(2026, 12, 1))
    assert not any(f.suppressed for f in partial.findings)
    assert [e.resource for e in partial.suppressions.unmatched] == ["/subscriptions/*/resourceGroups/rg-app"]


def test_an_entry_suppresses_through_its_expiry_day_and_not_after(tmp_path):
    report = rs.report()
    entries = _load(tmp_path, _entry(expires="2026-12-01", owner='"me"'))
    on_the_day = apply(report, entries, dt.date(2026, 12, 1))
    assert on_the_day.summary.suppressed == 1 and on_the_day.suppressions.expired == ()
    assert exit_code(on_the_day, "critical") != EXIT_FINDINGS  # BCDR501 was the only critical FAIL
    assert exit_code(report, "critical") == EXIT_FINDINGS
    after = apply(report, entries, dt.date(2026, 12, 2))
    assert after.summary.suppressed == 0 and exit_code(after, "critical") == EXIT_FINDINGS
    assert [e.owner for e in after.suppressions.expired] == ["me"]
    # the document validates, reads back, and re-applying (merge of shards) judges afresh
    validate_report(on_the_day)
    assert Report.from_dict(on_the_day.to_dict()) == on_the_day
    assert apply(on_the_day, entries, dt.date(2026, 12, 2)) == after


def test_an_older_report_without_suppressions_still_loads():
    doc = rs.report().to_dict()
    doc["schema_version"] = "2.2"
    del doc["summary"]["suppressed"]
    assert Report.from_dict(doc).suppressions is None


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(SuppressionError, match="s.toml: suppress\\[0\\]: missing 'rule'"):
        _load(tmp_path, _entry(rule=None))


@pytest.mark.shared
def test_sarif_suppressions_validate_against_the_oasis_schema(tmp_path):
    from jsonschema import Draft4Validator
    schema = json.loads((SARIF_DIR / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    report = apply(rs.report(hostile=True), _load(tmp_path, _entry(resource='"*"', owner='"o"') + _entry(
        rule='"BCDR601"', resource='"*"', reason=json.dumps(rs.HOSTILE))), dt.date(2026, 12, 1))
    out = io.StringIO()
    write_report(report, "sarif", out)
    sarif = json.loads(out.getvalue())
    errors = list(Draft4Validator(schema).iter_errors(sarif))
    assert errors == [], errors[0].message if errors else ""
    marked = [r for r in sarif["runs"][0]["results"] if "suppressions" in r]
    assert {r["ruleId"] for r in marked} == {"BCDR501", "BCDR601"}
    by_rule = {r["ruleId"]: r["suppressions"][0] for r in marked}
    assert by_rule["BCDR501"] == {"kind": "external", "status": "accepted", "justification": "ok",
                                  "properties": {"expires": "2099-01-01", "resourceGlob": "*", "owner": "o"}}
    assert "\x1b" not in by_rule["BCDR601"]["justification"]  # hostile reason escaped like any text


@pytest.mark.parametrize("code", ["BCDR801", "BCDR803"])
def test_explain_and_the_remediation_point_to_the_suppressions_file(run_cli, code):
    run = run_cli("explain", code)
    assert run.code == 0 and run.out.count("--suppressions") >= 2  # the remediation and the general hint
    assert f'rule = "{code}"' in run.out


def test_the_table_groups_suppressed_findings_with_their_note_and_lists_stale_entries(tmp_path):
    report = apply(rs.report(), _load(tmp_path, _entry(owner='"ops"') + _entry(rule='"BCDR502"', resource='"*/x"')),
                   dt.date(2026, 12, 1))
    out = io.StringIO()
    write_report(report, "table", out)
    text = out.getvalue()
    assert "SUPPRESSED (1)" in text and "suppressed until 2099-01-01 by ops: ok" in text.replace("\n", " ")
    assert "1 suppressed" in text and "Suppression unmatched: BCDR502 */x" in text


def test_merge_keeps_an_entry_unmatched_only_when_no_shard_used_it(tmp_path):
    from scanner.merge import merge_reports
    entries = _load(tmp_path, _entry() + _entry(rule='"BCDR502"', resource='"*/x"') + _entry(expires="2020-01-01"))
    full = rs.report()
    without_501 = dataclasses.replace(full, findings=tuple(f for f in full.findings if f.rule_id != "BCDR501"))
    one, two = (apply(r, entries, dt.date(2026, 12, 1)) for r in (full, without_501))
    assert [e.rule for e in two.suppressions.unmatched] == ["BCDR501", "BCDR502"]
    merged = merge_reports([one, two])
    assert [e.rule for e in merged.suppressions.unmatched] == ["BCDR502"]
    assert [e.expires for e in merged.suppressions.expired] == ["2020-01-01"]
    assert merged.summary.suppressed == 1
    assert merge_reports([full, without_501]).suppressions is None
