"""Who outreach may touch: the one definition of the stopping conditions, and what follows when one applies.

`stopping_conditions` are SQL conditions on Invoice. The queue filters with `eligible_clause`; a send, a plan and
the Autopilot engine ask `stopping_reasons` for the invoices in hand. Both are built from the same conditions, so
what the queue shows and what may be sent can never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache

from sqlalchemy import Date, and_, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.actions import ActionError
from plixo.holds.models import Hold
from plixo.ledger.aging import local_today
from plixo.ledger.models import Invoice
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice

ACCEPTED_PLAN_STATUSES = ("accepted",)
STOPPING_HOLD_KINDS = ("hold", "suppression", "opt_out")  # a "shadow" hold only takes away Autopilot


def _active_hold(today: dt.date):
    return and_(Hold.kind.in_(STOPPING_HOLD_KINDS), Hold.released_at.is_(None),
                or_(Hold.until.is_(None), Hold.until > today))


def stopping_conditions(today: dt.date) -> dict[str, object]:
    """Each stopping condition as a SQL condition on Invoice: true when it stops outreach."""
    return {
        "paid": Invoice.balance_minor <= 0,
        "not_open": Invoice.status != "open",
        "plan_accepted": exists().where(
            PaymentPlanInvoice.invoice_id == Invoice.id, PaymentPlanInvoice.org_id == Invoice.org_id,
            PaymentPlan.id == PaymentPlanInvoice.plan_id, PaymentPlan.status.in_(ACCEPTED_PLAN_STATUSES)),
        "invoice_hold": exists().where(Hold.org_id == Invoice.org_id, Hold.invoice_id == Invoice.id,
                                       _active_hold(today)),
        "customer_hold": exists().where(Hold.org_id == Invoice.org_id, Hold.customer_id == Invoice.customer_id,
                                        Hold.invoice_id.is_(None), _active_hold(today)),
    }


STOP_LABELS = {
    "paid": "Paid in full",
    "not_open": "Not open (disputed, written off, void or closed)",
    "plan_accepted": "Covered by an accepted payment plan",
    "invoice_hold": "On hold",
    "customer_hold": "Customer suppressed, held or opted out",
}


def eligible_clause(today: dt.date):
    """True for invoices no stopping condition applies to: what the queue shows and outreach may touch."""
    return and_(*(~condition for condition in stopping_conditions(today).values()))


def stopping_reasons(session: Session, invoice_id: int, today: dt.date, allow_disputed: bool = False) -> list[str]:
    """Why outreach on this invoice must stop (empty when it may go ahead); same rules as the queue.
    `allow_disputed`: correspondence about its dispute, which a disputed invoice does not stop."""
    reasons = stopping_reasons_by_invoice(session, [invoice_id], today).get(invoice_id, ["Invoice not found"])
    return [reason for reason in reasons if not (allow_disputed and reason == STOP_LABELS["not_open"])]


@cache
def _stopping_reasons_query():
    # Built once: the sender and the inspector ask this for every e-mail and every J/K step.
    conditions = stopping_conditions(bindparam("today", type_=Date))
    return (select(Invoice.id, *(condition.label(key) for key, condition in conditions.items()))
            .where(Invoice.id.in_(bindparam("invoice_ids", expanding=True))))


def stopping_reasons_by_invoice(session: Session, invoice_ids: Iterable[int], today: dt.date) -> dict[int, list[str]]:
    """`stopping_reasons` for several invoices in one query (found invoices only)."""
    ids = list(invoice_ids)
    if not ids:
        return {}
    rows = session.execute(_stopping_reasons_query(), {"today": today, "invoice_ids": ids})
    return {row.id: [STOP_LABELS[key] for key in STOP_LABELS if row._mapping[key]] for row in rows}


def refuse_if_stopped(session: Session, org: Organization, invoice: Invoice, now: dt.datetime,
                      allow_disputed: bool = False) -> None:
    """Refuse outreach (ActionError) on an invoice a stopping condition applies to (`allow_disputed`: a dispute's
    own correspondence, which the dispute does not stop while the invoice is disputed)."""
    reasons = stopping_reasons(session, invoice.id, local_today(org.time_zone, now),
                               allow_disputed=allow_disputed and invoice.status == "disputed")
    if reasons:
        raise ActionError("No outreach on this invoice: " + "; ".join(reasons) + ".")
