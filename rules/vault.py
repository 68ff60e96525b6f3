"""0xx Vault posture (see ../shared/rule-catalog.md).

The settings come from one GET per vault (collector VAULT_SETTINGS): the real vault LIST carries no
`securitySettings` or `redundancySettings` (../shared/real-responses). A vault whose GET failed is
NOT_ASSESSED. Every field is optional in the API (azure-mgmt-recoveryservices `SoftDeleteSettings`,
`VaultPropertiesRedundancySettings`, `ImmutabilitySettings`: all `Optional`): a value the GET did not
report (None), or reported as `Invalid`, is NOT_ASSESSED, so the scanner never guesses a vault's
protection either way. One absence is an answer: `immutabilitySettings: null` in the GET's
securitySettings means immutability was never configured (BCDR003 fails).
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from scanner import inventory as m

from .base import Result, fail, not_assessed, passed, rule
from .docs import DOC_CRR, DOC_IMMUTABLE, DOC_SECURE_BY_DEFAULT, DOC_SOFT_DELETE

# The vault list, and the vault GET that carries the security and redundancy settings.
VAULT_NEEDS = (m.VAULTS, m.VAULT_SETTINGS)


def _vaults(inv: m.Inventory) -> list[m.Vault]:
    """The vaults to judge (the engine leaves out those it could not read: needs=VAULTS, VAULT_SETTINGS)."""
    return sorted(inv.vaults, key=lambda v: v.id)


def _unreported(vault: m.Vault, setting: str, value: str | None) -> Result:
    shown = "not reported" if value is None else f"reported as {value!r}"
    return not_assessed(vault, f"the service did not report the vault's {setting} ({shown})",
                        setting=setting, value=value)


@rule(
    code="BCDR001", slug="vault-soft-delete-disabled", severity="medium",
    title="Recovery Services vault with soft delete turned off",
    predicts=(),
    source="Azure Backup security docs (soft delete for Azure Backup); peer scanners",
    remediation="""Turn soft delete on in the vault's security settings, and make it always-on
        once you are sure. Without it, deleting a backup item, by mistake or by an attacker, destroys its
        recovery points at once; with it they are kept for the retention period (14 days by default) and
        can be undeleted.""",
    references=(DOC_SOFT_DELETE, DOC_SECURE_BY_DEFAULT),
    needs=VAULT_NEEDS,
)
def vault_soft_delete_disabled(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for vault in _vaults(inv):
        state = (vault.soft_delete_state or "").lower()
        if state in ("enabled", "alwayson"):
            yield passed(vault)
        elif state == "disabled":
            yield fail(vault, f"soft delete is off on vault {vault.name}", soft_delete_state=vault.soft_delete_state)
        else:  # None, "Invalid", or a value this scanner does not know
            yield _unreported(vault, "soft delete state", vault.soft_delete_state)


@rule(
    code="BCDR002", slug="vault-grs-without-crr", severity="low",
    title="Geo-redundant vault without cross-region restore",
    predicts=(),
    source="peer scanners (Azure Backup cross-region restore)",
    remediation="""The vault already pays for geo-redundant storage, but without cross-region restore its
        secondary copy can only be used after Microsoft declares a regional disaster. Enable cross-region
        restore in the vault's backup configuration so you can restore VMs in the paired
        region yourself, for drills or an outage.""",
    references=(DOC_CRR,),
    needs=VAULT_NEEDS,
)
def vault_grs_without_crr(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for vault in _vaults(inv):
        redundancy = (vault.storage_redundancy or "").lower()
        if redundancy in ("locallyredundant", "zoneredundant"):
            # Cross-region restore needs a geo-redundant vault: there is nothing to turn on here.
            yield passed(vault)
            continue
        if redundancy != "georedundant":
            yield _unreported(vault, "storage redundancy", vault.storage_redundancy)
            continue
        crr = (vault.cross_region_restore or "").lower()
        if crr == "enabled":
            yield passed(vault)
        elif crr == "disabled":
            yield fail(vault, f"vault {vault.name} is geo-redundant but cross-region restore is off",
                       storage_redundancy=vault.storage_redundancy, cross_region_restore=vault.cross_region_restore)
        else:
            yield _unreported(vault, "cross-region restore setting", vault.cross_region_restore)


@rule(
    code="BCDR003", slug="vault-immutability-off", severity="low",
    title="Vault immutability not enabled or not locked",
    predicts=(),
    source="Azure Backup security docs (immutable vault)",
    remediation="""Enable immutability on the vault so recovery points cannot be deleted or have their
        retention shortened before they expire. Unlocked immutability can still be turned off by anyone
        with enough rights; lock it once the backup policies are settled (locking is irreversible).""",
    references=(DOC_IMMUTABLE,),
    needs=VAULT_NEEDS,
)
def vault_immutability_off(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for vault in _vaults(inv):
        state = (vault.immutability_state or "").lower()
        if state == "locked":
            yield passed(vault)
        elif state == "disabled":
            yield fail(vault, f"immutability is off on vault {vault.name}", immutability_state=vault.immutability_state)
        elif state == m.IMMUTABILITY_NOT_CONFIGURED.lower():
            yield fail(vault, f"immutability was never configured on vault {vault.name}",
                       immutability_state=None, immutability_settings="null (never configured)")
        elif state == "unlocked":
            # Enabled but reversible: worth knowing, not a gap in protection today.
            yield fail(vault, f"immutability on vault {vault.name} is enabled but not locked", severity="info",
                       immutability_state=vault.immutability_state)
        else:
            yield _unreported(vault, "immutability state", vault.immutability_state)
