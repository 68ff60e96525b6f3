"""Escapers for untrusted strings, one per output syntax.

Everything that came from Azure (resource names, tags, messages, evidence) and, defensively,
everything else read from a report dict goes through one of these before a writer emits it: a
report can be loaded back from a file that someone else wrote.
"""
from __future__ import annotations

import html
import re
from typing import Any

# Characters that change how text is displayed rather than what it says: C0/C1 controls (ESC
# starts terminal escape sequences, CSI U+009B is a one-character ESC[ on some terminals), DEL,
# bidirectional overrides and isolates (the "Trojan Source" trick: text that reads differently
# from what it is), zero-width characters, line/paragraph separators, lone surrogates (not
# encodable as UTF-8) and the BOM.
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# XML 1.0 section 2.2 (Char production): tab, LF, CR, and U+0020 upwards, minus surrogates and
# U+FFFE/U+FFFF. Anything else makes the document not well-formed, escaped or not.
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can start
# markup in a GFM table cell: emphasis (* _ ~), code (`), links and images ([ ] ( ) !), the cell
# separator (|), autolinks (: . @ stop "http://x" and "www.x" from being recognised), math ($),
# braces and #, + for good measure, and the backslash itself. < > & become entities instead.
_MD_PUNCT = frozenset("\\`*_{}[]()#+!|~:.@$")

# OWASP "CSV Injection": a cell starting with one of these is read as a formula by spreadsheets.
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def text(value: Any) -> str:
    """Any report value as a string (None as empty)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _normalise_newlines(s: str) -> str:
    return s.replace("\r\n", "\n").replace("\r", "\n")


def visible(value: Any, keep: str = "") -> str:
    """Replace display-changing characters by a visible escape (`\\x1b`, `\\u202e`, `\\n`), except
    those in `keep`."""
    def sub(match: re.Match[str]) -> str:
        ch = match.group()
        if ch in keep:
            return ch
        if ch in _NAMED:
            return _NAMED[ch]
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return _INVISIBLE.sub(sub, text(value))


def terminal(value: Any) -> str:
    """For a terminal: one line, no escape sequences, no bidi tricks."""
    return visible(value)


def xml(value: Any) -> str:
    """For XML text and attributes (ElementTree escapes & < > and quotes itself): characters that
    XML 1.0 forbids are stripped; legal but display-changing ones (C1, bidi) made visible. Line
    ends become LF, which is what an XML parser makes of a raw CR in text anyway (XML 1.0 2.11)."""
    return visible(_normalise_newlines(_XML_ILLEGAL.sub("", text(value))), keep="\t\n")


def markdown(value: Any) -> str:
    """For a GFM table cell: every markup character escaped, HTML neutralised, newlines as <br>."""
    s = visible(_normalise_newlines(text(value)), keep="\n")
    out: list[str] = []
    for ch in s:
        if ch == "\n":
            out.append("<br>")
        elif ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch in _MD_PUNCT:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def html_text(value: Any) -> str:
    """For HTML element content and quoted attribute values."""
    return html.escape(visible(_normalise_newlines(text(value)), keep="\n"), quote=True)


def sarif(value: Any) -> str:
    """For a SARIF plain-text message (SARIF 2.1.0 section 3.11): braces are doubled (they would
    otherwise read as {0}-style placeholders, 3.11.5) and square brackets backslash-escaped (they
    would otherwise read as embedded links like [text](1), 3.11.6)."""
    s = visible(_normalise_newlines(text(value)), keep="\n\t")
    return (s.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
            .replace("{", "{{").replace("}", "}}"))


def csv_cell(value: Any) -> str:
    """For a CSV cell: a leading formula trigger is defused with a ' prefix (also when it hides
    behind leading spaces); newlines and tabs are kept (the csv module quotes the cell), other
    controls made visible."""
    s = visible(text(value), keep="\t\n\r")
    if s.startswith(_CSV_TRIGGERS) or s.lstrip(" \n").startswith(_CSV_TRIGGERS):
        return "'" + s
    return s


def safe_url(value: Any) -> str | None:
    """The value when it is a plain https URL that is safe to emit as a link target, else None
    (a report from a file could carry `javascript:` or a URL that breaks out of the link syntax)."""
    s = text(value)
    if re.fullmatch(r"https://[A-Za-z0-9.-]+(/[A-Za-z0-9._~/%#?=&+-]*)?", s):
        return s
    return None
