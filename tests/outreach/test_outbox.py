"""The outbox sender against a real SMTP server on loopback: once, only while allowed, failures sorted."""

import datetime as dt

import pytest
from sqlalchemy import select

from jobs.outbox import send_due_messages
from plixo.extensions import db
from plixo.integrations.mail.smtp import SmtpTransport
from plixo.ledger.models import Contact
from plixo.outreach.models import Message, MessageInvoice
from plixo.outreach.outbox import claim_due, reconcile_stuck, send_leased
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, make_ready_sender
from tests.smtp_sink import start_sink

# A Wednesday at 15:00 UTC: inside the default window for a customer in UTC.
WEDNESDAY = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def sink():
    controller, sink = start_sink()
    yield controller, sink
    controller.stop()


@pytest.fixture
def transport(sink):
    controller, _ = sink
    return SmtpTransport(controller.hostname, controller.port)


def scheduled(org, email="ap@globex.example", when=None, **invoice):
    with tenant_scope(org.id):
        customer = make_customer(org, time_zone="UTC")
        contact = make_contact(customer, email=email)
        inv = make_invoice(org, customer, **invoice)
        message = Message(org_id=org.id, idempotency_key=f"test:{inv.id}", customer_id=customer.id,
                          invoice_id=inv.id, contact_id=contact.id, to_email=email, status="scheduled",
                          subject=f"Invoice {inv.number}", body="Please pay.", scheduled_for=when or WEDNESDAY)
        db.session.add(message)
        db.session.flush()
        db.session.add(MessageInvoice(org_id=org.id, message_id=message.id, invoice_id=inv.id))
        db.session.commit()
        return message.id, inv


def state(org, message_id) -> Message:
    db.session.rollback()  # a fresh transaction: the sender committed on a connection of its own
    with tenant_scope(org.id):
        return db.session.get(Message, message_id)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr("jobs.outbox.utcnow", lambda: WEDNESDAY)


def test_a_due_message_is_sent_once_with_a_stable_message_id(org, transport, sink):
    message_id, _ = scheduled(org)
    assert send_due_messages(transport)["sent"] == 1
    assert send_due_messages(transport).get("sent", 0) == 0
    _controller, received = sink
    assert len(received.messages) == 1
    sent = state(org, message_id)
    assert sent.status == "sent" and received.messages[0]["Message-ID"] == sent.message_id_header
    assert received.messages[0]["To"] == "ap@globex.example"


def test_a_payment_after_scheduling_cancels_the_send(org, transport, sink):
    message_id, invoice = scheduled(org)
    with tenant_scope(org.id):
        invoice.balance_minor, invoice.status = 0, "paid"
        db.session.commit()
    assert send_due_messages(transport)["cancelled"] == 1
    assert state(org, message_id).status == "cancelled" and sink[1].messages == []


def test_quiet_hours_at_send_time_defer_the_message(org, transport, sink, monkeypatch):
    message_id, _ = scheduled(org, when=WEDNESDAY - dt.timedelta(hours=1))
    late = dt.datetime(2026, 11, 18, 22, 0, tzinfo=dt.UTC)
    monkeypatch.setattr("jobs.outbox.utcnow", lambda: late)
    assert send_due_messages(transport)["deferred"] == 1
    deferred = state(org, message_id)
    assert deferred.status == "scheduled" and deferred.scheduled_for == dt.datetime(2026, 11, 19, 8, 0, tzinfo=dt.UTC)
    assert "Quiet hours" in deferred.wait_reason and sink[1].messages == []


def test_a_refused_mailbox_fails_the_message_and_marks_the_contact_bounced(org, transport):
    message_id, _ = scheduled(org, email="nobody@bounce.example")
    assert send_due_messages(transport)["failed"] == 1
    db.session.rollback()
    with tenant_scope(org.id):
        contact = db.session.scalar(select(Contact).where(Contact.email == "nobody@bounce.example"))
        assert contact.bounce_kind == "hard"
    assert state(org, message_id).status == "failed"


def test_a_temporary_refusal_is_retried_later(org, transport):
    message_id, _ = scheduled(org, email="ap@busy.example")
    assert send_due_messages(transport)["retry"] == 1
    retry = state(org, message_id)
    assert retry.status == "scheduled" and retry.scheduled_for == WEDNESDAY + dt.timedelta(minutes=1)


