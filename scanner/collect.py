"""Collect: call the SDKs for each subscription and assemble the Inventory.

Cost model (design.md): ARM reads come from a per-subscription token bucket (250 burst, 25/s), so
the way to be fast is to make fewer calls. Lists are a handful of pages; the per-resource GETs are
limited to what the rules need:
- instance views (agent and extension state) only for running VMs that are backed up or replicated;
- restore point counts ($expand=restorePoints) only for collections of backed-up VMs;
- one GET per vault: the vault list carries no security or redundancy settings (real responses);
- a job GET only for the failed Backup jobs of a VM's current failure streak (at most
  `job_details_per_item` per VM) whose list item came without errorDetails.
When the protected-item list of a subscription is incomplete we cannot tell which VMs are backed
up, so we fall back to all running VMs / all collections rather than miss one.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable

from . import ids
from . import inventory as m
from .arm import ClientFactory, classify
from .collectors import compute as cmp
from .collectors import keyvault as kvc
from .collectors import network as netc
from .collectors import recovery as rsv
from .collectors import resources as res
from .collectors import site_recovery as asrc
from .collectors.base import Recorder, breaker_scope, fetch, raw_json, read_list, wire
from .timeutil import iso, utcnow
from .timeutil import parse as parse_time

log = logging.getLogger(__name__)

AZURE_IAAS_VM = "backupManagementType eq 'AzureIaasVM'"


@dataclass
class CollectOptions:
    job_window_days: int = 7  # backup jobs: every InProgress and Cancelling job plus those started in this window
    workers: int = 8  # concurrent per-resource GETs within one subscription
    # Subscriptions collected at once. Each has its own read bucket at ARM, so every subscription is
    # scanned concurrently up to this cap (beyond it one interpreter's CPU binds before ARM does).
    subscription_workers: int = 16
    job_details_per_item: int = 3  # job GETs per VM for failed Backup jobs listed without errorDetails


def job_filter_time(dt: datetime) -> str:
    """Backup jobs $filter dates: 'YYYY-MM-DD hh:mm:ss AM' in UTC (design.md, ListJobsWithAllSupportedFilters)."""
    return dt.strftime("%Y-%m-%d %I:%M:%S %p")


@dataclass
class _Parts:
    virtual_machines: list[m.VirtualMachine] = field(default_factory=list)
    resource_groups: list[m.ResourceGroup] = field(default_factory=list)
    locks: list[m.Lock] = field(default_factory=list)
    disks: list[m.Disk] = field(default_factory=list)
    restore_point_collections: list[m.RestorePointCollection] = field(default_factory=list)
    vaults: list[m.Vault] = field(default_factory=list)
    protected_items: list[m.ProtectedItem] = field(default_factory=list)
    backup_policies: list[m.BackupPolicy] = field(default_factory=list)
    backup_jobs: list[m.BackupJob] = field(default_factory=list)
    replication_items: list[m.ReplicationItem] = field(default_factory=list)
    replication_jobs: list[m.ReplicationJob] = field(default_factory=list)
    recovery_plans: list[m.RecoveryPlan] = field(default_factory=list)
    replication_fabrics: list[m.ReplicationFabric] = field(default_factory=list)
    container_mappings: list[m.ContainerMapping] = field(default_factory=list)
    network_interfaces: list[m.NetworkInterface] = field(default_factory=list)
    network_security_groups: list[m.NetworkSecurityGroup] = field(default_factory=list)
    route_tables: list[m.RouteTable] = field(default_factory=list)
    virtual_networks: list[m.VirtualNetwork] = field(default_factory=list)
    key_vaults: list[m.KeyVault] = field(default_factory=list)
    coverage: list[m.Coverage] = field(default_factory=list)


def collect(factory: ClientFactory, subscriptions: list[str], options: CollectOptions | None = None,
            now: datetime | None = None) -> m.Inventory:
    options = options or CollectOptions()
    now = now or utcnow()
    subs = [s.lower() for s in subscriptions]
    with ThreadPoolExecutor(max_workers=max(1, min(options.subscription_workers, len(subs) or 1))) as pool:
        parts = list(pool.map(lambda sub: _isolated(factory, sub, options, now), subs))
    merged: dict[str, list[Any]] = {}
    for p in parts:
        for name, items in vars(p).items():
            merged.setdefault(name, []).extend(items)
    inv = m.build_inventory(iso(now), subs, **merged)
    return replace(inv, arm_requests=factory.ledger.count)


def _isolated(factory: ClientFactory, sub: str, options: CollectOptions, now: datetime) -> _Parts:
    """One subscription's collection, whatever happens in it: an unexpected error fails that
    subscription's collectors (coverage, NOT_ASSESSED) and never the other subscriptions."""
    try:
        return collect_subscription(factory, sub, options, now)
    except Exception as exc:  # noqa: BLE001 - recorded as the subscription's coverage
        log.debug("collecting %s failed", sub, exc_info=exc)
        rec = Recorder(sub, factory.list_limits)
        for collector in m.ALL_COLLECTORS:
            rec.failed(collector, exc)
        return _Parts(coverage=rec.records())


