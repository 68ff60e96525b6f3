"""Replay recorded ARM bodies through the real scanner: the loopback simulator serves them verbatim
(its `recorded` scenario key), the real SDK clients read them over TLS, the real collectors map them
and the real rules judge the Inventory.

The bodies are read at test time from ../shared (tests/shared_data.py); nothing is copied into the
project. A route is {"path", "query", "body", "list"} as in ../shared/real-responses/routes.json.
"""
from __future__ import annotations

import copy
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from shared_data import REAL_RESPONSES

from scanner import ids
from scanner import inventory as m
from scanner.arm import ArmSettings, ClientFactory, StaticTokenCredential
from scanner.collect import CollectOptions, collect
from scanner.engine import Evaluation, Finding, evaluate
from scanner.simulator import LedgerEntry, Simulator
from scanner.timeutil import parse

BODIES = REAL_RESPONSES / "bodies"
VAULT_CHILD_LISTS = ("backupProtectedItems", "backupPolicies", "backupJobs", "replicationProtectedItems",
                     "replicationJobs", "replicationRecoveryPlans", "replicationFabrics",
                     "replicationProtectionContainerMappings")


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def real_body(name: str) -> Any:
    return load(BODIES / name)


def real_routes() -> tuple[str, list[dict[str, Any]]]:
    """(subscription, routes) of ../shared/real-responses/routes.json, each route with its body loaded."""
    data = load(REAL_RESPONSES / "routes.json")
    return data["subscription"], [{**r, "body": real_body(r["body"]), "file": r["body"]} for r in data["routes"]]


def list_route(path: str, items: list[dict[str, Any]], query: str | None = None) -> dict[str, Any]:
    return {"path": ids.norm(path), "query": query, "body": {"value": copy.deepcopy(items)}, "list": True}


def get_route(path: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"path": ids.norm(path), "query": None, "body": copy.deepcopy(body), "list": False}


def vault_stub(vault_id: str) -> dict[str, Any]:
    """A vault LIST item for the vault a recorded child names in its own id: the list carries
    nothing a rule reads (real responses), so id, name and type are all it needs."""
    display = vault_id.rstrip("/")
    return {"id": display, "name": ids.name_of(display), "type": "Microsoft.RecoveryServices/vaults",
            "location": "westeurope", "properties": {"provisioningState": "Succeeded"}}


def empty_vault_children(routes: list[dict[str, Any]], vault_ids: list[str]) -> list[dict[str, Any]]:
    """Empty lists for the children of vaults no route serves (the recordings hold one vault's)."""
    have = {r["path"] for r in routes}
    return [list_route(f"{vid}/{child}", []) for vid in vault_ids for child in VAULT_CHILD_LISTS
            if ids.norm(f"{vid}/{child}") not in have]


@dataclass
class Replay:
    scenario: dict[str, Any]
    inventory: m.Inventory
    evaluation: Evaluation
    served: list[LedgerEntry]

    @property
    def findings(self) -> list[Finding]:
        return list(self.evaluation.findings)

    def results(self, code: str) -> dict[str, str]:
        """resource name -> status of rule `code`'s findings (PASS results are only counted:
        Evaluation.passed)."""
        return {ids.name_of(f.resource_id): f.status for f in self.findings if f.rule_id == code}

    def finding(self, code: str, resource_name: str) -> Finding:
        [hit] = [f for f in self.findings if f.rule_id == code and ids.name_of(f.resource_id) == resource_name]
        return hit

    def coverage(self, collector: str) -> m.Coverage:
        [cov] = [c for c in self.inventory.coverage if c.collector == collector]
        return cov

    @contextmanager
    def server(self) -> Iterator[tuple[ClientFactory, Simulator]]:
        """The same routes served again, for a call of a test's own through the real SDK clients."""
        with serving(self.scenario) as pair:
            yield pair


@contextmanager
def serving(scenario: dict[str, Any]) -> Iterator[tuple[ClientFactory, Simulator]]:
    with Simulator(scenario) as sim:
        settings = ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=120, max_retry_after=0, retry_total=0)
        yield ClientFactory(StaticTokenCredential("recorded-replay-token"), settings), sim
        assert not sim.writes()


# A subscription no replay scans: with `only_recorded`, the simulator holds this one, so every path
# of the scanned subscription that no route serves is ARM's 404 SubscriptionNotFound.
_ELSEWHERE = "00000000-0000-4000-8000-0000000000ff"


def replay(subscription: str, routes: list[dict[str, Any]], now: str, *, only_recorded: bool = False) -> Replay:
    """One scan of `subscription` against a simulator serving `routes`. Anything else gets the
    simulator's own answer over an empty scenario: an empty list for a subscription-wide list, and
    ARM's 404 for a vault (GET or child list) or VM it does not hold. With `only_recorded`, every
    other path is a 404 (nothing else is known: a VM list is unreadable, not empty)."""
    scenario = {"subscriptions": [_ELSEWHERE if only_recorded else subscription],
                "recorded": [{k: r[k] for k in ("path", "query", "body", "list")} for r in routes]}
    with serving(scenario) as (factory, sim):
        if not only_recorded:
            factory.preflight(subscription)  # as the CLI does before collecting (GET /subscriptions/{id})
        inv = collect(factory, [subscription], CollectOptions(workers=2, subscription_workers=1), now=parse(now))
        served = sim.ledger.snapshot()
    return Replay(scenario, inv, evaluate(inv), served)


def strings(obj: Any) -> list[str]:
    """Every string value in a plain (JSON-like) object."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in strings(v)]
    if isinstance(obj, (list, tuple)):
        return [s for v in obj for s in strings(v)]
    return []
