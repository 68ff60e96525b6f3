"""Fault injection for the loopback ARM simulator.

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
- `stall`: sleep `seconds` (bounded by the simulator's `max_stall`) before answering. It does
  not end the request: the other faults and the normal route still answer after the sleep.
- `html`: answer 200 with an HTML page (a proxy or sign-in page instead of JSON).
- `truncated`: answer 200 with the first half of the real JSON body (Content-Length matches the
  truncated body, so the transport reads it fully and the JSON decoder fails).
- `foreign_next_link`: rewrite the list body's `nextLink` to point at another host (added even
  on the last page). Use `Simulator.alias_endpoint` as the host to make a client that follows it
  land back on the simulator under another name, where the ledger shows it (and whether it sent
  the bearer token).
- `transform`: run a function over the decoded JSON body before it is sent (unknown enum
  values, missing optional fields...). `drop_fields` and `set_fields` build common ones.
"""
from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

KINDS = ("error", "stall", "html", "truncated", "foreign_next_link", "transform")

# Kinds that replace the response before routing, and kinds that work on the routed body.
PRE_ROUTE = ("error", "html")
POST_ROUTE = ("truncated", "foreign_next_link", "transform")


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
    namespace: str = ""  # 409 MissingSubscriptionRegistration: resource provider ("" = from the path)
    seconds: float = 0.0  # kind "stall"
    host: str = "evil.example"  # kind "foreign_next_link": host[:port] the nextLink points at
    transform: Callable[[Any], Any] | None = None  # kind "transform": body -> body (or None: edited in place)
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
        if self.kind == "stall" and self.seconds < 0:
            raise ValueError("stall seconds must be >= 0")
        if self.kind == "transform" and not callable(self.transform):
            raise ValueError("a transform fault needs a callable transform")
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
            if active:
                self.hits += 1
            return active

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
    def truncated(cls, path: str = "", **kw: Any) -> "Fault":
        return cls("truncated", path=path, **kw)

    @classmethod
    def foreign_next_link(cls, path: str = "", *, host: str = "evil.example", **kw: Any) -> "Fault":
        return cls("foreign_next_link", path=path, host=host, **kw)

    @classmethod
    def body(cls, path: str = "", *, transform: Callable[[Any], Any], **kw: Any) -> "Fault":
        return cls("transform", path=path, transform=transform, **kw)


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


def arm_error(code: str, message: str, *, details: list[dict] | None = None) -> dict:
    err: dict[str, Any] = {"code": code, "message": message}
    if details:
        err["details"] = details
    return {"error": err}
