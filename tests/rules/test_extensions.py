import factories as f
import pytest
from rulekit import passes, run

from scanner import inventory as m

SNAP = "Microsoft.Azure.RecoveryServices.VMSnapshot"
SNAP_LINUX = "Microsoft.Azure.RecoveryServices.VMSnapshotLinux"
ASR = "Microsoft.Azure.RecoveryServices.SiteRecovery.Windows"
CSE = "Microsoft.Compute.CustomScriptExtension"
FAILED = dict(code="ProvisioningState/failed/-2147024894", display="Provisioning failed")
TRANSITIONING = dict(code="ProvisioningState/transitioning", display="Transitioning")


def _vm(*exts, name="app1", rg="rg-app", **kw):
    return f.vm(name, rg=rg, instance_view=f.instance_view(extensions=tuple(exts)), **kw)


# A protected item whose first backup has not run yet (real recordings: lastBackupTime is the
# 2001-01-01 sentinel, lastBackupStatus empty).
NEVER_BACKED_UP = dict(last_backup_status="", last_backup_time="2001-01-01T00:00:00Z", last_recovery_point_time=None)


def _backed(vm, jobs=(), item_kw=None, **kw):
    v = f.vault()
    return f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[f.protected_item(vm, v, **(item_kw or {}))],
                       backup_jobs=[f.job(v, target=vm, **j) for j in jobs], **kw)


def _replicated(vm, **kw):
    return f.inventory(virtual_machines=[vm], replication_items=[f.replication_item(source=vm)], **kw)


# ---------------------------------------------------------------- BCDR301
def test_bcdr301_passes_when_all_extensions_succeeded():
    inv = _backed(_vm(f.extension(SNAP), f.extension(CSE, name="cse")))
    assert run("BCDR301", inv) == []
    assert passes("BCDR301", inv) == 1


def test_bcdr301_fails_for_failed_extension_and_names_it():
    vm = _vm(f.extension(SNAP), f.extension(CSE, name="cse", **FAILED))
    [finding] = run("BCDR301", _backed(vm))
    assert (finding.status, finding.severity, finding.resource_id) == ("FAIL", "medium", vm.display_id)
    [ext] = finding.evidence["extensions"]
    assert (ext["name"], ext["type"], ext["health"]) == ("cse", CSE, "failed")
    assert ext["statuses"][0]["code"] == FAILED["code"]


def test_bcdr301_failed_handler_status_counts():
    handler = m.Status(code="ProvisioningState/failed", level="Error", display_status="NotReady")
    vm = _vm(f.extension(CSE, name="cse", handler_status=handler))
    assert [x.status for x in run("BCDR301", _backed(vm))] == ["FAIL"]


def test_bcdr301_model_provisioning_state_is_merged_by_name():
    # The instance view still shows the old success; the VM model says the last operation failed.
    model_ext = m.Extension(name="CSE", type="CustomScriptExtension", publisher="Microsoft.Compute",
                            provisioning_state="Failed")
    vm = f.with_(_vm(f.extension(CSE, name="cse")), extensions=(model_ext,))
    [finding] = run("BCDR301", _backed(vm))
    assert finding.evidence["extensions"][0]["provisioning_state"] == "Failed"


def test_bcdr301_leaves_backup_extension_of_backed_up_vm_to_bcdr302():
    inv = _backed(_vm(f.extension(SNAP, **FAILED)))
    assert run("BCDR301", inv) == []
    assert [x.status for x in run("BCDR302", inv)] == ["FAIL"]


def test_bcdr301_reports_backup_extension_on_a_vm_that_is_only_replicated():
    inv = _replicated(_vm(f.extension(SNAP, **FAILED)))
    assert [x.status for x in run("BCDR301", inv)] == ["FAIL"]
    assert run("BCDR302", inv) == []


def test_bcdr301_not_assessed_when_instance_view_unreadable():
    vm = f.vm(instance_view=None, instance_view_error="ResourceNotFound")
    [finding] = run("BCDR301", _backed(vm))
    assert (finding.status, finding.resource_id) == ("NOT_ASSESSED", vm.display_id)


def test_bcdr301_does_not_apply_to_deallocated_vm():
    inv = _backed(f.vm(power_state="deallocated", instance_view=None))
    assert run("BCDR301", inv) == []
    assert passes("BCDR301", inv) == 0


def test_bcdr301_joins_on_id_not_name():
    backed = _vm(f.extension(CSE, name="cse"), rg="rg-a")
    twin = _vm(f.extension(CSE, name="cse", **FAILED), rg="rg-b")
    v = f.vault()
    inv = f.inventory(virtual_machines=[backed, twin], vaults=[v], protected_items=[f.protected_item(backed, v)])
    assert run("BCDR301", inv) == []
    assert passes("BCDR301", inv) == 1


