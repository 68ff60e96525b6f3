"""Loopback ARM simulator: a small HTTPS server that plays Azure Resource Manager for the real
Azure SDK clients, for `az-bcdr-scan --demo` and the end-to-end and fault-injection tests.

    from scanner.simulator import Simulator, Fault, load_scenario
    with Simulator(load_scenario("demo"), faults=[Fault.throttle("/backupJobs", times=1)]) as sim:
        ...  # point clients at sim.endpoint, verify TLS with sim.ca_path, inspect sim.ledger
"""
from .faults import Fault, drop_fields, set_fields
from .scenario import ScenarioError, load_scenario
from .server import Ledger, LedgerEntry, Simulator

__all__ = ["Fault", "Ledger", "LedgerEntry", "ScenarioError", "Simulator", "drop_fields", "load_scenario", "set_fields"]
