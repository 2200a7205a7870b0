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


# --- The send guard on a person's e-mails ------------------------------------------------------------------

TUESDAY = dt.datetime(2026, 12, 8, 10, 0, tzinfo=dt.UTC)


def press_send(org, user, invoice, wording: str, at=TUESDAY, override=None):
    return sends.send_email(db.session, org, invoice, user, f"About {invoice.number}", wording, {},
                            invoice.customer.contacts[0], at, override=override)


def test_three_presses_send_one_email_now_schedule_the_second_after_the_gap_and_refuse_the_third(
        scoped, controller, invoice):
    first = press_send(scoped, controller, invoice, "Please pay.")
    second = press_send(scoped, controller, invoice, "A friendly second note.")
    assert first.scheduled_for == TUESDAY and first.wait_reason is None
    assert second.scheduled_for == TUESDAY + dt.timedelta(hours=48)
    assert second.wait_reason == "Minimum gap of 48 h: goes Thu 10 Dec 10:00 in UTC"
    with pytest.raises(ActionError, match="already waits to go Thu 10 Dec 10:00"):
        press_send(scoped, controller, invoice, "A third, firmer note.")
    assert len(db.session.scalars(select(Message).where(Message.status == "scheduled")).all()) == 2


def test_the_gap_holds_across_the_customers_invoices(scoped, controller, invoice):
    from tests import factories

    other = factories.make_invoice(scoped, invoice.customer, number="INV-2", balance_minor=5_000)
    press_send(scoped, controller, invoice, "Please pay.")
    assert press_send(scoped, controller, other, "And this one.").scheduled_for == TUESDAY + dt.timedelta(hours=48)


def test_the_same_text_twice_is_one_email(scoped, controller, invoice):
    assert press_send(scoped, controller, invoice, "Please pay.").id == \
        press_send(scoped, controller, invoice, "Please pay.").id


def test_an_override_needs_the_permission_and_a_reason_and_is_audited(scoped, controller, invoice):
    from tests.factories import audited

    press_send(scoped, controller, invoice, "Please pay.")
    with pytest.raises(ActionError, match="Only a controller or an A/R manager"):
        sends.Override.asked("The customer asked for it today", permitted=False)
    with pytest.raises(ActionError, match="Say why"):
        sends.Override.asked("  ", permitted=True)
    override = sends.Override.asked("The customer asked for a copy today", permitted=True)
    waived = press_send(scoped, controller, invoice, "Here is the copy.", override=override)
    assert waived.scheduled_for == TUESDAY and waived.guard_override == "The customer asked for a copy today"
    assert audited("queue.guard_overridden")


def test_an_override_never_waives_quiet_hours(scoped, controller, invoice):
    night = dt.datetime(2026, 12, 8, 22, 0, tzinfo=dt.UTC)
    press_send(scoped, controller, invoice, "Please pay.", at=night - dt.timedelta(hours=14))
    override = sends.Override.asked("Urgent: the customer asked for it", permitted=True)
    waived = press_send(scoped, controller, invoice, "Copy.", at=night, override=override)
    assert waived.scheduled_for == dt.datetime(2026, 12, 9, 8, 0, tzinfo=dt.UTC)


def test_a_waiting_email_can_be_cancelled_once(scoped, controller, invoice):
    press_send(scoped, controller, invoice, "Please pay.")
    waiting = press_send(scoped, controller, invoice, "Second.")
    sends.cancel_scheduled(db.session, scoped, invoice, waiting.id, controller)
    assert db.session.get(Message, waiting.id).status == "cancelled"
    with pytest.raises(ActionError, match="no longer waiting"):
        sends.cancel_scheduled(db.session, scoped, invoice, waiting.id, controller)
    with pytest.raises(ActionError, match="not in this invoice's outbox"):
        sends.cancel_scheduled(db.session, scoped, invoice, 999_999, controller)


def test_the_same_text_as_a_cancelled_email_goes_again(scoped, controller, invoice):
    press_send(scoped, controller, invoice, "Please pay.")
    waiting = press_send(scoped, controller, invoice, "Second.")
    sends.cancel_scheduled(db.session, scoped, invoice, waiting.id, controller)
    override = sends.Override.asked("The customer asked for it on the phone", permitted=True)
    again = press_send(scoped, controller, invoice, "Second.", override=override)
    assert (again.id, again.status, again.scheduled_for) == (waiting.id, "scheduled", TUESDAY)
    assert again.guard_override == "The customer asked for it on the phone"
