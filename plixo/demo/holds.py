"""Holds that pause reminders: on a customer, on one invoice, and a contact's out-of-office suppression."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy.orm import Session

from plixo.demo.customers import Account
from plixo.demo.draws import DAY, business_instant
from plixo.demo.invoices import PlannedInvoice
from plixo.demo.workspace import Team
from plixo.holds.models import Hold


def write_holds(
    session: Session, org_id: int, rng: random.Random, accounts: list[Account], ledger: list[PlannedInvoice],
    team: Team, today: dt.date,
) -> None:
    """A customer-wide hold, an invoice hold and a contact suppression: enough to show each state once."""
    overdue = [inv for inv in ledger if inv.row.status == "open" and inv.due_date < today and not inv.has_promise]
    rows = []
    if len(overdue) >= 2:
        on_customer, on_invoice = rng.sample(overdue, k=2)
        rows.append(Hold(
            org_id=org_id, kind="hold", customer_id=on_customer.account.customer.id,
            reason="Renewal is being negotiated; Sales asked us to pause reminders.",
            until=today + dt.timedelta(days=14), created_by_id=team.id_of("ar_manager"),
            created_at=business_instant(rng, today - dt.timedelta(days=3)),
        ))
        rows.append(Hold(
            org_id=org_id, kind="hold", customer_id=on_invoice.account.customer.id, invoice_id=on_invoice.row.id,
            reason="Customer is re-issuing the purchase order; wait for the new PO number.",
            until=today + dt.timedelta(days=7), created_by_id=team.id_of("operator"),
            created_at=business_instant(rng, today - dt.timedelta(days=2)),
        ))
    suppressed = next((c for a in accounts for c in a.contacts if c.suppressed_until), None)
    if suppressed is not None:
        rows.append(Hold(
            org_id=org_id, kind="suppression", customer_id=suppressed.customer_id, contact_id=suppressed.id,
            reason="Out-of-office auto-reply; resume when they are back.", until=suppressed.suppressed_until,
            created_at=business_instant(rng, today - DAY),
        ))
    session.add_all(rows)
