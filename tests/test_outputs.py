"""Every output format over reports built by the real engine, including hostile strings: names,
a resource group, a lock, a job and a coverage message that an attacker who can name Azure
resources controls. Each hostile check would fail without the writer's escaping."""
from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
import report_scenarios as rs
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from shared_data import SARIF_DIR

from scanner import inventory as m
from scanner.model import Finding, Report
from scanner.output import FORMATS, Writer, _text, write_report, writer
from scanner.output._marks import short_name
from scanner.report import validate_report

SARIF_SCHEMA = SARIF_DIR / "sarif-schema-2.1.0.json"


def render(report: Report, fmt: str, stream: io.StringIO | None = None) -> str:
    validate_report(report)
    stream = stream or io.StringIO()
    write_report(report, fmt, stream)
    return stream.getvalue()


@pytest.fixture(scope="module")
def report() -> Report:
    return rs.report()


@pytest.fixture(scope="module")
def hostile() -> Report:
    return rs.report(hostile=True)


def _finding(report: Report, rule_id: str, status: str = "FAIL") -> Finding:
    return next(x for x in report.findings if x.rule_id == rule_id and x.status == status)


# --------------------------------------------------------------------------- registry
def test_formats_and_dispatch():
    assert FORMATS[:6] == ("json", "table", "sarif", "markdown", "csv", "junit")
    with pytest.raises(ValueError):
        write_report(rs.report(), "yaml", io.StringIO())


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_a_writer(fmt):
    assert isinstance(writer(fmt), Writer)
    assert callable(writer(fmt).write)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_a_report_loaded_back_from_json_identically(report, fmt):
    loaded = Report.from_json(render(report, "json"))
    assert render(loaded, fmt) == render(report, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_an_empty_report(fmt):
    from scanner import inventory as m
    from scanner.engine import evaluate
    inv = m.Inventory(collected_at="2026-11-22T06:00:00Z")
    assert render(rs.report(inv, evaluate(inv)), fmt)


# --------------------------------------------------------------------------- json
def test_json_is_the_report_as_is(hostile):
    out = render(hostile, "json")
    assert out.isascii()
    assert json.loads(out) == hostile.to_dict()
    assert out.startswith('{\n  "schema_version"')  # indent 2


# --------------------------------------------------------------------------- table
class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def plain_env(monkeypatch):
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def test_table_groups_findings_by_severity_with_coverage_and_summary(report, plain_env):
    out = render(report, "table")
    assert "\x1b" not in out  # not a TTY: no colour
    critical, high, unknown = out.index("CRITICAL (1)"), out.index("HIGH (3)"), out.index("NOT ASSESSED (2)")
    assert critical < high < unknown
    assert out.index("Readiness of") < out.index("Coverage:") < critical  # readiness is printed first
    assert out.index("BCDR501", critical) < high
    assert f"Coverage: {2 * len(m.ALL_COLLECTORS) - 2} ok, 1 partial, 1 failed" in out
    assert "Summary: 4 failed (1 critical, 3 high, 0 medium, 0 low, 0 info), 2 not assessed" in out
    assert "2 virtual machines" in out


def test_table_colours_only_on_a_tty(report, plain_env):
    assert "\x1b[" in render(report, "table", TtyStream())


def test_table_neutralises_escape_sequences_and_markup(plain_env, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping inside cells, so strings can be searched
    inv = rs.scenario(hostile=True)
    # A job name that would clear the screen and print a terminal hyperlink, and rich markup.
    evil = "\x1b[2J\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\ [link=http://evil]x[/link] [bold]b[/bold]\u202e"
    from factories import with_
    inv = with_(inv, backup_jobs=tuple(with_(j, entity_friendly_name=evil) for j in inv.backup_jobs))
    report = rs.report(inv)
    for stream in (io.StringIO(), TtyStream()):
        out = render(report, "table", stream)
        assert "\x1b[2J" not in out and "\x1b]8" not in out and "\u202e" not in out and "\x00" not in out
        assert "\\x1b[2J" in out  # shown, not executed
        assert "[link=http://evil]x[/link] [bold]b[/bold]" in out  # printed as written, not as markup


# --------------------------------------------------------------------------- sarif
def _sarif(report: Report) -> dict:
    return json.loads(render(report, "sarif"))


@pytest.mark.shared
@pytest.mark.parametrize("which", ["report", "hostile"])
def test_sarif_validates_against_the_oasis_schema(which, request):
    from jsonschema import Draft4Validator
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    errors = list(Draft4Validator(schema).iter_errors(_sarif(request.getfixturevalue(which))))
    assert errors == [], errors[0].message if errors else ""


def test_sarif_rules_results_fingerprints_and_locations(report):
    run = _sarif(report)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    # every rule that ran, from the report's rules[] (a rule without findings is listed too)
    assert [r["id"] for r in rules] == [r.id for r in report.rules] == [
        "BCDR401", "BCDR501", "BCDR502", "BCDR601", "BCDR602", "BCDR701"]
    by_id = {r["id"]: r for r in rules}
    assert by_id["BCDR501"]["name"] == "rp-collection-limit-reached"
    assert by_id["BCDR501"]["helpUri"].startswith("https://learn.microsoft.com/")
    assert by_id["BCDR501"]["properties"]["predictedErrors"] == ["UserErrorRpCollectionLimitReached"]
    assert len(run["results"]) == len(report.findings)
    for result, finding in zip(run["results"], report.findings):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding.rule_id
        assert result["partialFingerprints"]["azBcdrScan/v1"] == finding.fingerprint
        [loc] = result["locations"][0]["logicalLocations"]
        assert loc["fullyQualifiedName"] == finding.resource_id
        assert result["properties"]["evidence"] == finding.evidence
    levels = {(r["ruleId"], r["kind"], r["level"]) for r in run["results"]}
    assert ("BCDR501", "fail", "error") in levels  # critical
    assert ("BCDR601", "fail", "error") in levels  # high
    # NOT_ASSESSED: kind "open" (not enough information to decide), level "none" (required when not "fail")
    assert ("BCDR401", "open", "none") in levels and ("BCDR701", "open", "none") in levels


def test_sarif_descriptors_come_from_the_reports_rules_section(report):
    from rules.base import REGISTRY
    by_id = {r["id"]: r for r in _sarif(report)["runs"][0]["tool"]["driver"]["rules"]}
    for rule in report.rules:
        d = by_id[rule.id]
        assert d["shortDescription"]["text"] == _text.sarif(rule.title) == _text.sarif(REGISTRY[rule.id].meta.title)
        assert d["help"]["text"] == _text.sarif(rule.remediation)
        assert d["defaultConfiguration"]["level"] == {"critical": "error", "high": "error"}.get(rule.severity, "warning")
        assert d["properties"]["params"] == dict(rule.params)
    # the title is the catalog's, not one made up from the slug
    assert by_id["BCDR501"]["shortDescription"]["text"] != "Rp collection limit reached"


def test_sarif_default_level_follows_the_configured_severity():
    from scanner.engine import RuleSettings
    inv = rs.scenario()
    report = rs.report(inv, rs.evaluation(inv, settings={"BCDR501": RuleSettings(severity="low")}))
    by_id = {r["id"]: r for r in _sarif(report)["runs"][0]["tool"]["driver"]["rules"]}
    assert by_id["BCDR501"]["defaultConfiguration"]["level"] == "note"
    assert by_id["BCDR501"]["properties"]["severity"] == "low"


def test_sarif_levels_follow_severity():
    from scanner.output.sarif import LEVEL
    assert LEVEL == {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
    from scanner.engine import RuleSettings
    inv = rs.scenario()
    report = rs.report(inv, rs.evaluation(inv, settings={"BCDR501": RuleSettings(severity="medium"),
                                                          "BCDR601": RuleSettings(severity="info")}))
    levels = {r["ruleId"]: r["level"] for r in _sarif(report)["runs"][0]["results"] if r["kind"] == "fail"}
    assert levels["BCDR501"] == "warning" and levels["BCDR601"] == "note"


def test_sarif_coverage_gaps_are_tool_notifications(report):
    invocation = _sarif(report)["runs"][0]["invocations"][0]
    notes = invocation["toolExecutionNotifications"]
    assert {(n["properties"]["collector"], n["level"]) for n in notes} == {("locks", "error"), ("backup_jobs", "warning")}
    assert invocation["executionSuccessful"] is False


def _sarif_unescape(s: str) -> str:
    return re.sub(r"\\([\\\[\]])|\{\{|\}\}", lambda m: m.group(1) or m.group()[0], s)


def test_sarif_escapes_untrusted_message_text(hostile):
    run = _sarif(hostile)["runs"][0]
    finding = _finding(hostile, "BCDR601")
    [result] = [r for r in run["results"] if r["ruleId"] == "BCDR601"]
    text = result["message"]["text"]
    assert "[x](1)" not in text  # would be an embedded link (SARIF 3.11.6)
    assert "{0}" not in text.replace("{{0}}", "")  # would be a placeholder (SARIF 3.11.5)
    assert "\x00" not in text and "\x1b" not in text
    assert _sarif_unescape(text) == _text.visible(finding.message, keep="\n\t")
    note = next(n for n in run["invocations"][0]["toolExecutionNotifications"] if n["properties"]["collector"] == "locks")
    assert "[x](1)" not in note["message"]["text"] and "\x1b" not in note["message"]["text"]


# --------------------------------------------------------------------------- markdown
class _Cells(HTMLParser):
    """Tables as rows of cell text (<br> read as a newline), plus every tag seen."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.tags: list[tuple[str, dict]] = []
        self._cell: list[str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _gfm(markdown: str) -> _Cells:
    # html=True: raw HTML passes through, as on many renderers; escaping must not rely on it off.
    html = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(markdown)
    parsed = _Cells()
    parsed.feed(html)
    return parsed


def test_markdown_tables(report):
    parsed = _gfm(render(report, "markdown"))
    findings = next(t for t in parsed.tables if t[0][:3] == ["Severity", "Status", "Rule"])
    assert len(findings) == 1 + len(report.findings)
    assert {row[1] for row in findings[1:]} == {"FAIL", "NOT_ASSESSED"}
    assert findings[1][3] == short_name(report.findings[0].resource_id)  # the name, not the ARM id
    assert not any(row[3].startswith("/subscriptions/") for row in findings[1:])
    links = [a["href"] for tag, a in parsed.tags if tag == "a"]
    assert links and all(h.startswith("https://learn.microsoft.com/") for h in links)
    rules = next(t for t in parsed.tables if t[0] == ["Rule", "Title", "Remediation", "References"])
    assert [row[0].split()[0] for row in rules[1:]] == list(dict.fromkeys(x.rule_id for x in report.findings))
    assert rules[1][1] == report.rule(rules[1][0].split()[0]).title  # the catalog's title, from rules[]


def test_markdown_escapes_every_untrusted_string(hostile):
    out = render(hostile, "markdown")
    # GitHub turns bare URLs and www. names into links (GFM autolink extension, which the renderer
    # below does not implement): the raw text must not contain them unbroken.
    assert "http://x" not in out and "www.evil" not in out
    parsed = _gfm(out)
    tags = {tag for tag, _ in parsed.tags}
    assert "script" not in tags
    assert not tags & {"h3", "h4", "em", "strong", "code", "del", "img"}
    assert sum(1 for tag, _ in parsed.tags if tag == "h1") == 1  # "\n# c" did not become a heading
    assert [t for t, _ in parsed.tags if t == "h2"] == ["h2"] * 4  # only our own sections
    links = [a.get("href", "") for tag, a in parsed.tags if tag == "a"]
    assert all(h.startswith("https://learn.microsoft.com/") for h in links)  # no [x](1), no autolinks
    findings = next(t for t in parsed.tables if t[0][:3] == ["Severity", "Status", "Rule"])
    assert all(len(row) == 6 for row in findings)  # "a|b" did not add a column
    for row, finding in zip(findings[1:], hostile.findings):
        assert row[3] == _text.visible(short_name(finding.resource_id), keep="\n")
        assert row[4] == _text.visible(finding.resource_group, keep="\n")
        assert row[5] == _text.visible(finding.message, keep="\n")
    assert any(_text.visible(rs.HOSTILE, keep="\n") in row[5] for row in findings)
    coverage = next(t for t in parsed.tables if t[0][:2] == ["Subscription", "Collector"])
    assert all(len(row) == 6 for row in coverage)
    assert coverage[1][5] == _text.visible(rs.HOSTILE, keep="\n")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e) | st.sampled_from("\n\r\t\x00\x1b"),
               max_size=40))
def test_markdown_cell_round_trips_any_ascii(s):
    parsed = _gfm(f"| h | x |\n|---|---|\n| {_text.markdown(s)} | y |\n")
    [table] = parsed.tables
    assert len(table) == 2 and len(table[1]) == 2
    expected = _text.visible(s.replace("\r\n", "\n").replace("\r", "\n"), keep="\n").strip(" ")
    assert table[1][0] == expected
    assert {tag for tag, _ in parsed.tags} <= {"table", "thead", "tbody", "tr", "th", "td", "br"}


# --------------------------------------------------------------------------- csv
def _rows(out: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(out, newline="")))


def test_csv_one_row_per_finding(report):
    rows = _rows(render(report, "csv"))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["rule_id", "rule_name", "status", "severity"]
    assert len(body) == len(report.findings)
    for row, finding in zip(body, report.findings):
        record = dict(zip(header, row))
        assert record["rule_id"] == finding.rule_id and record["resource_id"] == finding.resource_id
        assert record["fingerprint"] == finding.fingerprint
        assert json.loads(record["evidence"]) == finding.evidence


def test_csv_guards_against_formula_injection(hostile):
    out = render(hostile, "csv")
    rows = _rows(out)
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    header = rows[0]
    record = dict(zip(header, rows[1 + hostile.findings.index(_finding(hostile, "BCDR601"))]))
    assert record["resource_group"] == "'" + rs.FORMULA  # read as text by spreadsheets
    assert "\n# c" in record["message"]  # newline kept inside the quoted cell
    assert "\x00" not in out and "\x1b" not in out


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("  =1", "'  =1"), ("a=1", "a=1"), ("vm-1", "vm-1"), ("", ""),
])
def test_csv_cell_guard(value, expected):
    assert _text.csv_cell(value) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_csv_any_text_round_trips_guarded(s):
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerow([_text.csv_cell(s)])
    [[cell]] = _rows(buf.getvalue()) or [[""]]
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell in (_text.visible(s, keep="\t\n\r"), "'" + _text.visible(s, keep="\t\n\r"))


# --------------------------------------------------------------------------- junit
# The strict Jenkins JUnit schema (jenkinsci/xunit-plugin, src/main/resources/org/jenkinsci/plugins/
# xunit/types/model/xsd/junit-10.xsd), written out as its shape: per element, the attributes it
# allows, the ones it requires, and the child elements it allows. Anything else fails the XSD.
_SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")
JENKINS_JUNIT = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set(), {"testsuite"}),
    "testsuite": ({"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id",
                   "package", "file", "log", "url"}, {"name", "tests", "failures", "errors"},
                  {"testsuite", "properties", "testcase", "system-out", "system-err"}),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, {"name", "value"}, set()),
    "testcase": ({"name", "time", "classname", "group"}, {"name"},
                 {"skipped", "error", "failure", "rerunFailure", "rerunError", "flakyFailure", "flakyError",
                  "system-out", "system-err"}),
    "failure": ({"type", "message"}, set(), set()),
    "error": ({"type", "message"}, set(), set()),
    "skipped": ({"type", "message"}, set(), set()),
}


def assert_jenkins_junit(root: ET.Element) -> None:
    assert root.tag == "testsuites"  # a single root, and it is testsuites
    for el in root.iter():
        assert el.tag in JENKINS_JUNIT, el.tag
        allowed, required, children = JENKINS_JUNIT[el.tag]
        assert set(el.attrib) <= allowed, (el.tag, set(el.attrib) - allowed)
        assert required <= set(el.attrib), (el.tag, required - set(el.attrib))
        assert {c.tag for c in el} <= children, (el.tag, {c.tag for c in el} - children)
        if el.tag in ("testsuites", "testsuite") and "time" in el.attrib:
            assert _SUREFIRE_TIME.fullmatch(el.get("time")), el.get("time")


def test_jenkins_shape_rejects_what_the_xsd_rejects():
    # The checker can fail: the attributes the old writer put on the root, a stray child.
    bad = ET.fromstring('<testsuites name="x" skipped="1" timestamp="t"><testsuite name="a" tests="0" '
                        'failures="0" errors="0"/></testsuites>')
    with pytest.raises(AssertionError):
        assert_jenkins_junit(bad)
    with pytest.raises(AssertionError):
        assert_jenkins_junit(ET.fromstring('<testsuites><testsuite name="a" tests="0"/></testsuites>'))
    with pytest.raises(AssertionError):
        assert_jenkins_junit(ET.fromstring('<testsuites time="1.5s"/>'))


def test_junit_counts_and_structure(report):
    root = ET.fromstring(render(report, "junit"))
    assert_jenkins_junit(root)
    fails = sum(1 for x in report.findings if x.status == "FAIL")
    unknown = sum(1 for x in report.findings if x.status == "NOT_ASSESSED")
    cases = root.findall(".//testcase")
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert (int(root.get("failures")), len(skipped), int(root.get("errors"))) == (fails, unknown, 2)
    assert int(root.get("tests")) == len(cases)
    assert root.get("time") == "190.000"  # the scan's duration, 06:00:00 to 06:03:10
    assert all(c.get("time") == "0" for c in cases)
    # One case per rule x resource, passes included: every pass the engine counted is a case.
    passes = [c for c in cases if len(c) == 0 and not c.get("name").endswith("no resources")]
    assert len(passes) == report.summary.passed == 1
    assert passes[0].get("name") == "BCDR502 app1" and passes[0].get("classname") == "az-bcdr-scan.BCDR502.rg-app"
    suite = next(s for s in root.findall("testsuite") if s.get("name").startswith("BCDR501"))
    [case] = suite.findall("testcase")
    assert case.get("name") == "BCDR501 app1"  # rule code + short resource name, not the ARM id
    assert case.find("failure") is not None
    assert _finding(report, "BCDR501").resource_id in case.find("failure").text  # the full id in the text
    quiet = next(s for s in root.findall("testsuite") if s.get("name").startswith("BCDR602"))
    assert [c.get("name") for c in quiet.findall("testcase")] == ["BCDR602 no resources"]
    assert {c.get("classname").split(".")[1] for c in skipped} == {"BCDR401", "BCDR701"}


def test_junit_of_the_demo_lists_every_pass(tmp_path):
    from scanner.api import ScanOptions, demo_options, scan
    with demo_options(ScanOptions(max_retry_after=1, timeout=120)) as opts:
        demo = scan(opts)
    root = ET.fromstring(render(demo, "junit"))
    assert_jenkins_junit(root)
    cases = root.findall(".//testcase")
    failed = sum(1 for c in cases if c.find("failure") is not None)
    assert failed == demo.summary.failed
    assert sum(1 for c in cases if len(c) == 0 and not c.get("name").endswith("no resources")) == demo.summary.passed > 0
    assert not [c for c in cases if "/subscriptions/" in c.get("name")]


def test_junit_is_well_formed_with_hostile_strings(hostile):
    out = render(hostile, "junit")
    assert "\x00" not in out and "\x1b" not in out  # illegal in XML 1.0: stripped
    assert "<script>" not in out and "]]>" not in out
    root = ET.fromstring(out)  # expat rejects NUL/ESC: this parse fails without stripping
    failure_messages = [c.find("failure").get("message") for c in root.iter("testcase") if c.find("failure") is not None]
    stripped = rs.HOSTILE.replace("\x00", "").replace("\x1b", "")
    assert any(stripped in m for m in failure_messages)  # round-trips as text
    error_text = "".join(e.text or "" for e in root.iter("error"))
    assert stripped in error_text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_junit_any_text_is_well_formed(s):
    el = ET.Element("testcase", {"name": _text.xml(s)})
    el.text = _text.xml(s)
    parsed = ET.fromstring(ET.tostring(el, encoding="unicode"))
    assert parsed.text == _text.xml(s) or (parsed.text is None and _text.xml(s) == "")


# --------------------------------------------------------------------------- html
def test_html_escapes_and_runs_only_its_own_script(hostile):
    import base64
    import hashlib

    from scanner.output import html as html_writer
    out = render(hostile, "html")
    parsed = _Cells()
    parsed.feed(out)
    tags = [t for t, _ in parsed.tags]
    assert tags.count("script") == 1  # ours; the hostile <script> is text
    [script] = re.findall(r"<script>(.*?)</script>", out, flags=re.S)
    assert script == html_writer.SCRIPT
    assert all(a.get("href", "").startswith(("https://learn.microsoft.com/", "#")) for t, a in parsed.tags if t == "a")
    # Self-contained: nothing is fetched (no src, no stylesheet link, no remote URL outside <a href>).
    assert not [a for t, a in parsed.tags if "src" in a or t in ("link", "iframe", "img", "object", "embed")]
    csp = [a for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp[0]["content"]  # only this exact script may run
    assert "unsafe-inline" not in csp[0]["content"].split("script-src", 1)[1].split(";")[0]
    assert any(t == "meta" and a.get("name") == "viewport" for t, a in parsed.tags)
    text = "".join(parsed.text)
    assert "<script>alert(1)</script>" in text  # shown as text
    assert "\x00" not in out and "\x1b" not in out
    # Attribute values the filters read are escaped too: the hostile resource group is one option.
    rg_options = re.search(r'<select id="f-rg">(.*?)</select>', out).group(1)
    assert html.escape(rs.FORMULA, quote=True) in rg_options


def test_html_triage_structure(hostile):
    out = render(hostile, "html")
    # Incomplete coverage: a banner before everything else; readiness before the findings.
    assert out.index('id="incomplete"') < out.index('id="readiness"') < out.index('id="findings"')
    parsed = _Cells()
    parsed.feed(out)
    details = [a for t, a in parsed.tags if t == "details" and a.get("class") == "finding"]
    assert len(details) == len(hostile.findings)
    assert [(d["data-rule"], d["data-severity"], d["data-status"]) for d in details] == [
        (f.rule_id, f.severity, f.status) for f in sorted(
            hostile.findings, key=lambda f: (f.status == "NOT_ASSESSED", -rs_rank(f.severity)))]
    assert {d["data-base"] for d in details} == {""}  # no baseline: no marks, the filter disabled
    assert re.search(r'<select id="f-base" disabled>', out)
    # Evidence and remediation folded per finding.
    assert out.count('<details class="evidence"') == sum(1 for f in hostile.findings if f.evidence)
    assert out.count("<strong>Remediation:</strong>") == len(hostile.findings)


def rs_rank(severity: str) -> int:
    from rules.base import SEVERITY_RANK
    return SEVERITY_RANK[severity]


def test_html_complete_scan_has_no_banner(report):
    complete = dataclasses.replace(report, coverage=tuple(c for c in report.coverage if c.status == "ok"))
    assert 'id="incomplete"' not in render(complete, "html")
    assert 'id="incomplete"' in render(report, "html")


def _many_findings(report: Report, n: int) -> Report:
    """`report` with `n` FAIL findings of its first rule on distinct VMs, messages as long as real ones."""
    base = _finding(report, "BCDR501")
    findings = tuple(dataclasses.replace(
        base, resource_id=f"/subscriptions/{base.subscription_id}/resourceGroups/rg-{i % 40}/providers/"
                          f"Microsoft.Compute/virtualMachines/vm-{i:05d}",
        resource_group=f"rg-{i % 40}", fingerprint=f"{i:032x}",
        message=f"18 instant restore points of vm-{i:05d}, the limit is 18 (Standard policy); the next "
                "backup fails with UserErrorRpCollectionLimitReached until expired points are cleaned up")
        for i in range(n))
    return dataclasses.replace(report, findings=findings)


def test_markdown_stays_under_githubs_step_summary_limit(report):
    from scanner.output.markdown import GITHUB_SUMMARY_LIMIT
    big = _many_findings(report, 5000)
    out = render(big, "markdown")
    size = len(out.encode("utf-8"))
    assert size < GITHUB_SUMMARY_LIMIT
    parsed = _gfm(out)
    findings = next(t for t in parsed.tables if t[0][:3] == ["Severity", "Status", "Rule"])
    shown = len(findings) - 1
    assert 1000 < shown < 5000
    assert f"Truncated: {5000 - shown} of 5000 findings are not shown" in out
    assert out.count("Truncated:") == 1 and "## Rules" in out  # the rules section is kept whole
    assert findings[-1][3] == f"vm-{shown - 1:05d}"  # most severe first, cut at the end, rows whole
    # Nothing is cut below the limit: the same report with 500 findings is whole.
    small = render(_many_findings(report, 500), "markdown")
    assert "Truncated" not in small


def test_markdown_truncation_respects_a_smaller_budget(report):
    from scanner.output.markdown import MarkdownWriter
    buf = io.StringIO()
    MarkdownWriter(max_bytes=20_000).write(_many_findings(report, 300), buf)
    assert len(buf.getvalue().encode()) <= 20_000
    assert "Truncated:" in buf.getvalue()


def test_junit_of_a_report_without_passed_ids_says_how_many_passed(report):
    older = Report.from_dict({k: v for k, v in report.to_dict().items() if k != "passed"} | {"schema_version": "2.1"})
    root = ET.fromstring(render(older, "junit"))
    assert_jenkins_junit(root)
    suite = next(s for s in root.findall("testsuite") if s.get("name").startswith("BCDR502"))
    assert [c.get("name") for c in suite.findall("testcase")] == ["BCDR502 1 passed"]
