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
