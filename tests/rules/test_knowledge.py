"""The error-code knowledge base (rules/error_codes.json via rules/knowledge.py)."""
import re

import pytest
from shared_data import SHARED

from rules import knowledge as kb

CATALOG = SHARED / "rule-catalog.md"
SEEDS = SHARED / "seeds"


def _catalog_table_codes() -> list[str]:
    text = CATALOG.read_text(encoding="utf-8")
    table = text.split("## Error-code table", 1)[1]
    codes: list[str] = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[1] in ("Backup", "Site Recovery"):
            codes.extend(c.strip() for c in cells[0].split("/"))
    return codes


def _seed_codes() -> set[str]:
    """Codes the seed pages name: '**エラー コード**:X' (004, optionally 'X / Y'), 'エラー コード:"N"' (003)
    and the 'error-code-N' anchors (000)."""
    found: set[str] = set()
    for path in SEEDS.glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r'エラー コード\**\s*[:：]\s*"?([A-Za-z0-9]+)"?(?:\s*/\s*([A-Za-z0-9]+))?', text):
            found.update(g for g in match.groups() if g)
        found.update(re.findall(r'name="error-code-(\d+)"', text))
    return found


@pytest.mark.shared
def test_every_code_of_the_catalog_table_is_known():
    codes = _catalog_table_codes()
    assert len(codes) >= 21  # the table lists 20 rows, one of them two codes
    assert [c for c in codes if kb.lookup(c) is None] == []


@pytest.mark.shared
def test_every_code_the_seed_pages_name_is_known():
    codes = _seed_codes()
    assert {"BackUpOperationFailedV2", "UserErrorKeyvaultPermissionsNotConfigured", "151095", "8038"} <= codes
    assert sorted(c for c in codes if kb.lookup(c) is None) == []


@pytest.mark.shared
def test_every_entry_cites_an_existing_seed_file_or_a_dated_microsoft_page():
    for entry in kb.all_codes():
        files = re.findall(r"seeds/(\S+\.txt)", entry.source)
        # rule-catalog-v2.md added codes the 2017-2021 seeds do not name: those cite the Microsoft
        # Learn page they come from, with the date it was checked.
        assert files or re.search(r"Microsoft Learn .*checked \d{4}-\d{2}", entry.source), entry.code
        for name in files:
            assert (SEEDS / name).exists(), (entry.code, name)


def test_service_and_link_follow_the_code_family():
    for entry in kb.all_codes():
        if entry.code.isdigit():
            assert entry.service == "Site Recovery", entry.code
            assert entry.link.startswith("https://learn.microsoft.com/azure/site-recovery/"), entry.code
        else:
            assert entry.service == "Backup", entry.code
            assert entry.link.startswith("https://learn.microsoft.com/azure/backup/"), entry.code
        assert entry.meaning != entry.fix


@pytest.mark.parametrize("code,page", [
    ("151076", "site-recovery-extension-troubleshoot"), ("150066", "site-recovery-extension-troubleshoot"),
    ("151099", "site-recovery-extension-troubleshoot"), ("151095", "site-recovery-extension-troubleshoot"),
    ("95226", "vmware-azure-troubleshoot-failback-reprotect#error-code-95226"),
    ("78093", "vmware-azure-troubleshoot-failback-reprotect#error-code-78093"),
    ("8038", "vmware-azure-troubleshoot-failback-reprotect#error-code-8038"),
    ("UserErrorRpCollectionLimitReached", "backup-azure-troubleshoot-vm-backup-fails-snapshot-timeout#usererrorrpcollectionlimitreached"),
])
def test_links_point_at_the_page_for_the_code(code, page):
    assert page in kb.lookup(code).link


def test_lookup_is_case_and_whitespace_insensitive_and_takes_numbers():
    assert kb.lookup("usererrorguestagentstatusunavailable").code == "UserErrorGuestAgentStatusUnavailable"
    assert kb.lookup("  BACKUPOPERATIONFAILEDV2 ").code == "BackUpOperationFailedV2"
    assert kb.lookup(151099).code == "151099"
    assert kb.lookup("NoSuchCode") is None
    assert kb.lookup(None) is None


def test_explain_takes_a_code_or_a_pasted_message():
    assert kb.explain("78052").meaning == kb.lookup("78052").meaning
    hit = kb.explain("Backup failed with error UserErrorBcmDatasourceNotPresent. Retry later.")
    assert hit is not None and hit.code == "UserErrorBcmDatasourceNotPresent"
    assert kb.explain("something else entirely 42") is None
    assert kb.explain("") is None


def test_evidence_keeps_order_dedupes_and_keeps_unknown_codes():
    out = kb.evidence_for(["151076", "Weird-Code", "151076", "usererrorunsupporteddisksize", None, "", "x" * 500])
    assert [e["code"] for e in out] == ["151076", "Weird-Code", "UserErrorUnsupportedDiskSize", "x" * kb.MAX_CODE_CHARS]
    assert out[0]["link"] == kb.lookup("151076").link and out[0]["fix"]
    assert out[1] == {"code": "Weird-Code", "meaning": "unknown code", "fix": "", "link": ""}
    assert set(out[2]) == {"code", "meaning", "fix", "link"}


def test_known_returns_only_known_entries_once():
    assert [e.code for e in kb.known(["x", "78093", "78093", "8061"])] == ["78093", "8061"]


