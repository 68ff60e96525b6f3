"""0xx Vault and subscription, second edition (../shared/rule-catalog-v2.md section B): job-failure
alerts, multi-user authorization and always-on soft delete, vault capacity, and the resource
group limit that Azure Backup's restore point groups count against.

The vault settings come from the vault GET (the list carries none of them, design.md); a setting the
service did not report is NOT_ASSESSED, as in rules.vault.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterator, Mapping

from scanner import inventory as m

from .base import FAIL, PASS, Param, Result, fail, passed, rule
from .docs import (
    DOC_BACKUP_LIMITS,
    DOC_BACKUP_RG,
    DOC_ENHANCED_SOFT_DELETE,
    DOC_MONITOR,
    DOC_MONITOR_ALERTS,
    DOC_MUA,
    DOC_SUBSCRIPTION_LIMITS,
)
from .vault import VAULT_NEEDS, _unreported, _vaults


@rule(
    code="BCDR004", slug="vault-job-alerts-off", severity="low",
    title="Built-in alerts for failed backup jobs are off",
    predicts=(),
    source="rule-catalog-v2 B (Azure Backup built-in Azure Monitor alerts)",
    remediation="""The vault does not raise its built-in Azure Monitor alert when a backup or restore job fails, so
        a VM can miss backups for days before anyone looks. Turn on the job-failure alerts in the vault's
        monitoring settings and route them to the team on call with an action rule.""",
    references=(DOC_MONITOR_ALERTS, DOC_MONITOR),
    needs=VAULT_NEEDS,
)
def vault_job_alerts_off(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for vault in _vaults(inv):
        state = (vault.job_failure_alerts or "").lower()
        if state == "enabled":
            yield passed(vault)
        elif state == "disabled":
            yield fail(vault, f"built-in alerts for failed jobs are off on vault {vault.name}",
                       alerts_for_all_job_failures=vault.job_failure_alerts)
        else:
            yield _unreported(vault, "job-failure alert setting", vault.job_failure_alerts)


# A vault whose settings or backup items could not be read is the engine's NOT_ASSESSED.
VAULT_ITEMS_NEEDS = (*VAULT_NEEDS, m.PROTECTED_ITEMS)


def _vaults_with_items(inv: m.Inventory) -> Iterator[tuple[m.Vault, list[m.ProtectedItem]]]:
    """Each vault to judge with its VM items."""
    items: dict[str, list[m.ProtectedItem]] = {}
    for item in inv.protected_items:
        items.setdefault(item.vault_id, []).append(item)
    for vault in _vaults(inv):
        yield vault, items.get(vault.id, [])


@rule(
    code="BCDR005", slug="vault-multi-user-authorization-off", severity="info",
    title="Vault protecting VMs without multi-user authorization or always-on soft delete",
    predicts=(),
    source="rule-catalog-v2 B (enhanced soft delete and multi-user authorization docs)",
    remediation="""Anyone with enough rights on this vault can turn off its protections and then delete the backups
        of its VMs in one sitting. Protect the critical operations with multi-user authorization (a Resource
        Guard owned by another team), and make soft delete always-on so that deleted backups stay recoverable
        for the retention period.""",
    references=(DOC_MUA, DOC_ENHANCED_SOFT_DELETE),
    needs=VAULT_ITEMS_NEEDS,
)
def vault_multi_user_authorization_off(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    for vault, items in _vaults_with_items(inv):
        if not items:
            yield passed(vault)  # protects no VM: nothing to lose yet
            continue
        mua, soft = (vault.multi_user_authorization or "").lower(), (vault.soft_delete_state or "").lower()
        if mua not in ("enabled", "disabled"):
            yield _unreported(vault, "multi-user authorization setting", vault.multi_user_authorization)
            continue
        if soft not in ("alwayson", "enabled", "disabled"):
            yield _unreported(vault, "soft delete state", vault.soft_delete_state)
            continue
        missing = [what for what, off in (("multi-user authorization", mua != "enabled"),
                                          ("always-on soft delete", soft != "alwayson")) if off]
        if not missing:
            yield passed(vault)
        else:
            yield fail(vault, f"vault {vault.name} protects {len(items)} VM(s) without {' and '.join(missing)}",
                       multi_user_authorization=vault.multi_user_authorization, soft_delete_state=vault.soft_delete_state,
                       protected_items=len(items))


@rule(
    code="BCDR006", slug="vault-capacity", severity="medium",
    title="Vault holds more VMs than one vault supports",
    predicts=(),
    source="rule-catalog-v2 B (Azure Backup support matrix: VMs and data sources per vault)",
    remediation="""The vault protects more Azure VMs than a single Recovery Services vault supports, so enabling
        backup for the next VM in it fails. Create another vault in the same region for new VMs (or move some
        protection there); keep each vault under the limit.""",
    references=(DOC_BACKUP_LIMITS,),
    params=(Param("max_vms", 1000, "Azure VMs one vault may protect", 1, 2000),),
    needs=VAULT_ITEMS_NEEDS,
)
def vault_capacity(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    limit = params["max_vms"]
    for vault, items in _vaults_with_items(inv):
        # Every VM item counts, stopped ones too (their data is retained in the vault); a soft-deleted
        # item is on its way out.
        count = sum(1 for p in items if not p.deferred_delete)
        if count > limit:
            yield fail(vault, f"vault {vault.name} protects {count} VMs, more than {limit}", protected_vms=count,
                       max_vms=limit, note="counts Azure VM items only; other data sources count toward 2,000")
        else:
            yield passed(vault)


def _subscription(sub: str, status: str, message: str, evidence: dict[str, Any]) -> Result:
    return Result(status, f"/subscriptions/{sub}", "Microsoft.Resources/subscriptions", sub, "", message, evidence)


@rule(
    code="BCDR007", slug="subscription-rg-limit-near", severity="low",
    title="Subscription close to its resource group limit",
    predicts=("resource group quota error",),
    source="seeds/002 restore table (resource group quota); rule-catalog-v2 B",
    remediation="""The subscription is close to its limit of resource groups. Azure Backup keeps instant restore
        points in resource groups it creates itself (AzureBackupRG_<region>_<n>), and a restore can create a
        new group: at the limit both fail. Delete resource groups that are no longer used, or move workloads to
        another subscription, before the limit is reached.""",
    references=(DOC_SUBSCRIPTION_LIMITS, DOC_BACKUP_RG),
    params=(Param("warn_at", 950, "resource groups at which the subscription is flagged", 1, 980),
            Param("limit", 980, "resource groups a subscription may hold", 1, 10000)),
    # A subscription whose RG list failed is the engine's NOT_ASSESSED (its PASS here is dropped).
    needs=(m.RESOURCE_GROUPS,),
)
def subscription_rg_limit_near(inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
    counts = {s.lower(): 0 for s in inv.subscriptions}
    for group in inv.resource_groups:
        counts[group.subscription_id.lower()] = counts.get(group.subscription_id.lower(), 0) + 1
    for sub in inv.subscriptions:
        count = counts.get(sub.lower(), 0)
        if count >= params["warn_at"]:
            backed_up = sorted({p.source_resource_id for p in inv.protected_items
                                if p.is_backed_up and p.source_resource_id.startswith(f"/subscriptions/{sub.lower()}/")})
            yield replace(_subscription(
                sub, FAIL, f"subscription {sub} holds {count} resource groups (limit {params['limit']})",
                {"resource_groups": count, "warn_at": params["warn_at"], "limit": params["limit"]}),
                affected_vms=tuple(backed_up))
        else:
            yield _subscription(sub, PASS, "", {})
