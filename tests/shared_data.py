"""Where the public reference data lives: `../shared/` beside the repository (developers' brief,
test-data rule). Tests that read it carry `@pytest.mark.shared` (or `pytestmark = pytest.mark.shared`)
and take paths from here, never an absolute path.

Without the folder every `shared` test is skipped under one summary line (tests/conftest.py); with
`CI` or `AZ_BCDR_REQUIRE_SHARED` set to anything but "", "0" or "false", a missing folder fails the
run instead, so CI (`.ci/run` sets it) never skips them."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL_RESPONSES = SHARED / "real-responses"
REST_EXAMPLES = SHARED / "azure-rest-examples"
SARIF_DIR = SHARED / "sarif"
REQUIRE_VARS = ("AZ_BCDR_REQUIRE_SHARED", "CI")


def shared_required() -> str | None:
    """The environment variable that makes ../shared required, None when none is set."""
    set_vars = [var for var in REQUIRE_VARS if os.environ.get(var, "").strip().lower() not in ("", "0", "false")]
    return set_vars[0] if set_vars else None


def missing_line() -> str:
    return f"../shared not found (looked for {SHARED})"
