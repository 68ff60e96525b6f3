"""Per-resource GETs in flight follow ARM's latency (scanner.arm.ReadPacer.in_flight): as many as
keep up with the read refill, not the --workers cap. Real SDK clients and transport against the
loopback simulator."""
from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable

from benchmarks.synthetic import SUB, synthetic
from scanner import inventory as m
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
from scanner.collect import CollectOptions, collect
from scanner.simulator import Simulator
from scanner.simulator.server import _Response

VIEW = re.compile(r"/instanceView$", re.I)


class _Slow(Simulator):
    """Answers every request after `latency` seconds and counts the instance views in flight at once."""

    def __init__(self, scenario: Any, latency: float) -> None:
        super().__init__(scenario)
        self.latency = latency
        self.now = self.most = 0
        self._lock = threading.Lock()

    def intercept(self, method: str, raw_path: str, path: str, query: str, answer: Callable[[], _Response]) -> _Response:
        view = bool(VIEW.search(path))
        if view:
            with self._lock:
                self.now += 1
                self.most = max(self.most, self.now)
        try:
            time.sleep(self.latency)
            return answer()
        finally:
            if view:
                with self._lock:
                    self.now -= 1


def _scan(latency: float, rate: float) -> tuple[m.Inventory, int]:
    # 100 VMs: about 150 requests, all within the 250-token burst, so the refill rate only sizes
    # the requests in flight and never makes one wait.
    with _Slow(synthetic(100), latency) as sim:
        factory = ClientFactory(StaticTokenCredential("adaptive-test-token"),
                                ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=120,
                                            reads_per_second=rate))
        inv = collect(factory, [SUB], CollectOptions(workers=16))
    return inv, sim.most


def test_in_flight_requests_follow_the_refill_times_the_latency():
    # 2 reads/s: even at half a second of latency (a loaded machine) 2 x 2 x 0.5 + 2 = 4 keep up.
    inv, most = _scan(latency=0.05, rate=2.0)
    views = next(c for c in inv.coverage if c.collector == m.INSTANCE_VIEWS)
    assert views.status == m.OK and views.items == 60  # the running VMs backed up or replicated
    assert 1 <= most <= 4, most
    # 1,000 reads/s at 50 ms needs 50 in flight: the --workers cap (16) binds, and more than 4 go at once.
    inv, most = _scan(latency=0.05, rate=1000.0)
    assert 4 < most <= 16, most
