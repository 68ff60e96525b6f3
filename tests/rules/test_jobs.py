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


# --------------------------------------------------------------------------- BCDR702-705
import pytest  # noqa: E402

OLD, NEW = "vault-old", "vault-new"


def _moved(job_status="InProgress", old_item_state=None, **inv_kw):
    """app1 is protected by vault-new now; a job for it runs in vault-old."""
    vm = f.vm("app1")
    old, new = f.vault(OLD), f.vault(NEW)
    items = [f.protected_item(vm, new)]
    if old_item_state:
        items.append(f.protected_item(vm, old, protection_state=old_item_state))
    job = f.job(old, target=vm, status=job_status, start_time="2026-11-22T01:00:00Z", end_time=None)
    return vm, old, new, job, f.inventory(virtual_machines=[vm], vaults=[old, new], protected_items=items,
                                          backup_jobs=[job], **inv_kw)


def test_bcdr702_fails_for_job_in_old_vault_joined_by_container_when_old_item_is_gone():
    vm, old, new, job, inv = _moved()
    [finding] = run("BCDR702", inv)
    assert (finding.status, finding.resource_id) == ("FAIL", job.display_id)
    assert finding.evidence["vm_id"] == vm.display_id
    assert finding.evidence["protecting_vaults"] == [new.display_id]
    assert finding.evidence["job_vault"] == old.display_id
    assert finding.evidence["hours_in_progress"] == 5.0


def test_bcdr702_fails_when_old_vault_keeps_a_stopped_item():
    _vm, _old, _new, job, inv = _moved(old_item_state="ProtectionStopped")
    assert [(x.status, x.resource_id) for x in run("BCDR702", inv)] == [("FAIL", job.display_id)]


def test_bcdr702_passes_for_job_in_the_protecting_vault_and_ignores_finished_jobs():
    vm, v = f.vm("app1"), f.vault()
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[f.protected_item(vm, v)],
                      backup_jobs=[f.job(v, target=vm, status="InProgress", end_time=None)])
    assert run("BCDR702", inv) == [] and passes("BCDR702", inv) == 1
    _vm, _old, _new, _job, done = _moved(job_status="Completed")
    assert run("BCDR702", done) == [] and passes("BCDR702", done) == 0


def test_bcdr702_same_vm_name_in_two_resource_groups_is_not_mixed_up():
    # rg-a/app1 is protected by vault-new; rg-b/app1 is protected by vault-old, where the job runs.
    a, b = f.vm("app1", rg="rg-a"), f.vm("app1", rg="rg-b")
    old, new = f.vault(OLD), f.vault(NEW)
    inv = f.inventory(virtual_machines=[a, b], vaults=[old, new],
                      protected_items=[f.protected_item(a, new), f.protected_item(b, old)],
                      backup_jobs=[f.job(old, target=b, status="InProgress", end_time=None)])
    assert run("BCDR702", inv) == [] and passes("BCDR702", inv) == 1


def test_bcdr702_container_join_tolerates_id_casing():
    vm = f.vm("App1", rg="RG-Prod")  # display id in mixed case, join key lower-cased
    old, new = f.vault(OLD), f.vault(NEW)
    job = f.job(old, status="InProgress", end_time=None, entity_friendly_name="App1",
                container_name="iaasvmcontainerv2;rg-prod;app1")
    inv = f.inventory(virtual_machines=[vm], vaults=[old, new], protected_items=[f.protected_item(vm, new)],
                      backup_jobs=[job])
    [finding] = run("BCDR702", inv)
    assert finding.status == "FAIL" and finding.evidence["vm_id"] == vm.display_id


def test_bcdr702_not_assessed_when_the_current_vault_could_not_be_read():
    vm, old, unreadable = f.vm("app1"), f.vault(OLD), f.vault(NEW)
    job = f.job(old, target=vm, status="InProgress", end_time=None)
    inv = f.inventory(virtual_machines=[vm], vaults=[old, unreadable], backup_jobs=[job],
                      coverage_overrides={m.PROTECTED_ITEMS: f.partial(m.PROTECTED_ITEMS, (unreadable.display_id,))})
    assert [(x.status, x.resource_id) for x in run("BCDR702", inv)] == [("NOT_ASSESSED", job.display_id)]


