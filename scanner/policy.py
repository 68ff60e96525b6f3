"""The exit-code policy: one function of the report (README, "Exit codes").

  0  no FAIL finding at or above --fail-on, and every collector read everything
  1  at least one FAIL finding at or above --fail-on (SUPPRESSED findings never count), or a new one (not in --baseline) at or above
     --fail-on-new
  2  usage, input, configuration or authentication error: nothing was scanned (raised before a
     report exists, so not decided here)
  3  scan incomplete (some coverage partial or failed) and no finding at or above --fail-on
  4  internal error (a bug): a rule raised during the scan, or the scanner itself did
"""
from __future__ import annotations

from .model import Report
from .vocabulary import SEVERITIES

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4
NO_THRESHOLD = "none"  # --fail-on none: findings never fail the run
DEFAULT_FAIL_ON = "high"
FAIL_ON_CHOICES = (*SEVERITIES, NO_THRESHOLD)  # what --fail-on accepts


def exit_code(report: Report, fail_on: str, fail_on_new: str | None = None) -> int:
    """What the process exits with after writing `report`. A rule that raised outranks findings:
    its subscriptions were not judged, and a bug must not pass for a finding. `fail_on` is a
    severity or "none"; `fail_on_new` (a severity, "none" or None) gates on the findings the
    --baseline did not have."""
    if report.rule_errors:
        return EXIT_INTERNAL
    if fail_on != NO_THRESHOLD and report.failed_at_or_above(fail_on):
        return EXIT_FINDINGS
    if fail_on_new not in (None, NO_THRESHOLD) and report.new_failed_at_or_above(fail_on_new):
        return EXIT_FINDINGS
    if not report.complete:
        return EXIT_INCOMPLETE
    return EXIT_OK
