import factories as f
import pytest
from rulekit import passes, run

from scanner import ids
from scanner import inventory as m


def _backed(vm, **kw):
    v = f.vault()
    return f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[f.protected_item(vm, v)], **kw)


def _unknown_state(vm):
    return f.with_(vm, provisioning_status=None, provisioning_state="", status_codes=(), power_state=None)


# ---------------------------------------------------------------- BCDR101
def test_bcdr101_passes_for_succeeded_vm():
    inv = _backed(f.vm())
    assert run("BCDR101", inv) == []
    assert passes("BCDR101", inv) == 1


def test_bcdr101_fails_with_error_code_and_failed_extension():
    failed_ext = f.extension("Microsoft.Compute.CustomScriptExtension", name="cse",
                             code="ProvisioningState/failed/3", display="Provisioning failed")
    vm = f.vm("app1", provisioning_status="failed", provisioning_error="VMExtensionProvisioningError",
              status_codes=("ProvisioningState/failed/VMExtensionProvisioningError", "PowerState/running"),
              instance_view=f.instance_view(extensions=(failed_ext,),
                                            statuses=(f.status("ProvisioningState/failed/VMExtensionProvisioningError",
                                                               "Provisioning failed", "Error"),)))
    [finding] = run("BCDR101", _backed(vm))
    assert (finding.status, finding.rule_id, finding.severity) == ("FAIL", "BCDR101", "high")
    assert finding.resource_id == vm.display_id
    assert finding.evidence["provisioning_error"] == "VMExtensionProvisioningError"
    assert finding.evidence["failed_extensions"] == ["cse"]
    assert "UserErrorVmProvisioningStateFailed" in finding.predicted_errors


def test_bcdr101_error_code_from_status_list_alone():
    vm = f.with_(_unknown_state(f.vm()), status_codes=("ProvisioningState/failed/OSProvisioningTimedOut",))
    [finding] = run("BCDR101", _backed(vm))
    assert finding.status == "FAIL"
    assert finding.evidence["provisioning_error"] == "OSProvisioningTimedOut"


def test_bcdr101_replicated_vm_with_failed_model_state():
    vm = f.with_(_unknown_state(f.vm("dr1")), provisioning_state="Failed")
    inv = f.inventory(virtual_machines=[vm], replication_items=[f.replication_item(source=vm)])
    [finding] = run("BCDR101", inv)
    assert finding.status == "FAIL"
    assert finding.evidence["protection"] == ["site-recovery"]


def test_bcdr101_ignores_unprotected_vm():
    vm = f.vm(provisioning_status="failed")
    assert run("BCDR101", f.inventory(virtual_machines=[vm])) == []
    assert passes("BCDR101", f.inventory(virtual_machines=[vm])) == 0


def test_bcdr101_not_assessed_when_state_unknown():
    inv = _backed(_unknown_state(f.vm()), coverage_overrides={m.VM_STATUS: f.failed(m.VM_STATUS)})
    [finding] = run("BCDR101", inv)
    assert finding.status == "NOT_ASSESSED"
    assert "vm_status" in finding.message


def test_bcdr101_protected_items_unreadable_still_judges_known_vms():
    # Backup items could not be read, but the VM is replicated: it is judged, and the gap is reported.
    vm = f.vm("dr1", provisioning_status="failed")
    inv = f.inventory(virtual_machines=[vm], replication_items=[f.replication_item(source=vm)],
                      coverage_overrides={m.PROTECTED_ITEMS: f.failed(m.PROTECTED_ITEMS)})
    got = {x.resource_id: x.status for x in run("BCDR101", inv)}
    assert got == {vm.display_id: "FAIL", f"/subscriptions/{f.SUB}": "NOT_ASSESSED"}


def test_bcdr101_joins_on_id_not_name():
    backed = f.vm("app1", rg="rg-a")
    twin = f.vm("app1", rg="rg-b", provisioning_status="failed")
    v = f.vault()
    inv = f.inventory(virtual_machines=[backed, twin], vaults=[v], protected_items=[f.protected_item(backed, v)])
    assert run("BCDR101", inv) == []
    assert passes("BCDR101", inv) == 1


