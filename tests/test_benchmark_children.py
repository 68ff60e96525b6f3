"""A benchmark whose child process dies ends with one line and a non-zero exit instead of waiting
forever on the dead child's pipe (benchmarks/children.py). Real children, really killed: the Resource
Graph, scan and memory benchmarks' simulator processes (benchmarks/arg.py, run.py and heap.py, the
whole command), and a phase child."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from benchmarks import children

ROOT = Path(__file__).resolve().parents[1]


def _killed(conn) -> None:
    """A child that dies before sending anything (as the OOM killer or a kill -9 would end it)."""
    os.kill(os.getpid(), signal.SIGKILL)


def _spawned_children(pid: int) -> list[int]:
    """The multiprocessing children of `pid` (not its resource tracker)."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    out = []
    for kid in kids:
        try:
            cmdline = Path(f"/proc/{kid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"multiprocessing.spawn" in cmdline:
            out.append(int(kid))
    return out


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the child through /proc (Linux)")
@pytest.mark.parametrize("script,args,where", [
    ("arg.py", ["--case", "3x10"], "case 3x10: "),
    ("run.py", ["--case", "1k", "--no-naive", "--no-save"], "case 1k: "),
    ("heap.py", ["--vms", "50"], ""),
], ids=["arg.py", "run.py", "heap.py"])
def test_a_benchmark_whose_simulator_is_killed_exits_with_one_line(script, args, where):
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (sim := _spawned_children(proc.pid)) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
        assert sim, "the benchmark started no simulator process"
        os.kill(sim[0], signal.SIGKILL)  # before it has sent its endpoint: the parent is waiting for it
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 2
    assert err.strip().splitlines() == [f"benchmarks/{script}: {where}the simulator process ended (exit code -9) "
                                        "before sending its result"]


def test_a_phase_child_killed_before_sending_is_child_died_not_a_wait():
    ctx = mp.get_context("spawn")
    raised: list[BaseException] = []

    def call() -> None:
        try:
            children.run(ctx, _killed, name="scan")
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            raised.append(exc)
    waiter = threading.Thread(target=call, daemon=True)  # without the fix it would wait forever
    waiter.start()
    waiter.join(timeout=60)
    assert not waiter.is_alive(), "still waiting on the dead child's pipe"
    assert len(raised) == 1 and isinstance(raised[0], children.ChildDied)
    assert str(raised[0]) == "the scan process ended (exit code -9) before sending its result"
