#!/usr/bin/env python3
"""Benchmark: a throttled scan loses nothing while the deadline allows (issue 10).

    python scripts/benchmark_throttled.py                        # 10,000 VMs, ARM's clock x4
    python scripts/benchmark_throttled.py --vms 2000 --time-scale 10

The synthetic subscription of scripts/benchmark.py is served by the loopback simulator behind a
token bucket that throttles like ARM's read bucket (design.md: 250 burst, 25 requests/s refill per
subscription and principal): a request that finds the bucket empty is answered 429 with the
Retry-After ARM would send (whole seconds). `--time-scale K` runs that clock K times faster
(refill 25*K/s, Retry-After divided by K), so a scan that needs about ten minutes of real ARM
fits in well under a minute; "ARM-time s" multiplies the wall time back.

It prints one table row per size: requests sent, 429s answered (and the most on a single
request), what the rules need and what was delivered (VMs, instance views, restore point
counts), coverage records that are not ok, and the times. "delivered" equal to "wanted" with no
coverage gap is the point: throttling slowed the scan down and cost nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the fault-injecting simulator is test machinery
sys.path.insert(0, str(ROOT / "scripts"))

from benchmark import BURST, REFILL, SUB, synthetic  # noqa: E402
from simfaults import Fault, FaultySimulator  # noqa: E402

from scanner import inventory as m  # noqa: E402
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential  # noqa: E402
from scanner.collect import CollectOptions, collect  # noqa: E402
from scanner.simulator.scenario import load_scenario  # noqa: E402


def run(n_vms: int, workers: int, scale: float, timeout: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(synthetic(n_vms), fh)
    scenario = load_scenario(fh.name)
    Path(fh.name).unlink()
    bucket = Fault.token_bucket(burst=BURST, rate=REFILL, time_scale=scale)
    with FaultySimulator(scenario, faults=[bucket], page_size=1000) as sim:
        factory = ClientFactory(StaticTokenCredential("benchmark-token"),
                                ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=timeout))
        t0 = time.perf_counter()
        inv = collect(factory, [SUB], CollectOptions(workers=workers))
        wall = time.perf_counter() - t0
        ledger = sim.ledger.snapshot()
    throttled = Counter((e.path, e.query) for e in ledger if e.status == 429)
    backed_up = {p.source_resource_id for p in inv.protected_items if p.is_backed_up}
    replicated = {r.source_vm_id for r in inv.replication_items if r.source_vm_id}
    want_views = [v for v in inv.virtual_machines if v.power_state == "running" and (v.id in backed_up or v.id in replicated)]
    want_rps = [r for r in inv.restore_point_collections if r.source_id in backed_up]
    gaps = [f"{c.collector}:{c.status}:{c.error_code}" for c in inv.coverage if c.status != m.OK]
    requests = factory.ledger.count
    return {
        "vms": n_vms, "served_vms": len(scenario["virtualMachines"]), "scale": scale, "requests": requests,
        "answered_429": sum(throttled.values()), "most_429_one_request": max(throttled.values(), default=0),
        "vms_read": len(inv.virtual_machines),
        "views_wanted": len(want_views), "views_read": sum(1 for v in want_views if v.instance_view is not None),
        "rps_wanted": len(want_rps), "rps_read": sum(1 for r in want_rps if r.restore_point_count is not None),
        "gaps": gaps, "wall": wall, "arm_time": wall * scale,
        "floor": max(0.0, requests - BURST) / REFILL,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vms", type=int, action="append", help="VM count (repeatable); default 10000")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--time-scale", type=float, default=4.0, help="run ARM's throttling clock this many times faster")
    ap.add_argument("--timeout", type=float, default=3600.0, help="the scan's deadline, real seconds")
    args = ap.parse_args()
    print(f"{'VMs':>6} {'scale':>5} {'requests':>8} {'429s':>6} {'max/req':>7} {'VMs read':>9} "
          f"{'views read/wanted':>17} {'RP counts read/wanted':>21} {'gaps':>4} {'wall s':>7} {'ARM-time s':>10} "
          f"{'ARM floor s':>11}")
    ok = True
    for n in args.vms or [10000]:
        r = run(n, args.workers, args.time_scale, args.timeout)
        print(f"{r['vms']:>6} {r['scale']:>5g} {r['requests']:>8} {r['answered_429']:>6} {r['most_429_one_request']:>7} "
              f"{r['vms_read']:>4}/{r['served_vms']:<4} {r['views_read']:>8}/{r['views_wanted']:<8} "
              f"{r['rps_read']:>10}/{r['rps_wanted']:<10} {len(r['gaps']):>4} {r['wall']:>7.1f} {r['arm_time']:>10.0f} "
              f"{r['floor']:>11.0f}")
        for gap in r["gaps"]:
            print(f"       coverage gap: {gap}")
        ok = ok and not r["gaps"] and r["vms_read"] == r["served_vms"] and r["views_read"] == r["views_wanted"] \
            and r["rps_read"] == r["rps_wanted"]
    print("429s: requests the bucket answered 429 (each was retried after its Retry-After until it was read).")
    print("ARM floor: the least time real ARM's read bucket (250 burst, 25/s) allows for that many requests.")
    print("every resource delivered" if ok else "RESOURCES LOST")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
