"""Holds, suppressions, Shadow Mode escalations and opt-outs stop (or change) outreach as they say."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.actions import ActionError
from plixo.extensions import db
from plixo.holds import service as holds
from plixo.holds.models import Hold
from plixo.ledger.eligibility import stopping_reasons
from plixo.model import utcnow as now
from plixo.outreach import sends
from tests.factories import PAYER, TODAY, audited, make_invoice


def test_hold_needs_a_reason_and_a_future_end(scoped, controller, invoice):
    with pytest.raises(ActionError):
        holds.place_hold(db.session, scoped, invoice, controller, " ", None, now())
    with pytest.raises(ActionError):
        holds.place_hold(db.session, scoped, invoice, controller, "x", TODAY, now())
    holds.place_hold(db.session, scoped, invoice, controller, "Awaiting PO", None, now())
    assert stopping_reasons(db.session, invoice.id, TODAY) == ["On hold"]


def test_suppressed_contact_reenters_on_its_reactivation_day(scoped, controller, invoice):
    contact = invoice.customer.contacts[0]
    until = TODAY + dt.timedelta(days=7)
    holds.suppress_contact(db.session, scoped, invoice, controller, contact.id, until, "On leave", now())
    assert contact.suppressed_until == until
    assert stopping_reasons(db.session, invoice.id, TODAY) != []
    assert stopping_reasons(db.session, invoice.id, until) == []


def test_escalating_to_shadow_keeps_the_invoice_in_the_queue(scoped, controller, invoice):
    holds.escalate_to_shadow(db.session, scoped, invoice, controller, "Key account")
    assert stopping_reasons(db.session, invoice.id, TODAY) == []
    assert db.session.scalar(select(Hold.kind)) == "shadow"
    with pytest.raises(ActionError, match="already"):
        holds.escalate_to_shadow(db.session, scoped, invoice, controller, "again")


def test_an_opt_out_stops_every_invoice_of_the_customer_and_its_sends(scoped, controller, invoice):
    values = {"customer_name": "Globex", "invoice_number": invoice.number}
    message = sends.send_email(db.session, scoped, invoice, controller, "Invoice {invoice_number}",
                                 "Hello {customer_name}", values, invoice.customer.contacts[0], now())
    other = make_invoice(scoped, invoice.customer)
    holds.record_opt_out(db.session, scoped, invoice.customer, PAYER, "Opted out in the portal", now())
    assert message.status == "cancelled" and invoice.customer.contacts[0].opted_out_at is not None
    assert stopping_reasons(db.session, other.id, TODAY) == ["Customer suppressed, held or opted out"]
    assert audited("queue.opted_out")


def test_opting_out_twice_is_refused(scoped, invoice):
    holds.record_opt_out(db.session, scoped, invoice.customer, PAYER, "", now())
    with pytest.raises(ActionError, match="already switched off"):
        holds.record_opt_out(db.session, scoped, invoice.customer, PAYER, "", now())
    assert len(db.session.scalars(select(Hold).where(Hold.kind == "opt_out")).all()) == 1
