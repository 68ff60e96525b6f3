import factories as f
import pytest
from rulekit import passes, run

from scanner import inventory as m


def _inv(size, *, backed_up=True, ade=False, policy="Standard", sku="Premium_LRS", **kw):
    """A VM with one data disk of `size` GiB; backed up on a Standard or Enhanced policy, or on a
    policy whose type is unknown (policy=None: the item names no readable policy)."""
    vm = f.vm("db1")
    d = f.disk("db1-data", size_gb=size, managed_by=vm.display_id, ade_enabled=ade, ade_has_bek=ade, sku=sku)
    vm = f.with_(vm, disks=(m.VmDisk(name=d.name, lun=0, managed_disk_id=d.id),))
    v = f.vault()
    p = f.policy("Enhanced" if policy == "Enhanced" else "Daily", v, is_v2=policy == "Enhanced") if policy else None
    return f.inventory(virtual_machines=[vm], disks=[d], vaults=[v], backup_policies=[p] if p else [],
                       protected_items=[f.protected_item(vm, v, p)] if backed_up else [], **kw)


@pytest.mark.parametrize("policy,size,expected", [
    ("Standard", 32767, None), ("Standard", 32768, "FAIL"), ("Standard", 65536, "FAIL"),
    # rule-catalog-v2 A: an Enhanced policy backs up disks up to 64 TiB (the first edition failed these).
    ("Enhanced", 32768, None), ("Enhanced", 40960, None), ("Enhanced", 65536, None), ("Enhanced", 65537, "FAIL"),
])
def test_bcdr601_limit_depends_on_the_policy(policy, size, expected):
    findings = run("BCDR601", _inv(size, policy=policy))
    assert [x.status for x in findings] == ([expected] if expected else [])
    if expected:
        ev = findings[0].evidence
        assert (ev["policy"], ev["limit_gb"]) == (policy, 32767 if policy == "Standard" else 65536)
        assert ("64 TiB" if policy == "Enhanced" else "32 TiB") in ev["limit_source"]


def test_bcdr601_40_tib_premium_ssd_v2_on_standard_policy_says_it_needs_enhanced():
    [finding] = run("BCDR601", _inv(40960, sku="PremiumV2_LRS"))
    assert finding.status == "FAIL" and finding.evidence["sku"] == "PremiumV2_LRS"
    assert "Enhanced" in finding.message


def test_bcdr601_policy_type_unknown_is_not_assessed_only_between_the_two_limits():
    assert [x.status for x in run("BCDR601", _inv(40000, policy=None))] == ["NOT_ASSESSED"]
    assert [x.status for x in run("BCDR601", _inv(70000, policy=None))] == ["FAIL"]
    assert run("BCDR601", _inv(30000, policy=None)) == []


def test_bcdr601_severity_depends_on_backup():
    [hi] = run("BCDR601", _inv(40000))
    [med] = run("BCDR601", _inv(70000, backed_up=False))
    assert (hi.severity, med.severity) == ("high", "medium")
    assert hi.evidence["size_gb"] == 40000
    # A VM not backed up yet can still take an Enhanced policy: a 40,000 GiB disk does not block it.
    assert run("BCDR601", _inv(40000, backed_up=False)) == []


def test_bcdr601_unmanaged_disk_size_from_vm_model():
    vm = f.vm("old1", disks=(m.VmDisk(name="osdisk", size_gb=33000, is_os_disk=True),))
    v = f.vault()
    p = f.policy("Daily", v)
    [finding] = run("BCDR601", f.inventory(virtual_machines=[vm], vaults=[v], backup_policies=[p],
                                           protected_items=[f.protected_item(vm, v, p)]))
    assert finding.status == "FAIL"


@pytest.mark.parametrize("size,expected", [(4095, None), (4096, None), (4097, "FAIL")])
def test_bcdr602_boundary_is_4096_gib_fail_above_not_at(size, expected):
    findings = run("BCDR602", _inv(size, ade=True))
    assert [x.status for x in findings] == ([expected] if expected else [])
    if expected:
        assert findings[0].evidence["limit_gb"] == 4096
        assert "troubleshooting page only" in findings[0].evidence["limit_source"]


def test_bcdr602_ignores_unencrypted_disks():
    assert run("BCDR602", _inv(8000, ade=False)) == []
    assert passes("BCDR602", _inv(100, ade=True)) == 1


