"""The client-side read bucket (scanner.arm.ReadPacer) and its place in the guarded transport."""
from __future__ import annotations

import pytest

from scanner.arm import ReadPacer

SUB = "/subscriptions/00000000-0000-4000-8000-000000000001/providers/Microsoft.Compute/virtualMachines"


def test_the_burst_goes_out_at_once_then_requests_wait_for_the_refill():
    pacer = ReadPacer(burst=3, rate=10.0)
    key = pacer.key(SUB)
    waits = [pacer.reserve(key) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.1, abs=0.01)
    assert waits[4] == pytest.approx(0.2, abs=0.01)


def test_each_subscription_has_its_own_bucket_and_tenant_paths_are_not_paced():
    pacer = ReadPacer(burst=1, rate=1.0)
    assert pacer.reserve(pacer.key(SUB)) == 0.0
    other = pacer.key(SUB.replace("0001", "0002"))
    assert other != pacer.key(SUB)
    assert pacer.reserve(other) == 0.0
    assert pacer.key("/subscriptions") is None


def test_the_remaining_reads_header_replaces_the_estimate():
    pacer = ReadPacer(burst=250, rate=25.0)
    key = pacer.key(SUB)
    assert pacer.reserve(key) == 0.0
    pacer.answered(key, 200, "0")  # another client spent the bucket: the service says so
    assert pacer.reserve(key) == pytest.approx(1 / 25, abs=0.01)


def test_a_429_holds_back_only_its_own_request_and_garbage_headers_are_ignored():
    pacer = ReadPacer(burst=250, rate=25.0)
    key = pacer.key(SUB)
    pacer.reserve(key)
    pacer.answered(key, 200, "not-a-number")
    assert pacer.reserve(key) == 0.0
    pacer.answered(key, 429, "0")  # one path throttled (its retry waits Retry-After), not the bucket
    assert pacer.reserve(key) == 0.0
    pacer.answered(key, 200, "-1")  # not a count
    assert pacer.reserve(key) == 0.0


def test_in_flight_follows_the_latency_within_its_bounds():
    pacer = ReadPacer(burst=250, rate=25.0)
    key = pacer.key(SUB)
    assert pacer.in_flight(key, 16) == 16  # nothing answered yet: the cap
    pacer.reserve(key)
    pacer.answered(key, 200, "249", seconds=0.04)  # 25/s x 40 ms = 1 in flight: twice that, plus 2
    assert pacer.in_flight(key, 16) == 4
    for _ in range(40):  # the latency grows to 300 ms: 15 in flight, twice over, is above the cap
        pacer.reserve(key)
        pacer.answered(key, 200, "249", seconds=0.3)
    assert pacer.in_flight(key, 16) == 16
    assert pacer.in_flight(key, 1) == 1
    fast = ReadPacer(burst=250, rate=25.0)
    fast.reserve(key)
    fast.answered(key, 200, "249", seconds=0.0)
    assert fast.in_flight(key, 16) == 2  # never fewer than two
