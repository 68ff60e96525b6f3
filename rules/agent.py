"""2xx Guest agent (see ../shared/rule-catalog.md)."""
from __future__ import annotations
