"""Queue actions as service functions: each validates, changes state, audits, and stops sends when it must."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.ledger.models import Invoice, Payment, PaymentApplication
from plixo.model import utcnow
from plixo.outreach.models import Message
from plixo.queue import actions
from plixo.queue.actions import ActionError, Installment
from plixo.queue.models import Approval, Hold, Notification, PaymentPlan, Promise
from plixo.queue.service import stopping_reasons
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, make_user, workspace_today

TODAY = workspace_today()


@pytest.fixture
def scoped(org):
    with tenant_scope(org.id):
        yield org


@pytest.fixture
def invoice(scoped):
    customer = make_customer(scoped, name="Globex", time_zone="UTC")
    make_contact(customer, email="ap@globex.example")
    return make_invoice(scoped, customer, balance_minor=100_000, amount_minor=100_000)


def audited(action: str) -> bool:
    return db.session.scalar(select(AuditEvent).where(AuditEvent.action == action)) is not None


def now():
    return utcnow()


# Promises

def test_promise_is_logged_audited_and_reminded_the_day_before(scoped, controller, invoice):
    promised = TODAY + dt.timedelta(days=5)
    while (promised - dt.timedelta(days=1)).weekday() > 3:  # the day before is a sending day, whatever today is
        promised += dt.timedelta(days=1)
    promise = actions.log_promise(db.session, scoped, invoice, controller, 50_000, promised,
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
        actions.log_promise(db.session, scoped, invoice, controller, amount, TODAY + dt.timedelta(days=days),
                            None, now())
    assert refused.value.field == field
    assert db.session.scalars(select(Promise)).all() == []


def test_promise_of_another_customers_contact_is_refused(scoped, controller, invoice):
    stranger = make_contact(make_customer(scoped))
    with pytest.raises(ActionError, match="this customer's contacts"):
        actions.log_promise(db.session, scoped, invoice, controller, 100, TODAY + dt.timedelta(days=2), stranger.id,
                            now())


def test_promise_is_kept_when_payments_cover_it(scoped, controller, invoice):
    promise = actions.log_promise(db.session, scoped, invoice, controller, 50_000, TODAY + dt.timedelta(days=5),
                                  None, now())
    payment = Payment(org_id=scoped.id, customer_id=invoice.customer_id, currency="USD", amount_minor=50_000,
                      received_at=utcnow() + dt.timedelta(seconds=1))
    db.session.add(payment)
    db.session.flush()
    db.session.add(PaymentApplication(org_id=scoped.id, payment_id=payment.id, invoice_id=invoice.id,
                                      amount_minor=50_000))
    db.session.flush()
    assert actions.settle_promises(db.session, scoped.id, TODAY, utcnow()) == {"kept": 1, "broken": 0}
    assert promise.status == "kept"
    assert actions.promise_adherence(db.session, scoped.id, invoice.customer_id) == 1.0


def test_promise_breaks_once_its_date_passes_unpaid(scoped, controller, invoice):
    promise = actions.log_promise(db.session, scoped, invoice, controller, 50_000, TODAY + dt.timedelta(days=1),
                                  None, now())
    assert actions.settle_promises(db.session, scoped.id, TODAY, utcnow()) == {"kept": 0, "broken": 0}
    assert actions.settle_promises(db.session, scoped.id, TODAY + dt.timedelta(days=2), utcnow())["broken"] == 1
    assert promise.status == "broken" and actions.promise_adherence(db.session, scoped.id, invoice.customer_id) == 0


# Payment plans

def plan_of(*parts):
    return [Installment(TODAY + dt.timedelta(days=30 * (n + 1)), amount) for n, amount in enumerate(parts)]


def test_plan_within_policy_is_accepted_and_stops_outreach(scoped, controller, invoice):
    plan = actions.propose_plan(db.session, scoped, invoice, controller, plan_of(50_000, 50_000), now())
    assert plan.status == "accepted"
    assert stopping_reasons(db.session, invoice.id, TODAY) == ["Covered by an accepted payment plan"]


def test_plan_above_the_policy_limit_waits_for_approval(scoped, controller):
    big = make_invoice(scoped, balance_minor=5_000_000, amount_minor=5_000_000)
    plan = actions.propose_plan(db.session, scoped, big, controller, plan_of(2_500_000, 2_500_000), now())
    assert plan.status == "pending_approval"
    approval = db.session.scalar(select(Approval).where(Approval.subject_id == plan.id))
    assert approval.kind == "payment_plan" and approval.status == "pending"
    assert stopping_reasons(db.session, big.id, TODAY) == []


@pytest.mark.parametrize(("installments", "message"), [
    (plan_of(40_000, 50_000), "add up to"),
    (plan_of(100_000), "at least two"),
    ([Installment(TODAY - dt.timedelta(days=1), 50_000), Installment(TODAY + dt.timedelta(days=9), 50_000)],
     "in the past"),
    ([Installment(TODAY + dt.timedelta(days=9), 50_000), Installment(TODAY + dt.timedelta(days=3), 50_000)],
     "in order"),
    (plan_of(-50_000, 150_000), "above zero"),
])
def test_bad_plans_are_refused(scoped, controller, invoice, installments, message):
    with pytest.raises(ActionError, match=message):
        actions.propose_plan(db.session, scoped, invoice, controller, installments, now())
    assert db.session.scalars(select(PaymentPlan)).all() == []


def test_approving_a_plan_accepts_it_and_notifies_the_requester(scoped, controller):
    operator = make_user(scoped, "operator")
    big = make_invoice(scoped, balance_minor=5_000_000, amount_minor=5_000_000)
    plan = actions.propose_plan(db.session, scoped, big, operator, plan_of(2_500_000, 2_500_000), now())
    approval = db.session.scalar(select(Approval).where(Approval.subject_id == plan.id))
    actions.decide_approval(db.session, scoped, approval, controller, "controller", True, "", now())
    assert plan.status == "accepted" and approval.status == "approved"
    note = db.session.scalar(select(Notification).where(Notification.user_id == operator.id))
    assert "approved your payment plan request" in note.text


def test_rejecting_needs_a_reason(scoped, controller):
    big = make_invoice(scoped, balance_minor=5_000_000, amount_minor=5_000_000)
    plan = actions.propose_plan(db.session, scoped, big, controller, plan_of(2_500_000, 2_500_000), now())
    approval = db.session.scalar(select(Approval).where(Approval.subject_id == plan.id))
    with pytest.raises(ActionError, match="why"):
        actions.decide_approval(db.session, scoped, approval, controller, "controller", False, " ", now())
    assert approval.status == "pending"


# Write-offs, disputes, holds, suppression

def test_write_off_only_happens_after_approval(scoped, controller, invoice):
    approval = actions.request_write_off(db.session, scoped, invoice, controller, "Customer insolvent", now())
    assert invoice.status == "open"
    actions.decide_approval(db.session, scoped, approval, controller, "controller", True, "Agreed", now())
    assert invoice.status == "written_off" and audited("queue.written_off")


def test_write_off_without_a_reason_is_refused(scoped, controller, invoice):
    with pytest.raises(ActionError):
        actions.request_write_off(db.session, scoped, invoice, controller, "", now())


def test_dispute_stops_the_invoice_and_cancels_its_scheduled_sends(scoped, controller, invoice, tmp_path):
    values = {"customer_name": "Globex", "invoice_number": invoice.number}
    message = actions.send_email(db.session, scoped, invoice, controller, "Invoice {invoice_number}",
                                 "Hello {customer_name}", values, invoice.customer.contacts[0], now())
    pdf = ("proof.pdf", b"%PDF-1.7 evidence")
    dispute = actions.open_dispute(db.session, scoped, invoice, controller, "pricing", "Wrong rate", pdf, tmp_path,
                                   now())
    assert invoice.status == "disputed" and message.status == "cancelled"
    assert dispute.evidence[0].content_type == "application/pdf"
    assert not dispute.evidence[0].storage_path.startswith(str(tmp_path / "static"))


def test_evidence_type_is_checked_by_content_not_name(scoped, controller, invoice, tmp_path):
    with pytest.raises(ActionError, match="PDF, PNG or JPEG"):
        actions.open_dispute(db.session, scoped, invoice, controller, "pricing", "", ("x.pdf", b"MZ\x90 not a pdf"),
                             tmp_path, now())
    assert invoice.status == "open"


def test_dispute_needs_a_known_reason(scoped, controller, invoice, tmp_path):
    with pytest.raises(ActionError):
        actions.open_dispute(db.session, scoped, invoice, controller, "because", "", None, tmp_path, now())


def test_hold_needs_a_reason_and_a_future_end(scoped, controller, invoice):
    with pytest.raises(ActionError):
        actions.place_hold(db.session, scoped, invoice, controller, " ", None, now())
    with pytest.raises(ActionError):
        actions.place_hold(db.session, scoped, invoice, controller, "x", TODAY, now())
    actions.place_hold(db.session, scoped, invoice, controller, "Awaiting PO", None, now())
    assert stopping_reasons(db.session, invoice.id, TODAY) == ["On hold"]


def test_suppressed_contact_reenters_on_its_reactivation_day(scoped, controller, invoice):
    contact = invoice.customer.contacts[0]
    until = TODAY + dt.timedelta(days=7)
    actions.suppress_contact(db.session, scoped, invoice, controller, contact.id, until, "On leave", now())
    assert contact.suppressed_until == until
    assert stopping_reasons(db.session, invoice.id, TODAY) != []
    assert stopping_reasons(db.session, invoice.id, until) == []


def test_escalating_to_shadow_keeps_the_invoice_in_the_queue(scoped, controller, invoice):
    actions.escalate_to_shadow(db.session, scoped, invoice, controller, "Key account")
    assert stopping_reasons(db.session, invoice.id, TODAY) == []
    assert db.session.scalar(select(Hold.kind)) == "shadow"
    with pytest.raises(ActionError, match="already"):
        actions.escalate_to_shadow(db.session, scoped, invoice, controller, "again")


# Sending, notes, assignment

def test_sending_outside_quiet_hours_rules_waits_for_the_next_allowed_moment(scoped, controller, invoice):
    saturday_night = dt.datetime(2026, 11, 21, 23, 30, tzinfo=dt.UTC)
    message = actions.send_email(db.session, scoped, invoice, controller, "Subject", "Body", {},
                                 invoice.customer.contacts[0], saturday_night)
    assert message.scheduled_for == dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)  # Monday, quiet hours end
    assert "Quiet hours" in message.wait_reason


def test_sending_to_a_stopped_invoice_is_refused(scoped, controller, invoice):
    invoice.balance_minor, invoice.status = 0, "paid"
    db.session.flush()
    with pytest.raises(ActionError, match="Paid in full"):
        actions.send_email(db.session, scoped, invoice, controller, "S", "B", {}, invoice.customer.contacts[0], now())
    assert db.session.scalars(select(Message)).all() == []


def test_note_mentions_notify_the_mentioned_teammate(scoped, controller, invoice):
    olive = make_user(scoped, "operator", name="Olive Operator", email="olive@acmetest.example")
    actions.add_note(db.session, scoped, invoice, controller, "@olive can you call them? cc @nobody", "/work/queue")
    notification = db.session.scalar(select(Notification).where(Notification.user_id == olive.id))
    assert notification is not None and invoice.number in notification.text
    assert db.session.scalars(select(Notification)).all() == [notification]


def test_assigning_to_a_non_collector_is_refused(scoped, controller, invoice):
    cfo = make_user(scoped, "cfo")
    with pytest.raises(ActionError):
        actions.assign(db.session, scoped, invoice, controller, cfo.id, whole_customer=False)
    operator = make_user(scoped, "operator")
    actions.assign(db.session, scoped, invoice, controller, operator.id, whole_customer=False)
    assert db.session.get(Invoice, invoice.id).assignee_id == operator.id


def test_large_write_offs_are_routed_to_legal(scoped, controller):
    small = make_invoice(scoped, balance_minor=10_000, amount_minor=10_000)
    large = make_invoice(scoped, balance_minor=900_000, amount_minor=900_000)  # policy threshold: 50,000
    assert actions.request_write_off(db.session, scoped, small, controller, "Dust", now()).approver_role == "controller"
    assert actions.request_write_off(db.session, scoped, large, controller, "Bankrupt", now()).approver_role == "legal"


# Actions taken by someone who is not a teammate (the payer, in the portal)

PAYER = "Payer portal (ap@globex.example)"


def test_a_payers_promise_names_the_payer_and_its_source(scoped, invoice):
    promise = actions.log_promise(db.session, scoped, invoice, PAYER, 50_000, TODAY + dt.timedelta(days=5), None,
                                  now(), source="portal")
    assert (promise.source, promise.created_by_id) == ("portal", None)
    assert db.session.scalar(select(AuditEvent.actor_label).where(AuditEvent.action == "queue.promise_logged")) == PAYER


def test_a_payers_plan_above_policy_is_decided_without_a_requester_to_notify(scoped, controller):
    big = make_invoice(scoped, balance_minor=5_000_000, amount_minor=5_000_000)
    plan = actions.propose_plan(db.session, scoped, big, PAYER, plan_of(2_500_000, 2_500_000), now(), source="portal")
    approval = db.session.scalar(select(Approval).where(Approval.subject_id == plan.id))
    assert approval.requested_in_portal and plan.source == "portal"
    actions.decide_approval(db.session, scoped, approval, controller, "controller", True, "", now())
    assert plan.status == "accepted" and db.session.scalars(select(Notification)).all() == []


def test_a_payer_may_propose_a_plan_while_outreach_is_held_and_the_team_decides_it(scoped, controller, invoice):
    actions.place_hold(db.session, scoped, invoice, controller, "Awaiting PO", None, now())
    plan = actions.propose_plan(db.session, scoped, invoice, PAYER, plan_of(50_000, 50_000), now(), source="portal")
    assert plan.status == "pending_approval"


def test_an_unknown_source_is_a_programming_error(scoped, invoice):
    with pytest.raises(ValueError, match="unknown source"):
        actions.log_promise(db.session, scoped, invoice, PAYER, 100, TODAY, None, now(), source="fax")


def test_an_opt_out_stops_every_invoice_of_the_customer_and_its_sends(scoped, controller, invoice):
    values = {"customer_name": "Globex", "invoice_number": invoice.number}
    message = actions.send_email(db.session, scoped, invoice, controller, "Invoice {invoice_number}",
                                 "Hello {customer_name}", values, invoice.customer.contacts[0], now())
    other = make_invoice(scoped, invoice.customer)
    actions.record_opt_out(db.session, scoped, invoice.customer, PAYER, "Opted out in the portal", now())
    assert message.status == "cancelled" and invoice.customer.contacts[0].opted_out_at is not None
    assert stopping_reasons(db.session, other.id, TODAY) == ["Customer suppressed, held or opted out"]
    assert audited("queue.opted_out")


def test_opting_out_twice_is_refused(scoped, invoice):
    actions.record_opt_out(db.session, scoped, invoice.customer, PAYER, "", now())
    with pytest.raises(ActionError, match="already switched off"):
        actions.record_opt_out(db.session, scoped, invoice.customer, PAYER, "", now())
    assert len(db.session.scalars(select(Hold).where(Hold.kind == "opt_out")).all()) == 1
