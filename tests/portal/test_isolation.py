"""A portal session reaches its own customer's invoices only: never another customer's, never another workspace's."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.ledger.models import Invoice
from plixo.promises.models import PaymentPlan, Promise
from plixo.tenancy import tenant_scope
from tests.factories import across_workspaces, make_customer, make_invoice, make_org
from tests.portal.conftest import in_days, reload

ATTEMPTS = [
    ("/portal/dispute", {"reason": "pricing", "message": "Not ours"}),
    ("/portal/promise", {"amount": "10", "promised_date": in_days(5)}),
    ("/portal/plan", {"installment_date": [in_days(10), in_days(40)], "installment_amount": ["500", "500"]}),
    ("/portal/pay", {}),
]


def changes_anywhere() -> int:
    return sum(len(across_workspaces(select(model))) for model in (Dispute, Promise, PaymentPlan))


@pytest.fixture
def neighbour(org):
    """Another customer of the same workspace, with an open invoice."""
    with tenant_scope(org.id):
        invoice = make_invoice(org, make_customer(org, name="Initech"), number="NEIGHBOUR-1",
                               amount_minor=100_000, balance_minor=100_000)
    db.session.commit()
    return invoice


@pytest.fixture
def foreign():
    """An open invoice in another workspace."""
    other = make_org(name="Umbrella")
    with tenant_scope(other.id):
        invoice = make_invoice(other, make_customer(other, name="Umbrella Buyer"), number="FOREIGN-1",
                               amount_minor=100_000, balance_minor=100_000)
    db.session.commit()
    return other, invoice


@pytest.mark.parametrize(("path", "form"), ATTEMPTS)
def test_another_customers_invoice_is_not_found_and_nothing_changes(payer, org, neighbour, path, form):
    response = payer.post(path, data={"invoice_id": neighbour.id, **form})
    assert response.status_code == 404 and "NEIGHBOUR-1" not in response.get_data(as_text=True)
    assert reload(org, Invoice, neighbour.id).status == "open" and changes_anywhere() == 0


@pytest.mark.parametrize(("path", "form"), ATTEMPTS)
def test_another_workspaces_invoice_is_not_found_and_nothing_changes(payer, foreign, path, form):
    other, invoice = foreign
    response = payer.post(path, data={"invoice_id": invoice.id, **form})
    assert response.status_code == 404 and "FOREIGN-1" not in response.get_data(as_text=True)
    assert reload(other, Invoice, invoice.id).status == "open" and changes_anywhere() == 0


def test_paying_own_and_foreign_invoices_together_is_not_found(payer, ledger, neighbour):
    response = payer.post("/portal/pay", data={"invoice_id": [ledger.overdue.id, neighbour.id]})
    assert response.status_code == 404


def test_the_page_lists_only_the_payers_invoices(payer, neighbour, foreign):
    shown = payer.get("/portal").get_data(as_text=True)
    assert "INV-1" in shown and "NEIGHBOUR-1" not in shown and "FOREIGN-1" not in shown and "Umbrella" not in shown


def test_the_same_customer_id_in_another_workspace_opens_nothing_there(anon, org, ledger, foreign):
    from plixo.ledger.payer_links import portal_token

    _other, invoice = foreign
    # A link names its workspace: another workspace's customer id, read in this one, is no customer at all.
    token = portal_token(org.id, invoice.customer_id, 1)
    response = anon.get(f"/portal/{token}")
    assert response.status_code == 410 and invoice.number not in response.get_data(as_text=True)
    assert "plixo_portal=" not in response.headers.get("Set-Cookie", "")  # no session for anyone
