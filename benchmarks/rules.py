#!/usr/bin/env python3
"""Benchmark: rule evaluation over synthetic inventories, offline.

    python benchmarks/rules.py                          # 1k, 10k VMs and 8 subscriptions x 2,500
    python benchmarks/rules.py --case 10k --repeat 5 --keep /tmp/bcdr-inventories
    python benchmarks/rules.py --case 10k --profile /tmp/rules.prof

Each case's inventory is collected once, through the real collectors and SDK clients, from the
benchmark simulator (benchmarks/armsim.py) with its bucket off (pacing does not change what is
collected), and kept as JSON in --keep (reused when there). Then, in this process, per case:
- evaluate: scanner.engine.evaluate, every rule over the inventory;
- post-collect: scanner.api.evaluate_inventory, what a scan runs between collect and writing its
  outputs (the rules, readiness verdicts, the typed Report), as benchmarks/run.py's rules column;
both as CPU seconds (process time; the machine is shared, CPU time is what the code costs), the
best of --repeat runs, each on a freshly loaded inventory (no index or memo carried over). Findings
and passes are counted so two versions can be compared on the same inventories.
"""
from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import subscription_id, tenant  # noqa: E402

CASES = {"1k": (1, 1000), "10k": (1, 10000), "8x2500": (8, 2500)}


def inventory_text(name: str, keep: Path) -> str:
    """The case's inventory as JSON: from --keep, or collected now (and kept)."""
    path = keep / f"inventory-{name}.json"
    if path.exists():
        return path.read_text(encoding="utf-8")
    from benchmarks.armsim import ThrottledSimulator
    from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
    from scanner.collect import CollectOptions, collect
    n_subs, each = CASES[name]
    with ThrottledSimulator(tenant(n_subs, each), page_size=1000, latency=0.0, throttle=False) as sim:
        factory = ClientFactory(StaticTokenCredential("benchmark-token"),
                                ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=36000, reads_per_second=1e9))
        text = collect(factory, [subscription_id(k) for k in range(n_subs)], CollectOptions()).to_json()
    keep.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


def measure(text: str, repeat: int, profile: str | None) -> dict[str, Any]:
    from rules import load_all
    from scanner.api import evaluate_inventory
    from scanner.engine import evaluate
    from scanner.inventory import Inventory
    load_all()  # a scan has imported the rules before it collects
    out: dict[str, Any] = {"evaluate": float("inf"), "post-collect": float("inf")}
    for _ in range(repeat):
        inv = Inventory.from_json(text)
        gc.collect()
        c0 = time.process_time()
        ev = evaluate(inv)
        out["evaluate"] = min(out["evaluate"], time.process_time() - c0)
        inv = Inventory.from_json(text)
        gc.collect()
        c0 = time.process_time()
        report = evaluate_inventory(inv)
        out["post-collect"] = min(out["post-collect"], time.process_time() - c0)
    out.update(vms=len(inv.virtual_machines), findings=len(report.findings), passes=sum(ev.passed.values()))
    if profile:
        import cProfile
        inv = Inventory.from_json(text)
        gc.collect()
        prof = cProfile.Profile()
        prof.runcall(evaluate_inventory, inv)
        prof.dump_stats(profile)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", action="append", choices=list(CASES), help="repeatable; default: all")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the best is shown")
    ap.add_argument("--keep", metavar="DIR", default=str(Path(tempfile.gettempdir()) / "az-bcdr-scan-inventories"),
                    help="where the inventories are kept (default: %(default)s)")
    ap.add_argument("--profile", metavar="FILE", help="cProfile one post-collect run of the last case into FILE")
    args = ap.parse_args()
    names = args.case or list(CASES)
    print(f"{'case':>8} {'VMs':>7} {'findings':>8} {'passes':>8} {'evaluate s':>10} {'post-collect s':>14}")
    for i, name in enumerate(names):
        r = measure(inventory_text(name, Path(args.keep)), max(1, args.repeat),
                    args.profile if i == len(names) - 1 else None)
        print(f"{name:>8} {r['vms']:>7} {r['findings']:>8} {r['passes']:>8} {r['evaluate']:>10.2f} {r['post-collect']:>14.2f}",
              flush=True)
    print(f"CPU seconds, best of {max(1, args.repeat)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
