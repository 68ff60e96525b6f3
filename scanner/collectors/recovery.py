"""Microsoft.RecoveryServices: vaults, Azure Backup (protected items, policies, jobs) and Site
Recovery (replication protected items, replication jobs)."""
from __future__ import annotations

from sys import intern
from typing import Any, TypedDict

from .. import ids
from .. import inventory as m
from ..timeutil import parse_once
from .base import MalformedItem, b_or_none, dct, get, i_or_none, lst, ref, require_id, s, s_or_none, tags, time_or_none, word

_VAULT_MARK = "/providers/microsoft.recoveryservices/vaults/"


def vault_of(resource_id: str) -> str:
    """Normalised id of the vault an item belongs to, from the item's own id."""
    rid = ids.norm(resource_id)
    cut = rid.find(_VAULT_MARK)
    if cut < 0:
        raise ValueError("id is not under a Recovery Services vault")
    rest = rid[cut + len(_VAULT_MARK):]
    return intern(rid[: cut + len(_VAULT_MARK)] + rest.split("/")[0])  # every item of the vault names it


def map_vault(raw: dict[str, Any]) -> m.Vault:
    """A vault from the list (identity; real lists carry no settings) or from its GET (settings too)."""
    rid, display = require_id(raw)
    return m.Vault(
        id=intern(rid), display_id=display, name=s(raw.get("name")) or ids.name_of(display),
        subscription_id=ids.subscription_of(display), resource_group=ids.resource_group_of(display),
        location=word(s(raw.get("location")).lower()), sku=word(get(raw, "sku", "name")),
        tags=tags(raw.get("tags")), **vault_settings(raw),
    )


class VaultSettings(TypedDict):
    soft_delete_state: str | None
    storage_redundancy: str | None
    cross_region_restore: str | None
    immutability_state: str | None
    multi_user_authorization: str | None
    job_failure_alerts: str | None


def vault_settings(raw: dict[str, Any]) -> VaultSettings:
    """The Vault fields a vault GET carries (azure-mgmt-recoveryservices VaultProperties): soft delete,
    redundancy, cross-region restore, immutability, multi-user authorization, job-failure alerts.

    `immutabilitySettings: null` inside securitySettings is how a vault that never had immutability
    configured answers (real GET in ../shared/real-responses): IMMUTABILITY_NOT_CONFIGURED, not
    unknown. Without securitySettings at all nothing is known (None)."""
    props = dct(raw.get("properties"))
    security = props.get("securitySettings")
    redundancy = dct(props.get("redundancySettings"))
    immutability: str | None = None
    if isinstance(security, dict):
        settings = security.get("immutabilitySettings")
        immutability = (m.IMMUTABILITY_NOT_CONFIGURED if settings is None
                        else s_or_none(get(settings, "state")))
    security = dct(security)
    return VaultSettings(
        soft_delete_state=s_or_none(get(security, "softDeleteSettings", "softDeleteState")),
        storage_redundancy=s_or_none(redundancy.get("standardTierStorageRedundancy")),
        cross_region_restore=s_or_none(redundancy.get("crossRegionRestore")),
        immutability_state=immutability,
        multi_user_authorization=s_or_none(security.get("multiUserAuthorization")),
        job_failure_alerts=s_or_none(get(props, "monitoringSettings", "azureMonitorAlertSettings",
                                         "alertsForAllJobFailures")),
    )


def _health(details: Any) -> tuple[m.HealthDetail, ...]:
    out = []
    for d in lst(details):
        if isinstance(d, dict):
            out.append(m.HealthDetail(code=_code(d.get("code")), title=s(d.get("title")),
                                      message=s(d.get("message"))[:500]))
    return tuple(out)


def map_protected_item(raw: dict[str, Any]) -> m.ProtectedItem:
    """A backup protected item. Its VM fields are read from the raw properties: the SDK deserialises
    `protectedItemType: Microsoft.Compute/virtualMachines` as the base ProtectedItem (design.md)."""
    rid, display = require_id(raw)
    props = dct(raw.get("properties"))
    source = s(props.get("sourceResourceId")) or s(props.get("virtualMachineId"))
    if not source:
        # An item that names no VM cannot be joined to one: kept as one, every VM of the vault would
        # look unprotected (a false BCDR801). Skipped and recorded, the vault's items are partial.
        raise MalformedItem("protected item without properties.sourceResourceId / virtualMachineId")
    policy = s(props.get("policyId"))
    return m.ProtectedItem(
        id=rid, display_id=display, name=s(raw.get("name")) or ids.name_of(display),
        subscription_id=ids.subscription_of(display), vault_id=vault_of(display),
        source_resource_id=ref(source), source_display_id=intern(source), friendly_name=word(props.get("friendlyName")),
        container_name=word(s(props.get("containerName")).lower()), protected_item_type=word(props.get("protectedItemType")),
        backup_management_type=word(props.get("backupManagementType")), workload_type=word(props.get("workloadType")),
        protection_state=word(props.get("protectionState")), protection_status=word(props.get("protectionStatus")),
        health_status=word(props.get("healthStatus")), health_details=_health(props.get("healthDetails")),
        last_backup_status=word(props.get("lastBackupStatus")), last_backup_time=time_or_none(props.get("lastBackupTime")),
        policy_id=ref(policy), policy_name=word(s(props.get("policyName")) or (ids.name_of(policy) if policy else "")),
        policy_type=word(props.get("policyType")),
        last_recovery_point_time=time_or_none(props.get("lastRecoveryPoint")),
        deferred_delete=b_or_none(props.get("isScheduledForDeferredDelete")),
        deferred_delete_time=s_or_none(props.get("deferredDeleteTimeInUTC")),
    )


