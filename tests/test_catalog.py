"""The rule catalog (../shared/rule-catalog.md, and section B "New rules" of rule-catalog-v2.md) and the
code agree: every catalog row is a registered rule with the catalog's slug and severity, complete
metadata, parameters whose defaults sit inside their bounds, and at least one test under tests/rules/
that names its code. Section A of rule-catalog-v2.md (corrections, which win over the first edition):
the numbers it states are the rules' defaults, each saying where it comes from."""
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


# --------------------------------------------------------------------------- section A (corrections)
def section_a() -> dict[str, str]:
    """code -> the 'what changes' text of each row of rule-catalog-v2.md section A. A row for
    'BCDR501/502' stands for both codes."""
    out: dict[str, str] = {}
    inside = False
    for line in CATALOG_V2.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            inside = line[3:].strip().startswith("A.")
        if not inside or not line.strip().startswith("|"):
            continue
        cells = _cells(line)
        m = re.match(r"^BCDR(\d{3})((?:/\d{3})*)$", cells[0])
        if not m:
            continue
        for n in [m.group(1), *[x for x in m.group(2).split("/") if x]]:
            out[f"BCDR{n}"] = cells[1]
    return out


def _number(text: str, pattern: str) -> int:
    """The first number in `text` matched by `pattern` (a regex with one group), commas dropped."""
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in the catalog row: {text}"
    return int(found.group(1).replace(",", ""))


def _defaults(code: str) -> dict:
    return rules.load_all()[code].meta.defaults()


def test_section_a_names_first_edition_rules_only():
    rows = section_a() if CATALOG_V2.exists() else {}
    assert set(rows) == {"BCDR302", "BCDR401", "BCDR501", "BCDR502", "BCDR503", "BCDR601", "BCDR602", "BCDR603",
                         "BCDR701", "BCDR704", "BCDR705", "BCDR801", "BCDR803", "BCDR901", "BCDR902", "BCDR904",
                         "BCDR905", "BCDR906"}
    first = catalog_rows()
    registry = rules.load_all()
    for code in rows:  # codes and slugs never change: a correction keeps the first edition's row
        assert code in first and registry[code].meta.slug == first[code][0], code
        assert "rule-catalog-v2" in registry[code].meta.source, f"{code}: its source does not cite the correction"


def test_section_a_limits_are_the_defaults():
    """Every number section A states is the rule's default, and says where it comes from."""
    a = section_a()
    assert _defaults("BCDR501")["enhanced_limit"] == _number(a["BCDR501"], r"hard limit is (\d+) restore points") == 500
    assert _defaults("BCDR502")["enhanced_limit"] == 500
    assert _defaults("BCDR501")["cleanup_lag_days"] == _defaults("BCDR503")["cleanup_lag_days"] == 1  # "one day of cleanup lag"
    assert "one day of cleanup lag" in a["BCDR501"] and "(retention days + 1)" in a["BCDR503"]
    assert _defaults("BCDR601")["max_disk_gb"] == _number(a["BCDR601"], r"over ([\d,]+) GiB") == 32767
    assert _defaults("BCDR601")["enhanced_max_disk_gb"] == _number(a["BCDR601"], r"64 TiB per disk \(([\d,]+) GiB\)") == 65536
    assert _defaults("BCDR602")["max_encrypted_disk_gb"] == _number(a["BCDR602"], r"is ([\d,]+) GiB") == 4096
    assert _defaults("BCDR701")["first_backup_max_hours"] == _number(a["BCDR701"], r"default (\d+) h") == 72
    assert _defaults("BCDR701")["max_hours"] == 24 and "24 h when the policy is unknown" in a["BCDR701"]
    assert _defaults("BCDR302") == _defaults("BCDR701")  # "BCDR701's threshold"
    assert _defaults("BCDR905")["max_rpo_seconds"] == _number(a["BCDR905"], r"([\d,]+) s") == 1800
    changed = {("BCDR501", "enhanced_limit"), ("BCDR501", "cleanup_lag_days"), ("BCDR503", "cleanup_lag_days"),
               ("BCDR601", "max_disk_gb"), ("BCDR601", "enhanced_max_disk_gb"), ("BCDR602", "max_encrypted_disk_gb"),
               ("BCDR701", "first_backup_max_hours"), ("BCDR905", "max_rpo_seconds")}
    registry = rules.load_all()
    for code, name in sorted(changed):
        [param] = [p for p in registry[code].meta.params if p.name == name]
        assert re.search(r"checked \d{4}-\d{2}|seeds/\d{3}|rule-catalog-v2", param.description), (code, name)
        assert param.minimum is not None and param.maximum is not None, (code, name)


def test_section_a_metadata():
    a = section_a()
    registry = rules.load_all()
    assert "Disabled by default" in a["BCDR603"] and registry["BCDR603"].meta.enabled_by_default is False
    assert all(registry[c].meta.enabled_by_default for c in a if c != "BCDR603")
    assert "78093" in a["BCDR902"] and "78093" in registry["BCDR902"].meta.predicts
    assert "Mobility" in a["BCDR906"] and "151095" not in registry["BCDR906"].meta.predicts
    assert any("Mobility" in p for p in registry["BCDR906"].meta.predicts)
    assert "BackupsSuspended" in a["BCDR803"] and "BackupsSuspended" in registry["BCDR803"].meta.source
