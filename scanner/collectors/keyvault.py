"""Microsoft.KeyVault: the key vaults that Azure Disk Encryption settings name (one GET each, only
for disks of backed-up VMs). Mapper only (shared/azure-rest-examples/keyvault/getVault.json).

Only what BCDR608 needs is kept: the permission model, each access policy's object id and its key
and secret permissions, and the firewall's default action and bypass. No vault URI, no secrets.
"""
from __future__ import annotations

from typing import Any, Iterable

from .. import ids
from .. import inventory as m
from .base import MalformedItem, Recorder, b_or_none, dct, fetch, get, lst, require_id, s


def _perms(value: Any) -> tuple[str, ...]:
    return tuple(sorted({s(p).lower() for p in lst(value) if s(p)}))


def map_key_vault(raw: dict[str, Any]) -> m.KeyVault:
    rid, display = require_id(raw)
    props = dct(raw.get("properties"))
    policies = []
    for ap in lst(props.get("accessPolicies")):
        if not isinstance(ap, dict) or not s(ap.get("objectId")):
            continue
        policies.append(m.AccessPolicy(object_id=s(ap.get("objectId")).lower(), tenant_id=s(ap.get("tenantId")).lower(),
                                       application_id=s(ap.get("applicationId")).lower(),
                                       keys=_perms(get(ap, "permissions", "keys")),
                                       secrets=_perms(get(ap, "permissions", "secrets"))))
    acls = dct(props.get("networkAcls"))
    return m.KeyVault(
        id=rid, display_id=display, name=s(raw.get("name")) or ids.name_of(display),
        subscription_id=ids.subscription_of(display), resource_group=ids.resource_group_of(display),
        location=s(raw.get("location")).lower(), rbac_authorization=b_or_none(props.get("enableRbacAuthorization")),
        access_policies=tuple(policies), network_default_action=s(acls.get("defaultAction")),
        network_bypass=s(acls.get("bypass")), public_network_access=s(props.get("publicNetworkAccess")))


def referenced_vaults(disks: Iterable[m.Disk], vms: Iterable[m.VirtualMachine], backed_up: set[str] | None) -> list[str]:
    """Normalised ids of the key vaults named by ADE disks of backed-up VMs, or by their VM model
    (dual-pass ADE), of every VM when `backed_up` is None: the protected-item list was incomplete,
    so any VM may be backed up."""
    owner: dict[str, str] = {}
    found: dict[str, None] = {}
    for vm in vms:
        for ref in vm.disks:
            if ref.managed_disk_id:
                owner.setdefault(ref.managed_disk_id, vm.id)
        if backed_up is None or vm.id in backed_up:
            for vault in vm.ade_dual_pass_secret_vault_ids + vm.ade_dual_pass_key_vault_ids:
                found.setdefault(vault, None)
    for disk in disks:
        vm_id = disk.managed_by or owner.get(disk.id, "")
        if not disk.ade_enabled or not vm_id or (backed_up is not None and vm_id not in backed_up):
            continue
        for vault in disk.ade_secret_vault_ids + disk.ade_key_vault_ids:
            found.setdefault(vault, None)
    return sorted(found)


def collect(factory: Any, rec: Recorder, vault_ids: list[str]) -> list[m.KeyVault]:
    """One GET per key vault, with the client of the vault's own subscription (a disk may use a
    key vault in another subscription). A vault that cannot be read is recorded (partial, scope =
    the vault id): BCDR608 says NOT_ASSESSED for the disks that use it."""
    rec.ok(m.KEY_VAULTS)
    disks_cov = rec.get(m.DISKS)
    if disks_cov is not None and disks_cov.status == m.FAILED:
        rec.failed(m.KEY_VAULTS, code=disks_cov.error_code,
                   message=f"disks could not be listed, so their key vaults are unknown: {disks_cov.message}")
        return []
    clients: dict[str, Any] = {}
    out = []
    for vault_id in vault_ids:
        sub, rg, name = ids.subscription_of(vault_id), ids.resource_group_of(vault_id), ids.name_of(vault_id)
        try:
            if not (sub and rg and name) or not vault_id.endswith(f"/providers/microsoft.keyvault/vaults/{name}"):
                raise MalformedItem(f"not a key vault id: {vault_id[:200]}")
            client = clients.get(sub) or clients.setdefault(sub, factory.keyvault(sub))
            got = map_key_vault(fetch(lambda: client.vaults.get(rg, name)))
            if got.id != vault_id:
                raise MalformedItem("the key vault GET returned another resource")
            out.append(got)
            rec.ok(m.KEY_VAULTS, 1)
        except Exception as exc:  # noqa: BLE001 - recorded per vault; the rule says NOT_ASSESSED for it
            rec.partial(m.KEY_VAULTS, vault_id, exc)
    return out
