"""The loopback ARM simulator with ARM's read throttling, for the benchmarks.

`ThrottledSimulator` serves a scenario like `scanner.simulator.Simulator` and, like ARM (design.md),
keeps one read bucket per subscription: `burst` tokens (250), refilled at `rate` a second (25). A
request that finds its subscription's bucket empty is answered 429 with the `Retry-After` ARM
would send (whole seconds of its clock); every answer carries
`x-ms-ratelimit-remaining-subscription-reads`. Each answer waits `latency` seconds first (40 ms).

`time_scale` K runs that clock K times faster: refill 25*K a second, Retry-After and latency divided
by K. Every ratio (wall time / floor, 429s / requests) stays what it would be at ARM's pacing, and a
scan that needs ten minutes of ARM fits in a few.
"""
from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from scanner.simulator.server import Simulator, _ArmError, _Response

REMAINING = "x-ms-ratelimit-remaining-subscription-reads"
_SUB = re.compile(r"^/subscriptions/([^/]+)", re.I)


@dataclass
class Bucket:
    burst: float
    rate: float  # tokens per real second (ARM's rate times the time scale)
    tokens: float = 0.0
    refilled: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    wasted: float = 0.0  # refill that found the bucket full (lost for good: the floor assumes none)
    started: float | None = None  # the first request

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self) -> tuple[bool, float]:
        """(a token was there, tokens left afterwards)."""
        with self.lock:
            now = time.monotonic()
            if self.started is None:  # the bucket's clock starts with the scan, not with the simulator
                self.started = self.refilled = now
            filled = self.tokens + (now - self.refilled) * self.rate
            self.wasted += max(0.0, filled - self.burst)
            self.tokens = min(self.burst, filled)
            self.refilled = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True, self.tokens
            return False, self.tokens


def kind(path: str, query: str = "") -> str:
    """What a request asks for, for the timeline: `<collection> list` or `<type> GET`."""
    segments = [x for x in path.split("/") if x]
    if not segments:
        return "other"
    if segments[-1].lower() == "instanceview":
        return "instanceView GET"
    if len(segments) == 2:
        return "subscription GET"
    if len(segments) % 2 == 1:  # /subscriptions/{id}/.../{collection}
        name = segments[-1] + (" (status)" if "statusonly" in query.lower() else "")
        return f"{name} list"
    provider = segments[-3] if len(segments) >= 3 else ""
    return f"{segments[-2]} GET" + (" (key vault)" if provider.lower() == "microsoft.keyvault" else "")


class ThrottledSimulator(Simulator):
    def __init__(self, scenario: Any, *, burst: int = 250, rate: float = 25.0, latency: float = 0.040,
                 time_scale: float = 1.0, throttle: bool = True, **kw: Any) -> None:
        super().__init__(scenario, **kw)
        self.burst, self.rate, self.scale = burst, rate, time_scale
        self.latency = latency / time_scale
        self.throttle = throttle
        self._buckets: dict[str, Bucket] = {}
        self._buckets_lock = threading.Lock()
        self.answered_429 = 0
        self._count_lock = threading.Lock()
        self.timeline: list[tuple[float, str]] = []  # (time.monotonic(), what was asked: see kind())

    def wasted(self) -> dict[str, float]:
        """Per subscription, the refill that found its bucket full (tokens, in ARM's units)."""
        with self._buckets_lock:
            return {sub: b.wasted for sub, b in self._buckets.items()}

    def phases(self) -> list[tuple[str, int, float, float]]:
        """(kind, requests, first, last) over the timeline, in ARM seconds since the first request."""
        events = list(self.timeline)
        if not events:
            return []
        t0 = events[0][0]
        spans: dict[str, list[float]] = {}
        for t, k in events:
            span = spans.setdefault(k, [0, t, t])
            span[0] += 1
            span[2] = t
        return sorted(((k, int(n), (a - t0) * self.scale, (b - t0) * self.scale) for k, (n, a, b) in spans.items()),
                      key=lambda row: row[2])

    def _bucket(self, sub: str) -> Bucket:
        with self._buckets_lock:
            bucket = self._buckets.get(sub)
            if bucket is None:
                bucket = self._buckets[sub] = Bucket(float(self.burst), self.rate * self.scale)
            return bucket

    def intercept(self, method: str, raw_path: str, path: str, query: str, answer: Callable[[], _Response]) -> _Response:
        self.timeline.append((time.monotonic(), kind(path, query)))  # list.append is atomic
        if self.latency:
            time.sleep(self.latency)
        match = _SUB.match(path)
        if not self.throttle or match is None:
            return answer()
        sub = match.group(1).lower()
        ok, left = self._bucket(sub).take()
        if not ok:
            with self._count_lock:
                self.answered_429 += 1
            wait = max(1, math.ceil((1 - left) / self.rate))  # whole seconds of ARM's clock
            return self._error(_ArmError(429, "SubscriptionRequestsThrottled", (
                f"Number of 'read' requests for subscription '{sub}' actor '00000000-0000-4000-8000-0000000000c1' "
                f"exceeded. Please try again after '{wait}' seconds after additional tokens are available. "
                "Refer to https://aka.ms/arm-throttling for additional information."),
                headers={"Retry-After": f"{wait / self.scale:g}", REMAINING: "0"}))
        resp = answer()
        resp.headers = {**(resp.headers or {}), REMAINING: str(int(left))}
        return resp