def test_an_unreachable_server_leaves_messages_to_retry(org):
    message_id, _ = scheduled(org)
    assert send_due_messages(SmtpTransport("127.0.0.1", 1))["mailbox_unavailable"] == 1
    waiting = state(org, message_id)
    assert (waiting.status, waiting.attempts, waiting.wait_reason) == ("scheduled", 0, "Waiting for the mailbox")


def test_an_unreachable_server_stops_the_batch_without_counting_attempts(org):
    first, _ = scheduled(org, email="ap1@globex.example")
    second, _ = scheduled(org, email="ap2@globex.example")
    outcomes = send_due_messages(SmtpTransport("127.0.0.1", 1))
    assert (outcomes["mailbox_unavailable"], outcomes["released"]) == (1, 1)  # the second was never tried
    assert {state(org, m).attempts for m in (first, second)} == {0}


def test_a_message_leased_by_a_sender_that_died_before_sending_goes_back_to_the_queue(org, transport, sink):
    message_id, _ = scheduled(org)
    with tenant_scope(org.id):
        assert claim_due(db.session, WEDNESDAY) == [message_id]  # a sender leased it, then died
        assert reconcile_stuck(db.session, WEDNESDAY) == {"requeued": 0, "review": 0}  # its lease still runs
        assert reconcile_stuck(db.session, WEDNESDAY + dt.timedelta(minutes=6)) == {"requeued": 1, "review": 0}
    assert send_due_messages(transport)["sent"] == 1 and len(sink[1].messages) == 1


def test_a_message_stranded_mid_hand_over_goes_to_review_not_back_to_the_queue(org, transport, sink):
    message_id, _ = scheduled(org)
    with tenant_scope(org.id):
        claim_due(db.session, WEDNESDAY)
        db.session.get(Message, message_id).status = "delivering"  # handed over, then the sender died
        db.session.commit()
        assert reconcile_stuck(db.session, WEDNESDAY + dt.timedelta(minutes=6)) == {"requeued": 0, "review": 1}
    assert state(org, message_id).status == "review"
    assert send_due_messages(transport).get("sent", 0) == 0 and sink[1].messages == []


def test_plain_text_smtp_is_refused_off_loopback():
    from plixo.integrations.mail.smtp import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("smtp.example.com") and not is_loopback("10.0.0.5")


def test_dev_outbox_lists_what_the_development_sink_received(app, client, org, tmp_path, monkeypatch):
    from plixo.devmail import start_dev_sink

    controller = start_dev_sink(tmp_path / "outbox")
    try:
        scheduled(org)
        assert send_due_messages(SmtpTransport(controller.hostname, controller.port))["sent"] == 1
    finally:
        controller.stop()
    monkeypatch.setitem(app.config, "DEV_OUTBOX_DIR", str(tmp_path / "outbox"))
    html = client.get("/admin/dev-outbox").get_data(as_text=True)
    assert "to ap@globex.example" in html and "Please pay." in html


def test_dev_outbox_is_absent_without_a_sink(client):
    assert client.get("/admin/dev-outbox").status_code == 404


def test_a_rejected_message_fails_without_marking_the_mailbox_bounced(org, transport):
    message_id, _ = scheduled(org, email="ap@strict.example")
    assert send_due_messages(transport)["failed"] == 1
    assert state(org, message_id).status == "failed"
    with tenant_scope(org.id):
        assert db.session.scalar(select(Contact.bounce_kind).where(Contact.email == "ap@strict.example")) is None


def _engine_email(org, controller, balances=(50_000,), body="{amount_due} is due."):
    """An Autopilot cadence e-mail scheduled by the engine for one customer's overdue invoices."""
    from plixo.outreach.cadences import StepInput, create_cadence, tick
    from plixo.outreach.models import Segment

    with tenant_scope(org.id):
        org.time_zone = "UTC"
        customer = make_customer(org, time_zone="UTC", name="Globex")
        make_contact(customer, email="ap@globex.example")
        invoices = [make_invoice(org, customer, due_date=WEDNESDAY.date() - dt.timedelta(days=5 + n),
                                 balance_minor=balance) for n, balance in enumerate(balances)]
        make_ready_sender(org, "ar@plixo.localhost")
        segment = Segment(org_id=org.id, name="Everyone", rules={}, mode="autopilot")
        db.session.add(segment)
        db.session.flush()
        step = StepInput(3, "due_date", "Invoice {invoice_number}", body)
        create_cadence(db.session, org, controller, "Auto", segment.id, [step], "active", WEDNESDAY)
        assert tick(db.session, org, WEDNESDAY).scheduled == 1
        db.session.commit()
        return db.session.scalar(select(Message.id)), invoices


