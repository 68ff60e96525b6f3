"""The Inventory: a typed, frozen, JSON-serialisable snapshot of what the collectors saw.

It is the seam of the tool. Collectors know the SDKs and write only these models; rules read only
these models. Every model carries `id` (the lower-cased join key) and `display_id` (as Azure
returned it). Times are ISO-8601 strings in UTC (`...Z`), parsed with `scanner.timeutil`.

Coverage is data: for every subscription x collector there is a `Coverage` record (ok / partial /
failed, with the ARM error code). A partial record lists the scopes (vault ids, VM ids) that could
not be read, so a rule can say NOT_ASSESSED for exactly the resources affected.
"""
from __future__ import annotations

import dataclasses
import io
import json
import types
import typing
from dataclasses import dataclass, field
from functools import cached_property
from sys import intern
from typing import Any, Callable, ClassVar, Iterable, Self, TextIO

from . import ids

SCHEMA_VERSION = "1"

# Collector names (the `collector` field of Coverage). Rules ask for these by name.
VMS = "virtual_machines"
VM_STATUS = "vm_status"
INSTANCE_VIEWS = "instance_views"
RESOURCE_GROUPS = "resource_groups"
LOCKS = "locks"
RESTORE_POINT_COLLECTIONS = "restore_point_collections"
RESTORE_POINTS = "restore_points"
DISKS = "disks"
VAULTS = "vaults"
VAULT_SETTINGS = "vault_settings"  # one GET per vault: the list carries no security/redundancy settings
PROTECTED_ITEMS = "protected_items"
BACKUP_POLICIES = "backup_policies"
BACKUP_JOBS = "backup_jobs"
BACKUP_JOB_DETAILS = "backup_job_details"  # job GETs for failed Backup jobs whose list item has no errorDetails
REPLICATION_ITEMS = "replication_items"
REPLICATION_JOBS = "replication_jobs"
# Site Recovery, per vault (scanner/collectors/site_recovery.py).
RECOVERY_PLANS = "recovery_plans"
REPLICATION_FABRICS = "replication_fabrics"
CONTAINER_MAPPINGS = "container_mappings"
ASR_RECOVERY_POINTS = "asr_recovery_points"  # per item, only where a rule needs it

# Microsoft.Network (one paged list each per subscription) and the key vaults of ADE disks.
NETWORK_INTERFACES = "network_interfaces"
NETWORK_SECURITY_GROUPS = "network_security_groups"
ROUTE_TABLES = "route_tables"
VIRTUAL_NETWORKS = "virtual_networks"
KEY_VAULTS = "key_vaults"
NETWORK_COLLECTORS = (NETWORK_INTERFACES, NETWORK_SECURITY_GROUPS, ROUTE_TABLES, VIRTUAL_NETWORKS)

ALL_COLLECTORS = (
    VMS, VM_STATUS, INSTANCE_VIEWS, RESOURCE_GROUPS, LOCKS, RESTORE_POINT_COLLECTIONS,
    RESTORE_POINTS, DISKS, VAULTS, VAULT_SETTINGS, PROTECTED_ITEMS, BACKUP_POLICIES, BACKUP_JOBS,
    BACKUP_JOB_DETAILS, REPLICATION_ITEMS, REPLICATION_JOBS,
    RECOVERY_PLANS, REPLICATION_FABRICS, CONTAINER_MAPPINGS, ASR_RECOVERY_POINTS,
) + NETWORK_COLLECTORS + (KEY_VAULTS,)

OK, PARTIAL, FAILED = "ok", "partial", "failed"

IMMUTABILITY_NOT_CONFIGURED = "NotConfigured"  # Vault.immutability_state: never configured (GET says null)

# protectionState values that make a VM "backed up" (rule-catalog.md, "Words used below").
BACKED_UP_STATES = frozenset({"protected", "irpending", "protectionerror"})
# Every protectionState the SDK knows (ProtectedItemState, azure-mgmt-recoveryservicesbackup 11.2.0).
# A state outside this set is one the service added later: we cannot tell if the VM is backed up.
KNOWN_PROTECTION_STATES = BACKED_UP_STATES | frozenset(
    {"invalid", "protectionstopped", "protectionpaused", "backupssuspended"})


# --------------------------------------------------------------------------- models
def split_last(resource_id: str) -> tuple[str, str]:
    """`resource_id` cut before its own last segment: (up to and with the last "/" a segment
    follows, the rest). A function of the id: two ids are equal exactly when their splits are."""
    cut = resource_id.rstrip("/").rfind("/") + 1
    return resource_id[:cut], resource_id[cut:]


def split_display(display_id: str) -> tuple[str, str]:
    """split_last, the first part interned: one string for every resource of a resource group or
    vault. The models that keep their display id so (`where`; BackupJob its id too)."""
    where, rest = split_last(display_id)
    return intern(where), rest


@dataclass(frozen=True, slots=True)
class Status:
    """One entry of an instance-view `statuses[]` list."""
    code: str = ""
    level: str = ""
    display_status: str = ""
    message: str = ""
    time: str | None = None


@dataclass(frozen=True, slots=True)
class Extension:
    """Derived facts about one VM extension. Never its `settings` or `protectedSettings`: those can
    carry SAS URLs and commands (design.md, safety)."""
    name: str
    type: str  # e.g. Microsoft.Azure.RecoveryServices.VMSnapshot
    publisher: str = ""
    type_handler_version: str = ""
    provisioning_state: str = ""  # from the VM model (list), when known
    statuses: tuple[Status, ...] = ()
    handler_status: Status | None = None  # vmAgent.extensionHandlers[].status


@dataclass(frozen=True, slots=True)
class InstanceView:
    agent_present: bool  # vmAgent object present in the instance view
    agent_version: str | None = None
    agent_statuses: tuple[Status, ...] = ()
    extensions: tuple[Extension, ...] = ()
    statuses: tuple[Status, ...] = ()


@dataclass(frozen=True, slots=True)
class VmDisk:
    """A disk as the VM's storage profile names it."""
    name: str
    lun: int | None = None  # None for the OS disk
    managed_disk_id: str = ""  # normalised
    size_gb: int | None = None
    is_os_disk: bool = False
    unmanaged: bool = False  # a VHD in a storage account (`vhd.uri`), no managedDisk


