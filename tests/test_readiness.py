"""Per-VM readiness (scanner.readiness): the declared rule -> operation table, the severity -> verdict
mapping, the VMs each finding concerns, and the three verdicts computed from findings."""
from __future__ import annotations

import factories as f
import pytest

import rules
from scanner import inventory as m
from scanner import readiness as r
from scanner.engine import evaluate


def test_every_registered_rule_is_in_the_table_and_feeds_known_operations():
    registry = rules.load_all()
    missing = sorted(set(registry) - set(r.FEEDS))
    assert missing == [], f"rules without a readiness entry: {missing}"
    assert all(set(ops) <= set(r.OPERATIONS) for ops in r.FEEDS.values())
    assert all(code in r.FEEDS and op in r.FEEDS[code] for code, op in r.PINNED)


def test_severity_table():
    assert r.SEVERITY_LEVEL == {"critical": r.WILL_FAIL, "high": r.WILL_FAIL, "medium": r.AT_RISK,
                                "low": r.AT_RISK, "info": r.READY}
    assert r.level_of("BCDR201", r.BACKUP, "FAIL", "high") == r.WILL_FAIL
    assert r.level_of("BCDR201", r.BACKUP, "NOT_ASSESSED", "high") == r.NOT_ASSESSED
    assert r.level_of("BCDR801", r.BACKUP, "FAIL", "medium") == r.AT_RISK
    assert r.level_of("BCDR801", r.RESTORE, "FAIL", "medium") == r.WILL_FAIL  # pinned: nothing to restore from
    assert r.level_of("BCDR401", r.BACKUP, "FAIL", "high") == r.AT_RISK  # fails once the collection is full
    assert r.level_of("BCDR501", r.BACKUP, "FAIL", "critical") == r.WILL_FAIL  # ... which BCDR501 says


# --------------------------------------------------------------------------- affected VMs
def test_findings_name_their_vms_whatever_the_resource():
    vm, other = f.vm("app"), f.vm("app", rg="rg-other")
    v = f.vault()
    item = f.protected_item(vm, v)
    job = f.job(v, target=vm, status="InProgress", start_time="2026-11-20T00:00:00Z", end_time=None)
    rg_lock = f.lock(f"/subscriptions/{f.SUB}/resourceGroups/rg-app")
    asr = f.replication_item(source=vm)
    plan = f.recovery_plan(items=(asr,))
    inv = f.inventory(virtual_machines=[vm, other], vaults=[v], protected_items=[item], backup_jobs=[job],
                      locks=[rg_lock], replication_items=[asr], recovery_plans=[plan])
    for rtype, rid in [("Microsoft.Compute/virtualMachines", vm.display_id), ("", item.display_id), ("", job.display_id),
                       ("", rg_lock.display_id), ("", asr.display_id), ("", plan.display_id), ("", v.display_id),
                       ("", vm.display_id + "/extensions/VMSnapshot")]:
        assert r.affected_vms(inv, rtype, rid) == (vm.id,), rid
    assert set(r.affected_vms(inv, "Microsoft.Resources/subscriptions", f"/subscriptions/{f.SUB}")) == {vm.id, other.id}
    assert r.affected_vms(inv, "", "/subscriptions/x/resourceGroups/y/providers/Microsoft.Foo/bars/z") == ()


def test_a_lock_concerns_the_vms_whose_restore_points_lie_under_its_scope():
    """A lock on a restore point collection, or on the AzureBackupRG_* group holding it, concerns the
    collection's VM; a group whose name merely starts the same does not hold it."""
    a, b = f.vm("a"), f.vm("b")
    held, other = f.rpc(a, 3), f.rpc(b, 3, rg=f"AzureBackupRG_{b.location}_10")
    on_group = f.lock(f"/subscriptions/{f.SUB}/resourceGroups/AzureBackupRG_{a.location}_1", name="g")
    on_collection = f.lock(held.display_id, name="c")
    elsewhere = f.lock(f"/subscriptions/{f.SUB}/resourceGroups/rg-empty", name="e")
    inv = f.inventory(virtual_machines=[a, b], restore_point_collections=[held, other],
                      locks=[on_group, on_collection, elsewhere])
    assert r.affected_vms(inv, "", on_group.display_id) == (a.id,)
    assert r.affected_vms(inv, "", on_collection.display_id) == (a.id,)
    assert r.affected_vms(inv, "", elsewhere.display_id) == ()
    on_subscription = f.lock(f"/subscriptions/{f.SUB}", name="s")
    inv = f.inventory(virtual_machines=[a, b], restore_point_collections=[held, other], locks=[on_subscription])
    assert r.affected_vms(inv, "", on_subscription.display_id) == tuple(sorted((a.id, b.id)))


