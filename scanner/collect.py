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
import threading
from concurrent.futures import CancelledError, Executor, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
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
from .malloc import survivors_frozen
from .timeutil import iso, parse_once, utcnow

log = logging.getLogger(__name__)

AZURE_IAAS_VM = "backupManagementType eq 'AzureIaasVM'"


@dataclass
class CollectOptions:
    job_window_days: int = 7  # backup jobs: every InProgress and Cancelling job plus those started in this window
    # Per-resource GETs of one subscription in flight at most; within that, as many as keep up with
    # the read refill at the latency seen (scanner.arm.ReadPacer.in_flight).
    workers: int = 16
    # Subscriptions collected at once. Each has its own read bucket at ARM, so every subscription is
    # scanned concurrently up to this cap (beyond it one interpreter's CPU binds before ARM does).
    subscription_workers: int = 16
    job_details_per_item: int = 3  # job GETs per VM for failed Backup jobs listed without errorDetails
    list_workers: int = 8  # lists of one subscription read at once (the pages of one list follow each other)
    # Processes the subscriptions are spread over (scanner.workers); None: auto (more than one only
    # for more subscriptions than subscription_workers on more than one CPU). 1: this process.
    processes: int | None = 1
    # workers = list_workers = 1: one request at a time, in a fixed order.


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
    with survivors_frozen():  # the garbage collector's full collections walk the Inventory once (scanner.malloc)
        parts, requests = _in_processes(factory, subs, options, now)
        if parts is None:
            with ThreadPoolExecutor(max_workers=max(1, min(options.subscription_workers, len(subs) or 1))) as pool:
                futures = [pool.submit(_isolated, factory, sub, options, now) for sub in subs]
                parts = [result_interruptibly(f) for f in futures]
        merged: dict[str, list[Any]] = {}
        for p in parts:
            for name, items in vars(p).items():
                merged.setdefault(name, []).extend(items)
        inv = m.build_inventory(iso(now), subs, **merged)
    return replace(inv, arm_requests=factory.ledger.count + requests)


def _in_processes(factory: ClientFactory, subs: list[str], options: CollectOptions,
                  now: datetime) -> tuple[list[_Parts] | None, int]:
    """Each subscription's parts from worker processes (scanner.workers) and their requests, or
    (None, 0) when this process collects them all."""
    from . import workers
    processes = workers.plan_processes(options.processes, len(subs))
    if processes < 2:
        return None, 0
    spec = workers.credential_spec(factory)
    if spec is None:
        log.warning("--processes %d: the credential cannot be rebuilt in a worker process; one process collects",
                    processes)
        return None, 0
    by_sub, requests = workers.collect_parts(factory, subs, replace(options, processes=1), now, processes, spec)
    return [by_sub[s] for s in subs], requests


def result_interruptibly(future: Future[Any]) -> Any:
    """`future.result()`, for the main thread: waiting in slices lets Python run the Ctrl-C handler.

    A process-directed SIGINT reaches whichever thread the kernel picks; when that is not the main
    thread, a main thread blocked in one untimed lock wait (`Future.result()`) is not woken, and the
    handler (which ends the scan) waits until that future is done: with a stalled response, minutes."""
    while True:
        try:
            return future.result(timeout=0.1)
        except FutureTimeout:
            continue


def _isolated(factory: ClientFactory, sub: str, options: CollectOptions, now: datetime) -> _Parts:
    """One subscription's collection, whatever happens in it: an unexpected error fails that
    subscription's collectors (coverage, NOT_ASSESSED) and never the other subscriptions."""
    try:
        return collect_subscription(factory, sub, options, now)
    except Exception as exc:  # noqa: BLE001 - recorded as the subscription's coverage
        log.debug("collecting %s failed", sub, exc_info=exc)
        return all_failed(sub, exc)


def all_failed(sub: str, exc: BaseException | None = None, code: str = "", message: str = "") -> _Parts:
    """A subscription none of whose collectors could read anything: every one FAILED (the rules
    say NOT_ASSESSED for it), with `exc`'s classification or `code` and `message`."""
    rec = Recorder(sub)
    for collector in m.ALL_COLLECTORS:
        rec.failed(collector, exc, code=code, message=message)
    return _Parts(coverage=rec.records())


