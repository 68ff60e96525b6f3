"""What the rules share while one inventory is evaluated (indexes built once, one PASS Result per
resource, the protected VMs and their instance views derived once: scanner.vocabulary.shared_passes,
rules._common.per_inventory) must never change a result. Each rule is checked against itself
evaluated alone on a fresh copy of the inventory, where nothing is shared, over the demo
subscription collected through the real SDK clients from the simulator, with full coverage and
with gaps (the engine's per-rule views)."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from scanner import inventory as m
from scanner.api import ScanOptions, demo_options, scan
from scanner.engine import Evaluation, evaluate


@pytest.fixture(scope="module")
def demo_inventory() -> m.Inventory:
    seen: list[m.Inventory] = []
    with demo_options(ScanOptions()) as options:
        scan(options, on_inventory=seen.append)
    return seen[0]


def _key(ev: Evaluation) -> tuple[list[Any], dict[str, int], dict[str, tuple[str, ...]]]:
    findings = [(f.rule_id, f.status, f.severity, f.resource_id, f.message, json.dumps(f.evidence, sort_keys=True, default=str),
                 f.fingerprint, f.affected_vms) for f in ev.findings]
    return findings, dict(ev.passed), dict(ev.passed_resources)


def _alone(inv: m.Inventory, codes: tuple[str, ...]) -> tuple[list[Any], dict[str, int], dict[str, tuple[str, ...]]]:
    """Every rule on its own fresh copy of the inventory: no index, memo or PASS shared between rules."""
    text = inv.to_json()
    findings: list[Any] = []
    passed: dict[str, int] = {}
    resources: dict[str, tuple[str, ...]] = {}
    for code in codes:
        f, p, r = _key(evaluate(m.Inventory.from_json(text), only=[code]))
        findings += f
        passed.update(p)
        resources.update(r)
    return findings, passed, resources


def _gapped(inv: m.Inventory) -> m.Inventory:
    """The demo with the instance views partial (one VM unreadable) and the route tables failed:
    rules that need them get a view of the inventory, the others see it whole."""
    vm = sorted(v.id for v in inv.virtual_machines if v.instance_view is not None)[0]
    coverage = []
    for c in inv.coverage:
        if c.collector == m.INSTANCE_VIEWS:
            c = dataclasses.replace(c, status=m.PARTIAL, error_code="Throttled", failed_scopes=(vm,))
        elif c.collector == m.ROUTE_TABLES:
            c = dataclasses.replace(c, status=m.FAILED, error_code="AuthorizationFailed")
        coverage.append(c)
    return dataclasses.replace(inv, coverage=tuple(coverage))


@pytest.mark.parametrize("gaps", [False, True], ids=["full-coverage", "with-gaps"])
def test_shared_evaluation_equals_each_rule_alone(demo_inventory, gaps):
    inv = _gapped(demo_inventory) if gaps else demo_inventory
    together = evaluate(m.Inventory.from_json(inv.to_json()))
    findings, passed, resources = _alone(inv, together.rules_run)
    order = sorted(findings, key=lambda f: (f[1] != "FAIL", f[2], f[0], f[3].lower()))
    got = _key(together)
    assert sorted(got[0], key=lambda f: (f[1] != "FAIL", f[2], f[0], f[3].lower())) == order
    assert got[1] == passed and got[2] == resources
    assert sum(passed.values()) > 100 and len(findings) > 50  # the demo judges plenty of both
    if gaps:
        assert any(f[1] == "NOT_ASSESSED" and "partial" in f[4] for f in findings)


def test_evaluating_another_inventory_in_between_changes_nothing(demo_inventory):
    """The one-slot memos follow the inventory they are given, not the last one seen."""
    first = _key(evaluate(demo_inventory))
    evaluate(_gapped(demo_inventory))
    assert _key(evaluate(demo_inventory)) == first


def test_the_collector_is_back_on_after_evaluation_and_stays_off_if_it_was(demo_inventory):
    import gc

    from scanner.api import evaluate_inventory
    assert gc.isenabled()
    evaluate_inventory(demo_inventory)
    assert gc.isenabled()
    gc.disable()
    try:
        evaluate(demo_inventory)
        assert not gc.isenabled()
    finally:
        gc.enable()
