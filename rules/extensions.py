"""3xx Extensions (see ../shared/rule-catalog.md)."""
from __future__ import annotations