STANDARD_SCHEDULES = frozenset({"SimpleSchedulePolicy"})
ENHANCED_SCHEDULES = frozenset({"SimpleSchedulePolicyV2"})


def policy_kind(policy_type: str, schedule_type: str) -> bool | None:
    """Enhanced (True), Standard (False) or unknown (None). Enhanced (V2) is policyType V2 or schedule
    type SimpleSchedulePolicyV2 (list results may omit policyType, v2-List-Policies.json); Standard is
    policyType V1 or SimpleSchedulePolicy. Anything else is not guessed: a Standard reading of an
    unknown schedule would apply the Standard limits (a false critical BCDR501)."""
    if policy_type.upper() == "V2" or schedule_type in ENHANCED_SCHEDULES:
        return True
    if policy_type.upper() == "V1" or schedule_type in STANDARD_SCHEDULES:
        return False
    return None


def map_policy(raw: dict[str, Any]) -> m.BackupPolicy:
    """A VM backup policy; `is_v2` is None when neither policyType nor the schedule type says."""
    rid, display = require_id(raw)
    props = dct(raw.get("properties"))
    schedule = dct(props.get("schedulePolicy"))
    schedule_type = s(schedule.get("schedulePolicyType"))
    is_v2 = policy_kind(s(props.get("policyType")), schedule_type)
    return m.BackupPolicy(
        id=rid, display_id=display, name=s(raw.get("name")) or ids.name_of(display),
        subscription_id=ids.subscription_of(display), vault_id=vault_of(display), is_v2=is_v2,
        backup_management_type=s(props.get("backupManagementType")), schedule_policy_type=schedule_type,
        schedule_run_frequency=s(schedule.get("scheduleRunFrequency")),
        hourly_interval=i_or_none(get(schedule, "hourlySchedule", "interval")),
        schedule_window_hours=i_or_none(get(schedule, "hourlySchedule", "scheduleWindowDuration")),
        instant_rp_retention_days=i_or_none(props.get("instantRpRetentionRangeInDays")),
        instant_rp_rg_prefix=s(get(props, "instantRPDetails", "azureBackupRGNamePrefix")),
        instant_rp_rg_suffix=s(get(props, "instantRPDetails", "azureBackupRGNameSuffix")),
    )


def _code(value: Any) -> str:
    """An error code as text: the service sends names, the SDK models declare ints."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    return s(value)


def _backup_errors(value: Any) -> tuple[m.JobError, ...]:
    out = []
    for e in lst(value):
        if isinstance(e, dict):
            # The service sends the number in errorCode (520512; the SDK's AzureIaaSVMErrorInfo types it
            # int) and the name in errorTitle (UserErrorIncompatibleSrcTargetSystemsForRestore); older
            # answers put a name in errorCode. Keep both as sent: the knowledge base knows either.
            code, title = _code(e.get("errorCode")), s(e.get("errorTitle"))
            out.append(m.JobError(code=word(code or title), title=word(title if code else ""),
                                  message=word(s(e.get("errorString"))[:500]),
                                  recommendations=tuple(word(x[:300]) for x in lst(e.get("recommendations"))
                                                        if isinstance(x, str))))
    return tuple(out)


def map_backup_job(raw: dict[str, Any]) -> m.BackupJob:
    """A job reduced to what the rules read: its name is its id's last segment (BackupJob.name)."""
    rid, display = require_id(raw)
    props = dct(raw.get("properties"))
    return m.BackupJob.of(
        rid, display, subscription_id=ids.subscription_of(display), vault_id=vault_of(display),
        operation=word(props.get("operation")), status=word(props.get("status")),
        start_time=time_or_none(props.get("startTime")), end_time=time_or_none(props.get("endTime")),
        entity_friendly_name=word(props.get("entityFriendlyName")), container_name=word(s(props.get("containerName")).lower()),
        backup_management_type=word(props.get("backupManagementType")),
        is_user_triggered=b_or_none(props.get("isUserTriggered")), errors=_backup_errors(props.get("errorDetails")),
    )