# ---- BCDR703
def _failing(item_status="Completed", jobs=(), **inv_kw):
    vm, v = f.vm("db1"), f.vault()
    item = f.protected_item(vm, v, last_backup_status=item_status)
    made = [f.job(v, name=f"00000000-0000-0000-0000-00000000000{i}", target=vm, status=status,
                  start_time=start, end_time=start, errors=tuple(m.JobError(c) for c in codes))
            for i, (status, start, codes) in enumerate(jobs)]
    return vm, item, f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item], backup_jobs=made, **inv_kw)


def test_bcdr703_fails_when_last_backup_failed_and_explains_every_code():
    vm, item, inv = _failing("Failed", jobs=[
        ("Failed", "2026-11-21T22:00:00Z", ("UserErrorGuestAgentStatusUnavailable",)),
        ("Completed", "2026-11-20T22:00:00Z", ())])
    [finding] = run("BCDR703", inv)
    assert (finding.status, finding.resource_id) == ("FAIL", vm.display_id)
    assert finding.evidence["protected_item"] == item.display_id
    [code] = finding.evidence["error_codes"]
    assert code["code"] == "UserErrorGuestAgentStatusUnavailable" and code["fix"] and code["link"].startswith("https://")


def test_bcdr703_fails_on_n_consecutive_failed_jobs_and_keeps_unknown_codes():
    _vm, _item, inv = _failing("Completed", jobs=[
        ("Failed", "2026-11-21T22:00:00Z", ("BackUpOperationFailedV2",)),
        ("Cancelled", "2026-11-21T10:00:00Z", ()),  # a cancel is neither success nor failure
        ("Failed", "2026-11-20T22:00:00Z", ("SomethingNew",)),
        ("Completed", "2026-11-19T22:00:00Z", ())])
    [finding] = run("BCDR703", inv)
    assert finding.status == "FAIL"
    assert finding.evidence["consecutive_failed_jobs"] == 2
    assert [(c["code"], c["meaning"] == "unknown code") for c in finding.evidence["error_codes"]] == [
        ("BackUpOperationFailedV2", False), ("SomethingNew", True)]


def test_bcdr703_one_failure_below_threshold_passes_and_threshold_is_a_parameter():
    jobs = [("Failed", "2026-11-21T22:00:00Z", ("ExtensionSnapshotFailedNoNetwork",)),
            ("Completed", "2026-11-20T22:00:00Z", ())]
    _vm, _item, inv = _failing("Completed", jobs=jobs)
    assert run("BCDR703", inv) == [] and passes("BCDR703", inv) == 1
    assert [x.status for x in run("BCDR703", inv, failed_jobs=1)] == ["FAIL"]


def test_bcdr703_newer_success_overrides_a_stale_failed_item_status():
    _vm, _item, inv = _failing("Failed", jobs=[("Completed", "2026-11-22T02:00:00Z", ())])
    assert run("BCDR703", inv) == []  # item.last_backup_time is 2026-11-21T22:00, the success is newer


def test_bcdr703_not_assessed_when_job_history_missing_and_item_looks_fine():
    vm, item, inv = _failing("Completed", coverage_overrides={m.BACKUP_JOBS: f.failed(m.BACKUP_JOBS)})
    [finding] = run("BCDR703", inv)
    assert (finding.status, finding.resource_id) == ("NOT_ASSESSED", vm.display_id)


def test_bcdr703_failed_item_still_fails_without_job_history():
    _vm, _item, inv = _failing("Failed", coverage_overrides={m.BACKUP_JOBS: f.failed(m.BACKUP_JOBS)})
    [finding] = run("BCDR703", inv)
    assert finding.status == "FAIL" and finding.evidence["error_codes"] == []


