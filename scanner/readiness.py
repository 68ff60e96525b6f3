"""Per-VM readiness: for every VM, will its next backup, restore and failover work?

Two things live here, in one place:
- `affected_vms(inv, resource_type, resource_id)`: the VMs a finding concerns, derived from its
  resource (a job names its VM through the container, an item through its source, a lock through
  its scope, a plan through its items...). The engine calls it for every result whose rule did not
  name the VMs itself.
- `readiness(inv, findings)`: three verdicts per VM, each the worst of the findings that concern
  the VM and feed that verdict (the declared table `FEEDS`), with the finding's severity mapped by
  `SEVERITY_LEVEL` unless the table pins a level.

Verdicts, best to worst: not_applicable (the VM is not backed up / has no backup data / is not
replicated), ready, not_assessed (a rule that feeds the verdict could not judge the VM, or whether the
operation applies is unknown because the items could not be read), at_risk, will_fail. A FAIL
decides over a NOT_ASSESSED: a known risk is reported even when another rule could not look.

A finding counts only where its operation applies to the VM (an agent that is not ready does not
make the failover of a VM that is not replicated fail), except for the rules in
`DECIDES_APPLICABILITY`, whose finding is precisely that the protection is missing or stopped.
"""
from __future__ import annotations

from operator import attrgetter
from typing import Any, Iterable, Mapping

from . import ids
from . import inventory as m
from .quickinit import frozen_dataclass

BACKUP, RESTORE, FAILOVER = "backup", "restore", "failover"
OPERATIONS = (BACKUP, RESTORE, FAILOVER)

NOT_APPLICABLE, READY, NOT_ASSESSED, AT_RISK, WILL_FAIL = (
    "not_applicable", "ready", "not_assessed", "at_risk", "will_fail")
VERDICTS = (NOT_APPLICABLE, READY, NOT_ASSESSED, AT_RISK, WILL_FAIL)  # best to worst
_RANK = {v: i for i, v in enumerate(VERDICTS)}

# What a FAIL of each severity means for the operation it concerns. Info findings are advice
# (deallocated VM, ADE retirement notice): the operation still works.
SEVERITY_LEVEL = {"critical": WILL_FAIL, "high": WILL_FAIL, "medium": AT_RISK, "low": AT_RISK, "info": READY}

# Rule -> the operations its findings feed. Vault posture rules (soft delete, immutability, alerts,
# MUA, capacity) feed none: they weaken recovery from an attack or a mistake, not the next backup,
# restore or failover of a VM. Every registered rule must appear here (tests/test_readiness.py).
FEEDS: dict[str, tuple[str, ...]] = {
    "BCDR001": (), "BCDR002": (), "BCDR003": (), "BCDR004": (), "BCDR005": (), "BCDR006": (),
    "BCDR007": (BACKUP, RESTORE),  # no new AzureBackupRG_*; restore to a new resource group fails
    "BCDR101": (BACKUP,), "BCDR102": (BACKUP,), "BCDR103": (BACKUP,),
    "BCDR201": (BACKUP, FAILOVER), "BCDR202": (BACKUP, FAILOVER), "BCDR203": (BACKUP, FAILOVER),
    "BCDR204": (BACKUP, FAILOVER),
    "BCDR301": (BACKUP,), "BCDR302": (BACKUP,), "BCDR303": (FAILOVER,), "BCDR304": (BACKUP, FAILOVER),
    "BCDR401": (BACKUP,), "BCDR402": (BACKUP,), "BCDR403": (BACKUP,),
    "BCDR501": (BACKUP,), "BCDR502": (BACKUP,), "BCDR503": (BACKUP,), "BCDR504": (),
    "BCDR601": (BACKUP,), "BCDR602": (BACKUP,), "BCDR603": (BACKUP,), "BCDR604": (BACKUP,),
    "BCDR605": (BACKUP,), "BCDR606": (BACKUP, FAILOVER), "BCDR607": (BACKUP,),
    "BCDR608": (BACKUP,),
    "BCDR701": (BACKUP,), "BCDR702": (BACKUP,), "BCDR703": (BACKUP,), "BCDR704": (BACKUP,),
    "BCDR705": (BACKUP, RESTORE),  # the newest restore point is old: a restore loses that much data
    "BCDR801": (BACKUP, RESTORE), "BCDR802": (), "BCDR803": (BACKUP,), "BCDR804": (BACKUP,),
    "BCDR805": (BACKUP, RESTORE),  # no backups run; its recovery points are purged when soft delete ends
    "BCDR901": (FAILOVER,), "BCDR902": (FAILOVER,), "BCDR903": (FAILOVER,), "BCDR904": (FAILOVER,),
    "BCDR905": (FAILOVER,), "BCDR906": (FAILOVER,), "BCDR907": (FAILOVER,), "BCDR908": (FAILOVER,),
    "BCDR909": (FAILOVER,), "BCDR910": (FAILOVER,), "BCDR911": (FAILOVER,), "BCDR912": (FAILOVER,),
    "BCDR913": (FAILOVER,), "BCDR914": (FAILOVER,), "BCDR915": (FAILOVER,),
}

