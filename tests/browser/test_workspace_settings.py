"""Admin → Workspace settings in a real browser: a controller changes the time zone, brand colour, signature and
remittance details and sees them applied; the portal, with Stripe not connected, shows the remittance details
instead of Pay; a cadence in Shadow shows its days left and what it would have sent."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from plixo.accounts.models import Organization
from plixo.extensions import db
from plixo.ledger.payer_links import portal_url
from plixo.model import utcnow
from plixo.outreach.cadences import StepInput, create_cadence, tick
from plixo.outreach.models import Segment
from plixo.tenancy import tenant_scope
from tests.browser.test_shell import _sign_in
from tests.factories import make_contact, make_customer, make_invoice, workspace_today

pytestmark = pytest.mark.browser

SIGNATURE = "Acme Test Co · Accounts Receivable\n+1 555 0100 · ar@acmetest.example"
REMITTANCE = "Bank: First Harbor Bank\nAccount: 4401 2287 9031 · Routing: 011000138\nReference: your invoice number"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


def _shot(page, name: str) -> None:
    """Keep a screenshot when SCREENSHOT_DIR is set (for a person to look at)."""
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_controller_changes_the_settings_and_the_portal_uses_them(page, org, controller):
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex", time_zone="UTC")
        make_contact(customer, email="ap@globex.example")
        make_invoice(org, customer, number="INV-1", amount_minor=100_000, balance_minor=100_000)
    db.session.commit()
    _sign_in(page, controller)
    page.goto("/")
    page.get_by_role("link", name="Workspace", exact=True).click()
    expect(page).to_have_url(page.url.split("/admin")[0] + "/admin/workspace")
    expect(page.locator("#settings-form")).to_contain_text("Invoices keep their own currencies")

    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_label("Brand colour").fill("teal")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#time_zone-error")).to_contain_text("not a time zone name")
    expect(page.locator("#brand_color-error")).to_contain_text("six hexadecimal digits")
    db.session.expire_all()
    assert db.session.get(Organization, org.id).time_zone == "America/New_York"  # nothing saved

    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Brand colour").fill("#0f766e")
    page.get_by_label("Remittance details").fill(REMITTANCE)
    page.get_by_label("Default signature").fill(SIGNATURE)
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#toasts")).to_contain_text("Workspace settings saved")
    expect(page.locator("#settings-form")).to_contain_text("Now: Europe/Berlin · USD")
    expect(page.locator("#signature-preview")).to_contain_text("+1 555 0100 · ar@acmetest.example")
    expect(page.locator("#no-stripe-note")).to_contain_text("shows these remittance details instead")

    page.get_by_label("Upload a logo").set_input_files({"name": "logo.png", "mimeType": "image/png", "buffer": PNG})
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#toasts")).to_contain_text("Logo saved")
    expect(page.locator(".settings-logo")).to_be_visible()
    _shot(page, "settings")
    assert page.csp_violations == []

    path = urlsplit(portal_url(org.id, customer.id, customer.portal_version)).path
    page.goto(path)
    expect(page.locator("#portal-remittance")).to_contain_text("Routing: 011000138")
    expect(page.get_by_role("button", name="Pay selected")).to_have_count(0)
    expect(page.locator(".portal-logo")).to_be_visible()
    accent = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--portal-accent')")
    assert accent.strip() == "#0f766e"
    _shot(page, "portal")
    assert page.csp_violations == []


def test_a_cadence_in_shadow_shows_days_left_and_what_it_would_have_sent(page, org, controller):
    with tenant_scope(org.id):
        segment = Segment(org_id=org.id, name="All overdue", rules={})
        db.session.add(segment)
        db.session.flush()
        create_cadence(db.session, org, controller, "Gentle reminders", segment.id,
                       [StepInput(3, "due_date", "Invoice {invoice_number} is overdue",
                                  "Hello {customer_name},\n\n{amount_due} was due on {due_date}.\n\n{sender_name}")],
                       "shadow", utcnow() - dt.timedelta(days=4))
        for name in ("Globex", "Initech"):
            customer = make_customer(org, name=name, time_zone="UTC")
            make_contact(customer, email=f"ap@{name.lower()}.example")
            make_invoice(org, customer, number=f"INV-{name[:3].upper()}", due_date=workspace_today()
                         - dt.timedelta(days=9))
        tick(db.session, db.session.get(Organization, org.id), utcnow())
    db.session.commit()
    _sign_in(page, controller)
    page.goto("/admin/cadences")
    expect(page.locator("#cadences table")).to_contain_text("10 days of Shadow left")
    expect(page.get_by_role("button", name="Activate")).to_have_count(0)
    page.get_by_role("link", name="Gentle reminders").click()
    expect(page.locator("#shadow-progress")).to_contain_text("10 days of Shadow left")
    messages = page.locator("#shadow-messages")
    expect(messages).to_contain_text("Globex")
    expect(messages).to_contain_text("INV-INI")
    messages.locator("summary", has_text="Read").first.click()
    expect(messages.locator(".shadow-mail-body").first).to_be_visible()
    _shot(page, "cadence")

    page.locator("#end-shadow summary").click()
    page.get_by_label("Why end Shadow").fill("The CFO reviewed every draft with us; go live before month end.")
    page.get_by_role("button", name="End Shadow and activate").click()
    expect(page.locator("#shadow-ended-early")).to_contain_text("The CFO reviewed every draft")
    assert page.csp_violations == []
