"""9xx Site Recovery (see ../shared/rule-catalog.md)."""
from __future__ import annotations
