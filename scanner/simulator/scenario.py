"""Scenarios for the loopback ARM simulator: what the simulated subscriptions contain.

A scenario is one JSON object. Every resource is the raw ARM body, shaped like the official
examples in shared/azure-rest-examples (the same field names, nesting and casing the real
service sends), so the real Azure SDK clients deserialise it exactly as they would a live
response. The simulator serves these bodies; it invents nothing except where noted below.

Top-level keys (all optional except "subscriptions"; keys starting with "_" are comments):

  "subscriptions"             list of subscription ids (or objects {"subscriptionId", ...}). Any
                              other subscription id in a request gets 404 SubscriptionNotFound.
  "subscriptionDetails"       object: subscription id -> {"displayName", "tenantId", "state"} for
                              GET /subscriptions/{id} (defaults: the id, a fake tenant, Enabled).
  "resourceGroups"            Microsoft.Resources/resourceGroups bodies (id, name, location,
                              properties.provisioningState).
  "virtualMachines"           full Microsoft.Compute/virtualMachines models (hardwareProfile,
                              storageProfile, osProfile, networkProfile, provisioningState, vmId,
                              and `resources` = extension bodies when wanted). The full list serves
                              them without any `properties.instanceView`.
  "instanceViews"             object: VM id (any casing) -> the VM's instance view body (statuses,
                              vmAgent, extensions, disks...), as GET .../instanceView returns it.
                              `list_all(statusOnly=true)` is derived from the VM body + this:
                              id, name, location, type, properties.{provisioningState, vmId,
                              instanceView.{platformFaultDomain, statuses}}. A VM without an
                              instance view gets a minimal one with only its ProvisioningState
                              status (no power state, no agent).
  "disks"                     Microsoft.Compute/disks bodies (diskSizeGB, managedBy,
                              encryptionSettingsCollection, encryption...).
  "restorePointCollections"   Microsoft.Compute/restorePointCollections bodies WITH
                              properties.restorePoints[]: the list and a plain GET strip them, a GET
                              with $expand=restorePoints keeps them.
  "locks"                     Microsoft.Authorization/locks bodies at any scope; the subscription
                              list returns every lock whose id is in that subscription.
  "vaults"                    Microsoft.RecoveryServices/vaults bodies (sku, properties.
                              redundancySettings, securitySettings...).
  "backupProtectedItems"      .../backupFabrics/Azure/protectionContainers/.../protectedItems bodies.
  "backupPolicies"            .../vaults/{v}/backupPolicies bodies (V1 SimpleSchedulePolicy and V2
                              SimpleSchedulePolicyV2; policyType may be absent, as in list results).
  "backupJobs"                .../vaults/{v}/backupJobs bodies (AzureIaaSVMJob).
  "replicationProtectedItems" Site Recovery .../replicationProtectedItems bodies.
  "replicationJobs"           Site Recovery .../vaults/{v}/replicationJobs bodies.
  "recoveryPlans"             Site Recovery .../vaults/{v}/replicationRecoveryPlans bodies.
  "replicationFabrics"        Site Recovery .../vaults/{v}/replicationFabrics bodies (customDetails
                              with the VMware / InMageRcm infrastructure and its heartbeats).
  "containerMappings"         Site Recovery .../replicationProtectionContainers/{c}/
                              replicationProtectionContainerMappings bodies (listed per vault).
  "recoveryPoints"            Site Recovery .../replicationProtectedItems/{i}/recoveryPoints bodies,
                              listed per item.
  "networkInterfaces"         Microsoft.Network/networkInterfaces bodies (ipConfigurations with
                              subnet ids, networkSecurityGroup, virtualMachine).
  "networkSecurityGroups"     Microsoft.Network/networkSecurityGroups bodies (securityRules and
                              defaultSecurityRules, as the list returns them).
  "routeTables"               Microsoft.Network/routeTables bodies (routes).
  "virtualNetworks"           Microsoft.Network/virtualNetworks bodies (subnets with their
                              networkSecurityGroup and routeTable references).
  "keyVaults"                 Microsoft.KeyVault/vaults bodies, served by GET only (accessPolicies,
                              enableRbacAuthorization, networkAcls).
  "managementGroups"          Microsoft.Management/managementGroups bodies, as GET .../managementGroups/
                              {id}?$expand=children returns them (examples GetManagementGroupWithExpand*
                              of the 2023-04-01 spec): id /providers/Microsoft.Management/
                              managementGroups/{name}, name, properties.displayName and
                              properties.children, the DIRECT children only, each {id, type, name,
                              displayName}: a subscription (type "/subscriptions", id
                              /subscriptions/{guid}) or another group of this list (type
                              "Microsoft.Management/managementGroups"). GET .../{id}/descendants walks
                              them (nested groups first-seen order) and pages the result like any list;
                              a group not listed is answered 403 AuthorizationFailed, as ARM answers both
                              an unknown group and one the identity has no role on.
  "recorded"                  bodies served verbatim, e.g. responses recorded from live Azure:
                              [{"path", "query", "body", "list"}]. `path` is matched whole and
                              case-insensitively, before any other route; `query` (optional) is a
                              regular expression searched in the lower-cased query (raw or
                              decoded), and a route with a matching query wins over one without.
                              A `list` body's `value` is paged like any list (its own nextLink is
                              replaced), honouring the backupManagementType term of `$filter`.

The vault LIST leaves out `securitySettings`, `redundancySettings` and `monitoringSettings`, as the
real service does; the vault GET returns the whole body.

Which subscription a resource belongs to, and which vault owns a vault child (protected item,
policy, job, replication item/job), is derived from its id, compared lower-cased: ids may use
any casing ("/Subscriptions/...", "resourcegroups") as the real APIs do.

Relative times. Any string value that is exactly "@now" followed by zero or more signed offsets
("@now-30h", "@now-2d-3h", "@now+15m"; units s, m, h, d, w) is replaced when the scenario is
loaded by that instant in UTC, written "YYYY-MM-DDTHH:MM:SS.ffffffZ". This keeps a bundled
scenario realistic whenever it runs (a job "in progress for 30 h" stays 30 h old). Pass `now=`
to load_scenario to pin the clock in tests.

Bundled scenarios live in scanner/simulator/scenarios/<name>.json: load_scenario("demo").
"""
from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

