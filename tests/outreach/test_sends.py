"""Sending from the inspector: quiet hours move the send, stopped invoices refuse it."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.actions import ActionError
from plixo.extensions import db
from plixo.model import utcnow as now
from plixo.outreach import sends
from plixo.outreach.models import Message


def test_sending_outside_quiet_hours_rules_waits_for_the_next_allowed_moment(scoped, controller, invoice):
    saturday_night = dt.datetime(2026, 11, 21, 23, 30, tzinfo=dt.UTC)
    message = sends.send_email(db.session, scoped, invoice, controller, "Subject", "Body", {},
                                 invoice.customer.contacts[0], saturday_night)
    assert message.scheduled_for == dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)  # Monday, quiet hours end
    assert "Quiet hours" in message.wait_reason


def test_sending_to_a_stopped_invoice_is_refused(scoped, controller, invoice):
    invoice.balance_minor, invoice.status = 0, "paid"
    db.session.flush()
    with pytest.raises(ActionError, match="Paid in full"):
        sends.send_email(db.session, scoped, invoice, controller, "S", "B", {}, invoice.customer.contacts[0], now())
    assert db.session.scalars(select(Message)).all() == []