def test_bcdr703_jobs_of_a_namesake_vm_do_not_count():
    a, b, v = f.vm("db1", rg="rg-a"), f.vm("db1", rg="rg-b"), f.vault()
    bad = [f.job(v, name=f"j{i}", target=b, status="Failed", start_time=t, end_time=t)
           for i, t in enumerate(("2026-11-21T22:00:00Z", "2026-11-20T22:00:00Z"))]
    inv = f.inventory(virtual_machines=[a, b], vaults=[v], protected_items=[f.protected_item(a, v), f.protected_item(b, v)],
                      backup_jobs=bad)
    assert [(x.status, x.resource_id) for x in run("BCDR703", inv)] == [("FAIL", b.display_id)]


def test_bcdr703_evidence_shows_number_and_name_and_the_entry_known_by_either():
    # What the service sends: errorCode a number, the name in errorTitle (real responses).
    vm, v = f.vm("db1"), f.vault()
    item = f.protected_item(vm, v, last_backup_status="Failed")
    errors = (m.JobError("520512", title="UserErrorIncompatibleSrcTargetSystemsForRestore"),
              m.JobError("400000", title="UserErrorGuestAgentStatusUnavailable"), m.JobError("1073871825"))
    job = f.job(v, target=vm, status="Failed", errors=errors)
    [finding] = run("BCDR703", f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item], backup_jobs=[job]))
    assert finding.status == "FAIL"
    shown = {e["code"]: e for e in finding.evidence["error_codes"]}
    assert set(shown) == {"520512 UserErrorIncompatibleSrcTargetSystemsForRestore",
                          "400000 UserErrorGuestAgentStatusUnavailable", "1073871825"}
    assert shown["400000 UserErrorGuestAgentStatusUnavailable"]["link"].startswith("https://learn.microsoft.com/")
    assert shown["1073871825"]["meaning"] == "unknown code"
    assert finding.evidence["failed_jobs"][0]["codes"] == [
        "520512 UserErrorIncompatibleSrcTargetSystemsForRestore", "400000 UserErrorGuestAgentStatusUnavailable",
        "1073871825"]


def test_bcdr703_says_when_a_failed_jobs_details_could_not_be_read():
    vm, v = f.vm("db1"), f.vault()
    item = f.protected_item(vm, v, last_backup_status="Failed")
    unread, read = (f.job(v, name=n, target=vm, status="Failed", start_time=t, end_time=t)
                    for n, t in (("j-new", "2026-11-21T22:00:00Z"), ("j-old", "2026-11-20T22:00:00Z")))
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item], backup_jobs=[unread, read],
                      coverage_overrides={m.BACKUP_JOB_DETAILS: f.partial(m.BACKUP_JOB_DETAILS, (unread.id,))})
    [finding] = run("BCDR703", inv)
    assert finding.status == "FAIL"
    by_job = {j["job"]: j for j in finding.evidence["failed_jobs"]}
    assert by_job[unread.display_id]["error_details"] == "not read: backup_job_details partial: AuthorizationFailed"
    assert "error_details" not in by_job[read.display_id]


# ---- BCDR704
def _cancelling(start, **kw):
    vm, v = f.vm("app1"), f.vault()
    job = f.job(v, target=vm, status="Cancelling", start_time=start, end_time=None)
    return job, f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[f.protected_item(vm, v)],
                            backup_jobs=[job], **kw)


def test_bcdr704_fails_after_two_hours():
    job, inv = _cancelling("2026-11-22T03:00:00Z")
    [finding] = run("BCDR704", inv)
    assert (finding.status, finding.resource_id) == ("FAIL", job.display_id)
    assert finding.evidence["hours_since_start"] == 3.0
    assert finding.evidence["vm_id"].endswith("/virtualMachines/app1")


