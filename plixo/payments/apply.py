"""Applying Stripe events to the ledger, idempotently and in any order.

Every handler folds the event's snapshot of a Stripe object into state that only moves one way (amounts
refunded or taken back only grow, a recorded payment is never un-recorded, a closed dispute never reopens), and then
recomputes what follows from that state instead of adding deltas. So a duplicate changes nothing and
events arriving out of order end where in-order delivery would. An event that needs another first (a refund
of a payment not seen yet) raises NotYetError and is applied again once more events have arrived.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from plixo import audit
from plixo.connectors.models import Connection
from plixo.disputes.models import Dispute
from plixo.disputes.reasons import STRIPE_REASONS
from plixo.integrations.stripe_gateway import TEST_EVENT_MARKER
from plixo.ledger.aging import local_today
from plixo.ledger.balances import Reason, balance_reason
from plixo.ledger.models import Invoice, Payment, PaymentApplication
from plixo.ledger.priority import refresh_priorities
from plixo.outreach.sends import cancel_pending_sends
from plixo.payments.connector import record_test_received
from plixo.payments.models import CheckoutSession, WebhookEvent
from plixo.promises.service import settle_promises

ACTOR = "Stripe"
INVOICES_KEY = "plixo_invoice_ids"  # metadata Plixo puts on the Checkout Session and its PaymentIntent
PAYMENT_LOCK = 72_517  # advisory-lock namespace: one workspace's events are applied one at a time
# Stripe's closing status -> (status, verdict, resolution): won means the charge stands (the payer was not right).
CLOSED_DISPUTE = {"won": ("resolved", "invalid", "no_action"), "lost": ("resolved", "valid", "credit_note"),
                  "warning_closed": ("withdrawn", None, None)}


class NotYetError(Exception):
    """The event depends on another that has not arrived yet; apply it again later."""


class NotFromPlixoError(Exception):
    """The event concerns money on the connected account that Plixo did not ask for (no invoice metadata)."""


class UnusableEventError(Exception):
    """The event can never be applied (it names nothing of this workspace); retrying will not help."""


def lock_workspace_payments(session: Session, org_id: int) -> None:
    """Serialise event application per workspace: two events of one payment must not both create it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(PAYMENT_LOCK, org_id)))


def apply_event(session: Session, org, event: dict, now: dt.datetime) -> str:
    """Apply one verified event to workspace `org`; returns "processed" or "ignored"."""
    handler = HANDLERS.get(event["type"])
    if handler is None:
        return "ignored"
    try:
        handler(session, org, event["data"]["object"], now, event.get("created"))
    except NotFromPlixoError:
        return "ignored"
    return "processed"


# --- Payments ----------------------------------------------------------------------------------------------

def _invoice_ids(metadata: dict | None) -> list[int]:
    raw = str((metadata or {}).get(INVOICES_KEY) or "")
    ids = []
    for part in raw.split(","):
        part = part.strip()
        if part.isdigit() and int(part) not in ids:
            ids.append(int(part))
    return ids


def _at(timestamp, fallback: dt.datetime) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC) if isinstance(timestamp, int) else fallback


def _stripe_payment(session: Session, reference: str) -> Payment | None:
    return session.scalar(select(Payment).where(Payment.provider == "stripe", Payment.provider_ref == reference))


def _on_checkout_completed(session: Session, org, session_object: dict, now: dt.datetime, _sent_at=None) -> None:
    session.execute(update(CheckoutSession).where(CheckoutSession.org_id == org.id,
                                                  CheckoutSession.stripe_session_id == session_object.get("id"))
                    .values(status="complete").execution_options(synchronize_session=False))
    if session_object.get("payment_status") != "paid" or not session_object.get("payment_intent"):
        return  # an asynchronous method: payment_intent.succeeded brings the money later
    _record_payment(session, org, session_object["payment_intent"], session_object.get("amount_total"),
                    session_object.get("currency"), session_object.get("metadata"),
                    _at(session_object.get("created"), now), now)


def _on_payment_succeeded(session: Session, org, intent: dict, now: dt.datetime, _sent_at=None) -> None:
    _record_payment(session, org, intent["id"], intent.get("amount_received") or intent.get("amount"),
                    intent.get("currency"), intent.get("metadata"), _at(intent.get("created"), now), now)


