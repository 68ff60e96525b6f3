"""Small factories for rule tests: build Inventory models with sensible defaults.

Ids are built like Azure builds them (display casing kept) and normalised the way collectors do.
Every factory takes keyword overrides for any model field.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from scanner import ids
from scanner import inventory as m

SUB = "11111111-1111-1111-1111-111111111111"
SUB2 = "22222222-2222-2222-2222-222222222222"
NOW = "2026-11-22T06:00:00Z"


def _ids(display: str) -> dict[str, str]:
    return {"id": ids.norm(display), "display_id": display}


def vm(name: str = "vm1", rg: str = "rg-app", sub: str = SUB, **kw: Any) -> m.VirtualMachine:
    display = ids.vm_id(sub, rg, name)
    base = dict(**_ids(display), name=name, subscription_id=sub, resource_group=rg, location="westeurope",
                os_type="Windows", provisioning_state="Succeeded",
                status_codes=("ProvisioningState/succeeded", "PowerState/running"),
                power_state="running", provisioning_status="succeeded")
    base.update(kw)
    return m.VirtualMachine(**base)


def status(code: str = "ProvisioningState/succeeded", display: str = "Ready", level: str = "Info", message: str = "") -> m.Status:
    return m.Status(code=code, level=level, display_status=display, message=message)


def extension(type: str = "Microsoft.Azure.RecoveryServices.VMSnapshot", name: str = "VMSnapshot",
              code: str = "ProvisioningState/succeeded", display: str = "Provisioning succeeded", **kw: Any) -> m.Extension:
    base = dict(name=name, type=type, type_handler_version="1.0.9",
                statuses=(status(code, display, "Error" if "failed" in code.lower() else "Info"),))
    base.update(kw)
    return m.Extension(**base)


def instance_view(agent_version: str | None = "2.7.41491.1102", agent_display: str = "Ready",
                  extensions: tuple[m.Extension, ...] = (), **kw: Any) -> m.InstanceView:
    base = dict(agent_present=True, agent_version=agent_version,
                agent_statuses=(status("ProvisioningState/succeeded", agent_display),) if agent_display else (),
                extensions=extensions)
    base.update(kw)
    return m.InstanceView(**base)


def disk(name: str = "vm1-os", rg: str = "rg-app", sub: str = SUB, size_gb: int | None = 128,
         managed_by: str = "", **kw: Any) -> m.Disk:
    display = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{name}"
    base = dict(**_ids(display), name=name, subscription_id=sub, resource_group=rg, location="westeurope",
                size_gb=size_gb, managed_by=ids.norm(managed_by), sse_type="EncryptionAtRestWithPlatformKey")
    base.update(kw)
    return m.Disk.of(**base)


def resource_group(name: str, sub: str = SUB, location: str = "westeurope") -> m.ResourceGroup:
    display = ids.resource_group_id(sub, name)
    return m.ResourceGroup(**_ids(display), name=name, subscription_id=sub, location=location)


def lock(scope_display: str, name: str = "lock1", level: str = "CanNotDelete") -> m.Lock:
    display = f"{scope_display.rstrip('/')}/providers/Microsoft.Authorization/locks/{name}"
    scope = ids.norm(scope_display)
    parts = scope.strip("/").split("/")
    kind = "subscription" if len(parts) == 2 else "resourceGroup" if len(parts) == 4 else "resource"
    return m.Lock(**_ids(display), name=name, level=level, scope=scope, scope_kind=kind,
                  subscription_id=ids.subscription_of(scope))


def vault(name: str = "vault1", rg: str = "rg-backup", sub: str = SUB, **kw: Any) -> m.Vault:
    display = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{name}"
    base = dict(**_ids(display), name=name, subscription_id=sub, resource_group=rg, location="westeurope",
                sku="Standard", soft_delete_state="Enabled", storage_redundancy="GeoRedundant",
                cross_region_restore="Enabled", immutability_state="Locked")
    base.update(kw)
    return m.Vault(**base)


def policy(name: str = "DailyPolicy", v: m.Vault | None = None, is_v2: bool = False, **kw: Any) -> m.BackupPolicy:
    v = v or vault()
    display = f"{v.display_id}/backupPolicies/{name}"
    base = dict(**_ids(display), name=name, subscription_id=v.subscription_id, vault_id=v.id, is_v2=is_v2,
                backup_management_type="AzureIaasVM",
                schedule_policy_type="SimpleSchedulePolicyV2" if is_v2 else "SimpleSchedulePolicy",
                schedule_run_frequency="Daily", instant_rp_retention_days=2)
    base.update(kw)
    return m.BackupPolicy(**base)


def protected_item(target: m.VirtualMachine, v: m.Vault | None = None, p: m.BackupPolicy | None = None,
                   **kw: Any) -> m.ProtectedItem:
    v = v or vault()
    container = f"iaasvmcontainerv2;{target.resource_group};{target.name}"
    display = (f"{v.display_id}/backupFabrics/Azure/protectionContainers/IaasVMContainer;{container}"
               f"/protectedItems/VM;{container}")
    base = dict(**_ids(display), name=f"VM;{container}", subscription_id=v.subscription_id, vault_id=v.id,
                source_resource_id=target.id, source_display_id=target.display_id, friendly_name=target.name,
                container_name=container.lower(), protected_item_type="Microsoft.Compute/virtualMachines",
                backup_management_type="AzureIaasVM", workload_type="VM", protection_state="Protected",
                protection_status="Healthy", health_status="Passed", last_backup_status="Completed",
                last_backup_time="2026-11-21T22:00:00Z",
                policy_id=(p.id if p else ""), policy_name=(p.name if p else ""))
    base.update(kw)
    return m.ProtectedItem(**base)


def rpc(target: m.VirtualMachine, count: int | None, name: str | None = None, rg: str | None = None, **kw: Any) -> m.RestorePointCollection:
    rg = rg or f"AzureBackupRG_{target.location}_1"
    name = name or f"AzureBackup_{target.name}_123456"
    display = f"/subscriptions/{target.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Compute/restorePointCollections/{name}"
    base = dict(**_ids(display), name=name, subscription_id=target.subscription_id, resource_group=rg,
                location=target.location, source_id=target.id, source_display_id=target.display_id,
                restore_point_count=count)
    base.update(kw)
    return m.RestorePointCollection(**base)


def job(v: m.Vault | None = None, name: str = "00000000-0000-0000-0000-000000000001", target: m.VirtualMachine | None = None,
        **kw: Any) -> m.BackupJob:
    v = v or vault()
    display = f"{v.display_id}/backupJobs/{name}"  # the job's name is derived from it
    base = dict(**_ids(display), subscription_id=v.subscription_id, vault_id=v.id, operation="Backup",
                status="Completed", start_time="2026-11-21T22:00:00Z", end_time="2026-11-21T22:40:00Z",
                backup_management_type="AzureIaasVM",
                entity_friendly_name=target.name if target else "",
                container_name=f"iaasvmcontainerv2;{target.resource_group};{target.name}".lower() if target else "")
    base.update(kw)
    return m.BackupJob.of(**base)


def replication_item(name: str = "rpi1", v: m.Vault | None = None, source: m.VirtualMachine | None = None, **kw: Any) -> m.ReplicationItem:
    v = v or vault("asr-vault", rg="rg-dr")
    display = (f"{v.display_id}/replicationFabrics/fabric1/replicationProtectionContainers/container1"
               f"/replicationProtectedItems/{name}")
    base = dict(**_ids(display), name=name, subscription_id=v.subscription_id, vault_id=v.id,
                friendly_name=source.name if source else name, instance_type="A2A", protection_state="Protected",
                protection_state_description="Protected", replication_health="Normal", active_location="Primary",
                source_vm_id=source.id if source else "", rpo_seconds=60, has_recovery_point=True,
                last_recovery_point_time="2026-11-22T05:55:00Z", agent_update_required=False,
                container_id=ids.norm(display.split("/replicationProtectedItems/")[0]),
                recovery_container_id=ids.norm(f"{v.display_id}/replicationFabrics/fabric2/replicationProtectionContainers/container2"))
    base.update(kw)
    return m.ReplicationItem(**base)


def replication_job(name: str = "job1", v: m.Vault | None = None, **kw: Any) -> m.ReplicationJob:
    v = v or vault("asr-vault", rg="rg-dr")
    display = f"{v.display_id}/replicationJobs/{name}"
    base = dict(**_ids(display), name=name, subscription_id=v.subscription_id, vault_id=v.id,
                scenario_name="Reprotect", state="Succeeded", start_time="2026-11-21T10:00:00Z",
                end_time="2026-11-21T10:30:00Z")
    base.update(kw)
    return m.ReplicationJob(**base)


def recovery_plan(name: str = "plan1", v: m.Vault | None = None, items: tuple[m.ReplicationItem, ...] = (),
                  **kw: Any) -> m.RecoveryPlan:
    v = v or vault("asr-vault", rg="rg-dr")
    display = f"{v.display_id}/replicationRecoveryPlans/{name}"
    base = dict(**_ids(display), name=name, subscription_id=v.subscription_id, vault_id=v.id, friendly_name=name,
                item_ids=tuple(i.id for i in items), allowed_operations=("PlannedFailover", "UnplannedFailover", "TestFailover"))
    base.update(kw)
    return m.RecoveryPlan(**base)


def fabric(name: str = "vcenter-fabric", v: m.Vault | None = None, servers: tuple[m.InfrastructureServer, ...] = (),
           **kw: Any) -> m.ReplicationFabric:
    v = v or vault("asr-vault", rg="rg-dr")
    display = f"{v.display_id}/replicationFabrics/{name}"
    base = dict(**_ids(display), name=name, subscription_id=v.subscription_id, vault_id=v.id, friendly_name=name,
                fabric_type="VMware", health="Normal", servers=servers)
    base.update(kw)
    return m.ReplicationFabric(**base)


def server(role: str = "process-server", name: str = "ps01", last_heartbeat: str | None = "2026-11-22T05:58:00Z",
           **kw: Any) -> m.InfrastructureServer:
    return m.InfrastructureServer(role=role, name=name, last_heartbeat=last_heartbeat, **kw)


def container_mapping(item: m.ReplicationItem, name: str = "mapping1", **kw: Any) -> m.ContainerMapping:
    display = f"{item.display_id.split('/replicationProtectedItems/')[0]}/replicationProtectionContainerMappings/{name}"
    base = dict(**_ids(display), name=name, subscription_id=item.subscription_id, vault_id=item.vault_id,
                source_container_id=item.container_id, target_container_id=item.recovery_container_id,
                provider_type="A2A", agent_auto_update="Enabled", state="Paired", health="Normal")
    base.update(kw)
    return m.ContainerMapping(**base)


def coverage(sub: str = SUB, status: str = m.OK, collectors: tuple[str, ...] = m.ALL_COLLECTORS,
             **overrides: m.Coverage) -> tuple[m.Coverage, ...]:
    """ok coverage for every collector; pass collector=Coverage(...) to replace one."""
    out = []
    for c in collectors:
        out.append(overrides.get(c) or m.Coverage(subscription_id=sub, collector=c, status=status))
    return tuple(out)


def failed(collector: str, sub: str = SUB, code: str = "AuthorizationFailed") -> m.Coverage:
    return m.Coverage(subscription_id=sub, collector=collector, status=m.FAILED, error_code=code, message=code)


def partial(collector: str, scopes: tuple[str, ...], sub: str = SUB, code: str = "AuthorizationFailed") -> m.Coverage:
    return m.Coverage(subscription_id=sub, collector=collector, status=m.PARTIAL, error_code=code, message=code,
                      failed_scopes=tuple(ids.norm(s) for s in scopes))


def inventory(*, subs: tuple[str, ...] = (SUB,), coverage_overrides: dict[str, m.Coverage] | None = None,
              **parts: Any) -> m.Inventory:
    """An Inventory with full ok coverage for `subs` unless overridden per collector."""
    cov: list[m.Coverage] = []
    for s in subs:
        over = {k: v for k, v in (coverage_overrides or {}).items() if v.subscription_id == s}
        cov.extend(coverage(s, **over))
    parts = {k: tuple(v) for k, v in parts.items()}
    return m.Inventory(collected_at=NOW, subscriptions=subs, coverage=tuple(cov), **parts)


def with_(obj: Any, **kw: Any) -> Any:
    return replace(obj, **kw)


# ---- network and key vaults (BCDR304, BCDR608)
def _net_id(sub: str, rg: str, kind: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/{kind}/{name}"


def nsg_rule(name: str, priority: int, access: str = "Deny", destination: str | tuple[str, ...] = "*",
             ports: str | tuple[str, ...] = "*", protocol: str = "*", source: str | tuple[str, ...] = "*",
             source_ports: str | tuple[str, ...] = "*", direction: str = "Outbound", **kw: Any) -> m.SecurityRule:
    def tup(v: str | tuple[str, ...]) -> tuple[str, ...]:
        return (v,) if isinstance(v, str) else tuple(v)
    return m.SecurityRule(name=name, priority=priority, direction=direction, access=access, protocol=protocol,
                          source_prefixes=tup(source), source_ports=tup(source_ports),
                          destination_prefixes=tup(destination), destination_ports=tup(ports), **kw)


def nsg(name: str = "nsg1", *rules: m.SecurityRule, rg: str = "rg-net", sub: str = SUB, defaults: bool = True) -> m.NetworkSecurityGroup:
    from rules._nsg import DEFAULT_OUTBOUND
    display = _net_id(sub, rg, "networkSecurityGroups", name)
    return m.NetworkSecurityGroup(**_ids(display), name=name, subscription_id=sub, resource_group=rg,
                                  location="westeurope", rules=tuple(rules) + (DEFAULT_OUTBOUND if defaults else ()))


SubnetSpec = tuple[str, m.NetworkSecurityGroup | None, m.RouteTable | None]  # name, its NSG, its route table


def vnet(name: str = "vnet1", subnets: tuple[SubnetSpec, ...] = (("default", None, None),), rg: str = "rg-net",
         sub: str = SUB) -> m.VirtualNetwork:
    display = _net_id(sub, rg, "virtualNetworks", name)
    return m.VirtualNetwork(**_ids(display), name=name, subscription_id=sub, resource_group=rg, location="westeurope",
                            subnets=tuple(m.Subnet(**_ids(f"{display}/subnets/{sn}"), name=sn,
                                                   nsg_id=g.id if g else "", route_table_id=t.id if t else "")
                                          for sn, g, t in subnets))


def route_table(name: str = "rt1", *routes: tuple[str, str, str], rg: str = "rg-net", sub: str = SUB) -> m.RouteTable:
    display = _net_id(sub, rg, "routeTables", name)
    return m.RouteTable(**_ids(display), name=name, subscription_id=sub, resource_group=rg, location="westeurope",
                        routes=tuple(m.Route(name=f"r{i}", address_prefix=p, next_hop_type=h, next_hop_ip=ip)
                                     for i, (p, h, ip) in enumerate(routes)))


def nic(target: m.VirtualMachine, subnet_id: str, nsg_: m.NetworkSecurityGroup | None = None, ip: str = "10.0.0.4",
        name: str | None = None, **kw: Any) -> m.NetworkInterface:
    name = name or f"{target.name}-nic"
    display = _net_id(target.subscription_id, target.resource_group, "networkInterfaces", name)
    base = dict(**_ids(display), name=name, subscription_id=target.subscription_id, resource_group=target.resource_group,
                location=target.location, vm_id=target.id, nsg_id=nsg_.id if nsg_ else "", primary=True,
                ip_configurations=(m.NicIpConfig(name="ipconfig1", subnet_id=ids.norm(subnet_id), private_ip=ip, primary=True),))
    base.update(kw)
    return m.NetworkInterface.of(**base)


def key_vault(name: str = "kv1", rg: str = "rg-sec", sub: str = SUB, **kw: Any) -> m.KeyVault:
    display = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"
    base = dict(**_ids(display), name=name, subscription_id=sub, resource_group=rg, location="westeurope",
                rbac_authorization=False)
    base.update(kw)
    return m.KeyVault(**base)