def test_bcdr704_boundary_and_parameter():
    _job, at_limit = _cancelling("2026-11-22T04:00:00Z")  # exactly 2 h
    assert run("BCDR704", at_limit) == [] and passes("BCDR704", at_limit) == 1
    assert [x.status for x in run("BCDR704", at_limit, max_hours=1)] == ["FAIL"]


def test_bcdr704_ignores_other_states():
    vm, v = f.vm("app1"), f.vault()
    inv = f.inventory(virtual_machines=[vm], vaults=[v],
                      backup_jobs=[f.job(v, target=vm, status="InProgress", start_time="2026-11-20T00:00:00Z", end_time=None)])
    assert run("BCDR704", inv) == []


# ---- BCDR705
def _outcome(code, inv):
    """'PASS' when the rule passed exactly one resource and reported nothing, else the statuses."""
    findings = run(code, inv)
    if not findings:
        assert passes(code, inv) == 1
        return ["PASS"]
    return [x.status for x in findings]


def _stale(p_kw=None, item_kw=None, jobs=(), **inv_kw):
    vm, v = f.vm("web1"), f.vault()
    p = f.policy(v=v, **(p_kw or {}))
    item = f.protected_item(vm, v, p, **(item_kw or {}))
    made = [f.job(v, name=f"j{i}", target=vm, status=s, start_time=t, end_time=t) for i, (s, t) in enumerate(jobs)]
    return vm, f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item], backup_policies=[p],
                           backup_jobs=made, **inv_kw)


@pytest.mark.parametrize("last,expected", [
    ("2026-11-20T17:00:00Z", "FAIL"),   # 37 h
    ("2026-11-20T18:00:00Z", "PASS"),   # 36 h: at the limit
    ("2026-11-20T19:00:00Z", "PASS"),   # 35 h
])
def test_bcdr705_daily_boundary(last, expected):
    vm, inv = _stale(item_kw=dict(last_backup_time=last))
    assert _outcome("BCDR705", inv) == [expected]
    findings = run("BCDR705", inv)
    if findings:
        assert findings[0].resource_id == vm.display_id
        assert findings[0].evidence["hours_since_success"] == 37.0 and findings[0].evidence["max_hours"] == 36


@pytest.mark.parametrize("window,last,expected", [
    (24, "2026-11-21T22:00:00Z", "FAIL"),  # every 4 h all day: limit 4 + 3 = 7 h, 8 h old
    (24, "2026-11-22T00:00:00Z", "PASS"),  # 6 h old
    (16, "2026-11-21T20:00:00Z", "PASS"),  # 08:00-24:00 window: the night gap is normal (limit 4 + 8 + 3 = 15 h)
    (16, "2026-11-21T14:00:00Z", "FAIL"),  # 16 h old
    (None, "2026-11-21T08:00:00Z", "PASS"),  # window unknown: daily bound (36 h), 22 h old
])
def test_bcdr705_hourly_uses_interval_window_and_grace(window, last, expected):
    _vm, inv = _stale(p_kw=dict(schedule_run_frequency="Hourly", hourly_interval=4, schedule_window_hours=window, is_v2=True),
                      item_kw=dict(last_backup_time=last))
    assert _outcome("BCDR705", inv) == [expected]


@pytest.mark.parametrize("last,expected", [("2026-11-14T17:00:00Z", "FAIL"), ("2026-11-14T19:00:00Z", "PASS")])
def test_bcdr705_weekly(last, expected):  # limit 180 h: 7 days + 12 h
    _vm, inv = _stale(p_kw=dict(schedule_run_frequency="Weekly"), item_kw=dict(last_backup_time=last))
    assert _outcome("BCDR705", inv) == [expected]


def test_bcdr705_a_recent_failed_backup_is_not_a_success():
    # lastBackupTime is recent but that operation failed; lastRecoveryPoint says 3 days.
    _vm, inv = _stale(item_kw=dict(last_backup_status="Failed", last_backup_time="2026-11-21T22:00:00Z",
                                   last_recovery_point_time="2026-11-19T06:00:00Z"))
    [finding] = run("BCDR705", inv)
    assert finding.status == "FAIL" and finding.evidence["last_success"] == "2026-11-19T06:00:00Z"