def collect_subscription(factory: ClientFactory, sub: str, options: CollectOptions, now: datetime) -> _Parts:
    rec = Recorder(sub, factory.list_limits)
    factory.recorders.append(rec)  # the progress display reads how many collectors have started
    out = _Parts()
    compute = factory.compute(sub)

    # VMs: the full list (storage/OS profile) and the status-only list (power and provisioning).
    vms = {vm.id: vm for vm in read_list(rec, m.VMS, lambda: compute.virtual_machines.list_all(), cmp.map_vm)}

    def status_of(raw: dict[str, Any]) -> tuple[str, tuple[str, ...], dict[str, Any] | None]:
        vid, codes, body = cmp.map_vm_status(raw)
        return vid, codes, None if vid in vms else body  # keep no raw body the full list already mapped

    status = read_list(rec, m.VM_STATUS, lambda: compute.virtual_machines.list_all(status_only="true"), status_of)
    for vid, codes, raw in status:
        if vid not in vms and raw is not None:  # created between the two calls, or the full list failed
            try:
                vms[vid] = cmp.map_vm(raw)
            except (ValueError, TypeError):
                continue
        vms[vid] = cmp.with_status(vms[vid], codes)

    out.resource_groups = read_list(rec, m.RESOURCE_GROUPS, lambda: factory.resources(sub).resource_groups.list(),
                                    res.map_resource_group)
    out.locks = read_list(rec, m.LOCKS, lambda: factory.locks(sub).management_locks.list_at_subscription_level(),
                          res.map_lock)
    out.disks = read_list(rec, m.DISKS, lambda: compute.disks.list(), cmp.map_disk)
    for key, items in netc.collect(factory, sub, rec).items():
        setattr(out, key, items)
    rpcs = read_list(rec, m.RESTORE_POINT_COLLECTIONS, lambda: compute.restore_point_collections.list_all(),
                     cmp.map_restore_point_collection)
    vaults = factory.vaults(sub)
    out.vaults = read_list(rec, m.VAULTS, lambda: vaults.vaults.list_by_subscription_id(), rsv.map_vault)
    vault_cov = rec.get(m.VAULTS)
    vault_collectors = (m.VAULT_SETTINGS, m.PROTECTED_ITEMS, m.BACKUP_POLICIES, m.BACKUP_JOBS, m.BACKUP_JOB_DETAILS,
                        m.REPLICATION_ITEMS, m.REPLICATION_JOBS, *ASR_VAULT_LISTS, m.ASR_RECOVERY_POINTS)
    if vault_cov is not None and vault_cov.status == m.FAILED:
        for c in vault_collectors:
            rec.failed(c, code=vault_cov.error_code, message=f"vaults could not be listed: {vault_cov.message}")
    else:
        _collect_vaults(factory, vaults, sub, rec, out, options, now)
        _collect_asr_recovery_points(factory.site_recovery(sub), rec, out, options)

    # Per-resource GETs, only where a rule needs them.
    pi_ok = _is_ok(rec, m.PROTECTED_ITEMS)
    ri_ok = _is_ok(rec, m.REPLICATION_ITEMS)
    backed_up = {p.source_resource_id for p in out.protected_items if p.is_backed_up}
    replicated = {v for r in out.replication_items for v in (r.source_vm_id, r.recovery_vm_id) if v}
    wanted_views = [vm for vm in vms.values() if vm.power_state == "running"
                    and (vm.id in backed_up or vm.id in replicated or not pi_ok or not ri_ok)]
    rec.ok(m.INSTANCE_VIEWS)
    for vm, view, error in _parallel(options.workers, wanted_views, lambda vm: _instance_view(compute, rec, vm)):
        vms[vm.id] = replace(vm, instance_view=view, instance_view_error=error)
    out.virtual_machines = list(vms.values())
    # Key vaults of ADE disks: one GET each, only those that disks of backed-up VMs name.
    out.key_vaults = kvc.collect(factory, rec, kvc.referenced_vaults(out.disks, vms.values(), backed_up if pi_ok else None))

    wanted_rpcs = [r for r in rpcs if r.source_id in backed_up or not pi_ok]
    rec.ok(m.RESTORE_POINTS)
    counted = {r.id: r for r in rpcs}
    for rpc, got, error in _parallel(options.workers, wanted_rpcs, lambda r: _count_restore_points(compute, rec, r)):
        counted[rpc.id] = replace(rpc, restore_point_count=got.restore_point_count if got else None,
                                  latest_restore_point_time=got.latest_restore_point_time if got else None,
                                  restore_point_error=error)
    out.restore_point_collections = list(counted.values())
    out.coverage = rec.records()
    return out


