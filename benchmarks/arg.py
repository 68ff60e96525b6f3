#!/usr/bin/env python3
"""Resource Graph measurement: can ARG queries replace the per-subscription lists of a tenant with
many small subscriptions? (issue 13; the answer and the field audit are in docs/resource-graph.md)

    python benchmarks/arg.py                    # 300 subscriptions x 10 VMs and 50 x 100
    python benchmarks/arg.py --case 300x10 --time-scale 2

One simulator process serves a synthetic tenant (benchmarks/synthetic.py) with ARM's read bucket per
subscription (benchmarks/armsim.py: 250 burst, 25/s, 40 ms latency) and, next to it, Resource
Graph's `POST /providers/Microsoft.ResourceGraph/resources`: the envelope of
../shared/azure-rest-examples/resourcegraph (data, count, totalRecords, resultTruncated,
$skipToken), at most 1,000 rows a page, and the per-user quota of Microsoft's "Guidance for
throttled requests in Azure Resource Graph" (15 queries per 5-second window; every answer carries
x-ms-user-quota-remaining and x-ms-user-quota-resets-after; past the quota a 429). Each query
answer takes the same latency as an ARM answer (ARG's own latency is not modelled: the comparison
favours ARG). Rows carry the whole ARM body, so ARG is measured at its best: whether it really
carries every field is the audit's question, not this script's.

Three runs, each in its own process (CPU is the client's own), against the same simulator:
- scan: the real scanner (scanner.collect.collect), every subscription: all its requests;
- ARM lists: the per-subscription lists ARG could replace at best (VMs full and status-only,
  resource groups, disks, NICs, NSGs, route tables, virtual networks, restore point collections,
  vaults; per vault: protected items, policies, replication items), through the scanner's own
  clients, read_list and pacer, 16 subscriptions at a time as the scanner does;
- ARG: one query per table/type for all the subscriptions, paged, pacing itself to the quota headers.
The per-VM GETs (instance views, restore-point counts), vault and key vault GETs, locks, jobs and the
other Site Recovery lists stay the same in both: `scan with ARG` = scan - ARM lists + ARG queries.
A child process (the simulator or a run) that dies before sending its result ends the command with
one line and exit 2 (benchmarks/children.py), instead of the parent waiting for it forever.
"""
from __future__ import annotations

import argparse
import base64
import json
import math
import multiprocessing as mp
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import children  # noqa: E402
from benchmarks.run import BURST, LATENCY, PAGE, REFILL, _child, _scan  # noqa: E402
from benchmarks.synthetic import subscription_id, tenant  # noqa: E402

CASES = {"300x10": (300, 10), "50x100": (50, 100), "3x10": (3, 10)}  # 3x10: a quick check, not in the default run
DEFAULT_CASES = ("300x10", "50x100")
ARG_PATH = "/providers/microsoft.resourcegraph/resources"
ARG_QUOTA, ARG_WINDOW, ARG_PAGE = 15, 5.0, 1000
QUOTA_REMAINING, QUOTA_RESETS = "x-ms-user-quota-remaining", "x-ms-user-quota-resets-after"
# Scenario kind -> (ARG table, lower-cased ARM type): the lists ARG could replace at best.
ARG_TYPES = {
    "virtualMachines": ("resources", "microsoft.compute/virtualmachines"),
    "resourceGroups": ("resourcecontainers", "microsoft.resources/subscriptions/resourcegroups"),
    "disks": ("resources", "microsoft.compute/disks"),
    "networkInterfaces": ("resources", "microsoft.network/networkinterfaces"),
    "networkSecurityGroups": ("resources", "microsoft.network/networksecuritygroups"),
    "routeTables": ("resources", "microsoft.network/routetables"),
    "virtualNetworks": ("resources", "microsoft.network/virtualnetworks"),
    "restorePointCollections": ("resources", "microsoft.compute/restorepointcollections"),
    "vaults": ("resources", "microsoft.recoveryservices/vaults"),
    "backupProtectedItems": ("recoveryservicesresources",
                             "microsoft.recoveryservices/vaults/backupfabrics/protectioncontainers/protecteditems"),
    "backupPolicies": ("recoveryservicesresources", "microsoft.recoveryservices/vaults/backuppolicies"),
    "replicationProtectedItems": ("recoveryservicesresources", "microsoft.recoveryservices/vaults/replicationfabrics/"
                                  "replicationprotectioncontainers/replicationprotecteditems"),
}
_QUERY = re.compile(r"^\s*(\w+)\s*\|\s*where\s+type\s*=~\s*'([^']+)'", re.I)


