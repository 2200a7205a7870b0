"""Promises to pay: logged with a reminder, refused when wrong, kept or broken as payments and dates decide."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.actions import ActionError
from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.ledger.models import Payment, PaymentApplication
from plixo.model import utcnow
from plixo.model import utcnow as now
from plixo.outreach.models import Message
from plixo.promises import service as promises
from plixo.promises.models import Promise
from tests.factories import PAYER, TODAY, audited, make_contact, make_customer


def test_promise_is_logged_audited_and_reminded_the_day_before(scoped, controller, invoice):
    promised = TODAY + dt.timedelta(days=5)
    while (promised - dt.timedelta(days=1)).weekday() > 3:  # the day before is a sending day, whatever today is
        promised += dt.timedelta(days=1)
    promise = promises.log_promise(db.session, scoped, invoice, controller, 50_000, promised,
                                  invoice.customer.contacts[0].id, now())
    assert promise.status == "pending" and audited("queue.promise_logged")
    reminder = db.session.scalar(select(Message).where(Message.idempotency_key == f"promise:{promise.id}:reminder"))
    assert reminder is not None and reminder.scheduled_for.date() == promised - dt.timedelta(days=1)


@pytest.mark.parametrize(("amount", "days", "field"), [
    (50_000, -1, "promised_date"), (0, 3, "amount"), (200_000, 3, "amount"), (None, 3, "amount"),
    (50_000, 400, "promised_date"),
])
def test_bad_promises_are_refused_and_change_nothing(scoped, controller, invoice, amount, days, field):
    with pytest.raises(ActionError) as refused:
        promises.log_promise(db.session, scoped, invoice, controller, amount, TODAY + dt.timedelta(days=days),
                            None, now())
    assert refused.value.field == field
    assert db.session.scalars(select(Promise)).all() == []


def test_promise_of_another_customers_contact_is_refused(scoped, controller, invoice):
    stranger = make_contact(make_customer(scoped))
    with pytest.raises(ActionError, match="this customer's contacts"):
        promises.log_promise(db.session, scoped, invoice, controller, 100, TODAY + dt.timedelta(days=2), stranger.id,
                            now())


def test_promise_is_kept_when_payments_cover_it(scoped, controller, invoice):
    promise = promises.log_promise(db.session, scoped, invoice, controller, 50_000, TODAY + dt.timedelta(days=5),
                                  None, now())
    payment = Payment(org_id=scoped.id, customer_id=invoice.customer_id, currency="USD", amount_minor=50_000,
                      received_at=utcnow() + dt.timedelta(seconds=1))
    db.session.add(payment)
    db.session.flush()
    db.session.add(PaymentApplication(org_id=scoped.id, payment_id=payment.id, invoice_id=invoice.id,
                                      amount_minor=50_000))
    db.session.flush()
    assert promises.settle_promises(db.session, scoped.id, TODAY, utcnow()) == {"kept": 1, "broken": 0}
    assert promise.status == "kept"
    assert promises.promise_adherence(db.session, scoped.id, invoice.customer_id) == 1.0


def test_promise_breaks_once_its_date_passes_unpaid(scoped, controller, invoice):
    promise = promises.log_promise(db.session, scoped, invoice, controller, 50_000, TODAY + dt.timedelta(days=1),
                                  None, now())
    assert promises.settle_promises(db.session, scoped.id, TODAY, utcnow()) == {"kept": 0, "broken": 0}
    assert promises.settle_promises(db.session, scoped.id, TODAY + dt.timedelta(days=2), utcnow())["broken"] == 1
    assert promise.status == "broken" and promises.promise_adherence(db.session, scoped.id, invoice.customer_id) == 0


def test_a_payers_promise_names_the_payer_and_its_source(scoped, invoice):
    promise = promises.log_promise(db.session, scoped, invoice, PAYER, 50_000, TODAY + dt.timedelta(days=5), None,
                                  now(), source="portal")
    assert (promise.source, promise.created_by_id) == ("portal", None)
    assert db.session.scalar(select(AuditEvent.actor_label).where(AuditEvent.action == "queue.promise_logged")) == PAYER


def test_an_unknown_source_is_a_programming_error(scoped, invoice):
    with pytest.raises(ValueError, match="unknown source"):
        promises.log_promise(db.session, scoped, invoice, PAYER, 100, TODAY, None, now(), source="fax")