@dataclass(frozen=True, slots=True)
class VirtualMachine:
    id: str
    display_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str = ""
    vm_id: str = ""  # the VM's unique GUID (properties.vmId)
    os_type: str = ""  # Windows | Linux
    provisioning_state: str = ""  # properties.provisioningState from the full list
    # From the status-only list: the raw status codes and the derived words.
    status_codes: tuple[str, ...] = ()
    power_state: str | None = None  # running | deallocated | stopped | starting | ... (None: unknown)
    provisioning_status: str | None = None  # succeeded | failed | updating | ... (from ProvisioningState/x)
    provisioning_error: str = ""  # the third part of ProvisioningState/failed/<code>
    provision_vm_agent: bool | None = None  # osProfile.*Configuration.provisionVMAgent
    # Azure Disk Encryption with AAD (dual pass) keeps its settings on the VM model,
    # storageProfile.osDisk.encryptionSettings (DiskEncryptionSettings), not on the disk resource.
    ade_dual_pass: bool = False
    ade_dual_pass_has_bek: bool = False
    ade_dual_pass_has_kek: bool = False
    # Key vaults the dual-pass settings name (normalised ids), like Disk.ade_secret_vault_ids / ade_key_vault_ids
    ade_dual_pass_secret_vault_ids: tuple[str, ...] = ()
    ade_dual_pass_key_vault_ids: tuple[str, ...] = ()
    disks: tuple[VmDisk, ...] = ()
    extensions: tuple[Extension, ...] = ()  # from the VM model's `resources`, when the list carries them
    tags: dict[str, str] = field(default_factory=dict)
    instance_view: InstanceView | None = None  # fetched only for running backed-up/replicated VMs
    instance_view_error: str = ""  # ARM error code when the instance view GET failed
    allow_extension_operations: bool | None = None  # osProfile.allowExtensionOperations (None: not said)
    security_type: str = ""  # securityProfile.securityType: TrustedLaunch | ConfidentialVM | Standard | ''
    nic_ids: tuple[str, ...] = ()  # networkProfile.networkInterfaces[].id, normalised, primary first


@dataclass(frozen=True, slots=True)
class ResourceGroup:
    id: str
    display_id: str
    name: str
    subscription_id: str
    location: str = ""


@dataclass(frozen=True, slots=True)
class Lock:
    id: str
    display_id: str
    name: str
    level: str  # CanNotDelete | ReadOnly
    scope: str  # normalised id of the locked scope
    scope_kind: str  # subscription | resourceGroup | resource
    subscription_id: str = ""
    notes: str = ""


@dataclass(frozen=True, slots=True)
class RestorePointCollection:
    id: str
    display_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str = ""
    source_id: str = ""  # normalised id of the source VM
    source_display_id: str = ""
    restore_point_count: int | None = None  # None: not fetched (not needed, or the GET failed)
    restore_point_error: str = ""  # ARM error code when the expand GET failed
    latest_restore_point_time: str | None = None


class _DisplayByName:
    """A model whose display id is `where` (the text before its own segment: one interned string
    for every resource of a resource group) and its `name`, or `display_rest` when the segment is
    not the name. For the numerous resources no rule reports on: `display_id` is derived where read
    (evidence, the saved file). Build one with `.of(id, display_id, name, ...)`; the saved file keeps
    `display_id` where it was (SAVED_AS, loaded through BUILT_FROM)."""
    __slots__ = ()
    where: str
    name: str
    display_rest: str | None
    BUILT_FROM: ClassVar[dict[str, Any]] = {"display_id": str}

    @classmethod
    def of(cls, id: str, display_id: str, name: str, **fields: Any) -> Self:
        """The model whose ids are `id` and `display_id` (the other fields as named)."""
        where, rest = split_display(display_id)
        return cls(id=id, where=where, name=name, display_rest=None if rest == name else rest, **fields)  # type: ignore[call-arg]

    @property
    def display_id(self) -> str:
        return self.where + (self.name if self.display_rest is None else self.display_rest)


@dataclass(frozen=True, slots=True)
class Disk(_DisplayByName):
    """A managed disk (two per VM or more: the second most numerous item). No rule reports on a
    disk: its display id is kept in parts (_DisplayByName)."""
    id: str
    where: str
    name: str
    subscription_id: str
    resource_group: str
    location: str = ""
    size_gb: int | None = None
    managed_by: str = ""  # normalised VM id
    disk_state: str = ""
    ade_enabled: bool = False  # encryptionSettingsCollection.enabled (Azure Disk Encryption)
    ade_has_bek: bool = False
    ade_has_kek: bool = False
    sse_type: str = ""  # encryption.type (server-side encryption)
    sku: str = ""  # sku.name: Standard_LRS, Premium_LRS, PremiumV2_LRS, UltraSSD_LRS, ...
    # Key vaults the ADE settings name (normalised ids): the BitLocker/dm-crypt secret's vault and
    # the key-encryption key's vault (diskEncryptionKey / keyEncryptionKey .sourceVault.id).
    ade_secret_vault_ids: tuple[str, ...] = ()
    ade_key_vault_ids: tuple[str, ...] = ()
    max_shares: int | None = None  # maxShares (> 1: a shared disk)
    data_access_auth_mode: str = ""  # dataAccessAuthMode: AzureActiveDirectory | None
    security_type: str = ""  # securityProfile.securityType: TrustedLaunch | ConfidentialVM_* | ''
    display_rest: str | None = None  # display_id after `where`, when it is not `name` (None: name)

    SAVED_AS: ClassVar[tuple[str, ...]] = (
        "id", "display_id", "name", "subscription_id", "resource_group", "location", "size_gb", "managed_by",
        "disk_state", "ade_enabled", "ade_has_bek", "ade_has_kek", "sse_type", "sku", "ade_secret_vault_ids",
        "ade_key_vault_ids", "max_shares", "data_access_auth_mode", "security_type")