def _is_ok(rec: Recorder, collector: str) -> bool:
    cov = rec.get(collector)
    return cov is not None and cov.status == m.OK


def _parallel(workers: int, items: list[Any], fn: Callable[[Any], Any]) -> list[Any]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(fn, items))


def _instance_view(compute: Any, rec: Recorder, vm: m.VirtualMachine) -> tuple[m.VirtualMachine, m.InstanceView | None, str]:
    try:
        # Address the VM by its id, not by the body's `name`: that is an untrusted string which, when it
        # disagrees with the id, would send the GET to another (or no) resource.
        view = cmp.map_instance_view(fetch(lambda: compute.virtual_machines.instance_view(
            ids.resource_group_of(vm.display_id), ids.name_of(vm.display_id))))
        rec.ok(m.INSTANCE_VIEWS, 1)
        return vm, view, ""
    except Exception as exc:  # noqa: BLE001 - recorded per VM; the rules say NOT_ASSESSED for it
        rec.partial(m.INSTANCE_VIEWS, vm.id, exc)
        return vm, None, classify(exc)[0]


def _count_restore_points(compute: Any, rec: Recorder, rpc: m.RestorePointCollection):
    try:
        raw = fetch(lambda: compute.restore_point_collections.get(
            ids.resource_group_of(rpc.display_id), ids.name_of(rpc.display_id), expand="restorePoints"))
        got = cmp.map_restore_point_collection(raw)
        if got.restore_point_count is None:
            # An expand GET without restorePoints means zero points (ARM omits empty arrays).
            got = replace(got, restore_point_count=0)
        rec.ok(m.RESTORE_POINTS, 1)
        return rpc, got, ""
    except Exception as exc:  # noqa: BLE001
        rec.partial(m.RESTORE_POINTS, rpc.id, exc)
        return rpc, None, classify(exc)[0]


