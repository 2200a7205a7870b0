"""Payments as remittances arrive: one per customer and day, applied to the invoices it settles."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from sqlalchemy.orm import Session

from plixo.demo.customers import Account
from plixo.demo.draws import business_instant
from plixo.demo.invoices import PlannedInvoice, invoice_row
from plixo.ledger.models import Payment, PaymentApplication


def write_invoices_and_payments(
    session: Session, org_id: int, rng: random.Random, ledger: list[PlannedInvoice]
) -> dict[tuple[str, dt.date], Payment]:
    """Write invoices, payments and applications; returns the payment behind each (customer, day)."""
    for invoice in ledger:
        invoice.row = invoice_row(org_id, rng, invoice)
    payments = _payments_by_customer_day(org_id, rng, ledger)
    for invoice in ledger:
        if invoice.balance_minor == 0:
            final = max(invoice.receipts)[0]
            invoice.row.closed_at = payments[(invoice.account.customer.external_id, final)].received_at
    session.add_all(invoice.row for invoice in ledger)
    session.add_all(payments.values())
    session.flush()
    session.add_all(
        PaymentApplication(org_id=org_id, payment_id=payments[(invoice.account.customer.external_id, day)].id,
                           invoice_id=invoice.row.id, amount_minor=applied)
        for invoice in ledger for day, applied in invoice.receipts
    )
    return payments


def _payments_by_customer_day(
    org_id: int, rng: random.Random, ledger: list[PlannedInvoice]
) -> dict[tuple[str, dt.date], Payment]:
    """One payment per customer per day: a remittance often settles several invoices at once."""
    totals: dict[tuple[str, dt.date], int] = defaultdict(int)
    accounts: dict[str, Account] = {}
    for invoice in ledger:
        key = invoice.account.customer.external_id
        accounts[key] = invoice.account
        for day, applied in invoice.receipts:
            totals[(key, day)] += applied
    payments = {}
    for number, (key, day) in enumerate(sorted(totals, key=lambda k: (k[1], k[0])), start=1):
        account = accounts[key]
        received_at = business_instant(rng, day)
        payments[(key, day)] = Payment(
            org_id=org_id, customer_id=account.customer.id, currency=account.currency, amount_minor=totals[(key, day)],
            received_at=received_at, provider="demo", provider_ref=f"demo-pay-{number:06d}", status="succeeded",
            created_at=received_at,
        )
    return payments
