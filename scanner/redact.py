"""Redaction: the one step every string passes before it leaves the process (report, inventory,
logs, stderr).

Azure answers are untrusted, and some carry secrets we never asked for: a proxy or gateway error
that echoes the request's `Authorization` header, an extension status message with a SAS URL, a
connection string in a tag. The scanner itself never puts a secret in a string; this module
removes the ones that arrive anyway:

- bearer tokens (`Bearer <anything>`) and JWT-shaped strings (three base64url segments, the
  first a JSON header: `eyJ...`);
- SAS signatures (`sig=...` in a URL or query string);
- storage account keys and shared access keys, standalone (88-character base64) or as
  `AccountKey=` / `SharedAccessKey=` / `Password=` parts of a connection string;
- any value registered with `register_secret` (the token the scan runs with, whatever its shape).

`redact` works on one string, `scrub` on a JSON-like tree (dicts, lists, strings), `for_terminal`
also makes control characters visible (stderr and the table must not let a name drive the
terminal). The writers in scanner.emit and the log handler of the CLI call these; nothing else
has to remember to.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any

REDACTED = "<redacted>"

_BEARER = re.compile(r"(?i)\b(bearer)(\s+|%20|\+)[A-Za-z0-9\-._~+/=%]+")
# A JWT: base64url header that decodes to '{"...' (starts eyJ), payload, optional signature.
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*")
# SAS: the signature is the secret; the rest of the URL (host, path, expiry) helps the reader.
_SAS_SIG = re.compile(r"(?i)((?:^|[?&;\s\"'])sig=)[^&\s\"'<>]+")
# key=value secrets inside connection strings and similar blobs (Azure storage, Service Bus, SQL).
_KEYED = re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|ClientSecret|"
                    r"client_secret|access_token|refresh_token)(\s*[=:]\s*)(\"?)[^;&\s\"'<>]+")
_KEYED_WORDS = ("accountkey", "sharedaccesskey", "sharedaccesssignature", "password", "pwd", "clientsecret",
                "client_secret", "access_token", "refresh_token")  # _KEYED's words, lower-cased
# A storage account key on its own: 64 random bytes, base64 (86 characters and "==").
_ACCOUNT_KEY = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==")
# Each pattern with the literals one of which its every match holds (lower-cased for the
# case-insensitive ones), in the order they run, and its replacement.
_PATTERNS: tuple[tuple[re.Pattern[str], tuple[str, ...], bool, Any], ...] = (
    (_BEARER, ("bearer",), True, lambda mt: f"{mt.group(1)} {REDACTED}"),
    (_JWT, ("eyJ",), False, REDACTED),
    (_SAS_SIG, ("sig=",), True, lambda mt: mt.group(1) + REDACTED),
    (_KEYED, _KEYED_WORDS, True, lambda mt: mt.group(1) + mt.group(2) + mt.group(3) + REDACTED),
    (_ACCOUNT_KEY, ("==",), False, REDACTED),
)

_known: set[str] = set()
_known_longest_first: tuple[str, ...] = ()  # _known in the order redact replaces them (a new tuple per change)
_known_lock = threading.Lock()
_MIN_SECRET = 8  # shorter values would redact ordinary words
# A report or an inventory repeats its strings (a 1,000-VM report: 69,413 strings, 6,638 distinct; its
# inventory 361,704 and 43,428): the answers for short ones are kept in a small table, emptied when
# full and whenever a secret is registered (under the lock: no answer made without that secret is
# kept after it).
_SEEN_MAX = 4096
_SEEN_LONGEST = 128  # characters
_seen: dict[str, str] = {}


def register_secret(value: str | None) -> None:
    """Redact this exact value wherever it appears (the access token in use, a client secret)."""
    global _known_longest_first
    if value and len(value.strip()) >= _MIN_SECRET:
        with _known_lock:
            _known.add(value.strip())
            _known_longest_first = tuple(sorted(_known, key=len, reverse=True))
            _seen.clear()


def redact(text: str) -> str:
    """`text` with every secret replaced by `<redacted>`."""
    if not text:
        return text
    short = len(text) <= _SEEN_LONGEST
    if short:
        seen = _seen.get(text)
        if seen is not None:
            return seen
    known = _known_longest_first
    done = _redacted(text, known)
    if short:
        with _known_lock:
            if known is _known_longest_first:  # no secret registered meanwhile
                if len(_seen) >= _SEEN_MAX:
                    _seen.clear()
                _seen[text] = done
    return done


def _redacted(text: str, known: tuple[str, ...]) -> str:
    for secret in known:  # sorted once per register_secret, not once per string
        if secret in text:
            text = text.replace(secret, REDACTED)
    # Each pattern runs only on a text holding the literal every one of its matches holds: the same
    # result as running them all (a pattern that cannot match changes nothing), without scanning
    # every string of a report or inventory five times over (the account-key pattern tries 86
    # characters at each position: nearly a third of a 1,000-VM scan's instructions went to this). Each
    # test reads the text as the pattern before it left it. The case-insensitive patterns' words
    # are looked for in the lower-cased text only when it is ASCII: under IGNORECASE, re also
    # matches some other letters to ASCII ones (the Kelvin sign to k, the long s to s), so
    # any other text takes those patterns as before.
    plain = text.isascii()
    low = text.lower() if plain else ""
    for pattern, needles, insensitive, repl in _PATTERNS:
        hit = insensitive and not plain
        if not hit:
            where = low if insensitive else text
            for needle in needles:
                if needle in where:
                    hit = True
                    break
        if hit:
            done = pattern.sub(repl, text)
            if done != text:
                text, low = done, done.lower() if plain else ""
    return text


def scrub(value: Any) -> Any:
    """A JSON-like tree with every string (keys too) redacted; other values unchanged."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {scrub(k) if isinstance(k, str) else k: scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def for_terminal(text: str, keep_newlines: bool = True) -> str:
    """Redacted, with control characters made visible (`\\x1b`): safe to write to a terminal. The
    escaping is the report writers' own (scanner.output._text.visible)."""
    from .output._text import visible
    return visible(redact(text), keep="\n\t" if keep_newlines else "")


class RedactingFormatter(logging.Formatter):
    """A log formatter whose output (message, arguments, traceback) is redacted and terminal-safe."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))
