"""Fault injection for the loopback ARM simulator (test machinery: it does not ship).

`FaultySimulator` is the product's `scanner.simulator.Simulator` plus a list of faults, applied
through the simulator's one seam, `Simulator.intercept`. It also answers under a second host name,
`alias_endpoint` (https://localhost:port, which the certificate covers), for foreign-nextLink tests.

Faults act on authenticated GETs (a request that fails authentication is answered 401 and not
counted), before the request is routed, so they also work on paths the simulator does not serve.
Other methods are always refused with 405; only `error` and `stall` faults apply to them.

A `Fault` says what to do to which requests: it matches on the HTTP method, a regular expression
searched in the decoded request path (case-insensitive, as ARM paths are), and optionally one
searched in the raw query string. Among the requests it matches it applies only to a window:
from the `first` matching request (1-based) for `times` requests, or to every one from `first`
on when `times` is None. `seen` counts the matching requests, `hits` the ones the fault acted on.

Kinds (build them with the class methods, which fill in the ARM error bodies):

- `error`: answer with an HTTP status and an ARM error body
  (`{"error": {"code": ..., "message": ...}}`), optionally with `Retry-After`. Used for
  429 throttling, 500/503 bursts, 403 AuthorizationFailed, 404 SubscriptionNotFound /
  ResourceNotFound and 409 MissingSubscriptionRegistration.
- `stall`: sleep `seconds` (bounded by the simulator's `max_stall`, and cut short by `stop()`)
  before answering. It does
  not end the request: the other faults and the normal route still answer after the sleep.
- `html`: answer 200 with an HTML page (a proxy or sign-in page instead of JSON).
- `reply`: answer with exactly `status`, `body` (bytes) and `headers`: no ARM error body, an
  HTML 503, a redirect, garbage `Retry-After` values...
- `truncated`: answer 200 with the first half of the real JSON body (Content-Length matches the
  truncated body, so the transport reads it fully and the JSON decoder fails).
- `foreign_next_link`: rewrite the list body's `nextLink` to point at another host (added even
  on the last page). Use `Simulator.alias_endpoint` as the host to make a client that follows it
  land back on the simulator under another name, where the ledger shows it (and whether it sent
  the bearer token).
- `transform`: run a function over the decoded JSON body before it is sent (unknown enum
  values, missing optional fields...). `drop_fields` and `set_fields` build common ones.
- `repeat_next_link`: the list body's `nextLink` points at the request's own URL (a service that
  loops its paging).
- `endless_pages`: an empty page with a new `nextLink` every time (a list that never ends).
- `trickle`: the real answer, its body sent one byte every `seconds` (a slow proxy); bounded by
  `max_stall` overall, ends at `stop()` or when the client hangs up.
- `drop`: close the connection without answering (a proxy or load balancer resetting it).
- `token_bucket`: ARM's read throttling: a bucket of `burst` tokens refilled at `rate` a second;
  a request that finds it empty is answered 429 with the Retry-After ARM would send (whole
  seconds). `time_scale` runs the bucket that many times faster (Retry-After scaled alike), so a
  10,000-VM scan at ARM's pacing fits in a benchmark.

An `error` fault with `echo_auth` puts the request's Authorization header in its message, as some
gateways do: the scanner must never let it reach an output.
"""
from __future__ import annotations

import copy
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from scanner.simulator import Simulator
from scanner.simulator.server import _ArmError, _decode_skiptoken, _encode, _params, _Response

KINDS = ("error", "stall", "html", "reply", "truncated", "foreign_next_link", "transform", "repeat_next_link",
         "endless_pages", "trickle", "drop", "token_bucket")

# Kinds that replace the response before routing, and kinds that work on the routed body.
PRE_ROUTE = ("error", "html", "reply", "endless_pages", "drop", "token_bucket")
POST_ROUTE = ("truncated", "foreign_next_link", "transform", "repeat_next_link", "trickle")

# The sign-in page a proxy or captive portal answers with instead of JSON.
HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Sign in to your account</title></head>"
             b"<body><form method=\"post\" action=\"/login\"><p>Your session has expired.</p></form></body></html>\n")


