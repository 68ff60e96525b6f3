"""9xx Site Recovery: BCDR901-906."""
import factories as f
import pytest
from rulekit import passes, run, statuses

from scanner import ids
from scanner import inventory as m

ASR = f.vault("asr-vault", rg="rg-dr")


def _inv(*items, vms=(), jobs=(), **kw):
    return f.inventory(virtual_machines=list(vms), vaults=[ASR], replication_items=list(items),
                       replication_jobs=list(jobs), **kw)


def _outcome(code, inv, **params):
    findings = run(code, inv, **params)
    if not findings:
        assert passes(code, inv, **params) == 1
        return "PASS"
    [finding] = findings
    return finding.status


# ---- BCDR901 asr-no-recovery-point
def test_bcdr901_fails_without_recovery_point():
    src = f.vm("app")
    item = f.replication_item(source=src, has_recovery_point=False, last_recovery_point_time=None,
                              protection_state="InitialReplicationInProgress")
    [finding] = run("BCDR901", _inv(item, vms=[src]))
    assert (finding.status, finding.resource_id) == ("FAIL", item.display_id)
    assert finding.evidence["source_vm"] == src.id


@pytest.mark.parametrize("has,last,expected", [
    (True, "2026-11-22T05:55:00Z", "PASS"),
    (None, "2026-11-22T05:55:00Z", "PASS"),  # the provider gives a time: there is a point
    (None, None, "NOT_ASSESSED"),            # the provider says nothing
])
def test_bcdr901_pass_and_not_assessed(has, last, expected):
    item = f.replication_item(has_recovery_point=has, last_recovery_point_time=last)
    assert _outcome("BCDR901", _inv(item)) == expected


# ---- BCDR902 asr-reprotect-vm-not-running
def _failed_over(vm_power="deallocated", recovery_rg="rg-dr-app", **kw):
    src = f.vm("app", power_state="running")
    rec = f.vm("app", rg=recovery_rg, location="northeurope", power_state=vm_power)
    base = dict(source=src, active_location="Recovery", protection_state="UnplannedFailoverCommitted",
                allowed_operations=("ReverseReplicate", "DisableProtection"), recovery_vm_id=rec.id)
    base.update(kw)
    return src, rec, f.replication_item(**base)


def test_bcdr902_fails_when_failed_over_vm_is_not_running_even_if_the_source_namesake_runs():
    src, rec, item = _failed_over()
    [finding] = run("BCDR902", _inv(item, vms=[src, rec]))
    assert (finding.status, finding.resource_id) == ("FAIL", item.display_id)
    assert finding.evidence["vm_id"] == rec.display_id
    assert finding.evidence["power_state"] == "deallocated"
    assert finding.predicted_errors == ("78093", "reprotect failure")
    # An A2A item: the same check, without the VMware failback code (rule-catalog-v2 A).
    assert finding.evidence["predicted_error"].startswith("reprotect failure")


def test_bcdr902_passes_when_the_vm_runs():
    src, rec, item = _failed_over(vm_power="running")
    assert _outcome("BCDR902", _inv(item, vms=[src, rec])) == "PASS"


@pytest.mark.parametrize("kw", [
    dict(allowed_operations=("ReverseReplicate",), protection_state="FailoverCompleted"),
    dict(allowed_operations=(), protection_state="UnplannedFailoverCommitted"),
])
def test_bcdr902_recognises_waiting_for_reprotect_from_operations_or_state(kw):
    src, rec, item = _failed_over(**kw)
    assert _outcome("BCDR902", _inv(item, vms=[src, rec])) == "FAIL"


def test_bcdr902_ignores_items_that_are_not_waiting_for_reprotect():
    src = f.vm("app", power_state="deallocated")
    item = f.replication_item(source=src, allowed_operations=("PlannedFailover", "UnplannedFailover", "TestFailover"))
    inv = _inv(item, vms=[src])
    assert run("BCDR902", inv) == [] and passes("BCDR902", inv) == 0


def test_bcdr902_active_on_primary_checks_the_source_vm():
    src = f.vm("app", power_state="stopped")
    item = f.replication_item(source=src, active_location="Primary", allowed_operations=("ReverseReplicate",))
    [finding] = run("BCDR902", _inv(item, vms=[src]))
    assert finding.status == "FAIL" and finding.evidence["vm_id"] == src.display_id


def test_bcdr902_joins_on_id_whatever_the_casing():
    src, rec, item = _failed_over(recovery_rg="RG-DR-App")
    item = f.with_(item, recovery_vm_id=ids.norm(rec.display_id.upper().replace("/VIRTUALMACHINES/", "/virtualMachines/")))
    [finding] = run("BCDR902", _inv(item, vms=[src, rec]))
    assert finding.status == "FAIL" and finding.evidence["vm_id"] == rec.display_id


