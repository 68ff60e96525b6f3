"""BCDR204 extension-operations-disabled (rules/vm_model.py): read from the VM model, for every
backed-up or replicated VM whatever its power state."""
from __future__ import annotations

from factories import SUB, failed, inventory, protected_item, replication_item, vm
from rulekit import run

from scanner import inventory as m


def test_bcdr204_fails_for_a_backed_up_vm_that_disallows_extensions_even_when_off():
    target = vm("vm1", allow_extension_operations=False, power_state="deallocated")
    [f] = run("BCDR204", inventory(virtual_machines=[target], protected_items=[protected_item(target)]))
    assert (f.status, f.resource_id, f.severity) == ("FAIL", target.display_id, "high")
    assert f.evidence["protection"] == ["backup"] and f.evidence["power_state"] == "deallocated"


def test_bcdr204_replicated_vm_fails_too_and_default_or_true_passes():
    off = vm("vm-off", allow_extension_operations=False)
    on = vm("vm-on", allow_extension_operations=True)
    unsaid = vm("vm-unsaid")  # no osProfile (specialised disk): the platform default allows extensions
    inv = inventory(virtual_machines=[off, on, unsaid],
                    replication_items=[replication_item("r1", source=off), replication_item("r2", source=on)],
                    protected_items=[protected_item(unsaid)])
    found = run("BCDR204", inv)
    assert [(f.status, f.resource_id) for f in found] == [("FAIL", off.display_id)]
    assert found[0].evidence["protection"] == ["site-recovery"]


def test_bcdr204_unprotected_vm_is_not_judged_and_vm_list_gap_is_not_assessed():
    target = vm("vm1", allow_extension_operations=False)
    assert run("BCDR204", inventory(virtual_machines=[target])) == []
    inv = inventory(virtual_machines=[target], protected_items=[protected_item(target)],
                    coverage_overrides={m.VMS: failed(m.VMS)})
    [f] = run("BCDR204", inv)
    assert f.status == "NOT_ASSESSED" and f.resource_id == f"/subscriptions/{SUB}"
