"""Collector notes on customers with open balances, as the team leaves them on calls and e-mails."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from sqlalchemy.orm import Session

from plixo.demo.draws import business_instant, weighted
from plixo.demo.invoices import PlannedInvoice
from plixo.demo.workspace import Team
from plixo.notes.models import Note

_NOTE_BODIES = (
    "Spoke with {contact}; payment run is on Thursdays, this should go out next week.",
    "{contact} asked for a copy of the signed PO before releasing payment.",
    "Left a voicemail for {contact}. Will follow up by e-mail on Monday.",
    "Customer is switching ERPs this quarter; expect delays on remittance advice.",
    "{contact} confirmed the invoice is approved and queued for payment.",
    "New AP contact starting next month; keep {contact} copied until then.",
    "Customer requested consolidated statements instead of per-invoice reminders.",
    "Escalated to the CSM: usage dropped and they may be evaluating a competitor.",
)
_NOTE_AUTHOR_ROLES = (("operator", 4), ("ar_manager", 2), ("csm", 1), ("sales", 1))


def _open_invoices_by_customer(ledger: list[PlannedInvoice]) -> dict[str, list[PlannedInvoice]]:
    """The invoices with a balance left, grouped by customer."""
    by_customer: dict[str, list[PlannedInvoice]] = defaultdict(list)
    for invoice in ledger:
        if invoice.is_open:
            by_customer[invoice.account.customer.external_id].append(invoice)
    return by_customer


def write_notes(
    session: Session, org_id: int, rng: random.Random, ledger: list[PlannedInvoice], team: Team, today: dt.date
) -> None:
    """A few collector notes on customers with open balances, some pinned to one invoice."""
    open_by_customer = _open_invoices_by_customer(ledger)
    if not open_by_customer:
        return
    keys = list(open_by_customer)
    authors = tuple((role, weight) for role, weight in _NOTE_AUTHOR_ROLES if role in team.users)
    rows = []
    for key in rng.sample(keys, k=min(len(keys), max(3, len(keys) // 6))):
        invoice = rng.choice(open_by_customer[key])
        primary = invoice.account.primary
        body = rng.choice(_NOTE_BODIES).format(contact=primary.name if primary else "their AP team")
        rows.append(Note(
            org_id=org_id, customer_id=invoice.account.customer.id,
            invoice_id=invoice.row.id if rng.random() < 0.5 else None,
            author_id=team.id_of(weighted(rng, authors)) if authors else None, body=body,
            created_at=business_instant(rng, today - dt.timedelta(days=rng.randint(1, 45))),
        ))
    session.add_all(rows)
