"""What each cadence did for cash over the last 30 days, computed for all cadences at once.

A cadence "touched" an invoice when a message of one of its steps listing that invoice was sent in the
window. Every metric is one GROUP BY over those touches (or over the segments' invoices), so the list
page costs a handful of queries however many cadences a workspace has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, case, distinct, func, literal, select
from sqlalchemy.orm import Session

from plixo.ledger.eligibility import eligible_clause
from plixo.ledger.models import Customer, Invoice, Payment, PaymentApplication
from plixo.outreach.models import Cadence, CadenceStep, Message, MessageInvoice, Segment
from plixo.outreach.segments import SegmentPreview, SegmentRules, segment_clause
from plixo.promises.models import Promise

WINDOW = dt.timedelta(days=30)


@dataclass
class CadenceImpact:
    collected: dict[str, int] = field(default_factory=dict)  # currency -> minor units
    exposure: SegmentPreview = field(default_factory=SegmentPreview)
    sent: int = 0
    replied: int = 0
    touched: int = 0
    promised: int = 0

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.sent if self.sent else None

    @property
    def promise_rate(self) -> float | None:
        return self.promised / self.touched if self.touched else None


def _sent_cadence_messages(org_id: int, cadence_ids: list[int], since: dt.datetime, now: dt.datetime):
    """(cadence id, message id, invoice id, sent at, replied at) for every invoice of every sent message."""
    # Rows written before the step was repeated on message_invoices carry it only on the message.
    step_id = func.coalesce(MessageInvoice.cadence_step_id, Message.cadence_step_id)
    return (select(CadenceStep.cadence_id.label("cadence_id"), Message.id.label("message_id"),
                   MessageInvoice.invoice_id.label("invoice_id"), Message.sent_at.label("sent_at"),
                   Message.replied_at.label("replied_at"))
            .select_from(MessageInvoice)
            .join(Message, and_(Message.org_id == MessageInvoice.org_id, Message.id == MessageInvoice.message_id))
            .join(CadenceStep, and_(CadenceStep.org_id == MessageInvoice.org_id, CadenceStep.id == step_id))
            .where(MessageInvoice.org_id == org_id, CadenceStep.cadence_id.in_(cadence_ids),
                   Message.status == "sent", Message.sent_at >= since, Message.sent_at <= now)
            .subquery("sent"))


def _touches(sent):
    """One row per (cadence, invoice) touched, with the first touch in the window."""
    return (select(sent.c.cadence_id, sent.c.invoice_id, func.min(sent.c.sent_at).label("first_touch"))
            .group_by(sent.c.cadence_id, sent.c.invoice_id).subquery("touches"))


def _add_replies(session: Session, sent, impacts: dict[int, CadenceImpact]) -> None:
    replied = case((sent.c.replied_at.is_not(None), sent.c.message_id))
    rows = session.execute(select(sent.c.cadence_id, func.count(distinct(sent.c.message_id)),
                                  func.count(distinct(replied))).group_by(sent.c.cadence_id))
    for cadence_id, sent_count, replied_count in rows:
        impacts[cadence_id].sent, impacts[cadence_id].replied = sent_count, replied_count


def _add_promises(session: Session, org_id: int, touches, now: dt.datetime,
                  impacts: dict[int, CadenceImpact]) -> None:
    # Only a promise made after the cadence's first touch can be credited to it.
    rows = session.execute(
        select(touches.c.cadence_id, func.count(distinct(touches.c.invoice_id)),
               func.count(distinct(Promise.invoice_id)))
        .outerjoin(Promise, and_(Promise.org_id == org_id, Promise.invoice_id == touches.c.invoice_id,
                                 Promise.created_at > touches.c.first_touch, Promise.created_at <= now))
        .group_by(touches.c.cadence_id))
    for cadence_id, touched, promised in rows:
        impacts[cadence_id].touched, impacts[cadence_id].promised = touched, promised


def _add_collected(session: Session, org_id: int, touches, since: dt.datetime, now: dt.datetime,
                   impacts: dict[int, CadenceImpact]) -> None:
    rows = session.execute(
        select(touches.c.cadence_id, Payment.currency, func.sum(PaymentApplication.amount_minor))
        .join(PaymentApplication, and_(PaymentApplication.org_id == org_id,
                                       PaymentApplication.invoice_id == touches.c.invoice_id))
        .join(Payment, and_(Payment.org_id == org_id, Payment.id == PaymentApplication.payment_id))
        # Only money received after the cadence first touched the invoice is credited to it.
        .where(Payment.status == "succeeded", Payment.received_at >= since, Payment.received_at <= now,
               Payment.received_at >= touches.c.first_touch)
        .group_by(touches.c.cadence_id, Payment.currency))
    for cadence_id, currency, total in rows:
        impacts[cadence_id].collected[currency] = int(total or 0)


def segment_exposures(session: Session, org_id: int, segments: Iterable[Segment],
                      today: dt.date) -> dict[int, SegmentPreview]:
    """What preview_segment says for each segment (count and open balance per currency), in one scan."""
    segments = list({s.id: s for s in segments}.values())
    if not segments:
        return {}
    columns = []
    for segment in segments:
        selected = segment_clause(SegmentRules.from_json(segment.rules), today)
        columns += [func.count(case((selected, Invoice.id))),
                    func.coalesce(func.sum(case((selected, Invoice.balance_minor), else_=literal(0))), 0)]
    rows = session.execute(
        select(Invoice.currency, *columns)
        .join(Customer, and_(Customer.org_id == Invoice.org_id, Customer.id == Invoice.customer_id))
        .where(Invoice.org_id == org_id, Invoice.status == "open", eligible_clause(today))
        .group_by(Invoice.currency))
    exposures = {segment.id: SegmentPreview() for segment in segments}
    for currency, *totals in rows:
        for n, segment in enumerate(segments):
            count, balance = totals[2 * n], totals[2 * n + 1]
            if count:
                exposures[segment.id].count += count
                exposures[segment.id].balances[currency] = int(balance)
    return exposures


def cadence_impacts(session: Session, org_id: int, cadences: Iterable[Cadence], now: dt.datetime,
                    today: dt.date) -> dict[int, CadenceImpact]:
    """Cash collected on touched invoices, open exposure, reply and promise rates per cadence (30 days)."""
    cadences = list(cadences)
    impacts = {cadence.id: CadenceImpact() for cadence in cadences}
    if not cadences:
        return impacts
    since = now - WINDOW
    sent = _sent_cadence_messages(org_id, list(impacts), since, now)
    touches = _touches(sent)
    _add_replies(session, sent, impacts)
    _add_promises(session, org_id, touches, now, impacts)
    _add_collected(session, org_id, touches, since, now, impacts)
    segment_ids = {cadence.segment_id for cadence in cadences if cadence.segment_id}
    segments = session.scalars(select(Segment).where(Segment.org_id == org_id, Segment.id.in_(segment_ids)))
    exposures = segment_exposures(session, org_id, segments, today)
    for cadence in cadences:
        if cadence.segment_id in exposures:
            impacts[cadence.id].exposure = exposures[cadence.segment_id]
    return impacts
