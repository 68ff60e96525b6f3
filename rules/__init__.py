"""The rule catalog. One module per category, one function per rule, metadata next to it.

`REGISTRY` maps a rule code to its Rule; `load_all()` imports every category module once.
"""
from __future__ import annotations

import importlib

from .base import REGISTRY, Rule, RuleMeta  # noqa: F401

MODULES = (
    "rules.vault",
    "rules.vm_state",
    "rules.agent",
    "rules.extensions",
    "rules.locks",
    "rules.restore_points",
    "rules.disks",
    "rules.jobs",
    "rules.coverage",
    "rules.site_recovery",
    # second edition (../shared/rule-catalog-v2.md section B)
    "rules.vault_operations",
    "rules.soft_delete",
    "rules.site_recovery_dr",
    # second edition: network path, VM model, disks and key vaults
    "rules.vm_model",
    "rules.network",
    "rules.disk_support",
)


def load_all() -> dict[str, Rule]:
    for name in MODULES:
        importlib.import_module(name)
    return REGISTRY
