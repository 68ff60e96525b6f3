#!/usr/bin/env python3
"""Benchmark: scans of synthetic subscriptions against a simulator that throttles like ARM.

    python benchmarks/run.py                       # 1k, 5k, 10k VMs and 8 subscriptions x 2,500
    python benchmarks/run.py --case 1k --time-scale 10
    python benchmarks/run.py --case 10k --profile /tmp/scan.prof   # cProfile of the scanner
    python benchmarks/run.py --time-scale 4 --time-scale 8x2500=1   # a case at its own time scale

The simulator (benchmarks/armsim.py) runs in its own process and keeps ARM's read bucket per
subscription (250 burst, 25/s refill, 40 ms latency, 429 + Retry-After, the remaining-reads header),
`--time-scale K` times faster. The scanner runs in another process (its CPU time and peak RSS are
its own). Columns:
- requests: what the scanner sent (429s included); minimum: the requests the composition needs
  (list pages at 1,000 items a page, one instance view per running backed-up or replicated VM, one
  restore-point count per backed-up VM's collection, vault and key vault GETs), counted from the
  scenario, not from the scanner;
- 429s: answered 429; lost: resources a rule needs that did not arrive (VMs, instance views,
  restore-point counts, plus coverage records that are not ok);
- floor: the least time the bucket allows for the minimum, max over subscriptions of
  (minimum - 250) / 25, in ARM seconds; wall: the scan's wall time times K (ARM seconds); x floor;
- CPU/req: the scanner process's CPU time in collect per request sent; RSS: its peak resident set,
  without and with --save-inventory (that second run is unthrottled: memory does not depend on
  pacing). The scanner process does what the command does after collect: the SDK packages released
  (scanner.malloc.sdk_in_use, as api.scan), --save-inventory (scanner.emit's writer), the rules, and
  the JSON report file (scanner.emit.emit_reports, as the CLI writes it);
  `--memory` prints its RSS at the end of each of those phases and over time;
- rules s: what a scan does between collect and writing its outputs (scanner.api.evaluate_inventory,
  as the CLI calls it: every rule, readiness verdicts, the typed Report), wall seconds in the scan's
  process (time.perf_counter: on a shared machine it includes waiting for a CPU); rules CPU: the
  same span's CPU seconds (time.process_time, what benchmarks/rules.py reports offline); K: the time
  scale the case ran at.
The time scale speeds up ARM's clock, not the scanner's CPU: a case whose CPU time comes near its
scaled floor is penalised by it, so run such a case (8x2500) at `--time-scale 8x2500=1`.
The naive row is a per-VM script (list VMs, then one instance view GET and one restore point
collection GET per VM, one after another, plain SDK retry) on the same simulator.
Exit 1 when a case lost resources; exit 2, with one line, when a child process (the simulator or a
scanner) died before sending its result (benchmarks/children.py).
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The repository first, ahead of benchmarks/ itself (whose rules.py would shadow the rules package).
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT, ROOT / "benchmarks")]

from benchmarks import children  # noqa: E402
from benchmarks.synthetic import subscription_id, tenant  # noqa: E402

BURST, REFILL, LATENCY, PAGE = 250, 25.0, 0.040, 1000
CASES = {"1k": (1, 1000), "5k": (1, 5000), "10k": (1, 10000), "8x2500": (8, 2500), "32x300": (32, 300)}


@dataclass
class Case:
    name: str
    subscriptions: int
    vms_each: int


# --------------------------------------------------------------------------- the composition's minimum
def _pages(n: int) -> int:
    return max(1, math.ceil(n / PAGE))


def minimum_requests(sc: dict, sub: str) -> dict[str, int]:
    """The requests a complete scan of `sub` needs, counted from the scenario."""
    prefix = f"/subscriptions/{sub}/".lower()
    mine = {k: [x for x in v if str(x.get("id", "")).lower().startswith(prefix)]
            for k, v in sc.items() if isinstance(v, list) and k != "subscriptions"}
    views = {k: v for k, v in sc.get("instanceViews", {}).items() if k.lower().startswith(prefix)}
    backed_up = {p["properties"]["sourceResourceId"].lower() for p in mine["backupProtectedItems"]
                 if p["properties"].get("protectionState") == "Protected"}
    replicated = {r["properties"]["providerSpecificDetails"]["fabricObjectId"].lower()
                  for r in mine["replicationProtectedItems"]}

    def running(vid: str) -> bool:
        return any(s.get("code") == "PowerState/running" for s in views.get(vid, {}).get("statuses", []))

    lists = (2 * _pages(len(mine["virtualMachines"])) + _pages(len(mine["resourceGroups"])) + _pages(len(mine["locks"]))
             + _pages(len(mine["disks"])) + _pages(len(mine["restorePointCollections"])) + _pages(len(mine["vaults"]))
             + sum(_pages(len(mine[k])) for k in ("networkInterfaces", "networkSecurityGroups", "routeTables",
                                                   "virtualNetworks")))
    vault_calls = 0
    for v in mine["vaults"]:
        vp = v["id"].lower() + "/"

        def n_in(kind: str, vp: str = vp) -> int:
            return sum(1 for x in mine[kind] if x["id"].lower().startswith(vp))
        items = n_in("replicationProtectedItems")
        # GET, protected items, policies, 3 job lists (InProgress, Cancelling: none; the window: all),
        # replication items and jobs, then recovery plans and container mappings where A2A items are.
        vault_calls += (1 + _pages(n_in("backupProtectedItems")) + _pages(n_in("backupPolicies")) + 2
                        + _pages(n_in("backupJobs")) + _pages(items) + _pages(n_in("replicationJobs"))
                        + (2 if items else 0))
    kv_refs = {es["diskEncryptionKey"]["sourceVault"]["id"].lower()
               for d in mine["disks"] if (d.get("managedBy") or "").lower() in backed_up
               for es in d["properties"].get("encryptionSettingsCollection", {}).get("encryptionSettings", [])}
    out = {"lists": lists, "vault calls": vault_calls,
           "instance views": sum(1 for vm in mine["virtualMachines"]
                                 if running(vm["id"]) and vm["id"].lower() in backed_up | replicated),
           "restore point counts": sum(1 for r in mine["restorePointCollections"]
                                       if r["properties"]["source"]["id"].lower() in backed_up),
           "key vault GETs": len(kv_refs)}
    out["total"] = sum(out.values())
    return out


# --------------------------------------------------------------------------- the simulator process
def _serve(case: Case, scale: float, throttle: bool, conn: Any) -> None:
    from benchmarks.armsim import ThrottledSimulator
    sc = tenant(case.subscriptions, case.vms_each)
    mins = {subscription_id(k): minimum_requests(sc, subscription_id(k)) for k in range(case.subscriptions)}
    wanted = {"vms": len(sc["virtualMachines"]),
              "views": sum(m["instance views"] for m in mins.values()),
              "rps": sum(m["restore point counts"] for m in mins.values())}
    with ThrottledSimulator(sc, page_size=PAGE, burst=BURST, rate=REFILL, latency=LATENCY, time_scale=scale,
                            throttle=throttle) as sim:
        conn.send({"endpoint": sim.endpoint, "ca": sim.ca_path, "minimum": mins, "wanted": wanted})
        conn.recv()  # stop
        served = Counter(e.status for e in sim.ledger.snapshot())
        conn.send({"answered_429": sim.answered_429, "served": dict(served), "phases": sim.phases(),
                   "wasted": sim.wasted()})


# --------------------------------------------------------------------------- the scanner process
class RssTimeline:
    """The scanner process's resident set over time: sampled from /proc/self/statm every `every`
    seconds by a thread, with the high-water mark (ru_maxrss) read at each phase's end, so the
    phase in which the peak happened is known exactly and the samples show where inside it."""

    def __init__(self, every: float = 0.05) -> None:
        import threading
        self.every = every
        self.t0 = time.perf_counter()
        self.samples: list[tuple[float, float]] = []  # (s since start, RSS MiB)
        self.phases: list[tuple[str, float, float, float]] = []  # (phase, s at its end, RSS MiB then, peak MiB so far)
        self._page = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-timeline", daemon=True)
        self._thread.start()

    def rss(self) -> float:
        try:
            with open("/proc/self/statm", encoding="ascii") as fh:
                return int(fh.read().split()[1]) * self._page
        except OSError:  # not Linux: the marks still carry ru_maxrss
            return float("nan")

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append((time.perf_counter() - self.t0, self.rss()))

    def mark(self, phase: str) -> None:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.phases.append((phase, time.perf_counter() - self.t0, self.rss(), peak))

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        return {"phases": self.phases, "samples": self.samples}


def _scan(endpoint: str, ca: str, subs: list[str], scale: float, save: bool, profile: str | None,
          processes: int | None, conn: Any) -> None:
    import resource

    from scanner.malloc import sdk_in_use, tune_malloc
    tune_malloc()  # what the az-bcdr-scan command does first (cli.console_main)
    memory = RssTimeline()
    from scanner import inventory as m
    from scanner.api import evaluate_inventory
    from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
    from scanner.collect import CollectOptions, collect
    from scanner.emit import OutputTarget, emit_inventory, emit_reports
    memory.mark("imports")
    factory = ClientFactory(StaticTokenCredential("benchmark-token"),
                            ArmSettings(endpoint=endpoint, verify=ca, timeout=36000,
                                        reads_per_second=REFILL * scale))  # the scanner's clock runs as fast
    profiles: list[Any] = []
    if profile:  # every thread's own profiler (cProfile sees only the thread that enabled it)
        import cProfile
        import threading

        def start(*_: Any) -> None:
            prof = cProfile.Profile(time.thread_time)
            profiles.append(prof)
            prof.enable()
        threading.setprofile(start)
        start()
    # As api.scan (the command): the SDK packages collect imported are released when it is done,
    # before --save-inventory and the rules (scanner.malloc.sdk_in_use); the CPU column is collect's.
    with sdk_in_use():
        c0, t0 = time.process_time() + _children_cpu(), time.perf_counter()
        inv = collect(factory, subs, CollectOptions(processes=processes))  # --processes: worker processes
        c1, t1 = time.process_time() + _children_cpu(), time.perf_counter()
        memory.mark("collect")
    memory.mark("release SDK")
    if profile:
        import pstats
        import threading
        threading.setprofile(None)
        profiles[0].disable()
        pstats.Stats(*profiles).dump_stats(profile)
    with tempfile.TemporaryDirectory() as tmp:
        if save:  # what --save-inventory runs (api.scan's on_inventory: before the rules)
            emit_inventory(inv, str(Path(tmp, "inventory.json")))
            memory.mark("save inventory")
        c1s, t1s = time.process_time(), time.perf_counter()
        report = evaluate_inventory(inv, arm_requests=inv.arm_requests)
        c2, t2 = time.process_time(), time.perf_counter()
        memory.mark("evaluate")
        # What the command does then (cli._write_and_exit): the report file, by the CLI's own writer.
        emit_reports(report, [OutputTarget("json", str(Path(tmp, "report.json")))])
        memory.mark("write report")
    backed_up = {p.source_resource_id for p in inv.protected_items if p.is_backed_up}
    replicated = {r.source_vm_id for r in inv.replication_items if r.source_vm_id}
    views = sum(1 for v in inv.virtual_machines if v.power_state == "running" and (v.id in backed_up or v.id in replicated)
                and v.instance_view is not None)
    rps = sum(1 for r in inv.restore_point_collections if r.source_id in backed_up and r.restore_point_count is not None)
    gaps = [f"{c.collector}:{c.status}:{c.error_code}" for c in inv.coverage if c.status != m.OK]
    rss = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    conn.send({"requests": inv.arm_requests, "wall": t1 - t0, "cpu": c1 - c0, "rules": t2 - t1s,  # workers' included
               "rules_cpu": c2 - c1s,
               "rss_mib": rss / 1024, "vms": len(inv.virtual_machines), "memory": memory.stop(),
               "views": views, "rps": rps, "gaps": gaps, "findings": len(report.findings)})


def _children_cpu() -> float:
    """CPU of the ended worker processes (--processes) that collect() waited for."""
    import resource
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _naive(endpoint: str, ca: str, subs: list[str], conn: Any) -> None:
    """What a first script does: for each VM, its instance view and its restore point collection."""
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.compute import ComputeManagementClient

    from scanner.arm import StaticTokenCredential
    cred = StaticTokenCredential("benchmark-token")
    t0, sent = time.perf_counter(), 0
    for sub in subs:
        client = ComputeManagementClient(cred, sub, base_url=endpoint, credential_scopes=[f"{endpoint}/.default"],
                                         connection_verify=ca)
        sent += 1
        for vm in client.virtual_machines.list_all():
            assert vm.id is not None and vm.name is not None  # a listed VM has both (the SDK types them optional)
            rg, name = vm.id.split("/")[4], vm.name
            sent += 2
            client.virtual_machines.instance_view(rg, name)
            try:
                client.restore_point_collections.get("AzureBackupRG_westeurope_1", f"AzureBackup_{name}",
                                                     expand="restorePoints")
            except HttpResponseError:
                pass
    conn.send({"wall": time.perf_counter() - t0, "requests": sent})


def _child(target: Any, *args: Any, ctx: Any) -> dict:
    """`target(*args, conn)` in its own process: what it sends (children.ChildDied if it dies first)."""
    result: dict = children.run(ctx, target, *args, name=target.__name__.strip("_"))
    return result


def _split(endpoint: str, ca: str, subs: list[str], scale: float, processes: int, ctx: Any) -> dict:
    """`processes` scanner processes at once, each scanning every `processes`-th subscription (what
    `--shard K/N` runs on one machine): requests and CPU summed, wall, RSS and rule time the worst."""
    parts = [subs[k::processes] for k in range(processes)]
    started = [children.spawn(ctx, _scan, endpoint, ca, part, scale, False, None, 1, name=f"scan {k + 1}/{processes}")
               for k, part in enumerate(parts)]
    try:
        got = [children.receive(pipe, proc) for proc, pipe in started]
        for proc, _ in started:
            proc.join()
    finally:
        for proc, _ in started:
            children.stop(proc)
    out = {k: sum(g[k] for g in got) for k in ("requests", "cpu", "vms", "views", "rps", "findings")}
    out.update({k: max(g[k] for g in got) for k in ("wall", "rss_mib", "rules", "rules_cpu")})
    out["gaps"] = [gap for g in got for gap in g["gaps"]]
    return out


def run_case(case: Case, scale: float, *, naive: bool = False, rss_with_save: bool = True,
             profile: str | None = None, processes: int = 1, collect_processes: int | None = 1) -> dict:
    ctx = mp.get_context("spawn")  # fresh interpreters: CPU and peak RSS are the scan's own
    subs = [subscription_id(k) for k in range(case.subscriptions)]
    out: dict[str, Any] = {"case": case.name, "scale": scale, "processes": processes,
                           "collect_processes": collect_processes}
    for mode in (["throttled"] + (["save"] if rss_with_save else []) + (["naive"] if naive else [])):
        sim, parent = children.spawn(ctx, _serve, case, scale, mode != "save", name="simulator")
        try:
            info = children.receive(parent, sim)
            if mode == "naive":
                got = _child(_naive, info["endpoint"], info["ca"], subs, ctx=ctx)
            elif mode == "throttled" and processes > 1:
                got = _split(info["endpoint"], info["ca"], subs, scale, processes, ctx)
            else:
                got = _child(_scan, info["endpoint"], info["ca"], subs, scale, mode == "save",
                             profile if mode == "throttled" else None, collect_processes, ctx=ctx)
            children.send(parent, sim, "stop")
            served = children.receive(parent, sim)
            sim.join()
        finally:
            children.stop(sim)  # gone already, unless a child failed
        out[mode] = {**got, **served}
        out["minimum"], out["wanted"] = info["minimum"], info["wanted"]
    r, want = out["throttled"], out["wanted"]
    out["minimum_total"] = sum(m["total"] for m in out["minimum"].values())
    out["floor"] = max(max(0, m["total"] - BURST) / REFILL for m in out["minimum"].values())
    out["lost"] = (want["vms"] - r["vms"]) + (want["views"] - r["views"]) + (want["rps"] - r["rps"]) + len(r["gaps"])
    out["arm_wall"] = r["wall"] * scale
    return out


def table(results: list[dict]) -> str:
    head = (f"{'case':>8} {'requests':>8} {'minimum':>8} {'x min':>6} {'429s':>6} {'lost':>5} {'wall s':>7} "
            f"{'floor s':>7} {'x floor':>7} {'CPU/req ms':>10} {'RSS MiB':>8} {'+save':>6} {'rules s':>7} {'rules CPU':>9} {'K':>4}")
    lines = [head]
    for res in results:
        r = res["throttled"]
        save = res.get("save", {}).get("rss_mib")
        lines.append(
            f"{res['case']:>8} {r['requests']:>8} {res['minimum_total']:>8} {r['requests'] / res['minimum_total']:>6.3f} "
            f"{r['answered_429']:>6} {res['lost']:>5} {res['arm_wall']:>7.0f} {res['floor']:>7.0f} "
            f"{res['arm_wall'] / res['floor'] if res['floor'] else float('nan'):>7.2f} "
            f"{1000 * r['cpu'] / r['requests']:>10.2f} {r['rss_mib']:>8.0f} "
            f"{save if save is not None else float('nan'):>6.0f} {r['rules']:>7.2f} {r['rules_cpu']:>9.2f} {res['scale']:>4g}")
        if "naive" in res:
            n = res["naive"]
            wall = n["wall"] * res["scale"]
            lines.append(f"{'naive':>8} {n['requests']:>8} {'':>8} {'':>6} {n['answered_429']:>6} {'':>5} {wall:>7.0f} "
                         f"{res['floor']:>7.0f} {wall / res['floor']:>7.2f}   speed-up over naive: scanner "
                         f"{wall / res['arm_wall']:.2f}x, best possible {wall / res['floor']:.2f}x")
        for gap in r["gaps"]:
            lines.append(f"         coverage gap: {gap}")
    return "\n".join(lines)


def time_scales(values: list[str]) -> tuple[float, dict[str, float]]:
    """`--time-scale` values (`K` or `CASE=K`): the default scale and the per-case ones."""
    default, per_case = 4.0, {}
    for value in values:
        name, _, k = value.rpartition("=")
        try:
            scale = float(k)
        except ValueError:
            raise ValueError(f"--time-scale {value!r}: expected K or CASE=K with a number K") from None
        if not scale > 0 or scale == float("inf"):
            raise ValueError(f"--time-scale {value!r}: K must be a positive number")
        if name and name not in CASES:
            raise ValueError(f"--time-scale {value!r}: unknown case {name!r} (one of {', '.join(CASES)})")
        if name:
            per_case[name] = scale
        else:
            default = scale
    return default, per_case


def timeline(res: dict) -> str:
    """When each kind of request was asked for (ARM seconds since the first), and the refill each
    subscription's bucket lost by being full: what separates the wall from the floor."""
    r = res["throttled"]
    lines = [f"  {res['case']} timeline (ARM s since the first request; K={res['scale']:g})",
             f"  {'requests':>8} {'first':>7} {'last':>7}  kind"]
    for name, n, first, last in r.get("phases", []):
        lines.append(f"  {n:>8} {first:>7.1f} {last:>7.1f}  {name}")
    wasted = r.get("wasted", {})
    if wasted:
        worst = max(wasted.values())
        lines.append(f"  refill lost to a full bucket: worst subscription {worst:.0f} tokens = {worst / REFILL:.1f} ARM s "
                     f"(all: {sum(wasted.values()):.0f} tokens)")
    return "\n".join(lines)


