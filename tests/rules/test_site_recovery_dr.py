"""9xx Site Recovery, second edition: BCDR907-915."""
import factories as f
import pytest
from rulekit import outcome, passes, run

from scanner import ids
from scanner import inventory as m

ASR = f.vault("asr-vault", rg="rg-dr")
NOW = f.NOW  # 2026-11-22T06:00:00Z


def _inv(*items, vms=(), **kw):
    return f.inventory(virtual_machines=list(vms), vaults=[ASR], replication_items=list(items), **kw)


def _items_unreadable(code, *items, **kw):
    partial = _inv(*items, coverage_overrides={m.REPLICATION_ITEMS: f.partial(m.REPLICATION_ITEMS, (ASR.display_id,))}, **kw)
    assert [(x.status, x.resource_id) for x in run(code, partial)] == [("NOT_ASSESSED", ASR.display_id)]
    failed = _inv(*items, coverage_overrides={m.REPLICATION_ITEMS: f.failed(m.REPLICATION_ITEMS)}, **kw)
    assert [(x.status, x.resource_id) for x in run(code, failed)] == [("NOT_ASSESSED", f"/subscriptions/{f.SUB}")]


# ---------------------------------------------------------------- BCDR907 asr-disk-not-replicated
def _vm_with_disks():
    os_disk = f.disk("app-os", managed_by=f.vm("app").id)
    data = f.disk("app-data", managed_by=f.vm("app").id)
    vm = f.vm("app", disks=(m.VmDisk(name="app-os", managed_disk_id=os_disk.id, is_os_disk=True),
                            m.VmDisk(name="app-data", lun=0, managed_disk_id=data.id)))
    return vm, os_disk, data


def test_bcdr907_fails_for_a_disk_added_after_replication():
    vm, os_disk, data = _vm_with_disks()
    item = f.replication_item(source=vm, protected_disk_ids=(os_disk.id,))
    [finding] = run("BCDR907", _inv(item, vms=[vm], disks=[os_disk, data]))
    assert (finding.status, finding.resource_id, finding.severity) == ("FAIL", item.display_id, "high")
    assert finding.evidence["disks_not_replicated"] == ["app-data"]
    assert finding.affected_vms == (vm.id,)


def test_bcdr907_fails_for_a_lun_listed_as_unprotected():
    vm, os_disk, data = _vm_with_disks()
    item = f.replication_item(source=vm, protected_disk_ids=(os_disk.id, data.id), unprotected_disk_luns=(0,))
    [finding] = run("BCDR907", _inv(item, vms=[vm]))
    assert finding.evidence["disks_not_replicated"] == ["app-data"] and finding.evidence["unprotected_luns"] == [0]


def test_bcdr907_passes_when_every_disk_replicates():
    vm, os_disk, data = _vm_with_disks()
    item = f.replication_item(source=vm, protected_disk_ids=(os_disk.id.upper(), data.id))  # ids are normalised by the mapper
    item = f.with_(item, protected_disk_ids=tuple(ids.norm(d) for d in item.protected_disk_ids))
    assert outcome("BCDR907", _inv(item, vms=[vm])) == "PASS"


def test_bcdr907_not_assessed_without_disk_list_or_source_vm():
    vm, os_disk, _ = _vm_with_disks()
    assert outcome("BCDR907", _inv(f.replication_item(source=vm, protected_disk_ids=None), vms=[vm])) == "NOT_ASSESSED"
    blind = _inv(f.replication_item(source=vm, protected_disk_ids=(os_disk.id,)), coverage_overrides={m.VMS: f.failed(m.VMS)})
    assert outcome("BCDR907", blind) == "NOT_ASSESSED"
    _items_unreadable("BCDR907", f.replication_item(source=vm, protected_disk_ids=()), vms=[vm])


# ---------------------------------------------------------------- BCDR908 asr-test-failover-stale
@pytest.mark.parametrize("last,expected", [
    ("2026-10-01T00:00:00Z", "PASS"),  # 52 days
    ("2026-08-01T00:00:00Z", "FAIL"),  # 113 days
    ("0001-01-01T00:00:00Z", "NOT_ASSESSED"),  # the placeholder means no time, not 2,000 years
    (None, "NOT_ASSESSED"),
])
def test_bcdr908_age_of_the_last_test_failover(last, expected):
    assert outcome("BCDR908", _inv(f.replication_item(last_successful_test_failover_time=last))) == expected