def _vault_settings(vaults: Any, rec: Recorder, v: m.Vault) -> m.Vault:
    """The vault with the settings of its GET; unchanged (and recorded partial) when the GET fails."""
    try:
        with breaker_scope(rec, v.id):
            settings = rsv.vault_settings(fetch(lambda: vaults.vaults.get(v.resource_group, ids.name_of(v.display_id))))
    except Exception as exc:  # noqa: BLE001 - recorded for this vault; BCDR001-003 say NOT_ASSESSED for it
        rec.partial(m.VAULT_SETTINGS, v.id, exc)
        return v
    rec.ok(m.VAULT_SETTINGS, 1)
    return replace(v, **settings)


def _streak_without_details(jobs: list[m.BackupJob], per_item: int) -> list[m.BackupJob]:
    """Failed Backup jobs that BCDR703 reads (each VM's newest finished backups up to its last
    success, at most `per_item`) and whose list item carried no errorDetails."""
    by_container: dict[str, list[tuple[datetime, m.BackupJob]]] = {}
    for job in jobs:
        started = parse_time(job.start_time)
        if (job.operation.lower() in ("", "backup", "configurebackup") and job.container_name and started is not None
                and job.status.lower() in ("failed", "completed", "completedwithwarnings")):
            by_container.setdefault(job.container_name, []).append((started, job))
    wanted: list[m.BackupJob] = []
    for finished in by_container.values():
        finished.sort(key=lambda pair: pair[0], reverse=True)
        for _, job in finished[:per_item]:
            if job.status.lower() != "failed":
                break
            if not job.errors:
                wanted.append(job)
    return wanted


def _job_details(backup: Any, rec: Recorder, v: m.Vault, job: m.BackupJob) -> m.BackupJob:
    try:
        with breaker_scope(rec, v.id):
            got = rsv.map_backup_job(fetch(lambda: backup.job_details.get(ids.name_of(v.display_id), v.resource_group,
                                                                          ids.name_of(job.display_id))))
    except Exception as exc:  # noqa: BLE001 - recorded for this job; its evidence says the details are missing
        rec.partial(m.BACKUP_JOB_DETAILS, job.id, exc)
        return job
    rec.ok(m.BACKUP_JOB_DETAILS, 1)
    return replace(job, errors=got.errors)


ASR_VAULT_LISTS = (m.RECOVERY_PLANS, m.REPLICATION_FABRICS, m.CONTAINER_MAPPINGS)


def _collect_asr_recovery_points(asr: Any, rec: Recorder, out: _Parts, options: CollectOptions) -> None:
    """One recoveryPoints list per replication item that gives no recovery point signal of its own and
    that a rule needs it for (scanner.collectors.site_recovery.needs_recovery_points)."""
    rec.ok(m.ASR_RECOVERY_POINTS)
    in_plans = {i for plan in out.recovery_plans for i in plan.item_ids}
    wanted = [i for i in out.replication_items if asrc.needs_recovery_points(i, i.id in in_plans)]

    def fetch(item: m.ReplicationItem) -> m.ReplicationItem:
        path = asrc.item_path(item.display_id)
        try:
            if path is None:
                raise ValueError("replication item id does not name its fabric and container")
            with raw_json():
                times = [asrc.recovery_point_time(wire(p))
                         for p in asr.recovery_points.list_by_replication_protected_items(*path)]
            rec.ok(m.ASR_RECOVERY_POINTS, 1)
            return asrc.with_recovery_points(item, times)
        except Exception as exc:  # noqa: BLE001 - recorded per item; BCDR901/914 say NOT_ASSESSED for it
            rec.partial(m.ASR_RECOVERY_POINTS, item.id, exc)
            return replace(item, recovery_point_error=classify(exc)[0])

    done = {i.id: i for i in _parallel(options.workers, wanted, fetch)}
    out.replication_items = [done.get(i.id, i) for i in out.replication_items]


