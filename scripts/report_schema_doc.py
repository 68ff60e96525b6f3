"""Render docs/report-schema.md from scanner/output/report.schema.json (the published JSON Schema of
the report), for people building dashboards on the JSON output.

    python scripts/report_schema_doc.py            # rewrite docs/report-schema.md
    python scripts/report_schema_doc.py --check    # exit 1 when the page is out of date

tests/test_report_schema_doc.py runs the check, so the page cannot drift from the schema.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "scanner" / "output" / "report.schema.json"
PAGE = ROOT / "docs" / "report-schema.md"

INTRO = """# Report JSON schema (for dashboard builders)

Generated from [`scanner/output/report.schema.json`](../scanner/output/report.schema.json) by
`scripts/report_schema_doc.py` (a test fails when this page and the schema disagree). The schema is
JSON Schema draft 2020-12; validate a report with any validator, or `scanner.report.validate_report`.

`az-bcdr-scan --format json` writes one document per run. Versioning: `schema_version` is pinned
with `const`; a minor bump only adds keys, a major bump changes or removes one. Ids are as Azure
returned them (display casing) unless a field says "lower-cased"; compare them case-insensitively.
Every string that came from Azure (names, messages, evidence) is untrusted: escape it where you
display it.

"""


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(node: dict[str, Any]) -> str:
    if "$ref" in node:
        name = _ref_name(node["$ref"])
        return f"[{name}](#{name})"
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    t = node.get("type")
    if t == "array":
        return f"array of {_type(node.get('items', {}))}"
    if t == "object" and "additionalProperties" in node and isinstance(node["additionalProperties"], dict):
        keys = node.get("propertyNames", {}).get("pattern")
        key = f"key `{keys}`" if keys else "string key"
        return f"object ({key} -> {_type(node['additionalProperties'])})"
    if isinstance(t, list):
        return " or ".join(t)
    return t or "any"


def _notes(node: dict[str, Any]) -> str:
    parts = []
    if node.get("description"):
        parts.append(" ".join(node["description"].split()))
    for key in ("pattern", "format", "minimum", "minLength"):
        if key in node:
            parts.append(f"{key}: `{node[key]}`")
    items = node.get("items", {})
    if isinstance(items, dict) and items.get("pattern"):
        parts.append(f"items pattern: `{items['pattern']}`")
    return " ".join(parts).replace("|", "\\|")


def _object_table(title: str, node: dict[str, Any], out: list[str]) -> None:
    out.append(f"## {title}\n")
    if node.get("description"):
        out.append(" ".join(node["description"].split()) + "\n")
    props = node.get("properties", {})
    if not props:
        out.append(f"Type: {_type(node)}. {_notes(node)}\n" if node.get("type") != "object" else "")
        return
    required = set(node.get("required", ()))
    out.append("| Field | Type | Required | Notes |\n|---|---|---|---|")
    nested: list[tuple[str, dict[str, Any]]] = []
    for name, child in props.items():
        out.append(f"| `{name}` | {_type(child)} | {'yes' if name in required else 'no'} | {_notes(child)} |")
        inner = child.get("items", child) if child.get("type") == "array" else child
        if isinstance(inner, dict) and inner.get("properties"):
            nested.append((f"{title}.{name}", inner))
    out.append("")
    for sub_title, sub in nested:
        _object_table(sub_title, sub, out)


def render(schema: dict[str, Any]) -> str:
    out = [INTRO]
    _object_table("(root)", schema, out)
    for name, node in schema.get("$defs", {}).items():
        _object_table(name, node, out)
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render(json.loads(SCHEMA.read_text(encoding="utf-8")))
    if "--check" in argv:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run python scripts/report_schema_doc.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
