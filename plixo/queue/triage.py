"""Reply triage (/work/replies): the replies Plixo did not fully act on, oldest first, each with what it suggests
and why, and the one-key answers: accept the suggestion, change the class, or mark it handled.

A waiting reply pauses its customer's chase (plixo.outreach.send_guard.waiting_replies); every answer here settles
it through `plixo.replies.acting`, the same actions intake takes on its own when it is sure. A changed class is kept
on the reply as the workspace's labelled example.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.actions import ActionError
from plixo.ledger.assignment import work_refusal
from plixo.ledger.models import Customer, Invoice
from plixo.money import format_money
from plixo.outreach import sends
from plixo.params import optional_id, parse_amount_input, parse_date
from plixo.promises.service import log_promise
from plixo.queue.inspector import inspect
from plixo.replies.acting import (
    SUGGESTIONS,
    Acted,
    hold_for_remittance,
    mark_handled,
    open_reply_dispute,
    opt_out_sender,
    pause_for_absence,
)
from plixo.replies.classifier import LABELS
from plixo.replies.models import Reply

READING_LABELS = {"dispute": "Dispute", "promise": "Promise to pay", "already_paid": "Says already paid",
                  "invoice_copy": "Asks for a copy", "out_of_office": "Out of office", "unsubscribe": "Asks to stop",
                  "other": "Other"}
RECENTLY_HANDLED = dt.timedelta(days=7)
SHOWN = 200  # a backlog longer than this is worked from the top; the count says how many wait in all
EXCERPT = 1200  # characters of the payer's words shown; the whole reply is on the invoice's timeline


@dataclass(frozen=True)
class TriageItem:
    reply: Reply
    customer: Customer | None
    invoice: Invoice | None
    open_invoices: list[Invoice]  # the customer's, to choose from when the reply names none
    suggestion: str | None  # what accepting does, None when there is nothing to accept

    @property
    def excerpt(self) -> str:
        body = self.reply.body.strip()
        return body if len(body) <= EXCERPT else body[:EXCERPT].rstrip() + " …"


@dataclass(frozen=True)
class Triage:
    waiting: list[TriageItem]
    waiting_total: int
    handled: list[TriageItem]


def waiting_count(session: Session, org_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Reply).where(
        Reply.org_id == org_id, Reply.handled_at.is_(None))) or 0


def triage(session: Session, org: Organization, now: dt.datetime) -> Triage:
    """Waiting replies oldest first (the longest-paused customer first), then those handled this past week."""
    waiting = list(session.scalars(select(Reply).where(Reply.org_id == org.id, Reply.handled_at.is_(None))
                                   .order_by(Reply.received_at, Reply.id).limit(SHOWN)))
    handled = list(session.scalars(select(Reply).where(Reply.org_id == org.id,
                                                       Reply.handled_at >= now - RECENTLY_HANDLED)
                                   .order_by(Reply.handled_at.desc(), Reply.id.desc()).limit(50)))
    items = _items(session, org, waiting + handled)
    return Triage(items[:len(waiting)], waiting_count(session, org.id), items[len(waiting):])


def _items(session: Session, org: Organization, replies: list[Reply]) -> list[TriageItem]:
    customer_ids = {r.customer_id for r in replies if r.customer_id}
    invoice_ids = {r.invoice_id for r in replies if r.invoice_id}
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.org_id == org.id,
                                                                          Customer.id.in_(customer_ids)))}
    invoices = {i.id: i for i in session.scalars(select(Invoice).where(Invoice.org_id == org.id,
                                                                        Invoice.id.in_(invoice_ids)))}
    open_by_customer: dict[int, list[Invoice]] = {}
    for invoice in session.scalars(select(Invoice).where(Invoice.org_id == org.id, Invoice.status == "open",
                                                         Invoice.customer_id.in_(customer_ids))
                                   .order_by(Invoice.due_date, Invoice.number)):
        open_by_customer.setdefault(invoice.customer_id, []).append(invoice)
    return [TriageItem(reply, customers.get(reply.customer_id), invoices.get(reply.invoice_id),
                       open_by_customer.get(reply.customer_id, []), SUGGESTIONS.get(reply.reading))
            for reply in replies]


@dataclass(frozen=True)
class AcceptInput:
    """What a person may adjust before accepting: the invoice (when the reply names none), the dispute's reason,
    the promise's amount and date."""

    invoice_id: str = ""
    reason: str = "other"
    amount: str = ""
    promised_date: str = ""


def accept(session: Session, org: Organization, reply: Reply, user: User, works_anywhere: bool,
           typed: AcceptInput, now: dt.datetime) -> Acted:
    """Do what the reply's reading suggests, and settle the reply."""
    _refuse_if_handled(reply)
    label = reply.reading
    if label not in SUGGESTIONS:
        raise ActionError("Nothing to accept for this reply: change its class, or mark it handled.")
    customer = session.get(Customer, reply.customer_id) if reply.customer_id else None
    if customer is None:
        raise ActionError("This reply is not matched to a customer: read it, then mark it handled.")
    invoice = _chosen_invoice(session, org, reply, customer, typed.invoice_id)
    if invoice is not None:
        _refuse_if_not_theirs(invoice, user, works_anywhere)
    acted = _ACCEPT[label](session, org, reply, customer, invoice, user, typed, now)
    if not acted.settled:
        raise ActionError(acted.outcome)
    if reply.handled_at is None:
        mark_handled(session, reply, user, acted.outcome, now)
    else:  # an e-mail to the payer settled it (and any other reply of theirs) already
        reply.handled_how = acted.outcome[:200]
    return acted


