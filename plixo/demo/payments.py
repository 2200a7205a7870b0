"""Payments as remittances arrive: one per customer and day, applied to the invoices it settles. Since Plixo came
in, card payers pay through its Stripe pay links; bank transfers are recorded in the ERP and reach Plixo through
its imports (provider "erp")."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from sqlalchemy.orm import Session

from plixo.demo.customers import Account
from plixo.demo.draws import business_instant, history_start
from plixo.demo.invoices import PlannedInvoice, invoice_row
from plixo.ledger.balances import history_written_by_caller
from plixo.ledger.models import Payment, PaymentApplication

STRIPE, ERP = "stripe", "erp"


def write_invoices_and_payments(
    session: Session, org_id: int, rng: random.Random, ledger: list[PlannedInvoice], today: dt.date
) -> dict[tuple[str, dt.date], Payment]:
    """Write invoices, payments and applications; returns the payment behind each (customer, day). The balance
    history is the caller's to write (`history.write_balance_history`): the rows arrive already settled."""
    with history_written_by_caller(session):
        for invoice in ledger:
            invoice.row = invoice_row(org_id, rng, invoice)
        session.add_all(invoice.row for invoice in ledger)
        session.flush()
        payments = _payments_by_customer_day(org_id, rng, ledger, history_start(today))
        for invoice in ledger:
            if invoice.written_off_on is None and invoice.balance_minor == 0 and invoice.receipts:
                final = max(invoice.receipts)[0]
                invoice.row.closed_at = payments[(invoice.account.customer.external_id, final)].received_at
        session.add_all(payments.values())
        session.flush()
        session.add_all(
            PaymentApplication(org_id=org_id, payment_id=payments[(invoice.account.customer.external_id, day)].id,
                               invoice_id=invoice.row.id, amount_minor=applied)
            for invoice in ledger for day, applied in invoice.receipts
        )
        session.flush()
    return payments


def _payments_by_customer_day(
    org_id: int, rng: random.Random, ledger: list[PlannedInvoice], since: dt.date
) -> dict[tuple[str, dt.date], Payment]:
    """One payment per customer per day: a remittance often settles several invoices at once. Through Stripe (the
    customer's habit decides) only once Plixo was in use, from `since`."""
    totals: dict[tuple[str, dt.date], int] = defaultdict(int)
    paid_for: dict[tuple[str, dt.date], list[int]] = defaultdict(list)
    accounts: dict[str, Account] = {}
    for invoice in ledger:
        key = invoice.account.customer.external_id
        accounts[key] = invoice.account
        for day, applied in invoice.receipts:
            totals[(key, day)] += applied
            paid_for[(key, day)].append(invoice.row.id)
    payments = {}
    for number, (key, day) in enumerate(sorted(totals, key=lambda k: (k[1], k[0])), start=1):
        account = accounts[key]
        received_at = business_instant(rng, day)
        by_card = day >= since and rng.random() < account.stripe_share
        payments[(key, day)] = Payment(
            org_id=org_id, customer_id=account.customer.id, currency=account.currency, amount_minor=totals[(key, day)],
            received_at=received_at, provider=STRIPE if by_card else ERP, status="succeeded", created_at=received_at,
            provider_ref=f"pi_demo{number:07d}" if by_card else f"RCPT-{number:06d}",
            target_invoice_ids=paid_for[(key, day)] if by_card else [],
        )
    return payments
