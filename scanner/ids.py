"""ARM resource id helpers.

Ids are joined lower-cased (Azure returns the same id as `/Subscriptions/...` from one API and
`/subscriptions/...` from another); the original casing is kept separately for display.
"""
from __future__ import annotations

import re
from sys import intern

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_subscription_id(value: str) -> bool:
    return bool(_GUID.match(value or ""))


def norm(resource_id: str | None) -> str:
    """The join key: lower-cased, no trailing slash."""
    return (resource_id or "").strip().rstrip("/").lower()


def _segments(resource_id: str) -> list[str]:
    return [s for s in (resource_id or "").strip().split("/") if s]


def subscription_of(resource_id: str | None) -> str:
    rid = resource_id or ""
    if rid.startswith("/subscriptions/") or rid[:15].lower() == "/subscriptions/":
        sub, slash, _ = rid[15:].partition("/")  # the usual id: no need to split all of it
        if sub and slash:
            return intern(sub.lower())
    parts = _segments(rid)
    for i, part in enumerate(parts[:-1]):
        if part.lower() == "subscriptions":
            return intern(parts[i + 1].lower())  # one copy for every item of the subscription
    return ""


def _usual(rid: str) -> list[str] | None:
    """The first segments of the usual id, /subscriptions/<s>/resourceGroups/<rg>/..., split once
    (subscription_of and resource_group_of give the same answer from them as from the whole id);
    None for any other shape."""
    parts = rid.split("/", 5)
    if (len(parts) == 6 and not parts[0] and parts[1].lower() == "subscriptions" and parts[2]
            and parts[2].lower() != "resourcegroups" and parts[3].lower() == "resourcegroups" and parts[4]):
        return parts
    return None


def resource_group_of(resource_id: str | None) -> str:
    """The resource group name as written in the id (display casing)."""
    rid = resource_id or ""
    usual = _usual(rid)
    if usual is not None:  # without splitting all of it
        return intern(usual[4])
    parts = _segments(rid)
    for i, part in enumerate(parts[:-1]):
        if part.lower() == "resourcegroups":
            return intern(parts[i + 1])
    return ""


def subscription_and_group(resource_id: str | None) -> tuple[str, str]:
    """(subscription_of, resource_group_of) of the id, with one split of the usual id for both."""
    rid = resource_id or ""
    usual = _usual(rid)
    if usual is not None:
        return intern(usual[2].lower()), intern(usual[4])
    return subscription_of(rid), resource_group_of(rid)


def name_of(resource_id: str | None) -> str:
    parts = _segments(resource_id or "")
    return parts[-1] if parts else ""


def resource_group_id(subscription_id: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"


def subscription_scope(subscription_id: str) -> str:
    return f"/subscriptions/{subscription_id}"


def vm_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Compute/virtualMachines/{name}"


def parent_scopes(resource_id: str) -> list[str]:
    """Scopes whose locks apply to `resource_id`, normalised: itself, its resource group, its
    subscription. (Locks on a parent resource, e.g. a lock on a VM applied to a child extension,
    are out of scope for the rules we have.)"""
    rid = norm(resource_id)
    scopes = [rid]
    sub = subscription_of(rid)
    rg = resource_group_of(rid)
    if sub and rg:
        rg_scope = norm(resource_group_id(sub, rg))
        if rg_scope != rid:
            scopes.append(rg_scope)
    if sub and norm(subscription_scope(sub)) != rid:
        scopes.append(norm(subscription_scope(sub)))
    return scopes
