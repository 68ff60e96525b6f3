"""Golden files: the hostile test scenario (tests/report_scenarios.py, HOSTILE in names, a resource
group, a lock and a coverage message) rendered in each format this file covers, compared byte for
byte with fixtures/golden/. A writer change shows up as a diff to review; regenerate with
`AZ_BCDR_UPDATE_GOLDEN=1 pytest tests/test_golden.py` and read the diff before committing.

Besides the equality, each case asserts that the hostile strings are escaped in the file as
written (so a regenerated golden file cannot quietly bless an unescaped one)."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import factories as f
import pytest
import report_scenarios as rs

from scanner.model import Report
from scanner.output import write_report

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"
UPDATE = os.environ.get("AZ_BCDR_UPDATE_GOLDEN", "") not in ("", "0")


# fixtures/ hold only the placeholder subscription ids (test_collectors checks every file there)
PLACEHOLDERS = {f.SUB: "00000000-0000-4000-8000-000000000111", f.SUB2: "00000000-0000-4000-8000-000000000222"}


def _report() -> Report:
    text = json.dumps(rs.report(hostile=True).to_dict())
    for real, placeholder in PLACEHOLDERS.items():
        text = text.replace(real, placeholder)
    return Report.from_json(text)


def _render(fmt: str) -> str:
    out = io.StringIO()
    write_report(_report(), fmt, out)
    return out.getvalue()


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _check_escaped(fmt: str, text: str) -> None:
    assert "\x1b" not in text and "\x00" not in text  # ANSI escapes and NULs never reach a file raw
    doc = json.loads(text)
    strings = list(_strings(doc))
    assert any(rs.SCRIPT in s for s in strings) or fmt == "sarif"  # JSON keeps the data, escaped by JSON
    if fmt == "sarif":
        results = doc["runs"][0]["results"]
        for r in results:
            msg = r["message"]["text"]
            assert "[x](1)" not in msg and "\x1b" not in msg
            assert "{0}" not in msg.replace("{{0}}", "")
            uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            assert all(c not in uri for c in "<>|`\n =\"")  # percent-encoded
        for rule in doc["runs"][0]["tool"]["driver"]["rules"]:
            assert "<script" not in rule["help"]["markdown"]
    else:
        # JSON: the strings read back exactly as Azure sent them (JSON escapes, not mangles)
        assert any(rs.HOSTILE in s for s in strings)
        assert "\\u001b" in text  # ESC written as a JSON escape


@pytest.mark.parametrize("fmt,name", [("json", "hostile.json"), ("sarif", "hostile.sarif")])
def test_golden(fmt, name):
    text = _render(fmt)
    _check_escaped(fmt, text)
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8", newline="")
    assert path.read_text(encoding="utf-8") == text, f"{name} changed: review, then regenerate (module docstring)"


# The human formats: html, markdown, junit and table, over the same scenario.
TEXT_GOLDEN = {"html": "hostile.html", "markdown": "hostile.md", "junit": "hostile.junit.xml",
               "table": "hostile.table.txt"}


@pytest.mark.parametrize("fmt", sorted(TEXT_GOLDEN))
def test_golden_text_formats(fmt, monkeypatch):
    monkeypatch.setenv("COLUMNS", "140")  # the table's width when not a terminal
    text = _render(fmt)
    assert "\x1b" not in text and "\x00" not in text  # ANSI escapes and NULs never reach a file raw
    if fmt in ("html", "junit"):
        assert rs.SCRIPT not in text and "&lt;script&gt;" in text
    if fmt == "markdown":
        assert "<script>" not in text and rs.FORMULA not in text and "a|b" not in text
    if fmt == "table":
        assert "\\x1b" in text  # ESC made visible, not sent to the terminal
    path = GOLDEN / TEXT_GOLDEN[fmt]
    if UPDATE:
        path.write_text(text, encoding="utf-8", newline="")
    assert path.read_text(encoding="utf-8") == text, f"{path.name} changed: review, then regenerate (module docstring)"
