"""Unknown or missing fields are not trusted (issue 10, item 7): an unknown enum value or a missing
required field makes the resource NOT_ASSESSED for the rules that need the field, never a default
that means something. Each case goes from the wire format through the mapper to the rule."""
from __future__ import annotations

import factories as f
import pytest
from rulekit import run, statuses

from scanner import inventory as m
from scanner.collectors import recovery as rsv
from scanner.collectors.base import MalformedItem, Recorder, read_list


def _policy_wire(v: m.Vault, schedule_type: str, policy_type: str | None = None) -> dict:
    props: dict = {"backupManagementType": "AzureIaasVM", "instantRpRetentionRangeInDays": 2,
                   "schedulePolicy": {"schedulePolicyType": schedule_type, "scheduleRunFrequency": "Daily"}}
    if policy_type is not None:
        props["policyType"] = policy_type
    return {"id": f"{v.display_id}/backupPolicies/p1", "name": "p1", "properties": props}


@pytest.mark.parametrize("schedule_type,policy_type,expected", [
    ("SimpleSchedulePolicy", None, False),
    ("SimpleSchedulePolicyV2", None, True),
    ("SomethingNewSchedule", "V2", True),
    ("SomethingNewSchedule", "V1", False),
    ("SomethingNewSchedule", None, None),  # not Standard by default
    ("", None, None),
])
def test_policy_kind_is_read_not_guessed(schedule_type, policy_type, expected):
    assert rsv.map_policy(_policy_wire(f.vault(), schedule_type, policy_type)).is_v2 is expected


def _rp_inventory(policy: m.BackupPolicy) -> m.Inventory:
    vm = f.vm("sql1")
    v = f.vault()
    return f.inventory(virtual_machines=[vm], vaults=[v], backup_policies=[policy],
                       protected_items=[f.protected_item(vm, v, policy)], restore_point_collections=[f.rpc(vm, 18)])


def test_unknown_schedule_type_is_not_a_false_critical_bcdr501():
    v = f.vault()
    unknown = rsv.map_policy(_policy_wire(v, "SomethingNewSchedule"))
    findings = run("BCDR501", _rp_inventory(unknown))
    assert [x.status for x in findings] == ["NOT_ASSESSED"]
    # the control: the same 18 points under a known Standard policy are the critical FAIL
    standard = rsv.map_policy(_policy_wire(v, "SimpleSchedulePolicy"))
    assert [x.status for x in run("BCDR501", _rp_inventory(standard))] == ["FAIL"]


def test_protected_item_without_properties_is_rejected_not_kept():
    v = f.vault()
    with pytest.raises(MalformedItem):
        rsv.map_protected_item({"id": f"{v.display_id}/backupFabrics/Azure/protectionContainers/c/protectedItems/VM;x"})


def test_protected_item_without_properties_is_not_a_false_bcdr801():
    vm = f.vm("app1")
    v = f.vault()
    item_id = (f"{v.display_id}/backupFabrics/Azure/protectionContainers/IaasVMContainer;iaasvmcontainerv2;rg-app;app1"
               "/protectedItems/VM;iaasvmcontainerv2;rg-app;app1")
    rec = Recorder(f.SUB)
    got = read_list(rec, m.PROTECTED_ITEMS, lambda: [{"id": item_id}], rsv.map_protected_item, scope=v.id)
    cov = rec.get(m.PROTECTED_ITEMS)
    assert got == [] and cov is not None and (cov.status, cov.failed_scopes) == (m.PARTIAL, (v.id,))
    inv = f.inventory(virtual_machines=[vm], vaults=[v], coverage_overrides={m.PROTECTED_ITEMS: cov})
    assert statuses(run("BCDR801", inv)) == {vm.id: "NOT_ASSESSED"}
    # control: with the vault read in full and no item, the VM really is not backed up
    assert statuses(run("BCDR801", f.inventory(virtual_machines=[vm], vaults=[v]))) == {vm.id: "FAIL"}


@pytest.mark.parametrize("status", ["", "SomethingNew"])
def test_job_without_a_known_status_is_not_silently_dropped(status):
    vm = f.vm("app1")
    v = f.vault()
    job = f.job(v, target=vm, status=status, start_time="2026-11-20T00:00:00Z", end_time=None)
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[f.protected_item(vm, v)], backup_jobs=[job])
    assert statuses(run("BCDR701", inv)) == {job.id: "NOT_ASSESSED"}
    stuck = f.with_(job, status="InProgress")  # control: the same job InProgress for 53 h FAILs
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[f.protected_item(vm, v)], backup_jobs=[stuck])
    assert statuses(run("BCDR701", inv)) == {job.id: "FAIL"}


@pytest.mark.parametrize("rule", ["BCDR201", "BCDR202", "BCDR301", "BCDR302"])
def test_unknown_power_state_is_not_assessed_for_agent_and_extension_rules(rule):
    vm = f.vm("app1", power_state="hibernating",
               status_codes=("ProvisioningState/succeeded", "PowerState/hibernating"))
    v = f.vault()
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[f.protected_item(vm, v)])
    assert statuses(run(rule, inv)) == {vm.id: "NOT_ASSESSED"}
    stopped = f.with_(vm, power_state="deallocated", status_codes=("PowerState/deallocated",))
    inv = f.inventory(virtual_machines=[stopped], vaults=[v], protected_items=[f.protected_item(stopped, v)])
    assert run(rule, inv) == []  # control: a known stopped state is left to BCDR103, as designed
