"""The scope step: which subscriptions a scan reads, and whether it can read them at all.

Three moves, before anything is collected, each failing with one line (ScopeError, exit 2):
1. the credential yields a token;
2. `resolve`: the subscriptions named, plus, with `all_subscriptions`, every enabled subscription
   the identity can see (GET /subscriptions);
3. `preflight`: GET /subscriptions/{id} for each, which tells an unknown subscription or a bad
   endpoint apart from a subscription whose data the identity cannot read (403, throttling, 5xx:
   the scan goes on and the collectors record what they could not read).

`--management-group` (a later issue) belongs here: a `management_group` on ScopeRequest, whose
descendant subscriptions `resolve` adds next to the visible ones, with its own Scope.kind so that
rules like BCDR801 can tell how complete the set of subscriptions is.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports ScopeError at start-up; the SDK stack loads only for a scan
    from .arm import ClientFactory

log = logging.getLogger(__name__)

NAMED = "subscriptions"  # Inventory.scope: the subscriptions were named one by one
ALL_VISIBLE = "all-subscriptions"  # every enabled subscription the identity can see was read


class ScopeError(Exception):
    """Nothing can be scanned (no credential, unknown subscription, unusable endpoint): one line."""


@dataclass(frozen=True)
class ScopeRequest:
    """What the user asked to scan."""
    subscriptions: tuple[str, ...] = ()  # lower-cased subscription GUIDs
    all_subscriptions: bool = False
    shard: tuple[int, int] | None = None  # (K, N): only shard K of N of the resolved subscriptions


@dataclass(frozen=True)
class Scope:
    """What the scan reads: resolved, and every subscription preflighted."""
    subscriptions: tuple[str, ...]
    kind: str  # NAMED | ALL_VISIBLE (Inventory.scope)


def establish(factory: "ClientFactory", request: ScopeRequest) -> Scope:
    """Credential check, resolution and preflight, in that order (the first failure stops)."""
    check_credential(factory)
    scope = resolve(factory, request)
    if request.shard is not None:  # before the preflight: each shard reads only its own
        from .merge import shard_subscriptions
        scope = Scope(shard_subscriptions(scope.subscriptions, *request.shard), scope.kind)
    preflight(factory, scope)
    return scope


def check_credential(factory: "ClientFactory") -> None:
    try:
        factory.check_credential()
    except Exception as exc:  # noqa: BLE001 - any credential failure is an authentication error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScopeError(f"no usable Azure credentials ({first[:200]}); run 'az login', set AZURE_CLIENT_ID/"
                         f"AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or set AZURE_ACCESS_TOKEN") from None


def resolve(factory: "ClientFactory", request: ScopeRequest) -> Scope:
    from .arm import classify
    if not request.all_subscriptions:
        return Scope(subscriptions=tuple(request.subscriptions), kind=NAMED)
    try:
        visible = factory.list_subscriptions()
    except Exception as exc:  # noqa: BLE001 - cannot resolve the scope: nothing is scanned
        raise ScopeError(f"cannot list the subscriptions visible to this identity: {classify(exc)[1]}") from None
    subscriptions = tuple(sorted(set(request.subscriptions) | set(visible)))
    if not subscriptions:
        raise ScopeError("--all-subscriptions: no enabled subscription is visible to this identity")
    return Scope(subscriptions=subscriptions, kind=ALL_VISIBLE)


def preflight(factory: "ClientFactory", scope: Scope) -> None:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    from .arm import classify
    endpoint = factory.endpoint
    for sub in scope.subscriptions:
        try:
            factory.preflight(sub)
        except ServiceRequestError as exc:
            raise ScopeError(f"cannot reach the ARM endpoint {endpoint}: {classify(exc)[1]}") from None
        except ClientAuthenticationError as exc:
            raise ScopeError(f"authentication failed for subscription {sub}: {classify(exc)[1]}") from None
        except HttpResponseError as exc:
            code, message = classify(exc)
            if exc.status_code == 404 or code in ("SubscriptionNotFound", "InvalidSubscriptionId"):
                raise ScopeError(f"subscription {sub} not found or not visible to this identity ({code})") from None
            if exc.status_code == 401:
                raise ScopeError(f"authentication failed for subscription {sub}: {code}") from None
            # 403, throttling, 5xx: scan anyway; the collectors record what they cannot read.
            log.warning("subscription %s preflight: %s %s", sub, code, message)
        except Exception as exc:  # noqa: BLE001 - guard refusals, deadline: bad endpoint or environment
            raise ScopeError(f"cannot use the ARM endpoint {endpoint}: {classify(exc)[1]}") from None