# --------------------------------------------------------------------------- the simulator
def _hms(seconds: float) -> str:
    whole = max(0, math.ceil(seconds))
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _arg_simulator(scenario: dict, scale: float, **kw: Any) -> Any:
    """armsim's ThrottledSimulator plus Resource Graph's query endpoint (every other POST is still
    refused with 405, as by the product's simulator)."""
    from benchmarks.armsim import ThrottledSimulator
    from scanner import ids
    from scanner.simulator.server import _ArmError, _Response

    class ArgSimulator(ThrottledSimulator):
        def __init__(self) -> None:
            super().__init__(scenario, time_scale=scale, **kw)
            self.window = ARG_WINDOW / scale
            self.arg_queries = self.arg_429 = 0
            self._quota_lock = threading.Lock()
            self._window_start: float | None = None
            self._used = 0
            self._rows: dict[tuple[str, str], list[dict]] = {}
            for key, (table, rtype) in ARG_TYPES.items():
                rows = self._rows.setdefault((table, rtype), [])
                for item in scenario.get(key, []):
                    rid = item["id"]
                    rows.append({**item, "type": rtype, "subscriptionId": ids.subscription_of(rid),
                                 "resourceGroup": rid.split("/")[4] if rid.count("/") >= 4 else ""})
                rows.sort(key=lambda r: r["id"].lower())

        def intercept(self, method: str, raw_path: str, path: str, query: str, answer: Callable[[], _Response]) -> _Response:
            if method.upper() != "POST" or path.lower() != ARG_PATH:
                return super().intercept(method, raw_path, path, query, answer)
            self.timeline.append((time.monotonic(), "resource graph query"))
            if self.latency:
                time.sleep(self.latency)
            return self._query(self.request_body)

        def _quota(self) -> tuple[bool, int, float]:
            """(allowed, remaining after it, seconds until the window resets)."""
            with self._quota_lock:
                now = time.monotonic()
                if self._window_start is None or now - self._window_start >= self.window:
                    self._window_start, self._used = now, 0
                resets = self._window_start + self.window - now
                if self._used >= ARG_QUOTA:
                    self.arg_429 += 1
                    return False, 0, resets
                self._used += 1
                self.arg_queries += 1
                return True, ARG_QUOTA - self._used, resets

        def _query(self, raw: bytes) -> _Response:
            allowed, remaining, resets = self._quota()
            # Over the wire the reset is in ARM's clock (hh:mm:ss), like Retry-After in armsim.
            headers = {QUOTA_REMAINING: str(remaining), QUOTA_RESETS: _hms(resets * scale)}
            if not allowed:
                return self._error(_ArmError(429, "RateLimiting", "Please provide below info when asking for support: "
                                             "the user quota of Resource Graph queries is used up.",
                                             headers={**headers, "Retry-After": f"{resets:.3f}"}))
            try:
                body = json.loads(raw)
                parsed = _QUERY.match(body["query"])
                if parsed is None:
                    raise ValueError("not a query of one table and type")
                table, rtype = parsed.groups()
                subs = {s.lower() for s in body["subscriptions"]}
                options = body.get("options") or {}
                top = min(ARG_PAGE, int(options.get("$top", ARG_PAGE)))
                token = options.get("$skipToken")
                offset = int(base64.b64decode(token).decode()) if token else 0
            except (ValueError, KeyError, TypeError, AttributeError):
                return self._error(_ArmError(400, "BadRequest", "the query could not be read", headers=headers))
            rows = [r for r in self._rows.get((table.lower(), rtype.lower()), []) if r["subscriptionId"] in subs]
            page = rows[offset:offset + top]
            out: dict[str, Any] = {"totalRecords": len(rows), "count": len(page), "data": page, "facets": [],
                                   "resultTruncated": "false"}
            if offset + top < len(rows):
                out["$skipToken"] = base64.b64encode(str(offset + top).encode()).decode()
            return _Response(200, out, headers=headers)

    return ArgSimulator()


def _serve(n_subs: int, each: int, scale: float, conn: Any) -> None:
    sc = tenant(n_subs, each)
    expected = {key: len(sc.get(key, [])) for key in ARG_TYPES}
    with _arg_simulator(sc, scale, page_size=PAGE, burst=BURST, rate=REFILL, latency=LATENCY) as sim:
        conn.send({"endpoint": sim.endpoint, "ca": sim.ca_path, "expected": expected})
        while conn.recv() == "count":
            served = sim.ledger.snapshot()
            conn.send({"served": len(served), "arm_429": sim.answered_429, "arg_queries": sim.arg_queries,
                       "arg_429": sim.arg_429, "writes": sum(1 for e in served if e.method != "GET"
                                                             and e.path.lower() != ARG_PATH)})
            sim.ledger.clear()
            sim.answered_429 = sim.arg_queries = sim.arg_429 = 0