# ---------------------------------------------------------------- BCDR302
def test_bcdr302_passes_for_healthy_snapshot_extension():
    inv = _backed(_vm(f.extension(SNAP)))
    assert run("BCDR302", inv) == []
    assert passes("BCDR302", inv) == 1


def test_bcdr302_not_installed_yet_is_not_a_failure():
    inv = _backed(_vm(f.extension(CSE, name="cse")), item_kw=NEVER_BACKED_UP)
    assert run("BCDR302", inv) == []
    assert passes("BCDR302", inv) == 1


@pytest.mark.parametrize("ext,health", [
    (f.extension(SNAP, **FAILED), "failed"),
    (f.extension(SNAP_LINUX, name="VMSnapshotLinux", **TRANSITIONING), "transitioning"),
    (f.extension(SNAP, statuses=()), "no-status"),
    (f.extension(SNAP, handler_status=m.Status(code="ProvisioningState/NotReady", display_status="Not Ready")), "not-ready"),
])
def test_bcdr302_fails_for_unhealthy_snapshot_extension(ext, health):
    vm = _vm(ext)
    [finding] = run("BCDR302", _backed(vm))
    assert (finding.status, finding.severity, finding.resource_id) == ("FAIL", "high", vm.display_id)
    assert finding.evidence["extensions"][0]["health"] == health
    assert "ExtensionOperationFailedForManagedDisks" in finding.predicted_errors


def test_bcdr302_transitioning_during_a_running_backup_is_expected():
    vm = _vm(f.extension(SNAP, **TRANSITIONING))
    inv = _backed(vm, jobs=[{"status": "InProgress", "start_time": "2026-11-22T05:30:00Z", "end_time": None}])
    assert run("BCDR302", inv) == []
    assert passes("BCDR302", inv) == 1


def test_bcdr302_finished_backup_does_not_excuse_transitioning():
    vm = _vm(f.extension(SNAP, **TRANSITIONING))
    assert [x.status for x in run("BCDR302", _backed(vm, jobs=[{"status": "Completed"}]))] == ["FAIL"]


def test_bcdr302_model_short_type_with_publisher_is_recognised():
    model_ext = m.Extension(name="VMSnapshot", type="VMSnapshot", publisher="Microsoft.Azure.RecoveryServices",
                            provisioning_state="Failed")
    vm = f.vm(instance_view=f.instance_view(), extensions=(model_ext,))
    [finding] = run("BCDR302", _backed(vm))
    assert finding.evidence["extensions"][0]["type"] == SNAP


# ---------------------------------------------------------------- BCDR303
def test_bcdr303_passes_for_healthy_site_recovery_extension():
    inv = _replicated(_vm(f.extension(ASR, name="SiteRecovery-Windows")))
    assert run("BCDR303", inv) == []
    assert passes("BCDR303", inv) == 1


def test_bcdr303_passes_without_the_extension():
    inv = _replicated(_vm())
    assert run("BCDR303", inv) == []
    assert passes("BCDR303", inv) == 1


@pytest.mark.parametrize("ext,health", [
    (f.extension(ASR, name="asr", statuses=()), "no-status"),
    (f.extension(ASR, name="asr", **TRANSITIONING), "transitioning"),
    (f.extension(ASR, name="asr", handler_status=m.Status(code="ProvisioningState/Unavailable", level="Warning",
                                                          display_status="Not Ready")), "not-ready"),
    (f.extension("Microsoft.Azure.RecoveryServices.SiteRecovery.Linux", name="asr", **FAILED), "failed"),
])
def test_bcdr303_fails_for_unhealthy_site_recovery_extension(ext, health):
    vm = _vm(ext)
    [finding] = run("BCDR303", _replicated(vm))
    assert (finding.status, finding.severity, finding.resource_id) == ("FAIL", "high", vm.display_id)
    assert finding.evidence["extensions"][0]["health"] == health
    assert "151076" in finding.predicted_errors


def test_bcdr303_only_replicated_vms():
    inv = _backed(_vm(f.extension(ASR, name="asr", **FAILED)))
    assert run("BCDR303", inv) == []
    # On a VM that is only backed up, the generic rule reports it.
    assert [x.status for x in run("BCDR301", inv)] == ["FAIL"]


def test_bcdr303_not_assessed_when_instance_view_missing():
    [finding] = run("BCDR303", _replicated(f.vm(instance_view=None, instance_view_error="OperationNotAllowed")))
    assert finding.status == "NOT_ASSESSED"


