#!/usr/bin/env python3
"""Where a scan's memory is: the Inventory per collection, and the peaks of each phase.

    python benchmarks/heap.py                 # 10,000 VMs
    python benchmarks/heap.py --vms 1000 --top 15
    python benchmarks/heap.py --cli           # peak RSS of the az-bcdr-scan command itself

The synthetic subscription (benchmarks/synthetic.py) is served unthrottled by the benchmark's
simulator in its own process; this process collects it with tracemalloc on and prints
- the peak of Python allocations during collect, and its top allocation sites at that peak;
- the Inventory's retained size per collection (objects reached from each collection, each object
  counted once, for the first collection that reaches it), per item;
- the allocation peaks of evaluate + report, of --save-inventory (the CLI's writer) and of loading
  the saved file back (what `az-bcdr-scan evaluate FILE` does).
tracemalloc counts Python allocations only (not the interpreter, SDK code or C libraries that
ru_maxrss includes): benchmarks/run.py's RSS columns are the process totals.

`--cli` runs the real command instead (`az-bcdr-scan --subscription ... --arm-endpoint <simulator>
--output report.json`, then with `--save-inventory` too, then `evaluate` of that file) against the
throttled simulator at `--time-scale` and prints each one's peak RSS: collect, rules, report
building and the JSON writers included.
"""
from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import children  # noqa: E402
from benchmarks.run import Case, _serve  # noqa: E402
from benchmarks.synthetic import subscription_id  # noqa: E402

MIB = 1024 * 1024


def retained(inv: Any) -> list[tuple[str, int, int]]:
    """(collection, items, bytes) for every Inventory collection; an object shared by several
    collections (an interned string) is counted once, for the first."""
    import dataclasses
    seen: set[int] = set()
    out = []
    for f in dataclasses.fields(inv):
        value = getattr(inv, f.name)
        if not isinstance(value, tuple):
            continue
        total, stack = 0, [value]
        while stack:
            obj = stack.pop()
            if id(obj) in seen or isinstance(obj, type):
                continue
            seen.add(id(obj))
            total += sys.getsizeof(obj)
            stack.extend(gc.get_referents(obj))
        out.append((f.name, len(value), total))
    return out


def _mib(n: float) -> str:
    return f"{n / MIB:8.1f}"


_CHILD_RSS = ("import resource, runpy, sys; sys.argv = sys.argv[1:]\n"
              "try:\n    runpy.run_module('scanner.cli', run_name='__main__')\n"
              "finally:\n    print('peak-rss-kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")


def cli_rss(vms: int, scale: float) -> int:
    """Peak RSS of the az-bcdr-scan command (a child process) at `vms` VMs."""
    ctx = mp.get_context("spawn")
    sim, parent = children.spawn(ctx, _serve, Case("cli", 1, vms), scale, True, name="simulator")
    info = children.receive(parent, sim)
    env = {**os.environ, "AZURE_ACCESS_TOKEN": "benchmark-token", "REQUESTS_CA_BUNDLE": info["ca"]}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            scan = [sys.executable, "-c", _CHILD_RSS, "az-bcdr-scan", "--subscription", subscription_id(0),
                    "--arm-endpoint", info["endpoint"], "--quiet", "--output", str(Path(tmp, "report.json"))]
            inventory = str(Path(tmp, "inventory.json"))
            for label, argv in (("scan --output report.json", scan),
                                ("scan --output report.json --save-inventory FILE", [*scan, "--save-inventory", inventory]),
                                ("evaluate FILE --output report.json",
                                 [sys.executable, "-c", _CHILD_RSS, "az-bcdr-scan", "evaluate", inventory,
                                  "--output", str(Path(tmp, "again.json"))])):
                t0 = time.perf_counter()
                proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=str(ROOT))
                peak = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("peak-rss-kib")]
                size = Path(tmp, "report.json").stat().st_size / MIB
                print(f"{label:52} exit {proc.returncode}  peak RSS {int(peak[0]) / 1024 if peak else float('nan'):6.0f} MiB"
                      f"  {time.perf_counter() - t0:5.0f} s  (report {size:.1f} MiB)", flush=True)
                if not peak or proc.returncode not in (0, 1):
                    print(proc.stderr[-2000:])
    finally:
        _stop(sim, parent)
    return 0