def test_bcdr908_fails_on_health_error_161011_and_honours_plans_and_parameter():
    never = f.replication_item(health_errors=(m.HealthDetail(code="161011", category="TestFailover"),))
    [finding] = run("BCDR908", _inv(never))
    assert finding.status == "FAIL" and finding.evidence["health_error"] == "161011"
    # A test failover of a recovery plan that holds the item counts for the item.
    old = f.replication_item(last_successful_test_failover_time="2026-01-01T00:00:00Z")
    plan = f.recovery_plan(v=ASR, items=(old,), last_test_failover_time="2026-11-01T00:00:00Z")
    assert outcome("BCDR908", _inv(old, recovery_plans=[plan])) == "PASS"
    assert outcome("BCDR908", _inv(old, recovery_plans=[plan]), max_days=7) == "FAIL"


def test_bcdr908_stale_item_is_not_assessed_when_its_recovery_plans_are_unread():
    """A plan's drill counts for its items, so an old time of the item's own proves nothing while the
    vault's plans could not be read; a recent one still passes (a plan can only make it newer)."""
    old = f.replication_item(last_successful_test_failover_time="2026-08-01T00:00:00Z")
    recent = f.replication_item("item2", last_successful_test_failover_time="2026-10-01T00:00:00Z")
    for blind in (f.failed(m.RECOVERY_PLANS), f.partial(m.RECOVERY_PLANS, (ASR.display_id,))):
        inv = _inv(old, recent, coverage_overrides={m.RECOVERY_PLANS: blind})
        [finding] = run("BCDR908", inv)
        assert (finding.status, finding.resource_id) == ("NOT_ASSESSED", old.display_id)
        assert m.RECOVERY_PLANS in finding.evidence["reason"]
        assert passes("BCDR908", inv) == 1
    other_vault = f.partial(m.RECOVERY_PLANS, (f.vault("asr-other", rg="rg-dr").display_id,))
    assert outcome("BCDR908", _inv(old, coverage_overrides={m.RECOVERY_PLANS: other_vault})) == "FAIL"


def test_bcdr908_skips_items_not_replicating_and_not_assessed_when_unreadable():
    initial = f.replication_item(protection_state="UnprotectedStatesBegin")
    assert run("BCDR908", _inv(initial)) == [] and passes("BCDR908", _inv(initial)) == 0
    _items_unreadable("BCDR908", f.replication_item())


# ---------------------------------------------------------------- BCDR909 asr-failover-health-degraded
def test_bcdr909_critical_and_warning():
    err = m.HealthDetail(code="161011", category="TestFailover", level="Warning", message="No successful test failover")
    [crit] = run("BCDR909", _inv(f.replication_item(failover_health="Critical", health_errors=(err,))))
    assert (crit.status, crit.severity) == ("FAIL", "high")
    assert crit.evidence["health_errors"][0]["code"] == "161011"
    [warn] = run("BCDR909", _inv(f.replication_item(failover_health="Warning")))
    assert (warn.status, warn.severity) == ("FAIL", "medium")


@pytest.mark.parametrize("health,expected", [("Normal", "PASS"), ("", "NOT_ASSESSED"), ("Unknown", "NOT_ASSESSED")])
def test_bcdr909_pass_and_not_assessed(health, expected):
    assert outcome("BCDR909", _inv(f.replication_item(failover_health=health))) == expected
    _items_unreadable("BCDR909", f.replication_item(failover_health="Critical"))


# ---------------------------------------------------------------- BCDR910 asr-test-failover-not-cleaned-up
CLEANUP = ("TestFailoverCleanup", "DisableProtection")


def test_bcdr910_fails_when_cleanup_pending_for_more_than_a_day():
    item = f.replication_item(allowed_operations=CLEANUP, test_failover_state="TestFailoverCompleted",
                              last_successful_test_failover_time="2026-11-19T06:00:00Z")
    [finding] = run("BCDR910", _inv(item))
    assert (finding.status, finding.severity) == ("FAIL", "low") and "72 h" in finding.message


