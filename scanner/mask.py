"""`--mask-subscription-ids`: every subscription id of the report, wherever it appears (fields,
resource ids, messages, evidence, keys), replaced by a stable pseudonym, for reports shared outside
the team. The pseudonym is GUID-shaped (every format and the schema keep working) and keyed:
HMAC-SHA256 of the lower-cased id under AZ_BCDR_MASK_KEY (a default key when unset; set your own
so that nobody holding a candidate id can confirm it). Fingerprints are kept: they are hashes
already, and baselines and merges keep matching masked reports."""
from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import Any

from .model import Report

DEFAULT_KEY = "az-bcdr-scan subscription pseudonyms"
_GUID = re.compile(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def pseudonym(subscription_id: str, key: str) -> str:
    h = hmac.new(key.encode(), subscription_id.lower().encode(), hashlib.sha256).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def mask_subscription_ids(report: Report, key: str | None = None) -> Report:
    key = key if key is not None else os.environ.get("AZ_BCDR_MASK_KEY") or DEFAULT_KEY
    subs = {s.lower() for s in report.scan.subscriptions}
    subs |= {f.subscription_id.lower() for f in report.findings if f.subscription_id}
    subs |= {c.subscription_id.lower() for c in report.coverage if c.subscription_id}
    subs |= {v.subscription_id.lower() for v in report.readiness if v.subscription_id}
    names = {s: pseudonym(s, key) for s in subs}

    def text(s: str) -> str:
        return _GUID.sub(lambda m: names.get(m.group().lower(), m.group()), s)

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return text(value)
        if isinstance(value, dict):
            return {walk(k): walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value
    return Report.from_dict(walk(report.to_dict()))
