"""The demo's Autopilot: one cadence five days into its 14 days of Shadow, with the drafts the engine made on the
way (what Shadow would have sent), so the cadence page shows days left and real messages."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.demo.workspace import ORG_ZONE, Team
from plixo.outreach.cadence_forms import default_step
from plixo.outreach.cadences import StepInput, create_cadence, tick
from plixo.outreach.models import Cadence, Message, Segment
from plixo.outreach.segments import SegmentRules

SHADOW_DAYS_AGO = 5
# The engine ran on these days of the Shadow period (days before today), at 10:00 in the office.
TICK_DAYS_AGO = (5, 4, 3, 2, 1)


def write_shadow_cadence(session: Session, org: Organization, team: Team, today: dt.date) -> Cadence:
    """"Gentle reminders" on early, low-risk overdue invoices, launched in Shadow five days ago by the A/R manager;
    the engine's drafts of those days are dated when it made them."""
    manager = team.user("ar_manager")
    segment = Segment(org_id=org.id, name="Early overdue, low risk", mode="shadow", created_by_id=manager.id,
                      rules=SegmentRules(buckets=("1-30",), risk_tiers=("low",)).to_json())
    session.add(segment)
    session.flush()
    values = {"portal_link": "on"}  # no Stripe in the demo: the steps link the portal, not a pay link
    steps = [default_step(position, values) for position in (1, 2)]
    started = _at_ten(today - dt.timedelta(days=SHADOW_DAYS_AGO))
    cadence = create_cadence(
        session, org, manager, "Gentle reminders", segment.id,
        [StepInput(int(s.offset), s.anchor, s.subject, s.body) for s in steps], "shadow", started)
    for days_ago in TICK_DAYS_AGO:
        moment = _at_ten(today - dt.timedelta(days=days_ago)) + dt.timedelta(minutes=5)
        newest = session.scalar(select(func.max(Message.id)).where(Message.org_id == org.id)) or 0
        tick(session, org, moment)
        session.execute(update(Message).where(Message.org_id == org.id, Message.id > newest)
                        .values(created_at=moment, updated_at=moment))
    return cadence


def _at_ten(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10, 0), ORG_ZONE).astimezone(dt.UTC)
