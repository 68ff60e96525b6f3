"""Microsoft.Resources resource groups and Microsoft.Authorization locks."""
from __future__ import annotations

from typing import Any

from .. import ids
from .. import inventory as m
from .base import dct, require_id, s, word

_LOCK_MARK = "/providers/microsoft.authorization/locks/"


def map_resource_group(raw: dict[str, Any]) -> m.ResourceGroup:
    rid, display = require_id(raw)
    return m.ResourceGroup(id=rid, display_id=display, name=s(raw.get("name")) or ids.name_of(display),
                           subscription_id=ids.subscription_of(display), location=word(s(raw.get("location")).lower()))


def map_lock(raw: dict[str, Any]) -> m.Lock:
    """A lock from the subscription-level list, which also returns locks on resource groups and
    resources; the locked scope is the part of the id before /providers/Microsoft.Authorization/locks/."""
    rid, display = require_id(raw)
    cut = rid.rfind(_LOCK_MARK)
    if cut < 0:
        raise ValueError("lock id has no /providers/Microsoft.Authorization/locks/ segment")
    scope = rid[:cut] or "/"
    parts = [p for p in scope.split("/") if p]
    if len(parts) == 2 and parts[0] == "subscriptions":
        kind = "subscription"
    elif len(parts) == 4 and parts[2] == "resourcegroups":
        kind = "resourceGroup"
    else:
        kind = "resource"
    props = dct(raw.get("properties"))
    return m.Lock(id=rid, display_id=display, name=s(raw.get("name")) or ids.name_of(display),
                  level=s(props.get("level")) or s(raw.get("level")), scope=scope, scope_kind=kind,
                  subscription_id=ids.subscription_of(display), notes=s(props.get("notes"))[:500])