def _record_payment(session: Session, org, reference: str, amount, currency, metadata, received_at: dt.datetime,
                    now: dt.datetime) -> None:
    if INVOICES_KEY not in (metadata or {}):
        raise NotFromPlixoError  # the account's other business: not ours to record
    if not isinstance(amount, int) or amount <= 0 or not isinstance(currency, str):
        raise UnusableEventError("The payment has no positive amount and currency.")
    payment = _stripe_payment(session, reference)
    if payment is None:
        payment = _new_payment(session, org, reference, amount, currency.upper(), _invoice_ids(metadata), received_at)
    else:
        # Checkout and its PaymentIntent describe one payment: the second to arrive only moves the date earlier.
        payment.received_at = min(payment.received_at, received_at)
    _settle(session, org, payment, now)


def _new_payment(session: Session, org, reference: str, amount: int, currency: str, invoice_ids: list[int],
                 received_at: dt.datetime) -> Payment:
    found = {i.id: i for i in session.scalars(select(Invoice).where(Invoice.id.in_(invoice_ids)))}
    invoices = [found[i] for i in invoice_ids if i in found]  # in the payer's order: it decides the allocation
    if not invoices:
        raise UnusableEventError("The payment does not name an invoice of this workspace.")
    payment = Payment(org_id=org.id, customer_id=invoices[0].customer_id, currency=currency, amount_minor=amount,
                      received_at=received_at, provider="stripe", provider_ref=reference,
                      target_invoice_ids=[i.id for i in invoices], status="succeeded")
    session.add(payment)
    # An application row per invoice the payer named, even while it gets nothing: it is how later events find
    # every payment aimed at an invoice through the (org_id, invoice_id) index.
    session.add_all(PaymentApplication(org_id=org.id, payment=payment, invoice_id=i.id, amount_minor=0)
                    for i in invoices)
    session.flush()
    audit.record(session, org_id=org.id, actor=ACTOR, action="payments.received", subject=payment,
                 after={"amount_minor": amount, "currency": currency, "invoice_ids": payment.target_invoice_ids})
    return payment


def _on_payment_failed(session: Session, org, intent: dict, now: dt.datetime, _sent_at=None) -> None:
    if _stripe_payment(session, intent["id"]) is not None:
        return  # a failed attempt reported after the one that succeeded
    error = (intent.get("last_payment_error") or {}).get("message") or "The payment failed."
    invoice_ids = _invoice_ids(intent.get("metadata"))
    for invoice in session.scalars(select(Invoice).where(Invoice.id.in_(invoice_ids))).all() if invoice_ids else []:
        audit.record(session, org_id=org.id, actor=ACTOR, action="payments.failed", subject=invoice,
                     after={"payment_intent": intent["id"], "error": str(error)[:300]})


def _on_charge_refunded(session: Session, org, charge: dict, now: dt.datetime, _sent_at=None) -> None:
    payment = _payment_of_charge(session, charge)
    refunded = charge.get("amount_refunded")
    if not isinstance(refunded, int) or refunded <= payment.refunded_minor:
        return  # Stripe reports the running total: an older or repeated snapshot changes nothing
    before = payment.refunded_minor
    payment.refunded_minor = min(refunded, payment.amount_minor)
    payment.status = "refunded" if payment.refunded_minor >= payment.amount_minor else "succeeded"
    audit.record(session, org_id=org.id, actor=ACTOR, action="payments.refunded", subject=payment,
                 before={"refunded_minor": before}, after={"refunded_minor": payment.refunded_minor})
    _settle(session, org, payment, now)


def _payment_of_charge(session: Session, charge_or_dispute: dict) -> Payment:
    reference = charge_or_dispute.get("payment_intent")
    payment = _stripe_payment(session, reference) if isinstance(reference, str) else None
    if payment is None:
        raise NotYetError(f"Waiting for the payment {reference or '(unknown)'} this event refers to.")
    return payment


# --- Allocation --------------------------------------------------------------------------------------------

def _settle(session: Session, org, payment: Payment, now: dt.datetime) -> None:
    """Re-allocate every Stripe payment sharing invoices with this one, oldest first, from scratch.

    Allocating from the invoices' balances before any Stripe money, in a fixed order, makes the result depend
    only on the payments' current state, not on the order their events arrived in.
    """
    payments, invoice_ids = _payment_group(session, payment)
    invoices = {i.id: i for i in session.scalars(
        select(Invoice).where(Invoice.id.in_(invoice_ids)).order_by(Invoice.id).with_for_update())}
    before = {i.id: (i.balance_minor, i.status) for i in invoices.values()}
    remaining = _unpaid_before_stripe(invoices, payments)
    for each in payments:
        _allocate(session, each, invoices, remaining)
    for invoice in invoices.values():
        invoice.balance_minor = remaining[invoice.id]
        _update_status(session, org, invoice, before[invoice.id], now)
    # Cash counts on the day Stripe took it (a refund or lost chargeback on the day it arrives).
    day = local_today(org.time_zone, payment.received_at if payment.status == "succeeded" else now)
    with balance_reason(session, Reason("collected", "refunded", "stripe", day)):
        session.flush()
    today = local_today(org.time_zone, now)
    settle_promises(session, org.id, today, now, invoice_ids=list(invoices))
    refresh_priorities(session, org.id, org.base_currency, today, list(invoices))


