#!/usr/bin/env python3
"""Re-record the collector cassettes in fixtures/cassettes/.

  python scripts/record_cassettes.py
      against the loopback ARM simulator serving fixtures/scenarios/cassette.json (bodies shaped
      like the official REST examples), with and without injected faults.
  python scripts/record_cassettes.py --live --subscription ID [--arm-endpoint URL]
      against a real subscription you can read (credentials: AZURE_ACCESS_TOKEN or
      DefaultAzureCredential). Writes fixtures/cassettes/live_<pseudonym>.yaml.

Every recording goes through tests/cassettes.py before it is written: headers dropped (no
Authorization), tokens / SAS signatures / keys redacted, subscription and tenant GUIDs replaced by
stable pseudonyms, the host rewritten to management.azure.com. The clock is frozen at
FROZEN_NOW so the backup-job $filter dates replay identically.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cassettes import CASSETTES, FROZEN_NOW, make_vcr, pseudonym  # noqa: E402
from simfaults import Fault, FaultySimulator  # noqa: E402

from scanner import inventory as m  # noqa: E402
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential, make_credential  # noqa: E402
from scanner.collect import CollectOptions, collect  # noqa: E402
from scanner.simulator import load_scenario  # noqa: E402
from scanner.timeutil import parse  # noqa: E402

SCENARIO = ROOT / "fixtures" / "scenarios" / "cassette.json"
# One worker: a cassette is an ordered transcript, and replay must not depend on thread timing.
OPTIONS = CollectOptions(workers=1, subscription_workers=1)

# name -> faults injected while recording (the faults are what the replay tests assert on)
SIM_CASSETTES = {
    "collect_full": [],
    "collect_vault_forbidden": [
        Fault.authorization_failed(r"/backupProtectedItems$"),
        Fault.resource_not_found(r"/virtualMachines/app/instanceView$", first=1, times=1),
    ],
    "collect_locks_forbidden": [Fault.authorization_failed(r"/Microsoft\.Authorization/locks$")],
}


def record(name: str, factory: ClientFactory, subs: list[str], source_hosts: tuple[str, ...]) -> m.Inventory:
    path = CASSETTES / f"{name}.yaml"
    path.unlink(missing_ok=True)
    with make_vcr(source_hosts, record_mode="all").use_cassette(path.name):
        inv = collect(factory, subs, OPTIONS, now=parse(FROZEN_NOW))
    print(f"{path.relative_to(ROOT)}: {inv.arm_requests} requests, "
          f"{sum(1 for c in inv.coverage if c.status != m.OK)} coverage gaps")
    return inv


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--live", action="store_true", help="record against a real subscription")
    ap.add_argument("--subscription", help="subscription id (with --live)")
    ap.add_argument("--arm-endpoint", default="https://management.azure.com")
    args = ap.parse_args()
    CASSETTES.mkdir(parents=True, exist_ok=True)
    if args.live:
        if not args.subscription:
            ap.error("--live needs --subscription")
        factory = ClientFactory(make_credential(), ArmSettings(endpoint=args.arm_endpoint))
        record(f"live_{pseudonym(args.subscription)[-12:]}", factory, [args.subscription.lower()],
               (urlsplit(args.arm_endpoint).netloc,))
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
