"""0xx second edition: BCDR004-007, and 8xx: BCDR805 (soft-deleted item)."""
import factories as f
import pytest
from rulekit import outcome, run

from scanner import ids
from scanner import inventory as m


# ---------------------------------------------------------------- BCDR004 vault-job-alerts-off
@pytest.mark.parametrize("value,expected", [("Enabled", "PASS"), ("Disabled", "FAIL"), (None, "NOT_ASSESSED"),
                                            ("Invalid", "NOT_ASSESSED")])
def test_bcdr004_job_failure_alerts(value, expected):
    v = f.vault(job_failure_alerts=value)
    inv = f.inventory(vaults=[v])
    assert outcome("BCDR004", inv) == expected
    if expected == "FAIL":
        [finding] = run("BCDR004", inv)
        assert (finding.resource_id, finding.severity) == (v.display_id, "low")
        assert finding.evidence["alerts_for_all_job_failures"] == "Disabled"


def test_bcdr004_not_assessed_when_the_vault_could_not_be_read():
    v = f.vault(job_failure_alerts="Disabled")
    inv = f.inventory(vaults=[v], coverage_overrides={m.VAULTS: f.partial(m.VAULTS, (v.display_id,))})
    assert [x.status for x in run("BCDR004", inv)] == ["NOT_ASSESSED"]
    inv = f.inventory(coverage_overrides={m.VAULTS: f.failed(m.VAULTS)})
    assert [(x.status, x.resource_id) for x in run("BCDR004", inv)] == [("NOT_ASSESSED", f"/subscriptions/{f.SUB}")]


# ---------------------------------------------------------------- BCDR005 vault-multi-user-authorization-off
def _protecting(v, **kw):
    vm = f.vm("app")
    return f.inventory(vaults=[v], virtual_machines=[vm], protected_items=[f.protected_item(vm, v)], **kw)


@pytest.mark.parametrize("mua,soft,expected", [
    ("Enabled", "AlwaysON", "PASS"),
    ("Disabled", "AlwaysON", "FAIL"),
    ("Enabled", "Enabled", "FAIL"),  # soft delete on, but can be turned off
    ("Enabled", "Disabled", "FAIL"),
    (None, "AlwaysON", "NOT_ASSESSED"),
    ("Enabled", None, "NOT_ASSESSED"),
])
def test_bcdr005_mua_and_always_on_soft_delete(mua, soft, expected):
    v = f.vault(multi_user_authorization=mua, soft_delete_state=soft)
    assert outcome("BCDR005", _protecting(v)) == expected


def test_bcdr005_names_what_is_missing_and_ignores_empty_vaults():
    v = f.vault(multi_user_authorization="Disabled", soft_delete_state="Enabled")
    [finding] = run("BCDR005", _protecting(v))
    assert finding.severity == "info" and "multi-user authorization and always-on soft delete" in finding.message
    assert finding.evidence["protected_items"] == 1
    # A vault that protects no VM has nothing to lose yet.
    assert outcome("BCDR005", f.inventory(vaults=[v])) == "PASS"


def test_bcdr005_not_assessed_when_items_unreadable():
    v = f.vault(multi_user_authorization="Disabled")
    inv = f.inventory(vaults=[v], coverage_overrides={
        m.PROTECTED_ITEMS: f.partial(m.PROTECTED_ITEMS, (v.display_id,))})
    assert outcome("BCDR005", inv) == "NOT_ASSESSED"


# ---------------------------------------------------------------- BCDR006 vault-capacity
def _vault_with(n, v=None, **item_kw):
    v = v or f.vault()
    vms = [f.vm(f"vm{i:04d}") for i in range(n)]
    return f.inventory(vaults=[v], virtual_machines=vms, protected_items=[f.protected_item(x, v, **item_kw) for x in vms])


def test_bcdr006_fails_above_the_limit_and_passes_at_it():
    [finding] = run("BCDR006", _vault_with(4), max_vms=3)
    assert (finding.status, finding.severity) == ("FAIL", "medium")
    assert finding.evidence["protected_vms"] == 4 and finding.evidence["max_vms"] == 3
    assert outcome("BCDR006", _vault_with(3), max_vms=3) == "PASS"


def test_bcdr006_default_limit_is_1000_and_soft_deleted_items_do_not_count():
    assert outcome("BCDR006", _vault_with(1000)) == "PASS"
    assert outcome("BCDR006", _vault_with(1001)) == "FAIL"
    assert outcome("BCDR006", _vault_with(4, deferred_delete=True), max_vms=3) == "PASS"