def _invoices_of(payment: Payment) -> set[int]:
    return set(payment.target_invoice_ids) | {a.invoice_id for a in payment.applications}


def _payment_group(session: Session, payment: Payment) -> tuple[list[Payment], set[int]]:
    """The Stripe payments linked to this one through shared invoices (transitively), and all their invoices."""
    group, invoice_ids = [payment], _invoices_of(payment)
    while True:
        aimed = select(PaymentApplication.payment_id).where(PaymentApplication.invoice_id.in_(invoice_ids))
        group = session.scalars(select(Payment).where(Payment.provider == "stripe", Payment.id.in_(aimed))
                                .options(selectinload(Payment.applications))).all() or group
        wider = invoice_ids.union(*(_invoices_of(p) for p in group))
        if wider == invoice_ids:
            return sorted(group, key=lambda p: (p.received_at, p.provider_ref or "")), invoice_ids
        invoice_ids = wider


def _unpaid_before_stripe(invoices: dict[int, Invoice], payments: list[Payment]) -> dict[int, int]:
    remaining = {i.id: i.balance_minor for i in invoices.values()}
    for each in payments:
        for application in each.applications:
            if application.invoice_id in remaining:
                remaining[application.invoice_id] += application.amount_minor
    return remaining


def _allocate(session: Session, payment: Payment, invoices: dict[int, Invoice], remaining: dict[int, int]) -> None:
    """Spread the payment's net amount over its invoices in order; what is left is the customer's credit."""
    existing = {a.invoice_id: a for a in payment.applications}
    available = payment.net_minor
    for invoice_id in payment.target_invoice_ids:
        invoice = invoices.get(invoice_id)
        share = 0
        if invoice is not None and invoice.currency == payment.currency and invoice.status != "void":
            share = min(max(remaining[invoice_id], 0), available)
        if invoice is not None:
            remaining[invoice_id] -= share
        available -= share
        _set_application(session, payment, existing, invoice_id, share)
    payment.unapplied_minor = available


def _set_application(session: Session, payment: Payment, existing: dict, invoice_id: int, share: int) -> None:
    application = existing.get(invoice_id)
    if application is None:
        session.add(PaymentApplication(org_id=payment.org_id, payment=payment, invoice_id=invoice_id,
                                       amount_minor=share))
    elif application.amount_minor != share:
        application.amount_minor = share


def _update_status(session: Session, org, invoice: Invoice, before: tuple[int, str], now: dt.datetime) -> None:
    """Paid in full is a stopping condition; a refund that reopens the balance reopens the invoice."""
    if invoice.balance_minor <= 0 and invoice.status == "open":
        invoice.status, invoice.closed_at = "paid", now
        cancel_pending_sends(session, org.id, [invoice.id], ACTOR, "Invoice paid")
    elif invoice.balance_minor > 0 and invoice.status == "paid":
        invoice.status, invoice.closed_at = "open", None
    if (invoice.balance_minor, invoice.status) != before:
        audit.record(session, org_id=org.id, actor=ACTOR, action="payments.invoice_balance", subject=invoice,
                     before={"balance_minor": before[0], "status": before[1]},
                     after={"balance_minor": invoice.balance_minor, "status": invoice.status})


# --- Chargebacks -------------------------------------------------------------------------------------------

def _on_dispute(session: Session, org, stripe_dispute: dict, now: dt.datetime, _sent_at=None) -> None:
    payment = _payment_of_charge(session, stripe_dispute)
    dispute = session.scalar(select(Dispute).where(Dispute.stripe_dispute_id == stripe_dispute["id"]))
    if dispute is None:
        dispute = _open_chargeback(session, org, payment, stripe_dispute, now)
    deadline = _evidence_due_by(stripe_dispute)
    if deadline is not None and dispute.resolved_at is None:
        dispute.sla_due_at = deadline  # the issuer's deadline for evidence is the only one that counts
    closed = CLOSED_DISPUTE.get(str(stripe_dispute.get("status")))
    if closed and dispute.resolved_at is None:
        dispute.status, dispute.verdict, dispute.outcome = closed
        dispute.resolved_at = now
        audit.record(session, org_id=org.id, actor=ACTOR, action="disputes.chargeback_closed", subject=dispute,
                     after={"status": dispute.status, "stripe_status": stripe_dispute.get("status")})
    lost = stripe_dispute.get("amount") if stripe_dispute.get("status") == "lost" else 0
    if isinstance(lost, int) and lost > payment.reversed_minor:
        payment.reversed_minor = min(lost, payment.amount_minor)  # the money went back to the payer
        _settle(session, org, payment, now)