@dataclass(frozen=True, slots=True)
class Vault:
    id: str
    display_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str = ""
    sku: str = ""
    # Settings: only the vault GET carries them (collector VAULT_SETTINGS); the list has none.
    soft_delete_state: str | None = None  # Enabled | Disabled | AlwaysON | None (not reported)
    storage_redundancy: str | None = None  # GeoRedundant | LocallyRedundant | ZoneRedundant
    cross_region_restore: str | None = None  # Enabled | Disabled
    # Disabled | Unlocked | Locked, or IMMUTABILITY_NOT_CONFIGURED: the GET's securitySettings has
    # `immutabilitySettings: null` (or none at all), which is how a never-configured vault answers.
    immutability_state: str | None = None
    multi_user_authorization: str | None = None  # securitySettings.multiUserAuthorization: Enabled | Disabled
    job_failure_alerts: str | None = None  # monitoringSettings.azureMonitorAlertSettings.alertsForAllJobFailures
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HealthDetail:
    code: str
    title: str = ""
    message: str = ""
    category: str = ""  # Site Recovery errorCategory (Replication, TestFailover, AgentAutoUpdate...)
    level: str = ""  # Site Recovery errorLevel (Error, Warning)


@dataclass(frozen=True, slots=True)
class ProtectedItem:
    id: str
    display_id: str
    name: str
    subscription_id: str
    vault_id: str
    source_resource_id: str  # normalised; the join key to VirtualMachine.id
    source_display_id: str = ""
    friendly_name: str = ""
    container_name: str = ""  # iaasvmcontainerv2;<rg>;<vm>, lower-cased
    protected_item_type: str = ""
    backup_management_type: str = ""
    workload_type: str = ""
    protection_state: str = ""
    protection_status: str = ""
    health_status: str = ""
    health_details: tuple[HealthDetail, ...] = ()
    last_backup_status: str = ""
    last_backup_time: str | None = None
    policy_id: str = ""  # normalised
    policy_name: str = ""
    policy_type: str = ""
    # properties.lastRecoveryPoint: when the newest backup copy was created, i.e. the last backup
    # that succeeded. lastBackupTime is the last backup *operation*, which may have failed.
    last_recovery_point_time: str | None = None
    # properties.isScheduledForDeferredDelete: the item was deleted and sits in soft delete, until
    # deferredDeleteTimeInUTC (then it is purged with its recovery points).
    deferred_delete: bool | None = None
    deferred_delete_time: str | None = None

    @property
    def is_backed_up(self) -> bool:
        return self.protection_state.lower() in BACKED_UP_STATES

    @property
    def state_known(self) -> bool:
        return self.protection_state.lower() in KNOWN_PROTECTION_STATES


@dataclass(frozen=True, slots=True)
class BackupPolicy:
    id: str
    display_id: str
    name: str
    subscription_id: str
    vault_id: str
    is_v2: bool | None  # Enhanced (V2) or Standard; None: neither policyType nor the schedule type says
    backup_management_type: str = ""
    schedule_policy_type: str = ""
    schedule_run_frequency: str = ""  # Daily | Hourly | Weekly
    hourly_interval: int | None = None  # hours between backups for Hourly schedules
    instant_rp_retention_days: int | None = None
    # schedulePolicy.hourlySchedule.scheduleWindowDuration: hours in the day during which an Hourly
    # schedule runs (e.g. 16 from 08:00); outside it there is a longer gap between backups.
    schedule_window_hours: int | None = None
    # instantRPDetails.azureBackupRGNamePrefix / azureBackupRGNameSuffix: the policy keeps its instant
    # restore points in resource groups named <prefix><N><suffix> (N from 1) instead of
    # AzureBackupRG_<geo>_<n> ("Azure Backup resource group for virtual machines").
    instant_rp_rg_prefix: str = ""
    instant_rp_rg_suffix: str = ""


@dataclass(frozen=True, slots=True)
class JobError:
    code: str  # as sent: Backup sends a number (errorCode 520512), Site Recovery a number or a name
    message: str = ""
    recommendations: tuple[str, ...] = ()
    title: str = ""  # the error's name, when sent apart from the number (Backup errorTitle)

    @property
    def identifiers(self) -> tuple[str, ...]:
        """(number, name) as the service sent them, for rules.knowledge lookups and evidence."""
        return tuple(x for x in (self.code, self.title) if x)


@dataclass(frozen=True, slots=True)
class BackupJob:
    """A Backup job. The most numerous item (a week of jobs is 7 per backed-up VM: 49,000 at 10,000
    VMs), so it keeps its two ids in parts, each split before its last segment (`split_last`): the
    prefix, the vault's id and "/backupJobs/" (as the list returned it for `display_id`, lower-cased
    for `id`), is one string for all the jobs of a vault; the job's own segment (its GUID) is kept
    once for both ids unless they differ in it (capitals in the GUID). `id`, `display_id` and `name`
    are derived where read; the indexes that hold every job key on `id_parts` instead (no new
    string per job: `id_parts`, `inventory.id_parts`). The saved inventory carries the three as
    before (SAVED_AS). Build one with `BackupJob.of(id, display_id, ...)`: the parts are then always
    `split_last` of the two ids (dataclasses.replace keeps them)."""
    where: str  # display_id up to its last segment (interned: the vault's jobs share it)
    rest: str  # display_id after `where`: the job's name
    id_where: str  # id up to its last segment (interned)
    subscription_id: str
    vault_id: str
    operation: str = ""  # Backup | Restore | ConfigureBackup | ...
    status: str = ""  # InProgress | Completed | Failed | Cancelling | Cancelled | CompletedWithWarnings
    start_time: str | None = None
    end_time: str | None = None
    entity_friendly_name: str = ""
    container_name: str = ""  # lower-cased; joins to ProtectedItem.container_name
    backup_management_type: str = ""
    is_user_triggered: bool | None = None
    errors: tuple[JobError, ...] = ()
    id_rest: str | None = None  # id after `id_where`, when it is not `rest` (None: it is)

    SAVED_AS: ClassVar[tuple[str, ...]] = (
        "id", "display_id", "name", "subscription_id", "vault_id", "operation", "status", "start_time", "end_time",
        "entity_friendly_name", "container_name", "backup_management_type", "is_user_triggered", "errors")
    # Saved keys that are not fields, and their types: the loader reads them and builds the job with `of`.
    BUILT_FROM: ClassVar[dict[str, Any]] = {"id": str, "display_id": str}

    @classmethod
    def of(cls, id: str, display_id: str, **fields: Any) -> "BackupJob":
        """The job whose ids are `id` and `display_id` (the other fields as named)."""
        where, rest = split_display(display_id)
        id_where, id_rest = split_display(id)
        return cls(where=where, rest=rest, id_where=id_where, id_rest=None if id_rest == rest else id_rest, **fields)

    @property
    def id(self) -> str:
        return self.id_where + (self.rest if self.id_rest is None else self.id_rest)

    @property
    def id_parts(self) -> tuple[str, str]:
        """`split_last(id)`, from the stored parts: equal for two jobs exactly when their ids are."""
        return self.id_where, (self.rest if self.id_rest is None else self.id_rest)

    @property
    def display_id(self) -> str:
        return self.where + self.rest

    @property
    def name(self) -> str:
        return ids.name_of(self.display_id)


