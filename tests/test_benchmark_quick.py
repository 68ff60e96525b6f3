"""The quick run of the benchmark (benchmarks/run.py, 1,000 VMs): against a simulator that keeps
ARM's read bucket per subscription, the scan sends no more than 2 % over the requests the
composition needs, is rarely answered 429, and loses nothing. Timing is the full benchmark's
business (not asserted here)."""
from __future__ import annotations

from benchmarks.run import Case, memory_timeline, run_case, table


def test_quick_benchmark_paces_to_the_bucket_and_loses_nothing():
    result = run_case(Case("1k", 1, 1000), scale=20.0, rss_with_save=False)
    scan = result["throttled"]
    assert result["lost"] == 0, scan["gaps"]
    assert scan["requests"] <= 1.02 * result["minimum_total"]
    assert scan["answered_429"] < 0.01 * scan["requests"]
    # The minimum is the composition's, and the scan delivered every resource of it.
    assert scan["views"] == result["wanted"]["views"] > 0
    assert scan["rps"] == result["wanted"]["rps"] > 0
    # The scanner process does what the command does after collect (the SDK packages released, the
    # rules, then the JSON report file), and says at the end of which phase its peak RSS was reached.
    phases = [p[0] for p in scan["memory"]["phases"]]
    assert phases == ["imports", "collect", "release SDK", "evaluate", "write report"]
    peaks = [p[3] for p in scan["memory"]["phases"]]
    assert peaks == sorted(peaks) and peaks[-1] <= scan["rss_mib"] + 1
    assert scan["memory"]["samples"]
    assert "write report" in memory_timeline(result)
    # The rules column: wall seconds around evaluate_inventory, and beside it the same span's CPU
    # seconds (process time); one thread does the rules, so the CPU cannot exceed the wall.
    assert 0 < scan["rules_cpu"] <= scan["rules"] + 0.01
    head, row = table([result]).splitlines()[:2]
    assert head.split()[-5:] == ["rules", "s", "rules", "CPU", "K"]
    assert row.split()[-3:] == [f"{scan['rules']:.2f}", f"{scan['rules_cpu']:.2f}", "20"]
