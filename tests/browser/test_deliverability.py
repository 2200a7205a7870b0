"""The Deliverability page in Chromium: the sending charts draw under the Content Security Policy."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from plixo.extensions import db
from plixo.mail.deliverability import add_domain
from plixo.mail.models import SendingDomain
from plixo.outreach.models import Message
from plixo.tenancy import tenant_scope
from tests.browser.test_shell import _sign_in
from tests.factories import make_contact, make_customer


def test_the_sending_charts_draw_without_breaking_the_content_security_policy(page, org, controller):
    now = dt.datetime.now(dt.UTC)
    with tenant_scope(org.id):
        add_domain(db.session, org, controller, "acme.example", now)
        contact = make_contact(make_customer(org))
        for n in range(30):
            db.session.add(Message(org_id=org.id, idempotency_key=f"chart{n}", customer_id=contact.customer_id,
                                   contact_id=contact.id, status="sent", sender_domain="acme.example",
                                   sent_at=now - dt.timedelta(days=n % 5), bounced_at=now if n == 0 else None))
        db.session.commit()
        sending_id = db.session.scalar(select(SendingDomain.id))
    _sign_in(page, controller)
    page.goto("/admin/deliverability")
    page.wait_for_function("document.querySelectorAll('canvas[data-chart]').length === 2 && "
                           "[...document.querySelectorAll('canvas[data-chart]')].every(c => window.Chart.getChart(c))")
    assert page.locator(f"#domain-{sending_id}-bounce-rate").inner_text().startswith("3.3% (1 of 30)")
    assert page.csp_violations == []
