"""scanner.timeutil.parse: the uncached path for the times ARM sends (`_arm_utc`) gives exactly what
the general, cached path (`_parse`) gives for every string it accepts (whatever fromisoformat reads
as UTC), and leaves the rest to it."""
from __future__ import annotations

from datetime import timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scanner import timeutil
from scanner.timeutil import _arm_utc, parse, parse_once

general = timeutil._parse.__wrapped__  # the cached path, without its cache


def same(a, b) -> bool:
    return a == b and (a is None or (a.tzinfo is b.tzinfo and a.isoformat() == b.isoformat()))


@pytest.mark.parametrize("value", [
    "2026-12-01T11:47:20.0180234Z",  # real job times: 7 fractional digits (../shared/real-responses)
    "2026-12-01T11:47:20.018023Z", "2026-12-01T11:47:20.018Z", "2026-12-01T11:47:20.0Z", "2026-12-01T11:47:20Z",
    "2026-12-01T11:47:20.0180234+00:00", "2026-12-01T11:47:20+00:00", "2026-12-01T11:47:20.01802399999Z",
    "2026-12-01T11:47:20.Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z", "2001-01-01T00:00:00Z",
])
def test_the_times_arm_sends_take_the_uncached_path_with_the_same_answer(value):
    fast = _arm_utc(value)
    assert fast is not None and fast.tzinfo is timezone.utc
    assert same(fast, general(value))
    assert same(parse(value), general(value))
    assert same(parse_once(value), general(value))


@pytest.mark.parametrize("value", [
    "2026-12-01T11:47:20-00:00", "2026-12-01T11:47Z", "2026-12-01T114720Z",
])
def test_other_shapes_fromisoformat_reads_as_utc_take_the_uncached_path_with_the_same_answer(value):
    fast = _arm_utc(value)
    assert fast is not None and fast.tzinfo is timezone.utc
    assert same(fast, general(value))


@pytest.mark.parametrize("value", [
    "2026-12-01T11:47:20.018023+01:00", " 2026-12-01T11:47:20Z", "2026-12-01T11:47:20Z ",
    "2026-12-01T24:00:00Z", "2026-12-01.11:47:20.0180234Z", "2026-12-01 11:47:20Z", "20261201T114720Z", "2026-02-30T00:00:00Z",
    "2026-12-01T11:47:2\u0663Z", "2026-12-01T11:47:20.01802\uff13Z", "2026-12-01T11:47:20.018023z", "2026-12-01",
    "9999-12-31T23:59:59-01:00", "not a time at all, really", "\udcff",
])
def test_other_strings_are_left_to_the_general_path(value):
    assert _arm_utc(value) is None
    assert same(parse(value), general(value))
    assert same(parse_once(value), general(value))


_TEMPLATE = "2026-12-01T11:47:20.0180234Z"
_CHARS = "0123456789-T:.,Z+ zt\u0663\uff13"


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_TEMPLATE) + 6), st.sampled_from(["set", "insert", "delete"]),
                          st.sampled_from(_CHARS)), max_size=4),
       st.sampled_from(["Z", "+00:00", "-00:00", "+01:00", ""]))
@example([], "+00:00")
def test_any_near_arm_time_parses_as_the_general_path_parses_it(edits, suffix):
    chars = list(_TEMPLATE[:-1] + suffix)
    for at, how, ch in edits:
        at = min(at, len(chars))
        if how == "insert":
            chars.insert(at, ch)
        elif at < len(chars):
            if how == "set":
                chars[at] = ch
            else:
                del chars[at]
    value = "".join(chars)
    fast = _arm_utc(value)
    if fast is not None:
        assert same(fast, general(value)), value
    assert same(parse(value), general(value)), value
    assert same(parse_once(value), general(value)), value


def test_the_collectors_read_the_times_arm_sends_on_the_uncached_fast_path(monkeypatch):
    # parse_once (collect: each job's start and end) takes _arm_utc as parse does, not the general path.
    timeutil.forget()
    general_calls = []
    monkeypatch.setattr(timeutil._parse, "__wrapped__", lambda value: general_calls.append(value) or general(value))
    assert same(parse_once("2026-12-01T11:47:20.0180234Z"), general("2026-12-01T11:47:20.0180234Z"))
    assert general_calls == []
    assert same(parse_once("2026-12-01T11:47:20.018023+01:00"), general("2026-12-01T11:47:20.018023+01:00"))
    assert general_calls == ["2026-12-01T11:47:20.018023+01:00"]
    assert timeutil._parse.cache_info().currsize == 0


def test_the_times_arm_sends_are_not_cached():
    timeutil.forget()
    parse("2026-12-01T11:47:20.0180234Z")
    assert timeutil._parse.cache_info().currsize == 0
    parse("2026-12-01T11:47:20.018023+01:00")  # another offset: the general, cached path
    assert timeutil._parse.cache_info().currsize == 1
    timeutil.forget()
