"""The JSON report is streamed (scanner.output.json_format over Report.document) and redacted as it
is written (scanner.emit.emit_reports): the text is exactly what json.dump of the redacted whole
document wrote before, and the writer never holds the document or its text whole."""
from __future__ import annotations

import dataclasses
import io
import json
import tracemalloc

import pytest
import report_scenarios as rs

from scanner.emit import OutputTarget, emit_reports
from scanner.model import Items, Report
from scanner.output.json_format import JsonWriter, write_document
from scanner.redact import scrub

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def _whole(report: Report) -> str:
    """What the JSON writer wrote before it streamed: the redacted typed report, dumped whole."""
    clean = Report.from_dict(scrub(report.to_dict()))
    return json.dumps(clean.to_dict(), indent=2, ensure_ascii=True, allow_nan=False) + "\n"


def _with_secret(report: Report) -> Report:
    first = report.findings[0]
    leaky = dataclasses.replace(first, message=f"proxy said: Authorization: Bearer {JWT}",
                                evidence={**first.evidence, "status": f"https://x.blob/c?sv=1&sig=SECRETsig {JWT}"})
    return dataclasses.replace(report, findings=(leaky, *report.findings[1:]))


@pytest.mark.parametrize("hostile", [False, True])
def test_streamed_json_is_the_redacted_document_byte_for_byte(hostile):
    report = _with_secret(rs.report(hostile=hostile))
    assert report.readiness and report.findings and report.passed_resources
    out = io.StringIO()
    JsonWriter().write(report, out, scrub)
    assert out.getvalue() == _whole(report)
    assert JWT not in out.getvalue() and "SECRETsig" not in out.getvalue()
    assert json.loads(out.getvalue()) == scrub(report.to_dict())


def test_streamed_json_of_empty_lists_and_objects():
    report = dataclasses.replace(rs.report(), findings=(), readiness=(), passed_resources={}, coverage=())
    out = io.StringIO()
    JsonWriter().write(report, out)
    assert out.getvalue() == json.dumps(report.to_dict(), indent=2, ensure_ascii=True) + "\n"
    assert '"findings": []' in out.getvalue() and '"passed": {}' in out.getvalue()


def test_document_parts_nest_at_any_depth():
    doc = {"a": {"b": Items(lambda: iter([{"c": [1, 2]}, "d"])), "e": {}}, "f": Items(lambda: iter(())), "g": [None]}
    out = io.StringIO()
    write_document(doc, out)
    plain = {"a": {"b": [{"c": [1, 2]}, "d"], "e": {}}, "f": [], "g": [None]}
    assert out.getvalue() == json.dumps(plain, indent=2)


def test_emit_reports_redacts_json_and_the_typed_formats_alike(tmp_path):
    report = _with_secret(rs.report(hostile=True))
    targets = [OutputTarget("json", str(tmp_path / "r.json")), OutputTarget("sarif", str(tmp_path / "r.sarif")),
               OutputTarget("csv", str(tmp_path / "r.csv"))]
    emit_reports(report, targets)
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == _whole(report)
    for t in targets:
        text = (tmp_path / t.path).read_text(encoding="utf-8")
        assert JWT not in text and "SECRETsig" not in text


def test_writing_holds_one_entry_not_the_document():
    """Many findings: the whole-document writer's peak grows with the report, the streamed one's
    stays a small fraction of it."""
    base = rs.report()
    many = dataclasses.replace(base, findings=tuple(
        dataclasses.replace(base.findings[0], resource_id=f"/subscriptions/x/vm-{i:05d}", fingerprint=f"{i:040d}")
        for i in range(4000)))

    def peak(write) -> int:
        tracemalloc.start()
        try:
            write()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    streamed = peak(lambda: JsonWriter().write(many, _Sink(), scrub))
    whole = peak(lambda: _Sink().write(_whole(many)))
    assert streamed < whole / 10


class _Sink(io.TextIOBase):
    """A stream that keeps nothing (a file's bytes are not the writer's memory)."""

    def write(self, text: str) -> int:
        return len(text)
