"""scanner.redact and scanner.emit: the redaction step every output passes, atomic writes, and
output paths checked before a scan starts."""
from __future__ import annotations

import base64
import json
import logging
import os

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scanner import redact
from scanner.cli import EXIT_USAGE
from scanner.emit import OutputPathError, atomic_text, check_output_path, emit_inventory, emit_report
from scanner.model import Report
from scanner.redact import REDACTED, for_terminal, scrub

JWT = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." +
       base64.urlsafe_b64encode(b'{"aud":"https://management.azure.com","exp":1999999999}').decode().rstrip("=") +
       ".c2lnbmF0dXJlLXNlY3JldC1wYXJ0")
ACCOUNT_KEY = base64.b64encode(bytes(range(64))).decode()  # 88 characters, like a storage key
SAS = "https://st.blob.core.windows.net/c/run.ps1?sv=2022-11-02&se=2026-12-31&sp=r&sig=AbC%2Bdef123SECRETsig%3D"
SECRETS = [JWT, "AbC%2Bdef123SECRETsig%3D", ACCOUNT_KEY, "opaque-token-value-1234", "sb-shared-key-SECRET"]


@pytest.mark.parametrize("text,secret", [
    (f"Authorization: Bearer {JWT}", JWT),
    ("upstream said: authorization=bearer opaque-token-value-1234 was rejected", "opaque-token-value-1234"),
    (f"token {JWT} expired", JWT),
    (f"download failed: {SAS}", "AbC%2Bdef123SECRETsig%3D"),
    (f"DefaultEndpointsProtocol=https;AccountName=st1;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net",
     ACCOUNT_KEY),
    (f"key {ACCOUNT_KEY} leaked", ACCOUNT_KEY),
    ("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=sb-shared-key-SECRET",
     "sb-shared-key-SECRET"),
    ("Server=tcp:x.database.windows.net;User ID=sa;Password=Pa55-SECRET-word;", "Pa55-SECRET-word"),
])
def test_redact_removes_each_kind_of_secret(text, secret):
    out = redact.redact(text)
    assert secret not in out and REDACTED in out


def test_redact_keeps_the_useful_rest():
    out = redact.redact(f"download failed: {SAS}")
    assert out.startswith("download failed: https://st.blob.core.windows.net/c/run.ps1?sv=2022-11-02&se=2026-12-31")
    assert redact.redact("VMSnapshot failed: UserErrorGuestAgentStatusUnavailable") == \
        "VMSnapshot failed: UserErrorGuestAgentStatusUnavailable"
    rid = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/x/y"
    assert redact.redact(rid) == rid


def _every_pattern(text: str) -> str:
    """What redact did before it looked for each pattern's literals first: every pattern, in order."""
    for pattern, _, _, repl in redact._PATTERNS:
        text = pattern.sub(repl, text)
    return text


# Pieces of what the patterns look for, in both cases, with the letters IGNORECASE also matches to
# ASCII ones (Kelvin sign, long s, dotted and dotless i) and base64 runs one short of a key.
_PIECES = ["bearer", "BEARER", "Bearer", " ", "%20", "+", "=", "==", ":", ";", "&", "?", "\"", "'", "sig=", "SIG=",
           "\u017fig=", "eyJ", "eyj", "abcde", ".", "AccountKey", "accountkey", "ACCOUNT\u212aEY", "Pwd", "pwd",
           "Password", "pa\u017f\u017fword", "client_secret", "ClientSecret", "access_token", "refresh_token",
           "SharedAccessKey", "SharedAccessSignature", "\u0130", "\u0131", "\u00e9", "A" * 85, "b/+9" * 21, "x"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12))
@example(["bearer", " ", "eyJ", "abcde", ".", "abcde", ".", "x"])
@example(["b/+9" * 21, "AA", "=="])
@example(["\u212aey", "x"])
@example(["\u017fig=", "x"])
@example(["be", "\u0131", "arer"])
def test_redact_gives_what_every_pattern_in_turn_gives(pieces):
    text = "".join(pieces)
    assert redact.redact(text) == _every_pattern(text)
    assert redact.redact(text.lower()) == _every_pattern(text.lower())


def test_the_case_insensitive_patterns_still_see_letters_re_folds_to_ascii():
    # re's IGNORECASE matches the long s to s and the Kelvin sign to k; str.lower() does not.
    assert REDACTED in redact.redact("\u017fig=SECRETSECRET") and "SECRETSECRET" not in redact.redact("\u017fig=SECRETSECRET")
    assert "hunter2hunter2" not in redact.redact("ACCOUNT\u212aEY=hunter2hunter2")


def test_a_secret_registered_after_a_text_was_redacted_is_redacted_in_it_next_time():
    text = "echo: late-secret-5b2e8d0 ok"
    assert redact.redact(text) == text  # kept in the table of answers
    redact.register_secret("late-secret-5b2e8d0")
    assert redact.redact(text) == f"echo: {REDACTED} ok"


