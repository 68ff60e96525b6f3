"""BCDR604-608: disks and encryption, second edition (rules/disk_support.py)."""
from __future__ import annotations

import pytest
from factories import SUB, disk, failed, inventory, key_vault, partial, policy, protected_item, replication_item, vm, with_
from rulekit import run

from scanner import ids
from scanner import inventory as m

BMS = "f40e18f0-6544-45c2-9d24-639a8bb3b41a"  # a made-up object id for the Backup Management Service


def attach(target: m.VirtualMachine, *disks: m.Disk) -> m.VirtualMachine:
    refs = tuple(m.VmDisk(name=d.name, lun=None if i == 0 else i - 1, managed_disk_id=d.id, size_gb=d.size_gb,
                          is_os_disk=i == 0) for i, d in enumerate(disks))
    return with_(target, disks=refs)


def backed_up(*disks: m.Disk, v2: bool = False, vm_kw=None, **parts):
    target = vm("vm1", **(vm_kw or {}))
    disks = tuple(with_(d, managed_by=target.id) for d in disks) or (disk("vm1-os", managed_by=target.id),)
    target = attach(target, *disks)
    pol = policy("Enhanced" if v2 else "Standard", is_v2=v2)
    inv = inventory(virtual_machines=[target], disks=list(disks), backup_policies=[pol],
                    protected_items=[protected_item(target, p=pol)], **parts)
    return target, inv


# --------------------------------------------------------------------------- BCDR604
@pytest.mark.parametrize("kw,why", [
    (dict(sku="PremiumV2_LRS"), "PremiumV2_LRS needs the Enhanced policy"),
    (dict(sku="UltraSSD_LRS"), "UltraSSD_LRS needs the Enhanced policy"),
    (dict(max_shares=2), "shared disk (maxShares 2)"),
    (dict(data_access_auth_mode="AzureActiveDirectory"), "Microsoft Entra"),
    (dict(security_type="ConfidentialVM_DiskEncryptedWithCustomerKey"), "security type ConfidentialVM"),
    (dict(security_type="TrustedLaunch"), "security type TrustedLaunch"),
])
def test_bcdr604_fails_for_a_data_disk_the_standard_policy_cannot_back_up(kw, why):
    target, inv = backed_up(disk("vm1-os"), disk("vm1-data", **kw))
    [f] = run("BCDR604", inv)
    assert (f.status, f.resource_id) == ("FAIL", target.display_id)
    assert f.evidence["problems"][0]["disk"] == "vm1-data" and why in f.evidence["problems"][0]["why"]
    assert f.evidence["policies"] == ["Standard"]


def test_bcdr604_enhanced_policy_takes_premium_v2_and_an_os_disk_may_be_trusted_launch():
    _t, inv = backed_up(disk("vm1-os", security_type="TrustedLaunch"), disk("vm1-data", sku="PremiumV2_LRS"), v2=True)
    assert run("BCDR604", inv) == []


def test_bcdr604_confidential_vm_fails():
    target, inv = backed_up(disk("vm1-os"), vm_kw=dict(security_type="ConfidentialVM"))
    [f] = run("BCDR604", inv)
    assert f.status == "FAIL" and f.evidence["problems"][0]["why"] == "the VM is a Confidential VM"


def test_bcdr604_not_assessed_when_policy_type_unknown_or_disks_missing():
    target = vm("vm1")
    d = disk("vm1-data", sku="UltraSSD_LRS", managed_by=target.id)
    target = attach(target, disk("vm1-os", managed_by=target.id), d)
    item = protected_item(target)  # no policy id, no policy type
    [f] = run("BCDR604", inventory(virtual_machines=[target], disks=[d], protected_items=[item]))
    assert f.status == "NOT_ASSESSED" and "policy type is unknown" in f.message
    [f] = run("BCDR604", inventory(virtual_machines=[target], disks=[d], protected_items=[item],
                                   coverage_overrides={m.DISKS: failed(m.DISKS)}))
    assert f.status == "NOT_ASSESSED" and f.resource_id == f"/subscriptions/{SUB}"


# --------------------------------------------------------------------------- BCDR605
def test_bcdr605_fails_over_32_data_disks_and_passes_at_32():
    many = [disk(f"vm1-d{i}", size_gb=1024) for i in range(34)]
    target, inv = backed_up(*many)  # one OS disk + 33 data disks
    [f] = run("BCDR605", inv)
    assert (f.status, f.evidence["data_disks"], f.evidence["max_data_disks"]) == ("FAIL", 33, 32)
    _t, inv = backed_up(*many[:33])
    assert run("BCDR605", inv) == []


