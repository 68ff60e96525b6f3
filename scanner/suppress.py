"""The suppressions file (`--suppressions FILE`, TOML): accepted risks with an owner, a reason and
an expiry.

    [[suppress]]
    rule = "BCDR801"                                        # rule code, required
    resource = "/subscriptions/*/resourceGroups/lab-*/*"    # resource id glob (fnmatch, any case), required
    reason = "lab VMs are rebuilt from images"              # required
    expires = 2027-03-31                                    # date (TOML date or "YYYY-MM-DD"), required
    owner = "platform-team"                                 # optional

A FAIL finding whose rule and resource id match an entry that has not expired becomes SUPPRESSED:
listed with the entry's reason, owner and expiry, never counted as failed and never gating the exit
code. NOT_ASSESSED findings are never suppressed (what could not be read stays visible). An entry
past its expiry date stops suppressing and is listed in the report's `suppressions.expired`; an
entry that matched no finding is listed in `suppressions.unmatched`. A file that cannot be read
(bad TOML, unknown key, missing field, bad date, unknown rule code) is a SuppressionError: one line,
exit 2, before anything is scanned.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import tomllib
from pathlib import Path
from typing import Any

from .model import FAIL, SUPPRESSED, Finding, Report, Suppression, SuppressionsReport

REQUIRED = ("rule", "resource", "reason", "expires")
KEYS = (*REQUIRED, "owner")


class SuppressionError(Exception):
    """A suppressions file that cannot be used."""


def load_suppressions(path: str, known_rules: set[str] | None = None) -> tuple[Suppression, ...]:
    """The entries of `path`, checked (rule codes against `known_rules`, the catalog by default)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SuppressionError(f"cannot read --suppressions {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SuppressionError(f"--suppressions {path} is not valid TOML: {exc}") from None
    if known_rules is None:
        from rules import load_all
        known_rules = set(load_all())
    extra = sorted(set(data) - {"suppress"})
    if extra:
        raise SuppressionError(f"--suppressions {path}: unknown key {extra[0]!r} (only [[suppress]] entries)")
    entries = data.get("suppress", [])
    if not isinstance(entries, list):
        raise SuppressionError(f"--suppressions {path}: 'suppress' must be an array of tables ([[suppress]])")
    return tuple(_entry(e, f"--suppressions {path}: suppress[{i}]", known_rules) for i, e in enumerate(entries))


def _entry(raw: Any, where: str, known_rules: set[str]) -> Suppression:
    if not isinstance(raw, dict):
        raise SuppressionError(f"{where}: expected a table")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise SuppressionError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(KEYS)})")
    for key in REQUIRED:
        if key not in raw:
            raise SuppressionError(f"{where}: missing {key!r}")
    for key in ("rule", "resource", "reason", "owner"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
            raise SuppressionError(f"{where}: {key!r} must be a non-empty string")
    rule = raw["rule"].strip().upper()
    if rule not in known_rules:
        raise SuppressionError(f"{where}: rule {raw['rule'][:40]!r} is not a rule code (see 'az-bcdr-scan rules')")
    return Suppression(rule=rule, resource=raw["resource"].strip(), reason=raw["reason"].strip(),
                       expires=_date(raw["expires"], where), owner=raw.get("owner", "").strip())


def _date(value: Any, where: str) -> str:
    if isinstance(value, dt.datetime):  # a TOML date-time: a date is asked for
        raise SuppressionError(f"{where}: 'expires' must be a date (YYYY-MM-DD), not a date-time")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat() if len(value.strip()) == 10 else _bad(where, value)
        except ValueError:
            pass
    return _bad(where, value)


def _bad(where: str, value: Any) -> str:
    raise SuppressionError(f"{where}: 'expires' {str(value)[:40]!r} is not a date (YYYY-MM-DD)")


def matches(entry: Suppression, f: Finding) -> bool:
    return entry.rule == f.rule_id and fnmatch.fnmatchcase(f.resource_id.lower(), entry.resource.lower())


def apply(report: Report, entries: tuple[Suppression, ...], today: dt.date | None = None) -> Report:
    """`report` with the FAIL findings that a live entry matches SUPPRESSED, and the expired and
    unmatched entries listed. An entry expires at the end of its `expires` day (UTC)."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    live = [e for e in entries if dt.date.fromisoformat(e.expires) >= today]
    expired = tuple(e for e in entries if dt.date.fromisoformat(e.expires) < today)
    used: set[int] = set()
    findings = []
    for f in report.findings:
        if f.suppressed:  # a report suppressed before (a shard given to merge): judged afresh
            f = dataclasses.replace(f, status=FAIL, suppression=None)
        hit = next((i for i, e in enumerate(live) if f.failed and matches(e, f)), None)
        if hit is None:
            findings.append(f)
            continue
        used.add(hit)
        findings.append(dataclasses.replace(f, status=SUPPRESSED, suppression=live[hit]))
    unmatched = tuple(e for i, e in enumerate(live) if i not in used)
    return dataclasses.replace(report, findings=tuple(findings),
                               suppressions=SuppressionsReport(expired=expired, unmatched=unmatched))
