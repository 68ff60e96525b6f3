"""8xx Protection coverage (see ../shared/rule-catalog.md)."""
from __future__ import annotations
