"""Many subscriptions: each has its own read bucket at ARM, so the scanner collects all of them at
once (scanner.collect.collect), and one subscription's failure or slowness never stops the others.

Real SDK clients and the real transport against the loopback simulator serving several synthetic
subscriptions (benchmarks/synthetic.py)."""
from __future__ import annotations

import re
import threading
from typing import Any, Callable

from benchmarks.synthetic import subscription_id, tenant
from scanner import inventory as m
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
from scanner.collect import CollectOptions, collect
from scanner.simulator import Simulator
from scanner.simulator.server import _ArmError, _Response

VM_LIST = re.compile(r"^/subscriptions/([^/]+)/providers/Microsoft\.Compute/virtualMachines$", re.I)


class _Rendezvous(Simulator):
    """Holds every subscription's VM list until all `expected` subscriptions have asked for theirs
    (a barrier): a scanner that collects them in rounds never gets there, and its held lists are
    answered 503 once the barrier times out. Requests of `failing` are all answered 403."""

    def __init__(self, scenario: Any, expected: int, failing: str = "", wait: float = 20.0) -> None:
        super().__init__(scenario)
        self.barrier = threading.Barrier(expected)
        self.failing, self.wait = failing.lower(), wait
        self.met: set[str] = set()
        self._lock = threading.Lock()

    def intercept(self, method: str, raw_path: str, path: str, query: str, answer: Callable[[], _Response]) -> _Response:
        if self.failing and path.lower().startswith(f"/subscriptions/{self.failing}"):
            return self._error(_ArmError(403, "AuthorizationFailed", "no read access to this subscription"))
        match = VM_LIST.match(path)
        if match and "statusOnly" not in query:
            with self._lock:
                first = match.group(1).lower() not in self.met
                self.met.add(match.group(1).lower())
            if first:
                try:
                    self.barrier.wait(self.wait)
                except threading.BrokenBarrierError:
                    return self._error(_ArmError(503, "ServiceUnavailable", "held until every subscription asked"))
        return answer()


def _collect(sim: Simulator, subs: list[str], options: CollectOptions) -> m.Inventory:
    factory = ClientFactory(StaticTokenCredential("concurrency-test-token"),
                            ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=120, retry_total=0))
    return collect(factory, subs, options)


def _vm_lists(inv: m.Inventory) -> dict[str, str]:
    return {c.subscription_id: c.status for c in inv.coverage if c.collector == m.VMS}


def test_every_subscription_is_collected_at_once():
    subs = [subscription_id(k) for k in range(6)]
    with _Rendezvous(tenant(len(subs), 10), expected=len(subs)) as sim:
        inv = _collect(sim, subs, CollectOptions())
    # Each VM list was answered only once all six were asked for: six subscriptions in flight together.
    assert _vm_lists(inv) == {s: m.OK for s in subs}
    assert len(inv.virtual_machines) == 60


def test_a_failing_subscription_does_not_stop_the_others():
    subs = [subscription_id(k) for k in range(4)]
    with _Rendezvous(tenant(len(subs), 10), expected=len(subs) - 1, failing=subs[1]) as sim:
        inv = _collect(sim, subs, CollectOptions())
    assert _vm_lists(inv) == {s: (m.FAILED if s == subs[1] else m.OK) for s in subs}
    failed = [c for c in inv.coverage if c.subscription_id == subs[1] and c.collector == m.VMS]
    assert failed[0].error_code == "AuthorizationFailed"
    assert {vm.id.split("/")[2] for vm in inv.virtual_machines} == {s for s in subs if s != subs[1]}