def test_the_engine_attaches_affected_vms_to_every_finding():
    vm = f.vm("app", power_state="running", instance_view=f.instance_view(agent_display="Not Ready"))
    job = f.job(target=vm, status="InProgress", start_time="2026-11-20T00:00:00Z", end_time=None)
    inv = f.inventory(virtual_machines=[vm], vaults=[f.vault()], protected_items=[f.protected_item(vm)], backup_jobs=[job])
    findings = evaluate(inv).findings
    assert {x.rule_id for x in findings} >= {"BCDR201", "BCDR701"}
    for finding in findings:
        if finding.rule_id in ("BCDR201", "BCDR701"):
            assert finding.affected_vms == (vm.id,), finding.rule_id


# --------------------------------------------------------------------------- verdicts
class _F:
    def __init__(self, rule_id, status, severity, vms):
        self.rule_id, self.status, self.severity, self.affected_vms = rule_id, status, severity, tuple(vms)


def _verdicts(inv, *findings):
    return {row.vm_id.lower(): (row.backup.verdict, row.restore.verdict, row.failover.verdict)
            for row in r.readiness(inv, findings)}


def test_applicability_without_findings():
    backed, replicated, bare = f.vm("b"), f.vm("r"), f.vm("n")
    stopped = f.vm("s")
    inv = f.inventory(virtual_machines=[backed, replicated, bare, stopped],
                      protected_items=[f.protected_item(backed), f.protected_item(stopped, protection_state="ProtectionStopped")],
                      replication_items=[f.replication_item(source=replicated)])
    v = _verdicts(inv)
    assert v[backed.id] == (r.READY, r.READY, r.NOT_APPLICABLE)
    assert v[replicated.id] == (r.NOT_APPLICABLE, r.NOT_APPLICABLE, r.READY)
    assert v[bare.id] == (r.NOT_APPLICABLE,) * 3
    assert v[stopped.id] == (r.NOT_APPLICABLE, r.READY, r.NOT_APPLICABLE)  # retained data can be restored


@pytest.mark.parametrize("findings,expected", [
    ([("BCDR201", "FAIL", "high")], (r.WILL_FAIL, r.READY, r.WILL_FAIL)),
    ([("BCDR502", "FAIL", "medium")], (r.AT_RISK, r.READY, r.READY)),
    ([("BCDR103", "FAIL", "info")], (r.READY, r.READY, r.READY)),  # advice only
    ([("BCDR705", "NOT_ASSESSED", "high")], (r.NOT_ASSESSED, r.NOT_ASSESSED, r.READY)),
    ([("BCDR705", "NOT_ASSESSED", "high"), ("BCDR502", "FAIL", "low")], (r.AT_RISK, r.NOT_ASSESSED, r.READY)),
    ([("BCDR907", "FAIL", "high"), ("BCDR905", "FAIL", "medium")], (r.READY, r.READY, r.WILL_FAIL)),
    ([("BCDR001", "FAIL", "medium")], (r.READY, r.READY, r.READY)),  # posture: feeds no verdict
])
def test_worst_finding_decides_each_verdict(findings, expected):
    vm = f.vm("app")
    inv = f.inventory(virtual_machines=[vm], protected_items=[f.protected_item(vm)],
                      replication_items=[f.replication_item(source=vm)])
    assert _verdicts(inv, *[_F(c, s, sev, [vm.id]) for c, s, sev in findings])[vm.id] == expected


def test_a_fail_decides_even_where_the_operation_would_not_apply_and_rules_are_named():
    vm = f.vm("app")
    inv = f.inventory(virtual_machines=[vm])
    [row] = r.readiness(inv, [_F("BCDR801", "FAIL", "medium", [vm.id]), _F("BCDR906", "FAIL", "medium", ["/other/vm"])])
    assert (row.backup.verdict, row.restore.verdict, row.failover.verdict) == (r.AT_RISK, r.WILL_FAIL, r.NOT_APPLICABLE)
    assert row.backup.rules == ("BCDR801",) and row.failover.rules == ()
    counts = r.summary([row])
    assert counts[r.BACKUP][r.AT_RISK] == 1 and sum(counts[r.FAILOVER].values()) == 1


