"""Configuration loading and validation, against the real rule registry."""
from __future__ import annotations

import os
from pathlib import Path

import factories as f
import pytest
import report_scenarios as rs

from rules.base import REGISTRY, Param, Rule, RuleMeta, passed
from scanner.config import Config, ConfigError, load_config
from scanner.engine import RuleSettings, evaluate


def _write(dir: Path, text: str, name: str = "az-bcdr-scan.toml") -> Path:
    path = dir / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- lookup
def test_no_file_means_defaults(tmp_path):
    cfg = load_config(None, tmp_path)
    assert cfg == Config()
    assert cfg.source is None and cfg.fail_on is None and cfg.rule_settings == {}


def test_dedicated_file_in_cwd(tmp_path):
    path = _write(tmp_path, """
fail_on = "high"
disable = ["BCDR602"]

[rules.BCDR501]
severity = "medium"
[rules.BCDR501.params]
limit = 20

[rules.backup-job-stuck]
enabled = false
""")
    cfg = load_config(None, tmp_path)
    assert cfg.source == path
    assert cfg.fail_on == "high"
    assert cfg.rule_settings["BCDR501"] == RuleSettings(enabled=None, severity="medium", params={"limit": 20})
    assert cfg.rule_settings["BCDR701"].enabled is False  # by slug
    assert cfg.rule_settings["BCDR602"].enabled is False
    assert cfg.disabled == {"BCDR602", "BCDR701"}


def test_pyproject_table(tmp_path):
    _write(tmp_path, '[project]\nname = "x"\n\n[tool.az-bcdr-scan]\nfail_on = "critical"\n'
                     '[tool.az-bcdr-scan.rules.BCDR701.params]\nmax_hours = 12\n', "pyproject.toml")
    cfg = load_config(None, tmp_path)
    assert cfg.fail_on == "critical"
    assert cfg.rule_settings["BCDR701"].params == {"max_hours": 12}
    assert cfg.source == tmp_path / "pyproject.toml"


def test_pyproject_without_our_table_means_defaults(tmp_path):
    _write(tmp_path, '[project]\nname = "x"\n[tool.black]\nline-length = 100\n', "pyproject.toml")
    assert load_config(None, tmp_path) == Config()


def test_pyproject_errors_name_the_full_key(tmp_path):
    _write(tmp_path, "[tool.az-bcdr-scan.rules.BCDR501.params]\nlimit = 0\n", "pyproject.toml")
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    assert info.value.key == "tool.az-bcdr-scan.rules.BCDR501.params.limit"
    assert str(info.value).startswith("pyproject.toml: tool.az-bcdr-scan.rules.BCDR501.params.limit: ")


def test_dedicated_file_wins_over_pyproject(tmp_path):
    _write(tmp_path, 'fail_on = "low"\n')
    _write(tmp_path, '[tool.az-bcdr-scan]\nfail_on = "critical"\n', "pyproject.toml")
    assert load_config(None, tmp_path).fail_on == "low"


def test_explicit_path_wins_and_is_relative_to_cwd(tmp_path):
    _write(tmp_path, 'fail_on = "low"\n')
    (tmp_path / "ci").mkdir()
    _write(tmp_path / "ci", 'fail_on = "medium"\n', "nightly.toml")
    cfg = load_config("ci/nightly.toml", tmp_path)
    assert cfg.fail_on == "medium" and cfg.source == tmp_path / "ci" / "nightly.toml"


def test_explicit_pyproject_reads_the_tool_table(tmp_path):
    path = _write(tmp_path, '[tool.az-bcdr-scan]\nfail_on = "info"\n', "pyproject.toml")
    assert load_config(str(path), Path("/")).fail_on == "info"


