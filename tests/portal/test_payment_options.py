"""The portal offers Pay only while Stripe is connected; otherwise it shows how to pay by bank transfer."""

from __future__ import annotations

from plixo.accounts.models import Organization
from plixo.connectors.models import Connection
from plixo.extensions import db
from plixo.payments.models import CheckoutSession
from plixo.tenancy import tenant_scope
from tests.factories import across_workspaces

REMITTANCE = "Bank: First Example Bank\nIBAN: DE89 3704 0044 0532 0130 00\nReference: your invoice number"


def set_org(org, **values) -> None:
    stored = db.session.get(Organization, org.id)
    for name, value in values.items():
        setattr(stored, name, value)
    db.session.commit()


def connect_stripe(org, status: str = "active") -> None:
    with tenant_scope(org.id):
        db.session.add(Connection(org_id=org.id, kind="stripe", provider="stripe", status=status,
                                  display_name="Acme on Stripe", external_account_id="acct_test"))
        db.session.flush()
    db.session.commit()


def test_without_stripe_there_is_no_pay_button_and_the_remittance_details_are_shown(payer, org):
    set_org(org, remittance_details=REMITTANCE)
    page = payer.get("/portal").get_data(as_text=True)
    assert "Pay selected" not in page and 'name="invoice_id" value=' not in page.split('id="pay-form"')[1][:4000]
    assert "continue to Stripe" not in page and "Card payments are handled by Stripe" not in page
    assert 'id="portal-remittance"' in page and "IBAN: DE89 3704 0044 0532 0130 00" in page
    assert "does not take card payments online" in page


def test_without_stripe_or_remittance_details_the_payer_is_asked_to_contact_the_workspace(payer, org):
    page = payer.get("/portal").get_data(as_text=True)
    assert "Pay selected" not in page
    assert 'id="remittance-contact"' in page and f"Please contact {org.name}" in page


def test_a_forged_pay_request_without_stripe_is_refused_clearly_and_starts_nothing(payer, org, ledger):
    set_org(org, remittance_details=REMITTANCE)
    response = payer.post("/portal/pay", data={"invoice_id": [ledger.overdue.id]})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Online payment is not available" in page and "Pay by bank transfer with the details" in page
    assert across_workspaces(db.select(CheckoutSession)) == []


def test_the_refusal_without_remittance_details_says_to_contact_the_workspace(payer, org, ledger):
    response = payer.post("/portal/pay", data={"invoice_id": [ledger.overdue.id]})
    assert response.status_code == 409 and f"Please contact {org.name} to pay." in response.get_data(as_text=True)


def test_with_stripe_connected_pay_is_offered_and_remittance_details_are_an_alternative(payer, org, ledger):
    connect_stripe(org)
    set_org(org, remittance_details=REMITTANCE)
    page = payer.get("/portal").get_data(as_text=True)
    assert "Pay selected" in page and f'id="pay-{ledger.overdue.id}"' in page
    assert "Prefer to pay by bank transfer?" in page and "IBAN: DE89" in page


def test_with_stripe_connected_and_no_remittance_details_only_pay_is_shown(payer, org):
    connect_stripe(org)
    page = payer.get("/portal").get_data(as_text=True)
    assert "Pay selected" in page and 'id="portal-remittance"' not in page


def test_a_stripe_connection_that_is_not_active_counts_as_not_connected(payer, org):
    connect_stripe(org, status="restricted")
    assert "Pay selected" not in payer.get("/portal").get_data(as_text=True)


def test_the_portal_shows_the_legal_name_in_its_footer(payer, org):
    set_org(org, legal_name="Acme Test Company Inc.")
    assert "A secure page from Acme Test Company Inc." in payer.get("/portal").get_data(as_text=True)
