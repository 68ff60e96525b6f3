"""Ctrl-C: the real CLI in a child process scans the simulator while a response stalls and a 429
asks to wait; SIGINT must end the scan within 2 s, still write the report of what was read (the
rest as coverage with the code Interrupted), and exit 3."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from simfaults import Fault, FaultySimulator

from scanner.cli import EXIT_INCOMPLETE
from scanner.report import validate_report
from scanner.simulator import load_scenario

SCENARIO = load_scenario("demo")
SUB = SCENARIO["subscriptions"][0].lower()
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIiwieCI6ImludGVycnVwdCJ9.c2ln"


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
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == EXIT_INCOMPLETE, err
    assert took < 2.0, f"Ctrl-C took {took:.2f} s to act"
    assert "interrupted" in err and "Traceback" not in err
    report = json.loads(report_path.read_text(encoding="utf-8"))
    validate_report(report)
    codes = {c["error_code"] for c in report["coverage"] if c["status"] != "ok"}
    assert "Interrupted" in codes
    # What was read before the interrupt is there: the VMs were listed, so the readiness view has them.
    assert report["summary"]["resources_by_type"]["virtual_machines"] == len(SCENARIO["virtualMachines"])
    assert report["readiness"]["vms"]
    print(f"{case}: Ctrl-C to exit {took:.3f} s")
