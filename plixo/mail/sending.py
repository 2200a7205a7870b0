"""Sending-domain health: what each domain sent and how much of it bounced, and how fast a new domain may ramp up.

Mailbox providers judge a domain by its recent history. A domain new to sending starts with a low daily cap that
doubles each day it sends while bounces stay low (warmup); its hard-bounce rate over 30 days gates Autopilot and,
when it climbs, moves contacts to fix up the queue, since every further bounce costs the whole domain.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.mail.models import SendingDomain
from plixo.outreach.models import Message

WINDOW = dt.timedelta(days=30)
WARMUP_START = 20
WARMUP_PAUSE_RATE = 0.02  # at or above it the ramp holds still: the domain is not ready for more
STRAINED_RATE = 0.02  # at or above it, contacts to fix come first in the queue
MIN_SENDS_FOR_RATE = 100  # below this, one bounce says more about the contact than about the domain


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().lower()


@dataclass(frozen=True)
class BounceStats:
    sent: int
    bounced: int

    @property
    def rate(self) -> float:
        return self.bounced / self.sent if self.sent else 0.0

    @property
    def meaningful(self) -> bool:
        return self.sent >= MIN_SENDS_FOR_RATE


def _left_at():
    """When a message left (or was refused at hand-over): the moment its bounce counts against."""
    return func.coalesce(Message.sent_at, Message.bounced_at)


def _left_since(since: dt.datetime):
    # Spelled out rather than `_left_at() >= since`, so the (workspace, domain, sent_at) index serves the range.
    return or_(Message.sent_at >= since, and_(Message.sent_at.is_(None), Message.bounced_at >= since))


def bounce_stats(session: Session, org_id: int, domain: str, now: dt.datetime) -> BounceStats:
    """E-mails from `domain` in the last 30 days and how many hard-bounced."""
    row = session.execute(select(func.count(), func.count(Message.bounced_at)).where(
        Message.org_id == org_id, Message.sender_domain == domain, _left_since(now - WINDOW))).one()
    return BounceStats(row[0] or 0, row[1] or 0)


def strained_domains(session: Session, org_id: int, now: dt.datetime) -> dict[str, float]:
    """Domains whose 30-day bounce rate is high enough to act on, with the rate."""
    rows = session.execute(select(Message.sender_domain, func.count(), func.count(Message.bounced_at)).where(
        Message.org_id == org_id, Message.sender_domain.is_not(None), _left_since(now - WINDOW))
        .group_by(Message.sender_domain))
    return {domain: bounced / sent for domain, sent, bounced in rows
            if sent >= MIN_SENDS_FOR_RATE and bounced / sent >= STRAINED_RATE}


def daily_history(session: Session, org_id: int, domain: str, now: dt.datetime, zone: str,
                  days: int = 30) -> list[tuple[dt.date, int, int]]:
    """(local day, sent, bounced) for each of the last `days` days, oldest first, for the charts."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    first = today - dt.timedelta(days=days - 1)
    counts: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    since = dt.datetime.combine(first, dt.time(), tzinfo=tz)
    for left_at, bounced_at in session.execute(select(_left_at(), Message.bounced_at).where(
            Message.org_id == org_id, Message.sender_domain == domain, _left_since(since))):
        day = counts[_as_utc(left_at).astimezone(tz).date()]
        day[0] += 1
        day[1] += bounced_at is not None
    return [(first + dt.timedelta(days=n), *counts.get(first + dt.timedelta(days=n), (0, 0))) for n in range(days)]


def _as_utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC


# --- Warmup --------------------------------------------------------------------------------------------------

def advance_warmup(session: Session, sending: SendingDomain, today: dt.date, now: dt.datetime,
                   policy_cap: int) -> None:
    """Set today's cap, once per sending day: the first day keeps the starting cap; each later one doubles it if the
    domain really sent at least half of it since, and the bounce rate stays under the pause rate; it holds (paused)
    while the bounce rate does not. A domain that barely sends never climbs to volumes it has not shown."""
    if sending.warmup_day == today or warm(sending, policy_cap):
        return
    if sending.warmup_day is not None:
        stats = bounce_stats(session, sending.org_id, sending.domain, now)
        sending.warmup_paused = stats.sent > 0 and stats.rate >= WARMUP_PAUSE_RATE
        if not sending.warmup_paused and _sent_since(session, sending, now) * 2 >= sending.warmup_cap:
            sending.warmup_cap = min(sending.warmup_cap * 2, policy_cap)
    sending.warmup_day = today


def _sent_since(session: Session, sending: SendingDomain, now: dt.datetime) -> int:
    """E-mails the domain sent since its cap was last set (from the earliest zone's start of that day)."""
    since = dt.datetime.combine(sending.warmup_day, dt.time(), tzinfo=dt.UTC) - dt.timedelta(hours=14)
    return session.scalar(select(func.count()).select_from(Message).where(
        Message.org_id == sending.org_id, Message.sender_domain == sending.domain, Message.sent_at >= since,
        Message.sent_at <= now)) or 0


def warm(sending: SendingDomain, policy_cap: int) -> bool:
    """Warmup is over once the ramp reaches the policy's cap: from then on only the policy limits sends."""
    return sending.warmup_cap >= policy_cap


def todays_cap(sending: SendingDomain | None, policy_cap: int) -> int:
    return policy_cap if sending is None else min(sending.warmup_cap, policy_cap)


def ramp(sending: SendingDomain, policy_cap: int, steps: int = 8) -> list[int]:
    """Today's cap and the caps of the next sending days if bounces stay low, up to the policy's cap."""
    caps = [todays_cap(sending, policy_cap)]
    while caps[-1] < policy_cap and len(caps) < steps:
        caps.append(min(caps[-1] * 2, policy_cap))
    return caps


def end_warmup(session: Session, org: Organization, user: User, sending: SendingDomain, policy_cap: int) -> None:
    """For a domain that already sends at volume: the ramp would only hold back its reminders."""
    before = sending.warmup_cap
    sending.warmup_cap, sending.warmup_paused = max(sending.warmup_cap, policy_cap), False
    audit.record(session, org_id=org.id, actor=user, action="deliverability.warmup_skipped", subject=sending,
                 before={"warmup_cap": before}, after={"warmup_cap": sending.warmup_cap})
