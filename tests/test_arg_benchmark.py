"""The Resource Graph measurement (benchmarks/arg.py) on its quick case, and the read-only guard that
keeps Resource Graph out of the scanner (docs/resource-graph.md: not adopted). Timing is the
benchmark's business, not asserted here."""
from __future__ import annotations

import pytest
from azure.core.rest import HttpRequest

from benchmarks.arg import ARG_TYPES, run_case
from scanner.arm import READ_ONLY_POSTS, ArmSettings, ClientFactory, ReadOnlyViolation, StaticTokenCredential
from scanner.simulator import Simulator, load_scenario


def test_quick_case_reads_the_same_rows_both_ways_within_the_quota():
    r = run_case("3x10", scale=4.0)
    arm, arg, scan = r["arm"], r["arg"], r["scan"]
    # Every row of the replaceable lists arrived both ways (ARM reads the VM list twice: full and status-only).
    assert arg["rows"] == r["expected_rows"] > 0 and arm["rows"] == r["expected_arm_rows"]
    assert arm["gaps"] == [] and scan["gaps"] == []
    # One page per table/type at this size, paced to the quota: no 429.
    assert arg["requests"] == arg["arg_queries"] == len(ARG_TYPES) and arg["arg_429"] == arg["throttled"] == 0
    # The lists are part of the scan; the simulator saw no write from either (the ARG POST aside).
    assert 0 < arm["requests"] < scan["requests"] and arm["served"] == arm["requests"]
    assert scan["writes"] == arm["writes"] == arg["writes"] == 0


def test_the_guard_still_refuses_the_resource_graph_post():
    """Resource Graph is not adopted: its query POST is not on the allow-list, so the guard refuses it
    before it is sent, like every other POST."""
    assert READ_ONLY_POSTS == frozenset()
    with Simulator(load_scenario("demo")) as sim:
        factory = ClientFactory(StaticTokenCredential("t"), ArmSettings(endpoint=sim.endpoint, verify=sim.ca_path, timeout=30))
        client = factory.resources("00000000-0000-0000-0000-000000000000")
        for path in ("/providers/Microsoft.ResourceGraph/resources", "/providers/Microsoft.Management/getEntities"):
            with pytest.raises(ReadOnlyViolation):
                client.send_request(HttpRequest("POST", f"{sim.endpoint}{path}?api-version=2021-03-01", json={"query": "x"}))
        assert [m for m, _ in factory.ledger.blocked] == ["POST", "POST"] and factory.ledger.sent == []
        assert sim.ledger.snapshot() == []
