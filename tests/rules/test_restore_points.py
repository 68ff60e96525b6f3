import factories as f
import pytest
from rulekit import passes, run

from scanner import inventory as m


def _inv(count, *, v2=False, policy_known=True, item_kw=None, **kw):
    vm = f.vm("app1")
    v = f.vault()
    p = f.policy(is_v2=v2, v=v)
    item = f.protected_item(vm, v, p, **(item_kw or {}))
    return f.inventory(virtual_machines=[vm], vaults=[v], backup_policies=[p] if policy_known else [],
                       protected_items=[item], restore_point_collections=[f.rpc(vm, count)], **kw)


@pytest.mark.parametrize("count,expected", [(17, None), (18, "FAIL"), (19, "FAIL")])
def test_bcdr501_boundary_at_18(count, expected):
    findings = run("BCDR501", _inv(count))
    assert [x.status for x in findings] == ([expected] if expected else [])
    if expected:
        assert findings[0].evidence["restore_points"] == count
        assert findings[0].severity == "critical"


def test_bcdr501_sums_all_collections_of_the_vm():
    vm = f.vm("app1")
    v = f.vault()
    p = f.policy(v=v)
    inv = f.inventory(virtual_machines=[vm], vaults=[v], backup_policies=[p],
                      protected_items=[f.protected_item(vm, v, p)],
                      restore_point_collections=[f.rpc(vm, 10, name="a"), f.rpc(vm, 8, name="b")])
    [finding] = run("BCDR501", inv)
    assert finding.evidence["restore_points"] == 18


def test_bcdr501_enhanced_policy_uses_its_own_limit():
    assert run("BCDR501", _inv(25, v2=True)) == []
    assert passes("BCDR501", _inv(25, v2=True)) == 1


def test_bcdr501_enhanced_policy_without_policy_type_in_item():
    # The policy list says V2 only through SimpleSchedulePolicyV2; the item has no policyType.
    assert run("BCDR501", _inv(25, v2=True, item_kw={"policy_type": ""})) == []


def test_bcdr501_policy_type_from_item_when_policy_unreadable():
    findings = run("BCDR501", _inv(18, policy_known=False, item_kw={"policy_type": "V1"}))
    assert [x.status for x in findings] == ["FAIL"]


def test_bcdr501_not_assessed_when_count_unknown():
    findings = run("BCDR501", _inv(None))
    assert [x.status for x in findings] == ["NOT_ASSESSED"]


def test_bcdr501_not_assessed_when_collector_failed():
    inv = _inv(18, coverage_overrides={m.RESTORE_POINT_COLLECTIONS: f.failed(m.RESTORE_POINT_COLLECTIONS)})
    assert [x.status for x in run("BCDR501", inv)] == ["NOT_ASSESSED"]


def test_bcdr501_joins_on_id_not_name():
    # Two VMs named app1 in different resource groups: only the backed-up one's collection counts.
    backed = f.vm("app1", rg="rg-a")
    twin = f.vm("app1", rg="rg-b")
    v = f.vault()
    p = f.policy(v=v)
    inv = f.inventory(virtual_machines=[backed, twin], vaults=[v], backup_policies=[p],
                      protected_items=[f.protected_item(backed, v, p)],
                      restore_point_collections=[f.rpc(backed, 3), f.rpc(twin, 30, name="twin")])
    assert run("BCDR501", inv) == []


def test_bcdr501_parameter_overrides_limit():
    assert [x.status for x in run("BCDR501", _inv(10), limit=10)] == ["FAIL"]


@pytest.mark.parametrize("count,expected", [(14, None), (15, "FAIL"), (17, "FAIL"), (18, None)])
def test_bcdr502_near_limit_window(count, expected):
    findings = run("BCDR502", _inv(count))
    assert [x.status for x in findings] == ([expected] if expected else [])
