"""A customer with two open invoices, and a browser that opened its portal link."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from plixo.extensions import db
from plixo.ledger.models import Customer, Invoice
from plixo.ledger.payer_links import portal_url
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, workspace_today

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@dataclass(frozen=True)
class Ledger:
    customer: Customer
    overdue: Invoice  # INV-1, 1,000.00, ten days past due
    upcoming: Invoice  # INV-2, 500.00, due in ten days


@pytest.fixture
def ledger(org) -> Ledger:
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex", time_zone="UTC")
        make_contact(customer, email="ap@globex.example")
        overdue = make_invoice(org, customer, number="INV-1", amount_minor=100_000, balance_minor=100_000)
        upcoming = make_invoice(org, customer, number="INV-2", amount_minor=50_000, balance_minor=50_000,
                                due_date=workspace_today() + dt.timedelta(days=10))
    db.session.commit()
    return Ledger(customer, overdue, upcoming)


def link_path(org, customer, version: int | None = None) -> str:
    """The path of the customer's portal link, as the e-mail carries it."""
    return urlsplit(portal_url(org.id, customer.id, customer.portal_version if version is None else version)).path


@pytest.fixture
def payer(app, org, ledger):
    """A browser that opened Globex's portal link (it now holds the portal session)."""
    client = app.test_client()
    assert client.get(link_path(org, ledger.customer)).status_code == 303
    return client


def reload(org, model, object_id):
    with tenant_scope(org.id):
        return db.session.get(model, object_id)


def in_days(days: int) -> str:
    return (workspace_today() + dt.timedelta(days=days)).isoformat()
