"""One client factory for every Azure SDK client the scanner uses, with the safety policies built in.

Every client gets:
- a `GuardedTransport`: the last hop before the wire. It lets through only GET (and HEAD), so nothing
  the SDK does on its own (azure-mgmt-core's auto-registration policy POSTs
  `/providers/<rp>/register` on a 409 MissingSubscriptionRegistration) can write to the subscription
  being audited. It also refuses any host but the ARM endpoint, so the bearer token never follows a
  `nextLink` elsewhere, and it enforces the scan's overall deadline.
- a `CappedRetryPolicy`: azure-core sleeps `Retry-After` uncapped (a 429 with `Retry-After: 1200` would
  stall a nightly job for 20 minutes per call). We cap it and give up when the deadline would pass.
- no network-trace logging (headers are never logged).
"""
from __future__ import annotations

import contextlib
import contextvars
import heapq
import json
import logging
import math
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import quote, urlsplit

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
    IncompleteReadError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy
from azure.core.pipeline.policies._retry import RequestHistory
from azure.core.pipeline.transport import RequestsTransport
from azure.core.pipeline.transport._bigger_block_size_http_adapters import BiggerBlockSizeHTTPAdapter
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.util.retry import Retry

from . import redact
from .malloc import importing

log = logging.getLogger(__name__)

PUBLIC_ARM = "https://management.azure.com"
READ_METHODS = frozenset({"GET", "HEAD"})
# Subscription states (GET /subscriptions) a scan can read; disabled and deleted ones are left out
# of --all-subscriptions and of a management group's subscriptions.
SCANNABLE_STATES = frozenset({"enabled", "warning", "pastdue", ""})
# Read-only POSTs that may ever be needed (e.g. a Resource Graph query). None are used today.
READ_ONLY_POSTS: frozenset[str] = frozenset()


# --------------------------------------------------------------------------- errors
class ScanError(Exception):
    """Not an AzureError on purpose: azure-core's RetryPolicy retries AzureErrors, and these must
    stop at once."""

    code = "ScanError"


class ReadOnlyViolation(ScanError):
    code = "ReadOnlyGuard"

    def __init__(self, method: str, url: str):
        self.method, self.url = method, url
        path = urlsplit(url).path
        if path.rstrip("/").endswith("/register"):
            # Only the auto-registration policy sends this: the real cause is an unregistered RP.
            self.code = "MissingSubscriptionRegistration"
            rp = path.rstrip("/").split("/")[-2]
            super().__init__(f"resource provider {rp} is not registered for the subscription; "
                             f"the scanner is read-only and will not register it")
        else:
            super().__init__(f"blocked {method} {path}: the scanner only reads")


class ForeignHostError(ScanError):
    code = "ForeignNextLink"

    def __init__(self, url: str, allowed: str):
        parts = urlsplit(url)
        super().__init__(f"refused to follow a link to {parts.scheme}://{parts.netloc} "
                         f"(only {allowed} receives the token)")


class DeadlineExceeded(ScanError):
    code = "DeadlineExceeded"


class Interrupted(DeadlineExceeded):
    """The user interrupted the scan (Ctrl-C): what was read is kept, what was not is recorded so."""
    code = "Interrupted"


class ListDeadlineExceeded(DeadlineExceeded):
    """One list used up its share of the deadline (a service paging without end)."""
    code = "ListDeadlineExceeded"


class RepeatedNextLink(ScanError):
    code = "RepeatedNextLink"


class PageLimitExceeded(ScanError):
    code = "PageLimitExceeded"


class Throttled(ScanError):
    """Still throttled when the deadline came: the code stays the service's throttling code, so the
    report says why the data is missing (it is not a slow scan, it is a busy subscription)."""

    def __init__(self, code: str, message: str):
        self.code = code or "SubscriptionRequestsThrottled"
        super().__init__(message)


class MalformedResponse(ScanError):
    code = "MalformedResponse"


# --------------------------------------------------------------------------- ledger and deadline
@dataclass
class RequestLedger:
    """Counts what left the process (and what was blocked), for the report and for tests."""
    sent: list[tuple[str, str]] = field(default_factory=list)
    blocked: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.sent.append((method, path))

    def block(self, method: str, path: str) -> None:
        with self._lock:
            self.blocked.append((method, path))

    @property
    def count(self) -> int:
        return len(self.sent)


@dataclass(frozen=True)
class CallScope:
    """What the request being sent belongs to: a breaker key (a vault id, or /subscriptions/{id}) and
    the end of the current list's share of the deadline (time.monotonic(), or None)."""
    key: str = ""
    ends: float | None = None
    budget: float | None = None


_SCOPE: contextvars.ContextVar[CallScope | None] = contextvars.ContextVar("az_bcdr_scan_call_scope", default=None)


@contextlib.contextmanager
def call_scope(key: str, budget: float | None = None) -> Iterator[CallScope]:
    """Requests sent in this block (in this thread) belong to `key` and end within `budget` seconds."""
    scope = CallScope(key, time.monotonic() + budget if budget else None, budget)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