def test_explicit_pyproject_without_table_is_an_error(tmp_path):
    path = _write(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")
    with pytest.raises(ConfigError):
        load_config(str(path), tmp_path)


@pytest.mark.parametrize("setup", ["missing", "directory", "not-utf8", "bad-toml"])
def test_explicit_path_problems_are_errors(tmp_path, setup):
    target = tmp_path / "conf.toml"
    if setup == "directory":
        target.mkdir()
    elif setup == "not-utf8":
        target.write_bytes(b'fail_on = "\xff\xfe"\n')
    elif setup == "bad-toml":
        target.write_text("fail_on = \n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(str(target), tmp_path)
    message = str(info.value)
    assert "\n" not in message and str(target) in message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_explicit_unreadable_file_is_an_error(tmp_path):
    target = _write(tmp_path, 'fail_on = "high"\n')
    target.chmod(0)
    with pytest.raises(ConfigError):
        load_config(str(target), tmp_path)


def test_bad_toml_in_cwd_is_an_error_naming_the_file(tmp_path):
    _write(tmp_path, "[rules.BCDR501\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    assert str(info.value).startswith("az-bcdr-scan.toml: invalid TOML")


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("text,key", [
    ('fail-on = "high"', "fail-on"),                                  # typo in a top-level key
    ('fail_on = "urgent"', "fail_on"),
    ("fail_on = 3", "fail_on"),
    ('disable = "BCDR103"', "disable"),
    ('disable = ["BCDR401", "BCDR999"]', "disable[1]"),
    ("disable = [401]", "disable[0]"),
    ("rules = 3", "rules"),
    ("[rules.BCDR999]\nenabled = false", "rules.BCDR999"),
    ("[rules.rp-colection-limit-reached]\nenabled = false", "rules.rp-colection-limit-reached"),
    ("[rules]\nBCDR501 = 3", "rules.BCDR501"),
    ("[rules.BCDR501]\nenable = false", "rules.BCDR501.enable"),
    ('[rules.BCDR501]\nenabled = "no"', "rules.BCDR501.enabled"),
    ('[rules.BCDR501]\nseverity = "severe"', "rules.BCDR501.severity"),
    ("[rules.BCDR501]\nseverity = 1", "rules.BCDR501.severity"),
    ("[rules.BCDR501]\nparams = 1", "rules.BCDR501.params"),
    ("[rules.BCDR501.params]\nlimit = 0", "rules.BCDR501.params.limit"),
    ("[rules.BCDR501.params]\nlimit = 1001", "rules.BCDR501.params.limit"),
    ('[rules.BCDR501.params]\nlimit = "18"', "rules.BCDR501.params.limit"),
    ("[rules.BCDR501.params]\nlimit = 18.5", "rules.BCDR501.params.limit"),
    ("[rules.BCDR501.params]\nlimit = true", "rules.BCDR501.params.limit"),
    ("[rules.BCDR501.params]\nlimt = 18", "rules.BCDR501.params.limt"),
    ("[rules.BCDR502.params]\nnear_limit = -1", "rules.BCDR502.params.near_limit"),
    ("[rules.BCDR701.params]\nmax_hours = 721", "rules.BCDR701.params.max_hours"),
    ('[rules.BCDR601.params]\nunprotected_severity = "meduim"', "rules.BCDR601.params.unprotected_severity"),
    ("[rules.BCDR602.params]\nmax_encrypted_disk_gb = 4095.0", "rules.BCDR602.params.max_encrypted_disk_gb"),
    ('[rules.BCDR401.params]\nrg_name_pattern = "(["', "rules.BCDR401.params.rg_name_pattern"),
    ('disable = ["BCDR501"]\n[rules.BCDR501]\nenabled = true', "rules.BCDR501.enabled"),
    ("[rules.BCDR501]\nenabled = false\n[rules.rp-collection-limit-reached]\nseverity = 'low'",
     "rules.rp-collection-limit-reached"),
    ('[rules."BCDR501 "]\nenabled = false', 'rules."BCDR501 "'),
])
def test_bad_values(tmp_path, text, key):
    _write(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    err = info.value
    assert err.key == key
    message = str(err)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"az-bcdr-scan.toml: {key}: ")
    if key == "rules.BCDR501.params.limit" and "= 0" in text:
        assert message.endswith("rules.BCDR501.params.limit: 0 is below the minimum 1")


def test_suggests_the_rule_meant(tmp_path):
    _write(tmp_path, "[rules.rp-colection-limit-reached]\nenabled = false\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    assert "rp-collection-limit-reached" in info.value.problem


def test_a_key_with_a_newline_still_gives_one_line(tmp_path):
    _write(tmp_path, '[rules."BCDR\\n501"]\nenabled = false\n')
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    assert "\n" not in str(info.value)


def test_codes_are_case_insensitive_and_severities_normalised(tmp_path):
    _write(tmp_path, 'fail_on = "HIGH"\n[rules.bcdr501]\nseverity = "Low"\n')
    cfg = load_config(None, tmp_path)
    assert cfg.fail_on == "high"
    assert cfg.rule_settings["BCDR501"].severity == "low"


def test_bounds_are_inclusive(tmp_path):
    _write(tmp_path, "[rules.BCDR501.params]\nlimit = 1\nnear_limit = 1000\n")
    assert load_config(None, tmp_path).rule_settings["BCDR501"].params == {"limit": 1, "near_limit": 1000}


@pytest.fixture
def float_rule(monkeypatch):
    """No shipped rule has a float parameter yet; register one for the duration of a test."""
    meta = RuleMeta(code="BCDR996", slug="scratch-float", severity="low", title="scratch", predicts=(),
                    source="test", remediation="none", references=(),
                    params=(Param("ratio", 0.5, "a ratio", 0.0, 1.0), Param("strict", True, "a flag")))
    monkeypatch.setitem(REGISTRY, meta.code, Rule(meta=meta, fn=lambda inv, params: iter([passed(f.vm())])))
    return meta.code


def test_float_params_accept_integers_and_check_bounds(tmp_path, float_rule):
    _write(tmp_path, f"[rules.{float_rule}.params]\nratio = 1\nstrict = false\n")
    params = load_config(None, tmp_path).rule_settings[float_rule].params
    assert params == {"ratio": 1.0, "strict": False} and isinstance(params["ratio"], float)
    for bad in ("2", "-0.5", "nan", "inf", '"0.5"', "true"):
        _write(tmp_path, f"[rules.{float_rule}.params]\nratio = {bad}\n")
        with pytest.raises(ConfigError) as info:
            load_config(None, tmp_path)
        assert info.value.key == f"rules.{float_rule}.params.ratio"
    _write(tmp_path, f"[rules.{float_rule}.params]\nstrict = 1\n")
    with pytest.raises(ConfigError):
        load_config(None, tmp_path)


# --------------------------------------------------------------------------- effect on a scan
def test_loaded_settings_drive_the_engine_and_the_report(tmp_path):
    _write(tmp_path, """
disable = ["disk-over-backup-size-limit"]
[rules.BCDR501.params]
limit = 19
near_limit = 16
[rules.BCDR701]
severity = "low"
""")
    cfg = load_config(None, tmp_path)
    inv = rs.scenario()
    report = rs.report(inv, evaluate(inv, cfg.rule_settings, only=["BCDR501", "BCDR601", "BCDR701"]))
    rules_failed = {(x.rule_id, x.severity) for x in report.findings if x.status == "FAIL"}
    # 18 restore points no longer reach a limit of 19; BCDR601 is off; BCDR701 is now low.
    assert rules_failed == {("BCDR701", "low")}
    assert "BCDR601" not in report.summary.rules_run
    assert report.summary.passed_by_rule["BCDR501"] == 1
    # and the report says what the rules ran with
    assert (report.rule("BCDR501").params["limit"], report.rule("BCDR701").severity) == (19, "low")


def test_a_rule_off_by_default_is_enabled_by_configuration(tmp_path):
    from rules import load_all
    from scanner.config import load_config
    assert load_all()["BCDR603"].meta.enabled_by_default is False
    (tmp_path / "az-bcdr-scan.toml").write_text("[rules.BCDR603]\nenabled = true\n", encoding="utf-8")
    assert load_config(None, tmp_path).rule_settings["BCDR603"].enabled is True
    (tmp_path / "az-bcdr-scan.toml").write_text("[rules.BCDR603]\nseverity = 'low'\n", encoding="utf-8")
    # Configuring it without 'enabled' leaves it at its default (off).
    assert load_config(None, tmp_path).rule_settings["BCDR603"].enabled is None
