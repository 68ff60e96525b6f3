"""--processes: the subscriptions spread over spawned worker processes (scanner.workers).

Real spawned processes, real SDK clients and the real transport against the loopback simulator
serving several synthetic subscriptions (benchmarks/synthetic.py)."""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import threading
import time
from datetime import datetime
from typing import Any, Callable

import pytest

from benchmarks.synthetic import subscription_id, tenant
from scanner import cli
from scanner import inventory as m
from scanner.api import ScanOptions, scan
from scanner.arm import ArmSettings, ReadOnlyViolation, StaticTokenCredential
from scanner.collect import CollectOptions
from scanner.simulator import Simulator
from scanner.simulator.server import _Response
from scanner.workers import WORKER_FAILED, CredentialSpec, WorkerSpec, build_factory, plan_processes, split

TOKEN = "worker-test-token"


def _scan(sim: Simulator, subs: list[str], processes: int | None) -> Any:
    return scan(ScanOptions(subscriptions=tuple(subs), endpoint=sim.endpoint, verify=sim.ca_path, timeout=120,
                            credential=StaticTokenCredential(TOKEN), processes=processes))


def _findings(report: Any) -> list[tuple[str, str, str, str]]:
    return sorted((f.rule_id, f.resource_id, f.status, f.fingerprint) for f in report.findings)


def _coverage(report: Any) -> list[tuple[str, str, str, str]]:
    return sorted((c.subscription_id, c.collector, c.status, c.error_code) for c in report.coverage)


def test_two_processes_report_what_one_process_reports():
    subs = [subscription_id(k) for k in range(4)]
    with Simulator(tenant(len(subs), 12)) as sim:
        one = _scan(sim, subs, 1)
        requests_one = len(sim.ledger.snapshot())
        sim.ledger.clear()
        two = _scan(sim, subs, 2)
        requests_two = len(sim.ledger.snapshot())
        assert not sim.writes()
    assert _findings(two) == _findings(one) and len(one.findings) > 0
    assert _coverage(two) == _coverage(one)
    assert {c.status for c in two.coverage} == {m.OK}
    # Every request the workers made is counted, once.
    assert two.scan.arm_requests == requests_two == requests_one == one.scan.arm_requests


def test_the_progress_display_counts_the_workers_requests():
    from scanner.arm import ClientFactory
    from scanner.collect import collect
    from scanner.progress import render
    subs = [subscription_id(k) for k in range(2)]
    with Simulator(tenant(len(subs), 4)) as sim:
        factory = ClientFactory(StaticTokenCredential(TOKEN), ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path))
        inv = collect(factory, subs, CollectOptions(processes=2))
    assert factory.ledger.count == 0 and inv.arm_requests > 0  # every request was a worker's
    text = render(factory, subs).plain
    assert f"{inv.arm_requests} ARM requests" in text
    assert all(sub in text for sub in subs)


def test_processes_auto_and_the_split():
    assert plan_processes(None, 16, cpus=8) == 1  # within one process's cap
    assert plan_processes(None, 40, cpus=8) == 3
    assert plan_processes(None, 40, cpus=2) == 2
    assert plan_processes(None, 400, cpus=1) == 1
    assert plan_processes(4, 3) == 3  # never more processes than subscriptions
    assert split(list("abcde"), 2) == [["a", "c", "e"], ["b", "d"]]


class _Stall(Simulator):
    """Holds every request of `held` until `release` is set: the worker collecting it is still busy
    when the test kills it."""

    def __init__(self, scenario: Any, held: str) -> None:
        super().__init__(scenario)
        self.held, self.hit, self.release = held.lower(), threading.Event(), threading.Event()

    def intercept(self, method: str, raw_path: str, path: str, query: str, answer: Callable[[], _Response]) -> _Response:
        if re.match(rf"^/subscriptions/{self.held}/.", path, re.I):
            self.hit.set()
            self.release.wait(60)
        return answer()


