"""The network and key vault mappers, and the VM / disk fields BCDR204, 304 and 604-608 read, over the
OFFICIAL example responses (../shared/azure-rest-examples, unchanged), through the real SDK models too."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from shared_data import REST_EXAMPLES as EXAMPLES

from rules import _nsg
from scanner import ids
from scanner import inventory as m
from scanner.collectors import compute as cmp
from scanner.collectors import keyvault as kvc
from scanner.collectors import network as net
from scanner.collectors.base import MalformedItem, wire

pytestmark = pytest.mark.shared


def body(rel: str, status: str = "200") -> Any:
    return json.loads((EXAMPLES / rel).read_text(encoding="utf-8"))["responses"][status]["body"]


def test_network_interface_list():
    first, second = (net.map_network_interface(x) for x in body("network/NetworkInterfaceListAll.json")["value"])
    assert first.vm_id == ("/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg1/providers/"
                           "microsoft.compute/virtualmachines/vm1")
    assert first.nsg_id.endswith("/providers/microsoft.network/networksecuritygroups/nsg")
    [ipc] = first.ip_configurations
    assert (ipc.private_ip, ipc.primary) == ("172.20.2.4", True)
    assert ipc.subnet_id.endswith("/virtualnetworks/rg1-vnet/subnets/default")
    assert first.primary is True and second.nsg_id == "" and second.vm_id == ""


def test_network_security_group_list_keeps_default_rules_in_priority_order():
    nsg1, nsg3 = (net.map_network_security_group(x) for x in body("network/NetworkSecurityGroupListAll.json")["value"])
    assert nsg1.name == "nsg1" and len(nsg1.rules) == 6 and all(r.is_default for r in nsg1.rules)
    out = [(r.name, r.priority, r.access) for r in _nsg.outbound_rules(nsg1)]
    assert out == [("AllowVnetOutBound", 65000, "Allow"), ("AllowInternetOutBound", 65001, "Allow"),
                   ("DenyAllOutBound", 65500, "Deny")]
    verdict = _nsg.evaluate(nsg3, _nsg.Flow(service="Storage", region="westus", source_ip="10.0.0.4"))
    assert verdict.allowed is True and verdict.rule.name == "AllowInternetOutBound"


def test_security_rule_plural_fields_are_merged_and_a_rule_without_priority_is_malformed():
    raw = {"name": "r", "properties": {"protocol": "Tcp", "access": "deny", "direction": "outbound", "priority": "310",
                                       "destinationAddressPrefixes": ["Storage", "AzureBackup"],
                                       "destinationPortRanges": ["80", "443"], "sourceAddressPrefix": "*",
                                       "sourcePortRange": "*"}}
    rule = net.map_security_rule(raw, False)
    assert (rule.priority, rule.access, rule.direction) == (310, "Deny", "Outbound")
    assert rule.destination_prefixes == ("Storage", "AzureBackup") and rule.destination_ports == ("80", "443")
    broken = copy.deepcopy(raw)
    del broken["properties"]["priority"]
    with pytest.raises(MalformedItem):
        net.map_security_rule(broken, False)
    nsg_raw = {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n",
               "properties": {"securityRules": [broken]}}
    with pytest.raises(MalformedItem):  # the whole NSG, not one rule silently: a missing deny is not a pass
        net.map_network_security_group(nsg_raw)


def test_route_tables_and_virtual_networks():
    rt, rt3 = (net.map_route_table(x) for x in body("network/RouteTableListAll.json")["value"])
    assert [(r.address_prefix, r.next_hop_type) for r in rt.routes] == [("10.0.3.0/24", "VirtualNetworkGateway")]
    assert rt3.routes == ()
    vnet1, vnet2 = (net.map_virtual_network(x) for x in body("network/VirtualNetworkListAll.json")["value"])
    [subnet] = vnet1.subnets
    assert subnet.id == "/subscriptions/subid/resourcegroups/rg1/providers/microsoft.network/virtualnetworks/vnet1/subnets/test-1"
    assert (subnet.nsg_id, subnet.route_table_id) == ("", "") and vnet2.subnets == ()


def test_key_vault_get_access_policy_and_firewall():
    kv = kvc.map_key_vault(body("keyvault/getVault.json"))
    assert kv.name == "sample-vault" and kv.rbac_authorization is None and kv.public_network_access == "Enabled"
    [ap] = kv.access_policies
    assert {"get", "list", "backup"} <= set(ap.keys) and {"get", "list", "backup"} <= set(ap.secrets)
    assert kv.network_default_action == ""
    acl = kvc.map_key_vault(body("keyvault/createVaultWithNetworkAcls.json"))
    assert (acl.network_default_action, acl.network_bypass) == ("Deny", "AzureServices")
    assert acl.access_policies == ()


@pytest.mark.parametrize("model_path,rel,mapper", [
    ("azure.mgmt.network.models:NetworkInterface", "network/NetworkInterfaceListAll.json", net.map_network_interface),
    ("azure.mgmt.network.models:NetworkSecurityGroup", "network/NetworkSecurityGroupListAll.json",
     net.map_network_security_group),
    ("azure.mgmt.network.models:RouteTable", "network/RouteTableListAll.json", net.map_route_table),
    ("azure.mgmt.network.models:VirtualNetwork", "network/VirtualNetworkListAll.json", net.map_virtual_network),
])
def test_sdk_models_give_back_the_wire_format(model_path, rel, mapper):
    import importlib
    module, name = model_path.split(":")
    cls = getattr(importlib.import_module(module), name)
    for raw in body(rel)["value"]:
        assert mapper(wire(cls(copy.deepcopy(raw)))) == mapper(raw)


def test_sdk_key_vault_model_gives_back_the_wire_format():
    from azure.mgmt.keyvault.models import Vault
    raw = body("keyvault/getVault.json")
    assert kvc.map_key_vault(wire(Vault(copy.deepcopy(raw)))) == kvc.map_key_vault(raw)


def test_vm_model_fields_unmanaged_disks_nics_and_extension_operations():
    vm = cmp.map_vm(body("compute/VirtualMachine_Create_PlatformImageVmWithUnmanagedOsAndDataDisks.json"))
    assert vm.disks and all(d.unmanaged for d in vm.disks) and not any(d.managed_disk_id for d in vm.disks)
    assert vm.nic_ids == (ids.norm("/subscriptions/{subscription-id}/resourceGroups/myResourceGroup/providers/"
                                   "Microsoft.Network/networkInterfaces/nsgExistingNic"),)
    assert vm.allow_extension_operations is None  # not in the model: the platform default (allowed)
    listed = [cmp.map_vm(x) for x in body("compute/VirtualMachine_ListBySubscription_ByLocation.json")["value"]]
    assert {v.allow_extension_operations for v in listed} == {True}
    assert all(d.unmanaged for v in listed for d in v.disks)  # this example lists VHD-based VMs


def test_confidential_vm_security_type():
    raw = copy.deepcopy(body("compute/VirtualMachine_Create_WithSecurityTypeConfidentialVMWithNonPersistedTPM.json"))
    raw["id"] = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/myVM"  # the example has none
    assert cmp.map_vm(raw).security_type == "ConfidentialVM"


def test_disk_fields_for_policy_support():
    v2 = cmp.map_disk(body("compute/Disk_Create_WithPremiumV2_LRSAccountType.json"))
    assert v2.sku == "PremiumV2_LRS"
    entra = cmp.map_disk(body("compute/Disk_Create_WithDataAccessAuthMode.json"))
    assert entra.data_access_auth_mode == "AzureActiveDirectory" and entra.max_shares is None


def test_ade_disk_names_its_key_vaults():
    ade = [d for d in (cmp.map_disk(x) for x in body("compute/Disk_ListBySubscription.json")["value"]) if d.ade_enabled]
    assert ade, "the official disk list holds an ADE disk"
    for d in ade:
        assert d.ade_secret_vault_ids and all("/providers/microsoft.keyvault/vaults/" in v for v in d.ade_secret_vault_ids)
        assert bool(d.ade_key_vault_ids) == d.ade_has_kek


def test_dual_pass_ade_key_vaults_from_the_vm_model():
    raw = copy.deepcopy(body("compute/VirtualMachine_Create_PlatformImageVmWithUnmanagedOsAndDataDisks.json"))
    kv = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-dual"
    raw["properties"]["storageProfile"]["osDisk"]["encryptionSettings"] = {
        "enabled": True, "diskEncryptionKey": {"sourceVault": {"id": kv}, "secretUrl": "https://kv-dual.vault.azure.net/secrets/b/1"},
        "keyEncryptionKey": {"sourceVault": {"id": kv}, "keyUrl": "https://kv-dual.vault.azure.net/keys/k/1"}}
    vm = cmp.map_vm(raw)
    assert vm.ade_dual_pass and vm.ade_dual_pass_secret_vault_ids == vm.ade_dual_pass_key_vault_ids == (ids.norm(kv),)
    assert kvc.referenced_vaults([], [vm], {vm.id}) == [ids.norm(kv)]
    assert kvc.referenced_vaults([], [vm], set()) == []
    raw["properties"]["storageProfile"]["osDisk"]["encryptionSettings"]["enabled"] = False
    assert cmp.map_vm(raw).ade_dual_pass_secret_vault_ids == ()


def test_referenced_vaults_only_for_backed_up_vms():
    vault = "/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv"
    disk = m.Disk.of(id="/d1", display_id="/d1", name="d1", subscription_id="s", resource_group="rg", managed_by="/vm1",
                  ade_enabled=True, ade_secret_vault_ids=(vault,))
    assert kvc.referenced_vaults([disk], [], {"/vm1"}) == [vault]
    assert kvc.referenced_vaults([disk], [], {"/vm2"}) == []
    assert kvc.referenced_vaults([disk], [], None) == [vault]  # item list incomplete: any VM may be backed up