def test_bcdr910_uses_the_test_failover_job_end_and_the_parameter():
    item = f.replication_item(allowed_operations=CLEANUP)
    job = f.replication_job("tfo", v=ASR, scenario_name="TestFailover", target_object_id=item.name,
                            start_time="2026-11-22T01:00:00Z", end_time="2026-11-22T02:00:00Z")
    assert outcome("BCDR910", _inv(item, replication_jobs=[job])) == "PASS"  # 4 h ago
    assert outcome("BCDR910", _inv(item, replication_jobs=[job]), max_hours=2) == "FAIL"


def test_bcdr910_pass_without_pending_cleanup_and_not_assessed_without_time():
    assert outcome("BCDR910", _inv(f.replication_item())) == "PASS"
    assert outcome("BCDR910", _inv(f.replication_item(allowed_operations=CLEANUP))) == "NOT_ASSESSED"
    _items_unreadable("BCDR910", f.replication_item(allowed_operations=CLEANUP))


def _jobs_unreadable(*items, **kw):
    """The item list read, the vault's Site Recovery job list not (partial: this vault; failed: the subscription)."""
    partial = _inv(*items, coverage_overrides={m.REPLICATION_JOBS: f.partial(m.REPLICATION_JOBS, (ASR.display_id,))}, **kw)
    failed = _inv(*items, coverage_overrides={m.REPLICATION_JOBS: f.failed(m.REPLICATION_JOBS)}, **kw)
    return partial, failed


@pytest.mark.parametrize("last_test_failover", ["2026-11-19T06:00:00Z", "2026-11-22T04:00:00Z", None])
def test_bcdr910_not_assessed_when_the_job_list_of_the_vault_was_not_read(last_test_failover):
    """The newest TestFailover job is when the drill ended; without the job list the item's own (last
    successful) test failover time can neither fail it (a later drill may have ended since) nor pass it."""
    item = f.replication_item(allowed_operations=CLEANUP, test_failover_state="TestFailoverCompleted",
                              last_successful_test_failover_time=last_test_failover)
    partial, failed = _jobs_unreadable(item)
    findings = run("BCDR910", partial)
    assert {(x.status, x.resource_id) for x in findings} == {("NOT_ASSESSED", ASR.display_id), ("NOT_ASSESSED", item.display_id)}
    assert all("replication_jobs partial: AuthorizationFailed" in x.message for x in findings)
    assert passes("BCDR910", partial) == 0
    assert [(x.status, x.resource_id) for x in run("BCDR910", failed)] == [("NOT_ASSESSED", f"/subscriptions/{f.SUB}")]
    assert passes("BCDR910", failed) == 0


def test_bcdr910_only_the_vault_whose_job_list_is_missing_is_not_assessed():
    other = f.vault("other-vault", rg="rg-dr")
    pending = f.replication_item(allowed_operations=CLEANUP, last_successful_test_failover_time="2026-11-19T06:00:00Z")
    clean, elsewhere = f.replication_item("rpi-clean"), f.replication_item("rpi-elsewhere", other)
    inv = f.inventory(vaults=[ASR, other], replication_items=[pending, clean, elsewhere],
                      coverage_overrides={m.REPLICATION_JOBS: f.partial(m.REPLICATION_JOBS, (other.display_id,))})
    assert {(x.status, x.resource_id) for x in run("BCDR910", inv)} == {("FAIL", pending.display_id),
                                                                        ("NOT_ASSESSED", other.display_id)}
    assert passes("BCDR910", inv) == 1  # rpi-clean; not the item of the vault whose jobs were not read


def test_bcdr910_asks_for_the_job_list():
    """The scan plan comes from the rules' needs: BCDR910 alone still collects the Site Recovery jobs."""
    import rules
    assert m.REPLICATION_JOBS in rules.collectors_needed(["BCDR910"])


# ---------------------------------------------------------------- BCDR911 asr-not-reprotected
def _committed(**kw):
    base = dict(active_location="Recovery", protection_state="FailoverCommitted",
                allowed_operations=("ReverseReplicate", "DisableProtection"), last_successful_failover_time="2026-11-17T06:00:00Z")
    base.update(kw)
    return f.replication_item(**base)


def test_bcdr911_fails_five_days_after_failover_without_reprotect():
    [finding] = run("BCDR911", _inv(_committed()))
    assert (finding.status, finding.severity) == ("FAIL", "high") and "120 h" in finding.message


