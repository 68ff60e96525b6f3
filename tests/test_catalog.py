"""The rule catalog (../shared/rule-catalog.md, and section B "New rules" of rule-catalog-v2.md) and the
code agree: every catalog row is a registered rule with the catalog's slug and severity, complete
metadata, parameters whose defaults sit inside their bounds, and at least one test under tests/rules/
that names its code."""
from __future__ import annotations

import re

import pytest
from shared_data import ROOT, SHARED

import rules

CATALOG = SHARED / "rule-catalog.md"
CATALOG_V2 = SHARED / "rule-catalog-v2.md"
RULE_TESTS = ROOT / "tests" / "rules"
CODE = re.compile(r"^BCDR\d{3}$")
SEVERITY = re.compile(r"\b(critical|high|medium|low|info)\b")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def catalog_rows(path=CATALOG, section: str | None = None) -> dict[str, tuple[str, str, bool]]:
    """code -> (slug, default severity, whether the row names predicted errors). Columns are found by
    each table's header; tables without slug and sev columns (rule-catalog-v2.md's corrections) are
    skipped. With `section` ("B"), only the tables under the heading "## B." are read. A severity
    cell may read 'high (backed-up VM) / medium (other VM)': the first severity named is the default.
    A predicts cell of '-' (or a table without that column, 0xx) names no error, so the rule may
    predict none."""
    rows: dict[str, tuple[str, str, bool]] = {}
    header: list[str] = []
    inside = section is None
    for line in path.read_text(encoding="utf-8").splitlines():
        if section is not None and line.startswith("## "):
            inside = line[3:].strip().startswith(f"{section}.")
        if not inside or not line.strip().startswith("|"):
            header = []
            continue
        cells = _cells(line)
        if cells and cells[0] == "code":
            header = cells if {"slug", "sev"} <= set(cells) else []
            continue
        if not header or not CODE.match(cells[0]) or len(cells) != len(header):
            continue
        row = dict(zip(header, cells))
        first = SEVERITY.search(row["sev"])
        predicts = row.get("predicts", "-").strip()
        rows[cells[0]] = (row["slug"], first.group(1) if first else row["sev"], predicts not in ("", "-"))
    return rows


pytestmark = pytest.mark.shared


def _section_b() -> dict[str, tuple[str, str, bool]]:
    return catalog_rows(CATALOG_V2, "B") if CATALOG_V2.exists() else {}


def _rows() -> dict[str, tuple[str, str, bool]]:
    first = catalog_rows() if CATALOG.exists() else {}
    return {**first, **_section_b()}


# Without ../shared one placeholder stands for the catalog rows, so the marker skips it under the
# suite's one ../shared line rather than pytest reporting an empty parameter set.
CODES = sorted(_rows()) or ["(no catalog)"]


def test_the_catalog_parses():
    rows = _rows()
    assert len(rows) >= 30
    assert rows["BCDR501"] == ("rp-collection-limit-reached", "critical", True)
    assert rows["BCDR601"][1] == "high"
    assert rows["BCDR103"][2] is False and rows["BCDR001"][2] is False


@pytest.mark.parametrize("code", CODES)
def test_catalog_rule_is_registered_with_complete_metadata(code):
    slug, severity, names_errors = _rows()[code]
    registry = rules.load_all()
    assert code in registry, f"{code} ({slug}) is in the catalog but not registered"
    meta = registry[code].meta
    assert meta.code == code
    assert meta.slug == slug
    assert meta.severity == severity
    assert meta.title.strip()
    assert all(p.strip() for p in meta.predicts)
    if names_errors:
        assert meta.predicts, f"{code}: the catalog names predicted errors, the rule predicts none"
    assert meta.source.strip()
    assert meta.remediation.strip()
    assert meta.references and all(r.startswith("https://") for r in meta.references)
    for p in meta.params:
        assert p.description.strip(), f"{code}.{p.name} has no description"
        if isinstance(p.default, (int, float)) and not isinstance(p.default, bool):
            assert p.minimum is None or p.default >= p.minimum, f"{code}.{p.name} default below its minimum"
            assert p.maximum is None or p.default <= p.maximum, f"{code}.{p.name} default above its maximum"


@pytest.mark.parametrize("code", CODES)
def test_catalog_rule_is_tested(code):
    texts = [p.read_text(encoding="utf-8") for p in sorted(RULE_TESTS.glob("test_*.py"))]
    assert any(code in t for t in texts), f"no tests/rules/test_*.py mentions {code}"


def test_section_b_parses():
    rows = _section_b()
    assert len(rows) == 21  # BCDR004-007, 204, 304, 604-608, 805, 907-915
    assert rows["BCDR914"] == ("asr-recovery-plan-not-ready", "high", True)
    assert rows["BCDR005"] == ("vault-multi-user-authorization-off", "info", False)
    assert rows["BCDR304"] == ("backup-network-path-blocked", "medium", True)
    assert rows["BCDR606"] == ("unmanaged-disks", "medium", False)
    assert "BCDR302" not in rows  # section A corrects first-edition rules: no new rows there


def test_every_section_b_rule_is_registered():
    missing = sorted(set(_section_b()) - set(rules.load_all()))
    assert missing == [], f"section B of rule-catalog-v2.md names rules that are not registered: {missing}"


def test_no_registered_rule_is_missing_from_the_catalog():
    extra = sorted(set(rules.load_all()) - set(_rows()))
    assert extra == [], f"registered but not in the catalog: {extra}"