def asr_health(value: Any) -> tuple[m.HealthDetail, ...]:
    """Site Recovery HealthError objects (items, fabrics, servers)."""
    out = []
    for e in lst(value):
        if isinstance(e, dict):
            out.append(m.HealthDetail(code=word(_code(e.get("errorCode"))), title=word(s(e.get("summaryMessage"))[:300]),
                                      message=word((s(e.get("errorMessage")) or s(e.get("recommendedAction")))[:500]),
                                      category=word(e.get("errorCategory")), level=word(e.get("errorLevel"))))
    return tuple(out)


_ITEMS_MARK = "/replicationprotecteditems/"


def container_of(item_id: str) -> str:
    """Normalised id of the protection container a replication protected item sits in."""
    rid = ids.norm(item_id)
    cut = rid.find(_ITEMS_MARK)
    return rid[:cut] if cut >= 0 else ""


def _a2a_disks(psd: dict[str, Any]) -> tuple[tuple[str, ...] | None, tuple[int, ...]]:
    """(normalised ids of the managed disks A2A replicates, or None when not listed; LUNs of the
    data disks it reports as unprotected)."""
    managed = psd.get("protectedManagedDisks")
    protected = None
    if isinstance(managed, list):
        protected = tuple(ids.norm(s(get(d, "diskId"))) for d in managed if isinstance(d, dict) and s(get(d, "diskId")))
    luns = tuple(lun for d in lst(psd.get("unprotectedDisks")) if isinstance(d, dict)
                 for lun in [i_or_none(d.get("diskLunId"))] if lun is not None)
    return protected, luns


def _vm_from_parts(subscription_id: str, rg_id: str, name: str) -> str:
    """An Azure VM id from a resource group id and a VM name (InMage providers give them apart)."""
    if not (rg_id and name):
        return ""
    rg = ids.resource_group_of(rg_id)
    sub = ids.subscription_of(rg_id) or subscription_id
    return ids.norm(ids.vm_id(sub, rg, name)) if rg else ""


