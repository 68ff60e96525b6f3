"""The typed report model, its JSON document and Schema, and the exit-code policy: built from real
rules run by the real engine, and from real schema 1.0 reports saved in fixtures/reports/."""
from __future__ import annotations

import dataclasses
import io
import json
from importlib import resources
from pathlib import Path

import factories as f
import pytest
import report_scenarios as rs
from jsonschema import Draft202012Validator

from rules.base import REGISTRY, Rule, RuleMeta, fail
from scanner import inventory as m
from scanner.engine import RuleSettings, evaluate
from scanner.model import Report, ReportFormatError
from scanner.output import FORMATS, write_report
from scanner.policy import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_INTERNAL, EXIT_OK, exit_code
from scanner.report import REPORT_SCHEMA_VERSION, ReportValidationError, build_report, load_schema, validate_report

OLD_REPORTS = Path(__file__).resolve().parent.parent / "fixtures" / "reports"


def test_schema_is_valid_draft_2020_12_and_shipped_as_package_data():
    text = resources.files("scanner.output").joinpath("report.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert load_schema() == schema
    assert schema["properties"]["schema_version"]["const"] == REPORT_SCHEMA_VERSION


def test_report_top_level_shape():
    inv = rs.scenario()
    doc = rs.report(inv, arm_requests=57, tool_version="1.2.3").to_dict()
    assert list(doc) == ["schema_version", "tool", "scan", "rules", "coverage", "summary", "readiness", "findings",
                         "passed"]
    assert doc["schema_version"] == REPORT_SCHEMA_VERSION == "2.4"
    assert doc["tool"] == {"name": "az-bcdr-scan", "version": "1.2.3"}
    assert doc["scan"] == {"started_at": rs.STARTED, "finished_at": rs.FINISHED,
                           "subscriptions": [f.SUB, f.SUB2], "arm_requests": 57,
                           "scope": {"kind": "subscriptions", "management_groups": []}}


def test_passed_resources_are_kept_by_rule_and_match_the_counts():
    report = rs.report()
    doc = report.to_dict()
    assert {code: len(ids) for code, ids in doc["passed"].items()} == {
        code: n for code, n in doc["summary"]["passed_by_rule"].items() if n}
    # app1's restore point collection is at the limit (BCDR501 FAIL) but holds no expired points
    # (BCDR502 PASS): the pass is listed by the VM's id as Azure returned it.
    assert doc["passed"] == {"BCDR502": [f.vm("app1", rg="rg-app").display_id]}
    assert Report.from_dict(doc).passed_resources == report.passed_resources
    older = {k: v for k, v in doc.items() if k != "passed"} | {"schema_version": "2.1"}
    assert Report.from_dict(older).passed_resources == {}  # a 2.1 report loads, with no passed ids


def test_findings_list_fail_and_not_assessed_and_refer_to_their_rule():
    report = rs.report()
    got = {(x.rule_id, x.status, x.resource_id.rsplit("/", 1)[-1]) for x in report.findings}
    assert got == {
        ("BCDR501", "FAIL", "app1"), ("BCDR601", "FAIL", "app1"),
        ("BCDR401", "FAIL", rs.BACKUP_RG), ("BCDR701", "FAIL", "00000000-0000-0000-0000-000000000001"),
        ("BCDR401", "NOT_ASSESSED", f.SUB2), ("BCDR701", "NOT_ASSESSED", "vault2"),
    }
    [rp] = [x for x in report.findings if x.rule_id == "BCDR501"]
    assert rp.severity == "critical"
    assert rp.subscription_id == f.SUB
    assert rp.resource_type == "Microsoft.Compute/virtualMachines"
    assert rp.resource_group == "rg-app"
    assert rp.resource_id == f.vm("app1").display_id  # display casing, as Azure returned it
    assert rp.evidence["restore_points"] == 18 and rp.evidence["limit"] == 18
    assert all(x.status != "PASS" for x in report.findings)
    # Rule metadata is not copied onto findings: it is in rules[], once.
    assert set(report.to_dict()["findings"][0]) == {
        "rule_id", "status", "severity", "subscription_id", "resource_id", "resource_type", "resource_group",
        "message", "evidence", "fingerprint", "affected_vms"}
    assert rp.affected_vms == (f.vm("app1").id,)  # the VMs it concerns, lower-cased (schema 2.1)


def test_rules_section_lists_every_rule_that_ran_once_with_its_metadata():
    inv = rs.scenario()
    report = rs.report(inv, rs.evaluation(inv))
    assert [r.id for r in report.rules] == ["BCDR401", "BCDR501", "BCDR502", "BCDR601", "BCDR602", "BCDR701"]
    rule = report.rule("BCDR501")
    meta = REGISTRY["BCDR501"].meta
    assert (rule.slug, rule.title, rule.severity, rule.category) == (
        "rp-collection-limit-reached", meta.title, "critical", "restore-points")
    assert rule.title and rule.title != rule.slug  # the catalog's title reaches the report
    assert rule.predicts == ("UserErrorRpCollectionLimitReached",)
    assert rule.remediation == meta.remediation and rule.references == meta.references
    assert rule.params == meta.defaults() and rule.params  # params as used
    doc = report.to_dict()["rules"][1]
    assert doc["id"] == "BCDR501" and doc["title"] == meta.title and doc["params"] == meta.defaults()


def test_rules_section_records_the_config_it_ran_with():
    inv = rs.scenario()
    ev = rs.evaluation(inv, only=("BCDR501",), settings={
        "BCDR501": RuleSettings(severity="low", params={"limit": 19, "near_limit": 16})})
    rule = rs.report(inv, ev).rule("BCDR501")
    assert rule.severity == "low"
    assert rule.params["limit"] == 19 and rule.params["near_limit"] == 16


def test_summary_counts_fail_by_severity_and_rule_and_passes():
    inv = rs.scenario()
    ev = rs.evaluation(inv)
    report = rs.report(inv, ev)
    s = report.summary.to_dict()
    assert s == report.to_dict()["summary"]
    assert s["failed_by_severity"] == {"critical": 1, "high": 3, "medium": 0, "low": 0, "info": 0}
    assert s["failed_by_rule"] == {"BCDR401": 1, "BCDR501": 1, "BCDR502": 0, "BCDR601": 1, "BCDR602": 0, "BCDR701": 1}
    assert s["not_assessed_by_rule"]["BCDR401"] == 1 and s["not_assessed_by_rule"]["BCDR701"] == 1
    assert (s["failed"], s["not_assessed"]) == (4, 2)
    # PASS results are counted, not listed: the VM at 18 is past "near", so BCDR502 passes it.
    assert s["passed_by_rule"]["BCDR502"] == ev.passed["BCDR502"] == 1
    assert s["passed"] == sum(ev.passed.values())
    assert s["rules_run"] == list(ev.rules_run)
    assert s["rule_errors"] == []


def test_resources_by_type_counts_inventory_items():
    inv = rs.scenario()
    scanned = rs.report(inv).summary.resources_by_type
    assert scanned["virtual_machines"] == 2
    assert scanned["vaults"] == 2
    assert scanned["protected_items"] == 1
    assert scanned["backup_jobs"] == 1
    assert scanned["disks"] == 0
    assert "coverage" not in scanned and "subscriptions" not in scanned


def test_coverage_records_copied_with_failed_scopes():
    inv = rs.scenario()
    report = rs.report(inv)
    assert report.coverage == inv.coverage  # the Inventory's own records
    by_key = {(c["subscription_id"], c["collector"]): c for c in report.to_dict()["coverage"]}
    assert len(by_key) == 2 * len(m.ALL_COLLECTORS)
    locks = by_key[(f.SUB2, m.LOCKS)]
    assert (locks["status"], locks["error_code"]) == ("failed", "AuthorizationFailed")
    jobs = by_key[(f.SUB2, m.BACKUP_JOBS)]
    assert jobs["status"] == "partial"
    assert jobs["failed_scopes"] == [f.vault("vault2", sub=f.SUB2).id]
    assert by_key[(f.SUB, m.LOCKS)]["status"] == "ok"
    assert not report.complete and report.coverage_gaps == tuple(
        c for c in inv.coverage if c.status != m.OK)


def test_fingerprint_stable_across_runs_and_id_casing():
    first = {(x.rule_id, x.resource_id.lower()): x.fingerprint for x in rs.report().findings}
    second = {(x.rule_id, x.resource_id.lower()): x.fingerprint for x in rs.report().findings}
    assert first == second
    # The same VM listed by an API that capitalises differently keeps its fingerprint.
    vm = f.vm("app1", disks=(m.VmDisk(name="d", lun=0, size_gb=70000),))
    shouting = f.with_(vm, display_id=vm.display_id.replace("/resourceGroups/", "/RESOURCEGROUPS/"))
    fp = [rs.report(f.inventory(virtual_machines=[v]), evaluate(f.inventory(virtual_machines=[v]), only=["BCDR601"]))
          .findings[0].fingerprint for v in (vm, shouting)]
    assert fp[0] == fp[1]
    assert len(set(first.values())) == len(first)  # and it tells findings apart


def test_report_round_trips_through_json():
    report = rs.report(hostile=True)
    stream = io.StringIO()
    write_report(report, "json", stream)
    again = json.loads(stream.getvalue())
    assert again == report.to_dict()
    validate_report(again)
    assert Report.from_dict(again) == report
    assert Report.from_json(stream.getvalue()) == report


def test_failed_at_or_above():
    report = rs.report()
    assert report.failed_at_or_above("critical") == 1
    assert report.failed_at_or_above("high") == 4
    assert report.failed_at_or_above("info") == 4
    with pytest.raises(ValueError):
        report.failed_at_or_above("urgent")


# ---- the exit-code policy (README "Exit codes"): one function of the report
def test_exit_code_fail_at_or_above_threshold_wins_over_incomplete_coverage():
    report = rs.report()  # 1 critical + 3 high FAIL, and locks/backup_jobs coverage gaps
    assert exit_code(report, "critical") == EXIT_FINDINGS
    assert exit_code(report, "high") == EXIT_FINDINGS
    assert exit_code(report, "info") == EXIT_FINDINGS


def test_exit_code_incomplete_when_nothing_reaches_the_threshold():
    inv = rs.scenario()
    report = rs.report(inv, rs.evaluation(inv, settings={
        code: RuleSettings(severity="medium") for code in ("BCDR401", "BCDR501", "BCDR601", "BCDR701")}))
    assert report.failed_at_or_above("medium") == 4
    assert exit_code(report, "high") == EXIT_INCOMPLETE
    assert exit_code(report, "none") == EXIT_INCOMPLETE
    assert exit_code(report, "medium") == EXIT_FINDINGS


def test_exit_code_clean_only_when_complete():
    inv = f.inventory(virtual_machines=[f.vm()])
    report = rs.report(inv, evaluate(inv, only=["BCDR501"]))
    assert report.complete and not report.findings
    assert exit_code(report, "info") == EXIT_OK
    incomplete = f.inventory(virtual_machines=[f.vm()], coverage_overrides={m.LOCKS: f.failed(m.LOCKS)})
    assert exit_code(rs.report(incomplete, evaluate(incomplete, only=["BCDR501"])), "info") == EXIT_INCOMPLETE


def test_exit_code_internal_when_a_rule_raised(scratch_rule):
    def broken(inv, params):
        raise KeyError("boom")
        yield  # pragma: no cover
    inv = rs.scenario()
    report = rs.report(inv, evaluate(inv, only=[scratch_rule("BCDR998", broken), "BCDR501"]))
    assert report.failed_at_or_above("critical") == 1
    assert exit_code(report, "high") == EXIT_INTERNAL  # a bug is never hidden behind a finding


def test_severity_override_from_settings_reaches_the_report():
    inv = rs.scenario()
    ev = rs.evaluation(inv, settings={"BCDR501": RuleSettings(severity="low")})
    report = rs.report(inv, ev)
    [rp] = [x for x in report.findings if x.rule_id == "BCDR501"]
    assert rp.severity == "low" and report.rule("BCDR501").severity == "low"
    assert report.summary.failed_by_severity["low"] == 1


def test_empty_scan_is_a_valid_report():
    inv = m.Inventory(collected_at=f.NOW)
    report = rs.report(inv, evaluate(inv))
    assert report.findings == () and report.coverage == ()
    assert report.summary.failed == 0
    assert {r.id for r in report.rules} == {code for code, r in REGISTRY.items() if r.meta.enabled_by_default}


@pytest.fixture
def scratch_rule(monkeypatch):
    """Register a throwaway rule for the duration of one test (the registry is global)."""
    def register(code: str, fn, params=()):
        meta = RuleMeta(code=code, slug=f"scratch-{code.lower()}", severity="low", title="scratch",
                        predicts=(), source="test", remediation="none", references=(), params=tuple(params))
        monkeypatch.setitem(REGISTRY, code, Rule(meta=meta, fn=fn))
        return code
    return register


def test_evidence_is_made_json_plain(scratch_rule):
    def odd_evidence(inv, params):
        yield fail(inv.virtual_machines[0], "odd", tuple_=("a", "b"), set_={"y", "x"}, nan=float("nan"),
                   model=m.Status(code="c"), nested={1: ("z",)})
    code = scratch_rule("BCDR997", odd_evidence)
    inv = f.inventory(virtual_machines=[f.vm()])
    report = rs.report(inv, evaluate(inv, only=[code]))
    ev = report.findings[0].evidence
    assert ev["tuple_"] == ["a", "b"]
    assert ev["set_"] == ["x", "y"]
    assert ev["nan"] == "nan"
    assert ev["model"]["code"] == "c"
    assert ev["nested"] == {"1": ["z"]}
    json.dumps(report.to_dict(), allow_nan=False)


def test_rule_errors_are_reported(scratch_rule):
    def broken(inv, params):
        raise KeyError("boom")
        yield  # pragma: no cover
    code = scratch_rule("BCDR998", broken)
    inv = f.inventory()
    report = rs.report(inv, evaluate(inv, only=[code]))
    assert report.rule_errors and report.rule_errors[0].startswith(code)
    assert [x.status for x in report.findings] == ["NOT_ASSESSED"]
    assert [r.id for r in report.rules] == [code]


# ---- the schema is strict: each of these mutations of a valid report must be rejected
def _set(path, value):
    def mutate(report):
        node = report
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return mutate


def _delete(path):
    def mutate(report):
        node = report
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
    return mutate


@pytest.mark.parametrize("mutate", [
    _set(("extra",), 1),
    _set(("schema_version",), "1.0"),
    _set(("tool", "name"), "other-tool"),
    _set(("scan", "started_at"), "yesterday"),
    _set(("scan", "arm_requests"), -1),
    _set(("scan", "extra"), 1),
    _set(("coverage", 0, "status"), "broken"),
    _set(("coverage", 0, "extra"), 1),
    _delete(("coverage", 0, "error_code")),
    _set(("summary", "failed_by_severity", "urgent"), 1),
    _delete(("summary", "failed_by_severity", "info")),
    _set(("summary", "failed_by_rule", "XYZ1"), 1),
    _set(("summary", "resources_by_type", "virtual_machines"), -2),
    _delete(("summary", "resources_by_type")),
    _set(("findings", 0, "rule_id"), "BCDR5011"),
    _set(("findings", 0, "rule_id"), "bcdr501"),
    _set(("findings", 0, "status"), "PASS"),
    _set(("findings", 0, "severity"), "severe"),
    _set(("rules", 0, "slug"), "Not A Slug"),
    _set(("rules", 0, "severity"), "severe"),
    _set(("rules", 0, "params", "limit"), [1]),
    _set(("rules", 0, "extra"), 1),
    _delete(("rules", 0, "title")),
    _delete(("rules",)),
    _set(("coverage", 0, "items"), -1),
    _set(("findings", 0, "remediation"), "copied back"),
    _set(("findings", 0, "fingerprint"), "xyz"),
    _set(("findings", 0, "evidence"), []),
    _set(("findings", 0, "predicted_errors"), "UserError"),
    _set(("findings", 0, "resource_id"), ""),
    _set(("findings", 0, "extra"), 1),
    _delete(("findings", 0, "fingerprint")),
])
def test_schema_rejects(mutate):
    bad = rs.report().to_dict()
    mutate(bad)
    with pytest.raises(ReportValidationError):
        validate_report(bad)


def test_validation_error_names_the_path():
    bad = rs.report().to_dict()
    bad["findings"][1]["status"] = "PASS"
    with pytest.raises(ReportValidationError) as info:
        validate_report(bad)
    assert "findings/1/status" in str(info.value)


def test_build_report_is_what_the_cli_calls():
    # The CLI's call, positional, exactly as documented in the brief.
    inv = rs.scenario()
    report = build_report(evaluate(inv, only=["BCDR501"]), inv, rs.STARTED, rs.FINISHED, 3, "0.1.0")
    validate_report(report)
    assert report.scan.arm_requests == 3


# ---- Report.from_dict: what every writer relies on is checked on the way in
@pytest.mark.parametrize("mutate,where", [
    (_set(("schema_version",), "3.0"), "schema_version"),
    (_delete(("schema_version",)), "schema_version"),
    (_set(("findings", 0, "rule_id"), "BCDR999"), "findings/0/rule_id"),  # not in rules[]
    (_set(("findings", 0, "rule_id"), "BCDR5011"), "findings/0/rule_id"),
    (_set(("findings", 1, "status"), "PASS"), "findings/1/status"),
    (_set(("findings", 0, "severity"), "severe"), "findings/0/severity"),
    (_set(("findings", 0, "evidence"), []), "findings/0/evidence"),
    (_set(("findings", 0, "resource_id"), ""), "findings/0/resource_id"),
    (_delete(("findings", 0, "message")), "findings/0/message"),
    (_set(("rules", 0, "severity"), None), "rules/0/severity"),
    (_set(("rules", 0, "params"), {"limit": {"nested": 1}}), "rules/0/params/limit"),
    (_set(("rules", 1), {"id": "BCDR401"}), "rules"),  # BCDR401 listed twice (and incomplete)
    (_set(("coverage", 0, "status"), "broken"), "coverage/0/status"),
    (_set(("coverage", 0, "failed_scopes"), "x"), "coverage/0/failed_scopes"),
    (_set(("scan", "arm_requests"), True), "scan/arm_requests"),
    (_set(("summary", "passed_by_rule", "BCDR999"), 1), "passed_by_rule"),
    (_set(("summary", "rule_errors"), None), "summary/rule_errors"),
    (_set(("tool",), "az-bcdr-scan"), "tool"),
])
def test_from_dict_rejects_with_the_path(mutate, where):
    bad = rs.report().to_dict()
    mutate(bad)
    with pytest.raises(ReportFormatError) as info:
        Report.from_dict(bad)
    assert where in str(info.value)


@pytest.mark.parametrize("change,where", [
    (lambda r: {"findings": (dataclasses.replace(r.findings[0], severity="urgent"),)}, "findings/0/severity"),
    (lambda r: {"findings": (dataclasses.replace(r.findings[0], status="PASS"),)}, "findings/0/status"),
    (lambda r: {"findings": (dataclasses.replace(r.findings[0], rule_id="BCDR999"),)}, "findings/0/rule_id"),
    (lambda r: {"rules": (dataclasses.replace(r.rules[0], severity="<b>"),) + r.rules[1:]}, "rules/0/severity"),
    (lambda r: {"rules": r.rules + r.rules[:1]}, "listed twice"),
    (lambda r: {"coverage": (dataclasses.replace(r.coverage[0], status="fine"),)}, "coverage/0/status"),
])
def test_a_report_built_in_code_is_checked_too(change, where):
    report = rs.report()
    with pytest.raises(ReportFormatError) as info:
        dataclasses.replace(report, **change(report))
    assert where in str(info.value)


def test_from_json_rejects_what_is_not_json():
    with pytest.raises(ReportFormatError):
        Report.from_json("{not json")
    with pytest.raises(ReportFormatError):
        Report.from_json("[]")


# ---- schema 1.0 reports (saved from the scanner before rules[] existed) still load
# fixtures/ holds no subscription id outside the scrubbed range (test_collectors' hygiene check),
# so the scenario report was saved with the factories' two ids pseudonymised like a cassette.
SCRUBBED = {f.SUB: "00000000-0000-4000-8000-000000000111", f.SUB2: "00000000-0000-4000-8000-000000000222"}


def _old(name: str) -> dict:
    return json.loads((OLD_REPORTS / name).read_text(encoding="utf-8"))


def _scrubbed(report: Report) -> Report:
    text = json.dumps(report.to_dict())
    for real, fake in SCRUBBED.items():
        text = text.replace(real, fake)
    return Report.from_json(text)


V1_RULE_KEYS = ("rule_name", "predicted_errors", "remediation", "references")


def test_old_report_loads_with_everything_it_said():
    old = _old("v1.0-scenario-hostile.json")
    assert old["schema_version"] == "1.0" and "rule_name" in old["findings"][0]
    loaded = Report.from_dict(old)
    new = loaded.to_dict()
    # Findings keep every key but the rule metadata, which moved to rules[] unchanged; a 1.0 finding
    # names no affected VMs (2.1 added them), and the report has no readiness.
    assert new["findings"] == [{**{k: v for k, v in x.items() if k not in V1_RULE_KEYS}, "affected_vms": []}
                               for x in old["findings"]]
    assert loaded.readiness == () and new["readiness"]["vms"] == []
    for x in old["findings"]:
        rule = loaded.rule(x["rule_id"])
        assert (rule.slug, list(rule.predicts), rule.remediation, list(rule.references)) == tuple(
            x[k] for k in V1_RULE_KEYS)
    assert new["scan"] == old["scan"] and new["tool"] == old["tool"]
    assert new["coverage"] == [{**c, "items": 0} for c in old["coverage"]]  # 1.0 had no items count
    assert {k: v for k, v in new["summary"].items() if k != "suppressed"} == old["summary"]  # counts survive the upgrade exactly
    assert new["summary"]["suppressed"] == 0  # (schema 2.3 added the count)
    # The title, category and default severity come from the catalog; params were not recorded in 1.0.
    assert [r.id for r in loaded.rules] == old["summary"]["rules_run"]
    for rule in loaded.rules:
        meta = REGISTRY[rule.id].meta
        assert (rule.title, rule.category, rule.severity, rule.params) == (meta.title, meta.category, meta.severity, {})
    validate_report(loaded)  # and it is written back as a valid 2.0 document


def test_old_report_has_the_findings_the_same_scenario_has_now():
    # The scenario whose 1.0 report is saved, built by this version: its findings are the same
    # resources, rules and fingerprints (the rules' wording may have moved on since).
    old = Report.from_dict(_old("v1.0-scenario-hostile.json"))
    fresh = _scrubbed(rs.report(hostile=True))
    key = lambda r: sorted((x.status, x.rule_id, x.resource_id, x.fingerprint) for x in r.findings)  # noqa: E731
    assert key(old) == key(fresh)
    assert [r.id for r in old.rules] == [r.id for r in fresh.rules]


def test_old_demo_report_loads_and_renders_in_every_format():
    old = _old("v1.0-demo.json")
    loaded = Report.from_dict(old)
    assert sorted((x.status, x.rule_id, x.resource_id, x.fingerprint) for x in loaded.findings) == sorted(
        (x["status"], x["rule_id"], x["resource_id"], x["fingerprint"]) for x in old["findings"])
    assert {k: v for k, v in loaded.summary.to_dict().items() if k != "suppressed"} == old["summary"]
    assert [r.id for r in loaded.rules] == old["summary"]["rules_run"]
    assert all(r.title for r in loaded.rules)
    validate_report(loaded)
    for fmt in FORMATS:
        write_report(loaded, fmt, io.StringIO())


def test_old_report_of_a_rule_this_version_does_not_know_still_loads():
    old = _old("v1.0-scenario-hostile.json")
    for x in old["findings"]:
        if x["rule_id"] == "BCDR701":
            x["rule_id"] = "BCDR799"
    old["summary"]["rules_run"] = [c if c != "BCDR701" else "BCDR799" for c in old["summary"]["rules_run"]]
    for key in ("failed_by_rule", "not_assessed_by_rule", "passed_by_rule"):
        old["summary"][key]["BCDR799"] = old["summary"][key].pop("BCDR701")
    rule = Report.from_dict(old).rule("BCDR799")
    assert (rule.slug, rule.title, rule.category) == ("backup-job-stuck", "", "jobs")
    assert rule.severity == "high"  # what its findings said
