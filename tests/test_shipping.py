"""What ships besides the package: the GitHub Action, the CI examples, the Dockerfile, the LICENSE
and the report-schema page. No Docker engine exists where these tests run, so the image is not
built here: the Dockerfile is parsed and checked (base, non-root user, wheel install, entrypoint),
and the wheel it installs is built for real and inspected."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- report-schema page
def test_report_schema_page_matches_the_schema():
    doc = _load_script("report_schema_doc")
    schema = json.loads(doc.SCHEMA.read_text(encoding="utf-8"))
    page = (ROOT / "docs" / "report-schema.md").read_text(encoding="utf-8")
    assert page == doc.render(schema), "docs/report-schema.md is stale: run python scripts/report_schema_doc.py"
    # Every top-level key and every $defs entry is documented.
    for key in schema["properties"]:
        assert f"| `{key}` |" in page
    for name in schema["$defs"]:
        assert f"## {name}\n" in page
    # The check can fail: a key added to the schema changes the page.
    schema["properties"]["extra"] = {"type": "string", "description": "new"}
    assert doc.render(schema) != page


# --------------------------------------------------------------------------- Dockerfile
def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction: comments dropped, continuations joined."""
    out, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "a continuation line runs off the end"
    return out


def test_dockerfile_parses_and_runs_the_wheel_as_non_root():
    steps = _instructions((ROOT / "Dockerfile").read_text(encoding="utf-8"))
    known = {"FROM", "WORKDIR", "COPY", "RUN", "ENV", "USER", "ENTRYPOINT", "CMD", "ARG", "LABEL"}
    assert {word for word, _ in steps} <= known
    froms = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    assert steps[0][0] == "FROM" and all(steps[i][1].split()[0] == "python:3.11-slim" for i in froms)
    final = steps[froms[-1]:]
    # The final stage installs the wheel built in the first one, and nothing from the sources.
    runs = [args for word, args in final if word == "RUN"]
    assert any(re.search(r"pip install .*\.whl", r) for r in runs)
    assert not [args for word, args in final if word == "COPY" and "--from=" not in args]
    build_runs = [args for word, args in steps[:froms[-1]] if word == "RUN"]
    assert any("pip wheel" in r for r in build_runs)
    # A non-root user, set after the last RUN (so nothing runs as root afterwards).
    users = [(i, args) for i, (word, args) in enumerate(final) if word == "USER"]
    assert users, "no USER in the final stage: the container would run as root"
    last_user_at, user = users[-1]
    assert user.split(":")[0] not in ("root", "0")
    assert last_user_at > max(i for i, (word, _) in enumerate(final) if word == "RUN")
    assert any("useradd" in r and user.split(":")[0] in r for r in runs)
    entry = json.loads(next(args for word, args in final if word == "ENTRYPOINT"))
    assert entry == ["az-bcdr-scan"]
    # What the first stage copies exists (a build would fail on a missing path).
    for word, args in steps[:froms[-1]]:
        if word == "COPY":
            *sources, _dest = args.split()
            for src in sources:
                assert (ROOT / src).exists(), src


def test_dockerignore_keeps_the_venv_out():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignored and ".git" in ignored


def test_the_wheel_the_image_installs_builds_with_its_data_and_entrypoint(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path),
                           str(ROOT)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [wheel] = tmp_path.glob("az_bcdr_scan-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
        metadata = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert "scanner/output/report.schema.json" in names
    assert any(n.startswith("scanner/simulator/scenarios/") and n.endswith(".json") for n in names)  # --demo
    assert any(n.startswith("rules/") and n.endswith(".json") for n in names)
    assert any(n.endswith(".dist-info/LICENSE") or "/licenses/LICENSE" in n for n in names)
    assert re.search(r"^az-bcdr-scan = scanner\.cli:console_main$", entry_points, flags=re.M)
    assert "License: MIT" in metadata or "License-Expression: MIT" in metadata
    assert not [n for n in names if n.startswith("tests/")]


# --------------------------------------------------------------------------- LICENSE
def test_license_is_mit_as_the_metadata_says():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == {"text": "MIT"}


# --------------------------------------------------------------------------- the GitHub Action
@pytest.fixture(scope="module")
def action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def test_action_is_composite_with_the_documented_inputs(action):
    assert action["runs"]["using"] == "composite"
    assert {"subscriptions", "fail-on", "formats"} <= set(action["inputs"])
    assert action["inputs"]["fail-on"]["default"] == "high"
    steps = action["runs"]["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"].endswith("az-bcdr-scan.sarif") and "category" in upload["with"]
    assert "always()" in upload["if"]
    scan = next(s for s in steps if s.get("id") == "scan")
    assert "GITHUB_STEP_SUMMARY" in scan["run"] and "az-bcdr-scan.md" in scan["run"]
    # Inputs reach the script through env, never pasted into it (a subscription input cannot inject shell).
    assert "${{ inputs." not in scan["run"]
    assert scan["env"]["SUBSCRIPTIONS"] == "${{ inputs.subscriptions }}"
    # The step that gates comes last and uses the scanner's own exit code.
    assert "steps.scan.outputs.exit-code" in steps[-1]["run"]


def test_action_script_is_valid_bash(action):
    scan = next(s for s in action["runs"]["steps"] if s.get("id") == "scan")
    proc = subprocess.run(["bash", "-n"], input=scan["run"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- CI examples
def test_nightly_github_example_uses_oidc_and_the_action():
    wf = yaml.safe_load((ROOT / "docs" / "examples" / "nightly.yml").read_text(encoding="utf-8"))
    assert wf["permissions"]["id-token"] == "write" and wf["permissions"]["security-events"] == "write"
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert "schedule" in on
    steps = wf["jobs"]["scan"]["steps"]
    login = next(s for s in steps if s.get("uses", "").startswith("azure/login@"))
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}  # federated: no client secret
    assert any(s.get("uses") == "./" for s in steps)


def test_azure_devops_example_uses_workload_identity_and_publishes_junit():
    pipe = yaml.safe_load((ROOT / "docs" / "examples" / "azure-pipelines.yml").read_text(encoding="utf-8"))
    steps = pipe["steps"]
    cli = next(s for s in steps if s.get("task") == "AzureCLI@2")
    assert cli["inputs"]["azureSubscription"] == "$(SERVICE_CONNECTION)"
    assert "--format junit" in cli["inputs"]["inlineScript"] or "junit:xml" in cli["inputs"]["inlineScript"]
    junit = next(s for s in steps if s.get("task") == "PublishTestResults@2")
    assert junit["inputs"]["testResultsFormat"] == "JUnit" and junit["condition"] == "always()"
    assert junit["inputs"]["testResultsFiles"].endswith("az-bcdr-scan.xml")
    proc = subprocess.run(["bash", "-n"], input=cli["inputs"]["inlineScript"].replace("$(OUT)", "$OUT")
                          .replace("$(SUBSCRIPTION_ID)", "$SUB"), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