def id_parts(item: Any) -> tuple[str, str]:
    """A pair that is equal for two models exactly when their ids are, without building an id a
    model derives (BackupJob.id_parts): ("", id) for the others."""
    return item.id_parts if type(item) is BackupJob else ("", item.id)


@dataclass(frozen=True, slots=True)
class ReplicationItem:
    """A Site Recovery replication protected item."""
    id: str
    display_id: str
    name: str
    subscription_id: str
    vault_id: str
    friendly_name: str = ""
    instance_type: str = ""  # providerSpecificDetails.instanceType: A2A, InMageRcm, HyperVReplicaAzure, ...
    protection_state: str = ""
    protection_state_description: str = ""
    replication_health: str = ""  # Normal | Warning | Critical
    health_errors: tuple[HealthDetail, ...] = ()
    active_location: str = ""
    allowed_operations: tuple[str, ...] = ()
    failover_recovery_point_id: str = ""
    last_successful_failover_time: str | None = None
    source_vm_id: str = ""  # normalised Azure VM id of the source (A2A fabricObjectId)
    recovery_vm_id: str = ""  # normalised Azure VM id on the recovery side, when known
    rpo_seconds: int | None = None
    last_recovery_point_time: str | None = None  # newest recovery point the provider reports
    has_recovery_point: bool | None = None  # None: the provider does not say
    agent_update_required: bool | None = None
    failover_health: str = ""  # Normal | Warning | Critical
    test_failover_state: str = ""
    last_successful_test_failover_time: str | None = None
    # A2A: the managed disks Site Recovery replicates (None: the provider does not list them) and the
    # LUNs of data disks it reports as not protected.
    protected_disk_ids: tuple[str, ...] | None = None
    unprotected_disk_luns: tuple[int, ...] = ()
    agent_expiry_time: str | None = None  # A2A agentExpiryDate
    agent_certificate_expiry_time: str | None = None  # A2A agentCertificateExpiryDate
    container_id: str = ""  # normalised id of the item's protection container (from its own id)
    recovery_container_id: str = ""  # normalised recoveryContainerId
    recovery_point_count: int | None = None  # from a recoveryPoints list GET, when one was needed
    recovery_point_error: str = ""  # ARM error code when that GET failed


@dataclass(frozen=True, slots=True)
class ReplicationJob:
    id: str
    display_id: str
    name: str
    subscription_id: str
    vault_id: str
    scenario_name: str = ""
    friendly_name: str = ""
    state: str = ""
    state_description: str = ""
    start_time: str | None = None
    end_time: str | None = None
    target_object_id: str = ""
    target_object_name: str = ""
    target_instance_type: str = ""
    errors: tuple[JobError, ...] = ()


@dataclass(frozen=True, slots=True)
class RecoveryPlan:
    """A Site Recovery recovery plan: the items it fails over together."""
    id: str
    display_id: str
    name: str
    subscription_id: str
    vault_id: str
    friendly_name: str = ""
    item_ids: tuple[str, ...] = ()  # normalised replication protected item ids, all groups
    allowed_operations: tuple[str, ...] = ()
    replication_providers: tuple[str, ...] = ()
    current_scenario: str = ""
    last_test_failover_time: str | None = None


