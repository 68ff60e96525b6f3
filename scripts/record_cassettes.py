#!/usr/bin/env python3
"""Re-record the collector cassettes in fixtures/cassettes/.

  python scripts/record_cassettes.py
      against the loopback ARM simulator serving fixtures/scenarios/cassette.json (bodies shaped
      like the official REST examples), with and without injected faults.
  python scripts/record_cassettes.py --live --subscription ID [--arm-endpoint URL] [--out DIR]
      against a real subscription you can read (credentials: AZURE_ACCESS_TOKEN or
      DefaultAzureCredential; TLS trust: REQUESTS_CA_BUNDLE / SSL_CERT_FILE). Writes
      live_<pseudonym>.yaml (the scan as the collectors make it: every list, the vault GETs, the
      instance views, restore point counts and the job GETs for failed jobs listed without
      errorDetails) and live_<pseudonym>_job_details.yaml (the job GET of up to
      LIVE_JOB_DETAILS newest failed Backup jobs, whatever the list said, so the recording shows
      whether a job LIST item carries errorDetails), and prints what it captured.

Every recording goes through tests/cassettes.py before it is written: headers dropped (no
Authorization), tokens / SAS signatures / keys redacted, subscription and tenant GUIDs replaced by
stable pseudonyms, the host rewritten to management.azure.com. The clock is frozen at
FROZEN_NOW so the backup-job $filter dates replay identically.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cassettes import CASSETTES, FROZEN_NOW, make_vcr, pseudonym  # noqa: E402
from simfaults import Fault, FaultySimulator  # noqa: E402

from scanner import ids  # noqa: E402
from scanner import inventory as m  # noqa: E402
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential, classify, make_credential, tls_verify_from_env  # noqa: E402
from scanner.collect import CollectOptions, collect  # noqa: E402
from scanner.simulator import load_scenario  # noqa: E402
from scanner.timeutil import parse, utcnow  # noqa: E402

SCENARIO = ROOT / "fixtures" / "scenarios" / "cassette.json"
# One worker: a cassette is an ordered transcript, and replay must not depend on thread timing.
OPTIONS = CollectOptions(workers=1, subscription_workers=1, list_workers=1)

# name -> faults injected while recording (the faults are what the replay tests assert on)
SIM_CASSETTES = {
    "collect_full": [],
    "collect_vault_forbidden": [
        Fault.authorization_failed(r"/backupProtectedItems$"),
        Fault.resource_not_found(r"/virtualMachines/app/instanceView$", first=1, times=1),
    ],
    "collect_locks_forbidden": [Fault.authorization_failed(r"/Microsoft\.Authorization/locks$")],
}


LIVE_JOB_DETAILS = 3  # failed Backup jobs whose job GET a live recording adds


def record(name: str, factory: ClientFactory, subs: list[str], source_hosts: tuple[str, ...],
           out: Path = CASSETTES, now: datetime | None = None) -> m.Inventory:
    path = out / f"{name}.yaml"
    path.unlink(missing_ok=True)
    with make_vcr(source_hosts, record_mode="all", library=out).use_cassette(path.name):
        inv = collect(factory, subs, OPTIONS, now=now or parse(FROZEN_NOW))
    print(f"{_shown(path)}: {inv.arm_requests} requests, "
          f"{sum(1 for c in inv.coverage if c.status != m.OK)} coverage gaps")
    return inv


def record_job_details(name: str, factory: ClientFactory, inv: m.Inventory, source_hosts: tuple[str, ...],
                       out: Path = CASSETTES) -> int:
    """The job GET of the newest failed Backup jobs, in a cassette of its own (the collection
    cassette replays exactly what collect() sends)."""
    failed = sorted((j for j in inv.backup_jobs if j.status.lower() == "failed"),
                    key=lambda j: j.start_time or "", reverse=True)[:LIVE_JOB_DETAILS]
    path = out / f"{name}_job_details.yaml"
    path.unlink(missing_ok=True)
    got = 0
    with make_vcr(source_hosts, record_mode="all", library=out).use_cassette(path.name):
        for job in failed:
            vault = inv.vault_by_id.get(job.vault_id)
            if vault is None:
                continue
            try:
                factory.backup(job.subscription_id).job_details.get(ids.name_of(vault.display_id), vault.resource_group,
                                                                    ids.name_of(job.display_id))
                got += 1
            except Exception as exc:  # noqa: BLE001 - a recording tool: say what failed and go on
                print(f"job GET {ids.name_of(job.display_id)}: {classify(exc)[0]}")
    print(f"{_shown(path)}: {got} job GET(s)")
    return got


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def live(subscription: str, endpoint: str, out: Path, credential: Any = None, now: datetime | None = None) -> m.Inventory:
    factory = ClientFactory(credential or make_credential(), ArmSettings(endpoint=endpoint, verify=tls_verify_from_env()))
    hosts = (urlsplit(endpoint).netloc,)
    name = f"live_{pseudonym(subscription)[-12:]}"
    inv = record(name, factory, [subscription.lower()], hosts, out, now=now or utcnow())
    record_job_details(name, factory, inv, hosts, out)
    cov = {c.collector: c for c in inv.coverage}
    failed = [j for j in inv.backup_jobs if j.status.lower() == "failed"]
    print(f"recorded with now = {inv.collected_at} (replay with the same now); vaults {len(inv.vaults)}, "
          f"vault GETs read {cov[m.VAULT_SETTINGS].items}; failed Backup jobs {len(failed)}, "
          f"listed without errorDetails (job GET by the collector) {cov[m.BACKUP_JOB_DETAILS].items}")
    return inv


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--live", action="store_true", help="record against a real subscription")
    ap.add_argument("--subscription", help="subscription id (with --live)")
    ap.add_argument("--arm-endpoint", default="https://management.azure.com")
    ap.add_argument("--out", type=Path, default=CASSETTES, help="directory for the live cassettes")
    args = ap.parse_args(argv)
    CASSETTES.mkdir(parents=True, exist_ok=True)
    if args.live:
        if not args.subscription:
            ap.error("--live needs --subscription")
        args.out.mkdir(parents=True, exist_ok=True)
        live(args.subscription, args.arm_endpoint, args.out)
        return 0
    scenario = load_scenario(SCENARIO)
    subs = [s["subscriptionId"] if isinstance(s, dict) else s for s in scenario["subscriptions"]]
    for name, faults in SIM_CASSETTES.items():
        with FaultySimulator(scenario, faults=faults, page_size=2) as sim:
            factory = ClientFactory(StaticTokenCredential("recording-token"),
                                    ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=120,
                                                max_retry_after=0, retry_total=0))
            record(name, factory, subs, (urlsplit(sim.endpoint).netloc,))
    return 0


if __name__ == "__main__":
    sys.exit(main())
