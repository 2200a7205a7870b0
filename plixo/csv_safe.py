"""Spreadsheet formula injection: the one list of first characters a spreadsheet may run as a formula.

Used both ways: the importer refuses text cells that start like a formula, and every CSV Plixo writes (the audit
export, an import's rejected rows) prefixes such cells with an apostrophe so a spreadsheet shows them as text.
"""

from __future__ import annotations

# OWASP's list: "=", "+", "-" and "@" start formulas ("-2+3", "@SUM(A1)"); a leading tab or carriage return can
# hide one from a quick look while some spreadsheets still evaluate what follows.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def starts_like_formula(text: str) -> bool:
    """Whether a spreadsheet could run the text as a formula."""
    return text.startswith(FORMULA_PREFIXES)


def csv_safe(value) -> str:
    """A cell value that a spreadsheet will show as text, never run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if starts_like_formula(text) else text