def _collect_vaults(factory: ClientFactory, vaults: Any, sub: str, rec: Recorder, out: _Parts, options: CollectOptions,
                    now: datetime) -> None:
    backup = factory.backup(sub)
    asr = factory.site_recovery(sub)
    window_start = now - timedelta(days=options.job_window_days)
    for c in (m.VAULT_SETTINGS, m.PROTECTED_ITEMS, m.BACKUP_POLICIES, m.BACKUP_JOBS, m.BACKUP_JOB_DETAILS,
              m.REPLICATION_ITEMS, m.REPLICATION_JOBS, *ASR_VAULT_LISTS):
        rec.ok(c)

    def one_vault(v: m.Vault) -> dict[str, list[Any]]:
        name, rg = ids.name_of(v.display_id), v.resource_group
        got: dict[str, list[Any]] = {"vaults": [_vault_settings(vaults, rec, v)]}
        got["protected_items"] = read_list(
            rec, m.PROTECTED_ITEMS,
            lambda: backup.backup_protected_items.list(name, rg, filter=f"{AZURE_IAAS_VM} and itemType eq 'VM'"),
            rsv.map_protected_item, scope=v.id)
        got["backup_policies"] = read_list(
            rec, m.BACKUP_POLICIES, lambda: backup.backup_policies.list(name, rg, filter=AZURE_IAAS_VM),
            rsv.map_policy, scope=v.id)
        in_progress = read_list(
            rec, m.BACKUP_JOBS,
            lambda: backup.backup_jobs.list(name, rg, filter=f"status eq 'InProgress' and {AZURE_IAAS_VM}"),
            rsv.map_backup_job, scope=v.id)
        recent = read_list(
            rec, m.BACKUP_JOBS,
            lambda: backup.backup_jobs.list(name, rg, filter=(
                f"{AZURE_IAAS_VM} and startTime eq '{job_filter_time(window_start)}' "
                f"and endTime eq '{job_filter_time(now)}'")),
            rsv.map_backup_job, scope=v.id)
        # Cancelling jobs, like InProgress ones, are read whatever their age: one stuck for weeks is
        # exactly what BCDR704 looks for, and it started long before the window (rule-catalog-v2 A).
        cancelling = read_list(
            rec, m.BACKUP_JOBS,
            lambda: backup.backup_jobs.list(name, rg, filter=f"status eq 'Cancelling' and {AZURE_IAAS_VM}"),
            rsv.map_backup_job, scope=v.id)
        jobs = in_progress + cancelling + recent
        detailed = {j.id: _job_details(backup, rec, v, j)
                    for j in _streak_without_details(recent, options.job_details_per_item)}
        got["backup_jobs"] = [detailed.get(j.id, j) for j in jobs]
        got["replication_items"] = read_list(
            rec, m.REPLICATION_ITEMS, lambda: asr.replication_protected_items.list(rg, name),
            rsv.map_replication_item, scope=v.id)
        got["replication_jobs"] = read_list(
            rec, m.REPLICATION_JOBS, lambda: asr.replication_jobs.list(rg, name),
            rsv.map_replication_job, scope=v.id)
        cov = rec.get(m.REPLICATION_ITEMS)
        items_read = cov is not None and cov.status != m.FAILED and v.id not in cov.failed_scopes
        wanted = asrc.vault_needs(got["replication_items"], items_read)
        for collector, key, pager, mapper in (
                (m.RECOVERY_PLANS, "recovery_plans", lambda: asr.replication_recovery_plans.list(rg, name),
                 asrc.map_recovery_plan),
                (m.REPLICATION_FABRICS, "replication_fabrics", lambda: asr.replication_fabrics.list(rg, name),
                 asrc.map_fabric),
                (m.CONTAINER_MAPPINGS, "container_mappings",
                 lambda: asr.replication_protection_container_mappings.list(rg, name), asrc.map_container_mapping)):
            if collector in wanted:
                got[key] = read_list(rec, collector, pager, mapper, scope=v.id)
        return got

    listed, out.vaults = out.vaults, []
    for got in _parallel(min(options.workers, 4), listed, one_vault):
        for key, items in got.items():
            getattr(out, key).extend(items)
