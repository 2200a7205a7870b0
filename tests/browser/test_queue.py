"""The collections queue in a real browser, driven from the keyboard only."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from plixo.extensions import db
from plixo.model import utcnow
from plixo.promises.service import refresh_queue
from plixo.tenancy import tenant_scope
from tests.browser.test_shell import _sign_in
from tests.factories import make_contact, make_customer, make_invoice, make_user, workspace_today

pytestmark = pytest.mark.browser


@pytest.fixture
def operator_queue(org):
    """An operator who owns three customers with one overdue invoice each (oldest first in the queue)."""
    operator = make_user(org, "operator", name="Olive Operator")
    with tenant_scope(org.id):
        for n, days in enumerate((90, 60, 30), start=1):
            customer = make_customer(org, name=f"Customer {n} Ltd", owner_id=operator.id)
            make_contact(customer, email=f"ap@customer{n}.example")
            make_invoice(org, customer, number=f"INV-{n}", due_date=workspace_today() - dt.timedelta(days=days))
        refresh_queue(db.session, org, utcnow())
    db.session.commit()
    return operator


def test_operator_works_the_queue_from_the_keyboard(page, operator_queue):
    _sign_in(page, operator_queue)
    page.goto("/work/queue")
    page.wait_for_function("() => window.htmx !== undefined && window.Plixo !== undefined")
    inspector = page.locator("#inspector")
    expect(inspector).to_contain_text("Pick an invoice")

    page.keyboard.press("j")
    expect(inspector.locator(".inspector-title")).to_contain_text("INV-1")
    page.keyboard.press("j")
    expect(inspector.locator(".inspector-title")).to_contain_text("INV-2")
    page.keyboard.press("k")
    expect(inspector.locator(".inspector-title")).to_contain_text("INV-1")
    expect(page.locator("#row-" + inspector.get_attribute("data-invoice-id"))).to_have_class("queue-row selected")

    page.keyboard.press("e")
    expect(page.locator("#compose-body")).to_be_focused()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nThank you for your help, {customer_name}.")
    expect(page.locator("#compose-preview")).to_contain_text("Thank you for your help, Customer 1 Ltd.")
    page.keyboard.press("Escape")
    expect(page.locator("#compose-body")).not_to_be_focused()

    page.keyboard.press("s")
    expect(page.locator("#toasts")).to_contain_text("ap@customer1.example")
    expect(page.locator("#queue-rows")).not_to_contain_text("INV-1")
    expect(inspector.locator(".inspector-title")).to_contain_text("INV-2")
    assert page.csp_violations == []


def test_question_mark_lists_the_queue_shortcuts(page, operator_queue):
    _sign_in(page, operator_queue)
    page.goto("/work/queue")
    page.wait_for_function("() => window.Plixo !== undefined")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_contain_text("Send the selected invoice")


def test_send_that_cannot_go_explains_why(page, operator_queue):
    _sign_in(page, operator_queue)
    page.goto("/work/queue")
    page.wait_for_function("() => window.htmx !== undefined && window.Plixo !== undefined")
    page.keyboard.press("j")
    expect(page.locator("#inspector .inspector-title")).to_contain_text("INV-1")
    page.locator("#compose-body").fill("Dear {customer}")
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    expect(page.locator("#toasts")).to_contain_text("Unknown merge field {customer}")
    expect(page.locator("#queue-rows")).to_contain_text("INV-1")
