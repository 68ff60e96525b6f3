"""benchmarks/icount.py (instruction counts of a benchmark scan under valgrind) on a machine without
valgrind: one line and exit 2, before any simulator starts. The counting itself runs a scan ~40x
slower than normal and is not part of the suite."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_without_valgrind_one_line_and_exit_2(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    env = {**os.environ, "PATH": str(bindir)}  # no valgrind on it
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "icount.py"), "--case", "1k"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "valgrind is not installed" in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
