"""Small shared helpers for rule bodies (no I/O, no clock)."""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

from scanner import inventory as m
from scanner.timeutil import parse

T = TypeVar("T")


def per_inventory(fn: Callable[..., T]) -> Callable[..., T]:
    """Memoise `fn(inv, **options)` for the inventory it last saw: several rules judge the same
    derived set (the protected VMs, their instance views) and would otherwise each rebuild it. The
    result is shared between those rules, so it must be immutable (tuples), or a cache the rules
    fill for that inventory (see `remembered`). One slot per thread; an engine view
    (scanner.engine.view) is a new inventory and gets its own, like readiness's index. The engine
    empties the slots (`forget`) when its evaluation of the inventory ends."""
    local = threading.local()
    _SLOTS.append(local)

    @functools.wraps(fn)
    def memoised(inv: m.Inventory, **options: Any) -> T:
        slot: tuple[m.Inventory, dict[tuple[tuple[str, Any], ...], T]] | None = getattr(local, "slot", None)
        if slot is None or slot[0] is not inv:
            slot = local.slot = (inv, {})
        key = tuple(sorted(options.items())) if options else ()
        if key not in slot[1]:
            slot[1][key] = fn(inv, **options)
        return slot[1][key]
    return memoised


_SLOTS: list[threading.local] = []  # every per_inventory memo's slots


def forget() -> None:
    """Empty this thread's per_inventory slots: what the rules derived from the inventory just
    evaluated (or from one of the engine's views of it), and the inventory itself, are no longer kept
    alive by the memos once its evaluation is over."""
    for local in _SLOTS:
        local.slot = None


def remembered(memo: dict[Any, Any], owner: Any, compute: Callable[[], T], key: Any = None) -> T:
    """compute(), once per (owner object, key) in `memo`: what rules derive per VM, item or NSG rule
    and read again (a VM's disks, an item's finished jobs, an NSG rule's match). Keyed by identity;
    the owner is kept with the value, so its id() cannot be reused while the memo lives."""
    hit = memo.get((id(owner), key))
    if hit is None or hit[0] is not owner:
        hit = memo[(id(owner), key)] = (owner, compute())
    return hit[1]


def collected_at(inv: m.Inventory):
    when = parse(inv.collected_at)
    if when is None:
        raise ValueError("inventory has no valid collected_at")
    return when


def backed_up_vm_ids(inv: m.Inventory) -> list[str]:
    """Normalised ids of backed-up VMs (protected item in Protected / IRPending / ProtectionError)."""
    return sorted({p.source_resource_id for p in inv.protected_items if p.is_backed_up and p.source_resource_id})


def policy_is_v2(inv: m.Inventory, item: m.ProtectedItem) -> bool | None:
    """Enhanced (V2) policy? None when neither the policy nor the item says."""
    policy = inv.policy_by_id.get(item.policy_id)
    if policy is not None:
        return policy.is_v2
    if item.policy_type:
        return item.policy_type.upper() == "V2"
    return None


def vm_existence_gap(inv: m.Inventory, vm_id: str) -> str | None:
    """Why absence of `vm_id` from the VM list does not prove the VM is gone: its subscription was
    not scanned, or that subscription's VM list failed. None when absence means the VM no longer
    exists."""
    from scanner import ids

    sub = ids.subscription_of(vm_id)
    if not sub or sub not in {s.lower() for s in inv.subscriptions}:
        return f"the VM's subscription {sub or '(unknown)'} was not scanned"
    return inv.gap(m.VMS, sub)


# lastBackupTime (and lastRecoveryPoint) read 2001-01-01T00:00:00Z until the first backup completes
# (real recordings, ../shared/real-responses): a "never" sentinel, not a date.
NEVER_SENTINEL = "2001-01-01"
SUCCEEDED_BACKUP = frozenset({"completed", "completedwithwarnings", "healthy"})


def no_time(value: str | None) -> bool:
    """True for an absent time or the 2001-01-01 'never' sentinel."""
    return not value or value.strip().startswith(NEVER_SENTINEL)


def first_backup_pending(item: m.ProtectedItem) -> bool:
    """The item reports no completed backup at all: no recovery point, and no successful last
    backup time (seeds/004 backup health; rule-catalog-v2 A, BCDR705)."""
    return no_time(item.last_recovery_point_time) and (
        no_time(item.last_backup_time) or item.last_backup_status.lower() not in SUCCEEDED_BACKUP)
