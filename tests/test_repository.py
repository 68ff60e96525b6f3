"""The repository tests itself: a bare `pytest` collects from a fresh copy (tests/rules/ does not
shadow the `rules` package), the tests that read ../shared skip under ONE summary line when the
folder is absent, and CI (`CI`, `AZ_BCDR_REQUIRE_SHARED`, `.ci/run`) refuses to run without it.

Each case runs pytest in a subprocess on a copy of the repository in a temporary directory, so
there is no ../shared beside it. The copy runs two small test files (a few seconds)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from shared_data import REQUIRE_VARS, ROOT

PYTEST = Path(sys.executable).parent / "pytest"  # the console script: `pytest`, not `python -m pytest`
# test_knowledge mixes tests that read ../shared with tests that do not; test_catalog reads it throughout.
SELECTION = ["tests/rules/test_knowledge.py", "tests/test_catalog.py"]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("fresh") / "repo"
    for part in ("scanner", "rules", "tests", ".ci"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    shutil.copy2(ROOT / "pyproject.toml", repo / "pyproject.toml")
    assert not (repo.parent / "shared").exists()
    return repo


def _run(clone: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in (*REQUIRE_VARS, "PYTEST_ADDOPTS", "PYTHONPATH")}
    return subprocess.run(argv, cwd=clone, env={**base, **env}, capture_output=True, text=True, timeout=120)


def _pytest(clone: Path, **env: str) -> subprocess.CompletedProcess[str]:
    assert PYTEST.exists(), f"no pytest console script beside {sys.executable}"
    return _run(clone, str(PYTEST), "-p", "no:cacheprovider", *SELECTION, **env)


def test_without_shared_the_shared_tests_skip_under_one_line(clone):
    done = _pytest(clone, AZ_BCDR_REQUIRE_SHARED="0", CI="false")  # set, but to "no": skipping is allowed
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if "../shared not found" in line]
    assert len(lines) == 1, done.stdout
    skipped_line = re.fullmatch(r"SKIPPED \[(\d+)\] tests/conftest\.py:\d+: \.\./shared not found \(looked for (.+)\): "
                                r"tests that read public reference data skipped", lines[0])
    assert skipped_line, lines[0]
    assert Path(skipped_line[2]) == clone.parent / "shared"
    totals = re.search(r"(\d+) passed, (\d+) skipped", done.stdout)
    assert totals, done.stdout
    assert int(totals[1]) >= 1  # the tests that do not read ../shared ran
    assert int(skipped_line[1]) == int(totals[2]) >= 3  # every skip is a shared one, all on that line


@pytest.mark.parametrize("env", [{"AZ_BCDR_REQUIRE_SHARED": "1"}, {"CI": "true"}], ids=["flag", "CI"])
def test_when_required_a_missing_shared_fails_the_run(clone, env):
    done = _pytest(clone, **env)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    [line] = [line for line in (done.stdout + done.stderr).splitlines() if "../shared not found" in line]
    assert line.startswith("ERROR: ") and f"{next(iter(env))} is set" in line
    assert " passed" not in done.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_ci_run_refuses_without_shared_before_installing_anything(clone):
    done = _run(clone, "bash", ".ci/run")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert "../shared not found" in done.stderr
    assert not (clone / ".venv").exists()


TEST_ONLY = ("simfaults", "pytest", "hypothesis", "vcr", "jsonschema", "trustme", "tests")


def test_the_demo_runs_without_test_machinery(tmp_path):
    """`az-bcdr-scan --demo` as a plain install runs it: isolated mode (no tests/ or working
    directory on sys.path), and not one test-only module imported along the way."""
    report = tmp_path / "demo.json"
    probe = ("import json, sys\n"
             "from scanner.cli import main\n"
             f"code = main(['--demo', '--format', 'json', '--output', {str(report)!r}])\n"
             f"print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in {TEST_ONLY!r})]))\n")
    done = subprocess.run([sys.executable, "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    code, test_modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 1 and report.exists()  # the demo has high-severity findings: exit 1
    assert test_modules == []
