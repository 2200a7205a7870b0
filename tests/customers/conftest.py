"""A customer with invoices in two currencies, promises, a plan, a dispute, contacts and history."""

from __future__ import annotations

import datetime as dt

import pytest

from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.ledger.models import Payment
from plixo.model import utcnow
from plixo.notes.models import Note
from plixo.promises.models import Promise
from plixo.tenancy import tenant_scope
from tests.factories import TODAY, make_contact, make_customer, make_invoice, make_user


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


@pytest.fixture
def collector(org):
    user = make_user(org, "operator", name="Priya Raman", email="priya@acmetest.example")
    db.session.commit()
    return user


@pytest.fixture
def globex(org, collector):
    """Globex: USD 1,000.00 due in 10 days, USD 2,500.00 45 days overdue, EUR 700.00 100 days overdue (disputed),
    one paid invoice; promises kept, broken and pending; an old note and a payment."""
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex Corporation", external_id="GLX-1", risk_tier="high",
                                 owner_id=collector.id, time_zone="Europe/Berlin")
        make_contact(customer, email="ap@globex.example", name="Hank Scorpio")
        make_contact(customer, email="old@globex.example", name="Old AP", is_primary=False, bounce_kind="hard",
                     bounced_at=utcnow())
        invoices = {
            "current": make_invoice(org, customer, number="GLX-100", due_date=TODAY + dt.timedelta(days=10),
                                    amount_minor=100_000, balance_minor=100_000),
            "overdue": make_invoice(org, customer, number="GLX-101", due_date=days_ago(45),
                                    amount_minor=300_000, balance_minor=250_000),
            "euro": make_invoice(org, customer, number="GLX-102", due_date=days_ago(100), currency="EUR",
                                 amount_minor=70_000, balance_minor=70_000, status="disputed"),
            "paid": make_invoice(org, customer, number="GLX-099", due_date=days_ago(60), amount_minor=50_000,
                                 balance_minor=0, status="paid", closed_at=utcnow()),
        }
        for status, n in (("kept", 3), ("broken", 1), ("pending", 1)):
            for k in range(n):
                db.session.add(Promise(org_id=org.id, invoice_id=invoices["overdue"].id, customer_id=customer.id,
                                       currency="USD", amount_minor=10_000 * (k + 1),
                                       promised_date=days_ago(30 - k) if status != "pending" else TODAY, status=status))
        db.session.add(Dispute(org_id=org.id, invoice_id=invoices["euro"].id, customer_id=customer.id,
                               reason="pricing", status="investigating", opened_at=utcnow() - dt.timedelta(days=3)))
        db.session.add(Payment(org_id=org.id, customer_id=customer.id, currency="USD", amount_minor=50_000,
                               received_at=utcnow() - dt.timedelta(days=20)))
        db.session.add(Note(org_id=org.id, customer_id=customer.id, author_id=collector.id, body="Called AP.",
                            created_at=utcnow() - dt.timedelta(days=2)))
        db.session.flush()
    db.session.commit()
    return {"customer": customer, **invoices}