# --------------------------------------------------------------------------- the two ways to read the lists
def _arm_lists(endpoint: str, ca: str, subs: list[str], scale: float, conn: Any) -> None:
    """The replaceable lists, per subscription, the scanner's way (its clients, read_list, pacer)."""
    from concurrent.futures import ThreadPoolExecutor

    from scanner import ids
    from scanner import inventory as m
    from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
    from scanner.collect import AZURE_IAAS_VM, CollectOptions
    from scanner.collectors import compute as cmp
    from scanner.collectors import network as netc
    from scanner.collectors import recovery as rsv
    from scanner.collectors import resources as res
    from scanner.collectors.base import Recorder, read_list
    factory = ClientFactory(StaticTokenCredential("benchmark-token"),
                            ArmSettings(endpoint=endpoint, verify=ca, timeout=36000, reads_per_second=REFILL * scale))

    def one(sub: str) -> tuple[int, list[str]]:
        rec = Recorder(sub, factory.list_limits)
        compute, vaults_client = factory.compute(sub), factory.vaults(sub)
        got: list[list[Any]] = [
            read_list(rec, m.VMS, lambda: compute.virtual_machines.list_all(), cmp.map_vm),
            read_list(rec, m.VM_STATUS, lambda: compute.virtual_machines.list_all(status_only="true"), cmp.map_vm_status),
            read_list(rec, m.RESOURCE_GROUPS, lambda: factory.resources(sub).resource_groups.list(), res.map_resource_group),
            read_list(rec, m.DISKS, lambda: compute.disks.list(), cmp.map_disk),
            *netc.collect(factory, sub, rec).values(),
            read_list(rec, m.RESTORE_POINT_COLLECTIONS, lambda: compute.restore_point_collections.list_all(),
                      cmp.map_restore_point_collection)]
        vaults = read_list(rec, m.VAULTS, lambda: vaults_client.vaults.list_by_subscription_id(), rsv.map_vault)
        got.append(vaults)
        backup, asr = factory.backup(sub), factory.site_recovery(sub)
        for v in vaults:
            name, rg = ids.name_of(v.display_id), v.resource_group
            got.append(read_list(rec, m.PROTECTED_ITEMS, lambda: backup.backup_protected_items.list(
                name, rg, filter=f"{AZURE_IAAS_VM} and itemType eq 'VM'"), rsv.map_protected_item, scope=v.id))
            got.append(read_list(rec, m.BACKUP_POLICIES, lambda: backup.backup_policies.list(name, rg, filter=AZURE_IAAS_VM),
                                 rsv.map_policy, scope=v.id))
            got.append(read_list(rec, m.REPLICATION_ITEMS, lambda: asr.replication_protected_items.list(rg, name),
                                 rsv.map_replication_item, scope=v.id))
        gaps = [f"{c.collector}:{c.status}" for c in rec.records() if c.status != m.OK]
        return sum(len(x) for x in got), gaps

    c0, t0 = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=min(CollectOptions().subscription_workers, len(subs))) as pool:
        results = list(pool.map(one, subs))
    conn.send({"requests": factory.ledger.count, "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
               "rows": sum(r for r, _ in results), "gaps": [g for _, gaps in results for g in gaps]})