class Deadline:
    """The scan's overall deadline, which an interrupt (Ctrl-C, `interrupt`) ends at once: every
    request after it fails before it is sent, every retry wait wakes, and the watchdog cuts the
    responses in flight."""

    def __init__(self, seconds: float | None, interrupt: threading.Event | None = None, remaining: float | None = None):
        """`remaining`: seconds left of the `seconds` (a worker process continuing the parent's scan)."""
        self.seconds = seconds
        left = remaining if remaining is not None else seconds
        self._end = time.monotonic() + left if seconds and left is not None else None
        self.interrupt = interrupt if interrupt is not None else threading.Event()

    def remaining(self) -> float:
        if self.interrupt.is_set():
            return 0.0
        return float("inf") if self._end is None else self._end - time.monotonic()

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds` unless interrupted first; True when interrupted."""
        return self.interrupt.wait(seconds)

    def call_remaining(self) -> tuple[float, bool]:
        """(seconds left for the current request, whether the list's share binds rather than the
        scan's deadline)."""
        overall = self.remaining()
        scope = _SCOPE.get()
        if scope is not None and scope.ends is not None:
            left = scope.ends - time.monotonic()
            if left < overall:
                return left, True
        return overall, False

    def expired(self, by_list: bool) -> ScanError:
        if self.interrupt.is_set():
            return Interrupted("interrupted (Ctrl-C) before this was read")
        if by_list:
            scope = _SCOPE.get()
            budget = scope.budget if scope is not None and scope.budget else 0.0
            return ListDeadlineExceeded(f"the list used its share of the deadline ({budget:g} s)")
        return DeadlineExceeded(f"scan deadline of {self.seconds:g} s reached")

    def check(self) -> float:
        """Seconds left for the current request; raises when none are."""
        left, by_list = self.call_remaining()
        if left <= 0:
            raise self.expired(by_list)
        return left


class Breakers:
    """Per-scope circuit breakers: once a list of a vault (or a subscription-wide list) failed after
    its full retry budget, the scope's other lists are tried once, not retried. A success closes it."""

    def __init__(self) -> None:
        self._open: set[str] = set()
        self._lock = threading.Lock()

    def trip(self, key: str) -> None:
        if key:
            with self._lock:
                self._open.add(key.lower())

    def reset(self, key: str) -> None:
        with self._lock:
            self._open.discard(key.lower())

    def is_open(self, key: str) -> bool:
        with self._lock:
            return bool(key) and key.lower() in self._open


def is_persistent_failure(exc: BaseException) -> bool:
    """A failure that retrying did not cure and that says the scope is unwell: 5xx, no connection,
    no (complete) response. Not 4xx (a fact about the request), not throttling, not the deadline."""
    if isinstance(exc, ScanError):
        return False
    if isinstance(exc, HttpResponseError) and not isinstance(exc, DecodeError):
        return (exc.status_code or 0) >= 500
    return isinstance(exc, (ServiceRequestError, ServiceResponseError, IncompleteReadError))


# --------------------------------------------------------------------------- watchdog
class _Watch:
    __slots__ = ("expires", "conn", "fired", "done", "cut")

    def __init__(self, expires: float) -> None:
        self.expires = expires
        self.conn: Any = None
        self.fired = False
        self.done = False
        self.cut: Any = None  # the socket shut down last


class Watchdog:
    """Ends a response that is still arriving when its time is up.

    A socket read timeout only bounds each recv(): a body trickling one byte a second never trips
    it. The watchdog knows, per thread, the connection the request in flight uses (our urllib3
    connection class tells it) and shuts that socket down when the request's time is up, so the
    blocked read returns at once. Until a fired request is done, the watchdog keeps shutting down
    whatever socket its connection holds: one told before it connected has none yet, and during the
    TLS handshake the socket is replaced by its TLS wrapper (a Ctrl-C landing then would otherwise
    shut down the discarded one and let the request be sent and stall)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._by_thread: dict[int, _Watch] = {}
        self._heap: list[tuple[float, int, _Watch]] = []
        self._fired: list[_Watch] = []  # fired and not done: their sockets are watched until done
        self._seq = 0
        self._thread: threading.Thread | None = None

    def start(self, seconds: float) -> _Watch:
        w = _Watch(time.monotonic() + max(0.0, seconds))
        with self._cond:
            self._by_thread[threading.get_ident()] = w
            self._seq += 1
            # The watchdog sleeps until the earliest expiry it knows of: it needs waking only for
            # an earlier one. (Requests mostly share one timeout, so each new watch expires last:
            # waking the watchdog thread for every request cost a thread switch per request.)
            earlier = not self._heap or w.expires < self._heap[0][0]
            heapq.heappush(self._heap, (w.expires, self._seq, w))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="az-bcdr-scan-watchdog", daemon=True)
                self._thread.start()
            elif earlier:
                self._cond.notify()
        return w

    def fire_all(self) -> None:
        """Cut every response in flight now (the scan was interrupted)."""
        with self._cond:
            watches = list(self._by_thread.values())
            for w in watches:
                w.fired = True
        self._cut(watches)

    def stop(self, w: _Watch) -> None:
        with self._cond:
            w.done = True
            if self._by_thread.get(threading.get_ident()) is w:
                del self._by_thread[threading.get_ident()]

    def bind(self, conn: Any) -> None:
        """Called by the connection as it sends a request: the socket to shut down if need be."""
        with self._cond:
            w = self._by_thread.get(threading.get_ident())
            if w is None:
                return
            w.conn = conn
            fired = w.fired
        if fired:
            self._cut([w])

    def _cut(self, watches: list[_Watch]) -> None:
        """Shut down the sockets of fired watches, and keep watching them until they are done."""
        for w in watches:
            _cut_socket(w)
        with self._cond:
            self._fired.extend(w for w in watches if not w.done and w not in self._fired)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due: list[_Watch] = []
                while self._heap and (self._heap[0][0] <= now or self._heap[0][2].done):
                    _, _, w = heapq.heappop(self._heap)
                    if not w.done:
                        w.fired = True
                        due.append(w)
                wait = self._heap[0][0] - now if self._heap else 5.0
                self._fired = [w for w in self._fired if not w.done]
                again = list(self._fired)
            self._cut(due + again)
            with self._cond:
                if self._heap:  # a watch started while the lock was free may expire sooner
                    wait = min(wait, self._heap[0][0] - time.monotonic())
                if self._fired:
                    wait = min(wait, 0.01)  # fired requests not done yet: look at their sockets again soon
                if not due:
                    self._cond.wait(timeout=max(0.005, min(wait, 5.0)))


def _cut_socket(w: _Watch) -> None:
    """Shut down the socket `w`'s connection holds now, unless it already was."""
    sock = getattr(w.conn, "sock", None)
    if sock is None or sock is w.cut:
        return
    try:
        if sock.fileno() == -1:  # detached into its TLS wrapper, or closed: nothing to shut down
            return
    except OSError:
        return
    if _abort(sock):
        w.cut = sock


def _abort(sock: Any) -> bool:
    """Shut down `sock`; False when that failed."""
    try:
        # The plain socket's shutdown, not SSLSocket's (which also drops its SSL object under the
        # reading thread's feet): the blocked read then returns at once.
        socket.socket.shutdown(sock, socket.SHUT_RDWR) if isinstance(sock, socket.socket) else sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    return True


WATCHDOG = Watchdog()
WATCHDOG_GRACE = 0.5  # seconds past --read-timeout before the watchdog ends a response


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    """Tells the watchdog which connection each request uses. (The connection class itself is left
    alone: vcrpy, which replays the collector cassettes, swaps it.)"""

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        WATCHDOG.bind(conn)
        return super()._make_request(conn, *args, **kwargs)


_POOLS = {"https": _WatchedHTTPSConnectionPool}


class _WatchedAdapter(BiggerBlockSizeHTTPAdapter):
    """azure-core's adapter, with connections the watchdog can shut down."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {**self.poolmanager.pool_classes_by_scheme, **_POOLS}

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = {**manager.pool_classes_by_scheme, **_POOLS}
        return manager



# --------------------------------------------------------------------------- pacing
REMAINING_READS = "x-ms-ratelimit-remaining-subscription-reads"
_SUBSCRIPTION_PATH = re.compile(r"^/subscriptions/([^/?#]+)", re.IGNORECASE)


class _Bucket:
    __slots__ = ("tokens", "stamp", "pending", "latency")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens  # after every reservation made so far (may be negative: a queue)
        self.stamp = stamp
        self.pending = 0  # requests that took a token and have no answer yet
        self.latency: float | None = None  # seconds from send to answer, moving average


class ReadPacer:
    """A client-side copy of ARM's read bucket, one per subscription (design.md: 250 burst, 25/s).

    Each request takes a token before it is sent; when none is left it waits for the refill, so
    once the burst is spent requests go out at the refill rate instead of being answered 429. The
    service's own count corrects the copy: every answer's `x-ms-ratelimit-remaining-subscription-reads`
    (less the requests still in flight, which it may not have counted yet) replaces the estimate.
    Requests outside a subscription (the tenant's subscription list) are not
    paced."""

    def __init__(self, burst: float = 250.0, rate: float = 25.0) -> None:
        self.burst, self.rate = float(burst), float(rate)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(path: str) -> str | None:
        match = _SUBSCRIPTION_PATH.match(path)
        return match.group(1).lower() if match else None

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + max(0.0, now - bucket.stamp) * self.rate)
        bucket.stamp = now
        return bucket

    def reserve(self, key: str) -> float:
        """Take a token for a request to `key`'s subscription: the seconds to wait before sending."""
        with self._lock:
            bucket = self._refilled(key, time.monotonic())
            bucket.tokens -= 1.0
            bucket.pending += 1
            return max(0.0, -bucket.tokens / self.rate)

    def cancel(self, key: str) -> None:
        """A reserved request that was not sent after all: its token goes back."""
        with self._lock:
            bucket = self._refilled(key, time.monotonic())
            bucket.tokens = min(self.burst, bucket.tokens + 1.0)
            bucket.pending = max(0, bucket.pending - 1)

    LATENCY_WEIGHT = 0.2  # of the newest answer in the moving average

    def in_flight(self, key: str, cap: int) -> int:
        """How many requests to `key`'s subscription to keep in flight: enough to send at the refill
        rate at the latency seen so far (rate x latency, twice over for the client's own time, plus
        two), at least 2 and at most `cap`; `cap` until an answer has come."""
        with self._lock:
            bucket = self._buckets.get(key)
            latency = bucket.latency if bucket is not None else None
        if latency is None:
            return max(1, cap)
        return max(min(2, cap), min(cap, math.ceil(2 * self.rate * latency) + 2))

    def answered(self, key: str, status: int | None, remaining: str | None, seconds: float | None = None) -> None:
        """An answer to a request that took a token (status None: none came), after `seconds`."""
        with self._lock:
            bucket = self._refilled(key, time.monotonic())
            bucket.pending = max(0, bucket.pending - 1)
            if seconds is not None and 0 <= seconds < float("inf"):
                bucket.latency = seconds if bucket.latency is None else (
                    bucket.latency + self.LATENCY_WEIGHT * (seconds - bucket.latency))
            left: float | None = None
            if remaining is not None:
                try:
                    left = float(remaining)
                except ValueError:
                    left = None
                if left is not None and not 0 <= left < float("inf"):
                    left = None
            if status == 429:
                # One request's answer: its own retry waits the Retry-After. A resource provider
                # throttles one path (a vault's jobs) without the subscription's bucket being empty,
                # so a 429 does not hold back the subscription's other requests; the header of the
                # answers that follow does, when the bucket really is empty.
                return
            if left is not None:
                # What the service has left, less what is already on its way to it.
                bucket.tokens = min(self.burst, left - bucket.pending)

# --------------------------------------------------------------------------- pipeline pieces
_NETLOC = re.compile(r"(?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?")


def origin(netloc: str) -> tuple[str, int] | None:
    """(host, port) of an https netloc, or None when it is not a plain host[:port].

    ARM and the SDKs write the same endpoint as `management.azure.com`, `management.azure.com:443`,
    `Management.Azure.COM` or `management.azure.com.` (fully qualified): one origin. Anything else is
    refused, not normalised: user info (`x@host`, or `evil\\@host`, which parsers read differently),
    percent-escapes, spaces, an empty or out-of-range port."""
    match = _NETLOC.fullmatch(netloc)
    if match is None:
        return None
    port = int(match["port"]) if match["port"] else 443
    if not 0 < port < 65536:
        return None
    return match["host"].lower().removesuffix("."), port


class GuardedTransport(RequestsTransport):
    def __init__(self, allowed_netloc: str, ledger: RequestLedger, deadline: Deadline,
                 pacer: ReadPacer | None = None, pool_size: int = 10, **kwargs: Any):
        super().__init__(**kwargs)
        self._pool_size = max(1, pool_size)  # connections kept per client: at least its threads' concurrency
        self._pacer = pacer
        self._allowed = allowed_netloc.lower()
        self._origin = origin(allowed_netloc)
        self._ledger = ledger
        self._deadline = deadline

    def _init_session(self, session: Any) -> None:
        super()._init_session(session)
        # requests reads the proxy variables again for every request (os.environ walked twice, a
        # fifth of a request's CPU). Only the ARM endpoint is ever contacted, so its proxy is looked
        # up once; TLS trust is passed explicitly (tls_verify_from_env), and no netrc applies to a
        # bearer token.
        import requests.utils
        session.proxies = requests.utils.get_environ_proxies(f"https://{self._allowed}")
        session.trust_env = False
        adapter = _WatchedAdapter(max_retries=Retry(total=False, redirect=False, raise_on_status=False),
                                  pool_maxsize=self._pool_size)
        for prefix in self._protocols:
            session.mount(prefix, adapter)

    def send(self, request, **kwargs):
        method = request.method.upper()
        parts = urlsplit(request.url)
        if method not in READ_METHODS and not (method == "POST" and parts.path.lower() in READ_ONLY_POSTS):
            self._ledger.block(method, parts.path)
            raise ReadOnlyViolation(method, request.url)
        if parts.scheme != "https" or self._origin is None or origin(parts.netloc) != self._origin:
            self._ledger.block(method, f"{parts.scheme}://{parts.netloc}{parts.path}")
            raise ForeignHostError(request.url, self._allowed)
        left = self._deadline.check()
        pacer = self._pacer
        paced = pacer.key(parts.path) if pacer is not None else None
        if pacer is not None and paced is not None:
            wait = pacer.reserve(paced)
            if wait > 0:
                if wait >= left:  # the bucket refills too late for this list or scan
                    pacer.cancel(paced)
                    raise self._deadline.expired(self._deadline.call_remaining()[1])
                if self._deadline.wait(wait):  # an interrupt (Ctrl-C) ends the pacing wait at once
                    pacer.cancel(paced)
                    raise self._deadline.expired(False)
                left = self._deadline.check()
        sent = time.monotonic()
        try:
            response = self._send(request, method, parts.path, left, **kwargs)
        except BaseException:
            if pacer is not None and paced is not None:
                pacer.answered(paced, None, None)
            raise
        if pacer is not None and paced is not None:
            pacer.answered(paced, response.status_code, response.headers.get(REMAINING_READS),
                           time.monotonic() - sent)
        return response

    def _send(self, request: Any, method: str, path: str, left: float, **kwargs: Any) -> Any:
        self._ledger.record(method, path)
        # Per recv(): never past the deadline. Whole response: at most read_timeout, and never past
        # the deadline either (the watchdog), however slowly the bytes arrive.
        read_timeout = float(kwargs.get("read_timeout", self.connection_config.read_timeout))
        kwargs["read_timeout"] = max(0.05, min(read_timeout, left))
        kwargs["connection_timeout"] = max(0.05, min(float(kwargs.get("connection_timeout", self.connection_config.timeout)), left))
        # A stall (no byte at all) is the socket timeout's to report; the watchdog, a little later, is
        # for bodies still trickling in. At the deadline it does not wait.
        watch = WATCHDOG.start(min(read_timeout + WATCHDOG_GRACE, left))
        if self._deadline.interrupt.is_set():
            # Ctrl-C came after the deadline check above but before this request's watch existed, so
            # the interrupt's fire_all() could not cut it: do not send it (it could stall for minutes).
            WATCHDOG.stop(watch)
            raise self._deadline.expired(False)
        try:
            return super().send(request, **kwargs)
        except Exception as exc:
            if not watch.fired:
                raise
            left, by_list = self._deadline.call_remaining()
            if left <= 0.05:
                raise self._deadline.expired(by_list) from None
            # Cut off by the whole-response limit: a timeout, which the retry policy retries.
            raise ServiceResponseTimeoutError(
                f"no complete response within --read-timeout {read_timeout:g} s (the body was still arriving)",
                error=exc) from None
        finally:
            WATCHDOG.stop(watch)


class WaitStats:
    """How often and how long the scan waited for throttling (429s): the progress display reads it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self.seconds = 0.0

    def add(self, seconds: float) -> None:
        with self._lock:
            self.count += 1
            self.seconds += max(0.0, seconds)


class CappedRetryPolicy(RetryPolicy):
    """RetryPolicy with `Retry-After` capped, throttling retried until the deadline, per-scope
    circuit breakers, and the overall deadline kept.

    - 429: retried (honouring Retry-After up to the cap, else exponential backoff) for as long as
      the deadline allows, not a fixed number of times: throttling slows a scan, it must not lose a
      resource. When the wait would pass the deadline: `Throttled`, with the service's code.
    - other retryable failures: `retry_total` retries, or none when the scope's breaker is open.
    """

    THROTTLE_FLOOR = 0.01  # seconds: a 429 with Retry-After 0 must not become a busy loop

    def __init__(self, max_retry_after: float, deadline: Deadline, breakers: Breakers | None = None,
                 waits: "WaitStats | None" = None, **kwargs: Any):
        kwargs.setdefault("retry_total", 4)
        kwargs.setdefault("retry_backoff_factor", 0.5)
        kwargs.setdefault("retry_backoff_max", max_retry_after)
        super().__init__(**kwargs)
        self.max_retry_after = max_retry_after
        self.deadline = deadline
        self.breakers = breakers or Breakers()
        self.waits = waits if waits is not None else WaitStats()
        self._throttle = threading.local()  # the last 429 of the request this thread is retrying

    def send(self, request):
        self._throttle.last = None
        try:
            return super().send(request)
        except DeadlineExceeded:
            last = self._throttle.last
            if last is None:
                raise
            # The wait after a 429 ran into the deadline: the cause is still the throttling.
            code, message = _throttle_details(last)
            raise Throttled(code, f"still throttled when the deadline came ({message})") from None

    def is_retry(self, settings, response):
        if response.http_response.status_code == 429:
            return self._is_method_retryable(settings, response.http_request, response=response.http_response)
        return super().is_retry(settings, response)

    def increment(self, settings, response=None, error=None):
        if isinstance(response, PipelineResponse) and response.http_response.status_code == 429:
            settings["history"].append(RequestHistory(response.http_request, http_response=response.http_response))
            self._throttle.last = response
            return True  # the deadline, not a count, ends throttling (see sleep)
        self._throttle.last = None
        active = super().increment(settings, response=response, error=error)
        scope = _SCOPE.get()
        if scope is not None and self.breakers.is_open(scope.key):
            return False  # the scope already failed persistently: one try each
        return active

    def get_backoff_time(self, settings):
        n = len(settings["history"])
        if n <= 1:
            return 0.0
        return min(self.backoff_max, self.backoff_factor * (2 ** min(n - 1, 30)))

    def get_retry_after(self, response):
        try:
            value = super().get_retry_after(response)
        except (ValueError, TypeError, OverflowError):
            # azure-core raises for a Retry-After that is neither seconds nor an HTTP date; that
            # would fail the whole call. Ignore the header and back off instead.
            return None
        if value is None or value != value:  # None or NaN
            return None
        return min(max(value, 0.0), self.max_retry_after)

    def sleep(self, settings, transport, response=None):
        throttled = response is not None and response.http_response.status_code == 429
        planned = self.get_retry_after(response) if response is not None else None
        if planned is None:
            planned = self.get_backoff_time(settings)
        if throttled:
            planned = max(planned, self.THROTTLE_FLOOR)
        left, by_list = self.deadline.call_remaining()
        if planned >= left:
            if throttled:
                code, message = _throttle_details(response)
                raise Throttled(code, f"still throttled when the deadline came ({message})")
            raise self.deadline.expired(by_list)
        if throttled:
            self.waits.add(planned)
        if planned > 0 and self.deadline.wait(planned):  # an interrupt ends the wait at once
            raise self.deadline.expired(False)


def _throttle_details(response: Any) -> tuple[str, str]:
    try:
        body = json.loads(response.http_response.text())
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            return str(err.get("code") or ""), _one_line(str(err.get("message") or "HTTP 429"), 200)
    except Exception:  # noqa: BLE001 - no ARM body: the status says enough
        pass
    return "", "HTTP 429"


# --------------------------------------------------------------------------- credentials
class StaticTokenCredential:
    """A bearer token handed to us (AZURE_ACCESS_TOKEN): CI jobs that already hold one, simulators."""

    def __init__(self, token: str):
        self._token = token.strip()
        redact.register_secret(self._token)  # whatever its shape, it never appears in an output
        self._expires = _jwt_expiry(self._token) or int(time.time()) + 3600

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, self._expires)

    def get_token_info(self, *scopes: str, options: Any = None):
        from azure.core.credentials import AccessTokenInfo
        return AccessTokenInfo(self._token, self._expires)

    def __repr__(self) -> str:  # never show the token
        return "StaticTokenCredential(<redacted>)"


def _jwt_expiry(token: str) -> int | None:
    import base64
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
        return int(exp) if exp else None
    except (ValueError, TypeError):
        return None


def make_credential(env: dict[str, str] | None = None):
    env = dict(os.environ if env is None else env)
    redact.register_secret(env.get("AZURE_CLIENT_SECRET"))
    token = env.get("AZURE_ACCESS_TOKEN")
    if token is not None:
        if not token.strip():  # set but empty: a CI secret that did not resolve; never another identity
            from .scope import ScopeError
            raise ScopeError("AZURE_ACCESS_TOKEN is set but empty (an unresolved CI secret?): set a token, or unset "
                             "it to use azure-identity's credentials")
        return StaticTokenCredential(token)
    for name in ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "SYSTEM_ACCESSTOKEN"):
        redact.register_secret(env.get(name))
    if (all(env.get(n) for n in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", *GITHUB_OIDC_VARS))
            and not env.get("AZURE_CLIENT_SECRET") and not env.get("AZURE_FEDERATED_TOKEN_FILE")):
        # GitHub Actions with `permissions: id-token: write`: a fresh OIDC token for every token
        # exchange, so a scan longer than the OIDC token's ~10 minutes keeps its access.
        from azure.identity import ClientAssertionCredential
        return ClientAssertionCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], github_oidc_assertion(env))
    if all(env.get(n) for n in AZURE_PIPELINES_VARS):
        # Azure DevOps, workload identity federation service connection (AzureCLI@2 sets these).
        from azure.identity import AzurePipelinesCredential
        return AzurePipelinesCredential(
            tenant_id=env["AZURESUBSCRIPTION_TENANT_ID"], client_id=env["AZURESUBSCRIPTION_CLIENT_ID"],
            service_connection_id=env["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"],
            system_access_token=env["SYSTEM_ACCESSTOKEN"])
    from azure.identity import DefaultAzureCredential
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


GITHUB_OIDC_VARS = ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
AZURE_PIPELINES_VARS = ("AZURESUBSCRIPTION_TENANT_ID", "AZURESUBSCRIPTION_CLIENT_ID",
                        "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "SYSTEM_ACCESSTOKEN")
ENTRA_FEDERATION_AUDIENCE = "api://AzureADTokenExchange"


def github_oidc_assertion(env: dict[str, str]) -> Callable[[], str]:
    """A function that asks the GitHub Actions token endpoint for a new OIDC token (audience: Entra
    ID's token exchange) each time azure-identity needs a client assertion."""
    import requests
    url, bearer = env["ACTIONS_ID_TOKEN_REQUEST_URL"], env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
    target = f"{url}{'&' if '?' in url else '?'}audience={quote(ENTRA_FEDERATION_AUDIENCE, safe='')}"

    def assertion() -> str:
        response = requests.get(target, headers={"Authorization": f"bearer {bearer}"}, timeout=30)
        response.raise_for_status()
        value = response.json().get("value")
        if not isinstance(value, str) or not value:
            raise ValueError("the GitHub Actions OIDC endpoint returned no token")
        redact.register_secret(value)
        return value
    return assertion


# --------------------------------------------------------------------------- factory
@dataclass
class ArmSettings:
    endpoint: str = PUBLIC_ARM
    verify: bool | str = True  # True, or a CA bundle path
    max_retry_after: float = 60.0
    timeout: float | None = 3600.0  # overall deadline, seconds
    read_timeout: float = 60.0
    connection_timeout: float = 20.0
    retry_total: int = 4
    max_pages: int = 2000  # per list: a service that keeps handing out new nextLinks stops here
    list_share: float = 0.25  # per list: at most this share of the deadline
    read_burst: float = 250.0  # ARM's read bucket per subscription (design.md): the pacer's copy of it
    reads_per_second: float = 25.0
    # Connections each client keeps: no fewer than the threads that share one client (the lists and
    # per-resource GETs of a subscription), so none is opened and thrown away ("pool is full").
    pool_size: int = 64


def tls_verify_from_env(env: dict[str, str] | None = None) -> bool | str:
    """TLS trust follows the standard variables: REQUESTS_CA_BUNDLE (requests reads it itself too),
    then SSL_CERT_FILE (which requests would otherwise ignore in favour of certifi)."""
    env = dict(os.environ if env is None else env)
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if env.get(name):
            return env[name]
    return True


@dataclass
class ListLimits:
    """Bounds on one paged list (scanner.collectors.base.read_list enforces them)."""
    max_pages: int = 2000
    seconds: float | None = None  # the list's share of the deadline
    breakers: Breakers = field(default_factory=Breakers)


class ClientFactory:
    """Builds every SDK client with the same guard, retry, deadline and ledger."""

    def __init__(self, credential: Any, settings: ArmSettings, ledger: RequestLedger | None = None,
                 interrupt: threading.Event | None = None):
        self.credential = credential
        self.settings = settings
        self.endpoint = settings.endpoint.rstrip("/")
        self.netloc = urlsplit(self.endpoint).netloc
        self.scope = f"{self.endpoint}/.default"
        self.ledger = ledger or RequestLedger()
        self.deadline = Deadline(settings.timeout, interrupt)
        self.waits = WaitStats()  # throttling waits, for the progress display
        self.recorders: list[Any] = []  # one coverage Recorder per subscription being collected (progress)
        self.remote: tuple[int, int, float] = (0, 0, 0.0)  # worker processes' requests, waits, seconds (progress)
        # The credential is arm.make_credential()'s from the environment: a worker process rebuilds it so.
        self.credential_from_environment = False
        self.breakers = Breakers()
        self.pacer = ReadPacer(settings.read_burst, settings.reads_per_second)
        self.list_limits = ListLimits(max_pages=settings.max_pages, breakers=self.breakers,
                                      seconds=settings.timeout * settings.list_share if settings.timeout else None)

    def _kwargs(self) -> dict[str, Any]:
        s = self.settings
        transport = GuardedTransport(self.netloc, self.ledger, self.deadline, self.pacer, pool_size=s.pool_size,
                                     connection_verify=s.verify,
                                     read_timeout=s.read_timeout, connection_timeout=s.connection_timeout)
        return dict(base_url=self.endpoint, credential_scopes=[self.scope], transport=transport,
                    retry_policy=CappedRetryPolicy(s.max_retry_after, self.deadline, self.breakers, self.waits,
                                                   retry_total=s.retry_total),
                    logging_enable=False)

    def _not_interrupted(self) -> None:
        """After Ctrl-C no client is built: importing an SDK takes a good part of a second (seconds
        on a loaded machine) that the interrupted scan would otherwise wait for before its report."""
        if self.deadline.interrupt.is_set():
            raise self.deadline.expired(False)

    def _build(self, cls: Callable[..., Any], subscription_id: str) -> Any:
        from .collectors.base import enable_raw_json
        enable_raw_json(cls)  # type: ignore[arg-type]
        return cls(self.credential, subscription_id, **self._kwargs())

    def compute(self, subscription_id: str):
        self._not_interrupted()
        with importing("azure.mgmt.compute"):  # scanner.malloc: nothing to collect, no @overload stubs kept
            from azure.mgmt.compute import ComputeManagementClient
        return self._build(ComputeManagementClient, subscription_id)

    def resources(self, subscription_id: str):
        self._not_interrupted()
        with importing("azure.mgmt.resource"):  # scanner.malloc: nothing to collect, no @overload stubs kept
            from azure.mgmt.resource.resources import ResourceManagementClient
        return self._build(ResourceManagementClient, subscription_id)

    def locks(self, subscription_id: str):
        self._not_interrupted()
        with importing("azure.mgmt.resource"):  # scanner.malloc: nothing to collect, no @overload stubs kept
            from azure.mgmt.resource.locks import ManagementLockClient
        return self._build(ManagementLockClient, subscription_id)

    def vaults(self, subscription_id: str):
        self._not_interrupted()
        with importing("azure.mgmt.recoveryservices"):  # scanner.malloc: nothing to collect, no @overload stubs kept
            from azure.mgmt.recoveryservices import RecoveryServicesClient
        return self._build(RecoveryServicesClient, subscription_id)

    def backup(self, subscription_id: str):
        self._not_interrupted()
        with importing("azure.mgmt.recoveryservicesbackup"):  # scanner.malloc: nothing to collect, no @overload stubs kept
            from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient
        return self._build(RecoveryServicesBackupClient, subscription_id)

    def site_recovery(self, subscription_id: str):
        self._not_interrupted()
        with importing("azure.mgmt.recoveryservicessiterecovery"):  # scanner.malloc: nothing to collect, no @overload stubs kept
            from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
        return self._build(SiteRecoveryManagementClient, subscription_id)

    def network(self, subscription_id: str):
        self._not_interrupted()
        with importing("azure.mgmt.network"):  # scanner.malloc: nothing to collect, no @overload stubs kept
            from azure.mgmt.network import NetworkManagementClient
        return self._build(NetworkManagementClient, subscription_id)

    def keyvault(self, subscription_id: str):
        self._not_interrupted()
        with importing("azure.mgmt.keyvault"):  # scanner.malloc: nothing to collect, no @overload stubs kept
            from azure.mgmt.keyvault import KeyVaultManagementClient
        return self._build(KeyVaultManagementClient, subscription_id)

    def management_groups(self):
        """The management-group client (tenant-level: no subscription), with the same guard."""
        self._not_interrupted()
        with importing("azure.mgmt.managementgroups"):
            from azure.mgmt.managementgroups import ManagementGroupsMgmtClient

        from .collectors.base import enable_raw_json
        enable_raw_json(ManagementGroupsMgmtClient)
        return ManagementGroupsMgmtClient(self.credential, **self._kwargs())

    def management_group_subscriptions(self, group_id: str) -> list[str]:
        """Every subscription under a management group, nested groups included, for
        --management-group: the SDK's `get_descendants` (GET /providers/Microsoft.Management/
        managementGroups/{id}/descendants, paged; the service walks the whole subtree), bounded like
        every list (a repeated nextLink, the page limit). The descendants carry no state: the
        preflight of each subscription tells a disabled one."""
        from .collectors.base import raw_json
        from .ids import is_subscription_id
        client = self.management_groups()
        found: list[str] = []
        seen: set[str] = set()
        pages_read = 0
        with raw_json():
            pages = client.management_groups.get_descendants(group_id).by_page()
            for page in pages:
                pages_read += 1
                for item in page:
                    if not isinstance(item, dict):
                        raise MalformedResponse("a management-group descendant is not an object")
                    rid, kind = item.get("id"), item.get("type")
                    rid = rid if isinstance(rid, str) else ""
                    kind = kind if isinstance(kind, str) else ""
                    if not (rid.lower().startswith("/subscriptions") or kind.lower().endswith("subscriptions")):
                        continue  # nested groups are listed too; only subscriptions are scanned
                    # "/subscriptions" (2021-04-01) or ".../managementGroups/subscriptions" (2023-04-01)
                    match = _SUBSCRIPTION_PATH.fullmatch(rid)
                    if match is None or not is_subscription_id(match.group(1)):
                        raise MalformedResponse(f"a management-group descendant has the id {rid[:80]!r}, not a subscription GUID")
                    found.append(match.group(1).lower())
                link = getattr(pages, "continuation_token", None)
                if not link:
                    continue
                if link in seen:
                    raise RepeatedNextLink(f"the management-group descendants repeated a nextLink after {pages_read} page(s)")
                seen.add(link)
                if pages_read >= self.settings.max_pages:
                    raise PageLimitExceeded(f"more than {self.settings.max_pages} pages of management-group descendants")
        return sorted(set(found))

    def check_credential(self) -> None:
        """Fail early, before any scan, when no credential works (exit 2, nothing scanned)."""
        self.credential.get_token(self.scope)

    def list_subscriptions(self) -> list[str]:
        """Every subscription this identity can read (GET /subscriptions, paged), for
        --all-subscriptions. Disabled and deleted subscriptions cannot be scanned and are left out."""
        from azure.core.rest import HttpRequest
        client = self.resources("00000000-0000-0000-0000-000000000000")  # the list needs no subscription
        url: str | None = f"{self.endpoint}/subscriptions?api-version=2022-12-01"
        found: list[str] = []
        pages = 0
        seen: set[str] = set()
        while url and pages < self.settings.max_pages:  # bounded: a looping nextLink cannot keep us here
            if url in seen:
                raise RepeatedNextLink("the subscription list repeated a nextLink")
            seen.add(url)
            response = client.send_request(HttpRequest("GET", url))
            response.raise_for_status()
            body = response.json()
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise MalformedResponse("subscription list is not an ARM list")
            for sub in body["value"]:
                sid = sub.get("subscriptionId") if isinstance(sub, dict) else None
                state = str(sub.get("state") or "").lower() if isinstance(sub, dict) else ""
                if isinstance(sid, str) and state in SCANNABLE_STATES:
                    found.append(sid.lower())
            url = body.get("nextLink") if isinstance(body.get("nextLink"), str) else None
            pages += 1
        return sorted(set(found))

    def preflight(self, subscription_id: str) -> str:
        """GET /subscriptions/{id}: tells an unknown subscription or a missing role apart from an
        empty one before anything is collected. Returns the subscription's state ("" when the
        body does not say)."""
        from azure.core.rest import HttpRequest
        client = self.resources(subscription_id)
        response = client.send_request(HttpRequest("GET", f"{self.endpoint}/subscriptions/{subscription_id}?api-version=2022-12-01"))
        response.raise_for_status()
        try:
            body = response.json()
        except ValueError:
            return ""
        state = body.get("state") if isinstance(body, dict) else None
        return state if isinstance(state, str) else ""


# --------------------------------------------------------------------------- classification
def classify(exc: BaseException) -> tuple[str, str]:
    """(ARM error code, one-line message) for coverage records. Never includes headers or tokens."""
    if isinstance(exc, ScanError):
        return exc.code, _one_line(str(exc))
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        return "CredentialUnavailable", _one_line(str(exc).splitlines()[0] if str(exc) else "no credential")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        code = ""
        message = ""
        err = getattr(exc, "error", None)
        if err is not None and getattr(err, "code", None):
            code, message = err.code, err.message or ""
        else:
            code, message = _code_from_body(exc)
        if not code:
            code = {429: "SubscriptionRequestsThrottled", 401: "AuthenticationFailed", 403: "AuthorizationFailed",
                    404: "ResourceNotFound"}.get(status or 0, f"HTTP{status}" if status else "HttpError")
        if isinstance(exc, (DecodeError, DeserializationError)) or code == "MalformedResponse":
            return "MalformedResponse", _one_line(f"response could not be parsed: {exc.message if hasattr(exc, 'message') else exc}")
        return code, _one_line(message or exc.reason or str(exc))
    if isinstance(exc, IncompleteReadError):
        return "ConnectionDropped", _one_line(f"the connection closed before the whole response arrived: {exc}")
    if isinstance(exc, (DecodeError, DeserializationError)):
        return "MalformedResponse", _one_line(f"response could not be parsed: {exc}")
    if isinstance(exc, (ServiceResponseError, ServiceRequestError)) and _timed_out(exc):
        return "Timeout", _one_line(f"no complete response in time: {exc}")
    if isinstance(exc, ServiceResponseError):
        return "ConnectionDropped", _one_line(f"the connection closed without a complete response: {exc}")
    if isinstance(exc, ServiceRequestError):
        return "ConnectionError", _one_line(f"could not connect: {exc}")
    if isinstance(exc, AzureError):
        return type(exc).__name__, _one_line(str(exc))
    if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError, json.JSONDecodeError)):
        return "MalformedResponse", _one_line(f"unexpected response shape: {type(exc).__name__}: {exc}")
    return type(exc).__name__, _one_line(str(exc))


def _timed_out(exc: BaseException) -> bool:
    """A timeout somewhere in the chain: requests wraps a read timeout during the body in a
    ConnectionError, which azure-core turns into ServiceRequestError ("could not connect")."""
    import requests
    import urllib3
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen or not isinstance(e, BaseException):
            continue
        seen.add(id(e))
        if isinstance(e, (ServiceResponseTimeoutError, TimeoutError, socket.timeout, urllib3.exceptions.TimeoutError,
                          requests.exceptions.Timeout)):
            return True
        stack.extend([e.__cause__, e.__context__, getattr(e, "inner_exception", None), *getattr(e, "args", ())])
    return False


def _code_from_body(exc: HttpResponseError) -> tuple[str, str]:
    try:
        body = json.loads(exc.response.text()) if exc.response is not None else None
    except Exception:
        return "", ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code") or ""), str(body["error"].get("message") or "")
    return "", ""


def _one_line(text: str, limit: int = 300) -> str:
    # Redacted before it is cut: a token cut in half would no longer be recognised.
    text = redact.redact(" ".join(str(text).split()))
    return text[: limit - 1] + "…" if len(text) > limit else text


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, ResourceNotFoundError) or (isinstance(exc, HttpResponseError) and exc.status_code == 404)
