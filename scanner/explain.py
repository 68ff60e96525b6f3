"""`az-bcdr-scan explain X`: a rule code, a rule slug, or an error code, in plain words."""
from __future__ import annotations

import textwrap

from rules import Rule, knowledge, load_all


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent)


def find_rule(what: str) -> Rule | None:
    registry = load_all()
    key = what.strip()
    if key.upper() in registry:
        return registry[key.upper()]
    return next((r for r in registry.values() if r.meta.slug == key.lower()), None)


def rules_predicting(code: str) -> list[Rule]:
    """Rules that predict `code`, or the same error under another identifier (number or name)."""
    entry = knowledge.lookup(code)
    keys = {i.lower() for i in entry.identifiers} if entry else {code.strip().lower()}
    return [r for _, r in sorted(load_all().items()) if any(p.lower() in keys for p in r.meta.predicts)]


def explain_rule(rule: Rule) -> str:
    meta = rule.meta
    lines = [f"{meta.code} {meta.slug} ({meta.severity}, {meta.category})", _wrap(meta.title), ""]
    if not meta.enabled_by_default:
        lines += [f"Off by default: enable it with [rules.{meta.code}] enabled = true in az-bcdr-scan.toml.", ""]
    if meta.predicts:
        lines.append("Predicts:")
        for code in meta.predicts:
            entry = knowledge.lookup(code)
            lines.append(f"  {code}" + (f": {entry.meaning}" if entry else ""))
        lines.append("")
    lines += ["What to do:", _wrap(meta.remediation), "",
              _wrap(f"Accepted risk? Add a [[suppress]] entry (rule = \"{meta.code}\", resource glob, reason, expires, "
                    "owner) to a file given with --suppressions: matching findings are reported SUPPRESSED and do not "
                    "fail the run until the entry expires.", indent=""), "",
              f"Source: {meta.source}"]
    if meta.params:
        lines.append("Parameters (set in az-bcdr-scan.toml under [rules.%s.params]):" % meta.code)
        for p in meta.params:
            bounds = ""
            if p.minimum is not None or p.maximum is not None:
                bounds = f" [{'' if p.minimum is None else p.minimum:g}..{'' if p.maximum is None else p.maximum:g}]" \
                    if isinstance(p.default, (int, float)) and not isinstance(p.default, bool) else ""
            lines.append(f"  {p.name} = {p.default!r}{bounds}: {p.description}")
    lines += ["References:"] + [f"  {ref}" for ref in meta.references]
    return "\n".join(lines)


def explain_code(entry: knowledge.ErrorCode) -> str:
    lines = [f"{entry.code} ({entry.service})"]
    if entry.aliases:  # the service may send the number in errorCode and the name in errorTitle
        lines.append(f"  also reported as: {', '.join(entry.aliases)}")
    lines += [_wrap(entry.meaning), "", "What to do:", _wrap(entry.fix), ""]
    predicting = rules_predicting(entry.code)
    if predicting:
        lines.append("Predicted by:")
        lines += [f"  {r.meta.code} {r.meta.slug}" for r in predicting]
    else:
        lines.append("Predicted by: no rule (it is explained when seen in job or health details)")
    lines += [f"Source: {entry.source}", f"Reference: {entry.link}"]
    return "\n".join(lines)


def explain_text(what: str) -> str | None:
    rule = find_rule(what)
    if rule is not None:
        return explain_rule(rule)
    entry = knowledge.explain(what)
    if entry is not None:
        return explain_code(entry)
    predicting = rules_predicting(what)
    if predicting:  # a predicted message that is not a code, e.g. "VM agent is not present"
        return "\n".join([f"{what}", "Predicted by:"] + [f"  {r.meta.code} {r.meta.slug}" for r in predicting])
    return None