def test_bcdr911_passes_inside_the_window_and_for_protected_items():
    assert outcome("BCDR911", _inv(_committed(last_successful_failover_time="2026-11-22T01:00:00Z"))) == "PASS"
    assert outcome("BCDR911", _inv(_committed()), max_hours=200) == "PASS"
    assert outcome("BCDR911", _inv(f.replication_item())) == "PASS"


def test_bcdr911_not_assessed_without_failover_time():
    assert outcome("BCDR911", _inv(_committed(last_successful_failover_time=None))) == "NOT_ASSESSED"
    _items_unreadable("BCDR911", _committed())


# ---------------------------------------------------------------- BCDR912 asr-agent-expiring
def test_bcdr912_agent_or_certificate_expiring():
    soon = f.replication_item(agent_expiry_time="2026-12-01T00:00:00Z", agent_certificate_expiry_time="2027-11-01T00:00:00Z")
    [finding] = run("BCDR912", _inv(soon))
    assert finding.status == "FAIL" and "agent expires 2026-12-01" in finding.message
    expired = f.replication_item(agent_expiry_time="9999-12-31T23:59:59.9999999", agent_certificate_expiry_time="2026-01-15T08:55:33Z")
    [finding] = run("BCDR912", _inv(expired))
    assert "agent certificate expired 2026-01-15" in finding.message


def test_bcdr912_auto_update_off_on_the_container_mapping():
    item = f.replication_item(agent_expiry_time="9999-12-31T23:59:59.9999999")
    mapping = f.container_mapping(item, agent_auto_update="Disabled")
    [finding] = run("BCDR912", _inv(item, container_mappings=[mapping]))
    assert finding.status == "FAIL" and finding.evidence["container_mapping"] == mapping.display_id
    assert outcome("BCDR912", _inv(item, container_mappings=[f.container_mapping(item)])) == "PASS"
    assert outcome("BCDR912", _inv(item), days=400) == "PASS"


def test_bcdr912_not_assessed_without_dates_or_mappings():
    assert outcome("BCDR912", _inv(f.replication_item())) == "NOT_ASSESSED"
    item = f.replication_item(agent_expiry_time="9999-12-31T23:59:59.9999999")
    blind = _inv(item, coverage_overrides={m.CONTAINER_MAPPINGS: f.partial(m.CONTAINER_MAPPINGS, (ASR.display_id,))})
    assert outcome("BCDR912", blind) == "NOT_ASSESSED"
    _items_unreadable("BCDR912", item)


# ---------------------------------------------------------------- BCDR913 asr-source-vm-missing
def test_bcdr913_fails_when_the_source_vm_is_gone():
    gone = f.vm("gone")
    item = f.replication_item(source=gone)
    [finding] = run("BCDR913", _inv(item))
    assert (finding.status, finding.evidence["source_vm"]) == ("FAIL", gone.id)
    assert finding.affected_vms == (gone.id,)


def test_bcdr913_pass_and_not_assessed():
    vm = f.vm("app")
    assert outcome("BCDR913", _inv(f.replication_item(source=vm), vms=[vm])) == "PASS"
    assert outcome("BCDR913", _inv(f.replication_item(source=vm), coverage_overrides={m.VMS: f.failed(m.VMS)})) == "NOT_ASSESSED"
    other_sub = f.vm("app", sub=f.SUB2)
    assert outcome("BCDR913", _inv(f.replication_item(source=other_sub))) == "NOT_ASSESSED"
    _items_unreadable("BCDR913", f.replication_item(source=vm), vms=[vm])


# ---------------------------------------------------------------- BCDR914 asr-recovery-plan-not-ready
def test_bcdr914_fails_for_an_item_without_recovery_point_and_a_removed_item():
    vm = f.vm("app")
    good = f.replication_item("good")
    no_rp = f.replication_item("norp", source=vm, has_recovery_point=False)
    removed = f.replication_item("removed")
    plan = f.recovery_plan(v=ASR, items=(good, no_rp, removed))
    [finding] = run("BCDR914", _inv(good, no_rp, recovery_plans=[plan]))
    assert (finding.status, finding.resource_id, finding.severity) == ("FAIL", plan.display_id, "high")
    assert {p["problem"] for p in finding.evidence["problems"]} == {"no recovery point", "no longer exists"}
    assert finding.affected_vms == (vm.id,)
    assert finding.resource_type == "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans"