def _dual_pass(size):
    """ADE dual pass: the disk resource says nothing, the VM model's osDisk.encryptionSettings does."""
    vm = f.vm("dp1", ade_dual_pass=True, ade_dual_pass_has_bek=True)
    d = f.disk("dp1-os", size_gb=size, managed_by=vm.display_id)
    vm = f.with_(vm, disks=(m.VmDisk(name=d.name, managed_disk_id=d.id, is_os_disk=True),))
    return f.inventory(virtual_machines=[vm], disks=[d]), vm


def test_bcdr602_reads_dual_pass_ade_from_the_vm_model():
    inv, vm = _dual_pass(5000)
    [finding] = run("BCDR602", inv)
    assert (finding.status, finding.resource_id) == ("FAIL", vm.display_id)
    assert "dual pass" in finding.evidence["ade_read_from"]
    inv, _vm = _dual_pass(1024)
    assert run("BCDR602", inv) == [] and passes("BCDR602", inv) == 1


def test_bcdr602_not_assessed_when_disks_unreadable():
    inv = _inv(5000, ade=True, coverage_overrides={m.DISKS: f.failed(m.DISKS)})
    assert [x.status for x in run("BCDR602", inv)] == ["NOT_ASSESSED"]


# ---------------------------------------------------------------- BCDR603
def _ade_inv(bek=True, kek=False, ade=True, **kw):
    vm = f.vm("sec1")
    d = f.disk("sec1-os", managed_by=vm.display_id, ade_enabled=ade, ade_has_bek=bek, ade_has_kek=kek)
    vm = f.with_(vm, disks=(m.VmDisk(name=d.name, managed_disk_id=d.id, is_os_disk=True),))
    return f.inventory(virtual_machines=[vm], disks=[d], **kw), vm, d


def test_bcdr603_reports_bek_without_kek_as_info():
    inv, vm, d = _ade_inv(bek=True, kek=False)
    [finding] = run("BCDR603", inv)
    assert (finding.status, finding.rule_id, finding.severity) == ("FAIL", "BCDR603", "info")
    assert finding.resource_id == vm.display_id
    assert finding.evidence["disk_id"] == d.display_id


def test_bcdr603_passes_with_kek_and_ignores_unencrypted_disks():
    inv, _vm, _d = _ade_inv(bek=True, kek=True)
    assert run("BCDR603", inv) == []
    assert passes("BCDR603", inv) == 1
    inv, _vm, _d = _ade_inv(ade=False, bek=False)
    assert run("BCDR603", inv) == []
    assert passes("BCDR603", inv) == 0


def test_bcdr603_not_assessed_when_keys_not_visible():
    inv, _vm, _d = _ade_inv(bek=False, kek=False)
    assert [x.status for x in run("BCDR603", inv)] == ["NOT_ASSESSED"]


def test_bcdr603_disk_of_same_named_vm_in_other_rg_is_not_attributed():
    vm_a = f.vm("sec1", rg="rg-a")
    vm_b = f.vm("sec1", rg="rg-b")
    d = f.disk("sec1-os", rg="rg-b", managed_by=vm_b.display_id.upper(), ade_enabled=True, ade_has_bek=True)
    inv = f.inventory(virtual_machines=[vm_a, vm_b], disks=[d])
    assert [x.resource_id for x in run("BCDR603", inv)] == [vm_b.display_id]


def test_bcdr603_is_off_by_default_but_listed_and_explained():
    from scanner.engine import RuleSettings, evaluate
    from scanner.explain import explain_text
    inv, _vm, _d = _ade_inv(bek=True, kek=False)
    ev = evaluate(inv)
    assert "BCDR603" not in ev.rules_run and not [x for x in ev.findings if x.rule_id == "BCDR603"]
    on = evaluate(inv, {"BCDR603": RuleSettings(enabled=True)})
    assert [x.status for x in on.findings if x.rule_id == "BCDR603"] == ["FAIL"]
    assert "Off by default" in explain_text("BCDR603")


def test_bcdr603_reads_dual_pass_keys_from_the_vm_model():
    inv, vm = _dual_pass(100)
    [finding] = run("BCDR603", inv)
    assert (finding.status, finding.resource_id) == ("FAIL", vm.display_id)
