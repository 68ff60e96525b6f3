"""The rule catalog. One module per category, one function per rule, metadata next to it.

`REGISTRY` maps a rule code to its Rule; `load_all()` imports every module of this package once, so
a rule registers itself by being defined here: adding one touches its module and its tests only.
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import REGISTRY, Param, Rule, RuleMeta  # noqa: F401


def load_all() -> dict[str, Rule]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY



def collectors_needed(codes: set[str] | list[str] | tuple[str, ...]) -> set[str]:
    """The collectors the given rules declare (needs and selects): what a collection plan has to read
    for a scan that runs only these rules."""
    registry = load_all()
    return {c for code in codes if code in registry for c in (*registry[code].meta.needs, *registry[code].meta.selects)}
