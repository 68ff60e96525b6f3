"""Live progress on stderr: drawn when stderr is a terminal (a real pseudo-terminal here), with the
subscriptions x collectors, the ARM requests and the throttling waits; never with --quiet and
never when stderr is not a terminal (a CI log)."""
from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest
from simfaults import Fault, FaultySimulator

from scanner.simulator import load_scenario

SCENARIO = load_scenario("demo")
SUB = SCENARIO["subscriptions"][0].lower()
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIiwieCI6InByb2dyZXNzIn0.c2ln"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _run(tmp_path, sim, *extra: str, tty: bool) -> tuple[int, str]:
    env = {**os.environ, "AZURE_ACCESS_TOKEN": TOKEN, "REQUESTS_CA_BUNDLE": sim.ca_path, "COLUMNS": "120"}
    argv = [sys.executable, "-m", "scanner.cli", "--subscription", SUB, "--arm-endpoint", sim.endpoint,
            "--format", "json", "--output", str(tmp_path / "r.json"), "--max-retry-after", "1", "--fail-on", "none", *extra]
    if not tty:
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=120), ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


@pytest.fixture
def sim():
    # Two 429s (Retry-After 1) on the backup jobs lists: the progress shows the throttling wait.
    with FaultySimulator(SCENARIO, [Fault.throttle(r"/backupJobs$", retry_after=1, times=2)]) as s:
        yield s


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_progress_on_a_terminal_shows_collectors_requests_and_throttling(tmp_path, sim):
    code, err = _run(tmp_path, sim, tty=True)
    assert code in (0, 1), err
    assert re.search(rf"{SUB}\s+\[[#-]+\] \d+/\d+ collectors", err), err[-2000:]
    assert re.search(r"\d+ ARM requests", err)
    assert re.search(r"throttled \d+ time\(s\)", err)
    assert (tmp_path / "r.json").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_no_progress_with_quiet_or_when_stderr_is_not_a_terminal(tmp_path, sim):
    code, err = _run(tmp_path, sim, "--quiet", tty=True)
    assert code in (0, 1) and "ARM requests" not in err and "collectors" not in err
    code, err = _run(tmp_path, sim, tty=False)
    assert code in (0, 1) and "ARM requests" not in err and "\x1b" not in err
