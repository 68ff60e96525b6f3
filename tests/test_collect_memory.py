"""What a collection keeps while its per-resource GETs run: nothing the merge of the two VM lists
replaced (scanner.collect: a future keeps its result, so the lists' futures are dropped once read).
At 10,000 VMs the status-list bodies and the VMs of the full list are ~20 MiB of the collect peak."""
from __future__ import annotations

import gc

import test_collectors as tc
from test_collectors import no_network

from scanner import collect as collect_module
from scanner import inventory as m


def _alive_after_the_merge(monkeypatch) -> tuple[list[dict], list[m.VirtualMachine]]:
    """At the first restore point count (one request at a time: it runs after the merge), the
    status-list bodies and the VMs without status still reachable."""
    seen: dict[str, list] = {}
    original = collect_module._count_restore_points
    gc.collect()
    before = {id(o) for o in gc.get_objects()}  # other tests' objects: not this collection's

    def count(compute, rec, rpc):
        if not seen:
            gc.collect()
            gc.unfreeze()  # collect freezes what full collections find alive (scanner.malloc): get_objects skips it
            objects = [o for o in gc.get_objects() if id(o) not in before]
            seen["bodies"] = [o for o in objects if isinstance(o, dict) and isinstance(o.get("properties"), dict)
                              and "instanceView" in o["properties"] and "/virtualmachines/" in str(o.get("id", "")).lower()]
            seen["vms"] = [o for o in objects if isinstance(o, m.VirtualMachine) and not o.status_codes]
        return original(compute, rec, rpc)
    monkeypatch.setattr(collect_module, "_count_restore_points", count)
    inv = tc.replay("collect_full")
    assert seen, "no restore point count ran"
    assert all(vm.status_codes for vm in inv.virtual_machines)  # the merge gave every VM its status
    return seen["bodies"], seen["vms"]


no_network = no_network  # the fixture (playback opens no socket), used here by name


def test_no_status_body_or_replaced_vm_outlives_the_merge(monkeypatch, no_network):
    bodies, vms = _alive_after_the_merge(monkeypatch)
    assert bodies == []
    assert vms == []
