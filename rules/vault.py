"""0xx Vault posture (see ../shared/rule-catalog.md)."""
from __future__ import annotations