def test_bcdr902_fails_when_the_vm_is_gone_from_a_fully_read_subscription():
    src, rec, item = _failed_over()
    [finding] = run("BCDR902", _inv(item, vms=[src]))
    assert finding.status == "FAIL" and finding.evidence["vm_exists"] is False


def test_bcdr902_not_assessed_when_power_state_or_vm_is_unknown():
    src, rec, item = _failed_over(vm_power=None)
    assert _outcome("BCDR902", _inv(item, vms=[src, rec])) == "NOT_ASSESSED"
    src, rec, item = _failed_over()
    status_gap = _inv(item, vms=[src, rec],
                      coverage_overrides={m.VM_STATUS: f.partial(m.VM_STATUS, (rec.display_id,))})
    assert _outcome("BCDR902", status_gap) == "NOT_ASSESSED"
    vm_list_failed = _inv(item, coverage_overrides={m.VMS: f.failed(m.VMS)})
    assert _outcome("BCDR902", vm_list_failed) == "NOT_ASSESSED"
    other_sub = f.vm("app", sub=f.SUB2, power_state="deallocated")
    unscanned = _inv(f.with_(item, recovery_vm_id=other_sub.id), vms=[src])
    assert _outcome("BCDR902", unscanned) == "NOT_ASSESSED"
    no_vm_named = _inv(f.with_(item, recovery_vm_id=""), vms=[src, rec])
    assert _outcome("BCDR902", no_vm_named) == "NOT_ASSESSED"


# ---- BCDR903 asr-replication-unhealthy
def test_bcdr903_critical_is_high_and_explains_health_errors():
    item = f.replication_item(replication_health="Critical", health_errors=(
        m.HealthDetail(code="151099", message="agent not ready"), m.HealthDetail(code="999999")))
    [finding] = run("BCDR903", _inv(item))
    assert (finding.status, finding.severity, finding.resource_id) == ("FAIL", "high", item.display_id)
    codes = {e["code"]: e for e in finding.evidence["error_codes"]}
    assert codes["151099"]["link"].startswith("https://learn.microsoft.com/azure/site-recovery/site-recovery-extension-troubleshoot")
    assert codes["999999"]["meaning"] == "unknown code"


def test_bcdr903_warning_is_medium_and_normal_passes():
    warn, ok = f.replication_item("w", replication_health="Warning"), f.replication_item("n")
    findings = run("BCDR903", _inv(warn, ok))
    assert [(x.status, x.severity, x.resource_id) for x in findings] == [("FAIL", "medium", warn.display_id)]
    assert passes("BCDR903", _inv(warn, ok)) == 1


def test_bcdr903_not_assessed_without_health():
    assert _outcome("BCDR903", _inv(f.replication_item(replication_health=""))) == "NOT_ASSESSED"


# ---- BCDR904 asr-job-failed-known-error
def _job(name, state, start, code=None, scenario="Reprotect", target="obj-1"):
    return f.replication_job(name, ASR, state=state, start_time=start, scenario_name=scenario,
                             target_object_id=target, target_object_name="app",
                             errors=(m.JobError(code, "msg"),) if code else ())


def test_bcdr904_fails_for_failed_job_with_known_code():
    job = _job("j1", "Failed", "2026-11-21T10:00:00Z", "78093")
    [finding] = run("BCDR904", _inv(jobs=[job]))
    assert (finding.status, finding.resource_id) == ("FAIL", job.display_id)
    [entry] = finding.evidence["error_codes"]
    assert entry["code"] == "78093" and "#error-code-78093" in entry["link"]


def test_bcdr904_unknown_codes_of_other_jobs_and_successful_jobs_pass():
    inv = _inv(jobs=[_job("j1", "Failed", "2026-11-21T10:00:00Z", "12345", scenario="EnableDr"),
                     _job("j2", "Succeeded", "2026-11-21T11:00:00Z", target="x")])
    assert run("BCDR904", inv) == [] and passes("BCDR904", inv) == 1


@pytest.mark.parametrize("scenario", ["Reprotect", "UnplannedFailover", "PlannedFailover", "TestFailover", "Failback",
                                      "CommitFailover", "SwitchProtection"])
def test_bcdr904_any_failed_dr_operation_fires_and_an_unknown_code_is_shown_as_sent(scenario):
    # The first edition passed these: their code (12345) is not in the table.
    job = _job("j1", "Failed", "2026-11-21T10:00:00Z", "12345", scenario=scenario)
    [finding] = run("BCDR904", _inv(jobs=[job]))
    assert (finding.status, finding.resource_id) == ("FAIL", job.display_id)
    assert finding.evidence["dr_operation"] is True
    assert finding.evidence["error_codes"] == [{"code": "12345", "meaning": "unknown code", "fix": "", "link": ""}]


def test_bcdr904_test_failover_cleanup_is_not_a_dr_operation():
    job = _job("j1", "Failed", "2026-11-21T10:00:00Z", "12345", scenario="TestFailoverCleanup")
    inv = _inv(jobs=[job])
    assert run("BCDR904", inv) == [] and passes("BCDR904", inv) == 1


