"""Which writes move the console's figures: every flush that touches a row they read marks its workspace
changed (plixo.generations), so the console's cache (console.py) is dropped at the next commit."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.disputes.models import Dispute, DisputeInvoice
from plixo.generations import mark_changed
from plixo.insights.models import DailySnapshot, ExchangeRate
from plixo.ledger.models import BalanceChange, Customer, Invoice
from plixo.outreach.models import Message, Segment
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice, PlanInstallment, Promise

WATCHED = (Invoice, BalanceChange, Customer, Promise, PaymentPlan, PaymentPlanInvoice, PlanInstallment, Dispute,
           DisputeInvoice, Message, ExchangeRate, DailySnapshot, Segment)


@event.listens_for(Session, "after_flush")
def _notice_changes(session: Session, _flush_context) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, WATCHED) and obj.org_id is not None:
            mark_changed(session, obj.org_id)
        elif isinstance(obj, Organization) and obj.id is not None:
            mark_changed(session, obj.id)  # a base currency or time zone moves every figure
