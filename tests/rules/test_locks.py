import factories as f
from rulekit import passes, run, statuses

from scanner import inventory as m

BACKUP_RG = "AzureBackupRG_westeurope_1"


def test_bcdr401_fails_for_lock_on_backup_rg_and_names_backed_up_vms():
    vm = f.vm("web1")
    other_region = f.vm("web2", location="eastus")
    v = f.vault()
    inv = f.inventory(
        virtual_machines=[vm, other_region], vaults=[v],
        protected_items=[f.protected_item(vm, v), f.protected_item(other_region, v)],
        resource_groups=[f.resource_group(BACKUP_RG), f.resource_group("rg-app")],
        locks=[f.lock(f.resource_group(BACKUP_RG).display_id, "nodelete", "CanNotDelete")],
    )
    [finding] = run("BCDR401", inv)
    assert finding.status == "FAIL"
    assert finding.rule_id == "BCDR401"
    assert finding.resource_id.endswith("/resourceGroups/AzureBackupRG_westeurope_1")
    assert finding.evidence["backed_up_vms"] == ["web1"]
    assert finding.evidence["locks"][0]["level"] == "CanNotDelete"
    assert "UserErrorRpCollectionLimitReached" in finding.predicted_errors


def test_bcdr401_inherited_subscription_lock_applies():
    inv = f.inventory(resource_groups=[f.resource_group(BACKUP_RG)],
                      locks=[f.lock(f"/subscriptions/{f.SUB}", "sub-ro", "ReadOnly")])
    [finding] = run("BCDR401", inv)
    assert finding.status == "FAIL"
    assert finding.evidence["locks"][0]["scope"] == "subscription"


def test_bcdr401_passes_when_lock_is_elsewhere():
    inv = f.inventory(resource_groups=[f.resource_group(BACKUP_RG), f.resource_group("rg-app")],
                      locks=[f.lock(f.resource_group("rg-app").display_id)])
    assert run("BCDR401", inv) == []
    assert passes("BCDR401", inv) == 1


def test_bcdr401_ignores_lookalike_names():
    inv = f.inventory(resource_groups=[f.resource_group("AzureBackupRG-old")],
                      locks=[f.lock(f.resource_group("AzureBackupRG-old").display_id)])
    assert run("BCDR401", inv) == []


def test_bcdr401_finds_lock_even_when_rg_list_is_missing():
    # The lock's own scope names the backup group: FAIL. Other backup groups (one under a
    # subscription lock, say) cannot be listed: the subscription is NOT_ASSESSED, not silently clean.
    rg = f.resource_group("azurebackuprg_westeurope_2")
    inv = f.inventory(coverage_overrides={m.RESOURCE_GROUPS: f.failed(m.RESOURCE_GROUPS)},
                      locks=[f.lock(rg.display_id)])
    assert statuses(run("BCDR401", inv)) == {rg.display_id.lower(): "FAIL", f"/subscriptions/{f.SUB}": "NOT_ASSESSED"}


# ---------------------------------------------------------------- BCDR402
def _rp_inv(rpc_rg=BACKUP_RG, locks=(), backed_up=True, **kw):
    vm = f.vm("app1")
    v = f.vault()
    rpc = f.rpc(vm, 5, rg=rpc_rg)
    inv = f.inventory(virtual_machines=[vm], vaults=[v], restore_point_collections=[rpc], locks=list(locks),
                      protected_items=[f.protected_item(vm, v)] if backed_up else [], **kw)
    return inv, vm, rpc


def test_bcdr402_fails_for_lock_on_the_collection_itself():
    rpc = f.rpc(f.vm("app1"), 5)
    inv, vm, rpc = _rp_inv(locks=[f.lock(rpc.display_id, "keep", "CanNotDelete")])
    [finding] = run("BCDR402", inv)
    assert (finding.status, finding.rule_id, finding.severity) == ("FAIL", "BCDR402", "high")
    assert finding.resource_id == rpc.display_id
    assert finding.resource_type == "Microsoft.Compute/restorePointCollections"
    assert finding.evidence["vm_id"] == vm.display_id
    assert finding.evidence["locks"][0]["scope"] == "resource"


