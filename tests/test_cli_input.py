"""Bad input: one line on stderr, exit 2, never a traceback, nothing scanned."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scanner.cli import EXIT_USAGE, main

SUB = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def offline_env(monkeypatch, tmp_path):
    """No credential in the environment, and managed identity pointed at a closed loopback port so
    DefaultAzureCredential fails fast without probing any real address."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "MSI_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "test")
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "no-az-cli"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("az-bcdr-scan: error:")
    return lines[0]


BAD_INPUTS = [
    (["--subscription", "not-a-guid"], "not a subscription id"),
    (["--subscription", SUB[:-1]], "not a subscription id"),
    ([], "at least one --subscription"),
    (["--subscription", SUB, "--arm-endpoint", "http://management.azure.com"], "https"),
    (["--subscription", SUB, "--arm-endpoint", "not a url"], "not an https URL"),
    (["--subscription", SUB, "--arm-endpoint", "ftp://example"], "not an https URL"),
    (["--subscription", SUB, "--format", "yaml"], "yaml"),
    (["--subscription", SUB, "--fail-on", "urgent"], "urgent"),
    (["--subscription", SUB, "--no-such-option"], "no-such-option"),
    (["--demo", "--subscription", SUB], "do not combine"),
    (["explain", "NOT-A-THING-42"], "neither a rule code"),
    (["evaluate", "missing-inventory.json"], "cannot read inventory"),
]


@pytest.mark.parametrize("argv,needle", BAD_INPUTS, ids=[" ".join(a) or "no-args" for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_2(capsys, offline_env, argv, needle):
    code, out, err = _run(capsys, *argv)
    assert code == EXIT_USAGE
    assert needle.lower() in _one_line_error(err).lower()
    assert out == ""


def test_no_credentials_is_exit_2(capsys, offline_env):
    code, _out, err = _run(capsys, "--subscription", SUB)
    assert code == EXIT_USAGE
    assert "no usable Azure credentials" in _one_line_error(err)


def test_unreachable_endpoint_is_exit_2(capsys, offline_env, monkeypatch):
    monkeypatch.setenv("AZURE_ACCESS_TOKEN", "token-for-test")
    code, _out, err = _run(capsys, "--subscription", SUB, "--arm-endpoint", "https://127.0.0.1:9",
                           "--max-retry-after", "0", "--timeout", "20")
    assert code == EXIT_USAGE
    line = _one_line_error(err)
    assert "cannot reach the ARM endpoint" in line
    assert "token-for-test" not in err


@pytest.mark.parametrize("content,needle", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "not a JSON object"),
    ('{"schema_version": "999", "collected_at": "x"}', "schema_version"),
    ('{"schema_version": "1", "collected_at": "2026-01-01T00:00:00Z", "virtual_machines": [{"id": 5}]}', "virtual_machines[0]"),
    ('{"schema_version": "1", "collected_at": "yesterday"}', "collected_at"),
])
def test_evaluate_rejects_bad_inventory(capsys, offline_env, content, needle):
    path = offline_env / "inv.json"
    path.write_text(content)
    code, _out, err = _run(capsys, "evaluate", str(path))
    assert code == EXIT_USAGE
    assert needle in _one_line_error(err)


def test_console_script_never_prints_a_traceback(offline_env):
    env = {k: v for k, v in os.environ.items()}
    proc = subprocess.run([sys.executable, "-m", "scanner.cli", "--subscription", "x"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == EXIT_USAGE
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("az-bcdr-scan: error:")


@pytest.mark.parametrize("setup,argv,needle", [
    ({"az-bcdr-scan.toml": 'fail_on = "urgent"\n'}, [], "fail_on"),
    ({"az-bcdr-scan.toml": "[rules.BCDR501.params]\nlimit = 0\n"}, [], "rules.BCDR501.params.limit"),
    ({}, ["--config", "nowhere.toml"], "nowhere.toml"),
], ids=["bad-value", "out-of-bounds", "missing-explicit-file"])
def test_bad_config_is_one_line_and_exit_2(capsys, offline_env, setup, argv, needle):
    for name, text in setup.items():
        (offline_env / name).write_text(text)
    inv = offline_env / "inv.json"
    inv.write_text('{"schema_version": "1", "collected_at": "2026-01-01T00:00:00Z"}')
    code, out, err = _run(capsys, "evaluate", str(inv), *argv)
    assert code == EXIT_USAGE
    assert needle in _one_line_error(err)
    assert out == ""


def test_valid_empty_inventory_evaluates_cleanly(capsys, offline_env):
    inv = offline_env / "inv.json"
    inv.write_text('{"schema_version": "1", "collected_at": "2026-01-01T00:00:00Z"}')
    code, out, err = _run(capsys, "evaluate", str(inv), "--format", "json")
    assert code == 0, err
    assert '"findings": []' in out
