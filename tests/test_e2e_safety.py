"""End-to-end safety: the real CLI (scanner.cli.main) and the real Azure SDK clients against the
loopback ARM simulator (design.md, "Safety requirements" and "Tests, three layers", 3).

(a) `--demo`: exit 1, a schema-valid report with FAILs in every rule category, stable fingerprints.
(b) the ledger: only GETs, every one with a bearer token, only to the ARM endpoint, all counted.
(c) an unknown subscription: exit 2, one line on stderr, nothing scanned.
(d) the token appears in no output, inventory, stderr or log record, even with --debug and faults.
(e) VM extension settings (a SAS URL and a command) reach neither the inventory nor any report.
(f) hostile strings from Azure travel through SDK, mappers, rules and every writer as inert text.
(g) `evaluate` over a saved inventory gives the live scan's findings with zero ARM requests.
"""
from __future__ import annotations

import copy
import csv
import functools
import io
import json
import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from simfaults import Fault, FaultySimulator

from rules.base import CATEGORIES, FAIL
from scanner import ids
from scanner.cli import EXIT_FINDINGS, EXIT_USAGE
from scanner.output import FORMATS
from scanner.output.csv_format import COLUMNS
from scanner.report import validate_report
from scanner.simulator import Simulator, load_scenario

SCENARIO = load_scenario("demo")
SUB = SCENARIO["subscriptions"][0].lower()
UNKNOWN_SUB = "0badc0de-0000-4000-8000-00000000beef"  # a well-formed GUID the scenario does not have
TOKEN = "e2e-TOKEN-canary-7f3a9c1d5b"  # recognisable, so any leak is found by a plain search
EXPECTED_FORMATS = ("json", "table", "sarif", "markdown", "csv", "junit", "html")

# The CustomScript extension on vm-web-01 in the demo scenario carries these in `settings`.
SAS_SIGNATURE = "SIMULATOR-CANARY-not-a-real-signature"
COMMAND = "powershell -ExecutionPolicy Unrestricted -File configure-iis.ps1"


@pytest.fixture
def cli(run_cli):
    """The CLI from an empty directory with this module's canary token (conftest's run_cli):
    cli(*args, sim=...) -> (code, out, err)."""
    return functools.partial(run_cli, token=TOKEN)


