"""The queue's Why column as compact chips: a short label for each priority reason, the full reason on hover.

The stored explanation (plixo.ledger.priority, `priority_detail["why"]`) is one line of reasons, most important
first: "90+ days · $48k · promise broken yesterday". Written out, it wrapped a row onto four or five lines; as
chips ("62 d overdue", "$48k", "Broken promise") every row stays on one line and a screen shows twice as many.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from plixo.ledger.aging import days_past_due

REASON_SEPARATOR = " · "
_AGING = re.compile(r"^(not yet due|\d+-\d+ days|\d+\+ days|\d+ days past due)$")
# The start of a reason's full text -> its chip's kind and short label (aging and amounts are worked out apart).
_SHORT = (("promise broken", "promise_broken", "Broken promise"), ("promise due", "promise_due", "Promise due"),
          ("customer has an open dispute", "dispute", "Dispute"), ("contact e-mail bouncing", "bounce", "Bounced"),
          ("high risk", "risk", "High risk"))


@dataclass(frozen=True)
class Chip:
    label: str  # what the row shows
    reason: str  # the full reason: the chip's title, and what screen readers read
    kind: str  # aging, amount, promise_broken, promise_due, dispute, bounce, risk: its colour


def why_chips(detail: dict | None, due_date: dt.date, today: dt.date) -> list[Chip]:
    """The chips of a queue row, in the order of its reasons (the most important first)."""
    why = (detail or {}).get("why") or ""
    return [_chip(reason, due_date, today) for reason in why.split(REASON_SEPARATOR) if reason]


def _chip(reason: str, due_date: dt.date, today: dt.date) -> Chip:
    if _AGING.match(reason):  # the exact day count: the stored reason names only the bucket below 90 days
        return Chip(_age_label(days_past_due(due_date, today)), reason, "aging")
    for start, kind, label in _SHORT:
        if reason.startswith(start):
            return Chip(label, reason, kind)
    return Chip(reason, reason, "amount")  # the compact balance ("$48k") is short already


def _age_label(overdue: int) -> str:
    if overdue > 0:
        return f"{overdue} d overdue"
    return "Due today" if overdue == 0 else f"Due in {-overdue} d"
