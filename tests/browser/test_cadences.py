"""The Create cadence wizard in a real browser: steps, reordering, a real invoice in the preview, launch, archive."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from plixo.extensions import db
from plixo.outreach.models import Segment
from plixo.tenancy import tenant_scope
from tests.browser.test_shell import _sign_in
from tests.factories import make_contact, make_customer, make_invoice, workspace_today

pytestmark = pytest.mark.browser


def test_wizard_creates_a_shadow_cadence(page, org, controller):
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex")
        make_contact(customer)
        make_invoice(org, customer, number="INV-LIVE-7", due_date=workspace_today() - dt.timedelta(days=20))
        db.session.add(Segment(org_id=org.id, name="All overdue", rules={}))
        db.session.commit()
    _sign_in(page, controller)
    page.goto("/admin/cadences")
    page.get_by_role("link", name="Create cadence").click()
    page.wait_for_function("() => window.htmx !== undefined")

    page.get_by_label("Name", exact=True).fill("Gentle reminders")
    page.get_by_label("Segment").select_option(label="All overdue · Shadow Mode")
    page.get_by_role("button", name="Next: sequence").click()
    expect(page.locator("#step-1")).to_be_visible()
    expect(page.locator("#cadence-preview")).to_contain_text("INV-LIVE-7")

    page.get_by_role("button", name="Add a step").click()
    expect(page.locator("#step-2")).to_be_visible()
    page.locator("#step-2-subject").fill("Second touch on {invoice_number}")
    page.get_by_role("button", name="Move step 2 up").click()
    expect(page.locator("#step-1-subject")).to_have_value("Second touch on {invoice_number}")
    page.get_by_role("button", name="Move step 1 down").click()
    expect(page.locator("#step-2-subject")).to_have_value("Second touch on {invoice_number}")

    page.get_by_role("button", name="Preview step 2").click()
    expect(page.locator("#cadence-preview")).to_contain_text("Second touch on INV-LIVE-7")

    page.get_by_role("button", name="Next: review").click()
    expect(page.get_by_text("3 days after the due date")).to_be_visible()
    expect(page.get_by_text("7 days after the previous touch")).to_be_visible()
    expect(page.get_by_role("radio", name="Shadow")).to_be_checked()
    page.get_by_role("button", name="Launch").click()

    expect(page).to_have_url(re.compile(r"/admin/cadences$"))
    expect(page.locator("#cadences")).to_contain_text("Gentle reminders")
    expect(page.locator("#cadences")).to_contain_text("Shadow")
    expect(page.locator("#toasts")).to_contain_text("launched in Shadow")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Archive").click()
    expect(page.locator("#toasts")).to_contain_text("“Gentle reminders” archived.")
    expect(page.locator("#cadences")).not_to_contain_text("Gentle reminders")
    assert page.csp_violations == []
