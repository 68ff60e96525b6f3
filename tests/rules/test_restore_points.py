import factories as f
import pytest
from rulekit import passes, run, statuses

from scanner import inventory as m


def _inv(count, *, v2=False, policy_known=True, item_kw=None, **kw):
    vm = f.vm("app1")
    v = f.vault()
    p = f.policy(is_v2=v2, v=v)
    item = f.protected_item(vm, v, p, **(item_kw or {}))
    return f.inventory(virtual_machines=[vm], vaults=[v], backup_policies=[p] if policy_known else [],
                       protected_items=[item], restore_point_collections=[f.rpc(vm, count)], **kw)


@pytest.mark.parametrize("count,expected", [(17, None), (18, "FAIL"), (19, "FAIL")])
def test_bcdr501_boundary_at_18(count, expected):
    findings = run("BCDR501", _inv(count))
    assert [x.status for x in findings] == ([expected] if expected else [])
    if expected:
        assert findings[0].evidence["restore_points"] == count
        assert findings[0].severity == "critical"


def test_bcdr501_sums_all_collections_of_the_vm():
    vm = f.vm("app1")
    v = f.vault()
    p = f.policy(v=v)
    inv = f.inventory(virtual_machines=[vm], vaults=[v], backup_policies=[p],
                      protected_items=[f.protected_item(vm, v, p)],
                      restore_point_collections=[f.rpc(vm, 10, name="a"), f.rpc(vm, 8, name="b")])
    [finding] = run("BCDR501", inv)
    assert finding.evidence["restore_points"] == 18


def _v2_inv(count, *, retention=7, interval=4, window=24, on_demand=0, item_kw=None, **kw):
    """A VM on an Enhanced policy backing up every `interval` h inside a `window` h day, keeping
    `retention` days of instant restore points, with `on_demand` user-triggered backups in the last hours."""
    vm, v = f.vm("app1"), f.vault()
    p = f.policy("Enhanced", v=v, is_v2=True, schedule_run_frequency="Hourly", hourly_interval=interval,
                 schedule_window_hours=window, instant_rp_retention_days=retention)
    jobs = [f.job(v, name=f"od{i}", target=vm, start_time=_at(1 + i * 0.1), is_user_triggered=True) for i in range(on_demand)]
    return f.inventory(virtual_machines=[vm], vaults=[v], backup_policies=[p], backup_jobs=jobs,
                       protected_items=[f.protected_item(vm, v, p, **(item_kw or {}))],
                       restore_point_collections=[f.rpc(vm, count)], **kw)


@pytest.mark.parametrize("count,on_demand,expected", [
    # every 4 h all day for 7 days + 1 day of cleanup lag: 6 x 8 = 48 points can exist.
    (25, 0, None), (48, 0, None), (49, 0, "FAIL"),
    (50, 2, None),  # two on-demand backups seen: 50 is what the policy produced
    (51, 2, "FAIL"),
])
def test_bcdr501_enhanced_policy_fails_when_it_holds_more_than_its_schedule_produces(count, on_demand, expected):
    findings = run("BCDR501", _v2_inv(count, on_demand=on_demand))
    assert [x.status for x in findings] == ([expected] if expected else []), [x.message for x in findings]
    if expected:
        ev = findings[0].evidence
        assert ev["expected_max_restore_points"] == 48 + on_demand and ev["cleanup_lag_days"] == 1
        assert ev["policy"] == "Enhanced" and ev["on_demand_backups"] == on_demand


def test_bcdr501_enhanced_policy_platform_limit_is_500():
    # A 30-day, every-hour policy may produce 24 x 31 = 744 points; the platform stops at 500.
    [finding] = run("BCDR501", _v2_inv(500, retention=30, interval=1))
    assert finding.status == "FAIL" and finding.evidence["limit"] == 500
    assert "platform" in finding.evidence["limit_source"]
    assert run("BCDR501", _v2_inv(499, retention=30, interval=1)) == []
    [near] = run("BCDR502", _v2_inv(460, retention=30, interval=1))
    assert near.status == "FAIL" and near.evidence["limit"] == 500
    assert run("BCDR502", _v2_inv(449, retention=30, interval=1)) == []


def test_bcdr501_enhanced_policy_not_assessed_when_its_jobs_are_unreadable():
    v = f.vault()
    inv = _v2_inv(60, coverage_overrides={m.BACKUP_JOBS: f.partial(m.BACKUP_JOBS, (v.display_id,))})
    [finding] = run("BCDR501", inv)
    assert finding.status == "NOT_ASSESSED" and "on-demand backups unknown" in finding.message


