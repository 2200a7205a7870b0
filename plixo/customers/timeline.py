"""One customer's history in one list: e-mails, replies, payments, notes and approvals, newest first.

One UNION ALL query over the customer's rows of each table (as the inspector's timeline does for one invoice),
ordered and paged in the database, so a customer with years of history costs what a new one does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from sqlalchemy import BigInteger, Integer, String, and_, bindparam, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from plixo.accounts.models import User
from plixo.approvals.models import Approval
from plixo.ledger.models import Invoice, Payment
from plixo.model import UTCDateTime
from plixo.money import format_money
from plixo.notes.models import Note
from plixo.outreach.merge_fields import fill
from plixo.outreach.models import Message
from plixo.promises.models import PaymentPlan
from plixo.replies.models import Reply

PAGE = 40
MOST_SINCE = 500  # a link to an old note shows everything after it, up to this many items
REPLY_LABELS = {"dispute": "dispute", "promise": "promise to pay", "already_paid": "says already paid",
                "invoice_copy": "asks for a copy", "out_of_office": "out of office", "unsubscribe": "unsubscribe",
                "other": "to read"}
ORG, CUSTOMER = bindparam("org_id"), bindparam("customer_id")


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    kind: str  # message, reply, payment, note, approval
    ref_id: int  # the row's id: notes and approvals are anchored by it (#note-12)
    title: str
    detail: str = ""
    invoice: str = ""  # the invoice number it concerns, if one


@dataclass
class TimelinePage:
    events: list[Event]
    next_offset: int | None


def customer_approvals_clause():
    """Approvals about the customer: its own, its invoices' and its payment plans'."""
    invoices = select(Invoice.id).where(Invoice.org_id == ORG, Invoice.customer_id == CUSTOMER)
    plans = select(PaymentPlan.id).where(PaymentPlan.org_id == ORG, PaymentPlan.customer_id == CUSTOMER)
    return and_(Approval.org_id == ORG, or_(
        and_(Approval.subject_type == "Invoice", Approval.subject_id.in_(invoices.scalar_subquery())),
        and_(Approval.subject_type == "PaymentPlan", Approval.subject_id.in_(plans.scalar_subquery())),
        and_(Approval.subject_type == "Customer", Approval.subject_id == CUSTOMER)))


def invoice_of(column):
    """The number of the invoice `column` names (empty when none)."""
    return select(Invoice.number).where(Invoice.org_id == ORG, Invoice.id == column).scalar_subquery()


@cache
def _union():
    no_amount, no_text = literal(None, BigInteger), literal("", String)
    author, decider, suggester = aliased(User), aliased(User), aliased(User)
    parts = [
        select(func_at(Message.sent_at, Message.scheduled_for, Message.created_at).label("at"),
               literal("message").label("kind"), Message.id.label("ref_id"), Message.status.label("a"),
               # Where it went, or for a suggested draft who suggested it.
               Message.subject.label("b"), func_text(func.coalesce(Message.to_email, suggester.name)).label("c"),
               func_text(invoice_of(Message.invoice_id)).label("invoice"), no_amount.label("amount"),
               no_text.label("currency"))
        .outerjoin(suggester, suggester.id == Message.suggested_by_id)
        .where(Message.org_id == ORG, Message.customer_id == CUSTOMER),
        select(Reply.received_at, literal("reply"), Reply.id, Reply.label, Reply.from_email, Reply.body,
               func_text(invoice_of(Reply.invoice_id)), no_amount, no_text)
        .where(Reply.org_id == ORG, Reply.customer_id == CUSTOMER),
        select(Payment.received_at, literal("payment"), Payment.id, Payment.status, Payment.provider, no_text,
               no_text, Payment.amount_minor, Payment.currency)
        .where(Payment.org_id == ORG, Payment.customer_id == CUSTOMER),
        select(Note.created_at, literal("note"), Note.id, func_text(author.name), Note.body, no_text,
               func_text(invoice_of(Note.invoice_id)), no_amount, no_text)
        .outerjoin(author, author.id == Note.author_id)
        .where(Note.org_id == ORG, Note.customer_id == CUSTOMER),
        select(Approval.created_at, literal("approval"), Approval.id, Approval.kind, Approval.reason,
               literal("requested"), no_text, Approval.amount_minor, func_text(Approval.currency))
        .where(customer_approvals_clause()),
        select(Approval.decided_at, literal("approval"), Approval.id, Approval.kind, func_text(decider.name),
               Approval.status, no_text, Approval.amount_minor, func_text(Approval.currency))
        .outerjoin(decider, decider.id == Approval.decided_by_id)
        .where(customer_approvals_clause(), Approval.decided_at.is_not(None)),
    ]
    return union_all(*parts).subquery("timeline")


def func_at(*columns):
    """The first of the instants that is set (typed, so SQLite hands back aware datetimes)."""
    return func.coalesce(*columns, type_=UTCDateTime())


def func_text(column):
    return func.coalesce(column, "")


@cache
def _page_query():
    timeline = _union()
    return (select(timeline).order_by(timeline.c.at.desc(), timeline.c.kind, timeline.c.ref_id.desc())
            .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer)))


@cache
def _since_query():
    timeline = _union()
    return (select(timeline).where(timeline.c.at >= bindparam("since", type_=UTCDateTime()))
            .order_by(timeline.c.at.desc(), timeline.c.kind, timeline.c.ref_id.desc()).limit(MOST_SINCE))


def customer_timeline(session: Session, org_id: int, customer_id: int, offset: int = 0, limit: int = PAGE,
                      since: dt.datetime | None = None) -> TimelinePage:
    """A page of the customer's history, newest first; with `since`, at least everything from then on (so a link to
    an older note still finds it on the page)."""
    keys = {"org_id": org_id, "customer_id": customer_id}
    rows = []
    if since is not None and offset == 0:
        rows = list(session.execute(_since_query(), keys | {"since": since}))
    if len(rows) < limit:
        rows = list(session.execute(_page_query(), keys | {"limit": limit + 1, "offset": offset}))
        more = len(rows) > limit
        rows = rows[:limit]
    else:
        more = True
    return TimelinePage([_event(row) for row in rows], offset + len(rows) if more else None)


def _event(row) -> Event:
    if row.kind == "message":
        # A draft keeps its merge fields until it is sent: name the invoice, as the e-mail will.
        subject = fill(row.b, {"invoice_number": row.invoice}).text if row.invoice else row.b
        title = f"E-mail {row.a}: {subject}" if subject else f"E-mail {row.a}"
        if row.a == "draft":
            detail = f"Suggested by {row.c}; waits for a collector's review" if row.c else "Not sent yet"
        else:
            detail = f"to {row.c}" if row.c else ""
        return Event(row.at, "message", row.ref_id, title, detail, row.invoice)
    if row.kind == "reply":
        return Event(row.at, "reply", row.ref_id, f"Reply from {row.b} · {REPLY_LABELS.get(row.a, row.a)}",
                     row.c, row.invoice)
    if row.kind == "payment":
        state = "" if row.a == "succeeded" else f" ({row.a})"
        return Event(row.at, "payment", row.ref_id, f"Payment of {format_money(row.amount, row.currency)}{state}",
                     f"via {row.b}")
    if row.kind == "note":
        return Event(row.at, "note", row.ref_id, f"Note by {row.a or 'a former teammate'}", row.b, row.invoice)
    what = row.a.replace("_", " ")
    amount = f" of {format_money(row.amount, row.currency)}" if row.amount is not None and row.currency else ""
    if row.c == "requested":
        return Event(row.at, "approval", row.ref_id, f"Approval requested: {what}{amount}", row.b)
    return Event(row.at, "approval", row.ref_id, f"Approval {row.c}: {what}{amount}",
                 f"by {row.b}" if row.b else "")