def test_a_full_table_of_answers_is_emptied_not_grown():
    for n in range(redact._SEEN_MAX + 10):
        redact.redact(f"name-{n}")
    assert len(redact._seen) <= redact._SEEN_MAX
    long_text = "x" * (redact._SEEN_LONGEST + 1)
    redact.redact(long_text)
    assert long_text not in redact._seen  # long texts are not kept


def test_registered_secret_is_redacted_whatever_its_shape():
    redact.register_secret("plain-secret-7f3a9c1")
    assert "plain-secret-7f3a9c1" not in redact.redact("echo: plain-secret-7f3a9c1!")
    redact.register_secret("short")  # too short to register: would eat ordinary words
    assert redact.redact("a short word") == "a short word"


def test_scrub_walks_the_whole_tree():
    tree = {"findings": [{"evidence": {"statuses": [{"message": f"sas {SAS}"}], "n": 3, JWT: True}}], "ok": None}
    out = scrub(tree)
    text = json.dumps(out)
    assert not [s for s in SECRETS if s in text]
    assert out["findings"][0]["evidence"]["n"] == 3 and out["ok"] is None


def test_for_terminal_makes_controls_visible():
    assert for_terminal("code\x1b[31mRED\x1b]0;title\x07\u202e") == "code\\x1b[31mRED\\x1b]0;title\\x07\\u202e"
    assert for_terminal("a\nb", keep_newlines=False) == "a\\nb"


def test_redacting_formatter_covers_arguments_and_tracebacks():
    fmt = redact.RedactingFormatter("%(message)s")
    try:
        raise RuntimeError(f"boom {JWT}")
    except RuntimeError:
        import sys
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "got %s\x1b[2J", (f"Bearer {JWT}",), sys.exc_info())
    text = fmt.format(record)
    assert JWT not in text and "\x1b" not in text and "boom" in text


# --------------------------------------------------------------------------- emit
def _report(message: str) -> Report:
    return Report.from_dict({"schema_version": "1.0", "tool": {"name": "az-bcdr-scan", "version": "0"},
            "scan": {"started_at": "2026-12-01T00:00:00Z", "finished_at": "2026-12-01T00:00:01Z", "subscriptions": [],
                     "arm_requests": 0},
            "coverage": [], "summary": {"failed": 0, "not_assessed": 0, "passed": 0, "failed_by_severity": {},
                                        "failed_by_rule": {}, "not_assessed_by_rule": {}, "passed_by_rule": {},
                                        "resources_by_type": {}, "rules_run": [], "rule_errors": []},
            "findings": [{"rule_id": "BCDR301", "rule_name": "x", "status": "FAIL", "severity": "high",
                          "subscription_id": "s", "resource_id": "/r", "resource_type": "t", "resource_group": "g",
                          "message": message, "evidence": {"message": message}, "predicted_errors": [],
                          "remediation": "", "references": [], "fingerprint": "f"}]})


@pytest.mark.parametrize("fmt", ["json", "csv", "sarif", "junit", "markdown", "html", "table"])
def test_emit_report_redacts_every_format(tmp_path, fmt):
    out = tmp_path / f"report.{fmt}"
    emit_report(_report(f"extension status: {SAS} and Bearer {JWT}"), fmt, str(out))
    text = out.read_text(encoding="utf-8")
    assert "SECRETsig" not in text and JWT not in text
    assert not list(tmp_path.glob(".report.*"))  # no temp file left behind


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("previous report", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_text(str(target), "--output") as fh:
            fh.write("half a new rep")
            raise RuntimeError("killed half way")
    assert target.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_emit_inventory_redacts(tmp_path):
    from factories import inventory, vm  # tests/factories.py
    inv = inventory(virtual_machines=[vm("vm-1", tags={"conn": f"AccountKey={ACCOUNT_KEY}"})])
    path = tmp_path / "inv.json"
    emit_inventory(inv, str(path))
    text = path.read_text(encoding="utf-8")
    assert ACCOUNT_KEY not in text and "AccountKey=<redacted>" in text


@pytest.mark.parametrize("make", [
    lambda tmp: str(tmp / "missing-dir" / "r.json"),
    lambda tmp: str(tmp),
])
def test_check_output_path_refuses_unwritable_targets(tmp_path, make):
    with pytest.raises(OutputPathError):
        check_output_path(make(tmp_path), "--output")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_check_output_path_refuses_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputPathError):
            check_output_path(str(ro / "r.json"), "--output")
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("option", ["--output", "--save-inventory"])
def test_cli_checks_output_paths_before_scanning(tmp_path, run_cli, option):
    """Exit 2 with one line, and not one request sent: the typo costs nothing."""
    from scanner.simulator import Simulator, load_scenario
    scenario = load_scenario("demo")
    with Simulator(scenario) as sim:
        code, _, err = run_cli("--subscription", scenario["subscriptions"][0], option,
                               str(tmp_path / "no-such-dir" / "x.json"), sim=sim)
        sent = sim.ledger.snapshot()
    assert code == EXIT_USAGE and sent == []
    assert err.count("\n") == 1 and "does not exist" in err
