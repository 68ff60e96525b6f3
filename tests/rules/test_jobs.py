import factories as f
from rulekit import passes, run

from scanner import inventory as m


def _inv(start, status="InProgress", **kw):
    vm = f.vm("app1")
    v = f.vault()
    return f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[f.protected_item(vm, v)],
                       backup_jobs=[f.job(v, target=vm, status=status, start_time=start, end_time=None)], **kw)


def test_bcdr701_fails_after_24_hours_and_names_the_vm():
    [finding] = run("BCDR701", _inv("2026-11-21T05:00:00Z"))  # 25 h before NOW
    assert finding.status == "FAIL"
    assert finding.evidence["hours_in_progress"] == 25.0
    assert finding.evidence["vm_id"].endswith("/virtualMachines/app1")


def test_bcdr701_passes_under_threshold():
    inv = _inv("2026-11-21T07:00:00Z")  # 23 h
    assert run("BCDR701", inv) == []
    assert passes("BCDR701", inv) == 1


def test_bcdr701_ignores_finished_jobs():
    assert run("BCDR701", _inv("2026-11-01T00:00:00Z", status="Completed")) == []


def test_bcdr701_threshold_is_a_parameter():
    assert [x.status for x in run("BCDR701", _inv("2026-11-22T00:00:00Z"), max_hours=4)] == ["FAIL"]


def test_bcdr701_not_assessed_for_unreadable_vault():
    v = f.vault()
    inv = _inv("2026-11-22T00:00:00Z",
               coverage_overrides={m.BACKUP_JOBS: f.partial(m.BACKUP_JOBS, (v.display_id,))})
    findings = run("BCDR701", inv)
    assert [(x.status, x.resource_id) for x in findings] == [("NOT_ASSESSED", v.display_id)]