def test_an_engine_email_is_rendered_again_with_the_balance_at_send_time(org, controller, transport, sink):
    message_id, [invoice] = _engine_email(org, controller)
    with tenant_scope(org.id):
        invoice.balance_minor = 20_000  # a partial payment arrived after scheduling
        db.session.commit()
    assert send_due_messages(transport)["sent"] == 1
    assert "$200.00 is due." in sink[1].messages[0].get_payload(decode=True).decode()
    assert state(org, message_id).body.startswith("$200.00 is due.")


def test_an_engine_email_whose_pay_link_is_gone_returns_to_review_unsent(org, controller, transport, sink):
    from plixo.connectors.models import Connection

    with tenant_scope(org.id):
        stripe = Connection(org_id=org.id, kind="stripe", provider="stripe", status="active", settings={})
        db.session.add(stripe)
        db.session.commit()
    message_id, _invoices = _engine_email(org, controller, body="{amount_due} is due. Pay here: {pay_link}")
    assert "/pay/" in state(org, message_id).body
    with tenant_scope(org.id):
        db.session.get(Connection, stripe.id).status = "disconnected"  # pay links no longer work
        db.session.commit()
    assert send_due_messages(transport)["review_needed"] == 1
    message = state(org, message_id)
    assert sink[1].messages == [] and message.status == "draft" and "{pay_link}" in message.body
    assert message.wait_reason.startswith("Needs review: {pay_link} has no value")


def test_a_consolidated_email_goes_on_without_the_invoice_paid_since(org, controller, transport, sink):
    message_id, [paid, still_open] = _engine_email(org, controller, balances=(50_000, 70_000))
    with tenant_scope(org.id):
        paid.balance_minor, paid.status = 0, "paid"
        db.session.commit()
    assert send_due_messages(transport)["sent"] == 1
    email = sink[1].messages[0]
    assert email["Subject"] == f"Invoice {still_open.number}"
    assert email.get_payload(decode=True).decode().startswith("$700.00 is due.")
    with tenant_scope(org.id):
        listed = db.session.scalars(select(MessageInvoice.invoice_id).where(MessageInvoice.message_id == message_id))
        assert list(listed) == [still_open.id]


def test_an_engine_email_waits_out_the_gap_after_a_touch_sent_since(org, controller, transport, sink):
    message_id, [invoice] = _engine_email(org, controller)
    with tenant_scope(org.id):
        db.session.add(Message(org_id=org.id, idempotency_key="by-hand", customer_id=invoice.customer_id,
                               status="sent", sent_at=WEDNESDAY - dt.timedelta(hours=2), subject="s", body="b"))
        db.session.commit()
    assert send_due_messages(transport)["deferred"] == 1
    deferred = state(org, message_id)
    assert deferred.scheduled_for == WEDNESDAY + dt.timedelta(hours=46) and sink[1].messages == []
    assert deferred.wait_reason.startswith("Minimum gap of 48 h: goes")


def test_a_second_sender_leaves_a_workspace_alone_while_another_holds_its_lease(org):
    scheduled(org)
    scheduled(org, email="ap@initech.example")
    with tenant_scope(org.id):
        assert len(claim_due(db.session, WEDNESDAY, limit=1)) == 1
        assert claim_due(db.session, WEDNESDAY) == []  # the first sender's lease still runs


def test_the_daily_cap_counts_the_sends_of_the_same_batch(org, transport, sink):
    from plixo.accounts.models import Policy

    scheduled(org)
    second, _ = scheduled(org, email="ap@initech.example")
    with tenant_scope(org.id):
        policy = db.session.scalar(select(Policy))
        policy.daily_cap_per_mailbox = 1
        db.session.commit()
    outcomes = send_due_messages(transport)
    assert (outcomes["sent"], outcomes["deferred"]) == (1, 1) and len(sink[1].messages) == 1
    assert "Daily cap of 1 reached" in state(org, second).wait_reason