def test_bcdr101_joins_ids_in_different_casing():
    # The VM list says /resourceGroups/RG-App/...; the backup item says /resourcegroups/rg-app/...
    vm = f.vm("App1", rg="RG-App", provisioning_status="failed")
    v = f.vault()
    item_display = ids.vm_id(f.SUB, "rg-app", "app1").replace("resourceGroups", "resourcegroups")
    item = f.protected_item(vm, v, source_display_id=item_display, source_resource_id=ids.norm(item_display))
    [finding] = run("BCDR101", f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item]))
    assert finding.status == "FAIL"
    assert finding.resource_id == vm.display_id


def test_bcdr101_stopped_protection_does_not_count():
    vm = f.vm(provisioning_status="failed")
    v = f.vault()
    inv = f.inventory(virtual_machines=[vm], vaults=[v],
                      protected_items=[f.protected_item(vm, v, protection_state="ProtectionStopped")])
    assert run("BCDR101", inv) == []


# ---------------------------------------------------------------- BCDR102
@pytest.mark.parametrize("kw", [{"power_state": "stopping"}, {"power_state": "deallocating"},
                                {"power_state": "starting"}, {"provisioning_status": "updating"},
                                {"provisioning_status": "deleting"}])
def test_bcdr102_fails_in_transitional_state(kw):
    vm = f.vm(**kw)
    [finding] = run("BCDR102", _backed(vm))
    assert (finding.status, finding.severity) == ("FAIL", "low")
    assert finding.resource_id == vm.display_id


def test_bcdr102_power_from_status_codes_when_no_derived_word():
    vm = f.with_(f.vm(), power_state=None, status_codes=("ProvisioningState/succeeded", "PowerState/stopping"))
    [finding] = run("BCDR102", _backed(vm))
    assert finding.evidence["power_state"] == "stopping"


@pytest.mark.parametrize("power", ["running", "deallocated", "stopped"])
def test_bcdr102_passes_in_settled_state(power):
    inv = _backed(f.vm(power_state=power))
    assert run("BCDR102", inv) == []
    assert passes("BCDR102", inv) == 1


def test_bcdr102_not_assessed_when_power_unknown():
    vm = f.vm(power_state=None, status_codes=("ProvisioningState/succeeded",))
    [finding] = run("BCDR102", _backed(vm))
    assert finding.status == "NOT_ASSESSED"
    assert finding.evidence["provisioning_state"] == "succeeded"


def test_bcdr102_fails_on_the_known_half_even_if_the_other_is_unknown():
    vm = f.vm(power_state=None, status_codes=(), provisioning_status="updating")
    assert [x.status for x in run("BCDR102", _backed(vm))] == ["FAIL"]


def test_bcdr102_only_backed_up_vms():
    vm = f.vm(power_state="stopping")
    inv = f.inventory(virtual_machines=[vm], replication_items=[f.replication_item(source=vm)])
    assert run("BCDR102", inv) == []


# ---------------------------------------------------------------- BCDR103
@pytest.mark.parametrize("power", ["deallocated", "stopped"])
def test_bcdr103_reports_stopped_vm_as_info(power):
    vm = f.vm(power_state=power)
    [finding] = run("BCDR103", _backed(vm))
    assert (finding.status, finding.severity, finding.resource_id) == ("FAIL", "info", vm.display_id)
    assert finding.evidence["power_state"] == power


def test_bcdr103_passes_for_running_vm():
    inv = _backed(f.vm())
    assert run("BCDR103", inv) == []
    assert passes("BCDR103", inv) == 1


def test_bcdr103_not_assessed_when_power_unknown():
    inv = _backed(_unknown_state(f.vm()), coverage_overrides={m.VM_STATUS: f.failed(m.VM_STATUS, code="TooManyRequests")})
    [finding] = run("BCDR103", inv)
    assert finding.status == "NOT_ASSESSED"
    assert "TooManyRequests" in finding.message


def test_bcdr103_ignores_unprotected_vm():
    assert run("BCDR103", f.inventory(virtual_machines=[f.vm(power_state="deallocated")])) == []