def test_readiness_from_a_real_evaluation_not_assessed_when_items_unreadable():
    vm = f.vm("app")
    inv = f.inventory(virtual_machines=[vm], coverage_overrides={m.PROTECTED_ITEMS: f.failed(m.PROTECTED_ITEMS)})
    [row] = r.readiness(inv, evaluate(inv).findings)
    assert row.backup.verdict == r.NOT_ASSESSED  # cannot tell whether a vault protects it


def test_a_finding_counts_only_where_its_operation_applies():
    backed = f.vm("app")
    inv = f.inventory(virtual_machines=[backed], protected_items=[f.protected_item(backed)])
    # The agent is not ready: the backup will fail; the VM is not replicated, so failover stays n/a.
    assert _verdicts(inv, _F("BCDR201", "FAIL", "high", [backed.id]))[backed.id] == (r.WILL_FAIL, r.READY, r.NOT_APPLICABLE)
    # A stopped (or soft-deleted) protection counts although the VM is no longer "backed up".
    stopped = f.vm("old")
    inv = f.inventory(virtual_machines=[stopped], protected_items=[f.protected_item(stopped, protection_state="ProtectionStopped")])
    assert _verdicts(inv, _F("BCDR803", "FAIL", "medium", [stopped.id]))[stopped.id] == (r.AT_RISK, r.READY, r.NOT_APPLICABLE)
    assert r.DECIDES_APPLICABILITY == {"BCDR801", "BCDR803", "BCDR805"}


def test_unknown_applicability_is_not_assessed_and_stale_backup_puts_restore_at_risk():
    vm = f.vm("app")
    blind = f.inventory(virtual_machines=[vm], coverage_overrides={
        m.REPLICATION_ITEMS: f.partial(m.REPLICATION_ITEMS, ("/subscriptions/x/vault",))})
    assert _verdicts(blind)[vm.id] == (r.NOT_APPLICABLE, r.NOT_APPLICABLE, r.NOT_ASSESSED)
    inv = f.inventory(virtual_machines=[vm], protected_items=[f.protected_item(vm)])
    assert _verdicts(inv, _F("BCDR705", "FAIL", "high", [vm.id]))[vm.id] == (r.WILL_FAIL, r.AT_RISK, r.NOT_APPLICABLE)


# --------------------------------------------------------------------------- in the report and the outputs
def test_the_report_carries_readiness_and_affected_vms_and_round_trips():
    import io
    import json

    import report_scenarios as rs

    from scanner.model import Report
    from scanner.output import write_report
    from scanner.report import validate_report

    report = rs.report(rs.scenario(hostile=True))
    doc = report.to_dict()
    validate_report(doc)
    vms = {v["name"]: v for v in doc["readiness"]["vms"]}
    # BCDR401 (lock on the restore point group) is at risk, below the will-fail rules that decide here
    assert vms["app1"]["backup"] == {"verdict": r.WILL_FAIL, "rules": ["BCDR501", "BCDR601", "BCDR701"]}
    assert sum(doc["readiness"]["summary"]["backup"].values()) == len(doc["readiness"]["vms"])
    back = Report.from_json(json.dumps(doc))
    assert back.readiness == report.readiness and back.findings == report.findings
    # The table prints readiness first (before coverage and findings); HTML escapes Azure's strings there too.
    out = io.StringIO()
    write_report(report, "table", out)
    text = out.getvalue()
    assert text.index("Readiness of") < text.index("Coverage:") < text.index("CRITICAL")
    html = io.StringIO()
    write_report(report, "html", html)
    assert html.getvalue().index("Readiness of") < html.getvalue().index("<h2>Summary")
    from scanner.output.html import SCRIPT
    assert html.getvalue().lower().count("<script") == 1  # the page's own (CSP-pinned) script; Azure's stays text
    assert f"<script>{SCRIPT}</script>" in html.getvalue()


def test_a_report_with_a_bad_verdict_word_is_refused():
    import report_scenarios as rs

    from scanner.model import Report, ReportFormatError

    doc = rs.report().to_dict()
    doc["readiness"]["vms"][0]["backup"]["verdict"] = "fine"
    with pytest.raises(ReportFormatError, match="readiness/vms/0/backup/verdict"):
        Report.from_dict(doc)


def test_a_backup_resource_group_and_a_failed_enable_job_name_their_vms():
    vm = f.vm("app")
    rpc = f.rpc(vm, 18)  # in AzureBackupRG_westeurope_1
    group = f.resource_group(rpc.resource_group)
    job = f.replication_job(target_object_id="no-such-item", target_object_name="app", state="Failed")
    twin = f.vm("app", rg="rg-other")
    inv = f.inventory(virtual_machines=[vm], restore_point_collections=[rpc], resource_groups=[group], replication_jobs=[job])
    assert r.affected_vms(inv, "Microsoft.Resources/resourceGroups", group.display_id) == (vm.id,)
    assert r.affected_vms(inv, "", job.display_id) == (vm.id,)
    # Two VMs of that name: guessing would blame the wrong one, so none is named.
    inv = f.inventory(virtual_machines=[vm, twin], replication_jobs=[job])
    assert r.affected_vms(inv, "", job.display_id) == ()