def test_bcdr402_leaves_backup_rg_locks_to_bcdr401():
    for scope in (f.resource_group(BACKUP_RG).display_id, f"/subscriptions/{f.SUB}"):
        inv, _vm, _rpc = _rp_inv(locks=[f.lock(scope)], resource_groups=[f.resource_group(BACKUP_RG)])
        assert run("BCDR402", inv) == []
        assert passes("BCDR402", inv) == 1
        assert [x.status for x in run("BCDR401", inv)] == ["FAIL"]


def test_bcdr402_fails_for_lock_on_custom_restore_point_rg_in_other_casing():
    # Lock scope as one API spells it, collection id as another: joined lower-cased.
    scope = f"/Subscriptions/{f.SUB}/resourcegroups/RG-RESTOREPOINTS"
    inv, _vm, rpc = _rp_inv(rpc_rg="rg-RestorePoints", locks=[f.lock(scope, "ro", "ReadOnly")])
    [finding] = run("BCDR402", inv)
    assert finding.status == "FAIL"
    assert finding.evidence["locks"][0]["scope"] == "resourceGroup"


def test_bcdr402_subscription_lock_applies_to_custom_rg():
    inv, _vm, _rpc = _rp_inv(rpc_rg="rg-restorepoints", locks=[f.lock(f"/subscriptions/{f.SUB}")])
    assert [x.status for x in run("BCDR402", inv)] == ["FAIL"]


def test_bcdr402_passes_when_unlocked_and_ignores_vms_not_backed_up():
    inv, _vm, _rpc = _rp_inv(rpc_rg="rg-restorepoints")
    assert run("BCDR402", inv) == []
    assert passes("BCDR402", inv) == 1
    inv, _vm, _rpc = _rp_inv(rpc_rg="rg-restorepoints", locks=[f.lock(f"/subscriptions/{f.SUB}")], backed_up=False)
    assert run("BCDR402", inv) == []


def test_bcdr402_joins_on_id_not_name():
    backed = f.vm("app1", rg="rg-a")
    twin = f.vm("app1", rg="rg-b")
    v = f.vault()
    twin_rpc = f.rpc(twin, 5, name="twin-rpc", rg="rg-b")
    inv = f.inventory(virtual_machines=[backed, twin], vaults=[v], protected_items=[f.protected_item(backed, v)],
                      restore_point_collections=[f.rpc(backed, 5, rg="rg-a"), twin_rpc],
                      locks=[f.lock(f.resource_group("rg-b").display_id)])
    assert run("BCDR402", inv) == []
    assert passes("BCDR402", inv) == 1


# ---------------------------------------------------------------- BCDR403
def _vm_inv(locks=(), backed_up=True, **kw):
    vm = f.vm("app1", rg="RG-App")
    v = f.vault()
    return f.inventory(virtual_machines=[vm], vaults=[v], locks=list(locks),
                       protected_items=[f.protected_item(vm, v)] if backed_up else [], **kw), vm


def test_bcdr403_fails_for_readonly_lock_on_vm_rg_or_subscription():
    vm = f.vm("app1", rg="RG-App")
    for scope in (vm.display_id, f"/subscriptions/{f.SUB}/resourcegroups/rg-app", f"/subscriptions/{f.SUB}"):
        inv, vm = _vm_inv(locks=[f.lock(scope, "ro", "ReadOnly")])
        [finding] = run("BCDR403", inv)
        assert (finding.status, finding.severity, finding.resource_id) == ("FAIL", "medium", vm.display_id)
        assert finding.evidence["locks"][0]["level"] == "ReadOnly"