# Where the table pins a level instead of the severity: a VM without any backup has nothing to
# restore from, whatever severity the coverage rule carries.
PINNED: dict[tuple[str, str], str] = {
    ("BCDR801", RESTORE): WILL_FAIL,
    ("BCDR705", RESTORE): AT_RISK,  # a restore works, from an old point: data loss, not a failed restore
    # A lock on the restore point group or collection stops the cleanup: backups fail once the
    # collection is full (BCDR501 says when), not necessarily the next one.
    ("BCDR401", BACKUP): AT_RISK,
    ("BCDR402", BACKUP): AT_RISK,
}

# Rules whose finding is that the protection itself is missing, stopped or deleted: they count for a
# VM even where the operation does not apply (that is their point).
DECIDES_APPLICABILITY = frozenset({"BCDR801", "BCDR803", "BCDR805"})


@frozen_dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str
    rules: tuple[str, ...] = ()  # the rule codes whose findings decided it (at the deciding level)


@frozen_dataclass(frozen=True, slots=True)
class VmReadiness:
    vm_id: str  # as Azure returned it
    name: str
    subscription_id: str
    resource_group: str
    backup: Verdict
    restore: Verdict
    failover: Verdict


_PLAIN = {v: Verdict(v) for v in VERDICTS}  # a verdict no finding decided (Verdicts are frozen: shared)


def level_of(rule_id: str, operation: str, status: str, severity: str) -> str:
    """What one finding means for one operation it feeds."""
    if status != "FAIL":
        return NOT_ASSESSED
    return PINNED.get((rule_id, operation)) or SEVERITY_LEVEL.get(severity, AT_RISK)


def readiness(inv: m.Inventory, findings: Iterable[Any]) -> tuple[VmReadiness, ...]:
    """Three verdicts for every VM of the inventory. `findings` are engine Findings (anything with
    rule_id, status, severity and affected_vms)."""
    # VM -> operation -> level -> the rule codes at that level (the VM first: one lookup per VM)
    levels: dict[str, dict[str, dict[str, set[str]]]] = {}
    overriding: dict[str, dict[str, dict[str, set[str]]]] = {}
    for f in findings:
        for op in FEEDS.get(f.rule_id, ()):
            level = level_of(f.rule_id, op, f.status, f.severity)
            target = overriding if f.rule_id in DECIDES_APPLICABILITY else levels
            for vm in f.affected_vms:
                target.setdefault(vm, {}).setdefault(op, {}).setdefault(level, set()).add(f.rule_id)
    out = []
    blind: dict[str, tuple[bool, bool]] = {}  # subscription -> (backup blind, Site Recovery blind)
    for vm in sorted(inv.virtual_machines, key=_vm_id):
        if vm.subscription_id not in blind:
            blind[vm.subscription_id] = _blind(inv, vm.subscription_id)
        applies = _applicable(inv, vm, *blind[vm.subscription_id])
        decided, judged = overriding.get(vm.id), levels.get(vm.id)
        if decided is None and judged is None:  # no finding concerns the VM (most of them)
            out.append(VmReadiness(vm.display_id, vm.name, vm.subscription_id, vm.resource_group,
                                   _unjudged(applies[BACKUP]), _unjudged(applies[RESTORE]), _unjudged(applies[FAILOVER])))
            continue
        verdicts = {}
        for op in OPERATIONS:
            seen: dict[str, set[str]] = {}
            for source in (decided, judged) if applies[op] is not False else (decided,):
                for level, codes in source.get(op, _NO_LEVELS).items() if source else ():
                    seen.setdefault(level, set()).update(codes)
            worst = max(seen, key=_RANK.__getitem__, default=None)
            if worst is not None and worst != READY:
                verdicts[op] = Verdict(worst, tuple(sorted(seen[worst])))
            else:
                verdicts[op] = _unjudged(applies[op])
        out.append(VmReadiness(vm.display_id, vm.name, vm.subscription_id, vm.resource_group,
                               verdicts[BACKUP], verdicts[RESTORE], verdicts[FAILOVER]))
    return tuple(out)


