"""Approvals in a real browser: Legal finds its write-off from the navigation and approves it; the controller sees
Legal's request labelled, and the queue's sidebar shows the same cards."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from playwright.sync_api import expect

from plixo.approvals import service as approvals
from plixo.extensions import db
from plixo.model import utcnow
from plixo.promises import plans
from plixo.promises.service import refresh_queue
from plixo.tenancy import tenant_scope
from tests.browser.test_shell import _sign_in
from tests.factories import make_contact, make_customer, make_invoice, make_user, plan_of, workspace_today

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("PLIXO_SCREENSHOTS")  # a folder to keep the pages' screenshots in, to look at them


@pytest.fixture
def requests_(org, controller):
    """A write-off for Legal, a payment plan and a small write-off for the controller; a Legal member."""
    lawyer = make_user(org, "legal", name="Lena Legal")
    operator = make_user(org, "operator", name="Omar Operator")
    with tenant_scope(org.id):
        globex = make_customer(org, name="Globex Industrial")
        make_contact(globex, email="ap@globex.example")
        initech = make_customer(org, name="Initech Payables")
        make_contact(initech, email="ap@initech.example")
        old = make_invoice(org, globex, number="INV-294", balance_minor=2_835_000, amount_minor=2_835_000,
                           due_date=workspace_today() - dt.timedelta(days=294))
        big = make_invoice(org, initech, number="INV-PLAN", balance_minor=9_336_800, amount_minor=9_336_800)
        small = make_invoice(org, initech, number="INV-DUST", balance_minor=4_000, amount_minor=4_000)
        refresh_queue(db.session, org, utcnow())
        legal = approvals.request_write_off(db.session, org, old, operator, "Customer in liquidation", utcnow())
        plans.propose_plan(db.session, org, big, operator, plan_of(3_112_300, 3_112_300, 3_112_200), utcnow())
        approvals.request_write_off(db.session, org, small, operator, "Bank charges left over", utcnow())
        db.session.commit()
        return {"lawyer": lawyer, "legal": legal.id}


def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.set_viewport_size({"width": 1440, "height": 1000})  # not full_page: that injects a style the CSP refuses
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), caret="initial")  # "hide" injects a style


def test_legal_approves_a_write_off_from_the_navigation(page, requests_):
    _sign_in(page, requests_["lawyer"])
    nav = page.get_by_role("link", name="Approvals")
    expect(nav).to_contain_text("1 pending")
    nav.click()
    card = page.locator(f"#approval-{requests_['legal']}")
    expect(card).to_contain_text("Globex Industrial")
    expect(card).to_contain_text("INV-294")
    expect(card).to_contain_text("Write off $28,350.00")
    expect(card).to_contain_text("Customer in liquidation")
    expect(card).to_contain_text("for Legal")
    expect(card).to_contain_text("Omar Operator")
    expect(page.locator("#approvals")).not_to_contain_text("INV-PLAN")  # the controller's, not Legal's
    _shot(page, "approvals-legal")

    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    card.get_by_role("button", name="Approve").click()
    expect(card).to_have_count(0)
    assert dialogs and "Write off $28,350.00 on Globex Industrial · INV-294?" in dialogs[0]
    expect(page.locator("#approvals")).to_contain_text("Nothing waits for your decision")
    expect(page.locator("#toasts")).to_contain_text("Request approved.")
    expect(nav.locator("[data-approvals-waiting]")).to_be_hidden()
    _shot(page, "approvals-legal-empty")
    assert page.csp_violations == []


def test_the_controller_sees_legals_request_labelled_in_the_queue_sidebar(page, controller, requests_):
    _sign_in(page, controller)
    page.goto("/work/queue")
    sidebar = page.locator("#approvals")
    legal = sidebar.locator(f"#approval-{requests_['legal']}")
    expect(legal).to_contain_text("for Legal")
    expect(legal).to_contain_text("Awaiting Legal")
    expect(legal.get_by_role("button")).to_have_count(0)
    plan = sidebar.locator(".approval-payment-plan")
    expect(plan).to_contain_text("Plan of 3 installments, $93,368.00 in total")
    expect(plan).to_contain_text("INV-PLAN")
    expect(page.get_by_role("link", name="Approvals")).to_contain_text("2 pending")
    _shot(page, "queue-sidebar-controller")

    dust = sidebar.locator(".approval-write-off", has_text="INV-DUST")
    dust.get_by_role("button", name="Reject").click()  # no reason typed: refused under the card
    expect(dust).to_contain_text("Say why the request is rejected.")
    dust.get_by_label("Comment").fill("Collect it with the next invoice")
    dust.get_by_role("button", name="Reject").click()
    expect(sidebar.locator(".approval-write-off", has_text="INV-DUST")).to_have_count(0)
    expect(page.get_by_role("link", name="Approvals")).to_contain_text("1 pending")
    page.goto("/work/approvals")
    _shot(page, "approvals-controller")
    assert page.csp_violations == []


def test_legal_opens_its_mention_and_approves_the_write_off_from_there(page, org, controller, requests_):
    from sqlalchemy import select

    from plixo.ledger.models import Invoice
    from plixo.notes import service as notes

    lawyer = requests_["lawyer"]
    with tenant_scope(org.id):
        invoice = db.session.scalar(select(Invoice).where(Invoice.number == "INV-294"))
        notes.add_note(db.session, org, invoice, controller,
                       f"@{lawyer.email.split('@')[0]} the liquidator wrote; can you decide the write-off?")
        db.session.commit()
    _sign_in(page, lawyer)
    page.get_by_role("link", name="Cora Controller mentioned you").first.click()
    expect(page.locator(".customer-timeline li.linked")).to_contain_text("the liquidator wrote")
    page.get_by_role("link", name="Decide in Approvals").click()
    card = page.locator(f"#approval-{requests_['legal']}")
    expect(card).to_contain_text("for Legal")
    page.on("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Approve").click()
    expect(card).to_have_count(0)
    expect(page.locator("#toasts")).to_contain_text("Request approved.")
    db.session.commit()  # a fresh snapshot: what the server committed
    with tenant_scope(org.id):
        assert db.session.scalar(select(Invoice.status).where(Invoice.number == "INV-294")) == "written_off"
    assert page.csp_violations == []