def test_bcdr904_later_success_of_the_same_job_resolves_the_failure():
    failed = _job("j1", "Failed", "2026-11-21T10:00:00Z", "95226")
    later = _job("j2", "Succeeded", "2026-11-21T12:00:00Z")
    assert run("BCDR904", _inv(jobs=[failed, later])) == []
    earlier = _job("j0", "Succeeded", "2026-11-20T12:00:00Z")
    other_item = _job("j3", "Succeeded", "2026-11-21T12:00:00Z", target="obj-2")
    assert statuses(run("BCDR904", _inv(jobs=[failed, earlier, other_item]))) == {failed.display_id.lower(): "FAIL"}


# ---- BCDR905 asr-rpo-breach
# rule-catalog-v2 A: 1,800 s (Site Recovery's 'RPO exceeded' sample alert); the first edition passed 3,600.
@pytest.mark.parametrize("rpo,expected", [(3601, "FAIL"), (3600, "FAIL"), (1801, "FAIL"), (1800, "PASS"), (60, "PASS")])
def test_bcdr905_threshold(rpo, expected):
    assert _outcome("BCDR905", _inv(f.replication_item(rpo_seconds=rpo))) == expected


def test_bcdr905_parameter_and_evidence():
    [finding] = run("BCDR905", _inv(f.replication_item(rpo_seconds=900)), max_rpo_seconds=600)
    assert finding.status == "FAIL" and finding.evidence["rpo_seconds"] == 900 and finding.evidence["max_rpo_seconds"] == 600


def test_bcdr905_missing_rpo_is_not_assessed_for_a2a_only():
    assert _outcome("BCDR905", _inv(f.replication_item(rpo_seconds=None))) == "NOT_ASSESSED"
    hyperv = _inv(f.replication_item(rpo_seconds=None, instance_type="HyperVReplicaAzure"))
    assert run("BCDR905", hyperv) == [] and passes("BCDR905", hyperv) == 0


# ---- BCDR906 asr-agent-update-required
@pytest.mark.parametrize("flag,expected", [(True, "FAIL"), (False, "PASS"), (None, "NOT_ASSESSED")])
def test_bcdr906(flag, expected):
    assert _outcome("BCDR906", _inv(f.replication_item(agent_update_required=flag))) == expected


def test_bcdr904_error_known_by_its_name_next_to_a_number():
    job = f.replication_job("j1", ASR, state="Failed", start_time="2026-11-21T10:00:00Z", target_object_id="obj-1",
                            errors=(m.JobError("999001", "msg", title="78093"),))
    [finding] = run("BCDR904", _inv(jobs=[job]))
    assert finding.status == "FAIL"
    [entry] = finding.evidence["error_codes"]
    assert entry["code"] == "999001 78093" and "#error-code-78093" in entry["link"]


# ---- rule-catalog-v2 section A: BCDR901 for the InMage providers, BCDR902 code by provider, BCDR906
@pytest.mark.parametrize("kind,kw,expected", [
    # The first edition left InMage (VMware failback) items undecided: NOT_ASSESSED.
    ("InMage", dict(has_recovery_point=False, last_recovery_point_time=None), "FAIL"),
    ("InMage", dict(has_recovery_point=True, last_recovery_point_time="2026-11-22T05:30:00Z"), "PASS"),
    ("InMageRcmFailback", dict(has_recovery_point=False, last_recovery_point_time=None), "FAIL"),
    ("InMageAzureV2", dict(has_recovery_point=True), "PASS"),
])
def test_bcdr901_decides_inmage_items(kind, kw, expected):
    item = f.replication_item(instance_type=kind, rpo_seconds=None, **kw)
    assert _outcome("BCDR901", _inv(item)) == expected


def test_bcdr901_inmage_item_whose_recovery_points_could_not_be_read_is_not_assessed():
    item = f.replication_item(instance_type="InMageRcmFailback", has_recovery_point=None, last_recovery_point_time=None,
                              rpo_seconds=None, recovery_point_error="AuthorizationFailed")
    [finding] = run("BCDR901", _inv(item))
    assert finding.status == "NOT_ASSESSED" and "AuthorizationFailed" in finding.message


def test_bcdr902_predicts_78093_only_for_vmware_failback():
    src, rec, item = _failed_over()
    inmage = f.with_(item, instance_type="InMageRcmFailback")
    [finding] = run("BCDR902", _inv(inmage, vms=[src, rec]))
    assert finding.status == "FAIL" and finding.evidence["predicted_error"] == "78093"


def test_bcdr906_predicts_mobility_agent_failures_not_151095():
    from rules import load_all
    meta = load_all()["BCDR906"].meta
    assert "151095" not in meta.predicts and any("Mobility" in p for p in meta.predicts)
    [finding] = run("BCDR906", _inv(f.replication_item(agent_update_required=True)))
    assert finding.status == "FAIL"