def test_handler_only_entry_and_model_extension_are_one_extension():
    # The instance view has no extensions[] entry for VMSnapshot, only its handler status (the
    # collector keeps it as a nameless entry); the VM model lists it by name with a short type.
    handler_only = m.Extension(name="", type=SNAP, handler_status=m.Status(code="ProvisioningState/succeeded",
                                                                         level="Info", display_status="Ready"))
    model_ext = m.Extension(name="VMSnapshot", type="VMSnapshot", publisher="Microsoft.Azure.RecoveryServices",
                            provisioning_state="Succeeded")
    vm = f.vm(instance_view=f.instance_view(extensions=(handler_only,)), extensions=(model_ext,))
    inv = _backed(vm)
    assert run("BCDR302", inv) == []
    assert passes("BCDR302", inv) == 1


@pytest.mark.shared
def test_rest_example_instance_view_through_the_real_mapper():
    import json

    from shared_data import REST_EXAMPLES

    from scanner.collectors.compute import map_instance_view
    raw = json.loads((REST_EXAMPLES / "compute/VirtualMachine_Get_InstanceView.json")
                     .read_text(encoding="utf-8"))["responses"]["200"]["body"]
    vm = f.vm("myVM", instance_view=map_instance_view(raw))
    inv = _backed(vm, item_kw=NEVER_BACKED_UP)  # no VMSnapshot in the example: its first backup is still to come
    for code in ("BCDR301", "BCDR302", "BCDR201", "BCDR202"):
        assert run(code, inv) == [], code
    [outdated] = run("BCDR203", inv)  # the example's agent is 2.7.41491.949
    assert (outdated.status, outdated.evidence["agent_version"]) == ("FAIL", "2.7.41491.949")


# ---- rule-catalog-v2 section A: BCDR302 bounded excuse, missing extension after a completed backup
def test_bcdr302_a_stuck_job_does_not_excuse_a_transitioning_extension():
    vm = _vm(f.extension(SNAP, **TRANSITIONING))
    # In progress for 30 h on a daily policy (unknown policy: 24 h): the first edition excused it.
    inv = _backed(vm, jobs=[{"status": "InProgress", "start_time": "2026-11-21T00:00:00Z", "end_time": None}])
    [finding] = run("BCDR302", inv)
    assert (finding.status, finding.resource_id) == ("FAIL", vm.display_id)
    assert finding.evidence["extensions"][0]["health"] == "transitioning"
    assert finding.evidence["in_progress_jobs_past_threshold"]
    # The same extension while a 30-minute-old job runs is a snapshot in progress.
    fresh = _backed(vm, jobs=[{"status": "InProgress", "start_time": "2026-11-22T05:30:00Z", "end_time": None}])
    assert run("BCDR302", fresh) == [] and passes("BCDR302", fresh) == 1
    # BCDR701's first-backup limit applies too: 30 h into a first backup still excuses it.
    first = _backed(vm, jobs=[{"status": "InProgress", "start_time": "2026-11-21T00:00:00Z", "end_time": None}],
                    item_kw=NEVER_BACKED_UP)
    assert run("BCDR302", first) == []


def test_bcdr302_missing_snapshot_extension_after_a_completed_backup_fails():
    vm = _vm(f.extension(CSE, name="cse"), os_type="Linux")
    [finding] = run("BCDR302", _backed(vm))  # the item reports a completed backup
    assert (finding.status, finding.resource_id, finding.evidence["health"]) == ("FAIL", vm.display_id, "missing")
    assert "agent" in finding.message
    # A completed Backup job says the same when the item does not.
    by_job = _backed(vm, item_kw=NEVER_BACKED_UP, jobs=[{"status": "Completed"}])
    assert [x.status for x in run("BCDR302", by_job)] == ["FAIL"]


def test_bcdr302_missing_extension_with_agent_not_ready_is_not_assessed():
    vm = f.vm("app1", instance_view=f.instance_view(agent_display="Not Ready", extensions=()))
    [finding] = run("BCDR302", _backed(vm))
    assert finding.status == "NOT_ASSESSED" and "not Ready" in finding.message


def test_bcdr302_missing_extension_in_an_instance_view_older_than_the_backup_is_not_assessed():
    view = f.instance_view(extensions=())
    view = f.with_(view, agent_statuses=(f.with_(view.agent_statuses[0], time="2026-11-21T20:00:00Z"),))
    vm = f.vm("app1", instance_view=view)
    [finding] = run("BCDR302", _backed(vm))  # the item's last backup: 2026-11-21T22:00Z
    assert finding.status == "NOT_ASSESSED" and "predates" in finding.message
    fresh = f.with_(vm, instance_view=f.with_(view, agent_statuses=(f.with_(view.agent_statuses[0], time="2026-11-22T05:59:00Z"),)))
    assert [x.status for x in run("BCDR302", _backed(fresh))] == ["FAIL"]
