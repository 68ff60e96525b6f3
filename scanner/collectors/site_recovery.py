"""Site Recovery beyond the protected items: recovery plans, fabrics (with the VMware / physical
infrastructure that reports heartbeats), protection container mappings, and an item's recovery
points.

Field names are the wire names of azure-mgmt-recoveryservicessiterecovery 2.x (`RecoveryPlanProperties`,
`RecoveryPlanGroup`, `FabricProperties`, `VMwareDetails`, `ProcessServer`, `MasterTargetServer`,
`InMageRcmFabricSpecificDetails`, `ProcessServerDetails`, `RcmProxyDetails`, `ReprotectAgentDetails`,
`ProtectionContainerMappingProperties`, `A2AProtectionContainerMappingDetails`,
`RecoveryPointProperties`); shapes as in ../shared/azure-rest-examples/siterecovery.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from .. import ids
from .. import inventory as m
from ..timeutil import parse
from .base import dct, get, lst, require_id, s, s_or_none
from .recovery import asr_health, vault_of

_MAPPINGS_MARK = "/replicationprotectioncontainermappings/"


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(x for x in lst(value) if isinstance(x, str))


def map_recovery_plan(raw: dict[str, Any]) -> m.RecoveryPlan:
    rid, display = require_id(raw)
    props = dct(raw.get("properties"))
    items: list[str] = []
    for group in lst(props.get("groups")):
        for entry in lst(get(group, "replicationProtectedItems")):
            item_id = s(get(entry, "id"))
            if item_id and ids.norm(item_id) not in items:
                items.append(ids.norm(item_id))
    return m.RecoveryPlan(
        id=rid, display_id=display, name=s(raw.get("name")) or ids.name_of(display),
        subscription_id=ids.subscription_of(display), vault_id=vault_of(display),
        friendly_name=s(props.get("friendlyName")), item_ids=tuple(items),
        allowed_operations=_strings(props.get("allowedOperations")),
        replication_providers=_strings(props.get("replicationProviders")),
        current_scenario=s(get(props, "currentScenario", "scenarioName")),
        last_test_failover_time=s_or_none(props.get("lastTestFailoverTime")),
    )


def _servers(role: str, entries: Any, *, name_keys: Iterable[str], heartbeat_key: str) -> list[m.InfrastructureServer]:
    out = []
    for e in lst(entries):
        if not isinstance(e, dict):
            continue
        name = next((s(e.get(k)) for k in name_keys if s(e.get(k))), "") or s(e.get("id"))
        out.append(m.InfrastructureServer(
            role=role, name=name, server_id=s(e.get("id")), last_heartbeat=s_or_none(e.get(heartbeat_key)),
            health=s(e.get("health")), health_errors=asr_health(e.get("healthErrors"))))
    return out


def fabric_servers(custom: dict[str, Any]) -> tuple[m.InfrastructureServer, ...]:
    """The heartbeat-reporting infrastructure of a VMware / physical fabric.

    Classic (`VMware`, used by InMage and InMageAzureV2 items): the fabric *is* the configuration
    server (hostName, lastHeartbeat); processServers[] and masterTargetServers[] report their own.
    Modernized (`InMageRcm`): the replication appliance's process servers, its RCM proxy (the
    configuration role) and the reprotect agents (the master targets of failback), each with
    lastHeartbeatUtc, health and healthErrors."""
    kind = s(custom.get("instanceType"))
    out: list[m.InfrastructureServer] = []
    if kind == "VMware":
        out.append(m.InfrastructureServer(
            role="configuration-server", name=s(custom.get("hostName")) or s(custom.get("ipAddress")),
            last_heartbeat=s_or_none(custom.get("lastHeartbeat")), health=s(custom.get("csServiceStatus"))))
        out += _servers("process-server", custom.get("processServers"), name_keys=("friendlyName", "ipAddress"),
                        heartbeat_key="lastHeartbeat")
        out += _servers("master-target", custom.get("masterTargetServers"), name_keys=("name", "ipAddress"),
                        heartbeat_key="lastHeartbeat")
    elif kind == "InMageRcm":
        out += _servers("process-server", custom.get("processServers"), name_keys=("name", "fqdn"),
                        heartbeat_key="lastHeartbeatUtc")
        out += _servers("rcm-proxy", custom.get("rcmProxies"), name_keys=("name", "fqdn"),
                        heartbeat_key="lastHeartbeatUtc")
        out += _servers("reprotect-agent", custom.get("reprotectAgents"), name_keys=("name", "fqdn"),
                        heartbeat_key="lastHeartbeatUtc")
    return tuple(out)


def map_fabric(raw: dict[str, Any]) -> m.ReplicationFabric:
    rid, display = require_id(raw)
    props = dct(raw.get("properties"))
    custom = dct(props.get("customDetails"))
    return m.ReplicationFabric(
        id=rid, display_id=display, name=s(raw.get("name")) or ids.name_of(display),
        subscription_id=ids.subscription_of(display), vault_id=vault_of(display),
        friendly_name=s(props.get("friendlyName")), fabric_type=s(custom.get("instanceType")),
        health=s(props.get("health")), health_errors=asr_health(props.get("healthErrorDetails")),
        servers=fabric_servers(custom),
    )


def map_container_mapping(raw: dict[str, Any]) -> m.ContainerMapping:
    rid, display = require_id(raw)
    props = dct(raw.get("properties"))
    provider = dct(props.get("providerSpecificDetails"))
    cut = rid.find(_MAPPINGS_MARK)
    kind = s(provider.get("instanceType"))
    return m.ContainerMapping(
        id=rid, display_id=display, name=s(raw.get("name")) or ids.name_of(display),
        subscription_id=ids.subscription_of(display), vault_id=vault_of(display),
        source_container_id=rid[:cut] if cut >= 0 else "",
        target_container_id=ids.norm(s(props.get("targetProtectionContainerId"))),
        provider_type=kind,
        agent_auto_update=s_or_none(provider.get("agentAutoUpdateStatus")) if kind == "A2A" else None,
        state=s(props.get("state")), health=s(props.get("health")), policy_id=ids.norm(s(props.get("policyId"))),
    )


def recovery_point_time(raw: dict[str, Any]) -> str | None:
    """recoveryPointTime of one recovery point (RecoveryPoints_ListByReplicationProtectedItems)."""
    require_id(raw)
    return s_or_none(get(raw, "properties", "recoveryPointTime"))


# --------------------------------------------------------------------------- what to read, per vault
INMAGE_PROVIDERS = frozenset({"inmage", "inmageazurev2", "inmagercm", "inmagercmfailback"})


def is_inmage(item: m.ReplicationItem) -> bool:
    """A VMware / physical item (failover to Azure and failback through the InMage infrastructure)."""
    return item.instance_type.lower() in INMAGE_PROVIDERS


def vault_needs(items: list[m.ReplicationItem], items_read: bool) -> tuple[str, ...]:
    """Which per-vault Site Recovery lists a vault needs: none when its item list was read and is
    empty (no plan, fabric or mapping can matter then); recovery plans whenever it holds items;
    fabrics only with VMware / physical items (BCDR915); container mappings only with A2A items
    (BCDR912). When the item list could not be read, all three."""
    if not items_read:
        return (m.RECOVERY_PLANS, m.REPLICATION_FABRICS, m.CONTAINER_MAPPINGS)
    out = []
    if items:
        out.append(m.RECOVERY_PLANS)
    if any(is_inmage(i) for i in items):
        out.append(m.REPLICATION_FABRICS)
    if any(i.instance_type.lower() == "a2a" for i in items):
        out.append(m.CONTAINER_MAPPINGS)
    return tuple(out)


def failback_relevant(item: m.ReplicationItem) -> bool:
    """Failed over (the item is active on the recovery side, or its failover is committed), or a
    VMware / physical item, whose failback needs a recovery point (seeds 000/001)."""
    return (item.active_location.lower() == "recovery" or item.protection_state.lower().endswith("failovercommitted")
            or is_inmage(item))


def needs_recovery_points(item: m.ReplicationItem, in_plan: bool) -> bool:
    """One recoveryPoints GET only when the provider gave no recovery point signal and a rule
    needs it: the item is in a recovery plan (BCDR914) or in a failback-relevant state (BCDR901)."""
    return item.has_recovery_point is None and (in_plan or failback_relevant(item))


def item_path(item_display_id: str) -> tuple[str, str, str, str, str] | None:
    """(resource group, vault, fabric, container, item) names from a replication item id."""
    parts = [p for p in item_display_id.split("/") if p]
    lower = [p.lower() for p in parts]
    try:
        rg = parts[lower.index("resourcegroups") + 1]
        vault = parts[lower.index("vaults") + 1]
        fabric = parts[lower.index("replicationfabrics") + 1]
        container = parts[lower.index("replicationprotectioncontainers") + 1]
        name = parts[lower.index("replicationprotecteditems") + 1]
    except (ValueError, IndexError):
        return None
    return rg, vault, fabric, container, name


def with_recovery_points(item: m.ReplicationItem, times: list[str | None]) -> m.ReplicationItem:
    """The item with what its recoveryPoints list said: how many, and the newest one's time."""
    dated = [(when, t) for t in times if t and (when := parse(t)) is not None]
    latest = max(dated)[1] if dated else None
    return replace(item, recovery_point_count=len(times), has_recovery_point=bool(times),
                   last_recovery_point_time=item.last_recovery_point_time or latest)