@dataclass(eq=False)
class Fault:
    kind: str
    path: str = ""  # regex searched in the decoded path; "" matches every path
    method: str = "GET"  # "*" matches every method
    query: str = ""  # regex searched in the raw query string; "" matches every query
    first: int = 1  # the first matching request (1-based) the fault acts on
    times: int | None = None  # how many matching requests from `first`; None: all of them
    status: int | None = None  # kind "error"
    code: str = ""  # kind "error": ARM error code; "" picks the usual one for the status
    message: str = ""  # kind "error": ARM error message; "" picks a realistic one
    retry_after: int | str | None = None  # kind "error": Retry-After header value
    payload: bytes = b""  # kind "reply": the body sent as is
    headers: Mapping[str, str] = field(default_factory=dict)  # kind "reply": headers (Content-Type among them)
    namespace: str = ""  # 409 MissingSubscriptionRegistration: resource provider ("" = from the path)
    seconds: float = 0.0  # kind "stall"
    host: str = "evil.example"  # kind "foreign_next_link": host[:port] the nextLink points at
    transform: Callable[[Any], Any] | None = None  # kind "transform": body -> body (or None: edited in place)
    echo_auth: bool = False  # kind "error": the message quotes the request's Authorization header
    burst: int = 250  # kind "token_bucket"
    rate: float = 25.0  # kind "token_bucket": tokens per (scaled) second
    time_scale: float = 1.0  # kind "token_bucket": >1 runs ARM's clock faster
    seen: int = field(default=0, init=False)
    hits: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.first < 1:
            raise ValueError("first is 1-based")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0 or None")
        if self.kind == "error" and not (self.status and 400 <= self.status <= 599):
            raise ValueError("an error fault needs a 4xx/5xx status")
        if self.kind == "reply" and not (self.status and 100 <= self.status <= 599):
            raise ValueError("a reply fault needs an HTTP status")
        if self.kind == "stall" and self.seconds < 0:
            raise ValueError("stall seconds must be >= 0")
        if self.kind == "transform" and not callable(self.transform):
            raise ValueError("a transform fault needs a callable transform")
        if self.kind == "token_bucket" and not (self.burst >= 1 and self.rate > 0 and self.time_scale > 0):
            raise ValueError("a token bucket needs burst >= 1, rate > 0 and time_scale > 0")
        if self.kind == "trickle" and self.seconds <= 0:
            raise ValueError("trickle seconds (per byte) must be > 0")
        self._tokens = float(self.burst)
        self._refilled = time.monotonic()
        self._path_re = re.compile(self.path, re.IGNORECASE)
        self._query_re = re.compile(self.query, re.IGNORECASE)
        self._lock = threading.Lock()

    # ---- matching
    def matches(self, method: str, path: str, query: str) -> bool:
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        return bool(self._path_re.search(path)) and bool(self._query_re.search(query))

    def take(self, method: str, path: str, query: str) -> bool:
        """Count a request; True when the fault acts on it (and count the hit)."""
        if not self.matches(method, path, query):
            return False
        with self._lock:
            self.seen += 1
            n = self.seen
            active = n >= self.first and (self.times is None or n < self.first + self.times)
            if active and self.kind == "token_bucket":
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    active = False  # a token was there: the request goes through
            if active:
                self.hits += 1
            return active

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._refilled) * self.rate * self.time_scale)
        self._refilled = now

    def retry_after_seconds(self) -> float:
        """token_bucket: what ARM would say to wait (whole seconds of its clock), in real seconds."""
        with self._lock:
            self._refill()
            arm_seconds = max(1, math.ceil((1 - self._tokens) / self.rate))
        return arm_seconds / self.time_scale

    def __repr__(self) -> str:
        extra = f" status={self.status}" if self.status else ""
        return f"Fault({self.kind}{extra} path={self.path!r} seen={self.seen} hits={self.hits})"

    # ---- constructors
    @classmethod
    def error(cls, status: int, path: str = "", *, code: str = "", message: str = "", **kw: Any) -> "Fault":
        return cls("error", path=path, status=status, code=code, message=message, **kw)

    @classmethod
    def throttle(cls, path: str = "", *, retry_after: int | str | None = 1200, **kw: Any) -> "Fault":
        """429 with Retry-After, as ARM sends when the subscription's read bucket is empty."""
        return cls("error", path=path, status=429, retry_after=retry_after, **kw)

    @classmethod
    def server_error(cls, path: str = "", *, status: int = 500, **kw: Any) -> "Fault":
        """A 5xx burst: pass `times` to end it."""
        return cls("error", path=path, status=status, **kw)

    @classmethod
    def authorization_failed(cls, path: str = "", **kw: Any) -> "Fault":
        return cls("error", path=path, status=403, code="AuthorizationFailed", **kw)

    @classmethod
    def subscription_not_found(cls, path: str = "", **kw: Any) -> "Fault":
        return cls("error", path=path, status=404, code="SubscriptionNotFound", **kw)

    @classmethod
    def resource_not_found(cls, path: str = "", **kw: Any) -> "Fault":
        return cls("error", path=path, status=404, code="ResourceNotFound", **kw)

    @classmethod
    def not_registered(cls, path: str = "", *, namespace: str = "", **kw: Any) -> "Fault":
        """409 MissingSubscriptionRegistration, the body azure-mgmt-core's auto-registration
        policy reacts to by POSTing /subscriptions/{sub}/providers/{rp}/register."""
        return cls("error", path=path, status=409, code="MissingSubscriptionRegistration", namespace=namespace, **kw)

    @classmethod
    def stall(cls, path: str = "", *, seconds: float, **kw: Any) -> "Fault":
        return cls("stall", path=path, seconds=seconds, **kw)

    @classmethod
    def html(cls, path: str = "", **kw: Any) -> "Fault":
        return cls("html", path=path, **kw)

    @classmethod
    def reply(cls, status: int, path: str = "", *, body: bytes = b"", headers: Mapping[str, str] | None = None,
              **kw: Any) -> "Fault":
        """Exactly this answer: status, raw body and headers (default Content-Type application/json)."""
        return cls("reply", path=path, status=status, payload=body, headers=dict(headers or {}), **kw)

    @classmethod
    def truncated(cls, path: str = "", **kw: Any) -> "Fault":
        return cls("truncated", path=path, **kw)

    @classmethod
    def foreign_next_link(cls, path: str = "", *, host: str = "evil.example", **kw: Any) -> "Fault":
        return cls("foreign_next_link", path=path, host=host, **kw)

    @classmethod
    def body(cls, path: str = "", *, transform: Callable[[Any], Any], **kw: Any) -> "Fault":
        return cls("transform", path=path, transform=transform, **kw)

    @classmethod
    def repeat_next_link(cls, path: str = "", **kw: Any) -> "Fault":
        return cls("repeat_next_link", path=path, **kw)

    @classmethod
    def endless_pages(cls, path: str = "", **kw: Any) -> "Fault":
        return cls("endless_pages", path=path, **kw)

    @classmethod
    def trickle(cls, path: str = "", *, seconds: float = 1.0, **kw: Any) -> "Fault":
        return cls("trickle", path=path, seconds=seconds, **kw)

    @classmethod
    def drop(cls, path: str = "", **kw: Any) -> "Fault":
        return cls("drop", path=path, **kw)

    @classmethod
    def token_bucket(cls, path: str = "", *, burst: int = 250, rate: float = 25.0, time_scale: float = 1.0,
                     **kw: Any) -> "Fault":
        return cls("token_bucket", path=path, status=429, burst=burst, rate=rate, time_scale=time_scale, **kw)