def test_bcdr605_total_capacity_and_parameters():
    big = [disk("vm1-os", size_gb=128)] + [disk(f"vm1-d{i}", size_gb=65536) for i in range(8)]  # 512 TiB + 128 GiB
    _t, inv = backed_up(*big)
    [f] = run("BCDR605", inv)
    assert f.status == "FAIL" and f.evidence["total_gib"] == 8 * 65536 + 128
    assert run("BCDR605", inv, max_total_tib=1024) == []
    [f] = run("BCDR605", inv, max_total_tib=1024, max_data_disks=4)
    assert f.status == "FAIL" and f.evidence["max_data_disks"] == 4


def test_bcdr605_not_assessed_when_a_size_is_unknown():
    _t, inv = backed_up(disk("vm1-os", size_gb=None))
    [f] = run("BCDR605", inv)
    assert f.status == "NOT_ASSESSED"


# --------------------------------------------------------------------------- BCDR606
def test_bcdr606_unmanaged_disk_fails_for_backed_up_and_replicated_vms():
    vhd = (m.VmDisk(name="legacy-os", is_os_disk=True, unmanaged=True, size_gb=127),)
    a, b, c = vm("a", disks=vhd), vm("b", disks=vhd), vm("c", disks=(m.VmDisk(name="os", is_os_disk=True,
                                                                             managed_disk_id="/x/disks/os"),))
    inv = inventory(virtual_machines=[a, b, c], protected_items=[protected_item(a), protected_item(c)],
                    replication_items=[replication_item(source=b)])
    found = {f.resource_id: f for f in run("BCDR606", inv)}
    assert set(found) == {a.display_id, b.display_id}
    assert found[b.display_id].evidence == {"disks": ["legacy-os"], "protection": ["site-recovery"]}


def test_bcdr606_not_assessed_without_a_storage_profile():
    target = vm("a")
    [f] = run("BCDR606", inventory(virtual_machines=[target], protected_items=[protected_item(target)]))
    assert f.status == "NOT_ASSESSED"


# --------------------------------------------------------------------------- BCDR607 / BCDR608
KV = key_vault("kv-ade")


def ade_disk(name="vm1-os", kek=True, vault_=KV, **kw):
    return disk(name, ade_enabled=True, ade_has_bek=True, ade_has_kek=kek, ade_secret_vault_ids=(vault_.id,),
                ade_key_vault_ids=(vault_.id,) if kek else (), **kw)


def test_bcdr607_ade_is_info_and_plain_disks_pass():
    target, inv = backed_up(ade_disk())
    [f] = run("BCDR607", inv)
    assert (f.status, f.severity, f.evidence["retirement_date"]) == ("FAIL", "info", "2028-09-15")
    _t, inv = backed_up(disk("vm1-os"))
    assert run("BCDR607", inv) == []
    _t, inv = backed_up(ade_disk(), coverage_overrides={m.DISKS: failed(m.DISKS)})
    [f] = run("BCDR607", inv)
    assert f.status == "NOT_ASSESSED"
    # dual-pass ADE: the settings are on the VM model (storageProfile.osDisk.encryptionSettings), not the disk
    target, inv = backed_up(disk("vm1-os"), vm_kw=dict(ade_dual_pass=True))
    [f] = run("BCDR607", inv)
    assert (f.status, f.resource_id, f.evidence["disks"]) == ("FAIL", target.display_id, ["vm1-os"])


def policy_for(object_id=BMS, keys=("get", "list", "backup"), secrets=("get", "list", "backup")):
    return m.AccessPolicy(object_id=object_id, keys=tuple(keys), secrets=tuple(secrets))


def test_bcdr608_passes_with_the_access_policy_and_fails_without_backup_permission():
    _t, inv = backed_up(ade_disk(), key_vaults=[with_(KV, access_policies=(policy_for(),))])
    assert run("BCDR608", inv, backup_management_service_object_id=BMS) == []
    target, inv = backed_up(ade_disk(), key_vaults=[with_(KV, access_policies=(policy_for(keys=("get", "list")),))])
    [f] = run("BCDR608", inv, backup_management_service_object_id=BMS.upper())
    assert (f.status, f.resource_id) == ("FAIL", target.display_id)
    assert f.evidence["missing"] == {"keys": ["backup"]} and f.evidence["key_vault"] == KV.display_id


