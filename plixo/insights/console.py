"""Everything the CFO console shows for one choice of period, owner and segment, remembered until it may have
moved.

The answer is cached under the workspace's figures generation (`freshness`), today's date and the filters: any
commit that changes a row the figures read raises the generation, so a cached answer is never stale; a new day
starts a new key, since aging and due dates move with the calendar. Working it out again after a change reads the
past from the parts `today.py` remembers, and only today's rows afresh. Without Redis every page computes afresh.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.generations import ANY, generations
from plixo.insights.figures import EVERYONE, Scope, figures
from plixo.insights.forecast import cash_forecast
from plixo.insights.today import TOPICS, TodayReading
from plixo.insights.trend import monthly_trend
from plixo.ledger.aging import local_today
from plixo.outreach.models import Segment
from plixo.outreach.segments import SegmentRules
from plixo.redis_conn import get_redis

PERIODS = {7: "Last 7 days", 30: "Last 30 days", 90: "Last 90 days", 365: "Last 365 days"}
BACKSTOP_SECONDS = 3600  # a cached answer outlives no more than this, even if a raise was lost with Redis down
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsoleFilters:
    period_days: int = 30
    owner_id: int | None = None
    segment_id: int | None = None

    def as_args(self) -> dict[str, str]:
        args = {"period": str(self.period_days) if self.period_days != 30 else "",
                "owner": str(self.owner_id or ""), "segment": str(self.segment_id or "")}
        return {key: value for key, value in args.items() if value}


def console_data(session: Session, org: Organization, filters: ConsoleFilters, now: dt.datetime | None = None
                 ) -> dict:
    """The console's figures, trend and forecast as plain JSON-ready data."""
    today = local_today(org.time_zone, now)
    try:
        numbers = dict(zip((ANY, *TOPICS), generations(org.id, TOPICS), strict=True))
        key = (f"plixo:console:{org.id}:{numbers[ANY]}:{today.isoformat()}:{filters.period_days}:"
               f"{filters.owner_id or ''}:{filters.segment_id or ''}")
        cached = get_redis().get(key)
    except RedisError:
        logger.warning("console cache unavailable; computing the figures directly")
        return _compute(reading_for(session, org, filters, today, None), filters)
    if cached is not None:
        return json.loads(cached)
    data = _compute(reading_for(session, org, filters, today, numbers), filters)
    try:
        get_redis().set(key, json.dumps(data), ex=BACKSTOP_SECONDS)
    except RedisError:
        logger.warning("console cache unavailable; the figures were not remembered")
    return data


def scope_of(session: Session, filters: ConsoleFilters) -> Scope:
    segment = session.get(Segment, filters.segment_id) if filters.segment_id else None
    if not filters.owner_id and segment is None:
        return EVERYONE
    return Scope(owner_id=filters.owner_id, segment=SegmentRules.from_json(segment.rules) if segment else None)


def todays_reading(session: Session, org: Organization, filters: ConsoleFilters, today: dt.date) -> TodayReading:
    """Today's rows for these filters, the past's parts remembered (read afresh when Redis is away)."""
    try:
        numbers = dict(zip((ANY, *TOPICS), generations(org.id, TOPICS), strict=True))
    except RedisError:
        numbers = None
    return reading_for(session, org, filters, today, numbers)


def reading_for(session: Session, org: Organization, filters: ConsoleFilters, today: dt.date,
                numbers: dict[str, int] | None) -> TodayReading:
    """Today's rows for these filters, with the past's parts remembered under the generations in `numbers` (none
    given: read afresh each time)."""
    scope_key = f"{filters.owner_id or ''}-{filters.segment_id or ''}"
    return TodayReading(session, org, today, scope_of(session, filters), scope_key, numbers)


def _compute(reading: TodayReading, filters: ConsoleFilters) -> dict:
    session, org, today = reading.session, reading.org, reading.today
    now_figures = figures(session, org, today, today, filters.period_days, reading.scope, reading)
    forecast = cash_forecast(reading)
    return {
        "today": today.isoformat(),
        "figures": now_figures.as_dict(),
        "trend": monthly_trend(reading, now_figures),
        "forecast": {
            "weeks": [{"start": week.start.isoformat(), "end": week.end.isoformat(),
                       "promised_minor": week.promised_minor, "planned_minor": week.planned_minor,
                       "habit_minor": week.habit_minor, "total_minor": week.total_minor}
                      for week in forecast["weeks"]],
            "later_minor": forecast["later_minor"], "not_converted": forecast["not_converted"],
            "method": forecast["method"],
        },
    }
