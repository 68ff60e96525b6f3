import factories as f
from rulekit import passes, run

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
    inv = f.inventory(coverage_overrides={m.RESOURCE_GROUPS: f.failed(m.RESOURCE_GROUPS)},
                      locks=[f.lock(f.resource_group("azurebackuprg_westeurope_2").display_id)])
    [finding] = run("BCDR401", inv)
    assert finding.status == "FAIL"


def test_bcdr401_not_assessed_when_locks_unreadable():
    inv = f.inventory(resource_groups=[f.resource_group(BACKUP_RG)],
                      coverage_overrides={m.LOCKS: f.failed(m.LOCKS)})
    [finding] = run("BCDR401", inv)
    assert finding.status == "NOT_ASSESSED"
    assert "AuthorizationFailed" in finding.message
