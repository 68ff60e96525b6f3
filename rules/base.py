"""What a rule is: metadata next to a pure function over the Inventory.

A rule decides and explains with evidence; it never does I/O, never reads the clock (it uses
`inv.collected_at`), and takes its thresholds from `params`. The engine attaches the metadata
(severity, predicted errors, remediation, references) to what a rule yields.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from scanner import inventory as m
from scanner.vocabulary import (  # noqa: F401 - re-exported: rule modules import these from here
    CATEGORIES,
    FAIL,
    NOT_ASSESSED,
    PASS,
    RESOURCE_TYPES,
    SEVERITIES,
    SEVERITY_RANK,
    Result,
    fail,
    not_assessed,
    not_assessed_subscription,
    passed,
)


@dataclass(frozen=True)
class Param:
    name: str
    default: int | float | str | bool
    description: str
    minimum: float | None = None
    maximum: float | None = None

    @property
    def type(self) -> type:
        return type(self.default)


@dataclass(frozen=True)
class RuleMeta:
    code: str  # BCDR501: stable forever once released
    slug: str  # rp-collection-limit-reached
    severity: str
    title: str
    predicts: tuple[str, ...]  # error codes (or quoted messages) the rule predicts
    source: str  # seeds/ file and section, or a public Microsoft page
    remediation: str  # our own words
    references: tuple[str, ...]  # public Microsoft documentation links
    params: tuple[Param, ...] = ()
    # False for a rule kept for old stacks (BCDR603): listed and explainable, run only when the
    # configuration enables it ([rules.CODE] enabled = true) or a caller asks for it by code.
    enabled_by_default: bool = True
    # Collectors (scanner.inventory names) without which the rule cannot judge a subscription's
    # resources. The engine, not the rule, handles their gaps: a subscription where one failed gets
    # one NOT_ASSESSED and its resources are left out of the inventory the rule sees; a vault whose
    # list could not be read gets a NOT_ASSESSED and its items are left out; a PASS for a resource in
    # such a subscription or scope is turned into NOT_ASSESSED and counted as a rule error.
    needs: tuple[str, ...] = ()
    # Collectors that only tell the rule which resources to judge (which VMs are backed up). When one
    # failed or is partial, the engine says NOT_ASSESSED for the subscription (some resources may be
    # missing from the judgement) and the rule still judges the ones it knows.
    selects: tuple[str, ...] = ()

    @property
    def category(self) -> str:
        return CATEGORIES[self.code[4]]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


RuleFn = Callable[[m.Inventory, Mapping[str, Any]], Iterator[Result]]


@dataclass(frozen=True)
class Rule:
    meta: RuleMeta
    fn: RuleFn

    def __call__(self, inv: m.Inventory, params: Mapping[str, Any]) -> Iterator[Result]:
        return self.fn(inv, params)


REGISTRY: dict[str, Rule] = {}


def rule(*, code: str, slug: str, severity: str, title: str, predicts: tuple[str, ...] | list[str],
         source: str, remediation: str, references: tuple[str, ...] | list[str],
         params: tuple[Param, ...] | list[Param] = (), enabled_by_default: bool = True,
         needs: tuple[str, ...] | list[str] = (), selects: tuple[str, ...] | list[str] = ()
         ) -> Callable[[RuleFn], RuleFn]:
    """Register a rule function with its catalog metadata and the collectors it reads."""
    if severity not in SEVERITIES:
        raise ValueError(f"{code}: unknown severity {severity}")
    unknown = sorted((set(needs) | set(selects)) - set(m.ALL_COLLECTORS))
    if unknown:
        raise ValueError(f"{code}: unknown collector(s) {', '.join(unknown)} (see scanner.inventory)")
    if not needs and not selects:
        raise ValueError(f"{code}: declare the collectors the rule reads (needs=...)")
    if code in REGISTRY:
        raise ValueError(f"{code}: registered twice")
    if any(r.meta.slug == slug for r in REGISTRY.values()):
        raise ValueError(f"{slug}: slug registered twice")

    def register(fn: RuleFn) -> RuleFn:
        meta = RuleMeta(code=code, slug=slug, severity=severity, title=title, predicts=tuple(predicts),
                        source=source, remediation=" ".join(remediation.split()),
                        references=tuple(references), params=tuple(params),
                        enabled_by_default=enabled_by_default, needs=tuple(needs), selects=tuple(selects))
        REGISTRY[code] = Rule(meta=meta, fn=fn)
        return fn

    return register
