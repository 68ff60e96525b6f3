"""8xx Protection coverage: BCDR801-804."""
import factories as f
from rulekit import passes, run, statuses

from scanner import ids
from scanner import inventory as m


def _upper_id(vm: m.VirtualMachine) -> str:
    """The same VM id as another API spells it (/SUBSCRIPTIONS/..., upper-cased resource group)."""
    return ids.norm(vm.display_id.replace("/subscriptions/", "/SUBSCRIPTIONS/").replace(vm.resource_group, vm.resource_group.upper()))


# ---- BCDR801 vm-not-backed-up
def test_bcdr801_fails_for_vm_without_item_and_joins_on_id_not_name():
    # Two VMs named "web" in two resource groups; only rg-a's is backed up.
    a, b = f.vm("web", rg="rg-a"), f.vm("web", rg="rg-b")
    v = f.vault()
    inv = f.inventory(virtual_machines=[a, b], vaults=[v], protected_items=[f.protected_item(a, v)])
    findings = run("BCDR801", inv)
    assert statuses(findings) == {b.display_id.lower(): "FAIL"}
    assert passes("BCDR801", inv) == 1
    assert findings[0].evidence["vaults_in_subscription"] == 1


def test_bcdr801_any_item_counts_even_stopped_and_id_casing_does_not_matter():
    vm, v = f.vm("web", rg="RG-Web"), f.vault()
    item = f.protected_item(vm, v, protection_state="ProtectionStopped", source_resource_id=_upper_id(vm))
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item])
    assert run("BCDR801", inv) == [] and passes("BCDR801", inv) == 1


def test_bcdr801_fails_in_subscription_without_vaults():
    vm = f.vm("lonely")
    assert [x.status for x in run("BCDR801", f.inventory(virtual_machines=[vm]))] == ["FAIL"]


def test_bcdr801_not_assessed_when_a_vault_could_not_be_read():
    protected, unknown = f.vm("a"), f.vm("b")
    v, unreadable = f.vault(), f.vault("vault-x")
    inv = f.inventory(virtual_machines=[protected, unknown], vaults=[v, unreadable],
                      protected_items=[f.protected_item(protected, v)],
                      coverage_overrides={m.PROTECTED_ITEMS: f.partial(m.PROTECTED_ITEMS, (unreadable.display_id,))})
    # The VM we found an item for is fine; the other one may be protected in the unreadable vault.
    assert statuses(run("BCDR801", inv)) == {unknown.display_id.lower(): "NOT_ASSESSED"}
    assert passes("BCDR801", inv) == 1


def test_bcdr801_not_assessed_when_vault_list_failed_or_vm_list_failed():
    vm = f.vm("a")
    no_vaults = f.inventory(virtual_machines=[vm], coverage_overrides={m.VAULTS: f.failed(m.VAULTS)})
    assert [(x.status, x.resource_id) for x in run("BCDR801", no_vaults)] == [("NOT_ASSESSED", vm.display_id)]
    no_vms = f.inventory(coverage_overrides={m.VMS: f.failed(m.VMS)})
    assert [(x.status, x.resource_id) for x in run("BCDR801", no_vms)] == [("NOT_ASSESSED", f"/subscriptions/{f.SUB}")]


def test_bcdr801_other_subscription_gap_does_not_hide_this_one():
    vm = f.vm("a")
    inv = f.inventory(subs=(f.SUB, f.SUB2), virtual_machines=[vm],
                      coverage_overrides={m.VAULTS: f.failed(m.VAULTS, sub=f.SUB2)})
    assert [x.status for x in run("BCDR801", inv)] == ["FAIL"]


# ---- BCDR802 protected-item-source-missing
def test_bcdr802_fails_when_the_vm_is_gone_even_if_a_namesake_exists():
    gone = f.vm("app", rg="rg-old")
    namesake = f.vm("app", rg="rg-new")
    v = f.vault()
    item = f.protected_item(gone, v)
    inv = f.inventory(virtual_machines=[namesake], vaults=[v], protected_items=[item])
    [finding] = run("BCDR802", inv)
    assert (finding.status, finding.resource_id) == ("FAIL", item.display_id)
    assert finding.evidence["source_vm"] == gone.display_id


def test_bcdr802_passes_when_the_vm_exists_with_other_id_casing():
    vm, v = f.vm("app", rg="Rg-App"), f.vault()
    inv = f.inventory(virtual_machines=[vm], vaults=[v],
                      protected_items=[f.protected_item(vm, v, source_resource_id=_upper_id(vm))])
    assert run("BCDR802", inv) == [] and passes("BCDR802", inv) == 1