@dataclass(frozen=True, slots=True)
class InfrastructureServer:
    """A VMware / physical Site Recovery component that reports a heartbeat: the configuration
    server, a process server, a master target (classic), or an appliance component (modernized)."""
    role: str  # configuration-server | process-server | master-target | rcm-proxy | reprotect-agent
    name: str
    server_id: str = ""
    last_heartbeat: str | None = None
    health: str = ""
    health_errors: tuple[HealthDetail, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplicationFabric:
    id: str
    display_id: str
    name: str
    subscription_id: str
    vault_id: str
    friendly_name: str = ""
    fabric_type: str = ""  # customDetails.instanceType: Azure, VMware, InMageRcm, HyperVSite ...
    health: str = ""
    health_errors: tuple[HealthDetail, ...] = ()
    servers: tuple[InfrastructureServer, ...] = ()


@dataclass(frozen=True, slots=True)
class ContainerMapping:
    """A Site Recovery protection container mapping (source container -> target, with a policy)."""
    id: str
    display_id: str
    name: str
    subscription_id: str
    vault_id: str
    source_container_id: str = ""  # normalised, from the mapping's own id
    target_container_id: str = ""  # normalised targetProtectionContainerId
    provider_type: str = ""  # providerSpecificDetails.instanceType (A2A, ...)
    agent_auto_update: str | None = None  # A2A agentAutoUpdateStatus: Enabled | Disabled
    state: str = ""
    health: str = ""
    policy_id: str = ""


@dataclass(frozen=True, slots=True)
class NicIpConfig:
    name: str
    subnet_id: str = ""  # normalised
    private_ip: str = ""
    primary: bool | None = None
    asg_ids: tuple[str, ...] = ()  # applicationSecurityGroups[].id, normalised


@dataclass(frozen=True, slots=True)
class NetworkInterface(_DisplayByName):
    """A network interface (one per VM or more). No rule reports on a NIC: its display id is kept
    in parts (_DisplayByName)."""
    id: str
    where: str
    name: str
    subscription_id: str
    resource_group: str
    location: str = ""
    vm_id: str = ""  # virtualMachine.id, normalised
    nsg_id: str = ""  # networkSecurityGroup.id, normalised ('' when none)
    primary: bool | None = None
    ip_configurations: tuple[NicIpConfig, ...] = ()
    display_rest: str | None = None  # display_id after `where`, when it is not `name` (None: name)

    SAVED_AS: ClassVar[tuple[str, ...]] = (
        "id", "display_id", "name", "subscription_id", "resource_group", "location", "vm_id", "nsg_id", "primary",
        "ip_configurations")


@dataclass(frozen=True, slots=True)
class SecurityRule:
    """One NSG rule, custom or default, with the single and plural fields merged."""
    name: str
    priority: int
    direction: str  # Inbound | Outbound
    access: str  # Allow | Deny
    protocol: str = "*"  # * | Tcp | Udp | Icmp | Esp | Ah
    source_prefixes: tuple[str, ...] = ()
    source_ports: tuple[str, ...] = ()
    destination_prefixes: tuple[str, ...] = ()
    destination_ports: tuple[str, ...] = ()
    source_asg_ids: tuple[str, ...] = ()
    destination_asg_ids: tuple[str, ...] = ()
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class NetworkSecurityGroup:
    id: str
    display_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str = ""
    rules: tuple[SecurityRule, ...] = ()  # securityRules + defaultSecurityRules


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    address_prefix: str = ""  # a CIDR or a service tag
    next_hop_type: str = ""  # VirtualAppliance | Internet | VirtualNetworkGateway | VnetLocal | None
    next_hop_ip: str = ""


@dataclass(frozen=True, slots=True)
class RouteTable:
    id: str
    display_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str = ""
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True, slots=True)
class Subnet:
    id: str  # normalised
    display_id: str
    name: str
    nsg_id: str = ""
    route_table_id: str = ""


