"""Paying invoices through Stripe Checkout on the workspace's own account, for their balance at that moment."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization
from plixo.integrations.stripe_gateway import StripeProblemError, create_checkout_session
from plixo.ledger.models import Customer, Invoice
from plixo.payments.apply import INVOICES_KEY
from plixo.payments.connector import active_connection, credentials_of

PAYABLE_STATUSES = ("open",)  # a disputed invoice is paid once the dispute is settled, not from a reminder
SESSION_REUSE_MINUTES = 10  # a second click within this window gets the same Checkout page, not another one


class CheckoutError(ValueError):
    """Payment cannot start; the message is for the payer."""


def payable(invoices: list[Invoice]) -> list[Invoice]:
    """The invoices that still have something to pay, in the order given."""
    return [i for i in invoices if i.status in PAYABLE_STATUSES and i.balance_minor > 0]


def start_checkout(session: Session, org: Organization, customer: Customer, invoices: list[Invoice],
                   return_url: str, now: dt.datetime | None = None) -> str:
    """A Stripe Checkout page for the invoices' current balances; the URL to send the payer to.

    Stripe returns the payer to `return_url` with ?checkout=paid or ?checkout=cancelled.
    """
    connection = active_connection(session, org.id)
    if connection is None:
        raise CheckoutError(f"{org.name} does not take online payments yet. Please contact them to pay.")
    due = payable(invoices)
    if not due:
        raise CheckoutError("These invoices have nothing left to pay.")
    if len({i.currency for i in due}) > 1:
        raise CheckoutError("These invoices are in different currencies. Pay them one currency at a time.")
    if any(i.customer_id != customer.id for i in due):
        raise CheckoutError("These invoices cannot be paid together.")
    params = _session_params(org, customer, due, return_url)
    try:
        url = create_checkout_session(credentials_of(connection), params, _idempotency_key(org, due, return_url, now))
    except StripeProblemError as problem:
        raise CheckoutError(f"Online payment is unavailable right now. Please try again later. ({problem})") \
            from problem
    audit.record(session, org_id=org.id, actor="payer", action="payments.checkout_started", subject=customer,
                 after={"invoice_ids": [i.id for i in due], "amount_minor": sum(i.balance_minor for i in due),
                        "currency": due[0].currency})
    return url


def _session_params(org: Organization, customer: Customer, due: list[Invoice], return_url: str) -> dict:
    metadata = {INVOICES_KEY: ",".join(str(i.id) for i in due), "plixo_customer_id": str(customer.id),
                "plixo_workspace_id": str(org.id)}
    separator = "&" if "?" in return_url else "?"
    params = {
        "mode": "payment",
        "line_items": [{"quantity": 1, "price_data": {
            "currency": i.currency.lower(), "unit_amount": i.balance_minor,
            "product_data": {"name": f"Invoice {i.number}"}}} for i in due],
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": _description(org, due)},
        "success_url": f"{return_url}{separator}checkout=paid",
        "cancel_url": f"{return_url}{separator}checkout=cancelled",
    }
    email = next((c.email for c in sorted(customer.contacts, key=lambda c: not c.is_primary) if c.deliverable), None)
    if email:
        params["customer_email"] = email
    return params


def _description(org: Organization, due: list[Invoice]) -> str:
    numbers = ", ".join(i.number for i in due[:10]) + (f" and {len(due) - 10} more" if len(due) > 10 else "")
    return f"{org.name}: invoice{'s' if len(due) > 1 else ''} {numbers}"[:1000]


def _idempotency_key(org: Organization, due: list[Invoice], return_url: str, now: dt.datetime | None) -> str:
    # Same invoices, same balances, same few minutes: Stripe answers with the Checkout Session it already made.
    moment = now or dt.datetime.now(dt.UTC)
    window = int(moment.timestamp() // (SESSION_REUSE_MINUTES * 60))
    facts = f"{org.id}|{[(i.id, i.balance_minor, i.currency) for i in due]}|{return_url}|{window}"
    return "plixo-checkout-" + hashlib.sha256(facts.encode()).hexdigest()[:32]