def test_bcdr802_stopped_items_and_unscanned_subscriptions_are_left_alone():
    v = f.vault()
    stopped = f.protected_item(f.vm("gone"), v, protection_state="ProtectionStopped")
    elsewhere = f.protected_item(f.vm("remote", sub=f.SUB2), v)  # SUB2 not scanned
    inv = f.inventory(vaults=[v], protected_items=[stopped, elsewhere])
    assert run("BCDR802", inv) == [] and passes("BCDR802", inv) == 0


def test_bcdr802_not_assessed_when_vm_list_failed():
    v = f.vault()
    item = f.protected_item(f.vm("app"), v)
    inv = f.inventory(vaults=[v], protected_items=[item], coverage_overrides={m.VMS: f.failed(m.VMS)})
    assert [(x.status, x.resource_id) for x in run("BCDR802", inv)] == [("NOT_ASSESSED", item.display_id)]


# ---- BCDR803 protection-stopped-or-paused
def test_bcdr803_fails_for_stopped_or_paused_item_of_existing_vm():
    a, b, v = f.vm("a"), f.vm("b"), f.vault()
    stopped = f.protected_item(a, v, protection_state="ProtectionStopped")
    paused = f.protected_item(b, v, protection_state="ProtectionPaused")
    inv = f.inventory(virtual_machines=[a, b], vaults=[v], protected_items=[stopped, paused])
    findings = run("BCDR803", inv)
    assert statuses(findings) == {stopped.display_id.lower(): "FAIL", paused.display_id.lower(): "FAIL"}
    assert {x.evidence["vm_id"] for x in findings} == {a.display_id, b.display_id}
    assert all("UserErrorBcmDatasourceNotPresent" in x.predicted_errors for x in findings)


def test_bcdr803_passes_when_vm_is_gone_or_protected_elsewhere():
    vm, old, new = f.vm("a"), f.vault("old"), f.vault("new")
    moved = f.protected_item(vm, old, protection_state="ProtectionStopped")
    gone = f.protected_item(f.vm("deleted"), old, protection_state="ProtectionStopped")
    inv = f.inventory(virtual_machines=[vm], vaults=[old, new],
                      protected_items=[moved, gone, f.protected_item(vm, new)])
    assert run("BCDR803", inv) == [] and passes("BCDR803", inv) == 2


def test_bcdr803_ignores_active_protection():
    vm, v = f.vm("a"), f.vault()
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[f.protected_item(vm, v)])
    assert run("BCDR803", inv) == [] and passes("BCDR803", inv) == 0


def test_bcdr803_not_assessed_when_vm_list_failed():
    v = f.vault()
    item = f.protected_item(f.vm("a"), v, protection_state="ProtectionStopped")
    inv = f.inventory(vaults=[v], protected_items=[item], coverage_overrides={m.VMS: f.failed(m.VMS)})
    assert [(x.status, x.resource_id) for x in run("BCDR803", inv)] == [("NOT_ASSESSED", item.display_id)]


# ---- BCDR804 protected-item-unhealthy
def test_bcdr804_fails_with_health_detail_codes_explained():
    vm, v = f.vm("a"), f.vault()
    item = f.protected_item(vm, v, health_status="ActionRequired", health_details=(
        m.HealthDetail(code="400239", title="UserErrorGuestAgentStatusUnavailable", message="agent down"),
        m.HealthDetail(code="UserErrorRpCollectionLimitReached")))
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item])
    [finding] = run("BCDR804", inv)
    assert (finding.status, finding.resource_id) == ("FAIL", item.display_id)
    codes = {e["code"]: e["meaning"] for e in finding.evidence["error_codes"]}
    # {code: number, title: name} as the service sends it: one entry showing both, explained by the name
    assert set(codes) == {"400239 UserErrorGuestAgentStatusUnavailable", "UserErrorRpCollectionLimitReached"}
    assert "unknown code" not in codes.values()
    assert finding.evidence["health_details"][0]["message"] == "agent down"


def test_bcdr804_action_suggested_fails_and_passed_passes():
    a, b, v = f.vm("a"), f.vm("b"), f.vault()
    suggested = f.protected_item(a, v, health_status="ActionSuggested")
    inv = f.inventory(virtual_machines=[a, b], vaults=[v], protected_items=[suggested, f.protected_item(b, v)])
    assert statuses(run("BCDR804", inv)) == {suggested.display_id.lower(): "FAIL"}
    assert passes("BCDR804", inv) == 1


