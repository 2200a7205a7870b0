"""The console's formulas as plain arithmetic on amounts already in the base currency (SPEC "Figures").

Kept apart from the queries that gather the amounts, so each can be checked against a hand-computed ledger. Days
are rounded to one decimal and percentages to one decimal only when shown; these return what the formula gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PERIOD_DAYS = 30
PERIODS = 12
STANDARD_WINDOW_DAYS = 90
CAPPED_DAYS = PERIOD_DAYS * PERIODS  # countback beyond twelve periods is reported as 360, "over 360"


@dataclass(frozen=True)
class Countback:
    days: float | None  # None: no open A/R and no sales, nothing to count
    over_cap: bool = False


def countback_dso(open_ar: int, sales_by_period: Sequence[int]) -> Countback:
    """Walk back period by period (period 1 is the latest 30 days), taking each period's sales off the open A/R
    until it is used up: whole periods count 30 days, the last one its share of 30."""
    if open_ar <= 0:
        return Countback(0.0)
    remaining, days = open_ar, 0.0
    for sales in list(sales_by_period)[:PERIODS]:
        if sales <= 0:  # a period with no sales (or net credits) covers nothing but still takes its 30 days
            days += PERIOD_DAYS
            continue
        if remaining >= sales:
            remaining -= sales
            days += PERIOD_DAYS
        else:
            return Countback(days + PERIOD_DAYS * remaining / sales)
        if remaining == 0:
            return Countback(days)
    return Countback(float(CAPPED_DAYS), over_cap=True)


def standard_dso(open_ar: int, sales_90: int) -> float | None:
    """Open A/R over the last 90 days' sales, times 90; None when there were no sales."""
    return open_ar / sales_90 * STANDARD_WINDOW_DAYS if sales_90 > 0 else None


def best_possible_dso(current_ar: int, sales_90: int) -> float | None:
    """The part not yet due over the last 90 days' sales, times 90: what DSO would be if nothing were late."""
    return current_ar / sales_90 * STANDARD_WINDOW_DAYS if sales_90 > 0 else None


def average_days_delinquent(standard: float | None, best: float | None) -> float | None:
    return None if standard is None or best is None else standard - best


def collection_effectiveness(start_ar: int, sales: int, open_ar: int, current_ar: int) -> float | None:
    """(A/R at the start + sales − A/R now) / (A/R at the start + sales − current A/R now) × 100: the share of what
    could have been collected in the window that was. None when nothing could have been."""
    collectible = start_ar + sales - current_ar
    if collectible <= 0:
        return None
    return (start_ar + sales - open_ar) / collectible * 100


def share(part: int, whole: int) -> float | None:
    return part / whole * 100 if whole > 0 else None
