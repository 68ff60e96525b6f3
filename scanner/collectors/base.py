"""What every collector shares: wire-format access to SDK models, defensive getters, and the
coverage recorder.

Mappers read the wire format (the JSON field names of ../shared/azure-rest-examples), not SDK
attributes: azure-mgmt-recoveryservicesbackup 11.2.0 deserialises a protected item of type
`Microsoft.Compute/virtualMachines` as the base `ProtectedItem`, so its VM fields exist only in the
raw properties (design.md). Reading the wire format sidesteps that, and an unknown enum value or a
missing optional field never crashes a mapper. A missing id does: `MalformedItem`, which the
collector records in coverage.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from sys import intern
from typing import Any, Callable, Iterable, Iterator, TypeVar

from azure.core.paging import PageIterator

from .. import ids
from .. import inventory as m
from ..arm import ListLimits, PageLimitExceeded, RepeatedNextLink, call_scope, classify, is_persistent_failure
from ..timeutil import parse_once

log = logging.getLogger(__name__)
T = TypeVar("T")


class MalformedItem(ValueError):
    """An item the mapper cannot identify (no id, wrong shape)."""


# --------------------------------------------------------------------------- raw JSON
# The SDK clients (every one the scanner uses is of the typespec generation) turn each response into
# models with `_deserialize`, field by field, and mappers then read the wire format back out of them
# (`wire`): most of the CPU a request costs (benchmarks/run.py --profile). Inside `raw_json()` the
# clients' `_deserialize` hands back the JSON the service sent instead; URL building, the pipeline
# (guard, retry, pacing, deadline), paging and error mapping stay the SDK's own. Outside it (a
# program that embeds the scanner and uses the same SDKs) nothing changes.
_RAW = threading.local()


@contextlib.contextmanager
def raw_json() -> Iterator[None]:
    """SDK calls made in this block (in this thread) return the service's JSON, not models."""
    depth = getattr(_RAW, "depth", 0)
    _RAW.depth = depth + 1
    try:
        yield
    finally:
        _RAW.depth = depth


def _raw_aware(original: Callable[..., Any]) -> Callable[..., Any]:
    def _deserialize(deserializer: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_RAW, "depth", 0):
            return value
        return original(deserializer, value, *args, **kwargs)
    _deserialize.__wrapped__ = original  # type: ignore[attr-defined]
    _deserialize._az_bcdr_raw = True  # type: ignore[attr-defined]
    return _deserialize


def enable_raw_json(client_class: type) -> bool:
    """Let `raw_json()` act on the operations of `client_class`'s package (azure.mgmt.X); False
    when that package is not of the generation this knows (its models are then read via `wire`)."""
    import importlib
    package = client_class.__module__.rsplit("._", 1)[0]
    try:
        module = importlib.import_module(f"{package}.operations._operations")
    except ImportError:
        return False
    original = getattr(module, "_deserialize", None)
    if not callable(original):
        return False
    if not getattr(original, "_az_bcdr_raw", False):
        module._deserialize = _raw_aware(original)  # type: ignore[attr-defined]
    return True


def fetch(call: Callable[[], Any]) -> dict[str, Any]:
    """One GET through an SDK client, as the JSON the service sent."""
    with raw_json():
        return wire(call())


def wire(obj: Any) -> dict[str, Any]:
    """The wire-format (REST JSON) dict behind an SDK model, whichever SDK generation made it."""
    if obj is None:
        return {}
    if isinstance(obj, dict) and not hasattr(obj, "as_dict"):
        return obj
    if hasattr(obj, "_attribute_map") and hasattr(obj, "serialize"):  # msrest-generation models
        return obj.serialize(keep_readonly=True)
    if hasattr(obj, "as_dict"):  # typespec-generation models (MutableMapping over the raw JSON)
        return obj.as_dict()
    raise MalformedItem(f"unexpected item type {type(obj).__name__}")


def get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def s(value: Any) -> str:
    """A string field, or '' when the service sent something else."""
    return value if isinstance(value, str) else ""


def word(value: Any) -> str:
    """A string field whose values repeat across items (a state, a type, a location, a name that
    other records carry too), '' when not a string. Interned: a 10,000-VM inventory holds each such
    value once rather than once per item (scanner.inventory, memory)."""
    return intern(value) if isinstance(value, str) else ""


def ref(value: Any) -> str:
    """A normalised id that other records name too (a join key: VM, disk, NIC, subnet, vault,
    policy ids), interned like `word`."""
    return intern(ids.norm(value)) if isinstance(value, str) else ""


def s_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# Before this, a time from Azure is a "never" sentinel, not an event: Backup's lastBackupTime is
# 2001-01-01T00:00:00Z until the first backup, Site Recovery writes 1601-01-01 and 1753-01-01. No
# Azure backup or replication event predates 2010.
NEVER_BEFORE = datetime(2010, 1, 1, tzinfo=timezone.utc)