def test_bcdr006_not_assessed_when_items_unreadable():
    v = f.vault()
    inv = f.inventory(vaults=[v], coverage_overrides={m.PROTECTED_ITEMS: f.partial(m.PROTECTED_ITEMS, (v.display_id,))})
    assert outcome("BCDR006", inv, max_vms=1) == "NOT_ASSESSED"


# ---------------------------------------------------------------- BCDR007 subscription-rg-limit-near
def _groups(n, sub=f.SUB):
    return [f.resource_group(f"rg-{i:04d}", sub=sub) for i in range(n)]


def test_bcdr007_fails_at_the_warning_count_and_names_the_backed_up_vms():
    vm, other = f.vm("app"), f.vm("app2")
    inv = f.inventory(resource_groups=_groups(950), virtual_machines=[vm, other],
                      protected_items=[f.protected_item(vm)])
    [finding] = run("BCDR007", inv)
    assert (finding.status, finding.resource_id, finding.severity) == ("FAIL", f"/subscriptions/{f.SUB}", "low")
    assert finding.evidence == {"resource_groups": 950, "warn_at": 950, "limit": 980}
    assert finding.affected_vms == (vm.id,)


def test_bcdr007_passes_below_and_respects_parameters():
    assert outcome("BCDR007", f.inventory(resource_groups=_groups(949))) == "PASS"
    assert outcome("BCDR007", f.inventory(resource_groups=_groups(5)), warn_at=5) == "FAIL"


def test_bcdr007_not_assessed_when_groups_unreadable():
    inv = f.inventory(resource_groups=_groups(3), coverage_overrides={m.RESOURCE_GROUPS: f.failed(m.RESOURCE_GROUPS)})
    assert [(x.status, x.resource_id) for x in run("BCDR007", inv, warn_at=1)] == [("NOT_ASSESSED", f"/subscriptions/{f.SUB}")]


# ---------------------------------------------------------------- BCDR805 protected-item-soft-deleted
def test_bcdr805_fails_for_a_soft_deleted_item_of_an_existing_vm():
    vm = f.vm("app")
    item = f.protected_item(vm, protection_state="ProtectionStopped", deferred_delete=True,
                            deferred_delete_time="2026-12-05T05:53:22Z")
    [finding] = run("BCDR805", f.inventory(virtual_machines=[vm], protected_items=[item]))
    assert (finding.status, finding.resource_id) == ("FAIL", item.display_id)
    assert finding.evidence["deferred_delete_time_utc"] == "2026-12-05T05:53:22Z"
    assert finding.affected_vms == (vm.id,)


@pytest.mark.parametrize("flag", [None, False])
def test_bcdr805_passes_items_not_deleted(flag):
    vm = f.vm("app")
    inv = f.inventory(virtual_machines=[vm], protected_items=[f.protected_item(vm, deferred_delete=flag)])
    assert outcome("BCDR805", inv) == "PASS"


def test_bcdr805_passes_when_the_vm_is_gone_too_and_not_assessed_when_unknown():
    gone = f.vm("gone")
    item = f.protected_item(gone, deferred_delete=True)
    assert outcome("BCDR805", f.inventory(protected_items=[item])) == "PASS"
    blind = f.inventory(protected_items=[item], coverage_overrides={m.VMS: f.failed(m.VMS)})
    assert outcome("BCDR805", blind) == "NOT_ASSESSED"
    unreadable = f.inventory(protected_items=[item], coverage_overrides={m.PROTECTED_ITEMS: f.failed(m.PROTECTED_ITEMS)})
    assert [(x.status, x.resource_id) for x in run("BCDR805", unreadable)] == [("NOT_ASSESSED", f"/subscriptions/{f.SUB}")]
    assert ids.norm(item.source_resource_id) == gone.id


def test_bcdr805_does_not_judge_items_of_a_vault_whose_list_failed():
    vm, v = f.vm("app"), f.vault()
    item = f.protected_item(vm, v, deferred_delete=True)
    inv = f.inventory(vaults=[v], virtual_machines=[vm], protected_items=[item],
                      coverage_overrides={m.PROTECTED_ITEMS: f.partial(m.PROTECTED_ITEMS, (v.display_id,))})
    assert [(x.status, x.resource_id) for x in run("BCDR805", inv)] == [("NOT_ASSESSED", v.display_id)]
