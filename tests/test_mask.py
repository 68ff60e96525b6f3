"""--mask-subscription-ids: no real subscription id in any format, stable keyed pseudonyms."""
from __future__ import annotations

import io
import json

import factories as f
import pytest
import report_scenarios as rs

from scanner.mask import mask_subscription_ids, pseudonym
from scanner.output import FORMATS, write_report
from scanner.report import validate_report


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_subscription_id_survives_in_any_format(fmt):
    masked = mask_subscription_ids(rs.report(hostile=True), key="k1")
    validate_report(masked)
    out = io.StringIO()
    write_report(masked, fmt, out)
    text = out.getvalue().lower()
    for sub in (f.SUB, f.SUB2):
        assert sub.lower() not in text
    if fmt in ("json", "sarif", "csv"):  # the formats that print full resource ids
        assert pseudonym(f.SUB, "k1") in text


def test_pseudonyms_are_stable_keyed_and_keep_fingerprints():
    report = rs.report()
    a, b = mask_subscription_ids(report, key="k1"), mask_subscription_ids(report, key="k1")
    assert a == b
    assert pseudonym(f.SUB, "k1") != pseudonym(f.SUB, "k2") != f.SUB
    assert pseudonym(f.SUB.upper(), "k1") == pseudonym(f.SUB, "k1")
    assert [x.fingerprint for x in a.findings] == [x.fingerprint for x in report.findings]
    assert {x.subscription_id for x in a.findings} <= {pseudonym(f.SUB, "k1"), pseudonym(f.SUB2, "k1")}


def test_cli_masks(run_cli, tmp_path):
    result = run_cli("--demo", "--mask-subscription-ids", "--fail-on", "none", "-o", "r.json", "-o", "r.sarif")
    assert result.code in (0, 3), result.err
    demo_sub = "00000000-0000-4000-8000-00000000d3e0"
    for name in ("r.json", "r.sarif"):
        assert demo_sub not in (tmp_path / name).read_text(encoding="utf-8").lower()


def test_evaluate_masks_like_a_scan(run_cli, tmp_path, monkeypatch):
    """evaluate FILE --mask-subscription-ids: the report of a saved inventory shared outside the team
    names no subscription, in any output; fingerprints stay, so a masked baseline still matches."""
    monkeypatch.setenv("AZ_BCDR_MASK_KEY", "team-key")
    (tmp_path / "inv.json").write_text(rs.scenario(hostile=True).to_json(), encoding="utf-8")
    outs = [f"{fmt}=r.{fmt}" for fmt in FORMATS]
    masked = run_cli("evaluate", "inv.json", "--mask-subscription-ids", "--fail-on", "none", *sum((["-o", o] for o in outs), []))
    plain = run_cli("evaluate", "inv.json", "--fail-on", "none", "-o", "plain.json")
    assert masked.code == plain.code, masked.err
    for fmt in FORMATS:
        text = (tmp_path / f"r.{fmt}").read_text(encoding="utf-8").lower()
        assert f.SUB not in text and f.SUB2 not in text, fmt
    doc, clear = (json.loads((tmp_path / n).read_text(encoding="utf-8")) for n in ("r.json", "plain.json"))
    validate_report(doc)
    assert doc["scan"]["subscriptions"] == [pseudonym(f.SUB, "team-key"), pseudonym(f.SUB2, "team-key")]
    assert [x["fingerprint"] for x in doc["findings"]] == [x["fingerprint"] for x in clear["findings"]]
    again = run_cli("evaluate", "inv.json", "--mask-subscription-ids", "--baseline", "r.json", "--fail-on", "none",
                    "-o", "again.json")
    assert again.code == masked.code, again.err
    assert {x["baseline"] for x in json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))["findings"]} == {"unchanged"}