_vm_id = attrgetter("id")
_NO_LEVELS: dict[str, set[str]] = {}


def _unjudged(applies: bool | None) -> Verdict:
    """The verdict no finding decided: whether the operation applies (None: cannot tell)."""
    return _PLAIN[NOT_ASSESSED if applies is None else READY if applies else NOT_APPLICABLE]


def summary(rows: Iterable[VmReadiness]) -> dict[str, dict[str, int]]:
    """operation -> verdict -> number of VMs (every verdict listed, zeros included)."""
    counts = {op: {v: 0 for v in VERDICTS} for op in OPERATIONS}
    for row in rows:
        for op in OPERATIONS:
            counts[op][getattr(row, op).verdict] += 1
    return counts


def applicable(inv: m.Inventory, vm: m.VirtualMachine) -> dict[str, bool | None]:
    """Whether each operation applies to the VM: backup when a vault backs it up, restore when a vault
    holds its data (a stopped item's retained data can still be restored), failover when Site
    Recovery replicates it. None when no item was found but the items could not all be read."""
    return _applicable(inv, vm, *_blind(inv, vm.subscription_id))


def _blind(inv: m.Inventory, subscription_id: str) -> tuple[bool, bool]:
    """Whether the subscription's backup items, and its replication items, could not all be read."""
    return (bool(inv.gap(m.VAULTS, subscription_id) or inv.gap(m.PROTECTED_ITEMS, subscription_id)),
            bool(inv.gap(m.VAULTS, subscription_id) or inv.gap(m.REPLICATION_ITEMS, subscription_id)))


def _applicable(inv: m.Inventory, vm: m.VirtualMachine, backup_blind: bool, asr_blind: bool) -> dict[str, bool | None]:
    items = inv.protected_items_by_vm.get(vm.id, ())
    backed_up = False
    for p in items:
        if p.is_backed_up:
            backed_up = True
            break
    return {BACKUP: _known(backed_up, backup_blind), RESTORE: _known(bool(items), backup_blind),
            FAILOVER: _known(inv.is_replicated(vm.id), asr_blind)}


def _known(found: bool, blind: bool) -> bool | None:
    return True if found else (None if blind else False)


# --------------------------------------------------------------------------- affected VMs
def affected_vms(inv: m.Inventory, resource_type: str, resource_id: str) -> tuple[str, ...]:
    """Normalised ids of the VMs a result about this resource concerns (see the module docstring)."""
    rid = ids.norm(resource_id)
    found = _index(inv).get(rid)
    if found is not None:
        return tuple(sorted(found))
    if resource_type.lower() == "microsoft.resources/subscriptions":
        return _under(inv, rid)
    cut = rid.find(_VM_MARK)
    if cut >= 0:  # a VM's child (extension, ...): the VM
        vm = rid[: cut + len(_VM_MARK)] + rid[cut + len(_VM_MARK):].split("/")[0]
        return (vm,)
    return ()


_VM_MARK = "/providers/microsoft.compute/virtualmachines/"