def scan_args(*extra: str) -> list[str]:
    return ["--subscription", SUB, "--max-retry-after", "1", "--timeout", "60", *extra]


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def fingerprints(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted((f["rule_id"], f["resource_id"].lower(), f["status"], f["fingerprint"]) for f in report["findings"])


def test_formats_under_test_are_all_the_formats():
    assert set(FORMATS) == set(EXPECTED_FORMATS)


# --------------------------------------------------------------------------- (a) --demo
def test_demo_finds_every_category_and_fingerprints_are_stable(tmp_path, cli):
    reports = []
    for i in range(2):
        path = tmp_path / f"demo-{i}.json"
        code, out, err = cli("--demo", "--format", "json", "--output", str(path))
        assert code == EXIT_FINDINGS, err
        assert "Traceback" not in err
        report = load(path)
        validate_report(report)
        reports.append(report)
    first = reports[0]
    failed = {f["rule_id"] for f in first["findings"] if f["status"] == FAIL}
    assert {"BCDR401", "BCDR501", "BCDR601", "BCDR701"} <= failed
    assert {code[4] for code in failed} == set(CATEGORIES)  # at least one FAIL in every category 0xx..9xx
    assert {c["status"] for c in first["coverage"]} == {"ok"}
    assert first["scan"]["arm_requests"] > 0
    # Same subscription, two scans: the same findings with the same fingerprints (nothing
    # time-dependent goes into one), so dashboards can track a finding across nights.
    assert fingerprints(reports[0]) == fingerprints(reports[1])
    assert len({f["fingerprint"] for f in first["findings"]}) == len(first["findings"])


# --------------------------------------------------------------------------- (b) the ledger
def test_only_authenticated_gets_to_the_arm_endpoint_and_all_are_counted(tmp_path, cli):
    out_path = tmp_path / "report.json"
    # token=TOKEN: the simulator answers 401 to any other bearer token, so the scan below also
    # proves the CLI sent the one from AZURE_ACCESS_TOKEN.
    with Simulator(SCENARIO, token=TOKEN) as sim:
        code, _, err = cli(*scan_args("--format", "json", "--output", str(out_path)), sim=sim)
        host = urlsplit(sim.endpoint).netloc
    ledger = sim.ledger.snapshot()
    report = load(out_path)
    assert code == EXIT_FINDINGS, err
    validate_report(report)
    assert ledger and sim.writes() == []
    assert {e.method for e in ledger} == {"GET"}
    assert all(e.auth_present for e in ledger)
    assert {e.host for e in ledger} == {host}
    assert {e.status for e in ledger} == {200}  # every request was a well-formed, authorised read
    assert report["scan"]["arm_requests"] == len(ledger)


# --------------------------------------------------------------------------- (c) unknown subscription
def test_unknown_subscription_is_one_line_exit_2_and_nothing_scanned(tmp_path, cli):
    out_path = tmp_path / "report.json"
    with Simulator(SCENARIO) as sim:
        code, out, err = cli("--subscription", UNKNOWN_SUB, "--format", "json", "--output", str(out_path), sim=sim)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == EXIT_USAGE
    assert len(lines) == 1 and lines[0].startswith("az-bcdr-scan: error:") and UNKNOWN_SUB in lines[0], err
    assert "Traceback" not in err and out == ""
    assert not out_path.exists()
    # Only the pre-flight GET of the subscription: no collector ran.
    assert [(e.method, e.path.lower(), e.status) for e in sim.ledger] == [("GET", f"/subscriptions/{UNKNOWN_SUB}", 404)]


# --------------------------------------------------------------------------- (d) token hygiene
def _error_paths(sim: Simulator) -> None:
    """Faults that push ARM error bodies, retries and refusals through the logs and the report."""
    sim.add_fault(Fault.authorization_failed(r"/locks$"))
    sim.add_fault(Fault.resource_not_found(r"/vm-web-02/instanceView$"))
    sim.add_fault(Fault.throttle(r"/backupJobs$", retry_after=1200, times=1))
    sim.add_fault(Fault.error(401, r"/providers/Microsoft\.Compute/disks$", code="InvalidAuthenticationToken"))
    sim.add_fault(Fault.foreign_next_link(r"/restorePointCollections$", query=r"^(?!.*skiptoken)",
                                          host=urlsplit(sim.alias_endpoint).netloc))


@pytest.fixture
def debug_logs(caplog):
    """Capture every log record at DEBUG, root and azure loggers included."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="azure")
    caplog.set_level(logging.DEBUG, logger="scanner")
    yield caplog
    # --debug set these on the process-wide loggers; put them back for the tests that follow.
    for name in ("scanner", "rules"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def _log_text(caplog) -> str:
    """Every captured record as a handler would write it, traceback included, plus its raw parts."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    parts = []
    for record in caplog.records:
        parts.append(formatter.format(record))
        parts.append(repr(record.args))
        parts.append(repr(getattr(record, "__dict__", {})))
    return "\n".join(parts)


def test_token_appears_in_no_output_inventory_stderr_or_log(tmp_path, cli, debug_logs):
    inventory_path = tmp_path / "inventory.json"
    outputs: dict[str, str] = {}
    streams: list[str] = []
    with FaultySimulator(SCENARIO, token=TOKEN) as sim:
        _error_paths(sim)
        for fmt in EXPECTED_FORMATS:
            path = tmp_path / f"report.{fmt}"
            code, out, err = cli(*scan_args("--debug", "--format", fmt, "--output", str(path),
                                                   "--save-inventory", str(inventory_path)), sim=sim)
            assert code == EXIT_FINDINGS, err
            outputs[fmt] = path.read_text(encoding="utf-8")
            streams += [out, err]
        # and once to stdout, as a CI job that pipes the report would run it
        code, out, err = cli(*scan_args("--debug", "--format", "json"), sim=sim)
        streams += [out, err]
    report = json.loads(out)
    validate_report(report)
    # The faults did go through the error paths (so the logs below had error text to leak).
    problems = {c["collector"]: c["error_code"] for c in report["coverage"] if c["status"] != "ok"}
    assert problems == {"locks": "AuthorizationFailed", "instance_views": "ResourceNotFound",
                        "disks": "InvalidAuthenticationToken", "restore_point_collections": "ForeignNextLink",
                        "key_vaults": "InvalidAuthenticationToken"}  # ADE key vaults are unknown without the disk list
    assert any(r.levelno == logging.DEBUG and r.name.startswith("scanner") for r in debug_logs.records)
    assert any(r.exc_info for r in debug_logs.records)  # tracebacks were logged at DEBUG: search them too
    inventory = inventory_path.read_text(encoding="utf-8")
    haystacks = {**{f"report.{k}": v for k, v in outputs.items()}, "inventory": inventory,
                 "stdout/stderr": "\n".join(streams), "logs": _log_text(debug_logs)}
    for where, text in haystacks.items():
        assert TOKEN not in text, f"the token leaked into {where}"
        assert TOKEN.lower() not in text.lower(), f"the token leaked into {where}"
    # The token did reach the simulator (it refuses any other): it was used, just never echoed.
    assert sim.ledger.snapshot() and all(e.auth_present for e in sim.ledger)
    assert {e.status for e in sim.ledger} - {200} == {403, 404, 429, 401}


# --------------------------------------------------------------------------- (e) extension secrets
def _scan_then_evaluate_every_format(cli, sim: Simulator, workdir: Path) -> tuple[str, dict[str, str]]:
    """One live scan (json, with --save-inventory), then `evaluate` of that inventory into every
    other format: the same report through every writer. Returns (inventory text, outputs by format)."""
    inventory_path = workdir / "inventory.json"
    outputs: dict[str, str] = {}
    live = workdir / "report.json"
    code, _, err = cli(*scan_args("--format", "json", "--output", str(live),
                                          "--save-inventory", str(inventory_path)), sim=sim)
    assert code == EXIT_FINDINGS, err
    assert "Traceback" not in err
    outputs["json"] = live.read_text(encoding="utf-8")
    for fmt in EXPECTED_FORMATS[1:]:
        path = workdir / f"report.{fmt}"
        code, _, err = cli("evaluate", str(inventory_path), "--format", fmt, "--output", str(path))
        assert code == EXIT_FINDINGS, err
        outputs[fmt] = path.read_text(encoding="utf-8")
    return inventory_path.read_text(encoding="utf-8"), outputs


def test_extension_settings_never_reach_inventory_or_reports(tmp_path, cli):
    served = json.dumps(SCENARIO)
    assert SAS_SIGNATURE in served and COMMAND in served  # the scenario does carry them
    with Simulator(SCENARIO) as sim:
        inventory, outputs = _scan_then_evaluate_every_format(cli, sim, tmp_path)
    # The extension itself was collected (derived facts only), so the mapper did see the settings.
    vm = next(v for v in json.loads(inventory)["virtual_machines"] if v["id"].endswith("/vm-web-01"))
    assert any(e["type"] == "Microsoft.Compute.CustomScriptExtension" for e in vm["extensions"])
    for where, text in {"inventory": inventory, **outputs}.items():
        for secret in (SAS_SIGNATURE, "sig=", COMMAND, "configure-iis.ps1", "commandToExecute", "fileUris"):
            assert secret not in text, f"{secret!r} reached {where}"


# --------------------------------------------------------------------------- (f) hostile strings
FORMULA = '=HYPERLINK("http://x")'
SCRIPT = "<script>alert(1)</script>"
MARKDOWN_BREAK = "a|b\n# c"
CDATA_END = "]]>"
ANSI = "\x1b[31m"


def _vm_body(scenario: dict, rg: str, name: str) -> dict:
    wanted = ids.norm(ids.vm_id(SUB, rg, name))
    return next(v for v in scenario["virtualMachines"] if ids.norm(v["id"]) == wanted)


def hostile_scenario() -> dict:
    """The demo scenario with Azure-side strings replaced by hostile ones (ids untouched: joins and
    URLs stay valid, only names, tags and messages are hostile)."""
    s = copy.deepcopy(SCENARIO)
    _vm_body(s, "rg-mgmt", "vm-jump-01")["name"] = MARKDOWN_BREAK  # BCDR801 FAIL names it
    _vm_body(s, "RG-DATA-PROD", "vm-report-01")["name"] = SCRIPT  # BCDR103 FAIL names it
    _vm_body(s, "rg-web-prod", "vm-web-06")["name"] = f"{ANSI}red{CDATA_END}"  # BCDR801 FAIL names it
    # A running backed-up VM: its instance view must still be fetched (by id, not by this name).
    _vm_body(s, "rg-web-prod", "vm-web-03")["name"] = FORMULA
    _vm_body(s, "rg-web-prod", "vm-web-01")["tags"] = {"owner": FORMULA, SCRIPT: CDATA_END, "esc": ANSI}
    job = next(j for j in s["replicationJobs"] if j["id"].endswith("219f2f6e-5eb1-55cf-b90b-4b3df100df26"))
    job["properties"]["scenarioName"] = FORMULA  # BCDR904's message starts with it: a CSV cell that is a formula
    backup_job = next(j for j in s["backupJobs"] if j["id"].endswith("fdfef385-1234-5b9f-80f4-014b2c51ea97"))
    backup_job["properties"]["errorDetails"][0]["errorCode"] = f"{SCRIPT}{CDATA_END}"  # BCDR703 evidence
    return s


def _hostile_message_fault() -> Fault:
    # The ARM error message is untrusted too: it lands in the coverage record of every format.
    return Fault.authorization_failed(r"/locks$", message=f"{FORMULA} {SCRIPT} {MARKDOWN_BREAK} {CDATA_END} {ANSI}x")


def _all_strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in _all_strings(k) + _all_strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _all_strings(v)]
    return []


