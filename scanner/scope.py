"""The scope step: which subscriptions a scan reads, and whether it can read them at all.

Three moves, before anything is collected, each failing with one line (ScopeError, exit 2):
1. the credential yields a token;
2. `resolve`: the subscriptions named, plus, with `all_subscriptions`, every enabled subscription
   the identity can see (GET /subscriptions), plus, for each `management_groups` entry, every
   subscription under that group, nested groups included (GET /providers/Microsoft.Management/
   managementGroups/{id}/descendants);
3. `preflight`: GET /subscriptions/{id} for each, which tells an unknown subscription or a bad
   endpoint apart from a subscription whose data the identity cannot read (403, throttling, 5xx:
   the scan goes on and the collectors record what they could not read). A subscription found only
   under a management group that is disabled, deleted or not found is left out with a warning (the
   descendants carry no state; the preflight does), as --all-subscriptions leaves them out.

A management group that cannot be resolved (unknown, no access, failing) stops the scan even when
subscriptions are named too: the user asked for the group's subscriptions, and a report of the
named ones alone would look complete while leaving out subscriptions nobody listed anywhere.
Scope.kind tells the rules how complete the set is (BCDR801).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports ScopeError at start-up; the SDK stack loads only for a scan
    from .arm import ClientFactory

log = logging.getLogger(__name__)

NAMED = "subscriptions"  # Inventory.scope: the subscriptions were named one by one
ALL_VISIBLE = "all-subscriptions"  # every enabled subscription the identity can see was read
MANAGEMENT_GROUP = "management-group"  # every subscription under the named management group(s)
SCOPE_KINDS = (NAMED, ALL_VISIBLE, MANAGEMENT_GROUP)  # the report's scan.scope.kind (schema 2.4)

# A management group id (its name, as in /providers/Microsoft.Management/managementGroups/{id}):
# 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.' (Azure's resource naming rules
# for Microsoft.Management/managementGroups). Nothing that could change the request path.
_GROUP_ID = re.compile(r"[A-Za-z0-9_\-.()]{0,89}[A-Za-z0-9_\-()]")
_GROUP_PREFIX = "/providers/microsoft.management/managementgroups/"


def parse_management_group(value: str) -> str:
    """The group id of `--management-group VALUE` (an id, or the group's full ARM resource id);
    ValueError with a one-line reason when it is neither."""
    text = value.strip()
    if text.lower().startswith(_GROUP_PREFIX):
        text = text[len(_GROUP_PREFIX):].rstrip("/")
    if not _GROUP_ID.fullmatch(text):
        raise ValueError(f"--management-group {value[:100]!r} is not a management group id (1-90 letters, digits, "
                         f"'-', '_', '.', '(' or ')', not ending in '.')")
    return text


class ScopeError(Exception):
    """Nothing can be scanned (no credential, unknown subscription, unusable endpoint): one line."""


@dataclass(frozen=True)
class ScopeRequest:
    """What the user asked to scan."""
    subscriptions: tuple[str, ...] = ()  # lower-cased subscription GUIDs
    all_subscriptions: bool = False
    shard: tuple[int, int] | None = None  # (K, N): only shard K of N of the resolved subscriptions
    management_groups: tuple[str, ...] = ()  # group ids (parse_management_group): every subscription under each


@dataclass(frozen=True)
class Scope:
    """What the scan reads: resolved, and every subscription preflighted."""
    subscriptions: tuple[str, ...]
    kind: str  # NAMED | ALL_VISIBLE | MANAGEMENT_GROUP (Inventory.scope)
    # Found only under a management group (not named, not visible-listed): a disabled one is left out.
    from_groups: frozenset[str] = frozenset()
    management_groups: tuple[str, ...] = ()  # the groups asked for (the report names them)


def establish(factory: "ClientFactory", request: ScopeRequest) -> Scope:
    """Credential check, resolution and preflight, in that order (the first failure stops)."""
    check_credential(factory)
    scope = resolve(factory, request)
    if request.shard is not None:  # before the preflight: each shard reads only its own
        from .merge import shard_subscriptions
        scope = replace(scope, subscriptions=shard_subscriptions(scope.subscriptions, *request.shard))
    return preflight(factory, scope)


def check_credential(factory: "ClientFactory") -> None:
    try:
        factory.check_credential()
    except Exception as exc:  # noqa: BLE001 - any credential failure is an authentication error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScopeError(f"no usable Azure credentials ({first[:200]}); run 'az login', set AZURE_CLIENT_ID/"
                         f"AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or set AZURE_ACCESS_TOKEN") from None


def resolve(factory: "ClientFactory", request: ScopeRequest) -> Scope:
    from .arm import classify
    named = set(request.subscriptions)
    visible: set[str] = set()
    if request.all_subscriptions:
        try:
            visible = set(factory.list_subscriptions())
        except Exception as exc:  # noqa: BLE001 - cannot resolve the scope: nothing is scanned
            raise ScopeError(f"cannot list the subscriptions visible to this identity: {classify(exc)[1]}") from None
        if not visible and not named and not request.management_groups:
            raise ScopeError("--all-subscriptions: no enabled subscription is visible to this identity")
    grouped: set[str] = set()
    empty: list[str] = []
    for group in request.management_groups:
        under = management_group_subscriptions(factory, group)
        if not under:
            empty.append(group)
        grouped.update(under)
    widened = request.all_subscriptions or bool(request.management_groups)
    subscriptions = tuple(sorted(named | visible | grouped)) if widened else tuple(request.subscriptions)
    if not subscriptions:
        groups = ", ".join(request.management_groups)
        raise ScopeError(f"--management-group {groups}: no subscription under it is visible to this identity")
    for group in empty:
        log.warning("management group %s has no subscription under it that this identity can see", group)
    # The most complete description wins: every visible subscription covers the groups' ones.
    kind = ALL_VISIBLE if request.all_subscriptions else MANAGEMENT_GROUP if request.management_groups else NAMED
    return Scope(subscriptions=subscriptions, kind=kind, from_groups=frozenset(grouped - named - visible),
                 management_groups=tuple(request.management_groups))


def management_group_subscriptions(factory: "ClientFactory", group: str) -> list[str]:
    """The subscriptions under one management group, or one ScopeError line saying why not."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    from .arm import classify
    try:
        return factory.management_group_subscriptions(group)
    except ClientAuthenticationError as exc:
        raise ScopeError(f"authentication failed for management group {group}: {classify(exc)[0]}") from None
    except HttpResponseError as exc:
        code, _ = classify(exc)
        if exc.status_code == 403 or exc.status_code == 404:
            # ARM answers 403 AuthorizationFailed both for a group that does not exist and for one the
            # identity has no role on ("...or the scope is invalid").
            raise ScopeError(f"management group {group} not found or not readable by this identity ({code}): it needs "
                             f"Management Group Reader or Reader on the group") from None
        raise ScopeError(f"cannot list the subscriptions under management group {group}: {code}: {classify(exc)[1]}") from None
    except Exception as exc:  # noqa: BLE001 - guard refusals, paging limits, deadline, malformed body
        code, message = classify(exc)
        raise ScopeError(f"cannot list the subscriptions under management group {group}: {code}: {message}") from None


def preflight(factory: "ClientFactory", scope: Scope) -> Scope:
    """Every subscription checked; the scope without the disabled ones found only under a group."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    from .arm import SCANNABLE_STATES, classify
    endpoint = factory.endpoint
    left_out: set[str] = set()
    for sub in scope.subscriptions:
        try:
            state = factory.preflight(sub)
            if sub in scope.from_groups and state.lower() not in SCANNABLE_STATES:
                log.warning("subscription %s (under a management group) is %s: left out", sub, state)
                left_out.add(sub)
        except ServiceRequestError as exc:
            raise ScopeError(f"cannot reach the ARM endpoint {endpoint}: {classify(exc)[1]}") from None
        except ClientAuthenticationError as exc:
            raise ScopeError(f"authentication failed for subscription {sub}: {classify(exc)[1]}") from None
        except HttpResponseError as exc:
            code, message = classify(exc)
            if exc.status_code == 404 or code in ("SubscriptionNotFound", "InvalidSubscriptionId"):
                if sub in scope.from_groups:  # listed under the group, gone since (a cancelled subscription)
                    log.warning("subscription %s (under a management group) not found (%s): left out", sub, code)
                    left_out.add(sub)
                    continue
                raise ScopeError(f"subscription {sub} not found or not visible to this identity ({code})") from None
            if exc.status_code == 401:
                raise ScopeError(f"authentication failed for subscription {sub}: {code}") from None
            # 403, throttling, 5xx: scan anyway; the collectors record what they cannot read.
            log.warning("subscription %s preflight: %s %s", sub, code, message)
        except Exception as exc:  # noqa: BLE001 - guard refusals, deadline: bad endpoint or environment
            raise ScopeError(f"cannot use the ARM endpoint {endpoint}: {classify(exc)[1]}") from None
    if not left_out:
        return scope
    kept = tuple(s for s in scope.subscriptions if s not in left_out)
    if not kept:
        raise ScopeError("every subscription under the management group(s) is disabled, deleted or gone: nothing to scan")
    return replace(scope, subscriptions=kept, from_groups=scope.from_groups - left_out)

