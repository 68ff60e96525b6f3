"""Where the public reference data lives: `../shared/` beside the repository (developers' brief,
test-data rule). Tests that read it carry `@pytest.mark.shared` (or `pytestmark = pytest.mark.shared`)
and take paths from here, never an absolute path."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL_RESPONSES = SHARED / "real-responses"
REST_EXAMPLES = SHARED / "azure-rest-examples"
SARIF_DIR = SHARED / "sarif"
