"""Run one rule over an inventory and look at what it said about a resource."""
from __future__ import annotations

from scanner.engine import Finding, evaluate
from scanner.inventory import Inventory


def run(code: str, inv: Inventory, **params) -> list[Finding]:
    from scanner.engine import RuleSettings
    ev = evaluate(inv, {code: RuleSettings(params=params)} if params else None, only=[code])
    return list(ev.findings)


def passes(code: str, inv: Inventory, **params) -> int:
    from scanner.engine import RuleSettings
    ev = evaluate(inv, {code: RuleSettings(params=params)} if params else None, only=[code])
    return ev.passed.get(code, 0)


def outcome(code: str, inv: Inventory, **params) -> str:
    """'PASS' when the rule reported nothing and passed at least one resource, else the status of its one finding."""
    findings = run(code, inv, **params)
    if not findings:
        assert passes(code, inv, **params) >= 1
        return "PASS"
    [finding] = findings
    return finding.status


def statuses(findings: list[Finding]) -> dict[str, str]:
    """resource id (lower) -> status"""
    return {f.resource_id.lower(): f.status for f in findings}