KINDS = (
    "resourceGroups", "virtualMachines", "disks", "restorePointCollections", "locks", "vaults",
    "backupProtectedItems", "backupPolicies", "backupJobs", "replicationProtectedItems", "replicationJobs",
    "recoveryPlans", "replicationFabrics", "containerMappings", "recoveryPoints",
    "networkInterfaces", "networkSecurityGroups", "routeTables", "virtualNetworks", "keyVaults",
)
MAPS = ("instanceViews", "subscriptionDetails")
RECORDED = "recorded"
GROUPS = "managementGroups"
GROUP_PREFIX = "/providers/microsoft.management/managementgroups/"

_RELATIVE = re.compile(r"^@now((?:\s*[+-]\s*\d+(?:\.\d+)?\s*[smhdw])*)$")
_OFFSET = re.compile(r"([+-])\s*(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ScenarioError(ValueError):
    pass


def load_scenario(name_or_path: str | Path, *, now: datetime | None = None) -> dict[str, Any]:
    """Load a bundled scenario by name ("demo") or a JSON file by path; relative times resolved."""
    text = _read(name_or_path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"scenario {name_or_path}: not valid JSON: {exc}") from None
    return prepare(data, now=now, where=str(name_or_path))


def prepare(data: Any, *, now: datetime | None = None, where: str = "scenario") -> dict[str, Any]:
    """Validate a scenario object and return a deep copy with relative times resolved."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: a scenario is a JSON object")
    validate(data, where)
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return resolve_times(copy.deepcopy(data), when)


def validate(data: dict[str, Any], where: str = "scenario") -> None:
    subs = data.get("subscriptions")
    if not isinstance(subs, list) or not subs:
        raise ScenarioError(f"{where}: 'subscriptions' must be a non-empty list")
    for i, sub in enumerate(subs):
        if isinstance(sub, dict):
            sub = sub.get("subscriptionId")
        if not isinstance(sub, str) or not sub:
            raise ScenarioError(f"{where}: subscriptions[{i}] has no subscription id")
    for key, value in data.items():
        if key.startswith("_") or key == "subscriptions":
            continue
        if key in MAPS:
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise ScenarioError(f"{where}: '{key}' must map resource ids to objects")
            continue
        if key == RECORDED:
            _validate_recorded(value, where)
            continue
        if key == GROUPS:
            _validate_groups(value, where)
            continue
        if key not in KINDS:
            raise ScenarioError(f"{where}: unknown key '{key}' (known: {', '.join(KINDS + MAPS + (RECORDED, GROUPS))})")
        if not isinstance(value, list):
            raise ScenarioError(f"{where}: '{key}' must be a list")
        for i, item in enumerate(value):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"].startswith("/"):
                raise ScenarioError(f"{where}: {key}[{i}] needs a string ARM 'id'")


def _validate_groups(groups: Any, where: str) -> None:
    if not isinstance(groups, list):
        raise ScenarioError(f"{where}: '{GROUPS}' must be a list")
    for i, group in enumerate(groups):
        gid = group.get("id") if isinstance(group, dict) else None
        children = (group.get("properties") or {}).get("children", []) if isinstance(group, dict) else None
        ok = (isinstance(gid, str) and gid.lower().startswith(GROUP_PREFIX) and isinstance(children, list)
              and all(isinstance(c, dict) and isinstance(c.get("id"), str) and c["id"].startswith("/") for c in children))
        if not ok:
            raise ScenarioError(f"{where}: {GROUPS}[{i}] needs an id under {GROUP_PREFIX} and properties.children, "
                                f"a list of objects with an ARM 'id'")


def _validate_recorded(routes: Any, where: str) -> None:
    if not isinstance(routes, list):
        raise ScenarioError(f"{where}: '{RECORDED}' must be a list")
    for i, route in enumerate(routes):
        ok = (isinstance(route, dict) and isinstance(route.get("path"), str) and route["path"].startswith("/")
              and isinstance(route.get("body"), dict) and isinstance(route.get("query"), (str, type(None)))
              and (not route.get("list") or isinstance(route["body"].get("value"), list)))
        if not ok:
            raise ScenarioError(f"{where}: {RECORDED}[{i}] needs a 'path' starting with '/', an object 'body' "
                                f"(with a 'value' list when 'list' is true) and a string or null 'query'")
        try:
            re.compile(route["query"] or "")
        except re.error as exc:
            raise ScenarioError(f"{where}: {RECORDED}[{i}] query is not a regular expression: {exc}") from None


def resolve_times(obj: Any, now: datetime) -> Any:
    """Replace "@now±offset" strings in place (recursively) and return the object."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = resolve_times(value, now)
        return obj
    if isinstance(obj, list):
        for i, value in enumerate(obj):
            obj[i] = resolve_times(value, now)
        return obj
    if isinstance(obj, str) and obj.startswith("@now"):
        when = relative_time(obj, now)
        return obj if when is None else when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return obj


def relative_time(text: str, now: datetime) -> datetime | None:
    match = _RELATIVE.match(text.strip())
    if not match:
        return None
    when = now
    for sign, amount, unit in _OFFSET.findall(match.group(1)):
        delta = timedelta(**{_UNIT[unit]: float(amount)})
        when = when + delta if sign == "+" else when - delta
    return when


def subscription_ids(data: dict[str, Any]) -> list[str]:
    return [s["subscriptionId"] if isinstance(s, dict) else s for s in data.get("subscriptions", [])]


def _read(name_or_path: str | Path) -> str:
    text = str(name_or_path)
    is_name = isinstance(name_or_path, str) and re.fullmatch(r"[A-Za-z0-9_-]+", text) is not None
    if is_name:
        ref = resources.files("scanner.simulator").joinpath("scenarios", f"{text}.json")
        if not ref.is_file():
            raise ScenarioError(f"no bundled scenario named {text!r}")
        return ref.read_text(encoding="utf-8")
    path = Path(name_or_path)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror or exc}") from None