def test_bcdr501_enhanced_policy_without_policy_type_in_item():
    # The policy list says V2 only through SimpleSchedulePolicyV2; the item has no policyType.
    assert run("BCDR501", _v2_inv(25, item_kw={"policy_type": ""})) == []
    # A daily Enhanced policy keeping 2 days makes at most 3 points: 25 means cleanup is not running.
    [finding] = run("BCDR501", _inv(25, v2=True, item_kw={"policy_type": ""}))
    assert finding.evidence["expected_max_restore_points"] == 3


def test_bcdr501_policy_type_from_item_when_policy_unreadable():
    findings = run("BCDR501", _inv(18, policy_known=False, item_kw={"policy_type": "V1"}))
    assert [x.status for x in findings] == ["FAIL"]


def test_bcdr501_not_assessed_when_count_unknown():
    findings = run("BCDR501", _inv(None))
    assert [x.status for x in findings] == ["NOT_ASSESSED"]


def test_bcdr501_joins_on_id_not_name():
    # Two VMs named app1 in different resource groups: only the backed-up one's collection counts.
    backed = f.vm("app1", rg="rg-a")
    twin = f.vm("app1", rg="rg-b")
    v = f.vault()
    p = f.policy(v=v)
    inv = f.inventory(virtual_machines=[backed, twin], vaults=[v], backup_policies=[p],
                      protected_items=[f.protected_item(backed, v, p)],
                      restore_point_collections=[f.rpc(backed, 3), f.rpc(twin, 30, name="twin")])
    assert run("BCDR501", inv) == []


def test_bcdr501_parameter_overrides_limit():
    assert [x.status for x in run("BCDR501", _inv(10), limit=10)] == ["FAIL"]


@pytest.mark.parametrize("count,expected", [(14, None), (15, "FAIL"), (17, "FAIL"), (18, None)])
def test_bcdr502_near_limit_window(count, expected):
    findings = run("BCDR502", _inv(count))
    assert [x.status for x in findings] == ([expected] if expected else [])


# ---------------------------------------------------------------- BCDR503
def _at(hours_before_now: float) -> str:
    from datetime import timedelta

    from scanner.timeutil import iso, parse
    return iso(parse(f.NOW) - timedelta(hours=hours_before_now))


def _proj_inv(retention=3, on_demand_hours=(), *, first_job_hours=6 * 24 + 23, user_flag=True, v2=False,
              policy_known=True, extra_jobs=(), vm=None, **kw):
    """A Standard-policy VM with one scheduled backup `first_job_hours` ago (it fixes the observed span)
    and one on-demand backup at each of `on_demand_hours` before NOW."""
    vm = vm or f.vm("app1")
    v = f.vault()
    p = f.policy(v=v, is_v2=v2, instant_rp_retention_days=retention)
    jobs = [f.job(v, name="sched", target=vm, start_time=_at(first_job_hours),
                  is_user_triggered=False if user_flag else None)]
    jobs += [f.job(v, name=f"od{i}", target=vm, start_time=_at(h), is_user_triggered=True if user_flag else None)
             for i, h in enumerate(on_demand_hours)]
    jobs += list(extra_jobs)
    return f.inventory(virtual_machines=[vm], vaults=[v], backup_policies=[p] if policy_known else [],
                       protected_items=[f.protected_item(vm, v, p)], backup_jobs=jobs, **kw)


@pytest.mark.parametrize("on_demand,expected", [(0, None), (22, None), (23, "FAIL"), (35, "FAIL")])
def test_bcdr503_boundary(on_demand, expected):
    # (3 + 1) days x (1 + 22/7) + 1 = 17.6: under the limit; 23 on-demand: 18.1. The first edition
    # (3 x (1 + 35/7) = 18) passed even 35.
    findings = run("BCDR503", _proj_inv(3, [h * 0.1 + 1 for h in range(on_demand)]))
    assert [x.status for x in findings] == ([expected] if expected else [])
    if expected:
        ev = findings[0].evidence
        assert (ev["on_demand_backups"], ev["days_observed"], ev["limit"], ev["cleanup_lag_days"]) == (on_demand, 7, 18, 1)
        assert ev["projected_restore_points"] == round(4 * (1 + on_demand / 7) + 1, 1)
        assert findings[0].severity == "medium"


