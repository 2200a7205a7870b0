"""The compose box starts from the template the recommended next step calls for, and the cadence engine follows
the same rule: never a firm escalation while a dispute is open on the customer or a promise is pending."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.model import utcnow
from plixo.outreach.cadences import StepInput, create_cadence, tick
from plixo.outreach.drafting import TEMPLATE_LABELS, Moment, choose_template
from plixo.outreach.models import Message, Segment
from plixo.promises.models import Promise
from plixo.queue.inspector import inspect
from tests.factories import make_contact, make_customer, make_invoice, workspace_today

TODAY = workspace_today()


@pytest.mark.parametrize(("moment", "template"), [
    (Moment(-5), "courtesy"),
    (Moment(0), "courtesy"),
    (Moment(12), "reminder"),
    (Moment(75), "escalation"),
    (Moment(120), "payment_plan"),
    (Moment(75, promise="pending"), "promise_follow_up"),
    (Moment(120, promise="pending"), "promise_follow_up"),
    (Moment(12, promise="missed"), "broken_promise"),
    (Moment(75, promise="broken"), "broken_promise"),
    (Moment(75, promise="kept"), "escalation"),
    (Moment(75, disputed=True), "dispute_acknowledgement"),
    (Moment(120, promise="broken", disputed=True), "dispute_acknowledgement"),
    (Moment(-3, disputed=True), "dispute_acknowledgement"),
])
def test_the_template_fits_the_moment(moment, template):
    assert choose_template(moment) == template


@pytest.mark.parametrize("days", range(-10, 400, 7))
@pytest.mark.parametrize("promise", ["", "pending", "missed", "broken", "kept"])
def test_never_a_firm_escalation_while_a_dispute_is_open_or_a_promise_pending(days, promise):
    assert choose_template(Moment(days, promise, disputed=True)) != "escalation"
    if promise in ("pending", "missed"):
        assert choose_template(Moment(days, promise)) != "escalation"


def test_every_chosen_template_can_be_picked_in_the_compose_box():
    chosen = {choose_template(Moment(days, promise, disputed)) for days in (-1, 10, 70, 100)
              for promise in ("", "pending", "missed", "broken") for disputed in (False, True)}
    assert chosen == set(TEMPLATE_LABELS)


def overdue(org, days: int, name="Globex"):
    customer = make_customer(org, name=name)
    make_contact(customer, email=f"ap@{name.lower()}.example", name="Maria Lopez")
    return make_invoice(org, customer, due_date=TODAY - dt.timedelta(days=days))


def open_dispute(org, invoice):
    """A dispute on another invoice of the same customer (the disputed invoice itself is out of outreach)."""
    other = make_invoice(org, invoice.customer, status="disputed")
    db.session.add(Dispute(org_id=invoice.org_id, invoice_id=other.id, customer_id=invoice.customer_id,
                           reason="pricing", opened_at=utcnow()))
    db.session.flush()


def promised(invoice, days_from_today: int, status="pending"):
    db.session.add(Promise(org_id=invoice.org_id, invoice_id=invoice.id, customer_id=invoice.customer_id,
                           currency="USD", amount_minor=50_000, status=status,
                           promised_date=TODAY + dt.timedelta(days=days_from_today)))
    db.session.flush()


def inspected(org, invoice, user):
    found = inspect(db.session, org, invoice, user, utcnow(), sender_role="controller")
    email_step = next(step for step in found.steps if step.template)
    assert email_step.template == found.template  # the recommendation and the compose box agree
    return found, email_step


def test_an_open_dispute_on_the_customer_drafts_a_neutral_email(scoped, controller):
    invoice = overdue(scoped, days=75)
    open_dispute(scoped, invoice)
    found, step = inspected(scoped, invoice, controller)
    assert step.action == "Read the open dispute first" and found.template == "dispute_acknowledgement"
    assert "another invoice on your account" in found.body or "open query on your account" in found.body
    assert "escalate" not in found.body.lower() and "final notice" not in found.subject.lower()


def test_without_a_dispute_a_long_overdue_invoice_is_escalated(scoped, controller):
    found, step = inspected(scoped, overdue(scoped, days=75), controller)
    assert (step.action, found.template) == ("Escalate firmly", "escalation")


@pytest.mark.parametrize(("days", "action", "template"), [
    (120, "Offer a payment plan", "payment_plan"),
    (20, "Send a reminder", "reminder"),
    (-5, "Nothing urgent", "courtesy"),
])
def test_age_decides_when_nothing_else_does(scoped, controller, days, action, template):
    found, step = inspected(scoped, overdue(scoped, days=days), controller)
    assert (step.action, found.template) == (action, template)


def test_a_promise_falling_due_gets_a_follow_up_not_an_escalation(scoped, controller):
    invoice = overdue(scoped, days=75)
    promised(invoice, days_from_today=2)
    found, step = inspected(scoped, invoice, controller)
    assert (step.action, found.template) == ("Send a promise follow-up", "promise_follow_up")


def test_a_promise_further_off_is_waited_for(scoped, controller):
    invoice = overdue(scoped, days=120)
    promised(invoice, days_from_today=10)
    found, step = inspected(scoped, invoice, controller)
    assert (step.action, found.template) == ("Wait for the promised payment", "promise_follow_up")


def test_a_broken_promise_calls_for_a_call_and_the_broken_promise_email(scoped, controller):
    invoice = overdue(scoped, days=40)
    promised(invoice, days_from_today=-6, status="broken")
    found, step = inspected(scoped, invoice, controller)
    assert (step.action, found.template) == ("Call the customer", "broken_promise")


def test_a_missed_promise_is_followed_up(scoped, controller):
    invoice = overdue(scoped, days=40)
    promised(invoice, days_from_today=-2)
    found, step = inspected(scoped, invoice, controller)
    assert (step.action, found.template) == ("Follow up on the missed promise", "broken_promise")


def test_a_template_picked_by_hand_is_kept(scoped, controller):
    invoice = overdue(scoped, days=75)
    open_dispute(scoped, invoice)
    found = inspect(db.session, scoped, invoice, controller, utcnow(), template="escalation")
    assert found.template == "escalation"


# The cadence engine: the same rule for the content it writes.

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
FIRM = StepInput(3, "due_date", "Final notice: invoice {invoice_number}",
                 "Unless we receive {amount_due} this week we will escalate this account.")


@pytest.fixture
def autopilot(scoped):
    from tests.factories import make_ready_sender

    scoped.time_zone = "UTC"
    make_ready_sender(scoped)
    segment = Segment(org_id=scoped.id, name="All", rules={}, mode="autopilot")
    db.session.add(segment)
    db.session.flush()
    return segment


def engine_invoice(org, name="Globex"):
    customer = make_customer(org, name=name, time_zone="UTC")
    make_contact(customer, email=f"ap@{name.lower()}.example")
    return make_invoice(org, customer, due_date=NOW.date() - dt.timedelta(days=70))


def test_the_engine_writes_a_neutral_draft_for_review_while_a_dispute_is_open(scoped, controller, autopilot):
    invoice = engine_invoice(scoped)
    open_dispute(scoped, invoice)
    create_cadence(db.session, scoped, controller, "Firm", autopilot.id, [FIRM], "active", NOW)
    tick(db.session, scoped, NOW)
    [email] = db.session.scalars(select(Message).where(Message.invoice_id == invoice.id)).all()
    assert email.status == "draft" and "dispute is open" in email.wait_reason
    assert "Final notice" not in email.subject and "escalate" not in email.body.lower()


def test_the_engine_follows_up_a_pending_promise_instead_of_escalating(scoped, controller, autopilot):
    invoice = engine_invoice(scoped)
    db.session.add(Promise(org_id=scoped.id, invoice_id=invoice.id, customer_id=invoice.customer_id, currency="USD",
                           amount_minor=50_000, status="pending", promised_date=NOW.date() + dt.timedelta(days=3)))
    calm = engine_invoice(scoped, name="Initech")
    create_cadence(db.session, scoped, controller, "Firm", autopilot.id, [FIRM], "active", NOW)
    tick(db.session, scoped, NOW)
    promised_email = db.session.scalar(select(Message).where(Message.invoice_id == invoice.id))
    assert promised_email.status == "scheduled" and "Final notice" not in promised_email.subject
    assert "21 Nov 2026" in promised_email.body and "escalate" not in promised_email.body.lower()
    firm_email = db.session.scalar(select(Message).where(Message.invoice_id == calm.id))
    assert firm_email.subject == f"Final notice: invoice {calm.number}"  # no promise, no dispute: as written
