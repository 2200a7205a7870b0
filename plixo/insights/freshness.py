"""Which writes move the console's figures: every flush that touches a row they read marks its workspace changed
(plixo.generations), so the console's caches (console.py, today.py) are dropped at the next commit.

Every such change raises ANY. A change that reaches into the past (a row dated before today, an invoice's dates
or amount, an e-mail sent on an earlier day) also raises the topic of the past figures it moves, which today.py
keeps across the day's payments; a deleted row raises RESET. "Today" is taken ten minutes ahead, so a change
flushed just before midnight and committed just after counts as the past.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.disputes.models import Dispute, DisputeInvoice
from plixo.generations import ANY, RESET, mark_changed
from plixo.insights.models import DailySnapshot, ExchangeRate
from plixo.ledger.models import BalanceChange, Customer, Invoice
from plixo.outreach.models import Message, Segment
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice, PlanInstallment, Promise

OPEN_PAST, SALES_PAST, CASH_PAST, PAID_PAST = "open-past", "sales-past", "cash-past", "paid-past"
CUSTOMERS, SEGMENTS = "customers", "segments"
PAST_TOPICS = (OPEN_PAST, SALES_PAST, CASH_PAST, PAID_PAST, CUSTOMERS, SEGMENTS)
WATCHED = (Invoice, BalanceChange, Customer, Promise, PaymentPlan, PaymentPlanInvoice, PlanInstallment, Dispute,
           DisputeInvoice, Message, ExchangeRate, DailySnapshot, Segment)
MIDNIGHT_MARGIN = dt.timedelta(minutes=10)
_DATES = ("issue_date", "due_date", "currency", "customer_id")


@event.listens_for(Session, "after_flush")
def _notice_changes(session: Session, _flush_context) -> None:
    todays: dict[int, tuple[dt.date, ZoneInfo]] = {}
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, WATCHED) and obj.org_id is not None:
            if obj in session.deleted:
                mark_changed(session, obj.org_id, (RESET,))
                continue
            if obj.org_id not in todays:
                todays[obj.org_id] = _today(session, obj.org_id)
            mark_changed(session, obj.org_id, _topics(obj, obj in session.new, todays[obj.org_id]))
        elif isinstance(obj, Organization) and obj.id is not None:
            mark_changed(session, obj.id, (RESET,))  # a base currency or time zone moves every figure


def _today(session: Session, org_id: int) -> tuple[dt.date, ZoneInfo]:
    org = session.get(Organization, org_id)
    zone = ZoneInfo(org.time_zone if org is not None else "UTC")
    return (dt.datetime.now(dt.UTC) + MIDNIGHT_MARGIN).astimezone(zone).date(), zone


def _topics(obj, new: bool, local: tuple[dt.date, ZoneInfo]) -> tuple[str, ...]:
    today, zone = local
    if isinstance(obj, Invoice):
        return _invoice_topics(obj, new, today, zone)
    if isinstance(obj, BalanceChange):
        return _if_past(_values(inspect(obj), "day"), today, OPEN_PAST, CASH_PAST)
    if isinstance(obj, Message):
        return _if_past(_local_days(obj, "sent_at", zone), today, CASH_PAST)
    if isinstance(obj, Customer):
        return (CUSTOMERS,)
    if isinstance(obj, Segment):
        return (SEGMENTS,)
    if isinstance(obj, ExchangeRate):
        return (RESET,)
    return (ANY,)  # promises, plans, disputes and snapshots are read afresh on every change


def _invoice_topics(invoice: Invoice, new: bool, today: dt.date, zone: ZoneInfo) -> tuple[str, ...]:
    state = inspect(invoice)
    changed = {name for name in ("amount_minor", "status", "closed_at", *_DATES)
               if new or state.attrs[name].history.has_changes()}
    topics = set()
    issued, statuses = _values(state, "issue_date"), _values(state, "status")
    if changed & {"amount_minor", "issue_date", "currency", "customer_id"} or statuses is None or "void" in statuses:
        topics.update(_if_past(issued, today, SALES_PAST))
    if not new and changed & set(_DATES):
        topics.add(OPEN_PAST)  # where its past balances age and whose they were (a new one's are its changes)
    if changed & {"amount_minor", "status", "closed_at", "due_date", "currency", "customer_id"}:
        topics.update(_if_past(_local_days(invoice, "closed_at", zone), today, PAID_PAST))
    return tuple(topics) or (ANY,)


def _values(state, name: str) -> list | None:
    """An attribute's values now and before this flush; None when it is not loaded, so nobody knows (a row just
    inserted has nothing before, and what was not given is empty)."""
    if name in state.unloaded:
        return [] if state.session is not None and state.obj() in state.session.new else None
    history = state.attrs[name].history
    return [value for value in (*history.added, *history.unchanged, *history.deleted) if value is not None]


def _local_days(obj, name: str, zone: ZoneInfo) -> list[dt.date] | None:
    """The workspace-local days of a time attribute's values (stored times without a zone are UTC)."""
    values = _values(inspect(obj), name)
    if values is None:
        return None
    return [(value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(zone).date() for value in values]


def _if_past(days: list[dt.date] | None, today: dt.date, *topics: str) -> tuple[str, ...]:
    """`topics` when one of the days is before today, or when the days are not known."""
    return topics if days is None or any(day < today for day in days) else ()