def memory_timeline(res: dict, buckets: int = 24) -> str:
    """Per run (scan, and scan with --save-inventory): each phase's end (s since the process
    started), the RSS then and the peak so far (the phase whose end raised the peak is where it
    happened), then the RSS samples as `buckets` slices of the run, each slice's highest."""
    lines = []
    for mode in ("throttled", "save"):
        mem = res.get(mode, {}).get("memory")
        if not mem:
            continue
        lines.append(f"  {res['case']} memory, {'scan' if mode == 'throttled' else 'scan --save-inventory'} "
                     f"(MiB; s since the scanner process started)")
        lines.append(f"  {'phase':>16} {'ends s':>8} {'RSS':>6} {'peak':>6} {'+peak':>6}")
        before = 0.0
        for phase, at, rss, peak in mem["phases"]:
            lines.append(f"  {phase:>16} {at:>8.1f} {rss:>6.0f} {peak:>6.0f} {peak - before:>+6.0f}")
            before = peak
        samples = mem["samples"]
        if samples:
            end = samples[-1][0]
            width = end / buckets or 1.0
            highs: dict[int, float] = {}
            for at, rss in samples:
                k = min(buckets - 1, int(at / width))
                highs[k] = max(highs.get(k, 0.0), rss)
            lines.append("  RSS samples, highest per slice: " + " ".join(
                f"{k * width:.0f}s:{highs[k]:.0f}" for k in sorted(highs)))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", action="append", choices=list(CASES), help="repeatable; default: all")
    ap.add_argument("--time-scale", action="append", default=[], metavar="K|CASE=K",
                    help="run ARM's clock K times faster (default 4); CASE=K for one case; repeatable")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive script (it runs with the first case)")
    ap.add_argument("--no-save", action="store_true", help="skip the --save-inventory RSS run")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the first case's collect into FILE")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results here")
    ap.add_argument("--scanner-processes", type=int, default=1, metavar="N",
                    help="split the subscriptions over N scanner processes run at once (as --shard K/N would)")
    ap.add_argument("--processes", default="1", metavar="N|auto",
                    help="the scanner's own --processes: its worker processes (default 1)")
    ap.add_argument("--timeline", action="store_true", help="print when each kind of request ran, and the refill lost")
    ap.add_argument("--memory", action="store_true",
                    help="print the scanner's RSS per phase (collect, evaluate, writing) and over time")
    args = ap.parse_args()
    try:
        default, scales = time_scales(args.time_scale)
    except ValueError as exc:
        ap.error(str(exc))
    results = []
    for i, name in enumerate(args.case or list(CASES)):
        n_subs, each = CASES[name]
        try:
            results.append(run_case(Case(name, n_subs, each), scales.get(name, default), naive=i == 0 and not args.no_naive,
                                    rss_with_save=not args.no_save, profile=args.profile if i == 0 else None,
                                    processes=max(1, args.scanner_processes),
                                    collect_processes=None if args.processes == "auto" else int(args.processes)))
        except children.ChildDied as exc:  # one line, not a wait on a dead child's pipe
            print(f"benchmarks/run.py: case {name}: {exc}", file=sys.stderr)
            return 2
        print(table(results[-1:]) if i == 0 else table(results[-1:]).split("\n", 1)[1], flush=True)
        if args.timeline:
            print(timeline(results[-1]), flush=True)
        if args.memory:
            print(memory_timeline(results[-1]), flush=True)
    print(f"wall and floor in ARM seconds (wall measured x K, the case's time scale); {os.cpu_count()} CPUs")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["lost"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
