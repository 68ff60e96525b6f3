"""The report model and its JSON Schema: built from real rules run by the real engine."""
from __future__ import annotations

import copy
import json
from importlib import resources

import factories as f
import pytest
import report_scenarios as rs
from jsonschema import Draft202012Validator

from rules.base import REGISTRY, Rule, RuleMeta, fail
from scanner import inventory as m
from scanner.engine import RuleSettings, evaluate
from scanner.report import REPORT_SCHEMA_VERSION, ReportValidationError, build_report, failed_at_or_above, load_schema, validate_report


def test_schema_is_valid_draft_2020_12_and_shipped_as_package_data():
    text = resources.files("scanner.output").joinpath("report.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert load_schema() == schema
    assert schema["properties"]["schema_version"]["const"] == REPORT_SCHEMA_VERSION


def test_report_top_level_shape():
    inv = rs.scenario()
    report = rs.report(inv, arm_requests=57, tool_version="1.2.3")
    assert list(report) == ["schema_version", "tool", "scan", "coverage", "summary", "findings"]
    assert report["tool"] == {"name": "az-bcdr-scan", "version": "1.2.3"}
    assert report["scan"] == {"started_at": rs.STARTED, "finished_at": rs.FINISHED,
                              "subscriptions": [f.SUB, f.SUB2], "arm_requests": 57}


def test_findings_list_fail_and_not_assessed_with_rule_metadata():
    report = rs.report()
    got = {(x["rule_id"], x["status"], x["resource_id"].rsplit("/", 1)[-1]) for x in report["findings"]}
    assert got == {
        ("BCDR501", "FAIL", "app1"), ("BCDR601", "FAIL", "app1"),
        ("BCDR401", "FAIL", rs.BACKUP_RG), ("BCDR701", "FAIL", "00000000-0000-0000-0000-000000000001"),
        ("BCDR401", "NOT_ASSESSED", f.SUB2), ("BCDR701", "NOT_ASSESSED", "vault2"),
    }
    [rp] = [x for x in report["findings"] if x["rule_id"] == "BCDR501"]
    meta = REGISTRY["BCDR501"].meta
    assert rp["rule_name"] == meta.slug == "rp-collection-limit-reached"
    assert rp["severity"] == "critical"
    assert rp["subscription_id"] == f.SUB
    assert rp["resource_type"] == "Microsoft.Compute/virtualMachines"
    assert rp["resource_group"] == "rg-app"
    assert rp["resource_id"] == f.vm("app1").display_id  # display casing, as Azure returned it
    assert rp["evidence"]["restore_points"] == 18 and rp["evidence"]["limit"] == 18
    assert rp["predicted_errors"] == ["UserErrorRpCollectionLimitReached"]
    assert rp["references"] == list(meta.references) and rp["remediation"] == meta.remediation
    assert all(x["status"] != "PASS" for x in report["findings"])


def test_summary_counts_fail_by_severity_and_rule_and_passes():
    inv = rs.scenario()
    ev = rs.evaluation(inv)
    report = rs.report(inv, ev)
    s = report["summary"]
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
    scanned = rs.report(inv)["summary"]["resources_by_type"]
    assert scanned["virtual_machines"] == 2
    assert scanned["vaults"] == 2
    assert scanned["protected_items"] == 1
    assert scanned["backup_jobs"] == 1
    assert scanned["disks"] == 0
    assert "coverage" not in scanned and "subscriptions" not in scanned


def test_coverage_records_copied_with_failed_scopes():
    report = rs.report()
    by_key = {(c["subscription_id"], c["collector"]): c for c in report["coverage"]}
    assert len(report["coverage"]) == 2 * len(m.ALL_COLLECTORS)
    locks = by_key[(f.SUB2, m.LOCKS)]
    assert (locks["status"], locks["error_code"]) == ("failed", "AuthorizationFailed")
    jobs = by_key[(f.SUB2, m.BACKUP_JOBS)]
    assert jobs["status"] == "partial"
    assert jobs["failed_scopes"] == [f.vault("vault2", sub=f.SUB2).id]
    assert by_key[(f.SUB, m.LOCKS)]["status"] == "ok"


def test_fingerprint_stable_across_runs_and_id_casing():
    first = {(x["rule_id"], x["resource_id"].lower()): x["fingerprint"] for x in rs.report()["findings"]}
    second = {(x["rule_id"], x["resource_id"].lower()): x["fingerprint"] for x in rs.report()["findings"]}
    assert first == second
    # The same VM listed by an API that capitalises differently keeps its fingerprint.
    vm = f.vm("app1", disks=(m.VmDisk(name="d", lun=0, size_gb=70000),))
    shouting = f.with_(vm, display_id=vm.display_id.replace("/resourceGroups/", "/RESOURCEGROUPS/"))
    fp = [rs.report(f.inventory(virtual_machines=[v]), evaluate(f.inventory(virtual_machines=[v]), only=["BCDR601"]))
          ["findings"][0]["fingerprint"] for v in (vm, shouting)]
    assert fp[0] == fp[1]
    assert len(set(first.values())) == len(first)  # and it tells findings apart


def test_report_round_trips_through_json():
    report = rs.report(hostile=True)
    again = json.loads(json.dumps(report, allow_nan=False))
    assert again == report
    validate_report(again)


def test_failed_at_or_above():
    report = rs.report()
    assert failed_at_or_above(report, "critical") == 1
    assert failed_at_or_above(report, "high") == 4
    assert failed_at_or_above(report, "info") == 4
    with pytest.raises(ValueError):
        failed_at_or_above(report, "urgent")


def test_severity_override_from_settings_reaches_the_report():
    inv = rs.scenario()
    ev = rs.evaluation(inv, settings={"BCDR501": RuleSettings(severity="low")})
    report = rs.report(inv, ev)
    [rp] = [x for x in report["findings"] if x["rule_id"] == "BCDR501"]
    assert rp["severity"] == "low"
    assert report["summary"]["failed_by_severity"]["low"] == 1


def test_empty_scan_is_a_valid_report():
    inv = m.Inventory(collected_at=f.NOW)
    report = rs.report(inv, evaluate(inv))
    assert report["findings"] == [] and report["coverage"] == []
    assert report["summary"]["failed"] == 0


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
    ev = report["findings"][0]["evidence"]
    assert ev["tuple_"] == ["a", "b"]
    assert ev["set_"] == ["x", "y"]
    assert ev["nan"] == "nan"
    assert ev["model"]["code"] == "c"
    assert ev["nested"] == {"1": ["z"]}
    json.dumps(report, allow_nan=False)


def test_rule_errors_are_reported(scratch_rule):
    def broken(inv, params):
        raise KeyError("boom")
        yield  # pragma: no cover
    code = scratch_rule("BCDR998", broken)
    inv = f.inventory()
    report = rs.report(inv, evaluate(inv, only=[code]))
    assert report["summary"]["rule_errors"] and report["summary"]["rule_errors"][0].startswith(code)
    assert [x["status"] for x in report["findings"]] == ["NOT_ASSESSED"]


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
    _set(("schema_version",), "2.0"),
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
    _set(("findings", 0, "rule_name"), "Not A Slug"),
    _set(("findings", 0, "fingerprint"), "xyz"),
    _set(("findings", 0, "evidence"), []),
    _set(("findings", 0, "predicted_errors"), "UserError"),
    _set(("findings", 0, "resource_id"), ""),
    _set(("findings", 0, "extra"), 1),
    _delete(("findings", 0, "remediation")),
])
def test_schema_rejects(mutate):
    report = rs.report()
    bad = copy.deepcopy(report)
    mutate(bad)
    with pytest.raises(ReportValidationError):
        validate_report(bad)


def test_validation_error_names_the_path():
    bad = copy.deepcopy(rs.report())
    bad["findings"][1]["status"] = "PASS"
    with pytest.raises(ReportValidationError) as info:
        validate_report(bad)
    assert "findings/1/status" in str(info.value)


def test_build_report_is_what_the_cli_calls():
    # The CLI's call, positional, exactly as documented in the brief.
    inv = rs.scenario()
    report = build_report(evaluate(inv, only=["BCDR501"]), inv, rs.STARTED, rs.FINISHED, 3, "0.1.0")
    validate_report(report)
    assert report["scan"]["arm_requests"] == 3