def collect_subscription(factory: ClientFactory, sub: str, options: CollectOptions, now: datetime) -> _Parts:
    rec = Recorder(sub, factory.list_limits)
    factory.recorders.append(rec)  # the progress display reads how many collectors have started
    work = _Work(options, lambda: factory.pacer.in_flight(sub, options.workers))
    try:
        parts = _collect_subscription(factory, sub, rec, work, options, now)
    except BaseException:
        work.close(cancel=True)
        raise
    work.close()
    return parts


class _Work:
    """One subscription's two thread pools: `lists` (each task pages one list, or a chain of lists
    that share a breaker scope) and `gets` (each task one per-resource GET). A list task may wait for
    GET tasks, never the reverse, and only the subscription's own thread waits for list tasks, so no
    pool ever waits on itself. Every request of both goes through the subscription's read pacer."""

    def __init__(self, options: CollectOptions, in_flight: Callable[[], int] | None = None) -> None:
        self.lists: Executor
        self.gets: Executor
        self._in_flight = in_flight
        self._width = max(1, options.workers)  # tasks of one batch on the GET pool (its size)
        self.cancelled = False
        self._busy = 0
        self._slots = threading.Condition()
        if options.workers <= 1 and options.list_workers <= 1:
            # One request at a time, in a fixed order (cassette recording and playback need it).
            self.lists = self.gets = _Inline()
        else:
            self.lists = ThreadPoolExecutor(max_workers=max(1, options.list_workers), thread_name_prefix="az-bcdr-list")
            self.gets = ThreadPoolExecutor(max_workers=max(1, options.workers), thread_name_prefix="az-bcdr-get")

    def each(self, items: list[Any], fn: Callable[[Any], Any]) -> _Batch:
        """`fn` over every item on the GET pool, at most `workers` tasks for the whole batch: one
        task (a Future, its Condition and work item, ~700 bytes) per item held ~17 MiB through the
        GET phase at 10,000 VMs, submitted at once as the status list came in."""
        return _Batch(self, items, fn)

    def _limited(self, fn: Callable[[Any], Any], item: Any) -> Any:
        """`fn(item)` once fewer than `in_flight()` GETs are running: the ones waiting beyond what
        keeps up with the refill take no token, so the lists' pages never queue behind them."""
        if self._in_flight is None:
            return fn(item)
        with self._slots:
            while self._busy >= self._in_flight():
                # A GET that ends wakes one waiter; the timeout only catches a limit that grew with
                # the latency while none ended (polling every 50 ms cost CPU for each waiting thread).
                self._slots.wait(0.25)
            self._busy += 1
        try:
            return fn(item)
        finally:
            with self._slots:
                self._busy -= 1
                self._slots.notify()

    def close(self, cancel: bool = False) -> None:
        if cancel:
            self.cancelled = True  # a batch's running tasks take no further item
        self.lists.shutdown(wait=True, cancel_futures=cancel)
        self.gets.shutdown(wait=True, cancel_futures=cancel)


