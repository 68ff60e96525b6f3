"""--shard K/N and `merge`: a stable, disjoint, complete split of the subscriptions, and merged
reports that equal one scan of everything (findings by fingerprint, coverage, recomputed summary,
exit code of the merged report). The real engine, the real CLI, real files."""
from __future__ import annotations

import json
import uuid

import pytest
import report_scenarios as rs
from hypothesis import given
from hypothesis import strategies as st

from scanner.merge import MergeError, merge_reports, parse_shard, shard_subscriptions
from scanner.model import Report
from scanner.policy import EXIT_USAGE, exit_code
from scanner.report import validate_report

SUBS = st.lists(st.uuids().map(str), min_size=0, max_size=40, unique=True)


@given(SUBS, st.integers(1, 6))
def test_shards_are_disjoint_complete_and_stable(subs, n):
    shards = [shard_subscriptions(subs, k, n) for k in range(1, n + 1)]
    assert sorted(s for shard in shards for s in shard) == sorted(subs)  # complete, no overlap
    # the input order does not decide which shard a subscription lands in
    assert [set(x) for x in shards] == [set(shard_subscriptions(list(reversed(subs)), k, n)) for k in range(1, n + 1)]
    assert max(map(len, shards)) - min(map(len, shards)) <= 1  # dealt evenly


def test_shard_assignment_does_not_depend_on_casing_or_order():
    subs = [str(uuid.UUID(int=i)) for i in range(1, 9)]
    assert set(shard_subscriptions(subs, 2, 3)) == {s.lower() for s in shard_subscriptions([s.upper() for s in subs], 2, 3)}


@pytest.mark.parametrize("bad", ["0/2", "3/2", "2", "a/b", "1/0", ""])
def test_bad_shard_values(bad):
    with pytest.raises(ValueError):
        parse_shard(bad)
    assert parse_shard("2/4") == (2, 4)


def _split(report: Report, sub: str) -> Report:
    """The part of `report` one shard scanning only `sub` would have made."""
    import dataclasses
    return dataclasses.replace(
        report, scan=dataclasses.replace(report.scan, subscriptions=(sub,)),
        coverage=tuple(c for c in report.coverage if c.subscription_id == sub),
        findings=tuple(f for f in report.findings if f.subscription_id == sub),
        readiness=tuple(v for v in report.readiness if v.subscription_id == sub))


def test_merge_of_the_shards_is_the_whole_report():
    import factories as f
    whole = rs.report()
    a, b = _split(whole, f.SUB), _split(whole, f.SUB2)
    assert a.findings and b.findings
    merged = merge_reports([a, b, a])  # a shard uploaded twice dedupes by fingerprint
    validate_report(merged)
    assert [x.fingerprint for x in merged.findings] == [x.fingerprint for x in whole.findings]
    assert set(merged.coverage) == set(whole.coverage)
    assert merged.summary.failed == whole.summary.failed and merged.summary.not_assessed == whole.summary.not_assessed
    assert exit_code(merged, "high") == exit_code(whole, "high")


def test_merge_refuses_reports_of_other_configurations():
    from scanner.engine import RuleSettings
    inv = rs.scenario()
    other = rs.report(inv, rs.evaluation(inv, settings={"BCDR501": RuleSettings(severity="low")}))
    with pytest.raises(MergeError, match="BCDR501"):
        merge_reports([rs.report(), other])


def test_cli_shards_and_merge(run_cli, tmp_path):
    """The demo has one subscription: of two shards one scans it and one scans nothing; merged they
    are the unsharded scan."""
    whole = run_cli("--demo", "--fail-on", "high", "-o", "whole.json")
    codes = [run_cli("--demo", "--shard", f"{k}/2", "--fail-on", "high", "-o", f"s{k}.json", "-o", f"s{k}.sarif").code
             for k in (1, 2)]
    shards = [json.loads((tmp_path / f"s{k}.json").read_text(encoding="utf-8")) for k in (1, 2)]
    assert [s["scan"]["shard"] for s in shards] == ["1/2", "2/2"]
    assert sorted(len(s["scan"]["subscriptions"]) for s in shards) == [0, 1]
    categories = [json.loads((tmp_path / f"s{k}.sarif").read_text(encoding="utf-8"))["runs"][0]["automationDetails"]["id"]
                  for k in (1, 2)]
    assert categories == ["az-bcdr-scan/shard-1-of-2/", "az-bcdr-scan/shard-2-of-2/"]
    merged = run_cli("merge", "s1.json", "s2.json", "--fail-on", "high", "-o", "merged.json")
    assert merged.code == whole.code == max(codes), merged.err
    m = json.loads((tmp_path / "merged.json").read_text(encoding="utf-8"))
    w = json.loads((tmp_path / "whole.json").read_text(encoding="utf-8"))
    assert sorted(f["fingerprint"] for f in m["findings"]) == sorted(f["fingerprint"] for f in w["findings"])
    assert m["summary"]["failed_by_rule"] == w["summary"]["failed_by_rule"] and "shard" not in m["scan"]
    bad = run_cli("merge", "s1.json", "missing.json")
    assert bad.code == EXIT_USAGE and len(bad.err.strip().splitlines()) == 1
    assert run_cli("--demo", "--shard", "3/2").code == EXIT_USAGE
