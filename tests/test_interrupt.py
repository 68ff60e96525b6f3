"""Ctrl-C: the real CLI in a child process scans the simulator while a response stalls and a 429
asks to wait; SIGINT must end the scan within 2 s, still write the report of what was read (the
rest as coverage with the code Interrupted), and exit 3."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from simfaults import Fault, FaultySimulator

from scanner.cli import EXIT_INCOMPLETE
from scanner.report import validate_report
from scanner.simulator import load_scenario

SCENARIO = load_scenario("demo")
SUB = SCENARIO["subscriptions"][0].lower()
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIiwieCI6ImludGVycnVwdCJ9.c2ln"


def _slowdown() -> float:
    """How many times longer than its CPU time a busy loop takes on this machine right now: 1 when a
    core is free, about 5 when ten busy processes share two cores. A bound of "Ctrl-C acts within 2 s"
    holds for a process that gets the CPU; a starved one gets the same bound stretched by this."""
    t0, c0 = time.perf_counter(), time.thread_time()
    while time.thread_time() - c0 < 0.05:
        pass
    return max(1.0, (time.perf_counter() - t0) / (time.thread_time() - c0))


def _within(seconds: float, cap: float, slowdown: float) -> float:
    """`seconds` stretched by the machine's slowdown, but never to `cap`: the fault under test lasts
    longer than that, so a scan that waited for it still fails."""
    return min(cap, seconds * slowdown)


def _wait_for(predicate, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# A response in flight (every VM instance view stalls for 30 s), and a throttling wait (the backup
# jobs lists answer 429 with Retry-After 30).
CASES = {
    "stalled-response": lambda: Fault.stall(r"/instanceView$", seconds=30),
    "throttle-wait": lambda: Fault.throttle(r"/backupJobs$", retry_after=30),
}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("case", sorted(CASES))
def test_ctrl_c_stops_within_2_s_writes_what_was_read_and_exits_3(case, tmp_path):
    report_path = tmp_path / "report.json"
    fault = CASES[case]()
    with FaultySimulator(SCENARIO, [fault], max_stall=30) as sim:
        env = {**os.environ, "AZURE_ACCESS_TOKEN": TOKEN, "REQUESTS_CA_BUNDLE": sim.ca_path}
        env.pop("AZ_BCDR_DEBUG", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "scanner.cli",
             "--subscription", SUB, "--arm-endpoint", sim.endpoint, "--format", "json", "--output", str(report_path),
             "--max-retry-after", "30", "--read-timeout", "60", "--timeout", "600", "--fail-on", "none"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # The fault is in effect: a response is stalling, or a 429's wait is running.
            assert _wait_for(lambda: fault.hits >= 1, 60), fault.hits
            time.sleep(0.3)
            assert proc.poll() is None, "the scan ended before the interrupt"
            slowdown = _slowdown()
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
            took = time.monotonic() - sent
            slowdown = max(slowdown, _slowdown())
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == EXIT_INCOMPLETE, err
    # 2 s on a machine with a free core; the fault lasts 30 s, so waiting for it fails at any load.
    assert took < _within(2.0, 20.0, slowdown), f"Ctrl-C took {took:.2f} s to act (machine slowdown {slowdown:.1f}x)"
    assert "interrupted" in err and "Traceback" not in err
    report = json.loads(report_path.read_text(encoding="utf-8"))
    validate_report(report)
    codes = {c["error_code"] for c in report["coverage"] if c["status"] != "ok"}
    assert "Interrupted" in codes
    # What was read before the interrupt is there: the VMs were listed, so the readiness view has them.
    assert report["summary"]["resources_by_type"]["virtual_machines"] == len(SCENARIO["virtualMachines"])
    assert report["readiness"]["vms"]
    print(f"{case}: Ctrl-C to exit {took:.3f} s")



def _ctrl_c_at(monkeypatch, hook: str, before=lambda *args: None) -> tuple[float, int, float]:
    """One instance-view GET (the simulator stalls it 8 s) with Ctrl-C injected where the watchdog's
    `hook` is called, as on_sigint does it (interrupt.set(), then WATCHDOG.fire_all()); the seconds
    the GET took to end Interrupted, how many times the stall was hit, and the bound those seconds
    must stay under: 2 s stretched by the machine's slowdown, never to the 8 s stall."""
    from scanner import arm
    from scanner.arm import ArmSettings, ClientFactory, Interrupted, StaticTokenCredential

    fault = Fault.stall(r"/instanceView$", seconds=8)
    with FaultySimulator(SCENARIO, [fault], max_stall=8) as sim:
        interrupt = threading.Event()
        factory = ClientFactory(StaticTokenCredential(TOKEN),
                                ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=600), interrupt=interrupt)
        compute = factory.compute(SUB)
        vm = SCENARIO["virtualMachines"][0]["id"].split("/")
        real = getattr(arm.WATCHDOG, hook)

        def ctrl_c_then_hook(*args):
            before(*args)
            interrupt.set()
            arm.WATCHDOG.fire_all()
            return real(*args)

        monkeypatch.setattr(arm.WATCHDOG, hook, ctrl_c_then_hook)
        slowdown = _slowdown()
        sent = time.monotonic()
        with pytest.raises(Interrupted):
            compute.virtual_machines.instance_view(vm[4], vm[8])
        took = time.monotonic() - sent
        return took, fault.hits, _within(2.0, 6.0, max(slowdown, _slowdown()))


def test_ctrl_c_between_the_deadline_check_and_the_watch_does_not_let_the_request_stall(monkeypatch):
    """The race a loaded machine hits: the interrupt lands after a request passed its deadline check
    but before its watch was registered, so fire_all could not cut it. That request must not be sent."""
    took, hits, bound = _ctrl_c_at(monkeypatch, "start")
    assert took < bound, f"the request stalled {took:.2f} s after Ctrl-C"
    assert hits == 0


def test_ctrl_c_while_the_request_connects_still_cuts_it(monkeypatch):
    """The other half of that race: the interrupt lands as the request's new connection is handed to
    the watchdog, before it has a socket to shut down. The socket is shut down once it exists."""
    def not_connected_yet(conn):
        assert getattr(conn, "sock", None) is None  # a new connection: not connected yet

    took, _, bound = _ctrl_c_at(monkeypatch, "bind", not_connected_yet)
    assert took < bound, f"the request stalled {took:.2f} s after Ctrl-C"
