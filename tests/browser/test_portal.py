"""The payer mini-portal in a real browser: open the e-mailed link, propose a plan, dispute an invoice."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from plixo.extensions import db
from plixo.ledger.payer_links import portal_url
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, workspace_today

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def portal_link(org):
    """The path of the portal link e-mailed to Globex, which owes INV-1 (1,000.00) and INV-2 (500.00)."""
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex", time_zone="UTC")
        make_contact(customer, email="ap@globex.example")
        first = make_invoice(org, customer, number="INV-1", amount_minor=100_000, balance_minor=100_000)
        second = make_invoice(org, customer, number="INV-2", amount_minor=50_000, balance_minor=50_000)
    db.session.commit()
    return urlsplit(portal_url(org.id, customer.id, customer.portal_version)).path, first, second


def test_payer_proposes_a_plan_and_disputes_an_invoice(page, portal_link):
    path, first, second = portal_link
    page.goto(path)
    assert urlsplit(page.url).path == "/portal"  # the token has left the address bar
    invoices = page.locator("#portal-invoices")
    expect(invoices).to_contain_text("INV-1")
    expect(page.locator("#portal-totals")).to_contain_text("$1,500.00")
    page.wait_for_function("() => window.Plixo !== undefined")

    page.locator("#plan-action summary").click()
    page.locator("#plan-invoice").select_option(str(first.id))
    page.get_by_label("Date 1", exact=True).fill((workspace_today() + dt.timedelta(days=14)).isoformat())
    page.get_by_label("Date 2", exact=True).fill((workspace_today() + dt.timedelta(days=44)).isoformat())
    page.get_by_role("button", name="Split the balance evenly over the dates").click()
    expect(page.get_by_label("Amount 2", exact=True)).to_have_value("500.00")
    page.get_by_role("button", name="Propose plan").click()

    expect(page.locator("#portal-notice")).to_contain_text("Your payment plan is accepted")
    expect(page.locator(f"#invoice-{first.id}")).to_contain_text("Plan: accepted")
    expect(page.locator("#portal-requests")).to_contain_text("Payment plan for INV-1")

    page.locator("#dispute-action summary").click()
    page.locator("#dispute-invoice").select_option(str(second.id))
    page.get_by_label("What is wrong?").select_option("quantity")
    page.get_by_label("Message").fill("We received 8 units, not 10.")
    page.get_by_label("Supporting document (optional)").set_input_files(
        {"name": "delivery-note.pdf", "mimeType": "application/pdf", "buffer": PDF})
    page.get_by_role("button", name="Send dispute").click()

    expect(page.locator("#portal-notice")).to_contain_text("Your dispute was received")
    expect(page.locator(f"#invoice-{second.id}")).to_contain_text("Disputed")
    expect(page.locator("#portal-requests")).to_contain_text("Dispute about INV-2: Quantity")
    assert page.csp_violations == []


def test_a_mistake_in_the_plan_is_explained_and_nothing_is_lost(page, portal_link):
    path, first, _second = portal_link
    page.goto(path)
    page.locator("#plan-action summary").click()
    page.locator("#plan-invoice").select_option(str(first.id))
    page.get_by_label("Date 1", exact=True).fill((workspace_today() + dt.timedelta(days=14)).isoformat())
    page.get_by_label("Amount 1", exact=True).fill("400")
    page.get_by_label("Date 2", exact=True).fill((workspace_today() + dt.timedelta(days=44)).isoformat())
    page.get_by_label("Amount 2", exact=True).fill("500")
    page.get_by_role("button", name="Propose plan").click()

    expect(page.get_by_role("alert")).to_contain_text("but the balance is $1,000.00")
    expect(page.get_by_label("Amount 1", exact=True)).to_have_value("400")
    expect(page.locator("#portal-requests")).to_have_count(0)
