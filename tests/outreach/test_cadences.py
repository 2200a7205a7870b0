"""Cadence validation and the Autopilot engine: due steps become one message each, drafts or scheduled sends."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from plixo.extensions import db
from plixo.holds.models import Hold
from plixo.outreach.cadences import CadenceError, StepInput, check_steps, create_cadence, tick
from plixo.outreach.models import Message, MessageInvoice, Segment
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, make_ready_sender

# Wednesday 18 November 2026, 15:00 UTC: inside business hours for a customer in UTC.
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
REMINDER = StepInput(3, "due_date", "Invoice {invoice_number} is overdue",
                     "Hello {customer_name}, {amount_due} is due.")
FOLLOW_UP = StepInput(7, "previous_touch", "Following up on {invoice_number}", "Hello again {customer_name}.")


@pytest.fixture
def scoped(org):
    with tenant_scope(org.id):
        org.time_zone = "UTC"
        yield org


def segment(org, mode="shadow") -> Segment:
    if mode == "autopilot":
        make_ready_sender(org)  # Autopilot sends only from a connected inbox on a verified domain
    found = Segment(org_id=org.id, name=f"All {mode}", rules={}, mode=mode)
    db.session.add(found)
    db.session.flush()
    return found


def overdue_invoice(org, days: int):
    customer = make_customer(org, time_zone="UTC", name="Globex")
    make_contact(customer, email="ap@globex.example")
    return make_invoice(org, customer, due_date=TODAY - dt.timedelta(days=days))


def messages():
    return db.session.scalars(select(Message).order_by(Message.id)).all()


def test_a_shadow_cadence_drafts_the_due_step_once(scoped, controller):
    invoice = overdue_invoice(scoped, days=5)
    create_cadence(db.session, scoped, controller, "Gentle", segment(scoped).id, [REMINDER, FOLLOW_UP], "shadow", NOW)
    first = tick(db.session, scoped, NOW)
    second = tick(db.session, scoped, NOW)
    assert (first.drafts, second.drafts) == (1, 0)
    [draft] = messages()
    assert draft.status == "draft" and draft.invoice_id == invoice.id
    assert draft.subject == f"Invoice {invoice.number} is overdue" and "Globex" in draft.body


def test_a_step_not_yet_due_creates_nothing(scoped, controller):
    overdue_invoice(scoped, days=1)  # step 1 is due 3 days after the due date
    create_cadence(db.session, scoped, controller, "Gentle", segment(scoped).id, [REMINDER], "shadow", NOW)
    assert tick(db.session, scoped, NOW).drafts == 0 and messages() == []


def test_autopilot_schedules_sends_inside_business_hours(scoped, controller):
    overdue_invoice(scoped, days=5)
    create_cadence(db.session, scoped, controller, "Auto", segment(scoped, "autopilot").id, [REMINDER], "active", NOW)
    evening = dt.datetime(2026, 11, 18, 18, 30, tzinfo=dt.UTC)
    assert tick(db.session, scoped, evening).scheduled == 1
    [scheduled] = messages()
    assert scheduled.status == "scheduled"
    assert scheduled.scheduled_for == dt.datetime(2026, 11, 19, 9, 0, tzinfo=dt.UTC)
    assert "Business hours" in scheduled.wait_reason and scheduled.to_email == "ap@globex.example"


def test_an_invoice_escalated_to_shadow_gets_a_draft_even_under_autopilot(scoped, controller):
    invoice = overdue_invoice(scoped, days=5)
    db.session.add(Hold(org_id=scoped.id, kind="shadow", invoice_id=invoice.id, customer_id=invoice.customer_id))
    create_cadence(db.session, scoped, controller, "Auto", segment(scoped, "autopilot").id, [REMINDER], "active", NOW)
    assert tick(db.session, scoped, NOW).drafts == 1


def test_the_next_step_counts_from_the_previous_touch(scoped, controller):
    overdue_invoice(scoped, days=5)
    create_cadence(db.session, scoped, controller, "Auto", segment(scoped, "autopilot").id, [REMINDER, FOLLOW_UP],
                   "active", NOW)
    tick(db.session, scoped, NOW)
    assert tick(db.session, scoped, NOW + dt.timedelta(days=6)).scheduled == 0
    assert tick(db.session, scoped, NOW + dt.timedelta(days=7)).scheduled == 1
    assert [m.subject.split()[0] for m in messages()] == ["Invoice", "Following"]


def test_stopped_invoices_are_skipped(scoped, controller):
    invoice = overdue_invoice(scoped, days=5)
    invoice.status = "disputed"
    create_cadence(db.session, scoped, controller, "Gentle", segment(scoped).id, [REMINDER], "shadow", NOW)
    assert tick(db.session, scoped, NOW).evaluated == 0


def test_paused_cadences_do_nothing(scoped, controller):
    overdue_invoice(scoped, days=5)
    cadence = create_cadence(db.session, scoped, controller, "Gentle", segment(scoped).id, [REMINDER], "shadow", NOW)
    cadence.status = "paused"
    assert tick(db.session, scoped, NOW).drafts == 0
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


@pytest.mark.parametrize(("steps", "message"), [
    ([], "at least one"),
    ([StepInput(3, "due_date", "Hi", "Dear {customer}")], "unknown merge field {customer}"),
    ([StepInput(5, "due_date", "A", "a"), StepInput(5, "due_date", "B", "b")], "must increase"),
    ([StepInput(2, "previous_touch", "A", "a")], "no previous touch"),
    ([REMINDER, StepInput(0, "previous_touch", "B", "b")], "at least one day"),
    ([StepInput(3, "whenever", "A", "a")], "counts from"),
    ([StepInput(3, "due_date", " ", "a")], "subject and a message"),
])
def test_bad_sequences_are_refused_with_a_clear_message(steps, message):
    with pytest.raises(CadenceError, match=message):
        check_steps(steps)


def test_a_cadence_needs_a_segment_of_its_workspace(scoped, controller):
    with pytest.raises(CadenceError, match="segment"):
        create_cadence(db.session, scoped, controller, "Lost", None, [REMINDER], "shadow", NOW)


def test_the_cron_tick_runs_every_workspace(org, controller, two_workspaces):
    from jobs.autopilot import autopilot_tick

    with tenant_scope(org.id):
        org.time_zone = "UTC"
        overdue_invoice(org, days=5)
        create_cadence(db.session, org, controller, "Gentle", segment(org).id, [REMINDER], "shadow", NOW)
        db.session.commit()
    assert autopilot_tick()["drafts"] == 1
    assert autopilot_tick()["drafts"] == 0


def test_invoices_of_one_customer_due_together_go_in_one_email(scoped, controller):
    customer = make_customer(scoped, time_zone="UTC", name="Initech")
    make_contact(customer, email="ap@initech.example")
    invoices = [make_invoice(scoped, customer, due_date=TODAY - dt.timedelta(days=d), balance_minor=10_000 * d)
                for d in (4, 5, 9)]
    create_cadence(db.session, scoped, controller, "Auto", segment(scoped, "autopilot").id, [REMINDER], "active", NOW)
    result = tick(db.session, scoped, NOW)
    assert (result.scheduled, result.consolidated) == (1, 2)
    [email] = messages()
    listed = db.session.scalars(select(MessageInvoice.invoice_id).where(MessageInvoice.message_id == email.id))
    assert sorted(listed) == sorted(i.id for i in invoices)
    assert all(i.number in email.body for i in invoices) and "$1,800.00" in email.body
    assert tick(db.session, scoped, NOW).scheduled == 0  # each (invoice, step) is in one message only


def test_autopilot_keeps_the_minimum_gap_after_the_customers_last_touch(scoped, controller):
    invoice = overdue_invoice(scoped, days=5)
    db.session.add(Message(org_id=scoped.id, idempotency_key="manual", customer_id=invoice.customer_id,
                           status="sent", sent_at=NOW - dt.timedelta(hours=30), subject="s", body="b"))
    create_cadence(db.session, scoped, controller, "Auto", segment(scoped, "autopilot").id, [REMINDER], "active", NOW)
    tick(db.session, scoped, NOW)
    [_, scheduled] = messages()
    assert scheduled.scheduled_for == NOW + dt.timedelta(hours=18)  # 48 h after the manual e-mail
    assert scheduled.wait_reason.startswith("Minimum gap of 48 h: goes")


@pytest.mark.parametrize("handled", [False, True])
def test_autopilot_pauses_for_a_reply_nobody_has_handled_and_resumes_once_it_is(scoped, controller, handled):
    from plixo.replies.models import Reply

    invoice = overdue_invoice(scoped, days=5)
    db.session.add(Reply(org_id=scoped.id, header_message_id="<r@globex.example>", customer_id=invoice.customer_id,
                         matched_by="sender", from_email="ap@globex.example", received_at=NOW - dt.timedelta(days=3),
                         label="other", body="Call me.",
                         handled_at=NOW - dt.timedelta(days=1) if handled else None))
    create_cadence(db.session, scoped, controller, "Auto", segment(scoped, "autopilot").id, [REMINDER], "active", NOW)
    tick(db.session, scoped, NOW)
    made = next(m for m in messages() if m.cadence_step_id is not None)
    if handled:
        assert made.status == "scheduled"
    else:
        assert made.status == "draft" and "Reply from Payables" in made.wait_reason
        assert "waiting since" in made.wait_reason


def test_the_daily_cap_moves_the_overflow_to_the_next_sending_day(scoped, controller):
    from plixo.accounts.service import policy_of

    policy_of(db.session, scoped.id).daily_cap_per_mailbox = 2
    for _ in range(3):
        overdue_invoice(scoped, days=5)
    create_cadence(db.session, scoped, controller, "Auto", segment(scoped, "autopilot").id, [REMINDER], "active", NOW)
    assert tick(db.session, scoped, NOW).scheduled == 3
    moments = sorted(m.scheduled_for for m in messages())
    assert moments[:2] == [NOW, NOW] and moments[2] == dt.datetime(2026, 11, 19, 9, 0, tzinfo=dt.UTC)
    assert "Daily cap of 2 reached" in next(m for m in messages() if m.scheduled_for == moments[2]).wait_reason


def test_a_policy_without_sending_days_leaves_drafts_for_review(scoped, controller):
    from plixo.accounts.service import policy_of

    policy_of(db.session, scoped.id).sending_days = []
    overdue_invoice(scoped, days=5)
    create_cadence(db.session, scoped, controller, "Auto", segment(scoped, "autopilot").id, [REMINDER], "active", NOW)
    assert tick(db.session, scoped, NOW).drafts == 1
    assert "no sending day" in messages()[0].wait_reason


def test_autopilot_writes_drafts_while_the_sender_is_not_ready(scoped, controller):
    overdue_invoice(scoped, 10)
    found = Segment(org_id=scoped.id, name="Auto, no inbox", rules={}, mode="autopilot")
    db.session.add(found)
    db.session.flush()
    create_cadence(db.session, scoped, controller, "Auto", found.id, [REMINDER], "active", NOW)
    result = tick(db.session, scoped, NOW)
    assert (result.drafts, result.scheduled) == (1, 0)
    assert result.autopilot_held == ("Connect the finance inbox first (Admin → Connectors → Email).",)


def test_the_engine_asks_for_the_undisputed_rest_of_a_partly_disputed_invoice(scoped, controller, tmp_path):
    from plixo.disputes import service as disputes

    invoice = overdue_invoice(scoped, days=5)  # 1,250.00 open
    disputes.open_dispute(db.session, scoped, invoice, controller, "quantity", "", None, tmp_path, NOW,
                          amount_minor=25_000)
    create_cadence(db.session, scoped, controller, "Shadow", segment(scoped).id, [REMINDER], "active", NOW)
    tick(db.session, scoped, NOW)
    made = next(m for m in messages() if m.cadence_step_id is not None)
    assert "$1,000.00" in made.body and "$1,250.00" not in made.body


def test_a_dispute_resolved_invalid_lets_the_cadence_go_on_where_it_stopped(scoped, controller, tmp_path):
    from plixo.disputes import lifecycle
    from plixo.disputes import service as disputes

    invoice = overdue_invoice(scoped, days=5)
    create_cadence(db.session, scoped, controller, "Shadow", segment(scoped).id, [REMINDER, FOLLOW_UP], "active",
                   NOW)
    tick(db.session, scoped, NOW)
    first = next(m for m in messages() if m.cadence_step_id is not None)
    first.status, first.sent_at = "sent", NOW
    dispute = disputes.open_dispute(db.session, scoped, invoice, controller, "quantity", "", None, tmp_path, NOW)
    later = NOW + dt.timedelta(days=8)
    assert tick(db.session, scoped, later).drafts == 0  # disputed: out of the queue, nothing written
    lifecycle.resolve(db.session, scoped, dispute, controller, "invalid", "no_action", "All delivered", later)
    tick(db.session, scoped, later)
    steps = [m.cadence_step_id for m in messages() if m.cadence_step_id is not None]
    assert len(steps) == 2 and steps[0] != steps[1]  # the follow-up, not the first reminder again
