"""Paying invoices through Stripe Checkout on the workspace's own account, for their balance at that moment.

At most one Checkout page is open for any invoice: a page for the same invoices and amounts is reused, and any
other open page that includes one of them is expired on Stripe before a new one opens. So a payer who clicks
the e-mail's link and then pays from the portal, or pays after a balance changed, can never pay twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization
from plixo.actions import ActionError
from plixo.connectors.models import Connection
from plixo.connectors.stripe import credentials_of
from plixo.integrations.stripe_gateway import (
    Credentials,
    StripeProblemError,
    create_checkout_session,
    expire_checkout_session,
)
from plixo.ledger.models import Customer, Invoice
from plixo.model import utcnow
from plixo.payments.apply import INVOICES_KEY
from plixo.payments.connector import active_connection
from plixo.payments.models import CheckoutSession

log = logging.getLogger(__name__)
PAYABLE_STATUSES = ("open",)  # a disputed invoice is paid once the dispute is settled, not from a reminder
PAGE_LIFETIME = dt.timedelta(hours=1)  # Stripe accepts 30 minutes to 24 hours
REUSE_MARGIN = dt.timedelta(minutes=5)  # a page about to expire is not handed out again
METADATA_LIMIT = 500  # characters Stripe allows in one metadata value
UNAVAILABLE = "Online payment is unavailable right now. Please try again later or contact us."


class CheckoutError(ActionError):
    """Payment cannot start; the message is for the payer."""


def is_payable(invoice: Invoice) -> bool:
    return invoice.status in PAYABLE_STATUSES and invoice.balance_minor > 0


def payable(invoices: list[Invoice]) -> list[Invoice]:
    """The invoices that still have something to pay, in the order given."""
    return [i for i in invoices if is_payable(i)]


def start_checkout(session: Session, org: Organization, customer: Customer, invoices: list[Invoice],
                   return_url: str, now: dt.datetime | None = None) -> str:
    """The Stripe Checkout page for the invoices' current balances; the URL to send the payer to.

    Stripe returns the payer to `return_url` with ?checkout=paid or ?checkout=cancelled. A refusal from Stripe
    is kept on the connection for the team (its message is theirs, not the payer's).
    """
    now = now or utcnow()
    connection = active_connection(session, org.id)
    if connection is None:
        raise CheckoutError(f"{org.name} does not take online payments yet. Please contact them to pay.")
    due = _checked(customer, invoices)
    reusable = _settle_open_pages(session, connection, customer, due, now)
    if reusable is not None:
        return reusable.url
    params = _session_params(org, customer, due, return_url, now)
    try:
        session_id, url = create_checkout_session(credentials_of(connection), params,
                                                  _idempotency_key(org, due, return_url, now))
    except StripeProblemError as problem:
        _keep_problem(connection, problem)
        raise CheckoutError(UNAVAILABLE) from problem
    _remember(session, org, customer, due, session_id, url, now)
    audit.record(session, org_id=org.id, actor="payer", action="payments.checkout_started", subject=customer,
                 after={"invoice_ids": [i.id for i in due], "amount_minor": sum(i.balance_minor for i in due),
                        "currency": due[0].currency, "checkout_session": session_id})
    return url


def _checked(customer: Customer, invoices: list[Invoice]) -> list[Invoice]:
    due = payable(invoices)
    if not due:
        raise CheckoutError("These invoices have nothing left to pay.")
    if len({i.currency for i in due}) > 1:
        raise CheckoutError("These invoices are in different currencies. Pay them one currency at a time.")
    if any(i.customer_id != customer.id for i in due):
        raise CheckoutError("These invoices cannot be paid together.")
    if len(",".join(str(i.id) for i in due)) > METADATA_LIMIT:
        raise CheckoutError("That is more invoices than one payment can cover. Pay them in a few smaller groups.")
    return due


def _settle_open_pages(session: Session, connection: Connection, customer: Customer, due: list[Invoice],
                       now: dt.datetime) -> CheckoutSession | None:
    """The open page for exactly these invoices and amounts, if there is one; every other open page that
    covers one of them is expired first. Refuses while one of them may just have been paid on such a page."""
    wanted = {i.id for i in due}
    amount = sum(i.balance_minor for i in due)
    credentials = credentials_of(connection)
    for page in session.scalars(select(CheckoutSession).where(
            CheckoutSession.org_id == customer.org_id, CheckoutSession.customer_id == customer.id,
            CheckoutSession.status == "open").with_for_update()):
        if page.expires_at <= now:
            page.status = "expired"
        elif not wanted & set(page.invoice_ids):
            continue
        elif set(page.invoice_ids) == wanted and page.amount_minor == amount and page.expires_at > now + REUSE_MARGIN:
            return page
        else:
            _expire(connection, credentials, page)
    return None


def _expire(connection: Connection, credentials: Credentials, page: CheckoutSession) -> None:
    try:
        page.status = expire_checkout_session(credentials, page.stripe_session_id)
    except StripeProblemError as problem:
        _keep_problem(connection, problem)
        raise CheckoutError(UNAVAILABLE) from problem
    if page.status == "complete":
        raise CheckoutError("A payment for these invoices was just made and is being processed. This page shows "
                            "it within a few minutes.")


def _remember(session: Session, org: Organization, customer: Customer, due: list[Invoice], session_id: str,
              url: str, now: dt.datetime) -> None:
    # Stripe answers a repeated idempotency key with the page it already made: keep one row for it.
    existing = session.scalar(select(CheckoutSession).where(CheckoutSession.org_id == org.id,
                                                            CheckoutSession.stripe_session_id == session_id))
    if existing is None:
        session.add(CheckoutSession(org_id=org.id, customer_id=customer.id, stripe_session_id=session_id, url=url,
                                    invoice_ids=[i.id for i in due], amount_minor=sum(i.balance_minor for i in due),
                                    currency=due[0].currency, expires_at=now + PAGE_LIFETIME))
        session.flush()


def _keep_problem(connection: Connection, problem: StripeProblemError) -> None:
    log.warning("Stripe refused a Checkout request for workspace %s: %s", connection.org_id, problem)
    connection.last_error = f"A payer could not pay online: {problem}"[:2000]


def _session_params(org: Organization, customer: Customer, due: list[Invoice], return_url: str,
                    now: dt.datetime) -> dict:
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
        "expires_at": int((now + PAGE_LIFETIME).timestamp()),
    }
    email = next((c.email for c in sorted(customer.contacts, key=lambda c: not c.is_primary) if c.deliverable), None)
    if email:
        params["customer_email"] = email
    return params


def _description(org: Organization, due: list[Invoice]) -> str:
    numbers = ", ".join(i.number for i in due[:10]) + (f" and {len(due) - 10} more" if len(due) > 10 else "")
    return f"{org.name}: invoice{'s' if len(due) > 1 else ''} {numbers}"[:1000]


def _idempotency_key(org: Organization, due: list[Invoice], return_url: str, now: dt.datetime) -> str:
    # Two clicks racing within the same minute get one page from Stripe (the rows above handle everything slower).
    facts = f"{org.id}|{[(i.id, i.balance_minor, i.currency) for i in due]}|{return_url}|{int(now.timestamp() // 60)}"
    return "plixo-checkout-" + hashlib.sha256(facts.encode()).hexdigest()[:32]
