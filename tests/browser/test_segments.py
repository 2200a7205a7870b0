"""The segment rule builder in a real browser: the count follows the rules, Save stores the segment."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from plixo.extensions import db
from plixo.tenancy import tenant_scope
from tests.browser.test_shell import _sign_in
from tests.factories import make_contact, make_customer, make_invoice, workspace_today

pytestmark = pytest.mark.browser


def test_rule_builder_counts_live_and_saves(page, org, controller):
    with tenant_scope(org.id):
        for tier, days in (("low", 10), ("low", 45), ("high", 10)):
            customer = make_customer(org, risk_tier=tier)
            make_contact(customer)
            make_invoice(org, customer, due_date=workspace_today() - dt.timedelta(days=days))
    db.session.commit()
    _sign_in(page, controller)
    page.goto("/admin/segments/new")
    page.wait_for_function("() => window.htmx !== undefined")
    preview = page.locator("#segment-preview")
    expect(preview).to_contain_text("3")
    page.get_by_label("Low").check()
    expect(preview.locator(".kpi-value")).to_have_text("2")
    page.get_by_label("1-30").check()
    expect(preview.locator(".kpi-value")).to_have_text("1")
    page.get_by_label("Name").fill("Low risk in 1-30")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("link", name="Low risk in 1-30")).to_be_visible()
    expect(page.locator("#toasts")).to_contain_text("saved")
    assert page.csp_violations == []