def time_or_none(value: Any) -> str | None:
    """A time field as sent, or None when absent or a "never" sentinel (any time before 2010).
    A string that is not a time is kept: the rules' parser reads it as unknown."""
    text = s_or_none(value)
    if text is None:
        return None
    when = parse_once(text)
    return None if when is not None and when < NEVER_BEFORE else text


def i_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        # ASCII digits only, and short: '²'.isdigit() is True but int('²') raises, and int() of a
        # string over 4,300 digits raises too; either would lose the whole item for one odd field.
        if text.isascii() and text.isdigit() and len(text) <= 18:
            return int(text)
    return None


def b_or_none(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def lst(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def dct(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def tags(value: Any) -> dict[str, str]:
    """A resource's tags. Equal tags (in the same order) are one dict: a fleet's VMs carry a few
    sets of them, most often none (the dict is never mutated: the models are frozen)."""
    if not value or not isinstance(value, dict):
        return _NO_TAGS
    items = tuple((intern(str(k)), intern(v)) for k, v in value.items() if isinstance(v, str))
    hit = _TAGS.get(items)
    if hit is None:
        if len(_TAGS) >= _SHARED_MAX:
            _TAGS.clear()
            _TAGS[()] = _NO_TAGS
        hit = _TAGS.setdefault(items, dict(items))
    return hit


# Equal small immutable values recur across thousands of VMs: a status without a time (the power
# state, an extension handler's "Ready"), a tuple of them, an extension as the VM list describes it,
# a VM's status codes, its tags. `shared` hands back the first of equal values, so a 10,000-VM
# inventory holds each once (benchmarks/heap.py). A value with a time of its own (a status that
# says when) is never equal to another and is not looked up. The tables are bounded (cleared when
# full: the values stay in the models that hold them) and never shared between unequal types.
_SHARED_MAX = 1 << 14
_SHARED: dict[Any, Any] = {}
_NO_TAGS: dict[str, str] = {}
_TAGS: dict[tuple[tuple[str, str], ...], dict[str, str]] = {(): _NO_TAGS}


def shared(value: T) -> T:
    """The first value seen equal to `value` (a frozen model or a tuple of strings or models)."""
    hit = _SHARED.get(value)
    if hit is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        hit = _SHARED.setdefault(value, value)
    return hit


def require_id(raw: dict[str, Any]) -> tuple[str, str]:
    """(normalised id, display id); MalformedItem when there is none."""
    rid = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(rid, str) or not rid.strip().startswith("/") or not ids.norm(rid).strip("/"):
        raise MalformedItem("item without a valid ARM id")
    return ids.norm(rid), rid.strip()


def statuses(value: Any) -> tuple[m.Status, ...]:
    """An instance-view `statuses[]` list; a status without a time, and a list of only such, shared."""
    out = []
    timeless = True
    for st in lst(value):
        if isinstance(st, dict):
            code, level = word(st.get("code")), word(st.get("level"))
            display, message = word(st.get("displayStatus")), word(s(st.get("message"))[:500])
            when = time_or_none(st.get("time"))
            if when is None:
                out.append(_timeless_status(code, level, display, message))
            else:
                timeless = False
                out.append(m.Status(code=code, level=level, display_status=display, message=message, time=when))
    return shared(tuple(out)) if out and timeless else tuple(out)


@functools.lru_cache(maxsize=4096)
def _timeless_status(code: str, level: str, display_status: str, message: str) -> m.Status:
    return m.Status(code=code, level=level, display_status=display_status, message=message, time=None)


# --------------------------------------------------------------------------- coverage
@dataclass
class _Entry:
    status: str = m.OK
    error_code: str = ""
    message: str = ""
    failed_scopes: list[str] = field(default_factory=list)
    items: int = 0


class Recorder:
    """Coverage for one subscription: every collector ends ok, partial (some scopes or items could
    not be read) or failed (nothing, or not all of a subscription-wide list, could be read)."""

    def __init__(self, subscription_id: str, limits: ListLimits | None = None):
        self.subscription_id = subscription_id.lower()
        self.limits = limits or ListLimits()  # paging bounds and breakers for read_list
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _entry(self, collector: str) -> _Entry:
        return self._entries.setdefault(collector, _Entry())

    def ok(self, collector: str, items: int = 0) -> None:
        with self._lock:
            self._entry(collector).items += items

    def failed(self, collector: str, exc: BaseException | None = None, code: str = "", message: str = "") -> None:
        if exc is not None:
            code, message = classify(exc)
            log.debug("%s failed for %s", collector, self.subscription_id, exc_info=exc)
        with self._lock:
            e = self._entry(collector)
            e.status, e.error_code, e.message = m.FAILED, code, message

    def partial(self, collector: str, scope: str, exc: BaseException | None = None, code: str = "", message: str = "") -> None:
        if exc is not None:
            code, message = classify(exc)
            log.debug("%s partial for %s (%s)", collector, self.subscription_id, scope, exc_info=exc)
        with self._lock:
            e = self._entry(collector)
            if e.status != m.FAILED:
                e.status = m.PARTIAL
            if not e.error_code:
                e.error_code, e.message = code, message
            if scope and ids.norm(scope) not in e.failed_scopes:
                e.failed_scopes.append(ids.norm(scope))

    def started(self) -> int:
        """How many collectors have recorded something (ok, partial or failed) so far."""
        with self._lock:
            return len(self._entries)

    def get(self, collector: str) -> m.Coverage | None:
        return next((c for c in self.records() if c.collector == collector), None)

    def records(self) -> list[m.Coverage]:
        return [m.Coverage(subscription_id=self.subscription_id, collector=c, status=e.status,
                           error_code=e.error_code, message=e.message, failed_scopes=tuple(e.failed_scopes),
                           items=e.items)
                for c, e in sorted(self._entries.items())]


@contextlib.contextmanager
def breaker_scope(rec: Recorder, key: str) -> Iterator[None]:
    """A single GET (not a list) that belongs to a breaker scope, e.g. a vault's own GET: it is tried
    once when the scope's breaker is open, opens it on a persistent failure, closes it on success."""
    breakers = rec.limits.breakers
    with call_scope(key):
        try:
            yield
        except Exception as exc:
            if is_persistent_failure(exc):
                breakers.trip(key)
            raise
    breakers.reset(key)


def _pages(paged: Any) -> tuple[Iterable[Iterable[Any]], Callable[[], str | None]]:
    """The pages of an SDK pager (ItemPaged.by_page) and a way to read the nextLink after each; a
    plain iterable is one page."""
    by_page = getattr(paged, "by_page", None)
    if by_page is None:
        return [paged], lambda: None
    pages = by_page()
    return pages, lambda: getattr(pages, "continuation_token", None)


def _let_go(pages: Any) -> None:
    """Let the pager drop the page it has just handed out. azure-core's PageIterator keeps the
    page's response (the body bytes, the decoded text, the decoded JSON tree) and the page until the
    next page's response is in: while a page's items are mapped its body and text stay, and while
    the next page is fetched the whole previous page does. At 10,000 VMs eight lists page at once,
    pages of 1,000 items. The page iterator read_list holds keeps the items until they are mapped;
    nothing reads the response again (the continuation token, which the next page needs, is its own
    attribute). tests/test_page_release.py fails should azure-core rename them."""
    if isinstance(pages, PageIterator):
        pages._response = None
        pages._current_page = None


def read_list(rec: Recorder, collector: str, pager: Callable[[], Iterable[Any]],
              mapper: Callable[[dict[str, Any]], T], *, scope: str = "") -> list[T]:
    """Page through a list and map every item.

    - An item the mapper cannot identify is skipped and recorded (partial), never silently dropped.
    - Paging is bounded (rec.limits): a nextLink seen before stops it (RepeatedNextLink), so does
      the page limit (PageLimitExceeded) and the list's share of the deadline (ListDeadlineExceeded).
    - A failure while paging: with `scope` (a per-vault list) the scope is recorded as partial; without
      (a subscription-wide list) the collector is failed, since the rest of the list is unknown. Items
      read before the failure are kept either way.
    - A persistent failure (5xx, connection) opens the scope's breaker: the scope's other lists are
      then tried once instead of with the full retry budget. A list that succeeds closes it.
    """
    limits = rec.limits
    key = scope or f"/subscriptions/{rec.subscription_id}"
    out: list[T] = []
    try:
        with call_scope(key, limits.seconds), raw_json():
            pages, next_link = _pages(pager())
            seen: set[str] = set()
            count = 0
            for page in pages:
                _let_go(pages)  # `page` keeps the items; the rest of the response goes before they are mapped
                count += 1
                for obj in page:
                    raw: Any = None
                    try:
                        raw = wire(obj)
                        out.append(mapper(raw))
                    except (MalformedItem, ValueError, TypeError, KeyError, AttributeError) as exc:
                        # A per-vault list with an unreadable item is incomplete for that vault.
                        rid = get(raw, "id")
                        rec.partial(collector, scope or s(rid), code="MalformedResponse",
                                    message=f"skipped an item that could not be read: {exc}"[:300])
                link = next_link()
                if not link:
                    continue
                if link in seen:
                    raise RepeatedNextLink(f"the service repeated a nextLink after {count} page(s)")
                seen.add(link)
                if count >= limits.max_pages:
                    raise PageLimitExceeded(f"more than {limits.max_pages} pages (the page limit)")
        limits.breakers.reset(key)
    except Exception as exc:  # noqa: BLE001 - every failure lands in coverage
        if is_persistent_failure(exc):
            limits.breakers.trip(key)
        if scope:
            code, message = classify(exc)
            if out:
                message = f"list incomplete after {len(out)} item(s): {message}"
            rec.partial(collector, scope, code=code, message=message)
            log.debug("%s partial for %s (%s)", collector, rec.subscription_id, scope, exc_info=exc)
        else:
            code, message = classify(exc)
            if out:
                message = f"list incomplete after {len(out)} item(s): {message}"
            rec.failed(collector, code=code, message=message)
            log.debug("%s failed", collector, exc_info=exc)
    rec.ok(collector, len(out))
    return out