def map_replication_item(raw: dict[str, Any]) -> m.ReplicationItem:
    rid, display = require_id(raw)
    props = dct(raw.get("properties"))
    psd = dct(props.get("providerSpecificDetails"))
    kind = s(psd.get("instanceType"))
    sub = ids.subscription_of(display)
    source = recovery = ""
    rpo = i_or_none(psd.get("rpoInSeconds")) if psd.get("rpoInSeconds") is not None else i_or_none(psd.get("lastRpoInSeconds"))
    last_rp = time_or_none(psd.get("lastRecoveryPointReceived"))
    has_rp: bool | None = None
    agent_update = b_or_none(psd.get("isReplicationAgentUpdateRequired"))
    if agent_update is None:
        agent_update = b_or_none(psd.get("isAgentUpdateRequired"))
    if kind == "A2A":
        # fabricObjectId is the source Azure VM; recoveryFabricObjectId the VM on the other side.
        source = ids.norm(s(psd.get("fabricObjectId")))
        recovery = ids.norm(s(psd.get("recoveryFabricObjectId")))
        if not recovery:
            recovery = _vm_from_parts(sub, s(psd.get("recoveryAzureResourceGroupId")), s(psd.get("recoveryAzureVMName")))
        # A2A reports no recovery point list on the item. An RPO is measured from the latest recovery
        # point, so one exists; rpoInSeconds stays null until then, while the item's own state says
        # initial replication is pending ("Waiting for first recovery point"). monitoringJobType is no
        # signal: it keeps "InitialReplication" long after the item is Protected (real recordings).
        if rpo is not None or time_or_none(psd.get("lastRpoCalculatedTime")):
            has_rp = True
        elif any(word in x.replace(" ", "").lower() for word in ("initialreplication", "firstrecoverypoint")
                 for x in (s(props.get("protectionState")), s(props.get("protectionStateDescription")),
                           s(psd.get("vmProtectionState")), s(psd.get("vmProtectionStateDescription")))):
            has_rp = False
    elif kind == "InMageRcmFailback":
        # Failback from Azure to on-premises: the Azure VM is the one being replicated back.
        source = ids.norm(s(psd.get("azureVirtualMachineId")))
        # No RPO or recovery point field (InMageRcmFailbackReplicationDetails); an initial replication
        # still under way means no recovery point yet. Otherwise BCDR901 lists the recovery points.
        progress = i_or_none(psd.get("initialReplicationProgressPercentage"))
        if progress is not None and progress < 100:
            has_rp = False
    elif kind == "InMage":
        # VMware failback from Azure through a master target (seeds 000/001): the provider lists the
        # recovery points it holds in consistencyPoints ({name: time}) and dates its RPO.
        points = psd.get("consistencyPoints")
        dated = [(when, t) for t in (time_or_none(v) for v in points.values()) if t
                 and (when := parse_once(t)) is not None] if isinstance(points, dict) else []
        if dated:
            has_rp, last_rp = True, max(dated)[1]
        elif rpo is not None or time_or_none(psd.get("lastRpoCalculatedTime")):
            has_rp = True
        elif isinstance(points, dict):
            has_rp = False  # the provider says it holds none
    elif kind == "InMageRcm":
        recovery = _vm_from_parts(sub, s(psd.get("targetResourceGroupId")), s(psd.get("targetVmName")))
        if s(psd.get("lastRecoveryPointId")) or last_rp:
            has_rp = True
    elif kind in ("InMageAzureV2", "HyperVReplicaAzure"):
        recovery = ids.norm(s(psd.get("targetVmId"))) or _vm_from_parts(
            sub, s(psd.get("recoveryAzureResourceGroupId")),
            s(psd.get("recoveryAzureVMName")) or s(psd.get("recoveryAzureVmName")))
        if kind == "InMageAzureV2":
            # RPO and the last recovery point received say one exists; lastRecoveryPointReceived is
            # read below for every provider.
            if rpo is not None or time_or_none(psd.get("lastRpoCalculatedTime")):
                has_rp = True
            elif "initialreplication" in s(psd.get("vmProtectionState")).replace(" ", "").lower():
                has_rp = False
    if last_rp:
        has_rp = True
    protected_disks, unprotected_luns = _a2a_disks(psd) if kind == "A2A" else (None, ())
    return m.ReplicationItem(
        id=rid, display_id=display, name=s(raw.get("name")) or ids.name_of(display), subscription_id=sub,
        vault_id=vault_of(display), friendly_name=word(props.get("friendlyName")), instance_type=word(kind),
        protection_state=word(props.get("protectionState")),
        protection_state_description=word(props.get("protectionStateDescription")),
        replication_health=word(props.get("replicationHealth")), health_errors=asr_health(props.get("healthErrors")),
        active_location=word(props.get("activeLocation")),
        allowed_operations=tuple(word(x) for x in lst(props.get("allowedOperations")) if isinstance(x, str)),
        failover_recovery_point_id=s(props.get("failoverRecoveryPointId")),
        last_successful_failover_time=time_or_none(props.get("lastSuccessfulFailoverTime")),
        source_vm_id=intern(source), recovery_vm_id=intern(recovery), rpo_seconds=rpo, last_recovery_point_time=last_rp,
        has_recovery_point=has_rp, agent_update_required=agent_update,
        failover_health=word(props.get("failoverHealth")), test_failover_state=word(props.get("testFailoverState")),
        last_successful_test_failover_time=s_or_none(props.get("lastSuccessfulTestFailoverTime")),
        protected_disk_ids=protected_disks, unprotected_disk_luns=unprotected_luns,
        agent_expiry_time=s_or_none(psd.get("agentExpiryDate")) if kind == "A2A" else None,
        agent_certificate_expiry_time=s_or_none(psd.get("agentCertificateExpiryDate")) if kind == "A2A" else None,
        container_id=intern(container_of(display)), recovery_container_id=ref(s(props.get("recoveryContainerId"))),
    )


def _asr_job_errors(value: Any) -> tuple[m.JobError, ...]:
    out = []
    for e in lst(value):
        if not isinstance(e, dict):
            continue
        provider, service = dct(e.get("providerErrorDetails")), dct(e.get("serviceErrorDetails"))
        code = provider.get("errorCode") if provider.get("errorCode") is not None else service.get("code")
        message = s(provider.get("errorMessage")) or s(service.get("message"))
        action = s(provider.get("recommendedAction")) or s(service.get("recommendedAction"))
        out.append(m.JobError(code=str(code) if isinstance(code, (str, int)) and not isinstance(code, bool) else "",
                              message=message[:500], recommendations=(action[:300],) if action else ()))
    return tuple(out)


def map_replication_job(raw: dict[str, Any]) -> m.ReplicationJob:
    rid, display = require_id(raw)
    props = dct(raw.get("properties"))
    return m.ReplicationJob(
        id=rid, display_id=display, name=s(raw.get("name")) or ids.name_of(display),
        subscription_id=ids.subscription_of(display), vault_id=vault_of(display),
        scenario_name=word(props.get("scenarioName")), friendly_name=word(props.get("friendlyName")),
        state=word(props.get("state")), state_description=word(props.get("stateDescription")),
        start_time=time_or_none(props.get("startTime")), end_time=time_or_none(props.get("endTime")),
        target_object_id=s(props.get("targetObjectId")), target_object_name=s(props.get("targetObjectName")),
        target_instance_type=word(props.get("targetInstanceType")), errors=_asr_job_errors(props.get("errors")),
    )