# --------------------------------------------------------------------------- body transforms
def _items(body: Any) -> Iterable[dict]:
    """The resources in a body: each element of `value` for a list, else the body itself."""
    if isinstance(body, dict) and isinstance(body.get("value"), list):
        return [x for x in body["value"] if isinstance(x, dict)]
    return [body] if isinstance(body, dict) else []


def _walk(obj: dict, dotted: str, create: bool) -> tuple[dict | None, str]:
    parts = dotted.split(".")
    for part in parts[:-1]:
        nxt = obj.get(part)
        if not isinstance(nxt, dict):
            if not create:
                return None, parts[-1]
            nxt = obj[part] = {}
        obj = nxt
    return obj, parts[-1]


def drop_fields(*dotted: str) -> Callable[[Any], Any]:
    """A transform that removes fields (dotted paths such as "properties.vmAgent") from every
    resource in the body: an optional field the service left out."""
    def apply(body: Any) -> Any:
        for item in _items(body):
            for path in dotted:
                parent, key = _walk(item, path, create=False)
                if parent is not None:
                    parent.pop(key, None)
        return body
    return apply


def set_fields(values: Mapping[str, Any]) -> Callable[[Any], Any]:
    """A transform that sets fields (dotted paths) on every resource in the body, e.g. an enum
    value the SDK does not know: {"properties.protectionState": "SomethingNew"}."""
    frozen = copy.deepcopy(dict(values))

    def apply(body: Any) -> Any:
        for item in _items(body):
            for path, value in frozen.items():
                parent, key = _walk(item, path, create=True)
                if parent is not None:
                    parent[key] = copy.deepcopy(value)
        return body
    return apply