def _evidence_due_by(stripe_dispute: dict) -> dt.datetime | None:
    """When the issuer stops taking evidence; None when Stripe gives no deadline (0 or null: no response allowed)."""
    due_by = (stripe_dispute.get("evidence_details") or {}).get("due_by")
    return dt.datetime.fromtimestamp(due_by, dt.UTC) if isinstance(due_by, int) and due_by > 0 else None


def _open_chargeback(session: Session, org, payment: Payment, stripe_dispute: dict, now: dt.datetime) -> Dispute:
    invoice_id = payment.target_invoice_ids[0]
    invoice = session.get(Invoice, invoice_id)
    dispute = Dispute(org_id=org.id, invoice_id=invoice_id, customer_id=payment.customer_id, source="stripe",
                      reason=STRIPE_REASONS.get(str(stripe_dispute.get("reason")), "other"),
                      description=f"Card chargeback ({stripe_dispute.get('reason') or 'no reason given'}) "
                                  f"on payment {payment.provider_ref}.",
                      needs_review=True, opened_at=now, sla_due_at=now + dt.timedelta(days=7),
                      stripe_dispute_id=stripe_dispute["id"])
    session.add(dispute)
    session.flush()
    cancel_pending_sends(session, org.id, [invoice_id], ACTOR, "Chargeback opened")
    audit.record(session, org_id=org.id, actor=ACTOR, action="disputes.chargeback_opened", subject=invoice,
                 after={"dispute_id": dispute.id, "stripe_dispute": stripe_dispute["id"]})
    return dispute


# --- The connected account ---------------------------------------------------------------------------------

def _on_account_updated(session: Session, org, account: dict, now: dt.datetime, sent_at=None) -> None:
    connection = session.scalar(select(Connection).where(Connection.kind == "stripe",
                                                         Connection.external_account_id == account.get("id")))
    seen = (connection.settings or {}).get("account_event_at", 0) if connection is not None else 0
    if connection is None or not isinstance(sent_at, int) or sent_at < seen:
        return  # an older snapshot of the account than one already applied
    connection.settings = {**(connection.settings or {}), "account_event_at": sent_at}
    healthy = bool(account.get("charges_enabled"))
    status = "active" if healthy else "error"
    if connection.status == "disconnected" or connection.status == status:
        return
    before = connection.status
    connection.status = status
    connection.last_error = None if healthy else "Stripe has disabled charges on this account."
    audit.record(session, org_id=org.id, actor=ACTOR, action="connectors.stripe_status", subject=connection,
                 before={"status": before}, after={"status": status})


def _on_customer_created(session: Session, org, customer: dict, now: dt.datetime, _sent_at=None) -> None:
    # Only the customer "Send test event" creates is Plixo's; any other is the account's own business.
    nonce = (customer.get("metadata") or {}).get(TEST_EVENT_MARKER)
    if not record_test_received(session, org.id, nonce, now):
        raise NotFromPlixoError


HANDLERS: dict[str, Callable] = {
    "checkout.session.completed": _on_checkout_completed,
    "payment_intent.succeeded": _on_payment_succeeded,
    "payment_intent.payment_failed": _on_payment_failed,
    "charge.refunded": _on_charge_refunded,
    "charge.dispute.created": _on_dispute,
    "charge.dispute.updated": _on_dispute,
    "charge.dispute.closed": _on_dispute,
    "account.updated": _on_account_updated,
    "customer.created": _on_customer_created,
}


def recorded_payment(event: dict) -> str | None:
    """The PaymentIntent a payment event records (what refunds and disputes waiting for it name)."""
    obj = event["data"]["object"]
    if event["type"] == "checkout.session.completed":
        return obj.get("payment_intent") if isinstance(obj.get("payment_intent"), str) else None
    return obj.get("id") if event["type"] == "payment_intent.succeeded" else None


def events_waiting_for(session: Session, org_id: int, reference: str) -> list[int]:
    """Waiting events that name this PaymentIntent; few wait, so a text match over them is cheap."""
    return list(session.scalars(select(WebhookEvent.id).where(
        WebhookEvent.org_id == org_id, WebhookEvent.status == "waiting",
        WebhookEvent.payload.contains(f'"{reference}"', autoescape=True))))
