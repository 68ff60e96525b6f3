import factories as f
import pytest
from rulekit import passes, run

from scanner import inventory as m


def _inv(size, *, backed_up=True, ade=False, **kw):
    vm = f.vm("db1")
    d = f.disk("db1-data", size_gb=size, managed_by=vm.display_id, ade_enabled=ade, ade_has_bek=ade)
    vm = f.with_(vm, disks=(m.VmDisk(name=d.name, lun=0, managed_disk_id=d.id),))
    v = f.vault()
    return f.inventory(virtual_machines=[vm], disks=[d], vaults=[v],
                       protected_items=[f.protected_item(vm, v)] if backed_up else [], **kw)


@pytest.mark.parametrize("size,expected", [(32767, None), (32768, "FAIL"), (65536, "FAIL")])
def test_bcdr601_boundary(size, expected):
    findings = run("BCDR601", _inv(size))
    assert [x.status for x in findings] == ([expected] if expected else [])


def test_bcdr601_severity_depends_on_backup():
    [hi] = run("BCDR601", _inv(40000))
    [med] = run("BCDR601", _inv(40000, backed_up=False))
    assert (hi.severity, med.severity) == ("high", "medium")
    assert hi.evidence["size_gb"] == 40000


def test_bcdr601_unmanaged_disk_size_from_vm_model():
    vm = f.vm("old1", disks=(m.VmDisk(name="osdisk", size_gb=33000, is_os_disk=True),))
    [finding] = run("BCDR601", f.inventory(virtual_machines=[vm]))
    assert finding.status == "FAIL"


def test_bcdr601_not_assessed_when_disks_unreadable():
    inv = _inv(40000, coverage_overrides={m.DISKS: f.failed(m.DISKS)})
    assert [x.status for x in run("BCDR601", inv)] == ["NOT_ASSESSED"]


@pytest.mark.parametrize("size,expected", [(4095, None), (4096, "FAIL")])
def test_bcdr602_boundary(size, expected):
    findings = run("BCDR602", _inv(size, ade=True))
    assert [x.status for x in findings] == ([expected] if expected else [])


def test_bcdr602_ignores_unencrypted_disks():
    assert run("BCDR602", _inv(8000, ade=False)) == []
    assert passes("BCDR602", _inv(100, ade=True)) == 1


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


def test_bcdr603_not_assessed_when_keys_not_visible_or_disks_unreadable():
    inv, _vm, _d = _ade_inv(bek=False, kek=False)
    assert [x.status for x in run("BCDR603", inv)] == ["NOT_ASSESSED"]
    inv, _vm, _d = _ade_inv(coverage_overrides={m.DISKS: f.failed(m.DISKS)})
    assert [(x.status, x.resource_id) for x in run("BCDR603", inv)] == [("NOT_ASSESSED", f"/subscriptions/{f.SUB}")]


def test_bcdr603_disk_of_same_named_vm_in_other_rg_is_not_attributed():
    vm_a = f.vm("sec1", rg="rg-a")
    vm_b = f.vm("sec1", rg="rg-b")
    d = f.disk("sec1-os", rg="rg-b", managed_by=vm_b.display_id.upper(), ade_enabled=True, ade_has_bek=True)
    inv = f.inventory(virtual_machines=[vm_a, vm_b], disks=[d])
    assert [x.resource_id for x in run("BCDR603", inv)] == [vm_b.display_id]