def test_bcdr705_a_successful_job_counts_as_last_success():
    _vm, inv = _stale(item_kw=dict(last_backup_status="Failed", last_backup_time="2026-11-21T22:00:00Z"),
                      jobs=[("Completed", "2026-11-21T20:00:00Z"), ("Failed", "2026-11-21T22:00:00Z")])
    assert run("BCDR705", inv) == [] and passes("BCDR705", inv) == 1


def test_bcdr705_not_assessed_without_policy_or_success_time():
    v = f.vault()
    _vm, no_policy = _stale(coverage_overrides={m.BACKUP_POLICIES: f.partial(m.BACKUP_POLICIES, (v.display_id,))})
    no_policy = f.with_(no_policy, backup_policies=())
    [finding] = run("BCDR705", no_policy)
    assert finding.status == "NOT_ASSESSED" and "backup_policies" in finding.message
    _vm, never = _stale(item_kw=dict(protection_state="IRPending", last_backup_status="", last_backup_time=None))
    assert [x.status for x in run("BCDR705", never)] == ["NOT_ASSESSED"]


def test_bcdr705_ignores_stopped_protection():
    _vm, inv = _stale(item_kw=dict(protection_state="ProtectionStopped", last_backup_time="2026-01-01T00:00:00Z"))
    assert run("BCDR705", inv) == [] and passes("BCDR705", inv) == 0


def test_job_join_uses_container_not_friendly_name_when_container_is_known():
    # A job for rg-b/app1 must not be attributed to the protected rg-a/app1 just because the
    # friendly names match (the job's container names another resource group).
    protected = f.vm("app1", rg="rg-a")
    other = f.vm("app1", rg="rg-b")
    v = f.vault()
    old_job = f.job(v, target=other, status="InProgress", start_time="2026-11-20T00:00:00Z", end_time=None)
    inv = f.inventory(virtual_machines=[protected, other], vaults=[v], protected_items=[f.protected_item(protected, v)],
                      backup_jobs=[old_job])
    assert inv.vm_id_for_job(old_job) == ""
    assert protected.id not in inv.backup_jobs_by_vm


def test_job_join_accepts_both_container_spellings():
    vm = f.vm("app1")
    v = f.vault()
    item = f.protected_item(vm, v, container_name="iaasvmcontainer;iaasvmcontainerv2;rg-app;app1")
    job = f.job(v, target=vm)
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item], backup_jobs=[job])
    assert inv.vm_id_for_job(job) == vm.id


# ---- rule-catalog-v2 section A: BCDR701 policy-relative thresholds and the first-backup limit
def _stuck(start, *, policy_kw=None, item_kw=None, operation="Backup"):
    vm, v = f.vm("app1"), f.vault()
    p = f.policy(v=v, **(policy_kw or {})) if policy_kw is not None else None
    item = f.protected_item(vm, v, p, **(item_kw or {}))
    return f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item], backup_policies=[p] if p else [],
                       backup_jobs=[f.job(v, target=vm, status="InProgress", operation=operation, start_time=start,
                                          end_time=None)])


@pytest.mark.parametrize("policy_kw,start,expected,limit", [
    # 4-hourly policy: a 10-hour job already collides with two scheduled backups (the first edition waited 24 h).
    (dict(schedule_run_frequency="Hourly", hourly_interval=4, is_v2=True), "2026-11-21T20:00:00Z", "FAIL", 4),
    (dict(schedule_run_frequency="Hourly", hourly_interval=4, is_v2=True), "2026-11-22T03:00:00Z", "PASS", 4),
    (dict(schedule_run_frequency="Daily"), "2026-11-21T07:00:00Z", "PASS", 24),    # 23 h
    (dict(schedule_run_frequency="Daily"), "2026-11-21T05:00:00Z", "FAIL", 24),    # 25 h
    (None, "2026-11-21T05:00:00Z", "FAIL", 24),                                      # policy unknown: 24 h
])
def test_bcdr701_threshold_is_the_policy_interval(policy_kw, start, expected, limit):
    findings = run("BCDR701", _stuck(start, policy_kw=policy_kw))
    assert [x.status for x in findings] == ([] if expected == "PASS" else ["FAIL"])
    if findings:
        assert findings[0].evidence["max_hours"] == limit