def _stop(sim: Any, conn: Any) -> None:
    """Stop the simulator and wait for it (children.ChildDied if it died meanwhile)."""
    try:
        children.send(conn, sim, "stop")
        children.receive(conn, sim)
    finally:
        children.stop(sim)


def main() -> int:
    try:
        return _main()
    except children.ChildDied as exc:  # one line, not a wait on a dead child's pipe
        print(f"benchmarks/heap.py: {exc}", file=sys.stderr)
        return 2


def _main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vms", type=int, default=10000)
    ap.add_argument("--top", type=int, default=12, help="allocation sites to show at the collect peak")
    ap.add_argument("--cli", action="store_true", help="peak RSS of the az-bcdr-scan command instead")
    ap.add_argument("--time-scale", type=float, default=20.0, help="with --cli: the simulator's clock")
    args = ap.parse_args()
    if args.cli:
        return cli_rss(args.vms, args.time_scale)

    from scanner import inventory as m
    from scanner.api import evaluate_inventory
    from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
    from scanner.collect import CollectOptions, collect
    from scanner.emit import emit_inventory
    from scanner.engine import evaluate

    ctx = mp.get_context("spawn")
    sim, parent = children.spawn(ctx, _serve, Case("heap", 1, args.vms), 1000.0, False, name="simulator")
    info = children.receive(parent, sim)
    try:
        factory = ClientFactory(StaticTokenCredential("benchmark-token"),
                                ArmSettings(endpoint=info["endpoint"], verify=info["ca"], timeout=36000,
                                            reads_per_second=25000.0))
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        tracemalloc.start(1)
        t0 = time.perf_counter()
        inv = collect(factory, [subscription_id(0)], CollectOptions())
        wall = time.perf_counter() - t0
        now, peak = tracemalloc.get_traced_memory()
        top = tracemalloc.take_snapshot().statistics("lineno")
        print(f"{args.vms} VMs, {factory.ledger.count} requests, collect {wall:.0f} s; ru_maxrss before collect "
              f"{rss0 / MIB:.0f} MiB, after {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        print(f"collect: peak {_mib(peak)} MiB of Python allocations, {_mib(now)} MiB held after")
        print(f"  top allocation sites still held after collect (of {len(top)}):")
        for stat in top[:args.top]:
            frame = stat.traceback[0]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            print(f"    {_mib(stat.size)} MiB {stat.count:>8} blocks  {where}")
        print("  inventory, retained per collection:")
        rows = retained(inv)
        for name, n, size in sorted(rows, key=lambda r: -r[2]):
            if n:
                print(f"    {name:28} {n:>7} items {_mib(size)} MiB {size / n:>7.0f} B/item")
        total = sum(r[2] for r in rows)
        print(f"    {'total':28} {'':>7}       {_mib(total)} MiB {total / max(1, len(inv.virtual_machines)):>7.0f} B/VM")

        for label, report in (("evaluate", False), ("evaluate + report", True)):
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            t0 = time.perf_counter()
            kept: Any = evaluate_inventory(inv) if report else evaluate(inv)
            print(f"{label}: peak +{_mib(tracemalloc.get_traced_memory()[1] - base)} MiB, "
                  f"{time.perf_counter() - t0:.1f} s")
            del kept
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "inventory.json")
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            t0 = time.perf_counter()
            emit_inventory(inv, str(path))
            print(f"--save-inventory: peak +{_mib(tracemalloc.get_traced_memory()[1] - base)} MiB, "
                  f"{time.perf_counter() - t0:.1f} s, file {path.stat().st_size / MIB:.1f} MiB")
            del inv
            gc.collect()
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            t0 = time.perf_counter()
            with open(path, encoding="utf-8") as fh:  # as `evaluate FILE` reads it
                loaded = m.Inventory.read_json(fh)
            now, peak = tracemalloc.get_traced_memory()
            print(f"load (evaluate FILE): peak +{_mib(peak - base)} MiB, {_mib(now - base)} MiB held, "
                  f"{time.perf_counter() - t0:.1f} s, {len(loaded.virtual_machines)} VMs")
    finally:
        _stop(sim, parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
