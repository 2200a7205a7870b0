"""A small ledger worked out by hand: three currencies (one without a rate), payments, promises, a partial dispute
and an e-mail before the cash (tests/insights/test_figures.py gives its figures)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.insights.rates import set_rate
from plixo.ledger.aging import local_today
from plixo.ledger.balances import Reason, balance_reason
from plixo.model import utcnow
from plixo.outreach.models import Message
from plixo.promises.models import Promise
from plixo.tenancy import tenant_scope
from tests.factories import make_customer, make_invoice, make_org, make_user

DAY = dt.timedelta(days=1)


def _invoice(org, customer, today, issued: int, due: int, amount: int, currency: str = "USD", **values):
    return make_invoice(org, customer, issue_date=today - issued * DAY, due_date=today + due * DAY,
                        currency=currency, amount_minor=amount, balance_minor=amount, **values)


def _pay(invoice, minor: int, day: dt.date) -> None:
    with balance_reason(db.session, Reason("collected", "refunded", "stripe", day)):
        invoice.balance_minor -= minor
        if invoice.balance_minor == 0:
            invoice.status = "paid"
        db.session.flush()


@pytest.fixture
def ledger(app):
    org = make_org(base_currency="USD", time_zone="America/New_York")
    controller = make_user(org, "controller")
    today = local_today(org.time_zone)
    with tenant_scope(org.id):
        big = make_customer(org, name="Big Co", risk_tier="high", owner_id=controller.id)
        mid, euro, pound = (make_customer(org, name=name) for name in ("Mid Co", "Euro SA", "Pound Ltd"))
        a = _invoice(org, big, today, issued=10, due=20, amount=100_000)
        b = _invoice(org, big, today, issued=45, due=-15, amount=80_000)
        c = _invoice(org, mid, today, issued=70, due=-40, amount=50_000)
        _invoice(org, euro, today, issued=20, due=10, amount=10_000, currency="EUR")
        _invoice(org, pound, today, issued=5, due=25, amount=7_000, currency="GBP")  # no GBP rate
        f = _invoice(org, mid, today, issued=100, due=-70, amount=40_000)
        _pay(c, 20_000, today - 5 * DAY)
        _pay(f, 40_000, today - 50 * DAY)
        set_rate(db.session, org, controller, "EUR", today - 400 * DAY, Decimal("1.05"))
        set_rate(db.session, org, controller, "EUR", today - 30 * DAY, Decimal("1.10"))
        db.session.add_all([
            Promise(org_id=org.id, invoice_id=a.id, customer_id=big.id, currency="USD", amount_minor=10_000,
                    promised_date=today - 10 * DAY, status="kept"),
            Promise(org_id=org.id, invoice_id=b.id, customer_id=big.id, currency="USD", amount_minor=5_000,
                    promised_date=today - 20 * DAY, status="broken"),
            Promise(org_id=org.id, invoice_id=a.id, customer_id=big.id, currency="USD", amount_minor=3_000,
                    promised_date=today + 3 * DAY, status="pending"),
            Promise(org_id=org.id, invoice_id=a.id, customer_id=big.id, currency="USD", amount_minor=9_000,
                    promised_date=today + 30 * DAY, status="pending"),
            Promise(org_id=org.id, invoice_id=f.id, customer_id=mid.id, currency="USD", amount_minor=40_000,
                    promised_date=today - 100 * DAY, status="kept"),
            Dispute(org_id=org.id, invoice_id=b.id, customer_id=big.id, reason="pricing", status="investigating",
                    disputed_minor=20_000, opened_at=utcnow()),
            Message(org_id=org.id, idempotency_key="before-cash", customer_id=mid.id, invoice_id=c.id, status="sent",
                    sent_at=dt.datetime.combine(today - 8 * DAY, dt.time(15), dt.UTC)),
        ])
        db.session.commit()
    return org, controller, today
