"""When an automated e-mail may go: sending windows, the per-customer touch rules and the daily cap.

The engine uses `SendPlanner` to put each new send at the first moment every guardrail allows; the sender
uses `earliest_touch` and `daily_cap` again at send time, because a deferral or a manual send since
scheduling may have moved touches closer together.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization, Policy
from plixo.outreach.guardrails import next_allowed_moment
from plixo.outreach.models import Message

WEEK = dt.timedelta(days=7)
# Messages that count as a touch: sent, being sent, of unknown outcome, or planned.
TOUCHED = ("sent", "delivering", "review")
PLANNED = ("scheduled", "sending")
MAX_ROUNDS = 60  # each round moves the moment later; a handful always suffices, this bounds a bad policy


def daily_cap(policy: Policy) -> int:
    """Sends allowed per workspace day. A workspace has one mailbox on one sending domain, so the tighter
    of the two caps applies."""
    return min(policy.daily_cap_per_mailbox, policy.daily_cap_per_domain)


def earliest_touch(touches: Sequence[dt.datetime], moment: dt.datetime,
                   policy: Policy) -> tuple[dt.datetime, str | None]:
    """The first instant at or after `moment` that keeps the minimum gap after the customer's other touches
    and stays within the weekly cap; with the rule that moved it, if one did."""
    if not touches:
        return moment, None
    reason = None
    gap_end = max(touches) + dt.timedelta(hours=policy.min_gap_hours)
    if gap_end > moment:
        moment, reason = gap_end, f"Keeps {policy.min_gap_hours} h after the last touch"
    cap = policy.max_touches_per_week
    recent = sorted(t for t in touches if t > moment - WEEK)
    if len(recent) >= cap:
        moment, reason = recent[-cap] + WEEK, f"At most {cap} touch{'' if cap == 1 else 'es'} a week"
    return moment, reason


def local_day_start(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return moment.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


class SendPlanner:
    """Places the sends of one engine tick, counting what is already sent or planned and what it places."""

    def __init__(self, session: Session, org: Organization, policy: Policy, now: dt.datetime):
        self.policy, self.now = policy, now
        self.org_zone = ZoneInfo(org.time_zone)
        self.cap = daily_cap(policy)
        self.touches: dict[int, list[dt.datetime]] = defaultdict(list)
        self.per_day: Counter[dt.date] = Counter()
        self._windows: dict[tuple[dt.datetime, str], dt.datetime | None] = {}
        self._load(session, org.id)

    def _load(self, session: Session, org_id: int) -> None:
        when = func.coalesce(Message.sent_at, Message.scheduled_for, Message.updated_at)
        since = local_day_start(self.now, self.org_zone) - WEEK
        rows = session.execute(select(Message.customer_id, when).where(
            Message.org_id == org_id, Message.status.in_(TOUCHED + PLANNED), when >= since))
        for customer_id, moment in rows:
            self._count(customer_id, moment)

    def _count(self, customer_id: int, moment: dt.datetime) -> None:
        self.touches[customer_id].append(moment)
        self.per_day[moment.astimezone(self.org_zone).date()] += 1

    def place(self, customer_id: int, zone: ZoneInfo) -> tuple[dt.datetime | None, str | None]:
        """The moment a new send to this customer may go, and why it waits (None when it may go now).
        None as the moment: the policy allows no sending day."""
        moment, reason = self.now, None
        for _ in range(MAX_ROUNDS):
            touched, why = earliest_touch(self.touches[customer_id], moment, self.policy)
            allowed = self._allowed(touched, zone)
            if allowed is None:
                return None, "The policy allows no sending day."
            if why is not None:
                reason = why
            elif allowed > touched and reason is None:
                reason = "Business hours"
            if self.per_day[allowed.astimezone(self.org_zone).date()] < self.cap:
                self._count(customer_id, allowed)
                return allowed, (f"{reason}: goes {allowed.astimezone(zone):%a %d %b %H:%M} in {zone.key}"
                                 if allowed > self.now else None)
            moment = local_day_start(allowed, self.org_zone) + dt.timedelta(days=1)
            reason = f"Daily cap of {self.cap} reached"
        return None, "No moment within the guardrails was found; review this e-mail."

    def _allowed(self, moment: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
        key = (moment, zone.key)
        if key not in self._windows:  # most customers start from `now` and share a zone: compute once
            self._windows[key] = next_allowed_moment(moment, zone, self.policy, business_hours=True)
        return self._windows[key]
