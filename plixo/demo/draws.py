"""Random draws the demo modules share: weighted picks, days in the demo's year, office-hour instants."""

from __future__ import annotations

import datetime as dt
import random
from typing import TypeVar

from plixo.demo.workspace import ORG_ZONE

HISTORY_DAYS = 365
DAY = dt.timedelta(days=1)

T = TypeVar("T")


def weighted(rng: random.Random, table: tuple[tuple[T, int], ...]) -> T:
    """One value from a (value, weight) table."""
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights=weights)[0]


def day_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    """A day from `first` to `last`, both included."""
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))


def business_instant(rng: random.Random, day: dt.date) -> dt.datetime:
    """An aware UTC instant during the workspace's office hours on `day`."""
    local = dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.randint(0, 59)), tzinfo=ORG_ZONE)
    return local.astimezone(dt.UTC)
