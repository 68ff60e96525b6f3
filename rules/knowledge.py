"""The error-code knowledge base: what an Azure Backup / Site Recovery error code means and what to do.

The entries are data (`rules/error_codes.json`, shipped as package data), written in the project's
own words from the troubleshooting pages in ../shared/seeds/ (rule-catalog.md, "Error-code table").
Rules use `evidence_for(codes)` to attach meaning, fix and link to what they saw (BCDR703, BCDR804,
BCDR903, BCDR904); the CLI uses `explain(text)`.

Codes come from Azure and are untrusted: lookups never evaluate them, and unknown codes are kept in
evidence (shortened) so nothing the service said is silently dropped.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

SERVICES = ("Backup", "Site Recovery")
FIELDS = ("code", "service", "meaning", "fix", "source", "link")
UNKNOWN = "unknown code"
MAX_CODE_CHARS = 128  # an unknown code is echoed into reports: keep a hostile one short
_TOKEN = re.compile(r"[A-Za-z0-9_]+")


class KnowledgeBaseError(ValueError):
    pass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    service: str  # Backup | Site Recovery
    meaning: str
    fix: str
    source: str  # seeds/ file and section
    link: str  # public Microsoft Learn page for the code


def _key(code: Any) -> str:
    return str(code).strip().lower()


def parse(data: Any) -> dict[str, ErrorCode]:
    """Validate the JSON document and index it by lower-cased code."""
    if not isinstance(data, dict) or not isinstance(data.get("codes"), list):
        raise KnowledgeBaseError("error-code file must be an object with a 'codes' list")
    out: dict[str, ErrorCode] = {}
    for i, raw in enumerate(data["codes"]):
        if not isinstance(raw, dict):
            raise KnowledgeBaseError(f"codes[{i}] is not an object")
        missing = [f for f in FIELDS if not isinstance(raw.get(f), str) or not raw[f].strip()]
        if missing:
            raise KnowledgeBaseError(f"codes[{i}] ({raw.get('code')!r}): missing or empty {', '.join(missing)}")
        extra = set(raw) - set(FIELDS)
        if extra:
            raise KnowledgeBaseError(f"codes[{i}] ({raw['code']}): unknown field(s) {', '.join(sorted(extra))}")
        if raw["service"] not in SERVICES:
            raise KnowledgeBaseError(f"{raw['code']}: service must be one of {SERVICES}")
        if not raw["link"].startswith("https://learn.microsoft.com/"):
            raise KnowledgeBaseError(f"{raw['code']}: link must be a Microsoft Learn page")
        entry = ErrorCode(**{f: raw[f].strip() for f in FIELDS})
        key = _key(entry.code)
        if key in out:
            raise KnowledgeBaseError(f"{entry.code}: listed twice")
        out[key] = entry
    return out


@lru_cache(maxsize=1)
def load() -> dict[str, ErrorCode]:
    """The shipped knowledge base, read once."""
    text = resources.files("rules").joinpath("error_codes.json").read_text(encoding="utf-8")
    return parse(json.loads(text))


def all_codes() -> tuple[ErrorCode, ...]:
    return tuple(load().values())


def lookup(code: Any) -> ErrorCode | None:
    """The entry for `code` (case-insensitive; ' 151076 ' and 151076 both work), or None."""
    if code is None:
        return None
    return load().get(_key(code))


def explain(text: str) -> ErrorCode | None:
    """Explain a code, or the one known code found in a pasted error message.

    An exact code wins. Otherwise the text is split into words and the first word that is a known
    code is returned (so 'Backup failed: UserErrorRpCollectionLimitReached ...' explains itself)."""
    if not text:
        return None
    exact = lookup(text)
    if exact is not None:
        return exact
    for token in _TOKEN.findall(str(text)):
        hit = lookup(token)
        if hit is not None:
            return hit
    return None


def evidence_for(codes: Iterable[Any]) -> list[dict[str, str]]:
    """Evidence entries [{code, meaning, fix, link}] for the codes seen, first-seen order, each code
    once. Unknown codes are kept, with meaning 'unknown code', so a reader sees every code."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for raw in codes:
        if raw is None:
            continue
        code = str(raw).strip()
        if not code or _key(code) in seen:
            continue
        seen.add(_key(code))
        entry = lookup(code)
        if entry is None:
            out.append({"code": code[:MAX_CODE_CHARS], "meaning": UNKNOWN, "fix": "", "link": ""})
        else:
            out.append({"code": entry.code, "meaning": entry.meaning, "fix": entry.fix, "link": entry.link})
    return out


def known(codes: Iterable[Any]) -> list[ErrorCode]:
    """The entries for those of `codes` that the knowledge base knows, each once."""
    out: list[ErrorCode] = []
    for raw in codes:
        entry = lookup(raw) if raw is not None else None
        if entry is not None and entry not in out:
            out.append(entry)
    return out