class _Inline(Executor):
    """Runs each task at once, in the thread that submits it."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result, as a pool does
            future.set_exception(exc)
        return future


_NOT_RUN = object()


class _Batch:
    """`fn(item)` for each item, run by at most `work`'s width of tasks on its GET pool, each taking
    the next item not yet taken: the same order and concurrency as one task per item (a pool runs
    its tasks first in, first out; `_limited` bounds the requests in flight), with memory for the
    results only. `results()` is `[fn(item) for item in items]`, raising the first item's exception
    as a list of futures would, after every item ran."""

    def __init__(self, work: _Work, items: list[Any], fn: Callable[[Any], Any]) -> None:
        self._work, self._fn = work, fn
        self._todo = iter(enumerate(items))
        self._lock = threading.Lock()
        self._out: list[Any] = [_NOT_RUN] * len(items)
        self._errors: dict[int, BaseException] = {}
        self._tasks = [work.gets.submit(self._drain) for _ in range(min(work._width, len(items)))]

    def _drain(self) -> None:
        while not self._work.cancelled:
            with self._lock:
                taken = next(self._todo, None)
            if taken is None:
                return
            index, item = taken
            try:
                self._out[index] = self._work._limited(self._fn, item)
            except BaseException as exc:  # noqa: BLE001 - handed to results(), as a future would
                self._errors[index] = exc

    def results(self) -> list[Any]:
        for task in self._tasks:
            task.result()
        if self._errors:
            raise self._errors[min(self._errors)]
        if any(r is _NOT_RUN for r in self._out):  # cancelled (Work.close) before every item ran
            raise CancelledError()
        return self._out


def _results(futures: list[Future[Any]] | _Batch) -> list[Any]:
    if isinstance(futures, _Batch):
        return futures.results()
    return [f.result() for f in futures]


VAULT_COLLECTORS = (m.VAULT_SETTINGS, m.PROTECTED_ITEMS, m.BACKUP_POLICIES, m.BACKUP_JOBS, m.BACKUP_JOB_DETAILS,
                    m.REPLICATION_ITEMS, m.REPLICATION_JOBS)


def _collect_subscription(factory: ClientFactory, sub: str, rec: Recorder, work: _Work, options: CollectOptions,
                          now: datetime) -> _Parts:
    """Every list at once (up to `list_workers`; the pages of one list follow each other), the lists
    that select the per-resource GETs first: the VMs and their status, the vaults, then each vault's
    protected and replication items. The per-resource GETs start as soon as the lists that select
    them are in, while the other lists still page; the pacer spends the bucket on whichever asks."""
    out = _Parts()
    compute = factory.compute(sub)
    vaults = factory.vaults(sub)
    lists = work.lists

    # VMs: the full list (storage/OS profile) and the status-only list (power and provisioning).
    f_vms = lists.submit(read_list, rec, m.VMS, lambda: compute.virtual_machines.list_all(), cmp.map_vm)
    f_status = lists.submit(read_list, rec, m.VM_STATUS, lambda: compute.virtual_machines.list_all(status_only="true"),
                            cmp.map_vm_status)
    f_vaults = lists.submit(read_list, rec, m.VAULTS, lambda: vaults.vaults.list_by_subscription_id(), rsv.map_vault)
    f_rpcs = lists.submit(read_list, rec, m.RESTORE_POINT_COLLECTIONS, lambda: compute.restore_point_collections.list_all(),
                          cmp.map_restore_point_collection)
    f_disks = lists.submit(read_list, rec, m.DISKS, lambda: compute.disks.list(), cmp.map_disk)

    backup, asr = factory.backup(sub), factory.site_recovery(sub)  # built while the vaults are listed
    per_vault: _VaultLists | None = None
    if _is_failed(rec, m.VAULTS, f_vaults):
        vault_cov = rec.get(m.VAULTS)
        assert vault_cov is not None
        for c in (*VAULT_COLLECTORS, *ASR_VAULT_LISTS, m.ASR_RECOVERY_POINTS):
            rec.failed(c, code=vault_cov.error_code, message=f"vaults could not be listed: {vault_cov.message}")
    else:
        per_vault = _VaultLists(vaults, rec, work, options, now, f_vaults.result(), backup, asr)

    # Instance views: running VMs that are backed up or replicated (the status list and the vaults'
    # item lists say which), all running VMs when either item list is incomplete.
    status = f_status.result()
    # The lists' futures go as soon as their results are taken: a future keeps its result, so
    # `del status` below would otherwise free nothing, and the VMs the full list mapped (replaced
    # by the merge) would stay too, through every per-resource GET (~20 MiB at 10,000 VMs).
    del f_status
    protected_items, replication_items = per_vault.selection() if per_vault is not None else ([], [])
    pi_ok = _is_ok(rec, m.PROTECTED_ITEMS)
    ri_ok = _is_ok(rec, m.REPLICATION_ITEMS)
    backed_up = {p.source_resource_id for p in protected_items if p.is_backed_up}
    replicated = {v for r in replication_items for v in (r.source_vm_id, r.recovery_vm_id) if v}
    wanted_views = {vid: raw["id"].strip() for vid, codes, raw in status
                    if cmp.parse_status_codes(list(codes))[0] == "running"
                    and (vid in backed_up or vid in replicated or not pi_ok or not ri_ok)}
    rec.ok(m.INSTANCE_VIEWS)
    f_views = work.each(list(wanted_views.items()), lambda vm: _instance_view(compute, rec, *vm))
    vms = {vm.id: vm for vm in f_vms.result()}
    del f_vms
    _merge_status(vms, status)
    del status  # no raw body outlives the merge (the lists ran at once, so they were kept until now)
    # The lists that select nothing come after the ones that do, and after the VM lists are merged:
    # building their clients (importing their SDK modules, a good part of a second) stays off the
    # path to the first per-resource GET, and the modules take memory the VM lists' pages freed
    # rather than adding to it while those pages are read (the collect-phase peak).
    f_rgs = lists.submit(read_list, rec, m.RESOURCE_GROUPS, lambda: factory.resources(sub).resource_groups.list(),
                         res.map_resource_group)
    f_locks = lists.submit(read_list, rec, m.LOCKS, lambda: factory.locks(sub).management_locks.list_at_subscription_level(),
                           res.map_lock)
    f_net = {key: lists.submit(read_list, rec, collector, pager, mapper)
             for key, collector, pager, mapper in netc.lists(factory, sub)}

    # Key vaults of ADE disks: one GET each, only those that disks of backed-up VMs name.
    out.disks = f_disks.result()
    f_kv = lists.submit(kvc.collect, factory, rec,
                        kvc.referenced_vaults(out.disks, vms.values(), backed_up if pi_ok else None))
    rpcs = f_rpcs.result()
    del f_rpcs
    wanted_rpcs = [r for r in rpcs if r.source_id in backed_up or not pi_ok]
    rec.ok(m.RESTORE_POINTS)
    f_rps = work.each(wanted_rpcs, lambda r: _count_restore_points(compute, rec, r))

    if per_vault is not None:
        per_vault.finish(out)
        _collect_asr_recovery_points(asr, rec, out, work)
    out.resource_groups = f_rgs.result()
    out.locks = f_locks.result()
    for key, f in f_net.items():
        setattr(out, key, f.result())
    for vid, view, error in _results(f_views):
        if vid in vms:  # (a VM of the status list that could not be read at all has no entry)
            vms[vid] = replace(vms[vid], instance_view=view, instance_view_error=error)
    out.virtual_machines = list(vms.values())
    out.key_vaults = f_kv.result()
    counted = {r.id: r for r in rpcs}
    for rpc, got, error in _results(f_rps):
        counted[rpc.id] = replace(rpc, restore_point_count=got.restore_point_count if got else None,
                                  latest_restore_point_time=got.latest_restore_point_time if got else None,
                                  restore_point_error=error)
    out.restore_point_collections = list(counted.values())
    out.coverage = rec.records()
    return out


def _merge_status(vms: dict[str, m.VirtualMachine], status: list[tuple[str, tuple[str, ...], dict[str, Any]]]) -> None:
    """The status-only list into the VMs of the full list (a function of its own: no loop variable
    keeps a body past the merge)."""
    for vid, codes, raw in status:
        if vid not in vms:  # created between the two calls, or the full list failed
            try:
                vms[vid] = cmp.map_vm(raw)
            except (ValueError, TypeError):
                continue
        vms[vid] = cmp.with_status(vms[vid], codes)


def _is_ok(rec: Recorder, collector: str) -> bool:
    cov = rec.get(collector)
    return cov is not None and cov.status == m.OK


def _is_failed(rec: Recorder, collector: str, read: Future[Any]) -> bool:
    """Whether the list `read` reads failed (it waits for it)."""
    read.result()
    cov = rec.get(collector)
    return cov is not None and cov.status == m.FAILED


def _instance_view(compute: Any, rec: Recorder, vid: str, display_id: str) -> tuple[str, m.InstanceView | None, str]:
    try:
        # Address the VM by its id, not by the body's `name`: that is an untrusted string which, when it
        # disagrees with the id, would send the GET to another (or no) resource.
        view = cmp.map_instance_view(fetch(lambda: compute.virtual_machines.instance_view(
            ids.resource_group_of(display_id), ids.name_of(display_id))))
        rec.ok(m.INSTANCE_VIEWS, 1)
        return vid, view, ""
    except Exception as exc:  # noqa: BLE001 - recorded per VM; the rules say NOT_ASSESSED for it
        rec.partial(m.INSTANCE_VIEWS, vid, exc)
        return vid, None, classify(exc)[0]


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
        started = parse_once(job.start_time)
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


def _collect_asr_recovery_points(asr: Any, rec: Recorder, out: _Parts, work: _Work) -> None:
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

    done = {i.id: i for i in _results(work.each(wanted, fetch))}
    out.replication_items = [done.get(i.id, i) for i in out.replication_items]


class _VaultLists:
    """The lists of every vault: first each vault's protected items and replication items (they
    select the instance views and restore-point counts), then, per vault, its GET, policies, jobs
    (and the job GETs their streaks need), replication jobs and the Site Recovery lists its items
    call for. A vault's lists follow each other (one breaker scope: after a persistent failure the
    vault's other lists are tried once); the vaults are read at once, up to `list_workers`."""

    def __init__(self, vaults: Any, rec: Recorder, work: _Work,
                 options: CollectOptions, now: datetime, listed: list[m.Vault], backup: Any, asr: Any) -> None:
        self.vaults, self.rec, self.work, self.options, self.now = vaults, rec, work, options, now
        self.backup, self.asr = backup, asr
        self.window_start = now - timedelta(days=options.job_window_days)
        for c in (*VAULT_COLLECTORS, *ASR_VAULT_LISTS):
            rec.ok(c)
        self.listed = listed
        self._rest: dict[str, Future[dict[str, list[Any]]]] = {}
        self._lock = threading.Lock()
        # Submitted before any other vault list: the pool serves them first.
        self._selection = [work.lists.submit(self._select, v) for v in self.listed]

    def selection(self) -> tuple[list[m.ProtectedItem], list[m.ReplicationItem]]:
        """Every vault's protected items and replication items, once all are in."""
        got = _results(self._selection)
        return [p for pi, _ in got for p in pi], [r for _, ri in got for r in ri]

    def finish(self, out: _Parts) -> None:
        """Everything of every vault, into `out`, in the order of the vault list."""
        selected = _results(self._selection)
        with self._lock:
            rest = [self._rest[v.id] for v in self.listed]
        for (protected, replicated), f in zip(selected, rest):
            got = f.result()
            got["protected_items"], got["replication_items"] = protected, replicated
            for key in ("vaults", "protected_items", "backup_policies", "backup_jobs", "replication_items",
                        "replication_jobs", "recovery_plans", "replication_fabrics", "container_mappings"):
                getattr(out, key).extend(got.get(key, ()))

    def _select(self, v: m.Vault) -> tuple[list[m.ProtectedItem], list[m.ReplicationItem]]:
        rec, name, rg = self.rec, ids.name_of(v.display_id), v.resource_group
        protected = read_list(
            rec, m.PROTECTED_ITEMS,
            lambda: self.backup.backup_protected_items.list(name, rg, filter=f"{AZURE_IAAS_VM} and itemType eq 'VM'"),
            rsv.map_protected_item, scope=v.id)
        replicated = read_list(rec, m.REPLICATION_ITEMS, lambda: self.asr.replication_protected_items.list(rg, name),
                               rsv.map_replication_item, scope=v.id)
        with self._lock:  # queued behind every vault's selection lists (submitted before any of these)
            self._rest[v.id] = self.work.lists.submit(self._rest_of, v, replicated)
        return protected, replicated

    def _rest_of(self, v: m.Vault, replicated: list[m.ReplicationItem]) -> dict[str, list[Any]]:
        rec, backup, asr, now = self.rec, self.backup, self.asr, self.now
        name, rg = ids.name_of(v.display_id), v.resource_group
        got: dict[str, list[Any]] = {"vaults": [_vault_settings(self.vaults, rec, v)]}
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
                f"{AZURE_IAAS_VM} and startTime eq '{job_filter_time(self.window_start)}' "
                f"and endTime eq '{job_filter_time(now)}'")),
            rsv.map_backup_job, scope=v.id)
        # The job GETs start now, beside the next list.
        f_details = self.work.each(_streak_without_details(recent, self.options.job_details_per_item),
                                   lambda j: _job_details(backup, rec, v, j))
        # Cancelling jobs, like InProgress ones, are read whatever their age: one stuck for weeks is
        # exactly what BCDR704 looks for, and it started long before the window (rule-catalog-v2 A).
        cancelling = read_list(
            rec, m.BACKUP_JOBS,
            lambda: backup.backup_jobs.list(name, rg, filter=f"status eq 'Cancelling' and {AZURE_IAAS_VM}"),
            rsv.map_backup_job, scope=v.id)
        detailed = {j.id_parts: j for j in _results(f_details)}  # a job derives its id: matched by its parts
        got["backup_jobs"] = [detailed.get(j.id_parts, j) for j in in_progress + cancelling + recent] if detailed \
            else in_progress + cancelling + recent
        got["replication_jobs"] = read_list(
            rec, m.REPLICATION_JOBS, lambda: asr.replication_jobs.list(rg, name),
            rsv.map_replication_job, scope=v.id)
        cov = rec.get(m.REPLICATION_ITEMS)
        items_read = cov is not None and cov.status != m.FAILED and v.id not in cov.failed_scopes
        wanted = asrc.vault_needs(replicated, items_read)
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
