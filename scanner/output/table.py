"""Table: for a person at a terminal. A header, a coverage line, the findings grouped by severity
(NOT_ASSESSED last), a summary.

Colour only when the stream is a TTY (decided here from `stream.isatty()`, not from FORCE_COLOR,
so a CI log never gets escape codes it did not ask for); NO_COLOR is honoured on a TTY. Every
string from the report goes in as a rich `Text` (never as markup: a VM named `[link=...]x[/link]`
must print as written) after `_text.terminal`, which makes ESC and other control characters
visible instead of letting them drive the terminal.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rules.base import SEVERITIES
from scanner import ids

from ._text import terminal

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
NOT_ASSESSED_STYLE = "magenta"
COVERAGE_STYLE = {"ok": "green", "partial": "yellow", "failed": "red"}
DEFAULT_WIDTH = 120  # when not a terminal and COLUMNS is unset: ARM names are long, 80 wraps too much


def write(report: Mapping[str, Any], stream: TextIO) -> None:
    tty = _isatty(stream)
    console = Console(file=stream, force_terminal=tty, color_system="auto" if tty else None,
                      no_color=None if tty else True, highlight=False, markup=False, emoji=False,
                      width=None if tty else _width(), soft_wrap=False)
    frame = box.ROUNDED if tty else box.ASCII
    _header(console, report)
    _coverage(console, report.get("coverage", []))
    findings = list(report.get("findings", []))
    multi_sub = len(report.get("scan", {}).get("subscriptions", [])) > 1
    if not findings:
        console.print(Text("No findings.", style="green"))
    for severity in SEVERITIES:
        group = [f for f in findings if f.get("status") == "FAIL" and f.get("severity") == severity]
        if group:
            _findings_table(console, f"{severity.upper()} ({len(group)})", SEVERITY_STYLE[severity],
                            group, frame, multi_sub)
    other = [f for f in findings if f.get("status") == "FAIL" and f.get("severity") not in SEVERITIES]
    if other:  # only from a hand-edited report; shown rather than dropped
        _findings_table(console, f"OTHER SEVERITY ({len(other)})", "", other, frame, multi_sub)
    unknown = [f for f in findings if f.get("status") != "FAIL"]
    if unknown:
        _findings_table(console, f"NOT ASSESSED ({len(unknown)})", NOT_ASSESSED_STYLE, unknown, frame,
                        multi_sub, reason=True)
    _summary(console, report.get("summary", {}))


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _width() -> int:
    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return DEFAULT_WIDTH


def _header(console: Console, report: Mapping[str, Any]) -> None:
    tool = report.get("tool", {})
    scan = report.get("scan", {})
    subs = scan.get("subscriptions", [])
    line = Text()
    line.append(f"{terminal(tool.get('name'))} {terminal(tool.get('version'))}", style="bold")
    line.append(f"  scan {terminal(scan.get('started_at'))} .. {terminal(scan.get('finished_at'))}"
                f"  {len(subs)} subscription(s)  {terminal(scan.get('arm_requests'))} ARM request(s)")
    console.print(line)


def _coverage(console: Console, coverage: Iterable[Mapping[str, Any]]) -> None:
    records = list(coverage)
    counts = {status: sum(1 for c in records if c.get("status") == status) for status in COVERAGE_STYLE}
    line = Text("Coverage: ")
    for i, (status, n) in enumerate(counts.items()):
        if i:
            line.append(", ")
        line.append(f"{n} {status}", style=COVERAGE_STYLE[status] if n and status != "ok" else "")
    if not records:
        line.append(" (no coverage records: nothing was collected)", style="yellow")
    console.print(line)
    for c in records:
        if c.get("status") == "ok":
            continue
        scopes = c.get("failed_scopes") or []
        detail = Text("  ")
        detail.append(f"{terminal(c.get('status'))}", style=COVERAGE_STYLE.get(c.get("status", ""), ""))
        detail.append(f"  {terminal(c.get('subscription_id'))} {terminal(c.get('collector'))}"
                      f"  {terminal(c.get('error_code')) or 'error'}")
        if scopes:
            detail.append(f"  ({len(scopes)} scope(s) unreadable)")
        console.print(detail)


def _findings_table(console: Console, title: str, style: str, findings: list[Mapping[str, Any]],
                    frame: box.Box, multi_sub: bool, reason: bool = False) -> None:
    """Three columns so that it stays readable at 80 columns: the rule code, the resource (name,
    then type, group and, when several subscriptions were scanned, subscription on their own
    lines), and the rule slug with the message."""
    console.print()
    console.print(Text(title, style=style or "bold"))
    table = Table(box=frame, show_lines=True, expand=False, header_style="bold")
    table.add_column("Rule", no_wrap=True)
    table.add_column("Resource", overflow="fold", ratio=2)
    table.add_column("Reason" if reason else "Message", overflow="fold", ratio=3)
    for f in findings:
        resource = Text(terminal(ids.name_of(f.get("resource_id", ""))) or terminal(f.get("resource_id")))
        details = [(f.get("resource_type") or "").rsplit("/", 1)[-1]]
        if f.get("resource_group"):
            details.append(f"group {f.get('resource_group')}")
        if multi_sub and f.get("subscription_id"):
            details.append(f"subscription {f.get('subscription_id')}")
        for line in details:
            if line:
                resource.append("\n" + terminal(line), style="dim")
        message = Text(terminal(f.get("rule_name")), style="dim")
        message.append("\n" + terminal(f.get("message")))
        table.add_row(Text(terminal(f.get("rule_id"))), resource, message)
    console.print(table)


def _summary(console: Console, summary: Mapping[str, Any]) -> None:
    by_sev = summary.get("failed_by_severity", {})
    console.print()
    line = Text("Summary: ", style="bold")
    line.append(f"{summary.get('failed', 0)} failed (")
    line.append(", ".join(f"{by_sev.get(s, 0)} {s}" for s in SEVERITIES))
    line.append(f"), {summary.get('not_assessed', 0)} not assessed, {summary.get('passed', 0)} passed")
    console.print(line)
    scanned = summary.get("resources_by_type", {})
    if scanned:
        console.print(Text("Resources scanned: " + ", ".join(
            f"{terminal(n)} {terminal(kind).replace('_', ' ')}" for kind, n in scanned.items())))
    for error in summary.get("rule_errors", []):
        console.print(Text(f"Rule error: {terminal(error)}", style="red"))
