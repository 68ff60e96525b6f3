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
# Optional: other identifiers of the same error. Backup services send a number in `errorCode` and
# the name in `errorTitle` (health details: `code` + `title`), so an entry named by one is found
# by the other: {"code": "BCMV2VMNotFound", "aliases": ["400094"], ...}.
OPTIONAL_FIELDS = ("aliases",)
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
    aliases: tuple[str, ...] = ()  # the same error under another identifier (number or name)

    @property
    def identifiers(self) -> tuple[str, ...]:
        return (self.code, *self.aliases)


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
        extra = set(raw) - set(FIELDS) - set(OPTIONAL_FIELDS)
        if extra:
            raise KnowledgeBaseError(f"codes[{i}] ({raw['code']}): unknown field(s) {', '.join(sorted(extra))}")
        if raw["service"] not in SERVICES:
            raise KnowledgeBaseError(f"{raw['code']}: service must be one of {SERVICES}")
        if not raw["link"].startswith("https://learn.microsoft.com/"):
            raise KnowledgeBaseError(f"{raw['code']}: link must be a Microsoft Learn page")
        aliases = raw.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise KnowledgeBaseError(f"{raw['code']}: aliases must be a list of non-empty strings")
        entry = ErrorCode(**{f: raw[f].strip() for f in FIELDS}, aliases=tuple(a.strip() for a in aliases))
        for ident in entry.identifiers:
            key = _key(ident)
            if key in out:
                raise KnowledgeBaseError(f"{ident}: listed twice")
            out[key] = entry
    return out


@lru_cache(maxsize=1)
def load() -> dict[str, ErrorCode]:
    """The shipped knowledge base, read once."""
    text = resources.files("rules").joinpath("error_codes.json").read_text(encoding="utf-8")
    return parse(json.loads(text))


def all_codes() -> tuple[ErrorCode, ...]:
    return tuple(dict.fromkeys(load().values()))


def lookup(code: Any) -> ErrorCode | None:
    """The entry for `code` (case-insensitive; ' 151076 ' and 151076 both work), or None.

    `code` may also be a pair (number, name) as the service sends it (`errorCode` + `errorTitle`):
    the first identifier the knowledge base knows wins."""
    if code is None:
        return None
    if isinstance(code, (tuple, list)):
        for part in code:
            hit = lookup(part)
            if hit is not None:
                return hit
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


def _as_sent(raw: Any) -> tuple[str, ...]:
    """The non-empty identifiers of one error as the service sent it: a code, or (number, name)."""
    parts = raw if isinstance(raw, (tuple, list)) else (raw,)
    return tuple(s for s in (str(p).strip() for p in parts if p is not None) if s)


def evidence_for(codes: Iterable[Any]) -> list[dict[str, str]]:
    """Evidence entries [{code, meaning, fix, link}] for the codes seen, first-seen order, each error
    once. An item may be one code or a pair (number, name) as the service sent it; `code` then shows
    both ("520512 UserErrorX"). Unknown codes are kept, with meaning 'unknown code', so a reader sees
    every code the service sent."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for raw in codes:
        sent = _as_sent(raw)
        if not sent:
            continue
        entry = lookup(sent)
        key = _key(entry.code) if entry is not None else _key(" ".join(sent))
        if key in seen:
            continue
        seen.add(key)
        shown = " ".join(dict.fromkeys(sent))[:MAX_CODE_CHARS]
        if entry is None:
            out.append({"code": shown, "meaning": UNKNOWN, "fix": "", "link": ""})
        else:
            if len(sent) == 1:  # one identifier: show the entry's own name, after the number if it was one
                shown = entry.code if _key(sent[0]) == _key(entry.code) else f"{sent[0]} {entry.code}"[:MAX_CODE_CHARS]
            out.append({"code": shown, "meaning": entry.meaning, "fix": entry.fix, "link": entry.link})
    return out


def known(codes: Iterable[Any]) -> list[ErrorCode]:
    """The entries for those of `codes` that the knowledge base knows, each once."""
    out: list[ErrorCode] = []
    for raw in codes:
        entry = lookup(raw) if raw is not None else None
        if entry is not None and entry not in out:
            out.append(entry)
    return out