@dataclass(frozen=True, slots=True)
class VirtualNetwork:
    id: str
    display_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str = ""
    subnets: tuple[Subnet, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    object_id: str  # lower-cased
    tenant_id: str = ""
    application_id: str = ""
    keys: tuple[str, ...] = ()  # permissions, lower-cased
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyVault:
    """A key vault an ADE disk of a backed-up VM names (one GET each)."""
    id: str
    display_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str = ""
    rbac_authorization: bool | None = None  # enableRbacAuthorization
    access_policies: tuple[AccessPolicy, ...] = ()
    network_default_action: str = ""  # networkAcls.defaultAction: Allow | Deny ('' when no ACLs)
    network_bypass: str = ""  # networkAcls.bypass: AzureServices | None
    public_network_access: str = ""  # Enabled | Disabled


@dataclass(frozen=True, slots=True)
class Coverage:
    subscription_id: str
    collector: str
    status: str  # ok | partial | failed
    error_code: str = ""
    message: str = ""
    failed_scopes: tuple[str, ...] = ()  # normalised ids that could not be read (partial)
    items: int = 0


# --------------------------------------------------------------------------- inventory
@dataclass(frozen=True)
class Inventory:
    collected_at: str
    subscriptions: tuple[str, ...] = ()
    virtual_machines: tuple[VirtualMachine, ...] = ()
    resource_groups: tuple[ResourceGroup, ...] = ()
    locks: tuple[Lock, ...] = ()
    restore_point_collections: tuple[RestorePointCollection, ...] = ()
    disks: tuple[Disk, ...] = ()
    vaults: tuple[Vault, ...] = ()
    protected_items: tuple[ProtectedItem, ...] = ()
    backup_policies: tuple[BackupPolicy, ...] = ()
    backup_jobs: tuple[BackupJob, ...] = ()
    replication_items: tuple[ReplicationItem, ...] = ()
    replication_jobs: tuple[ReplicationJob, ...] = ()
    recovery_plans: tuple[RecoveryPlan, ...] = ()
    replication_fabrics: tuple[ReplicationFabric, ...] = ()
    container_mappings: tuple[ContainerMapping, ...] = ()
    network_interfaces: tuple[NetworkInterface, ...] = ()
    network_security_groups: tuple[NetworkSecurityGroup, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    virtual_networks: tuple[VirtualNetwork, ...] = ()
    key_vaults: tuple[KeyVault, ...] = ()
    coverage: tuple[Coverage, ...] = ()
    arm_requests: int = 0
    # How the subscriptions were chosen: "subscriptions" (named on the command line),
    # "management-group" (every subscription under --management-group, plus any named) or
    # "all-subscriptions" (every enabled subscription the identity can see). Cross-subscription
    # backup means a vault in a subscription that was not scanned may protect a VM (BCDR801).
    scope: str = "subscriptions"
    management_groups: tuple[str, ...] = ()  # the --management-group ids given (the report's scan.scope)
    schema_version: str = SCHEMA_VERSION

    # ---- indexes, built once on first use (not serialised)
    @cached_property
    def vm_by_id(self) -> dict[str, VirtualMachine]:
        return {vm.id: vm for vm in self.virtual_machines}

    @cached_property
    def disk_by_id(self) -> dict[str, Disk]:
        return {d.id: d for d in self.disks}

    @cached_property
    def vault_by_id(self) -> dict[str, Vault]:
        return {v.id: v for v in self.vaults}

    @cached_property
    def nic_by_id(self) -> dict[str, NetworkInterface]:
        return {n.id: n for n in self.network_interfaces}

    @cached_property
    def nsg_by_id(self) -> dict[str, NetworkSecurityGroup]:
        return {n.id: n for n in self.network_security_groups}

    @cached_property
    def route_table_by_id(self) -> dict[str, RouteTable]:
        return {r.id: r for r in self.route_tables}

    @cached_property
    def subnet_by_id(self) -> dict[str, Subnet]:
        return {s.id: s for vnet in self.virtual_networks for s in vnet.subnets}

    @cached_property
    def key_vault_by_id(self) -> dict[str, KeyVault]:
        return {k.id: k for k in self.key_vaults}

    @cached_property
    def policy_by_id(self) -> dict[str, BackupPolicy]:
        return {p.id: p for p in self.backup_policies}

    @cached_property
    def protected_items_by_vm(self) -> dict[str, tuple[ProtectedItem, ...]]:
        return _group(self.protected_items, lambda p: (p.source_resource_id,))

    @cached_property
    def backup_items_by_vm(self) -> dict[str, tuple[ProtectedItem, ...]]:
        """protected_items_by_vm without the items that do not back the VM up (is_backed_up)."""
        return _group((p for p in self.protected_items if p.is_backed_up), lambda p: (p.source_resource_id,))

    @cached_property
    def replication_item_by_id(self) -> dict[str, ReplicationItem]:
        return {r.id: r for r in self.replication_items}

    @cached_property
    def recovery_plans_by_item(self) -> dict[str, tuple[RecoveryPlan, ...]]:
        return _group(self.recovery_plans, lambda p: p.item_ids)

    @cached_property
    def replication_items_by_vm(self) -> dict[str, tuple[ReplicationItem, ...]]:
        return _group(self.replication_items, lambda r: {r.source_vm_id, r.recovery_vm_id})

    @cached_property
    def disks_by_vm(self) -> dict[str, tuple[Disk, ...]]:
        """Managed disks of each VM: those its storage profile names, plus any whose managedBy
        points at it (covers a VM list that omitted the storage profile)."""
        out: dict[str, dict[str, Disk]] = {}
        for vm in self.virtual_machines:
            for ref in vm.disks:
                disk = self.disk_by_id.get(ref.managed_disk_id)
                if disk is not None:
                    out.setdefault(vm.id, {})[disk.id] = disk
        for disk in self.disks:
            if disk.managed_by:
                out.setdefault(disk.managed_by, {})[disk.id] = disk
        return {k: tuple(v.values()) for k, v in out.items()}

    @cached_property
    def restore_point_collections_by_vm(self) -> dict[str, tuple[RestorePointCollection, ...]]:
        return _group(self.restore_point_collections, lambda r: (r.source_id,))

    @cached_property
    def locks_by_scope(self) -> dict[str, tuple[Lock, ...]]:
        return _group(self.locks, lambda lock: (lock.scope,))

    def locks_applying_to(self, resource_id: str) -> tuple[Lock, ...]:
        """Locks on the resource itself, its resource group and its subscription (inherited)."""
        if not self.locks_by_scope:
            return ()
        found: list[Lock] = []
        for scope in ids.parent_scopes(resource_id):
            found.extend(self.locks_by_scope.get(scope, ()))
        return tuple(found)

    @cached_property
    def protected_item_by_container(self) -> dict[tuple[str, tuple[str, str]], ProtectedItem]:
        return {(p.vault_id, key): p for p in self.protected_items if (key := container_key(p.container_name))}

    @cached_property
    def backup_job_vms(self) -> dict[tuple[str, str, str], str]:
        """(vault, container, entity name) of the backup jobs -> the VM they are about: the job to VM
        join resolved once per vault, container and name the jobs share (a VM's jobs all name its
        container), not once per job; it reads nothing else of a job."""
        out: dict[tuple[str, str, str], str] = {}
        for job in self.backup_jobs:
            key = (job.vault_id, job.container_name, job.entity_friendly_name)
            if key not in out:
                out[key] = self._resolve_job_vm(job)
        return out

    def vm_id_for_job(self, job: BackupJob) -> str:
        vm = self.backup_job_vms.get((job.vault_id, job.container_name, job.entity_friendly_name))
        return self._resolve_job_vm(job) if vm is None else vm

    def _resolve_job_vm(self, job: BackupJob) -> str:
        """The VM a backup job is about. Jobs carry no ARM id: join on the container name
        (iaasvmcontainerv2;<rg>;<vm>, which is the VM's resource group and name) within the vault.
        Only a job that has no container name at all falls back to a friendly name that is unique in
        the vault: a container that matches no item names another VM (e.g. a same-named VM in
        another resource group), never the one with the same friendly name. Empty when it cannot be
        resolved without guessing."""
        key = container_key(job.container_name)
        if key:
            item = self.protected_item_by_container.get((job.vault_id, key))
            return item.source_resource_id if item else ""
        if job.entity_friendly_name:
            same = [p for p in self.protected_items
                    if p.vault_id == job.vault_id and p.friendly_name.lower() == job.entity_friendly_name.lower()]
            if len(same) == 1:
                return same[0].source_resource_id
        return ""

    @cached_property
    def backup_jobs_by_vm(self) -> dict[str, tuple[BackupJob, ...]]:
        out: dict[str, list[BackupJob]] = {}
        resolved = self.backup_job_vms
        for job in self.backup_jobs:  # vm_id_for_job, without a call per job (49,000 at 10,000 VMs)
            vm = resolved.get((job.vault_id, job.container_name, job.entity_friendly_name))
            if vm is None:
                vm = self._resolve_job_vm(job)
            if vm:
                mine = out.get(vm)
                if mine is None:
                    out[vm] = [job]
                else:
                    mine.append(job)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def coverage_index(self) -> dict[tuple[str, str], Coverage]:
        return {(c.subscription_id, c.collector): c for c in self.coverage}

    # ---- derived facts rules use
    def backup_items_for(self, vm_id: str) -> tuple[ProtectedItem, ...]:
        return self.backup_items_by_vm.get(ids.norm(vm_id), ())

    def is_backed_up(self, vm_id: str) -> bool:
        return bool(self.backup_items_for(vm_id))

    def is_replicated(self, vm_id: str) -> bool:
        return bool(self.replication_items_by_vm.get(ids.norm(vm_id)))

    def gap(self, collector: str, subscription_id: str, scope: str = "") -> str | None:
        """Why data from `collector` is missing for this subscription (or for `scope` within it),
        or None when it was read in full. Rules turn a reason into NOT_ASSESSED."""
        cov = self.coverage_index.get((subscription_id.lower(), collector))
        if cov is None:
            return f"{collector} was not collected for subscription {subscription_id}"
        if cov.status == OK:
            return None
        if cov.status == FAILED:
            return f"{collector} failed: {cov.error_code or 'error'}"
        if scope and ids.norm(scope) not in cov.failed_scopes:
            return None
        if not scope and not cov.failed_scopes:
            return None
        return f"{collector} partial: {cov.error_code or 'error'}"

    # ---- serialisation
    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def write_json(self, fh: TextIO, transform: Callable[[Any], Any] | None = None) -> None:
        """Write `to_json()`'s text to `fh`, byte for byte, one item at a time: no plain-dict copy of
        the whole inventory and no one string of the whole file (--save-inventory at 10,000 VMs).
        `transform` is applied to each item's plain form (the CLI redacts with it)."""
        fix = transform or (lambda value: value)
        fh.write("{")
        for n, f in enumerate(dataclasses.fields(self)):
            value = getattr(self, f.name)
            fh.write(("," if n else "") + "\n  " + json.dumps(fix(f.name)) + ": ")
            if not (isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0])):
                fh.write(json.dumps(fix(_to_plain(value)), indent=2).replace("\n", "\n  "))
                continue
            fh.write("[")
            for i, item in enumerate(value):
                # json.dumps escapes every newline inside strings: each "\n" here is indentation.
                fh.write(("," if i else "") + "\n    " + json.dumps(fix(_to_plain(item)), indent=2).replace("\n", "\n    "))
            fh.write("\n  ]")
        fh.write("\n}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Inventory":
        if not isinstance(data, dict):
            raise InventoryFormatError("inventory file is not a JSON object")
        version = str(data.get("schema_version", ""))
        if version != SCHEMA_VERSION:
            raise InventoryFormatError(f"inventory schema_version {version!r} is not {SCHEMA_VERSION!r}")
        return _from_plain(cls, data, "inventory")

    @classmethod
    def from_json(cls, text: str) -> "Inventory":
        """The Inventory a JSON document holds (any layout of it, not only `write_json`'s)."""
        return _read(io.StringIO(text))

    @classmethod
    def read_json(cls, fh: TextIO) -> "Inventory":
        """from_json of a text stream (`evaluate FILE`), read a chunk at a time. The collections are
        decoded one item at a time (each item's dict is dropped once it is a model) and repeated
        strings are shared: loading needs about the Inventory, not the file's text plus a tree of it."""
        return _read(fh)


# The Inventory's resource collections: its tuple fields except the scan's own lists (the
# subscriptions and management groups asked for, the coverage records). A collection added to the
# Inventory later is one too (the coverage gate's views, the report's resources_by_type).
RESOURCE_COLLECTIONS = tuple(f.name for f in dataclasses.fields(Inventory)
                             if f.name not in ("subscriptions", "management_groups", "coverage")
                             and str(f.type).startswith("tuple["))


def _group(items: Iterable[Any], keys: Any) -> dict[str, tuple[Any, ...]]:
    """Index items under each non-empty key `keys(item)` returns (an item can sit under several)."""
    out: dict[str, list[Any]] = {}
    for item in items:
        for key in keys(item):
            if key:
                out.setdefault(key, []).append(item)
    return {k: tuple(v) for k, v in out.items()}


def container_key(container: str) -> tuple[str, str] | None:
    """(resource group, VM name) from a backup container name, in either spelling:
    'iaasvmcontainerv2;rg;vm' (protected item / job property) or
    'IaasVMContainer;iaasvmcontainerv2;rg;vm' (the container segment of an item id)."""
    parts = [p for p in (container or "").lower().split(";") if p]
    return (parts[-2], parts[-1]) if len(parts) >= 3 else None


class InventoryFormatError(ValueError):
    pass


_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


class _Reader:
    """A JSON text read from a stream a chunk at a time. Positions index `buf`: what was read and not
    yet dropped (`compact`, between items), so a saved inventory is never in memory whole."""
    CHUNK = 1 << 20

    def __init__(self, fh: TextIO):
        self.fh, self.buf, self.eof = fh, "", False
        self.dropped, self.dropped_lines = 0, 0  # for error positions in the whole text

    def more(self) -> bool:
        if not self.eof:
            chunk = self.fh.read(self.CHUNK)
            if chunk:
                self.buf += chunk
                return True
            self.eof = True
        return False

    def char(self, pos: int) -> str:
        while pos >= len(self.buf) and self.more():
            pass
        return self.buf[pos:pos + 1]

    def skip(self, pos: int) -> int:
        while True:
            while pos < len(self.buf) and self.buf[pos] in _WHITESPACE:
                pos += 1
            if pos < len(self.buf) or not self.more():
                return pos

    def expect(self, pos: int, chars: str, what: str) -> str:
        found = self.char(pos)
        if not found or found not in chars:
            raise json.JSONDecodeError(f"Expecting {what}", self.buf, pos)
        return found

    def decode(self, pos: int) -> tuple[Any, int]:
        """The JSON value at `pos` and where it ends, reading on while it is cut off by the chunk's
        end (a number that ends the buffer may go on: read on and decode it again)."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, pos)
            except json.JSONDecodeError:
                if self.more():
                    continue
                raise
            if end < len(self.buf) or not self.more():
                return value, end

    def compact(self, pos: int) -> int:
        if pos < self.CHUNK:
            return pos
        self.dropped += pos
        self.dropped_lines += self.buf.count("\n", 0, pos)
        self.buf = self.buf[pos:]
        return 0

    def error(self, exc: json.JSONDecodeError) -> InventoryFormatError:
        line = self.dropped_lines + exc.lineno
        return InventoryFormatError(f"inventory file is not valid JSON: {exc.msg}: line {line} "
                                    f"(char {self.dropped + exc.pos})")


def _read(fh: TextIO) -> Inventory:
    """Inventory.read_json: the top-level object is walked key by key; a collection (a list of models)
    is decoded item by item and each item turned into its model at once. Errors are those of
    from_dict: the schema version first, then the first bad field."""
    src = _Reader(fh)
    try:
        pos = src.skip(0)
        if src.char(pos) != "{":  # not an object: the whole-document path says what it is
            src.buf += fh.read()
            return Inventory.from_dict(json.loads(src.buf))
        return _read_object(src, src.skip(pos + 1))
    except json.JSONDecodeError as exc:
        raise src.error(exc) from None


def _read_object(src: _Reader, pos: int) -> Inventory:
    hints = typing.get_type_hints(Inventory)
    pool: dict[str, str] = {}
    plain: dict[str, Any] = {}  # top-level values that are not collections
    collections: dict[str, tuple[Any, ...]] = {}
    error: InventoryFormatError | None = None
    if src.char(pos) != "}":
        while True:
            src.expect(pos, '"', "property name enclosed in double quotes")
            key, pos = src.decode(pos)
            pos = src.skip(pos)
            src.expect(pos, ":", "':' delimiter")
            pos = src.skip(pos + 1)
            item_tp = _item_type(hints.get(key))
            if item_tp is not None and src.char(pos) == "[":
                items: list[Any] = []
                pos = src.skip(pos + 1)
                empty = src.char(pos) == "]"
                while not empty:
                    value, pos = src.decode(pos)
                    if error is None:
                        try:
                            items.append(_from_plain(item_tp, value, f"inventory.{key}[{len(items)}]", pool))
                        except InventoryFormatError as exc:
                            error = exc
                    pos = src.skip(pos)
                    if src.expect(pos, ",]", "',' delimiter") == "]":
                        break
                    pos = src.compact(src.skip(pos + 1))  # a value must follow: decode refuses ']'
                pos += 1
                collections[key] = tuple(items)
                plain.pop(key, None)
            else:
                plain[key], pos = src.decode(pos)
                collections.pop(key, None)
            pos = src.skip(pos)
            if src.expect(pos, ",}", "',' delimiter") == "}":
                break
            pos = src.compact(src.skip(pos + 1))
    end = src.skip(pos + 1)
    if src.char(end):
        raise json.JSONDecodeError("Extra data", src.buf, end)
    version = str(plain.get("schema_version", ""))
    if version != SCHEMA_VERSION:
        raise InventoryFormatError(f"inventory schema_version {version!r} is not {SCHEMA_VERSION!r}")
    if error is not None:
        raise error
    return _construct(Inventory, plain, "inventory", pool, collections)


def _item_type(tp: Any) -> type | None:
    """The model type of an Inventory collection field (tuple[Model, ...]); None for other fields."""
    if typing.get_origin(tp) is tuple:
        item = typing.get_args(tp)[0]
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            return item
    return None


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        # SAVED_AS: a model that derives some saved keys from its fields names them all, in order.
        names = getattr(obj, "SAVED_AS", None) or [f.name for f in dataclasses.fields(obj)]
        return {name: _to_plain(getattr(obj, name)) for name in names}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _to_plain(v) for k, v in obj.items()}
    return obj


_HINTS: dict[type, dict[str, Any]] = {}


def _from_plain(tp: Any, value: Any, where: str, pool: dict[str, str] | None = None) -> Any:
    """`value` (decoded JSON) as type `tp`; with `pool`, equal strings become one object."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _from_plain(inner[0], value, where, pool)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise InventoryFormatError(f"{where}: expected an object")
        return _construct(tp, value, where, pool)
    if origin is tuple:
        if not isinstance(value, list):
            raise InventoryFormatError(f"{where}: expected a list")
        (item_tp, _ellipsis) = typing.get_args(tp)
        return tuple(_from_plain(item_tp, v, f"{where}[{i}]", pool) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise InventoryFormatError(f"{where}: expected an object")
        return {str(k): str(v) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise InventoryFormatError(f"{where}: expected true/false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InventoryFormatError(f"{where}: expected an integer")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise InventoryFormatError(f"{where}: expected a string")
        return value if pool is None else pool.setdefault(value, value)
    return value


def _construct(tp: Any, value: dict[str, Any], where: str, pool: dict[str, str] | None,
               ready: dict[str, Any] | None = None) -> Any:
    """The model `tp` from the fields `value` holds (unknown keys ignored), plus `ready` (fields
    already converted: the collections the streaming loader read item by item)."""
    hints = _HINTS.get(tp)
    if hints is None:
        hints = _HINTS[tp] = typing.get_type_hints(tp)
    kwargs: dict[str, Any] = dict(ready or {})
    built_from = getattr(tp, "BUILT_FROM", None)  # a model saved with keys that are not its fields
    if built_from is not None:
        for name in tp.SAVED_AS:
            tp_of = built_from.get(name) or hints.get(name)
            if tp_of is not None and name in value:  # the keys `of` splits are not shared: not pooled
                kwargs[name] = _from_plain(tp_of, value[name], f"{where}.{name}", None if name in built_from else pool)
    for f in dataclasses.fields(tp):
        if built_from is None and f.name in value:
            kwargs[f.name] = _from_plain(hints[f.name], value[f.name], f"{where}.{f.name}", pool)
    try:
        return tp.of(**kwargs) if built_from is not None else tp(**kwargs)
    except TypeError as exc:
        raise InventoryFormatError(f"{where}: {exc}") from None


def build_inventory(collected_at: str, subscriptions: Iterable[str], **parts: Iterable[Any]) -> Inventory:
    """Assemble an Inventory from collector output, de-duplicating by id (paged lists can repeat an
    item across pages when the service reshuffles; the first one wins)."""
    clean: dict[str, Any] = {}  # Inventory field name -> tuple of models
    for name, items in parts.items():
        if name in ("coverage",):
            clean[name] = tuple(items)
            continue
        seen: dict[str, dict[str, Any]] = {}  # id, split (id_parts) -> the first item with it
        kept = []
        for item in items:
            where, rest = id_parts(item)
            firsts = seen.setdefault(where, {})
            if rest not in firsts:
                firsts[rest] = item
                kept.append(item)
        clean[name] = tuple(kept)
    return Inventory(collected_at=collected_at, subscriptions=tuple(subscriptions), **clean)