def test_bcdr701_first_backup_may_run_up_to_its_own_limit():
    never = dict(last_backup_status="", last_backup_time="2001-01-01T00:00:00Z", last_recovery_point_time=None)
    daily = dict(schedule_run_frequency="Daily")
    # 30 h into the first full backup: within 72 h.
    inv = _stuck("2026-11-21T00:00:00Z", policy_kw=daily, item_kw=never)
    assert run("BCDR701", inv) == [] and passes("BCDR701", inv) == 1
    [finding] = run("BCDR701", _stuck("2026-11-18T00:00:00Z", policy_kw=daily, item_kw=never))  # 102 h
    assert finding.status == "FAIL" and finding.evidence["max_hours"] == 72
    assert finding.evidence["threshold_basis"] == "first backup of the VM"
    # The same 30 h job on a VM that has backups before it is stuck.
    assert [x.status for x in run("BCDR701", _stuck("2026-11-21T00:00:00Z", policy_kw=daily))] == ["FAIL"]


def test_bcdr701_not_assessed_for_a_job_without_start_time():
    assert [x.status for x in run("BCDR701", _stuck(None, policy_kw=dict(schedule_run_frequency="Daily")))] == [
        "NOT_ASSESSED"]


# ---- rule-catalog-v2 section A: BCDR705 first backup never completed
NEVER = dict(protection_state="IRPending", last_backup_status="", last_backup_time="2001-01-01T00:00:00Z",
             last_recovery_point_time=None)


def test_bcdr705_first_backup_never_completed_fails_once_protected_longer_than_interval_plus_grace():
    # ConfigureBackup 3 days ago, every Backup since failed: the first edition said NOT_ASSESSED.
    vm, inv = _stale(item_kw=NEVER, jobs=[("Completed", "2026-11-19T06:00:00Z"), ("Failed", "2026-11-20T22:00:00Z")])
    inv = f.with_(inv, backup_jobs=(f.with_(inv.backup_jobs[0], operation="ConfigureBackup"), inv.backup_jobs[1]))
    [finding] = run("BCDR705", inv)
    assert (finding.status, finding.resource_id) == ("FAIL", vm.display_id)
    assert finding.evidence["first_backup_never_completed"] is True
    assert finding.evidence["protected_since"] == "2026-11-19T06:00:00Z" and finding.evidence["max_hours"] == 36


def test_bcdr705_first_backup_still_within_its_first_interval_passes():
    _vm, inv = _stale(item_kw=NEVER, jobs=[("Completed", "2026-11-21T22:00:00Z")])
    inv = f.with_(inv, backup_jobs=(f.with_(inv.backup_jobs[0], operation="ConfigureBackup"),))
    assert run("BCDR705", inv) == [] and passes("BCDR705", inv) == 1


def test_bcdr705_sentinel_is_never_a_success_time():
    # lastBackupTime 2001-01-01 with a success status would otherwise look 225,000 h stale, or fresh.
    _vm, inv = _stale(item_kw=dict(NEVER, last_backup_status="Completed"))
    [finding] = run("BCDR705", inv)
    assert finding.status == "NOT_ASSESSED" and "dates the protection" in finding.message


def test_bcdr705_first_backup_not_assessed_when_job_history_unreadable():
    v = f.vault()
    _vm, inv = _stale(item_kw=NEVER, coverage_overrides={m.BACKUP_JOBS: f.partial(m.BACKUP_JOBS, (v.display_id,))})
    [finding] = run("BCDR705", inv)
    assert finding.status == "NOT_ASSESSED" and "job history unavailable" in finding.message
