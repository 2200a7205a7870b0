"""Replies in a real browser: an operator finds the waiting replies from the navigation, accepts a suggested
dispute with one key, and the invoice leaves the queue; J moves to the next reply, H settles it."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from playwright.sync_api import expect

from plixo.extensions import db
from plixo.model import utcnow
from plixo.promises.service import refresh_queue
from plixo.replies.models import Reply
from plixo.tenancy import tenant_scope
from tests.browser.test_shell import _sign_in
from tests.factories import make_contact, make_customer, make_invoice, make_user, workspace_today

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("PLIXO_SCREENSHOTS")


@pytest.fixture
def replies(org):
    operator = make_user(org, "operator", name="Omar Operator")
    with tenant_scope(org.id):
        globex = make_customer(org, name="Globex Industrial")
        make_contact(globex, email="dana@globex.example")
        initech = make_customer(org, name="Initech Payables")
        make_contact(initech, email="ap@initech.example")
        disputed = make_invoice(org, globex, number="INV-4410", balance_minor=1_245_000, amount_minor=1_245_000,
                                due_date=workspace_today() - dt.timedelta(days=12))
        other = make_invoice(org, initech, number="INV-5120", balance_minor=310_000, amount_minor=310_000,
                             due_date=workspace_today() - dt.timedelta(days=30))
        disputed.assignee_id = other.assignee_id = operator.id  # the operator's own queue
        now = utcnow()
        for invoice, sender, label, body, hours in (
                (disputed, "dana@globex.example", "dispute",
                 "We can't approve INV-4410 for payment: the rate is not what we agreed (95/h, not 110/h).", 30),
                (other, "ap@initech.example", "other", "Who is our account manager now? Please call me.", 3)):
            db.session.add(Reply(org_id=org.id, header_message_id=f"<{label}@example>", customer_id=invoice.customer_id,
                                 invoice_id=invoice.id, matched_by="invoice_number", from_email=sender,
                                 subject=f"Re: Invoice {invoice.number}", body=body, label=label,
                                 confidence_pct=70 if label == "dispute" else 50,
                                 reasons=["“not what we agreed”"] if label == "dispute" else [],
                                 received_at=now - dt.timedelta(hours=hours), currency="USD"))
        refresh_queue(db.session, org, now)
        db.session.commit()
    return {"operator": operator, "disputed": disputed.id}


def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.set_viewport_size({"width": 1440, "height": 1000})
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), caret="initial")


def test_an_operator_accepts_a_suggested_dispute_with_one_key(page, replies):
    _sign_in(page, replies["operator"])
    page.goto("/work/queue")
    expect(page.locator(f"#row-{replies['disputed']}")).to_be_visible()
    nav = page.get_by_role("link", name="Replies")
    expect(nav).to_contain_text("2 waiting")
    nav.click()
    page.wait_for_url("**/work/replies")
    page.wait_for_load_state("load")  # the keys are bound by the deferred script
    first = page.locator("[data-triage-item]").first
    expect(first).to_contain_text("Globex Industrial")
    expect(first).to_contain_text("not what we agreed")
    expect(first).to_have_attribute("aria-current", "true")
    _shot(page, "replies")
    page.keyboard.press("a")
    expect(page.locator(".toast").last).to_contain_text("INV-4410 disputed")
    expect(page.locator("[data-triage-item]")).to_have_count(1)
    expect(page.locator("#triage")).to_contain_text("Handled this week")
    expect(nav).to_contain_text("1 waiting")
    page.keyboard.press("h")
    expect(page.locator("#triage")).to_contain_text("No reply is waiting")
    expect(nav.locator("[data-replies-waiting]")).to_be_hidden()
    _shot(page, "replies-done")
    page.goto("/work/queue")
    expect(page.locator(f"#row-{replies['disputed']}")).to_have_count(0)
    assert page.csp_violations == []
