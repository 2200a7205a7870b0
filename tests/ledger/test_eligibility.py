"""Stopping conditions: one definition used by the queue (a SQL filter) and by senders (per invoice)."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.extensions import db
from plixo.holds.models import Hold
from plixo.ledger.eligibility import eligible_clause, stopping_reasons
from plixo.ledger.models import Invoice
from plixo.model import utcnow
from plixo.promises.models import PaymentPlan, PaymentPlanInvoice
from tests.factories import make_customer, make_invoice, workspace_today

TODAY = workspace_today()


def eligible_ids() -> set[int]:
    return set(db.session.scalars(select(Invoice.id).where(eligible_clause(TODAY))))


def test_an_open_invoice_with_a_balance_is_eligible(scoped):
    invoice = make_invoice(scoped)
    assert stopping_reasons(db.session, invoice.id, TODAY) == []
    assert eligible_ids() == {invoice.id}


@pytest.mark.parametrize("status", ["paid", "disputed", "written_off", "void", "closed"])
def test_invoices_that_are_not_open_are_stopped(scoped, status):
    invoice = make_invoice(scoped, status=status)
    assert stopping_reasons(db.session, invoice.id, TODAY)
    assert eligible_ids() == set()


def test_payment_in_full_stops_even_before_the_status_catches_up(scoped):
    invoice = make_invoice(scoped, balance_minor=0)
    assert "Paid in full" in stopping_reasons(db.session, invoice.id, TODAY)


def test_an_accepted_plan_stops_its_invoices_but_a_proposed_one_does_not(scoped):
    invoice = make_invoice(scoped)
    plan = PaymentPlan(org_id=scoped.id, customer_id=invoice.customer_id, currency="USD", total_minor=1,
                       status="proposed")
    db.session.add(plan)
    db.session.flush()
    db.session.add(PaymentPlanInvoice(org_id=scoped.id, plan_id=plan.id, invoice_id=invoice.id))
    db.session.flush()
    assert eligible_ids() == {invoice.id}
    plan.status = "accepted"
    db.session.flush()
    assert stopping_reasons(db.session, invoice.id, TODAY) == ["Covered by an accepted payment plan"]


def test_a_hold_on_the_invoice_stops_only_that_invoice(scoped):
    customer = make_customer(scoped)
    held, other = make_invoice(scoped, customer), make_invoice(scoped, customer)
    db.session.add(Hold(org_id=scoped.id, kind="hold", invoice_id=held.id, customer_id=customer.id))
    db.session.flush()
    assert eligible_ids() == {other.id}


def test_a_customer_suppression_stops_until_its_reactivation_day(scoped):
    invoice = make_invoice(scoped)
    db.session.add(Hold(org_id=scoped.id, kind="suppression", customer_id=invoice.customer_id,
                        until=TODAY + dt.timedelta(days=3)))
    db.session.flush()
    assert stopping_reasons(db.session, invoice.id, TODAY) == ["Customer suppressed, held or opted out"]
    assert stopping_reasons(db.session, invoice.id, TODAY + dt.timedelta(days=3)) == []


def test_a_released_hold_no_longer_stops(scoped):
    invoice = make_invoice(scoped)
    db.session.add(Hold(org_id=scoped.id, kind="hold", invoice_id=invoice.id, released_at=utcnow()))
    db.session.flush()
    assert eligible_ids() == {invoice.id}