def _entry(**kw):
    base = dict(code="C1", service="Backup", meaning="m", fix="f", source="seeds/004_x.txt",
                link="https://learn.microsoft.com/azure/backup/x")
    base.update(kw)
    return base


@pytest.mark.parametrize("doc,message", [
    ({"codes": [_entry(), _entry(code="c1")]}, "listed twice"),
    ({"codes": [_entry(service="Storage")]}, "service"),
    ({"codes": [_entry(link="https://example.com/x")]}, "Microsoft Learn"),
    ({"codes": [_entry(fix="")]}, "fix"),
    ({"codes": [_entry(extra="1")]}, "unknown field"),
    ({"entries": []}, "codes"),
])
def test_parse_rejects_bad_documents(doc, message):
    with pytest.raises(kb.KnowledgeBaseError, match=message):
        kb.parse(doc)


def test_parse_indexes_by_lower_case_code():
    assert list(kb.parse({"codes": [_entry(code="MixedCase")]})) == ["mixedcase"]


def test_aliases_find_an_entry_by_number_or_name():
    doc = kb.parse({"codes": [_entry(code="BCMV2VMNotFound", aliases=["400094"])]})
    assert doc["400094"] is doc["bcmv2vmnotfound"]
    assert doc["400094"].identifiers == ("BCMV2VMNotFound", "400094")


@pytest.mark.parametrize("aliases", ["400094", [""], [3]])
def test_parse_rejects_bad_aliases(aliases):
    with pytest.raises(kb.KnowledgeBaseError, match="aliases"):
        kb.parse({"codes": [_entry(aliases=aliases)]})


def test_an_alias_may_not_repeat_another_entrys_code():
    with pytest.raises(kb.KnowledgeBaseError, match="listed twice"):
        kb.parse({"codes": [_entry(code="A"), _entry(code="B", aliases=["a"])]})


def test_number_and_name_pair_is_looked_up_by_either_and_shown_whole():
    # Real job errors: an int errorCode (520512) with the name in errorTitle; here a number the table lacks.
    name = "UserErrorRpCollectionLimitReached"
    assert kb.lookup((100001, name)).code == name
    assert kb.lookup(("999999", "Nope")) is None
    out = kb.evidence_for([(100001, name), (151076, ""), ("999999", "NotInTheTable")])
    assert out[0]["code"] == f"100001 {name}" and out[0]["fix"] == kb.lookup(name).fix
    assert out[1]["code"] == "151076" and out[1]["link"]
    assert out[2] == {"code": "999999 NotInTheTable", "meaning": "unknown code", "fix": "", "link": ""}


CATALOG_V2 = SHARED / "rule-catalog-v2.md"


def _v2_table_additions() -> list[str]:
    """The identifiers rule-catalog-v2.md lists under 'Error-code table additions': pieces split on
    ';', ' and ' and '/', parenthesised meanings dropped, the first word of each piece kept."""
    text = CATALOG_V2.read_text(encoding="utf-8")
    para = re.split(r"Backup\s+services\s+send", text.split("Error-code table additions", 1)[1], maxsplit=1)[0]
    para = re.sub(r"\([^)]*\)", "", para.split(":", 1)[1])
    out: list[str] = []
    for piece in re.split(r";|\band\b|/", para):
        words = piece.strip().rstrip(".").split()
        if words:
            out.append(words[0])
    return out


@pytest.mark.shared
def test_every_addition_of_the_second_edition_is_known_by_number_and_by_name():
    codes = _v2_table_additions()
    assert {"400094", "BCMV2VMNotFound", "320001", "ResourceNotFound", "380008", "AzureVmOffline", "161011",
            "UserErrorVmNotInDesirableState", "VmNotInDesirableState", "VMRestorePointInternalError"} <= set(codes)
    assert len(codes) >= 26
    assert [c for c in codes if kb.lookup(c) is None] == []


@pytest.mark.parametrize("number,name", [
    ("400094", "BCMV2VMNotFound"), ("320001", "ResourceNotFound"), ("380008", "AzureVmOffline"),
    ("VmNotInDesirableState", "UserErrorVmNotInDesirableState"),
])
def test_a_number_and_its_name_are_one_entry(number, name):
    assert kb.lookup(number) is kb.lookup(name) is not None
    assert kb.lookup((int(number) if number.isdigit() else number, "")) is kb.lookup(name)


def test_a_job_error_sent_as_number_and_title_is_explained_once():
    ev = kb.evidence_for([("400094", "BCMV2VMNotFound"), "400094", ("380008", "AzureVmOffline")])
    assert [e["code"] for e in ev] == ["400094 BCMV2VMNotFound", "380008 AzureVmOffline"]
    assert all(e["meaning"] != kb.UNKNOWN and e["link"].startswith("https://learn.microsoft.com/") for e in ev)


@pytest.mark.parametrize("what,code", [
    ("400094", "BCMV2VMNotFound"), ("BCMV2VMNotFound", "BCMV2VMNotFound"),
    ("UserErrorVmNotInDesirableState", "UserErrorVmNotInDesirableState"),
])
def test_explain_through_the_real_cli_gives_cause_fix_and_link(what, code):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "scanner.cli", "explain", what], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    entry = kb.lookup(code)
    out = " ".join(proc.stdout.split())
    assert proc.stdout.startswith(f"{code} (Backup)")
    assert " ".join(entry.meaning.split()) in out
    assert "What to do:" in out and " ".join(entry.fix.split()) in out
    assert f"Reference: {entry.link}" in proc.stdout
