"""Small readings of a finding, or of the scan, that several writers share (HTML, markdown, JUnit, table)."""
from __future__ import annotations

import json
from typing import Any

from .. import ids
from ..model import Finding, ScanInfo, Suppression
from ..scope import ALL_VISIBLE, MANAGEMENT_GROUP, NAMED

NEW, UNCHANGED = "new", "unchanged"

# Where a baseline comparison may put its mark on a finding (the attribute name the baseline work
# chose is read here, in one place; a report without a baseline has none of them).
_BASELINE_ATTRS = ("baseline", "baseline_status", "baseline_state", "change")


def baseline_mark(f: Finding) -> str:
    """"new" or "unchanged" when the report was compared with a baseline, else ""."""
    for attr in _BASELINE_ATTRS:
        value = getattr(f, attr, None)
        if isinstance(value, str) and value.lower() in (NEW, UNCHANGED):
            return value.lower()
    return ""


def suppression_note(s: Suppression) -> str:
    """Why a SUPPRESSED finding is not counted: the entry's expiry, owner and reason."""
    return f"suppressed until {s.expires}" + (f" by {s.owner}" if s.owner else "") + f": {s.reason}"


def scope_note(scan: ScanInfo) -> str:
    """What was scanned, in words (schema 2.4's scan.scope), unescaped; "" when the report does not say."""
    if scan.scope == NAMED:
        return "subscriptions named one by one"
    if scan.scope == ALL_VISIBLE:
        return "every subscription the identity can see"
    if scan.scope == MANAGEMENT_GROUP:
        groups = ", ".join(scan.management_groups)
        return (f"every subscription under management group{'s' if len(scan.management_groups) > 1 else ''} {groups}"
                if groups else "every subscription under the management group(s) given")
    return ""


def has_baseline(findings: tuple[Finding, ...] | list[Finding]) -> bool:
    return any(baseline_mark(f) for f in findings)


def short_name(resource_id: str) -> str:
    """What a person calls the resource: its last name segment, with the parent for the nested
    resources that are only meaningful under it (a vault's protected item, a disk's snapshot),
    e.g. `vault1/vm;iaasvmcontainerv2;rg;app1` becomes `app1` when the item names its VM."""
    name = ids.name_of(resource_id) or resource_id
    if ";" in name:  # Recovery Services item and container names: iaasvmcontainerv2;rg;vm
        name = name.rsplit(";", 1)[-1] or name
    return name


def evidence_value(value: Any) -> str:
    """An evidence value as one readable string (strings as they are, the rest as JSON)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
