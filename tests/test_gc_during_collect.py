"""The cyclic garbage collector while collect builds the Inventory (scanner.malloc.survivors_frozen):
a full collection's survivors are frozen, so no later full collection walks the Inventory again,
while young collections keep freeing the cycles a request leaves; everything is unfrozen after."""
from __future__ import annotations

import gc
import weakref

import test_collectors as tc
from test_collectors import no_network

from scanner import collect as collect_module
from scanner.malloc import survivors_frozen

no_network = no_network  # the fixture (playback opens no socket), used here by name


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def _tracked(obj: object) -> bool:
    """`obj` is among the objects the collector walks (a frozen one is not)."""
    return any(o is obj for o in gc.get_objects())


def test_a_full_collection_freezes_what_it_found_alive_until_the_block_ends():
    callbacks = list(gc.callbacks)
    with survivors_frozen():
        kept = _Node()
        assert _tracked(kept)
        gc.collect()  # a full collection: `kept` survives it
        assert gc.get_freeze_count() > 0
        assert not _tracked(kept)  # later full collections skip it
        assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert _tracked(kept)
    assert gc.callbacks == callbacks


def test_what_was_alive_at_the_start_is_frozen_too():
    before = _Node()
    with survivors_frozen():
        assert not _tracked(before)
    assert _tracked(before)


def test_young_collections_still_free_the_cycles_requests_leave():
    with survivors_frozen():
        gc.collect()
        dead = _cycle()  # created after the freeze, garbage at once (an exception and its traceback)
        assert dead() is not None
        gc.collect(0)  # a young collection, as the allocations of the next requests trigger
        assert dead() is None


def test_a_cycle_frozen_alive_is_freed_once_the_block_ends():
    with survivors_frozen():
        a = _Node()
        a.other = _Node()
        a.other.other = a
        gc.collect()  # a survives: frozen
        ref = weakref.ref(a)
        del a  # now garbage, but frozen
        gc.collect()
        assert ref() is not None
    gc.collect()
    assert ref() is None


def test_another_freeze_and_a_disabled_collector_are_left_alone():
    gc.freeze()  # a pre-fork server froze its heap
    try:
        with survivors_frozen():
            fresh = _Node()
            gc.collect()
            assert _tracked(fresh)  # nothing more frozen
        assert gc.get_freeze_count() > 0  # and the server's freeze is still there
    finally:
        gc.unfreeze()
    gc.disable()
    try:
        with survivors_frozen():
            fresh = _Node()
            gc.collect()
            assert _tracked(fresh) and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_collect_freezes_the_survivors_and_unfreezes_at_the_end(monkeypatch, no_network):
    seen: list[int] = []
    original = collect_module._count_restore_points

    def count(compute, rec, rpc):
        gc.collect()
        seen.append(gc.get_freeze_count())
        return original(compute, rec, rpc)
    monkeypatch.setattr(collect_module, "_count_restore_points", count)
    callbacks = list(gc.callbacks)
    inv = tc.replay("collect_full")
    assert seen and all(n > 0 for n in seen)  # the VMs, lists and SDK modules read so far: frozen
    assert gc.get_freeze_count() == 0 and gc.callbacks == callbacks
    assert all(_tracked(vm) for vm in inv.virtual_machines[:3])


def test_gc_paused_blocks_in_several_threads_resume_the_collector_when_the_last_ends():
    import threading

    from scanner.malloc import gc_paused
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            entered.set()
            release.wait(10)
    t = threading.Thread(target=other)
    with gc_paused():
        t.start()
        assert entered.wait(10)
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's block still runs (an SDK still importing)
    release.set()
    t.join(10)
    assert gc.isenabled()


def test_gc_paused_leaves_a_collector_that_was_off_off():
    from scanner.malloc import gc_paused
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_import_inside_collect_is_frozen_at_once():
    from scanner.malloc import importing
    with survivors_frozen():
        with importing():
            assert not gc.isenabled()
            module_level = _Node()  # what an import creates: classes, functions, for the process's life
        assert gc.isenabled()
        assert not _tracked(module_level)  # no young collection walks it
    assert _tracked(module_level)
    with importing():  # outside collect: paused only
        elsewhere = _Node()
    assert _tracked(elsewhere)
