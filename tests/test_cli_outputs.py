"""Several outputs from one scan (`--output [FORMAT=]PATH`, repeatable) and the credential checks
of the command line: real CLI, the demo on the loopback simulator, real files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from scanner.cli import EXIT_USAGE
from scanner.emit import OutputPathError, OutputTarget, plan_outputs
from scanner.output import FORMATS

SUB = "11111111-1111-1111-1111-111111111111"


def _plan(fmts=(), outputs=(), stdout="json"):
    return plan_outputs(tuple(fmts), tuple(outputs), FORMATS, stdout)


def test_plan_keeps_the_old_single_output_forms():
    assert _plan() == [OutputTarget("json", None)]
    assert _plan(stdout="table") == [OutputTarget("table", None)]
    assert _plan(["sarif"]) == [OutputTarget("sarif", None)]
    assert _plan(["sarif"], ["out.txt"]) == [OutputTarget("sarif", "out.txt")]  # --format X --output FILE
    assert _plan([], ["report.out"]) == [OutputTarget("json", "report.out")]  # no telling extension: json
    assert _plan([], ["-"], stdout="table") == [OutputTarget("table", None)]


def test_plan_infers_formats_from_extensions_and_names():
    plan = _plan([], ["a.json", "b.SARIF", "c.md", "d.csv", "e.xml", "f.html", "g.txt", "junit=h.out"])
    assert [t.fmt for t in plan] == ["junit", "json", "sarif", "markdown", "csv", "junit", "html", "table"]
    # --format with outputs that all name their format: it is what stdout gets
    assert _plan(["table"], ["sarif=x.sarif"]) == [OutputTarget("sarif", "x.sarif"), OutputTarget("table", None)]


@pytest.mark.parametrize("fmts,outputs,needle", [
    (["json", "sarif"], [], "--format given 2 times"),
    (["json"], ["a.json", "b.sarif"], "applies to one --output"),
    ([], ["a.json", "./a.json"], "given twice"),
    ([], ["-", "markdown=-"], "more than one output goes to stdout"),
    ([], ["yaml=out.yaml"], "unknown format 'yaml'"),
    ([], ["sarif="], "no path"),
])
def test_plan_refuses_what_would_silently_replace_an_output(fmts, outputs, needle):
    with pytest.raises(OutputPathError, match=needle.replace("(", r"\(")):
        _plan(fmts, outputs)


def test_one_demo_scan_writes_every_output(run_cli, tmp_path):
    (tmp_path / "old.sarif").write_text("previous", encoding="utf-8")
    result = run_cli("--demo", "--fail-on", "none", "-o", "csv=-", "-o", "json=r.json", "-o", "old.sarif",
                     "-o", "summary.md", "-o", "junit=tests.xml", "-o", "page.html")
    assert result.code in (0, 3), result.err
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    sarif = json.loads((tmp_path / "old.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    # one scan: every file describes the same findings
    assert len(sarif["runs"][0]["results"]) == len(report["findings"]) > 0
    assert {r["partialFingerprints"]["azBcdrScan/v1"] for r in sarif["runs"][0]["results"]} == \
        {f["fingerprint"] for f in report["findings"]}
    ET.fromstring((tmp_path / "tests.xml").read_text(encoding="utf-8"))
    assert (tmp_path / "page.html").read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert (tmp_path / "summary.md").read_text(encoding="utf-8").strip()
    assert result.out.splitlines()[0].startswith("rule")  # csv=- went to stdout
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_a_second_format_is_one_line_and_exit_2_before_scanning(run_cli, tmp_path):
    result = run_cli("--demo", "-f", "json", "-f", "sarif")
    assert result.code == EXIT_USAGE and result.out == ""
    [line] = result.err.strip().splitlines()
    assert "--format given 2 times" in line


def test_an_unwritable_second_output_fails_before_the_scan(run_cli, tmp_path):
    result = run_cli("--demo", "-o", "ok.json", "-o", "sarif=missing-dir/x.sarif")
    assert result.code == EXIT_USAGE
    assert "missing-dir" in result.err and not (tmp_path / "ok.json").exists()


# --------------------------------------------------------------------------- credentials (item 10)
def _cli_subprocess(env_updates: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    env.update({"IDENTITY_ENDPOINT": "http://127.0.0.1:9/msi/token", "IDENTITY_HEADER": "test",
                "AZURE_CONFIG_DIR": str(tmp_path / "no-az-cli")}, **env_updates)
    return subprocess.run([sys.executable, "-m", "scanner.cli", "--subscription", SUB], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_access_token_is_an_error_not_another_identity(tmp_path, value):
    proc = _cli_subprocess({"AZURE_ACCESS_TOKEN": value}, tmp_path)
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert "AZURE_ACCESS_TOKEN is set but empty" in proc.stderr and proc.stdout == ""


def test_missing_credentials_are_one_line_with_azure_identitys_reason_folded_in(tmp_path):
    proc = _cli_subprocess({}, tmp_path)
    assert proc.returncode == EXIT_USAGE
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr  # no azure-identity WARNING lines before ours
    assert lines[0].startswith("az-bcdr-scan: error: no usable Azure credentials (DefaultAzureCredential")


def test_ci_identities_get_a_refreshing_credential(tmp_path):
    from azure.identity import AzurePipelinesCredential, ClientAssertionCredential, DefaultAzureCredential

    from scanner.arm import make_credential
    ids = {"AZURE_CLIENT_ID": "00000000-0000-4000-8000-0000000000c1", "AZURE_TENANT_ID": "00000000-0000-4000-8000-0000000000a1"}
    gh = {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://127.0.0.1:9/token?api-version=2.0",
          "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "gh-request-token-1234"}
    assert isinstance(make_credential({**ids, **gh}), ClientAssertionCredential)
    # a client secret or a token file the user set up wins (DefaultAzureCredential reads them)
    assert isinstance(make_credential({**ids, **gh, "AZURE_CLIENT_SECRET": "s" * 12}), DefaultAzureCredential)
    ado = {"AZURESUBSCRIPTION_TENANT_ID": ids["AZURE_TENANT_ID"], "AZURESUBSCRIPTION_CLIENT_ID": ids["AZURE_CLIENT_ID"],
           "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "conn-1", "SYSTEM_ACCESSTOKEN": "ado-system-token-1234"}
    assert isinstance(make_credential(ado), AzurePipelinesCredential)
    assert isinstance(make_credential({}), DefaultAzureCredential)
    from scanner.redact import redact
    assert "ado-system-token-1234" not in redact("x ado-system-token-1234 gh-request-token-1234")


def test_github_oidc_assertion_asks_the_actions_endpoint_every_time():
    """A real loopback HTTP server stands in for the Actions token endpoint."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from scanner.arm import github_oidc_assertion
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append((self.path, self.headers.get("Authorization", "")))
            body = json.dumps({"value": f"oidc-jwt-number-{len(seen)}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fetch = github_oidc_assertion({"ACTIONS_ID_TOKEN_REQUEST_URL": f"http://127.0.0.1:{server.server_port}/t?api-version=2.0",
                                       "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "gh-request-token-1234"})
        assert fetch() == "oidc-jwt-number-1" and fetch() == "oidc-jwt-number-2"  # fresh each call
    finally:
        server.shutdown()
    assert seen[0] == ("/t?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange", "bearer gh-request-token-1234")