def test_bcdr503_projection_counts_the_cleanup_lag_and_the_new_point():
    # 5 days, 2 on-demand a day: the first edition said 5 x 3 = 15 (pass); (5 + 1) x 3 + 1 = 19.
    [finding] = run("BCDR503", _proj_inv(5, [1 + i * 0.1 for i in range(14)]))
    assert finding.status == "FAIL" and finding.evidence["projected_restore_points"] == 19.0
    assert run("BCDR503", _proj_inv(5, [1 + i * 0.1 for i in range(14)]), cleanup_lag_days=0) == []


def test_bcdr503_rate_over_the_days_actually_observed():
    # Protected 44 h ago: 6 on-demand backups in 2 days is 3 a day, not 6/7 a day. 5 x 4 = 20 > 18.
    [finding] = run("BCDR503", _proj_inv(5, [1, 2, 3, 4, 5, 6], first_job_hours=44))
    assert finding.status == "FAIL"
    assert finding.evidence["days_observed"] == 2


def test_bcdr503_failed_cancelled_and_old_jobs_do_not_count():
    vm = f.vm("app1")
    v = f.vault()
    noise = [f.job(v, name=f"x{i}", target=vm, start_time=_at(2), is_user_triggered=True, status=status)
             for i, status in enumerate(["Failed", "Cancelled"] * 10)]
    noise += [f.job(v, name=f"old{i}", target=vm, start_time=_at(24 * 10), is_user_triggered=True) for i in range(20)]
    noise += [f.job(v, name=f"restore{i}", target=vm, start_time=_at(3), operation="Restore", is_user_triggered=True)
              for i in range(20)]
    inv = _proj_inv(5, [], vm=vm, extra_jobs=noise)
    assert run("BCDR503", inv) == []
    assert passes("BCDR503", inv) == 1


def test_bcdr503_without_user_flag_counts_backups_beyond_one_a_day():
    # isUserTriggered missing: 7 backups on 2026-11-21 means 6 on demand; over the 2 observed days
    # (first backup 29 h ago) that is 3 a day, 5 x 4 = 20.
    hours = [29 - i for i in range(7)]  # 2026-11-21 01:00 .. 07:00 after the scheduled one
    [finding] = run("BCDR503", _proj_inv(5, hours[1:], first_job_hours=hours[0], user_flag=False))
    assert finding.status == "FAIL"
    assert finding.evidence["on_demand_backups"] == 6
    assert finding.evidence["method"] != "isUserTriggered"


def test_bcdr503_enhanced_policy_is_not_projected():
    assert run("BCDR503", _proj_inv(5, [1] * 50, v2=True)) == []


def test_bcdr503_not_assessed_when_policy_or_retention_unknown():
    assert [x.status for x in run("BCDR503", _proj_inv(3, [1], policy_known=False))] == ["NOT_ASSESSED"]
    assert [x.status for x in run("BCDR503", _proj_inv(None, [1]))] == ["NOT_ASSESSED"]


def test_bcdr503_not_assessed_when_jobs_of_the_vault_unreadable():
    v = f.vault()
    inv = _proj_inv(3, [1], coverage_overrides={m.BACKUP_JOBS: f.partial(m.BACKUP_JOBS, (v.display_id,))})
    got = statuses(run("BCDR503", inv))
    # The VM whose jobs could not be counted, and (from the engine) the vault whose job list failed.
    assert got == {f.vm("app1").display_id.lower(): "NOT_ASSESSED", v.display_id.lower(): "NOT_ASSESSED"}


def test_bcdr503_twin_vms_jobs_are_not_counted():
    # app1 in rg-b (not protected in this vault any more) had many on-demand backups; they are not
    # rg-a/app1's, although both have the friendly name app1.
    backed = f.vm("app1", rg="rg-a")
    twin = f.vm("app1", rg="rg-b")
    v = f.vault()
    twin_jobs = [f.job(v, name=f"t{i}", target=twin, start_time=_at(1 + i * 0.1), is_user_triggered=True)
                 for i in range(40)]
    inv = _proj_inv(5, [], vm=backed, extra_jobs=twin_jobs)
    assert run("BCDR503", inv) == []
    assert passes("BCDR503", inv) == 1