def test_an_id_listed_twice_concerns_the_vms_of_both_resources():
    """The one-VM resources are looked up per id; an id two resources share (a disk listed twice, a
    job id given twice, a disk id that is also a collection's) names the VMs of both, as one entry."""
    a, b = f.vm("a"), f.vm("b")
    v = f.vault()
    disk = f.disk("shared-disk", managed_by=a.id)
    twice = f.with_(disk, managed_by=b.id)
    job_a, job_b = f.job(v, target=a), f.job(v, target=b)
    assert job_a.id == job_b.id
    items = [f.protected_item(a, v), f.protected_item(b, v)]
    plain = f.inventory(virtual_machines=[a, b], vaults=[v], disks=[disk], protected_items=items, backup_jobs=[job_a])
    assert r.affected_vms(plain, "", disk.display_id) == (a.id,)
    assert r.affected_vms(plain, "", job_a.display_id) == (a.id,)
    assert r._index(plain)._single  # the per-id map, not entries
    both = tuple(sorted((a.id, b.id)))
    inv = f.inventory(virtual_machines=[a, b], vaults=[v], disks=[disk, twice], protected_items=items, backup_jobs=[job_a])
    assert r.affected_vms(inv, "", disk.display_id) == both
    inv = f.inventory(virtual_machines=[a, b], vaults=[v], disks=[disk], protected_items=items, backup_jobs=[job_a, job_b])
    assert r.affected_vms(inv, "", job_a.display_id) == both
    assert r.affected_vms(inv, "", disk.display_id) == (a.id,)
    collection = f.with_(f.rpc(b, 3), id=disk.id)
    inv = f.inventory(virtual_machines=[a, b], disks=[disk], restore_point_collections=[collection])
    assert r.affected_vms(inv, "", disk.display_id) == both


def test_a_backup_job_whose_id_is_another_resources_names_the_vms_of_both():
    """Jobs are looked up by their id's two stored parts (m.BackupJob derives its id); a job id that
    is also a disk's (a hand-made inventory) still names the VMs of both, as one entry would."""
    a, b = f.vm("a"), f.vm("b")
    v = f.vault()
    disk = f.disk("d", managed_by=a.id)
    job = f.job(v, target=b)
    clash = m.BackupJob.of(disk.id, disk.display_id, subscription_id=job.subscription_id, vault_id=job.vault_id,
                           container_name=job.container_name, entity_friendly_name=job.entity_friendly_name)
    items = [f.protected_item(a, v), f.protected_item(b, v)]
    inv = f.inventory(virtual_machines=[a, b], vaults=[v], disks=[disk], protected_items=items, backup_jobs=[job, clash])
    assert r._index(inv)._single  # still the per-id map
    assert r.affected_vms(inv, "", disk.display_id) == tuple(sorted((a.id, b.id)))
    assert r.affected_vms(inv, "", job.display_id) == (b.id,)
    assert r.affected_vms(inv, "", job.display_id.upper()) == (b.id,)  # looked up as normalised
    assert r.affected_vms(inv, "", job.display_id + "x") == ()


@pytest.mark.parametrize("vm_id", [
    "/subscriptions/s1/resourcegroups/rg-1/providers/microsoft.compute/virtualmachines/a",
    "/Subscriptions/S1/resourceGroups/RG-1/providers/Microsoft.Compute/virtualMachines/a",
    "/subscriptions/s1/resourcegroups/rg-1", "/subscriptions/s1/providers/x/y/z/w",
    "/subscriptions/resourcegroups/resourcegroups/rg/a/b", "/subscriptions//resourcegroups/rg/a/b",
    "subscriptions/s1/resourcegroups/rg/a/b/c", "/providers/x/subscriptions/s1/resourcegroups/rg/y",
])
def test_vms_by_resource_group_reads_each_id_as_the_id_helpers_do(vm_id):
    from scanner import ids
    inv = f.inventory(virtual_machines=[f.with_(f.vm("a"), id=vm_id)])
    assert r._vms_by_rg(inv) == {(ids.subscription_of(vm_id), ids.resource_group_of(vm_id).lower()): (vm_id,)}
    r.forget(inv)
