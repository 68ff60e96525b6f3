"""Time helpers. Rules never read the clock: they compare against `Inventory.collected_at`."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str | None) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    return _arm_utc(value) or _parse(value)


def _arm_utc(value: str) -> datetime | None:
    """The times ARM sends nearly always ('2026-12-01T11:47:20.0180234Z', '...+00:00', no fraction),
    parsed without the cache: datetime.fromisoformat (3.11) reads them as they are, 'Z' and 7-digit
    fractions included (truncated to 6, as `_parse` does), in about a tenth of `_parse`'s time, so
    caching them would cost more than it saves, and real times are nearly all distinct (each job's
    start and end: at 10,000 VMs the cache held ~50,000 datetimes during the evaluation). Whatever
    fromisoformat reads as UTC (its zero offsets, 'Z', '+00:00', '-00:00', give timezone.utc itself)
    `_parse` reads as the same time: `_parse` normalises the fraction and 'Z' and then calls
    fromisoformat too, and moving a UTC time to UTC changes nothing. So the answer is taken as it
    is; of the string's shape only the 'T' after a YYYY-MM-DD date is checked first (fromisoformat
    takes any character there, '.' included, which `_parse` would read as the start of the
    fraction); the full check of the shape cost more than the parse. None for anything else (a
    naive time, another offset, another separator, no time at all): `parse` then takes the general,
    cached path (tests/test_timeutil.py)."""
    if len(value) < 11 or value[10] != "T":
        return None
    try:
        when = _fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is _UTC else None


_fromisoformat = datetime.fromisoformat
_UTC = timezone.utc


def parse_once(value: str | None) -> datetime | None:
    """`parse` without the cache, for a time read once (the collectors: each job's start and end,
    a restore point's creation). Real times are nearly all distinct: through the cache they would
    fill it during collect, 65,536 datetimes at 10,000 VMs held until the evaluation ends, and push
    out what the rules parse again and again. The times ARM sends take `_arm_utc`, as in `parse`."""
    if not value or not isinstance(value, str):
        return None
    return _arm_utc(value) or _parse.__wrapped__(value)


def forget() -> None:
    """Drop the parsed times (engine.forget, when an evaluation ends). Real jobs carry times to the
    100 ns, nearly all distinct: at 10,000 VMs the cache fills with ~50,000 datetimes that no later
    step reads, and would otherwise hold them for the life of the process."""
    _parse.cache_clear()


@lru_cache(maxsize=65536)  # rules parse the same job and backup times many times over
def _parse(value: str) -> datetime | None:
    """Parse an ARM timestamp ('2017-08-03T05:31:07.014604Z', '+00:00', 7-digit fractions)."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # ARM sends up to 7 fractional digits; fromisoformat takes at most 6.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[i:]}"
    try:
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # e.g. 9999-12-31T23:59:59-01:00 overflows when moved to UTC
        return None


def hours_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600.0
