"""1xx VM state (see ../shared/rule-catalog.md)."""
from __future__ import annotations
