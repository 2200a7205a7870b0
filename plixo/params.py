"""Parsing values that arrive in URLs and forms, refusing anything odd instead of raising deep inside."""

from __future__ import annotations

import datetime as dt

MAX_ID = 2**63 - 1


def parse_id(raw: str | None) -> int | None:
    """A positive database id from text, or None ("²", "-1", "1e3" and overflowing numbers are not ids)."""
    raw = (raw or "").strip()
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def parse_date(raw: str | None) -> dt.date | None:
    """An ISO date (2026-01-31) between year 1900 and 2999, or None."""
    try:
        value = dt.date.fromisoformat((raw or "").strip())
    except ValueError:
        return None
    return value if 1900 <= value.year <= 2999 else None