def test_bcdr403_passes_for_cannotdelete_lock():
    inv, _vm = _vm_inv(locks=[f.lock(f"/subscriptions/{f.SUB}", "nodelete", "CanNotDelete")])
    assert run("BCDR403", inv) == []
    assert passes("BCDR403", inv) == 1


def test_bcdr403_ignores_vm_not_backed_up():
    inv, _vm = _vm_inv(locks=[f.lock(f"/subscriptions/{f.SUB}", "ro", "ReadOnly")], backed_up=False)
    assert run("BCDR403", inv) == []


def test_bcdr403_lock_on_twin_rg_does_not_apply():
    backed = f.vm("app1", rg="rg-a")
    twin = f.vm("app1", rg="rg-b")
    v = f.vault()
    inv = f.inventory(virtual_machines=[backed, twin], vaults=[v], protected_items=[f.protected_item(backed, v)],
                      locks=[f.lock(f.resource_group("rg-b").display_id, "ro", "ReadOnly")])
    assert run("BCDR403", inv) == []
    assert passes("BCDR403", inv) == 1


# ---- rule-catalog-v2 section A: BCDR401 custom instant-restore resource groups
def _custom(lock_on="snaprg1-weu", rg_location="westeurope", **kw):
    """A policy keeping instant restore points in snaprg<N>-weu (instantRPDetails prefix 'snaprg',
    suffix '-weu'); web1 in westeurope is on it."""
    vm, v = f.vm("web1"), f.vault()
    p = f.policy("EnhancedDaily", v, is_v2=True, instant_rp_rg_prefix="snaprg", instant_rp_rg_suffix="-weu")
    rg = f.resource_group("snaprg1-weu", location=rg_location)
    return f.inventory(virtual_machines=[vm], vaults=[v], backup_policies=[p], protected_items=[f.protected_item(vm, v, p)],
                       resource_groups=[rg, f.resource_group("rg-app")],
                       locks=[f.lock(f.resource_group(lock_on).display_id, "keep", "CanNotDelete")], **kw), p, rg


def test_bcdr401_lock_on_a_policys_custom_group_fails_and_names_policy_and_vms():
    inv, p, rg = _custom()
    [finding] = run("BCDR401", inv)  # the first edition matched only AzureBackupRG_<geo>_<n>: no finding
    assert (finding.status, finding.resource_id) == ("FAIL", rg.display_id)
    assert finding.evidence["policies"] == [p.display_id] and finding.evidence["backed_up_vms"] == ["web1"]


def test_bcdr401_inherited_lock_on_a_custom_group_fails_too():
    inv, _p, rg = _custom()
    inv = f.with_(inv, locks=(f.lock(f"/subscriptions/{f.SUB}", "sub", "ReadOnly"),))
    assert statuses(run("BCDR401", inv)) == {rg.display_id.lower(): "FAIL"}


def test_bcdr401_custom_group_of_another_region_or_unlocked_passes():
    inv, _p, _rg = _custom(rg_location="eastus")
    assert run("BCDR401", inv) == []
    inv, _p, _rg = _custom(lock_on="rg-app")
    assert run("BCDR401", inv) == [] and passes("BCDR401", inv) == 1


def test_bcdr401_custom_groups_unknown_when_policies_unreadable():
    inv, _p, _rg = _custom(coverage_overrides={m.BACKUP_POLICIES: f.failed(m.BACKUP_POLICIES)})
    inv = f.with_(inv, backup_policies=())
    findings = run("BCDR401", inv)
    assert [(x.status, x.resource_id) for x in findings] == [("NOT_ASSESSED", f"/subscriptions/{f.SUB}")]


def test_bcdr402_leaves_a_custom_group_lock_to_bcdr401():
    inv, _p, _rg = _custom()
    vm = inv.virtual_machines[0]
    inv = f.with_(inv, restore_point_collections=(f.rpc(vm, 4, rg="snaprg1-weu"),))
    assert run("BCDR402", inv) == [] and passes("BCDR402", inv) == 1