def test_bcdr804_not_assessed_without_health():
    vm, v = f.vm("a"), f.vault()
    item = f.protected_item(vm, v, health_status="")
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item])
    assert [(x.status, x.resource_id) for x in run("BCDR804", inv)] == [("NOT_ASSESSED", item.display_id)]


def test_bcdr801_unknown_protection_state_is_not_assessed_not_a_silent_pass():
    vm = f.vm("app1")
    v = f.vault()
    inv = f.inventory(virtual_machines=[vm], vaults=[v],
                      protected_items=[f.protected_item(vm, v, protection_state="SomethingNew")])
    [finding] = run("BCDR801", inv)
    assert (finding.status, finding.resource_id) == ("NOT_ASSESSED", vm.display_id)
    assert "SomethingNew" in finding.evidence["reason"]


# ---- rule-catalog-v2 section A: BCDR801 cross-subscription backup, BCDR803 BackupsSuspended
def test_bcdr801_a_vault_in_another_scanned_subscription_protects_the_vm():
    # Cross-subscription backup: the vault sits in SUB2, the VM in SUB.
    vm, remote = f.vm("app"), f.vault("central", sub=f.SUB2)
    inv = f.inventory(subs=(f.SUB, f.SUB2), virtual_machines=[vm], vaults=[remote],
                      protected_items=[f.protected_item(vm, remote)])
    assert run("BCDR801", inv) == [] and passes("BCDR801", inv) == 1


def test_bcdr801_evidence_says_a_vault_elsewhere_cannot_be_ruled_out_unless_all_subscriptions_were_scanned():
    vm = f.vm("app")
    named = f.inventory(virtual_machines=[vm])
    [finding] = run("BCDR801", named)
    assert finding.status == "FAIL"
    assert "cannot be ruled out" in finding.evidence["vault_elsewhere"]
    everything = f.with_(named, scope="all-subscriptions")
    [finding] = run("BCDR801", everything)
    assert finding.status == "FAIL" and "vault_elsewhere" not in finding.evidence


def test_bcdr801_evidence_after_a_management_group_scan_says_vaults_outside_the_group_are_unseen():
    [finding] = run("BCDR801", f.with_(f.inventory(virtual_machines=[f.vm("app")]), scope="management-group"))
    assert finding.status == "FAIL"
    assert "management group" in finding.evidence["vault_elsewhere"] and "cannot be ruled out" in finding.evidence["vault_elsewhere"]


def test_bcdr801_names_the_scanned_subscriptions_whose_vaults_could_not_be_read():
    vm = f.vm("a")
    inv = f.with_(f.inventory(subs=(f.SUB, f.SUB2), virtual_machines=[vm],
                              coverage_overrides={m.VAULTS: f.failed(m.VAULTS, sub=f.SUB2)}), scope="all-subscriptions")
    [finding] = run("BCDR801", inv)
    assert finding.status == "FAIL" and finding.evidence["subscriptions_with_unread_vaults"] == [f.SUB2]


def test_bcdr803_fails_for_backups_suspended():
    # "Stop backup, retain data" reports BackupsSuspended: the first edition gave no finding at all.
    vm, v = f.vm("a"), f.vault()
    item = f.protected_item(vm, v, protection_state="BackupsSuspended")
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item])
    [finding] = run("BCDR803", inv)
    assert (finding.status, finding.resource_id, finding.evidence["protection_state"]) == (
        "FAIL", item.display_id, "BackupsSuspended")


def test_bcdr803_leaves_a_soft_deleted_item_to_bcdr805():
    vm, v = f.vm("a"), f.vault()
    item = f.protected_item(vm, v, protection_state="ProtectionStopped", deferred_delete=True)
    inv = f.inventory(virtual_machines=[vm], vaults=[v], protected_items=[item])
    assert run("BCDR803", inv) == [] and passes("BCDR803", inv) == 0


def test_bcdr803_suspended_item_is_not_assessed_when_the_vm_list_failed():
    v = f.vault()
    item = f.protected_item(f.vm("a"), v, protection_state="BackupsSuspended")
    inv = f.inventory(vaults=[v], protected_items=[item], coverage_overrides={m.VMS: f.failed(m.VMS)})
    assert [(x.status, x.resource_id) for x in run("BCDR803", inv)] == [("NOT_ASSESSED", item.display_id)]