# --------------------------------------------------------------------------- ARM error bodies
_DEFAULT_CODES = {
    400: "BadRequest",
    401: "AuthenticationFailed",
    403: "AuthorizationFailed",
    404: "ResourceNotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    429: "SubscriptionRequestsThrottled",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def default_code(status: int) -> str:
    return _DEFAULT_CODES.get(status, "InternalServerError" if status >= 500 else "BadRequest")


# --------------------------------------------------------------------------- the simulator with faults
class FaultySimulator(Simulator):
    """The simulator with fault injection: `faults` (and `add_fault`) act on the requests they
    match, in the order given. Stalls last at most `max_stall` seconds and end at `stop()`."""

    def __init__(self, scenario: dict[str, Any] | str | Path, faults: Iterable[Fault] = (), page_size: int = 50, *,
                 max_stall: float = 30.0, **kw: Any) -> None:
        super().__init__(scenario, page_size, **kw)
        self.max_stall = max_stall
        self._faults: list[Fault] = list(faults)
        self._faults_lock = threading.Lock()
        self._stopping = threading.Event()
        self._request = threading.local()  # the Authorization header of the request being answered
        self.alias_endpoint = ""

    def start(self) -> "FaultySimulator":
        self._stopping.clear()
        super().start()
        self.alias_endpoint = f"https://localhost:{self.port}"
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes stalled handlers
        super().stop()

    @property
    def faults(self) -> list[Fault]:
        with self._faults_lock:
            return list(self._faults)

    def add_fault(self, fault: Fault) -> Fault:
        with self._faults_lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes = b"") -> Any:
        self._request.auth = (headers.get("Authorization") or "").strip()  # for echo_auth faults
        return super().handle(method, raw_path, headers, body)

    def intercept(self, method: str, raw_path: str, path: str, query: str, answer: Callable[[], _Response]) -> _Response:
        """Faults act on authenticated GETs, before routing (so on paths the simulator does not
        serve too); a write is answered 405 unless an error fault (or a stall) shapes the answer."""
        applied = self._take_faults(method, path, query)
        for fault in applied:
            if fault.kind in ("error", "token_bucket"):
                return self._error(self._fault_error(fault, path))
            if method.upper() != "GET":
                continue
            if fault.kind == "drop":
                return _Response(0, hang_up=True)
            if fault.kind == "endless_pages":
                offset = _decode_skiptoken(_params(query).get("$skiptoken")) + 1
                return _Response(200, {"value": [], "nextLink": self._next_link(self.endpoint, raw_path, query, offset)},
                                 list_path=True)
            if fault.kind == "html":
                return _Response(200, HTML_PAGE, "text/html; charset=utf-8")
            if fault.kind == "reply":
                headers = dict(fault.headers)
                content_type = headers.pop("Content-Type", "application/json")
                return _Response(fault.status or 200, fault.payload, content_type, headers=headers)
        resp = answer()
        if method.upper() != "GET":
            return resp
        return self._post_faults(resp, [f for f in applied if f.kind in POST_ROUTE], raw_path, query)

    def _take_faults(self, method: str, path: str, query: str) -> list[Fault]:
        """The faults that act on this request (each counts it); stalls are slept here."""
        applied = [f for f in self.faults if f.take(method, path, query)]
        for fault in applied:
            if fault.kind == "stall":
                self._stopping.wait(max(0.0, min(fault.seconds, self.max_stall)))
        return applied

    def _post_faults(self, resp: _Response, faults: list[Fault], raw_path: str, query: str) -> _Response:
        for fault in faults:
            if fault.kind == "transform" and resp.body is not None and not isinstance(resp.body, bytes):
                out = fault.transform(resp.body)  # type: ignore[misc]
                if out is not None:
                    resp.body = out
            elif fault.kind == "repeat_next_link" and resp.list_path and isinstance(resp.body, dict):
                resp.body["nextLink"] = f"{self.endpoint}{raw_path}?{query}"
            elif fault.kind == "trickle":
                resp.write_body = self._trickler(fault.seconds)
            elif fault.kind == "foreign_next_link" and resp.list_path and isinstance(resp.body, dict):
                params = _params(query)
                offset = _decode_skiptoken(params.get("$skiptoken")) + self.page_size
                resp.body["nextLink"] = self._next_link(f"https://{fault.host}", raw_path, query, offset)
        for fault in faults:
            if fault.kind == "truncated":
                data = _encode(resp.body)
                resp.body = data[: max(1, len(data) // 2)]
        return resp

    def _trickler(self, seconds: float) -> Callable[[Any, bytes], None]:
        """Writes a body one byte every `seconds`, for at most max_stall, until stop()."""
        def write(wfile: Any, data: bytes) -> None:
            started = time.monotonic()
            for i in range(len(data)):
                wfile.write(data[i:i + 1])
                wfile.flush()
                if self._stopping.wait(seconds) or time.monotonic() - started > self.max_stall:
                    return
        return write

    def _fault_error(self, fault: Fault, path: str) -> _ArmError:
        status = fault.status or 500
        code = fault.code or default_code(status)
        sub = (re.match(r"^/subscriptions/([^/]+)", path, re.I) or [None, ""])[1]
        headers: dict[str, str] = {}
        retry_after = fault.retry_after
        if fault.kind == "token_bucket":
            retry_after = f"{fault.retry_after_seconds():g}"
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        details = None
        message = fault.message
        if fault.echo_auth:  # a gateway that quotes the request it refused
            auth = getattr(self._request, "auth", "")
            message = f"{message or 'Request refused by the gateway.'} Request headers: Authorization: {auth}"
        if code == "MissingSubscriptionRegistration":
            ns = fault.namespace or _namespace(path)
            # The exact ARM wording: azure-mgmt-core reads the namespace from the one quoted name.
            message = message or (f"The subscription is not registered to use namespace '{ns}'. "
                                  "See https://aka.ms/rps-not-found for how to register subscriptions.")
            details = [{"code": "MissingSubscriptionRegistration", "target": ns, "message": message}]
        elif code == "AuthorizationFailed":
            message = message or (
                "The client '00000000-0000-4000-8000-0000000000c1' with object id '00000000-0000-4000-8000-0000000000c1' "
                f"does not have authorization to perform action '{_action(path)}' over scope '{_scope(path)}' or the "
                "scope is invalid. If access was recently granted, please refresh your credentials.")
        elif code == "SubscriptionNotFound":
            message = message or f"The subscription '{sub}' could not be found."
        elif code == "ResourceNotFound":
            message = message or _not_found_message(path)
        elif status == 429:
            message = message or (f"Number of 'read' requests for subscription '{sub}' actor "
                                  "'00000000-0000-4000-8000-0000000000c1' exceeded. Please try again after "
                                  f"'{retry_after or 5}' seconds after additional tokens are available. "
                                  "Refer to https://aka.ms/arm-throttling for additional information.")
            headers.setdefault("x-ms-ratelimit-remaining-subscription-reads", "0")
        elif status == 503:
            message = message or "The server is currently unable to handle the request. Please retry your request."
        elif status >= 500:
            message = message or (f"Encountered internal server error. Diagnostic information: timestamp "
                                  f"'{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}', subscription id '{sub}', "
                                  f"tracking id '{uuid.uuid4()}'.")
        else:
            message = message or f"The request failed with {code}."
        return _ArmError(status, code, message, headers=headers, details=details)

def _namespace(path: str) -> str:
    m = re.search(r"/providers/([^/]+)", path, re.I)
    return m.group(1) if m else "Microsoft.Resources"


def _action(path: str) -> str:
    m = re.search(r"/providers/([^/]+)/(.*)$", path, re.I)
    if not m:
        parts = [p for p in path.split("/") if p]
        return "Microsoft.Resources/subscriptions/resourceGroups/read" if len(parts) > 2 else \
            "Microsoft.Resources/subscriptions/read"
    segs = [s for s in m.group(2).split("/") if s]
    types = segs[0::2]
    return "/".join([m.group(1)] + types + ["read"])


def _scope(path: str) -> str:
    return path if path.startswith("/subscriptions/") else f"/subscriptions{path}"


def _not_found_message(path: str) -> str:
    rg = (re.search(r"/resourcegroups/([^/]+)", path, re.I) or [None, ""])[1]
    m = re.search(r"/providers/([^/]+)/(.*)$", path, re.I)
    what = f"{m.group(1)}/{m.group(2)}" if m else path
    return (f"The Resource '{what}' under resource group '{rg}' was not found. "
            "For more details please go to https://aka.ms/ARMResourceNotFoundFix")