class _Index:
    """resource id -> VM ids, for every resource of the inventory, as a lookup (`get`).

    The resources that concern one VM each (the VMs, their disks, restore point collections, backup
    items, backup jobs: at 10,000 VMs about 100,000 of them, jobs half) are not copied into an index:
    `get` looks them up in per-id maps when a finding names one (about one resource in ten), so
    neither their entries nor the time to build them is spent on the resources that pass. Only what
    concerns several VMs or needs a join (vaults, policies, replication, plans, fabrics, container
    mappings, resource groups, locks) is gathered up front, as tuples. Ids shared by several
    resources (two collections naming the same id) are merged as before: such an id goes to the
    gathered part with every VM of every resource that has it."""

    def __init__(self, inv: m.Inventory) -> None:
        index: dict[str, set[str]] = {}
        self._gathered: Mapping[str, Iterable[str]] = index  # complete once built

        def add(rid: str, vms: Iterable[str]) -> None:
            found = index.get(rid)
            if found is None:
                found = index[rid] = set()
            found.update(v for v in vms if v)

        def add1(rid: str, vm: str) -> None:  # add(rid, (vm,)) for the many one-VM resources
            found = index.get(rid)
            if found is None:
                found = index[rid] = set()
            if vm:
                found.add(vm)

        # One map for the four lists: when no id is in two places it holds every resource of them.
        single: dict[str, str] = {vm.id: vm.id for vm in inv.virtual_machines}
        single.update({d.id: d.managed_by for d in inv.disks})
        single.update({r.id: r.source_id for r in inv.restore_point_collections})
        single.update({p.id: p.source_resource_id for p in inv.protected_items})
        # Backup jobs derive their ids (m.BackupJob): keyed by the id's two stored parts, no new string
        # per job. The job itself is kept, and its VM resolved (inv.vm_id_for_job) only when a finding
        # names it: about one job in ten.
        self._inv = inv
        jobs: dict[str, dict[str, m.BackupJob]] = {}
        twice = False
        for bjob in inv.backup_jobs:
            where, rest = bjob.id_parts
            mine = jobs.setdefault(where, {})
            twice = twice or rest in mine
            mine[rest] = bjob
        listed = (len(inv.virtual_machines) + len(inv.disks) + len(inv.restore_point_collections)
                  + len(inv.protected_items))
        if not twice and len(single) == listed:  # no id twice: each resource is its own entry
            self._single, self._jobs = single, jobs
        else:  # an id twice (in one list, or in two): gathered, with the VMs of every resource that has it
            self._single, self._jobs = {}, {}
            del single
            for vm in inv.virtual_machines:
                add1(vm.id, vm.id)
            for d in inv.disks:
                add1(d.id, d.managed_by)
            for rpc in inv.restore_point_collections:
                add1(rpc.id, rpc.source_id)
            for p in inv.protected_items:
                add1(p.id, p.source_resource_id)
            for bjob in inv.backup_jobs:
                add1(bjob.id, inv.vm_id_for_job(bjob))
        for p in inv.protected_items:
            add1(p.vault_id, p.source_resource_id)
            if p.policy_id:
                add1(p.policy_id, p.source_resource_id)
        items_by_name: dict[tuple[str, str], m.ReplicationItem] = {}
        for ri in inv.replication_items:
            vms = (ri.source_vm_id, ri.recovery_vm_id)
            add(ri.id, vms)
            add(ri.vault_id, vms)
            add(ri.container_id, vms)
            items_by_name[(ri.vault_id, ri.name.lower())] = ri
        by_name: dict[tuple[str, str], list[str]] = {}
        for vm in inv.virtual_machines:
            by_name.setdefault((vm.subscription_id.lower(), vm.name.lower()), []).append(vm.id)
        for rjob in inv.replication_jobs:
            target = rjob.target_object_id.lower()
            item = inv.replication_item_by_id.get(ids.norm(target)) or items_by_name.get((rjob.vault_id, target))
            if item is not None:
                add(rjob.id, (item.source_vm_id, item.recovery_vm_id))
            else:  # no item (enable replication failed): the VM of that name, when only one has it
                same = by_name.get((rjob.subscription_id.lower(), rjob.target_object_name.lower()), [])
                add(rjob.id, same if len(same) == 1 else ())
        for plan in inv.recovery_plans:
            for item_id in plan.item_ids:
                member = inv.replication_item_by_id.get(item_id)
                add(plan.id, (member.source_vm_id, member.recovery_vm_id) if member else ())
            add(plan.id, ())
        inmage: dict[str, set[str]] = {}
        for ri in inv.replication_items:
            if ri.instance_type.lower().startswith("inmage"):
                inmage.setdefault(ri.vault_id, set()).update(v for v in (ri.source_vm_id, ri.recovery_vm_id) if v)
        for fabric in inv.replication_fabrics:  # failback infrastructure: every VMware / physical item of the vault
            add(fabric.id, inmage.get(fabric.vault_id, ()))
        for mapping in inv.container_mappings:
            add(mapping.id, self.get(mapping.source_container_id) or ())
        for rg in inv.resource_groups:  # its VMs, and the VMs whose restore points it holds (AzureBackupRG_*)
            add(rg.id, _under(inv, rg.id))
        for rpc in inv.restore_point_collections:
            add1(ids.norm(ids.resource_group_id(rpc.subscription_id, rpc.resource_group)), rpc.source_id)
        if inv.locks:  # the restore point collections a lock's scope holds: the scope or any parent of their id
            collections_under: dict[str, list[str]] = {}
            for r in inv.restore_point_collections:
                for cut in [i for i, c in enumerate(r.id) if c == "/"] + [len(r.id)]:
                    collections_under.setdefault(r.id[:cut], []).append(r.source_id)
            for lock in inv.locks:
                add(lock.id, _under(inv, lock.scope))
                add(lock.id, collections_under.get(lock.scope, ()))
        # Kept as tuples, not sets (a set is about 4x the memory).
        self._gathered = {k: tuple(v) for k, v in index.items()}

    def get(self, rid: str) -> Iterable[str] | None:
        """The VMs of the resource (in no order), or None when it is none of the inventory's."""
        found = self._gathered.get(rid)
        vm = self._single.get(rid)
        job_vm = None
        if self._jobs:  # a job's id may also be another resource's: both count
            where, rest = m.split_last(rid)
            job = self._jobs.get(where, _NONE).get(rest)
            job_vm = None if job is None else self._inv.vm_id_for_job(job)  # '' (unresolved) is not None
        if vm is None and job_vm is None:
            return found
        # The per-id maps of one-VM resources share no id, but a backup job's id may be one of theirs.
        mine = tuple({v: None for v in (vm, job_vm) if v})
        return mine if found is None else set(found).union(mine)