def _pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_hostile_strings_are_inert_in_every_format(tmp_path, cli):
    with FaultySimulator(hostile_scenario(), faults=[_hostile_message_fault()]) as sim:
        inventory, out = _scan_then_evaluate_every_format(cli, sim, tmp_path)
        ledger = sim.ledger.snapshot()

    report = json.loads(out["json"])
    validate_report(report)
    # The hostile VM name did not redirect the per-VM GET: every instance view was read at its id.
    assert {c["collector"] for c in report["coverage"] if c["status"] != "ok"} == {"locks"}
    assert any(e.path.lower().endswith("/rg-web-prod/providers/microsoft.compute/virtualmachines/vm-web-03/instanceview")
               and e.status == 200 for e in ledger)
    # json: the strings are kept as data, verbatim; the file itself is ASCII with no raw control byte.
    messages = " ".join(f["message"] for f in report["findings"])
    for needle in (SCRIPT, MARKDOWN_BREAK, CDATA_END, ANSI, FORMULA):
        assert needle in messages or needle in json.dumps(report["coverage"], ensure_ascii=False), needle
    assert SCRIPT in messages and MARKDOWN_BREAK in messages and ANSI in messages
    assert out["json"].isascii() and "\x1b" not in out["json"]
    tags = next(v["tags"] for v in json.loads(inventory)["virtual_machines"] if v["id"].endswith("/vm-web-01"))
    assert tags == {"owner": FORMULA, SCRIPT: CDATA_END, "esc": ANSI}  # the inventory keeps data as data

    # csv: every row parses to the header's width (a newline in a name did not split a row), no cell
    # starts a formula, and the formula-shaped message is defused with a leading quote.
    rows = list(csv.reader(io.StringIO(out["csv"], newline="")))
    assert rows[0] == list(COLUMNS) and len(rows) == len(report["findings"]) + 1
    assert all(len(r) == len(COLUMNS) for r in rows)
    assert not [c for r in rows for c in r if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    bcdr904 = [dict(zip(COLUMNS, r)) for r in rows[1:] if r[0] == "BCDR904"]
    assert bcdr904 and all(r["message"].startswith("'" + FORMULA) for r in bcdr904)
    assert "\x1b" not in out["csv"]

    # markdown: no raw HTML, no injected heading, and every table row has its table's column count.
    md = out["markdown"]
    assert "<script>" not in md and "\x1b" not in md
    assert not [line for line in md.splitlines() if line.lstrip().startswith("# c")]
    tables: list[list[str]] = []
    for line in md.splitlines():
        if line.startswith("|"):
            if not tables or not tables[-1]:
                tables.append([])
            tables[-1].append(line)
        elif tables and tables[-1]:
            tables.append([])
    assert [t for t in tables if t]
    for table in (t for t in tables if t):
        assert {_pipes(line) for line in table} == {_pipes(table[0])}, table
    assert "a\\|b" in md

    # junit: well-formed XML; the strings are text and attribute values, never markup.
    root = ET.fromstring(out["junit"].encode("utf-8"))
    assert not [el for el in root.iter() if el.tag.lower() == "script"]
    junit_text = " ".join([*(el.text or "" for el in root.iter()), *(v for el in root.iter() for v in el.attrib.values())])
    assert SCRIPT in junit_text and CDATA_END in junit_text
    assert "\x1b" not in out["junit"]

    # sarif: valid JSON; the strings are message text; no raw control character in any string.
    sarif_strings = _all_strings(json.loads(out["sarif"]))
    assert any(SCRIPT in s for s in sarif_strings)
    assert not [s for s in sarif_strings if "\x1b" in s]

    # table: no raw ESC byte (no colour change, no cursor tricks), the newline shown, not obeyed.
    table = out["table"]
    assert "\x1b" not in table and "\\x1b[31m" in table
    assert not [line for line in table.splitlines() if line.lstrip("│| ").startswith("# c")]

    # html: escaped, never a live element.
    page = out["html"]
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "\x1b" not in page


# --------------------------------------------------------------------------- (g) evaluate offline
def test_evaluate_reproduces_the_live_findings_with_zero_arm_requests(tmp_path, cli):
    inventory_path, live_path, offline_path = tmp_path / "inventory.json", tmp_path / "live.json", tmp_path / "offline.json"
    with Simulator(SCENARIO) as sim:
        live_code, _, err = cli(*scan_args("--format", "json", "--output", str(live_path),
                                                   "--save-inventory", str(inventory_path)), sim=sim)
        assert live_code == EXIT_FINDINGS, err
    requests_during_scan = len(sim.ledger.snapshot())
    # The simulator is stopped: a request now could only fail, and would show in its ledger.
    code, _, err = cli("evaluate", str(inventory_path), "--format", "json", "--output", str(offline_path))
    live, offline = load(live_path), load(offline_path)
    assert code == live_code, err
    validate_report(offline)
    assert fingerprints(offline) == fingerprints(live) and fingerprints(live)
    assert offline["summary"]["failed_by_rule"] == live["summary"]["failed_by_rule"]
    assert offline["summary"]["passed"] == live["summary"]["passed"]
    assert offline["scan"]["arm_requests"] == 0 and live["scan"]["arm_requests"] == requests_during_scan
    assert len(sim.ledger.snapshot()) == requests_during_scan


def test_all_subscriptions_resolves_the_scope_through_arm(tmp_path, cli):
    """--all-subscriptions lists what the identity can read (GET /subscriptions) and scans it."""
    subs = [s if isinstance(s, str) else s["subscriptionId"] for s in SCENARIO["subscriptions"]]
    out = tmp_path / "report.json"
    with Simulator(SCENARIO) as sim:
        code, _, err = cli("--all-subscriptions", "--format", "json", "-o", str(out), "--fail-on", "none",
                           "--save-inventory", str(tmp_path / "inv.json"), sim=sim)
        assert code == 0, err
        assert sim.writes() == []
        assert any(e.path.rstrip("/").lower() == "/subscriptions" for e in sim.ledger)
    report = load(out)
    assert report["scan"]["subscriptions"] == sorted(s.lower() for s in subs)
    # BCDR801 reads it: every visible subscription was scanned, so no vault elsewhere is left unseen.
    assert load(tmp_path / "inv.json")["scope"] == "all-subscriptions"