def test_bcdr608_bek_only_needs_secrets_and_no_policy_fails():
    _t, inv = backed_up(ade_disk(kek=False), key_vaults=[with_(KV, access_policies=(policy_for(keys=()),))])
    assert run("BCDR608", inv, backup_management_service_object_id=BMS) == []
    _t, inv = backed_up(ade_disk(), key_vaults=[with_(KV, access_policies=(policy_for(object_id="0" * 8 + BMS[8:]),))])
    [f] = run("BCDR608", inv, backup_management_service_object_id=BMS)
    assert f.status == "FAIL" and "no access policy" in f.message


def test_bcdr608_firewall_without_trusted_services_fails_even_without_the_object_id():
    closed = with_(KV, network_default_action="Deny", network_bypass="None", rbac_authorization=True)
    _t, inv = backed_up(ade_disk(), key_vaults=[closed])
    [f] = run("BCDR608", inv)
    assert f.status == "FAIL" and f.evidence["network_bypass"] == "None"
    trusted = with_(closed, network_bypass="AzureServices")
    _t, inv = backed_up(ade_disk(), key_vaults=[trusted])
    [f] = run("BCDR608", inv)
    assert f.status == "NOT_ASSESSED" and "RBAC" in f.message


def test_bcdr608_not_assessed_without_the_object_id_or_when_the_vault_was_not_read():
    _t, inv = backed_up(ade_disk(), key_vaults=[KV])
    [f] = run("BCDR608", inv)
    assert f.status == "NOT_ASSESSED" and "backup_management_service_object_id" in f.message
    [f] = run("BCDR608", inv, backup_management_service_object_id="not-a-guid")
    assert f.status == "NOT_ASSESSED" and "not a GUID" in f.message
    _t, inv = backed_up(ade_disk(), coverage_overrides={
        m.KEY_VAULTS: partial(m.KEY_VAULTS, (KV.display_id,), code="ForbiddenByPolicy")})
    [f] = run("BCDR608", inv, backup_management_service_object_id=BMS)
    assert f.status == "NOT_ASSESSED" and "ForbiddenByPolicy" in f.message
    assert f.evidence["key_vault"] == ids.norm(KV.display_id)


def test_bcdr608_dual_pass_ade_names_its_key_vault_on_the_vm_model():
    closed = with_(KV, network_default_action="Deny", network_bypass="None")
    dual = dict(ade_dual_pass=True, ade_dual_pass_secret_vault_ids=(KV.id,), ade_dual_pass_key_vault_ids=(KV.id,))
    target, inv = backed_up(disk("vm1-os"), vm_kw=dual, key_vaults=[closed])
    [f] = run("BCDR608", inv, backup_management_service_object_id=BMS)
    assert (f.status, f.resource_id, f.evidence["disks"]) == ("FAIL", target.display_id, ["vm1-os"])
    _t, inv = backed_up(disk("vm1-os"), vm_kw=dual, key_vaults=[with_(KV, access_policies=(policy_for(),))])
    assert run("BCDR608", inv, backup_management_service_object_id=BMS) == []
    _t, inv = backed_up(disk("vm1-os"), vm_kw=dict(ade_dual_pass=True))
    [f] = run("BCDR608", inv, backup_management_service_object_id=BMS)
    assert f.status == "NOT_ASSESSED" and "no key vault is named" in f.message
    # the disk resource names the vault: that vault is judged, no gap is reported for the VM model
    _t, inv = backed_up(ade_disk(), vm_kw=dict(ade_dual_pass=True), key_vaults=[closed])
    [f] = run("BCDR608", inv, backup_management_service_object_id=BMS)
    assert f.status == "FAIL" and f.evidence["key_vault"] == KV.display_id


def test_bcdr608_unprotected_vm_and_plain_disks_are_not_judged():
    target = vm("vm1")
    d = ade_disk(managed_by=target.id)
    assert run("BCDR608", inventory(virtual_machines=[attach(target, d)], disks=[d])) == []
    _t, inv = backed_up(disk("vm1-os"))
    assert run("BCDR608", inv, backup_management_service_object_id=BMS) == []
