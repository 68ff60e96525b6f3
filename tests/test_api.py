"""The library entry points (scanner.api) and the scope step (scanner.scope), over the real Azure
SDK clients against the loopback ARM simulator: what the CLI wraps, called without a shell."""
from __future__ import annotations

import dataclasses
import json

import pytest

from scanner.api import ScanOptions, demo_options, evaluate_inventory, scan
from scanner.arm import StaticTokenCredential
from scanner.cli import main
from scanner.engine import RuleSettings
from scanner.inventory import Inventory
from scanner.model import Report
from scanner.policy import EXIT_FINDINGS, exit_code
from scanner.scope import ALL_VISIBLE, NAMED, ScopeError
from scanner.simulator import Simulator, load_scenario

SCENARIO = load_scenario("demo")
SUB = SCENARIO["subscriptions"][0].lower()
TOKEN = "api-test-token-5c1e"
UNKNOWN_SUB = "0badc0de-0000-4000-8000-00000000beef"


def options(sim: Simulator, **kw) -> ScanOptions:
    return dataclasses.replace(ScanOptions(endpoint=sim.endpoint, verify=sim.ca_path, credential=StaticTokenCredential(TOKEN),
                                           max_retry_after=1, timeout=60), **kw)


def test_scan_returns_the_report_the_cli_writes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with Simulator(SCENARIO, token=TOKEN) as sim:
        seen: list[Inventory] = []
        report = scan(options(sim, subscriptions=(SUB,)), on_inventory=seen.append)
        requests = len(sim.ledger.snapshot())
        monkeypatch.setenv("AZURE_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_path)
        code = main(["--subscription", SUB, "--arm-endpoint", sim.endpoint, "--max-retry-after", "1",
                     "--format", "json", "--output", str(tmp_path / "r.json")])
    capsys.readouterr()
    assert isinstance(report, Report)
    assert report.scan.subscriptions == (SUB,) and report.scan.arm_requests == requests
    assert [inv.scope for inv in seen] == [NAMED] and seen[0].arm_requests == requests
    cli_report = Report.from_dict(json.loads((tmp_path / "r.json").read_text(encoding="utf-8")))
    key = lambda r: [(f.status, f.rule_id, f.resource_id, f.fingerprint) for f in r.findings]  # noqa: E731
    assert key(report) == key(cli_report) and report.rules == cli_report.rules
    assert exit_code(report, "high") == code == EXIT_FINDINGS


def test_scan_applies_rule_settings():
    with Simulator(SCENARIO, token=TOKEN) as sim:
        report = scan(options(sim, subscriptions=(SUB,), rule_settings={
            "BCDR501": RuleSettings(enabled=False), "BCDR001": RuleSettings(severity="info")}))
    assert "BCDR501" not in report.rules_by_id
    assert report.rule("BCDR001").severity == "info"
    assert {f.severity for f in report.findings if f.rule_id == "BCDR001"} == {"info"}


def test_all_subscriptions_resolves_the_visible_ones():
    with Simulator(SCENARIO, token=TOKEN) as sim:
        seen: list[Inventory] = []
        report = scan(options(sim, all_subscriptions=True), on_inventory=seen.append)
    assert report.scan.subscriptions == tuple(sorted(s.lower() for s in SCENARIO["subscriptions"]))
    assert seen[0].scope == ALL_VISIBLE


@pytest.mark.parametrize("kw,needle", [
    ({"subscriptions": (UNKNOWN_SUB,)}, f"subscription {UNKNOWN_SUB} not found"),
    ({"subscriptions": (SUB,), "credential": StaticTokenCredential("wrong-token-for-this-simulator")},
     f"authentication failed for subscription {SUB}"),
])
def test_scope_errors_stop_before_anything_is_collected(kw, needle):
    with Simulator(SCENARIO, token=TOKEN) as sim:
        with pytest.raises(ScopeError) as info:
            scan(options(sim, **kw))
        paths = [e.path for e in sim.ledger.snapshot()]
    assert needle in str(info.value)
    assert all(p.split("?")[0].rstrip("/").count("/") <= 2 for p in paths), paths  # only /subscriptions[/{id}]


def test_no_usable_credential_is_a_scope_error():
    class Broken:
        def get_token(self, *scopes, **kwargs):
            raise RuntimeError("no token here\nsecond line")
    with Simulator(SCENARIO, token=TOKEN) as sim:
        with pytest.raises(ScopeError, match=r"no usable Azure credentials \(no token here\)"):
            scan(options(sim, subscriptions=(SUB,), credential=Broken()))
        assert sim.ledger.snapshot() == []


def test_evaluate_inventory_reruns_a_saved_inventory_offline():
    with demo_options(ScanOptions(max_retry_after=1, timeout=60)) as opts:
        saved: list[str] = []
        live = scan(opts, on_inventory=lambda inv: saved.append(inv.to_json()))
    inv = Inventory.from_json(saved[0])
    offline = evaluate_inventory(inv)
    assert offline.scan.arm_requests == 0 and offline.scan.started_at == inv.collected_at
    key = lambda r: [(f.status, f.rule_id, f.resource_id, f.fingerprint) for f in r.findings]  # noqa: E731
    assert key(offline) == key(live) and offline.rules == live.rules
