"""Loopback ARM simulator: a small HTTPS server that plays Azure Resource Manager for the real
Azure SDK clients, for `az-bcdr-scan --demo` and the end-to-end tests.

    from scanner.simulator import Simulator, load_scenario
    with Simulator(load_scenario("demo")) as sim:
        ...  # point clients at sim.endpoint, verify TLS with sim.ca_path, inspect sim.ledger

Fault injection (throttling, 5xx bursts, stalls, foreign nextLinks, damaged bodies) is test
machinery and lives in tests/simfaults.py, on top of `Simulator.intercept`.
"""
from .scenario import ScenarioError, load_scenario
from .server import Ledger, LedgerEntry, Simulator

__all__ = ["Ledger", "LedgerEntry", "ScenarioError", "Simulator", "load_scenario"]
