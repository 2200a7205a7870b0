"""Placing the cadence engine's sends: the send guard's facts for every customer of one tick, loaded at once.

The engine asks `SendPlanner.place` for each new send; the planner asks the one send guard (`send_guard.decide`)
and counts what it places, so the sends of one tick keep the gap, the weekly cap and the daily cap among
themselves as well as with what was already sent or planned.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization, Policy
from plixo.outreach.guardrails import next_allowed_moment
from plixo.outreach.models import Message
from plixo.outreach.send_guard import (
    PLANNED,
    TOUCHED,
    WEEK,
    CustomerFacts,
    DailyLoad,
    daily_cap,
    decide,
    open_disputes,
    touch_moment,
    waiting_replies,
)


def local_day_start(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return moment.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


class SendPlanner:
    """Places the sends of one engine tick, counting what is already sent or planned and what it places."""

    def __init__(self, session: Session, org: Organization, policy: Policy, now: dt.datetime):
        self.policy, self.now = policy, now
        self.org_zone = ZoneInfo(org.time_zone)
        self.touches: dict[int, list[dt.datetime]] = defaultdict(list)
        self.load = DailyLoad(daily_cap(policy), self.org_zone, known=Counter())
        self._load_touches(session, org.id)
        self.disputes = open_disputes(session, org.id)
        self.replies = waiting_replies(session, org.id)
        self._windows: dict[tuple[dt.datetime, str, bool], dt.datetime | None] = {}

    def _load_touches(self, session: Session, org_id: int) -> None:
        when = touch_moment()
        since = local_day_start(self.now, self.org_zone) - WEEK
        rows = session.execute(select(Message.customer_id, when).where(
            Message.org_id == org_id, Message.status.in_(TOUCHED + PLANNED), when >= since))
        for customer_id, moment in rows:
            self.touches[customer_id].append(moment)
            self.load.add(moment)

    def place(self, customer_id: int, zone: ZoneInfo) -> tuple[dt.datetime | None, str | None]:
        """The moment a new send to this customer may go, and why it waits (None when it may go now).
        None as the moment: the guard stops it (the reason says why) and a person reviews it."""
        facts = CustomerFacts(touches=self.touches[customer_id], open_disputes=self.disputes.get(customer_id, []),
                              waiting_reply=self.replies.get(customer_id))
        verdict = decide(self.policy, self.load, facts, zone, self.now, automated=True, explain=False,
                         window=self._window)
        if verdict.stopped:
            return None, verdict.reason
        self.touches[customer_id].append(verdict.moment)
        self.load.add(verdict.moment)
        return verdict.moment, verdict.reason


    def _window(self, moment: dt.datetime, zone: ZoneInfo, business_hours: bool) -> dt.datetime | None:
        key = (moment, zone.key, business_hours)
        if key not in self._windows:  # most customers start from `now` and share a zone: compute once
            self._windows[key] = next_allowed_moment(moment, zone, self.policy, business_hours=business_hours)
        return self._windows[key]
