"""Splitting a tenant over a CI matrix (`--shard K/N`) and joining the shards' reports again
(`az-bcdr-scan merge`).

The split is stable: subscriptions are ordered by the SHA-256 of their lower-cased id and dealt
round-robin, so shard K of N gets the same subscriptions on every run over the same set, the
shards never overlap and together cover every subscription, and adding one subscription moves few
others. Every shard of a matrix lists the same subscriptions (`--all-subscriptions` or the same
`--subscription` list) and resolves them the same way.

`merge` unions what the reports saw: rules (a rule must have run with the same severity and
params in every report), coverage (one record per subscription x collector), findings (deduplicated
by fingerprint), readiness (by VM), passes and resource counts (summed over the shards, whose
subscriptions are disjoint); the summary is recomputed from the merged findings as for any report.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Sequence

from rules.base import FAIL, SEVERITY_RANK

from .model import Coverage, Finding, Report, RuleDescriptor, ScanInfo, SuppressionsReport, VmReadiness

_SHARD = re.compile(r"([0-9]+)/([0-9]+)")


class MergeError(ValueError):
    """Reports that cannot be merged (one line, exit 2)."""


def parse_shard(value: str) -> tuple[int, int]:
    """`K/N` with 1 <= K <= N."""
    m = _SHARD.fullmatch(value.strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"--shard {value!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
    return int(m.group(1)), int(m.group(2))


def shard_subscriptions(subscriptions: Sequence[str], k: int, n: int) -> tuple[str, ...]:
    """The subscriptions of shard `k` of `n` (README, "Sharding and merging")."""
    ordered = sorted({s.lower() for s in subscriptions}, key=lambda s: (hashlib.sha256(s.encode()).hexdigest(), s))
    mine = set(ordered[k - 1::n])
    return tuple(s for s in subscriptions if s.lower() in mine)


def merge_reports(reports: Sequence[Report]) -> Report:
    if not reports:
        raise MergeError("merge needs at least one report")
    rules: dict[str, RuleDescriptor] = {}
    for i, report in enumerate(reports):
        for rule in report.rules:
            known = rules.setdefault(rule.id, rule)
            if known != rule:
                raise MergeError(f"report {i + 1}: rule {rule.id} ran with other settings than in an earlier report "
                                 f"(severity or params differ): merge reports of one configuration")
    coverage: dict[tuple[str, str], Coverage] = {}
    for report in reports:
        for c in report.coverage:
            coverage.setdefault((c.subscription_id.lower(), c.collector), c)
    findings: dict[str, Finding] = {}
    for report in reports:
        for f in report.findings:
            findings.setdefault(f.fingerprint, f)
    readiness: dict[str, VmReadiness] = {}
    for report in reports:
        for vm in report.readiness:
            readiness.setdefault(vm.vm_id, vm)
    passed: dict[str, int] = {}
    resources: dict[str, int] = {}
    for report in reports:
        for code, count in report.passed_by_rule.items():
            passed[code] = passed.get(code, 0) + count
        for kind, count in report.resources_by_type.items():
            resources[kind] = resources.get(kind, 0) + count
    subs: list[str] = []
    for report in reports:
        subs += [s for s in report.scan.subscriptions if s not in subs]
    ordered = sorted(findings.values(), key=lambda f: (f.status != FAIL, -SEVERITY_RANK[f.severity], f.rule_id,
                                                        f.resource_id.lower()))
    # The shards of one matrix share their scope; reports of different (or unknown) scopes leave it unknown.
    scopes = {(r.scan.scope, r.scan.management_groups) for r in reports}
    scope, groups = scopes.pop() if len(scopes) == 1 else ("", ())
    scan = ScanInfo(started_at=min(r.scan.started_at for r in reports), finished_at=max(r.scan.finished_at for r in reports),
                    subscriptions=tuple(subs), arm_requests=sum(r.scan.arm_requests for r in reports),
                    scope=scope, management_groups=groups)
    return dataclasses.replace(
        reports[0], scan=scan, rules=tuple(rules.values()), coverage=tuple(coverage.values()),
        findings=tuple(ordered), passed_by_rule=passed, resources_by_type=resources,
        rule_errors=tuple(dict.fromkeys(e for r in reports for e in r.rule_errors)),
        readiness=tuple(readiness.values()), baseline=None, suppressions=_suppressions(reports))


def _suppressions(reports: Sequence[Report]) -> SuppressionsReport | None:
    """The shards' stale suppression entries: expired in any shard, unmatched in every shard that
    was given the file (an entry another shard used did match). None when no shard had the file."""
    given = [r.suppressions for r in reports if r.suppressions is not None]
    if not given:
        return None
    expired = tuple(dict.fromkeys(e for g in given for e in g.expired))
    unmatched = tuple(e for e in dict.fromkeys(e for g in given for e in g.unmatched)
                      if all(e in g.unmatched for g in given))
    return SuppressionsReport(expired=expired, unmatched=unmatched)