def test_bcdr503_limit_and_window_are_parameters():
    inv = _proj_inv(3, [1, 2, 3, 4, 5, 6, 7])  # 3 x 2 = 6
    assert run("BCDR503", inv) == []
    assert [x.status for x in run("BCDR503", inv, limit=5)] == ["FAIL"]
    # Over a 1-day window the same 7 on-demand backups are 7 a day: 3 x 8 = 24.
    assert [x.status for x in run("BCDR503", inv, history_days=1)] == ["FAIL"]


# ---------------------------------------------------------------- BCDR504
def test_bcdr504_fails_for_collection_of_deleted_vm():
    gone = f.vm("old1", rg="rg-a")
    rpc = f.rpc(gone, 7, latest_restore_point_time="2026-11-01T22:00:00Z")
    [finding] = run("BCDR504", f.inventory(restore_point_collections=[rpc], virtual_machines=[f.vm("other")]))
    assert (finding.status, finding.severity, finding.resource_id) == ("FAIL", "low", rpc.display_id)
    assert finding.evidence["source_vm"] == gone.display_id
    assert finding.evidence["restore_points"] == 7


def test_bcdr504_passes_when_source_exists_in_other_casing():
    vm = f.vm("App1", rg="RG-A")
    upper = vm.display_id.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")
    rpc = f.rpc(vm, 3, source_display_id=upper)
    inv = f.inventory(virtual_machines=[vm], restore_point_collections=[rpc])
    assert run("BCDR504", inv) == []
    assert passes("BCDR504", inv) == 1


def test_bcdr504_same_name_in_another_rg_does_not_count():
    alive = f.vm("app1", rg="rg-a")
    gone = f.vm("app1", rg="rg-b")
    inv = f.inventory(virtual_machines=[alive], restore_point_collections=[f.rpc(gone, 2)])
    assert [x.status for x in run("BCDR504", inv)] == ["FAIL"]


def test_bcdr504_not_assessed_when_vm_list_failed_or_missed_the_source():
    gone = f.vm("old1")
    rpc = f.rpc(gone, 2)
    inv = f.inventory(restore_point_collections=[rpc], coverage_overrides={m.VMS: f.failed(m.VMS)})
    assert [(x.status, x.resource_id) for x in run("BCDR504", inv)] == [("NOT_ASSESSED", rpc.display_id)]
    inv = f.inventory(restore_point_collections=[rpc], coverage_overrides={m.VMS: f.partial(m.VMS, (gone.display_id,))})
    assert [x.status for x in run("BCDR504", inv)] == ["NOT_ASSESSED"]
    # A partial list that names another VM still proves this one is gone.
    inv = f.inventory(restore_point_collections=[rpc],
                      coverage_overrides={m.VMS: f.partial(m.VMS, (f.vm("someone-else").display_id,))})
    assert [x.status for x in run("BCDR504", inv)] == ["FAIL"]


def test_bcdr504_only_sources_in_scanned_subscriptions():
    foreign = f.vm("x1", sub="33333333-3333-3333-3333-333333333333")
    rpc = f.rpc(foreign, 2)
    rpc = f.with_(rpc, subscription_id=f.SUB)  # collection in a scanned subscription, VM elsewhere
    assert run("BCDR504", f.inventory(restore_point_collections=[rpc])) == []


def test_bcdr504_not_assessed_without_source():
    rpc = f.with_(f.rpc(f.vm("x1"), 2), source_id="", source_display_id="")
    assert [x.status for x in run("BCDR504", f.inventory(restore_point_collections=[rpc]))] == ["NOT_ASSESSED"]


def test_bcdr503_counts_jobs_whose_container_is_spelled_with_the_long_prefix():
    vm = f.vm("app1")
    v = f.vault()
    p = f.policy(v=v, instant_rp_retention_days=5)
    item = f.protected_item(vm, v, p)
    long_name = f"iaasvmcontainer;{item.container_name}"
    jobs = [f.job(v, name="sched", target=vm, start_time=_at(6 * 24 + 23), is_user_triggered=False)]
    jobs += [f.job(v, name=f"od{i}", target=vm, start_time=_at(1 + i * 0.1), is_user_triggered=True,
                   container_name=long_name) for i in range(30)]
    inv = f.inventory(virtual_machines=[vm], vaults=[v], backup_policies=[p], protected_items=[item], backup_jobs=jobs)
    # 30 on-demand backups reach the VM through its friendly name; 5 x (1 + 30/7) = 26.4.
    [finding] = run("BCDR503", inv)
    assert finding.evidence["on_demand_backups"] == 30