def test_a_killed_worker_fails_only_its_subscriptions(tmp_path, monkeypatch, capsys):
    subs = [subscription_id(k) for k in range(4)]
    # Round robin over 2 workers: subs 0 and 2 in the first, 1 and 3 in the second (held, then killed).
    assert split(subs, 2)[1] == [subs[1], subs[3]]
    out = tmp_path / "report.json"
    with _Stall(tenant(len(subs), 8), held=subs[1]) as sim:
        monkeypatch.setenv("AZURE_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_path)
        killed: list[int] = []

        def kill_the_held_worker() -> None:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:  # the first worker has sent its result and ended
                alive = [p for p in multiprocessing.active_children() if p.name == "az-bcdr-scan-worker"]
                if sim.hit.is_set() and len(alive) == 1:
                    os.kill(alive[0].pid, signal.SIGKILL)
                    killed.append(alive[0].pid)
                    break
                time.sleep(0.05)
            sim.release.set()
        killer = threading.Thread(target=kill_the_held_worker)
        killer.start()
        args = ["--arm-endpoint", sim.endpoint, "--processes", "2", "--fail-on", "none", "-q",
                "--format", "json", "--output", str(out)]
        for s in subs:
            args += ["--subscription", s]
        code = cli.main(args)
        killer.join()
    assert killed, "the held worker was never the only one left"
    assert code == 3  # coverage incomplete (README: exit codes)
    assert "Traceback" not in capsys.readouterr().err
    doc = json.loads(out.read_text())
    coverage = {(c["subscription_id"], c["collector"]): c for c in doc["coverage"]}
    for s in (subs[1], subs[3]):
        for collector in m.ALL_COLLECTORS:
            c = coverage[(s, collector)]
            assert (c["status"], c["error_code"]) == (m.FAILED, WORKER_FAILED), (s, collector, c)
    for s in (subs[0], subs[2]):
        assert {coverage[(s, collector)]["status"] for collector in m.ALL_COLLECTORS} == {m.OK}
    judged = {f["resource_id"].split("/")[2] for f in doc["findings"] if f["status"] != "NOT_ASSESSED"}
    assert judged == {subs[0], subs[2]}


def test_an_interrupt_reaches_the_workers_and_keeps_what_was_read():
    subs = [subscription_id(k) for k in range(4)]
    interrupt = threading.Event()
    with _Stall(tenant(len(subs), 8), held=subs[1]) as sim:
        def ctrl_c_once_held() -> None:
            if sim.hit.wait(60):
                time.sleep(1.0)  # the other worker's subscriptions are read meanwhile or not: either is kept
                interrupt.set()  # what the CLI's SIGINT handler does
        threading.Thread(target=ctrl_c_once_held, daemon=True).start()
        try:
            report = scan(ScanOptions(subscriptions=tuple(subs), endpoint=sim.endpoint, verify=sim.ca_path,
                                      timeout=120, credential=StaticTokenCredential(TOKEN), processes=2,
                                      interrupt=interrupt))
        finally:
            sim.release.set()
    assert interrupt.is_set()
    assert not [p for p in multiprocessing.active_children() if p.name == "az-bcdr-scan-worker"]
    held = [c for c in report.coverage if c.subscription_id == subs[1]]
    assert {c.collector for c in held} == set(m.ALL_COLLECTORS)
    # The held subscription's reads were cut by the interrupt, as in one process: never WorkerFailed.
    assert "Interrupted" in {c.error_code for c in held}
    assert WORKER_FAILED not in {c.error_code for c in report.coverage}
    # ... by the worker itself (it sent what it read), not by the parent giving up on a silent worker.
    assert not [c for c in report.coverage if "did not send its result" in c.message]


def _write_from_a_worker(spec: WorkerSpec, conn: Any) -> None:
    """In a spawned process: the worker's own factory, and a write through one of its clients."""
    factory = build_factory(spec)
    client = factory.resources(spec.subscriptions[0])
    try:
        client.resource_groups.create_or_update("rg-from-a-worker", {"location": "westeurope"})
        conn.send(("sent", factory.ledger.blocked))
    except ReadOnlyViolation as exc:
        conn.send(("refused", type(exc).__name__, factory.ledger.blocked))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        conn.send(("error", f"{type(exc).__name__}: {exc}", factory.ledger.blocked))


def test_a_write_from_a_worker_process_is_refused():
    sub = subscription_id(0)
    ctx = multiprocessing.get_context("spawn")
    with Simulator(tenant(1, 2)) as sim:
        spec = WorkerSpec(ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=60, retry_total=0),
                          CredentialSpec("static", TOKEN), (sub,), CollectOptions(), datetime(2026, 1, 1),
                          time.time() + 60)
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_write_from_a_worker, args=(spec, child))
        proc.start()
        child.close()
        assert parent.poll(60), "the worker process sent nothing"
        answer = parent.recv()
        proc.join(10)
        assert answer[0] == "refused", answer
        assert [method for method, _ in answer[-1]] == ["PUT"]
        assert not sim.writes()


@pytest.mark.parametrize("value", ["0", "x", "-1", "65"])
def test_processes_must_be_a_positive_number_or_auto(value, capsys):
    assert cli.main(["--demo", "--processes", value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--processes" in err