def test_an_address_refused_early_in_a_batch_stops_its_later_emails(org, transport, sink):
    first, invoice = scheduled(org, email="nobody@bounce.example")
    with tenant_scope(org.id):
        contact_id = db.session.get(Message, first).contact_id
        db.session.add(Message(org_id=org.id, idempotency_key="second", customer_id=invoice.customer_id,
                               contact_id=contact_id, to_email="nobody@bounce.example", status="scheduled",
                               subject="Again", body="Please pay.", scheduled_for=WEDNESDAY))
        db.session.commit()
    outcomes = send_due_messages(transport)
    assert (outcomes["failed"], outcomes["cancelled"]) == (1, 1)


def test_past_its_time_budget_the_sender_gives_the_rest_back_for_the_next_run(org, transport, sink):
    first, _ = scheduled(org, email="ap1@globex.example")
    second, _ = scheduled(org, email="ap2@globex.example")
    with tenant_scope(org.id):  # deadline 0: already over budget when the batch starts
        ids = claim_due(db.session, WEDNESDAY)
        outcomes = send_leased(db.session, ids, transport, WEDNESDAY, ("", "ar@plixo.localhost"), deadline=0)
    assert outcomes == {"released": 2} and sink[1].messages == []
    assert {state(org, m).status for m in (first, second)} == {"scheduled"}


def test_a_reply_nobody_has_handled_pauses_the_email_until_it_is_handled(org, transport, sink, monkeypatch):
    from plixo.replies.models import Reply

    message_id, invoice = scheduled(org)
    with tenant_scope(org.id):
        reply = Reply(org_id=org.id, header_message_id="<r1@globex.example>", customer_id=invoice.customer_id,
                      invoice_id=invoice.id, matched_by="sender", from_email="ap@globex.example",
                      received_at=WEDNESDAY - dt.timedelta(hours=1), label="other", body="Call me first.")
        db.session.add(reply)
        db.session.commit()
        reply_id = reply.id
    assert send_due_messages(transport).get("sent", 0) == 0 and sink[1].messages == []
    paused = state(org, message_id)
    assert paused.status == "scheduled" and paused.wait_reason.startswith("Paused: Reply from ")
    assert "waiting since" in paused.wait_reason
    assert paused.scheduled_for > WEDNESDAY and paused.attempts == 0  # waiting is not a failed attempt
    with tenant_scope(org.id):
        db.session.get(Reply, reply_id).handled_at = WEDNESDAY
        db.session.commit()
    later = paused.scheduled_for + dt.timedelta(minutes=1)
    monkeypatch.setattr("jobs.outbox.utcnow", lambda: later)
    assert send_due_messages(transport).get("sent", 0) == 1 and len(sink[1].messages) == 1


def test_an_autopilot_email_waits_for_a_person_once_the_customer_disputes_another_invoice(org, transport, sink):
    from plixo.disputes.models import Dispute
    from plixo.outreach.models import Cadence, CadenceStep

    message_id, invoice = scheduled(org)
    with tenant_scope(org.id):
        other = make_invoice(org, invoice.customer, number="INV-DISPUTED", status="disputed")
        db.session.add(Dispute(org_id=org.id, invoice_id=other.id, customer_id=invoice.customer_id,
                               reason="quality", status="investigating", opened_at=WEDNESDAY - dt.timedelta(hours=2)))
        cadence = Cadence(org_id=org.id, name="Gentle", status="active")
        db.session.add(cadence)
        db.session.flush()
        step = CadenceStep(org_id=org.id, cadence_id=cadence.id, position=1, offset_days=3,
                           subject="Invoice {invoice_number}", body="Please pay {amount_due}.")
        db.session.add(step)
        db.session.flush()
        db.session.get(Message, message_id).cadence_step_id = step.id
        db.session.commit()
    assert send_due_messages(transport).get("sent", 0) == 0 and sink[1].messages == []
    waiting = state(org, message_id)
    assert waiting.status == "draft" and "INV-DISPUTED disputed" in waiting.wait_reason


def test_no_control_or_bidi_character_goes_out_in_a_subject(org, transport, sink):
    message_id, _invoice = scheduled(org)
    with tenant_scope(org.id):
        db.session.get(Message, message_id).subject = "Invoice INV-7\u202e EXE.FDP\r\nBcc: x@evil.example\u200b"
        db.session.commit()
    assert send_due_messages(transport)["sent"] == 1
    subject = sink[1].messages[0]["Subject"]
    assert subject == "Invoice INV-7 EXE.FDP Bcc: x@evil.example" and sink[1].messages[0]["Bcc"] is None