_NONE: Mapping[str, m.BackupJob] = {}


_cache: tuple[m.Inventory, _Index] | None = None


def _index(inv: m.Inventory) -> _Index:
    """The affected-VMs lookup of the inventory, built once per inventory (a one-slot cache: the
    engine evaluates one inventory at a time; two threads evaluating two inventories each get their
    own, at worst built twice)."""
    global _cache
    cached = _cache  # read once: another thread may replace it for another inventory
    if cached is not None and cached[0] is inv:
        return cached[1]
    built = _Index(inv)
    _cache = (inv, built)
    return built


def forget(inv: m.Inventory) -> None:
    """Drop the affected-VMs lookups of `inv` (the engine calls it when its evaluation ends)."""
    global _cache, _rg_cache
    cached, by_rg = _cache, _rg_cache
    if cached is not None and cached[0] is inv:
        _cache = None
    if by_rg is not None and by_rg[0] is inv:
        _rg_cache = None


def _under(inv: m.Inventory, scope: str) -> tuple[str, ...]:
    """VMs whose id is the scope or lies under it (a subscription, a resource group, the VM)."""
    scope = ids.norm(scope)
    sub, rg = ids.subscription_of(scope), ids.resource_group_of(scope).lower()
    by_rg = _vms_by_rg(inv)
    if not rg:
        return tuple(sorted(v for (s, _), vms in by_rg.items() if s == sub for v in vms))
    return tuple(v for v in by_rg.get((sub, rg), ()) if v == scope or v.startswith(scope + "/"))


_rg_cache: tuple[m.Inventory, dict[tuple[str, str], tuple[str, ...]]] | None = None


def _vms_by_rg(inv: m.Inventory) -> dict[tuple[str, str], tuple[str, ...]]:
    global _rg_cache
    cached = _rg_cache
    if cached is not None and cached[0] is inv:
        return cached[1]
    out: dict[tuple[str, str], list[str]] = {}
    for vm in inv.virtual_machines:
        sub, rg = ids.subscription_and_group(vm.id)  # one split of the usual id for both
        key = (sub, rg.lower())
        mine = out.get(key)
        if mine is None:
            out[key] = [vm.id]
        else:
            mine.append(vm.id)
    frozen = {k: tuple(sorted(v)) for k, v in out.items()}
    _rg_cache = (inv, frozen)
    return frozen
