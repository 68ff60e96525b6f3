"""The per-resource GETs of a subscription run as batches (scanner.collect._Work.each): at most
`workers` tasks on the GET pool for a whole batch, each taking the next item, rather than one task
per item. At 10,000 VMs one Future (with its Condition and work item) per instance view, restore
point count and job GET held ~17 MiB of the collect peak until the end of collect."""
from __future__ import annotations

import gc
import threading
from concurrent.futures import CancelledError, Future

import pytest

from benchmarks.synthetic import SUB, synthetic
from scanner import collect as collect_module
from scanner import inventory as m
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
from scanner.collect import CollectOptions, _Work, collect
from scanner.simulator import Simulator


def _futures_alive() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, Future))


def test_a_batch_holds_a_few_tasks_not_one_per_item():
    work = _Work(CollectOptions(workers=4, list_workers=2))
    seen: list[int] = []
    before = _futures_alive()

    def fn(i: int) -> int:
        if i == 500:
            seen.append(_futures_alive() - before)
        return i * 2
    try:
        batch = work.each(list(range(1000)), fn)
        assert batch.results() == [i * 2 for i in range(1000)]  # every item, in the items' order
    finally:
        work.close()
    assert seen and seen[0] <= 4


def test_every_item_runs_and_the_first_items_exception_is_raised():
    work = _Work(CollectOptions(workers=3, list_workers=1))
    ran: list[int] = []
    lock = threading.Lock()

    def fn(i: int) -> int:
        with lock:
            ran.append(i)
        if i in (7, 3):
            raise KeyError(i)
        return i
    try:
        batch = work.each(list(range(20)), fn)
        with pytest.raises(KeyError) as raised:
            batch.results()
    finally:
        work.close()
    assert raised.value.args == (3,)
    assert sorted(ran) == list(range(20))


def test_a_cancelled_batch_takes_no_further_item():
    work = _Work(CollectOptions(workers=2, list_workers=1))
    started = threading.Event()
    release = threading.Event()
    ran: list[int] = []

    def fn(i: int) -> int:
        ran.append(i)
        started.set()
        release.wait(5)
        return i
    batch = work.each(list(range(50)), fn)
    assert started.wait(5)
    closing = threading.Thread(target=work.close, kwargs={"cancel": True})
    closing.start()
    release.set()
    closing.join(5)
    assert len(ran) <= 4  # the two running tasks finished their item (and at most one more each)
    with pytest.raises(CancelledError):
        batch.results()


def test_one_request_at_a_time_runs_each_item_as_it_is_submitted():
    work = _Work(CollectOptions(workers=1, list_workers=1))
    order: list[str] = []
    batch = work.each(["a", "b"], lambda x: order.append(x) or x)
    order.append("submitted")
    assert order == ["a", "b", "submitted"]  # cassette order: unchanged
    assert batch.results() == ["a", "b"]
    work.close()


def test_a_collection_holds_no_future_per_get():
    """Real SDK clients against the simulator, 300 VMs (180 instance views), 16 workers: while the
    views run, the futures alive are the lists' and at most 16 per batch (~50), not one per view
    and restore point count, submitted at once (~400)."""
    seen: list[int] = []
    calls: list[str] = []
    lock = threading.Lock()
    original = collect_module._instance_view
    gc.collect()
    before = _futures_alive()

    def view(compute, rec, vid, display_id):
        result = original(compute, rec, vid, display_id)
        with lock:
            calls.append(vid)
            if len(calls) % 40 == 20:
                gc.collect()
                gc.unfreeze()  # collect freezes what full collections find alive (scanner.malloc): get_objects skips it
                seen.append(_futures_alive() - before)
        return result
    with Simulator(synthetic(300)) as sim:
        factory = ClientFactory(StaticTokenCredential("batch-test-token"),
                                ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=120))
        collect_module_view, collect_module._instance_view = collect_module._instance_view, view
        try:
            inv = collect(factory, [SUB], CollectOptions(workers=16))
        finally:
            collect_module._instance_view = collect_module_view
    views = next(c for c in inv.coverage if c.collector == m.INSTANCE_VIEWS)
    assert views.status == m.OK and views.items == len(calls) == 180 and len(seen) == 5
    assert max(seen) < 90, max(seen)