class _Quota:
    """The client's side of Resource Graph's per-user quota: it waits for the window to reset when
    the last answer said nothing is left (as Microsoft's throttling guidance recommends)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.lock = threading.Lock()
        self.remaining = ARG_QUOTA
        self.resets_at = 0.0

    def take(self) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                if now >= self.resets_at and self.remaining <= 0:
                    self.remaining = ARG_QUOTA  # the window the last answer announced is over
                if self.remaining > 0:
                    self.remaining -= 1
                    return
                wait = self.resets_at - now
            time.sleep(max(0.001, wait))

    def update(self, headers: Any) -> None:
        try:
            left = int(headers[QUOTA_REMAINING])
            h, mnt, sec = (int(x) for x in headers[QUOTA_RESETS].split(":"))
        except (KeyError, ValueError):
            return
        with self.lock:
            self.remaining = min(self.remaining, left)
            self.resets_at = time.monotonic() + (h * 3600 + mnt * 60 + sec) / self.scale


def _arg_lists(endpoint: str, ca: str, subs: list[str], scale: float, conn: Any) -> None:
    """The same data through Resource Graph: one paged query per table/type for all subscriptions."""
    from concurrent.futures import ThreadPoolExecutor

    import requests
    session = requests.Session()
    session.verify = ca
    session.trust_env = False
    quota = _Quota(scale)
    sent, throttled = [0], [0]
    lock = threading.Lock()
    url = f"{endpoint}/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01"
    headers = {"Authorization": "Bearer benchmark-token"}

    def query(table_type: tuple[str, str]) -> int:
        table, rtype = table_type
        rows, token = 0, None
        while True:
            options: dict[str, Any] = {"$top": ARG_PAGE, "resultFormat": "objectArray"}
            if token:
                options["$skipToken"] = token
            quota.take()
            with lock:
                sent[0] += 1
            answer = session.post(url, headers=headers, timeout=120, json={
                "subscriptions": subs, "query": f"{table} | where type =~ '{rtype}' | order by id asc", "options": options})
            quota.update(answer.headers)
            if answer.status_code == 429:
                with lock:
                    throttled[0] += 1
                continue
            answer.raise_for_status()
            body = answer.json()
            rows += len(body["data"])
            token = body.get("$skipToken")
            if not token:
                return rows

    c0, t0 = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        rows = sum(pool.map(query, list(ARG_TYPES.values())))
    conn.send({"requests": sent[0], "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "rows": rows,
               "throttled": throttled[0]})


# --------------------------------------------------------------------------- the run
def run_case(name: str, scale: float) -> dict:
    n_subs, each = CASES[name]
    ctx = mp.get_context("spawn")
    subs = [subscription_id(k) for k in range(n_subs)]
    sim, parent = children.spawn(ctx, _serve, n_subs, each, scale, name="simulator")
    out: dict[str, Any] = {"case": name, "subscriptions": n_subs, "vms": n_subs * each, "scale": scale}
    try:
        info = children.receive(parent, sim)
        for phase, target, args in (("scan", _scan, (scale, False, None, 1)), ("arm", _arm_lists, (scale,)),
                                    ("arg", _arg_lists, (scale,))):
            got = _child(target, info["endpoint"], info["ca"], subs, *args, ctx=ctx)
            children.send(parent, sim, "count")
            out[phase] = {**got, **children.receive(parent, sim)}
        children.send(parent, sim, "stop")
        sim.join()
    finally:
        children.stop(sim)  # gone already, unless a phase failed
    out["expected_rows"] = sum(n for key, n in info["expected"].items())
    # Both ways read every row once, except the VM list, which ARM reads twice (full and status-only).
    out["expected_arm_rows"] = out["expected_rows"] + info["expected"]["virtualMachines"]
    return out


def table(results: list[dict]) -> str:
    head = (f"{'case':>7} {'VMs':>5} | {'scan req':>8} {'wall s':>6} | {'ARM lists req':>13} {'wall s':>6} {'CPU s':>5} | "
            f"{'ARG queries':>11} {'429s':>4} {'wall s':>6} {'CPU s':>5} | {'scan w/ ARG req':>15} {'saved':>6}")
    lines = [head, "-" * len(head)]
    for r in results:
        s, a, g = r["scan"], r["arm"], r["arg"]
        with_arg = s["requests"] - a["requests"] + g["requests"]
        lines.append(f"{r['case']:>7} {r['vms']:>5} | {s['requests']:>8} {s['wall'] * r['scale']:>6.1f} | "
                     f"{a['requests']:>13} {a['wall'] * r['scale']:>6.1f} {a['cpu']:>5.1f} | "
                     f"{g['requests']:>11} {g['arg_429'] + g['throttled']:>4} {g['wall'] * r['scale']:>6.1f} {g['cpu']:>5.1f} | "
                     f"{with_arg:>15} {1 - with_arg / s['requests']:>6.0%}")
    lines.append(f"time scale {results[0]['scale']:g} (walls in ARM seconds); ARM: {BURST} burst, {REFILL:g}/s per subscription, "
                 f"{LATENCY * 1000:g} ms; ARG: {ARG_QUOTA} queries per {ARG_WINDOW:g} s, {ARG_PAGE} rows a page, same latency")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="default: every case")
    ap.add_argument("--time-scale", type=float, default=1.0, help="run ARM's and ARG's clocks K times faster (CPU is not)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results")
    ns = ap.parse_args()
    results = []
    for name in ns.case or DEFAULT_CASES:
        try:
            r = run_case(name, ns.time_scale)
        except children.ChildDied as exc:  # one line, not a parent waiting forever on a dead child's pipe
            print(f"benchmarks/arg.py: case {name}: {exc}", file=sys.stderr)
            return 2
        checks = {"ARM rows": (r["arm"]["rows"], r["expected_arm_rows"]), "ARG rows": (r["arg"]["rows"], r["expected_rows"])}
        for what, (got, want) in checks.items():
            if got != want:
                print(f"{name}: {what} {got} != {want} expected", file=sys.stderr)
        if r["arm"]["gaps"] or r["scan"]["gaps"] or r["scan"]["writes"] or r["arm"]["writes"]:
            print(f"{name}: gaps or writes: {r['arm']['gaps'][:5]} {r['scan']['gaps'][:5]}", file=sys.stderr)
        results.append(r)
        print(table([r]).splitlines()[-2], flush=True)
    print(table(results))
    if ns.json:
        Path(ns.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