def test_bcdr914_fails_for_an_unprotected_item_and_passes_a_ready_plan():
    waiting = f.replication_item("w", protection_state="UnprotectedStatesBegin")
    [finding] = run("BCDR914", _inv(waiting, recovery_plans=[f.recovery_plan(v=ASR, items=(waiting,))]))
    assert "not protected" in finding.evidence["problems"][0]["problem"]
    good = f.replication_item("good")
    assert outcome("BCDR914", _inv(good, recovery_plans=[f.recovery_plan(v=ASR, items=(good,))])) == "PASS"


def test_bcdr914_not_assessed_when_a_recovery_point_is_unknown_or_plans_unreadable():
    unknown = f.replication_item("u", has_recovery_point=None, recovery_point_error="AuthorizationFailed")
    [finding] = run("BCDR914", _inv(unknown, recovery_plans=[f.recovery_plan(v=ASR, items=(unknown,))]))
    assert finding.status == "NOT_ASSESSED" and "AuthorizationFailed" in finding.message
    blind = _inv(coverage_overrides={m.RECOVERY_PLANS: f.partial(m.RECOVERY_PLANS, (ASR.display_id,))})
    assert [(x.status, x.resource_id) for x in run("BCDR914", blind)] == [("NOT_ASSESSED", ASR.display_id)]
    failed = _inv(coverage_overrides={m.RECOVERY_PLANS: f.failed(m.RECOVERY_PLANS)})
    assert [(x.status, x.resource_id) for x in run("BCDR914", failed)] == [("NOT_ASSESSED", f"/subscriptions/{f.SUB}")]


# ---------------------------------------------------------------- BCDR915 asr-failback-infrastructure-unhealthy
def _vmware_item(**kw):
    return f.replication_item("vmw", instance_type="InMageAzureV2", source_vm_id="", **kw)


def test_bcdr915_fails_for_a_silent_process_server_and_for_health_errors():
    stale = f.server("process-server", "ps01", last_heartbeat="2026-11-22T05:30:00Z")  # 30 min
    fabric = f.fabric(v=ASR, servers=(f.server("configuration-server", "cs01"), stale))
    [finding] = run("BCDR915", _inv(_vmware_item(), replication_fabrics=[fabric]))
    assert (finding.status, finding.resource_id, finding.severity) == ("FAIL", fabric.display_id, "high")
    assert finding.evidence["servers"] == [{"role": "process-server", "name": "ps01", "last_heartbeat": stale.last_heartbeat,
                                            "minutes_silent": 30}]
    sick = f.server("master-target", "mt01", health_errors=(m.HealthDetail(code="78052"),))
    [finding] = run("BCDR915", _inv(_vmware_item(), replication_fabrics=[f.fabric(v=ASR, servers=(sick,))]))
    assert finding.evidence["servers"][0]["health_errors"] == ["78052"]


def test_bcdr915_passes_healthy_infrastructure_and_vaults_without_vmware_items():
    healthy = f.fabric(v=ASR, servers=(f.server("configuration-server", "cs01"), f.server()))
    assert outcome("BCDR915", _inv(_vmware_item(), replication_fabrics=[healthy])) == "PASS"
    assert outcome("BCDR915", _inv(_vmware_item(), replication_fabrics=[healthy]), max_heartbeat_minutes=1) == "FAIL"
    assert run("BCDR915", _inv(f.replication_item())) == []  # A2A only: nothing to check


def test_bcdr915_not_assessed_without_fabrics_or_heartbeats():
    assert outcome("BCDR915", _inv(_vmware_item())) == "NOT_ASSESSED"
    blind = _inv(_vmware_item(), replication_fabrics=[f.fabric(v=ASR, servers=(f.server(),))],
                 coverage_overrides={m.REPLICATION_FABRICS: f.partial(m.REPLICATION_FABRICS, (ASR.display_id,))})
    assert outcome("BCDR915", blind) == "NOT_ASSESSED"
    silent = f.fabric(v=ASR, servers=(f.server(last_heartbeat=None),))
    assert outcome("BCDR915", _inv(_vmware_item(), replication_fabrics=[silent])) == "NOT_ASSESSED"
    _items_unreadable("BCDR915", _vmware_item())
