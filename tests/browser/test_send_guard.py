"""The send guard in a real browser: S pressed three times on one invoice."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from plixo.accounts.models import Policy
from plixo.extensions import db
from plixo.model import utcnow
from plixo.outreach.models import Message
from plixo.promises.service import refresh_queue
from plixo.tenancy import tenant_scope
from tests.browser.test_shell import _sign_in
from tests.factories import make_contact, make_customer, make_invoice, workspace_today

pytestmark = pytest.mark.browser


@pytest.fixture
def overdue(org):
    with tenant_scope(org.id):
        policy = db.session.scalar(select(Policy))
        # Every hour and day may send, so the test means the same whenever it runs: the gap is under test.
        policy.quiet_hours_start = policy.quiet_hours_end = dt.time(0, 0)
        policy.sending_days = [0, 1, 2, 3, 4, 5, 6]
        customer = make_customer(org, name="Hooli GmbH", time_zone="Europe/Berlin")
        make_contact(customer, email="ap@hooli.example")
        invoice = make_invoice(org, customer, number="INV-77", due_date=workspace_today() - dt.timedelta(days=40))
        refresh_queue(db.session, org, utcnow())
    db.session.commit()
    return invoice


def press_send_on(page, invoice_id: int) -> None:
    page.goto(f"/work/queue/{invoice_id}")
    page.wait_for_function("() => window.htmx !== undefined && window.Plixo !== undefined")
    expect(page.locator("#inspector .inspector-title")).to_contain_text("INV-77")
    page.keyboard.press("s")


def test_pressing_s_three_times_sends_once_schedules_once_after_the_gap_and_explains(page, controller, overdue):
    invoice_id = overdue.id
    _sign_in(page, controller)
    toasts = page.locator("#toasts")

    press_send_on(page, invoice_id)
    expect(toasts).to_contain_text("is on its way")

    press_send_on(page, invoice_id)
    expect(page.locator("[data-guard-verdict]")).to_contain_text("Minimum gap of 48 h")
    expect(toasts).to_contain_text("scheduled. Minimum gap of 48 h: goes")
    expect(toasts).to_contain_text("Europe/Berlin")

    press_send_on(page, invoice_id)
    expect(toasts).to_contain_text("already waits to go")
    page.screenshot(path="test-artifacts/send-guard.png", full_page=True)

    db.session.commit()
    with tenant_scope(overdue.org_id):
        moments = sorted(db.session.scalars(select(Message.scheduled_for).where(
            Message.status.in_(("scheduled", "sending", "sent")))))
    assert len(moments) == 2 and moments[1] - moments[0] >= dt.timedelta(hours=48)
    assert page.csp_violations == []
