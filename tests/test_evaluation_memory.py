"""What an evaluation leaves behind (scanner.engine.forget, scanner.report._plain): once the rules
have run, nothing they derived keeps the inventory or its indexes alive, and the report's findings
share the engine findings' evidence instead of holding a second copy. At 10,000 VMs the memos and
indexes are about 20 MiB, and the report is built in the memory they leave.

The demo subscription, collected through the real SDK clients from the simulator."""
from __future__ import annotations

import gc
import weakref

import pytest

from scanner import inventory as m
from scanner.api import ScanOptions, demo_options, evaluate_inventory, scan
from scanner.engine import _INDEXES, evaluate
from scanner.report import _plain, build_report


@pytest.fixture(scope="module")
def demo_text() -> str:
    seen: list[m.Inventory] = []
    with demo_options(ScanOptions()) as options:
        scan(options, on_inventory=seen.append)
    return seen[0].to_json()


@pytest.mark.parametrize("how", ["engine", "api"])
def test_nothing_the_evaluation_built_keeps_the_inventory_alive(demo_text, how):
    inv = m.Inventory.from_json(demo_text)
    alive = weakref.ref(inv)
    if how == "engine":
        result = evaluate(inv)
        assert result.findings and sum(result.passed.values()) > 100  # the memos were used
    else:
        report = evaluate_inventory(inv)
        assert report.findings and report.readiness
    del inv
    gc.collect()
    assert alive() is None


def test_the_inventory_keeps_no_index_after_the_evaluation(demo_text):
    inv = m.Inventory.from_json(demo_text)
    inv.vm_by_id  # built before the evaluation: dropped too (an index is a cache, rebuilt on use)
    evaluation = evaluate(inv)
    assert not [name for name in _INDEXES if name in inv.__dict__]
    again = evaluate(inv)  # and the inventory evaluates the same afterwards
    assert [(f.rule_id, f.resource_id, f.fingerprint) for f in again.findings] == [
        (f.rule_id, f.resource_id, f.fingerprint) for f in evaluation.findings]


def test_the_report_shares_the_engine_findings_evidence(demo_text):
    inv = m.Inventory.from_json(demo_text)
    evaluation = evaluate(inv)
    report = build_report(evaluation, inv, started_at="2026-01-01T00:00:00Z", finished_at="2026-01-01T00:00:01Z",
                          arm_requests=0, tool_version="test")
    pairs = list(zip(evaluation.findings, report.findings))
    assert pairs and all(a.fingerprint == b.fingerprint for a, b in pairs)
    assert all(b.evidence is a.evidence for a, b in pairs if _plain(a.evidence) is a.evidence)
    assert sum(1 for a, b in pairs if b.evidence is a.evidence) > len(pairs) / 2


def test_evidence_that_is_not_plain_is_still_converted():
    evidence = {"disks": ("a", "b"), "nested": {"n": [1, {2}]}, "ok": ["x", 1, None], "nan": float("nan")}
    plain = _plain(evidence)
    assert plain == {"disks": ["a", "b"], "nested": {"n": [1, [2]]}, "ok": ["x", 1, None], "nan": "nan"}
    assert plain is not evidence and plain["ok"] is evidence["ok"]  # the plain part is shared
    assert evidence["disks"] == ("a", "b")  # the engine's evidence is left as it was
    same = {"a": "b", "n": [1, {"x": True}]}
    assert _plain(same) is same
    assert _plain({1: "key not a string"}) == {"1": "key not a string"}


def test_the_parsed_times_are_dropped_when_the_evaluation_ends(demo_text, monkeypatch):
    from scanner import engine, timeutil
    # The demo's times all take the uncached path (timeutil._arm_utc); times in other shapes are cached.
    monkeypatch.setattr(timeutil, "_arm_utc", lambda value: None)
    inv = m.Inventory.from_json(demo_text)
    evaluate(inv)
    assert timeutil._parse.cache_info().currsize == 0
    monkeypatch.setattr(engine, "forget_times", lambda: None)  # without it, the rules' parses stay
    evaluate(inv)
    assert timeutil._parse.cache_info().currsize > 10
