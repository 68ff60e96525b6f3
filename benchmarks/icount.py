"""Instruction count of one benchmark scan's scanner process (load-independent CPU A/B).

Run from the repository root (needs valgrind; Debian: apt install valgrind):
    python benchmarks/icount.py --case 1k [--out /tmp/x/cg] [--repeat N]

The simulator runs normally (unthrottled: no 429s, no pacing waits); the scanner process
(benchmarks/run.py's own _scan, the same code path as the CPU/req column) runs under
`valgrind --tool=cachegrind --cache-sim=no` with PYTHONHASHSEED=0, ~40x slower. Prints the
scanner's total instructions (I refs: imports + client build + collect + SDK release + rules +
report), its requests, and instructions per request. Two codes' totals compared at the same case
give a CPU A/B that does not move with the machine's load (run-to-run spread is ~0.1-0.5 %;
measure it with --repeat). It does not window collect alone: a change's cost per request is the
difference of two cases' totals (1k, 5k) over the difference of their requests. Write the bytecode
caches first (a run with PYTHONDONTWRITEBYTECODE unset) or every run counts compiling the modules.
Exit 2, with one line, when valgrind is not installed or reports no count.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import multiprocessing.spawn as mpspawn
import re
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import children  # noqa: E402
from benchmarks import run as bench  # noqa: E402
from benchmarks.synthetic import subscription_id  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="1k", choices=list(bench.CASES))
    ap.add_argument("--out", default=None, help="cachegrind out file prefix (default: a temp dir)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("benchmarks/icount.py: valgrind is not installed (Debian: apt install valgrind)", file=sys.stderr)
        return 2
    n_subs, each = bench.CASES[args.case]
    case = bench.Case(args.case, n_subs, each)
    subs = [subscription_id(k) for k in range(n_subs)]
    scale = 1000.0
    tmp = Path(tempfile.mkdtemp(prefix="icount-"))
    prefix = args.out or str(tmp / "cg")
    ctx = mp.get_context("spawn")
    for rep in range(args.repeat):
        mpspawn.set_executable(sys.executable)
        sim, parent = children.spawn(ctx, bench._serve, case, scale, False, name="simulator")
        try:
            info = children.receive(parent, sim)
            out = f"{prefix}.{rep}"
            wrapper = tmp / "vg-python"
            wrapper.write_text("#!/bin/sh\nexec env PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no "
                               f"--cachegrind-out-file={out} --log-file={out}.log {sys.executable} \"$@\"\n")
            wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
            mpspawn.set_executable(str(wrapper))
            t0 = time.perf_counter()
            got = children.run(ctx, bench._scan, info["endpoint"], info["ca"], subs, scale, False, None, 1,
                               name="scan")
            wall = time.perf_counter() - t0
            mpspawn.set_executable(sys.executable)
            children.send(parent, sim, "stop")
            children.receive(parent, sim)
            sim.join()
        finally:
            children.stop(sim)
        log = Path(f"{out}.log").read_text()
        m = re.search(r"I\s+refs:\s+([\d,]+)", log)
        if m is None:
            print(f"benchmarks/icount.py: valgrind reported no instruction count (see {out}.log)", file=sys.stderr)
            return 2
        ir = int(m.group(1).replace(",", ""))
        print(f"case {args.case} rep {rep}: Ir {ir:,}  requests {got['requests']}  Ir/request {ir / got['requests']:,.0f}"
              f"  findings {got['findings']}  gaps {len(got['gaps'])}  (valgrind wall {wall:.0f} s, {out})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