def _refuse_if_handled(reply: Reply) -> None:
    if reply.handled_at is not None:
        raise ActionError("This reply is already handled.")


def _refuse_if_not_theirs(invoice: Invoice, user: User, works_anywhere: bool) -> None:
    refusal = work_refusal(invoice, user.id, works_anywhere)
    if refusal:
        raise ActionError(refusal)


def _chosen_invoice(session: Session, org: Organization, reply: Reply, customer: Customer,
                    raw_id: str) -> Invoice | None:
    chosen = optional_id(raw_id, "invoice_id", "Choose one of the customer's invoices.")
    if chosen is None:
        return session.get(Invoice, reply.invoice_id) if reply.invoice_id else None
    invoice = session.scalar(select(Invoice).where(Invoice.org_id == org.id, Invoice.id == chosen,
                                                   Invoice.customer_id == customer.id))
    if invoice is None:
        raise ActionError("Choose one of the customer's invoices.", "invoice_id")
    return invoice


def _needs_invoice(invoice: Invoice | None, what: str) -> Invoice:
    if invoice is None:
        raise ActionError(f"Choose the invoice {what}.", "invoice_id")
    return invoice


def _accept_dispute(session, org, reply, customer, invoice, user, typed: AcceptInput, now) -> Acted:
    invoice = _needs_invoice(invoice, "the dispute is about")
    return open_reply_dispute(session, org, reply, customer, invoice, user, now, reason=typed.reason,
                              needs_review=False)


def _accept_promise(session, org, reply, customer, invoice, user, typed: AcceptInput, now) -> Acted:
    invoice = _needs_invoice(invoice, "the promise is for")
    amount = reply.amount_minor if reply.currency == invoice.currency else None
    if typed.amount.strip():
        amount = parse_amount_input(typed.amount, invoice.currency)
        if amount is None:
            raise ActionError(f"Enter the amount in {invoice.currency}, e.g. 1250.00.", "amount")
    promised = reply.promised_date
    if typed.promised_date.strip():
        promised = parse_date(typed.promised_date)
        if promised is None:
            raise ActionError("Enter the promised date as a date.", "promised_date")
    promise = log_promise(session, org, invoice, user, amount or invoice.balance_minor, promised, None, now,
                          source="email")
    return Acted(f"Promise logged: {format_money(promise.amount_minor, invoice.currency)} by "
                 f"{promise.promised_date:%-d %b %Y}.", True)


def _accept_paid(session, org, reply, customer, invoice, user, typed: AcceptInput, now) -> Acted:
    return hold_for_remittance(session, org, reply, customer, _needs_invoice(invoice, "they say is paid"), user, now)


def _accept_absence(session, org, reply, customer, invoice, user, typed: AcceptInput, now) -> Acted:
    return pause_for_absence(session, org, reply, customer, invoice, user, now)


def _accept_opt_out(session, org, reply, customer, invoice, user, typed: AcceptInput, now) -> Acted:
    return opt_out_sender(session, org, reply, customer, invoice, user, now)


COPY_SUBJECT = "Your copy of invoice {invoice_number}"
COPY_BODY = ("Hello,\n\nAs requested, you can view and download invoice {invoice_number} "
             "({amount_due}, due {due_date}) and your other open invoices here:\n\n{portal_link}\n\n"
             "Kind regards,\n{sender_name}\n\n{signature}")


def _accept_copy(session, org, reply, customer, invoice, user, typed: AcceptInput, now) -> Acted:
    """The payer's copy is on the portal: an e-mail with its link, through the same send guard as any other."""
    invoice = _needs_invoice(invoice, "they asked a copy of")
    seen = inspect(session, org, invoice, user, now)
    message = sends.send_email(session, org, invoice, user, COPY_SUBJECT, COPY_BODY, seen.merge_values,
                               seen.recipient, now, reply_read=True)
    when = f" {message.wait_reason}" if message.wait_reason else ""
    return Acted(f"Portal link for {invoice.number} e-mailed to {message.to_email}.{when}", True)


_ACCEPT = {"dispute": _accept_dispute, "promise": _accept_promise, "already_paid": _accept_paid,
           "invoice_copy": _accept_copy, "out_of_office": _accept_absence, "unsubscribe": _accept_opt_out}


def change_class(session: Session, reply: Reply, user: User, label: str) -> None:
    """A person's reading of the reply: kept as the workspace's labelled example, and what accepting now does."""
    _refuse_if_handled(reply)
    if label not in LABELS:
        raise ActionError("Choose one of the listed classes.", "label")
    if label == reply.reading:
        raise ActionError(f"It is already read as {READING_LABELS[label].lower()}.", "label")
    before = reply.reading
    reply.corrected_label = None if label == reply.label else label
    reply.corrected_by_id = user.id if reply.corrected_label else None
    audit.record(session, org_id=reply.org_id, actor=user, action="replies.class_changed", subject=reply,
                 before={"label": before}, after={"label": label})


def handle(session: Session, reply: Reply, user: User, now: dt.datetime) -> None:
    """Settle the reply with nothing more to do: the customer's chase resumes."""
    _refuse_if_handled(reply)
    mark_handled(session, reply, user, "Marked handled", now)
