"""Sending-domain health: warmup caps the sender day by day, bounces per domain pause the ramp, feed the queue and
show on the Deliverability page."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from jobs.outbox import send_due_messages
from plixo.extensions import db
from plixo.integrations.mail.smtp import SmtpTransport
from plixo.ledger.models import Invoice
from plixo.ledger.priority import refresh_priorities
from plixo.mail.models import SendingDomain
from plixo.outreach.models import Message, MessageInvoice
from plixo.replies.intake import ingest_reply
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice
from tests.smtp_sink import start_sink

WEDNESDAY = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
PAGE = "/admin/deliverability"


@pytest.fixture
def sink():
    controller, sink = start_sink()
    yield controller, sink
    controller.stop()


@pytest.fixture
def clock(monkeypatch):
    moments = [WEDNESDAY]
    monkeypatch.setattr("jobs.outbox.utcnow", lambda: moments[0])
    return moments


@pytest.fixture
def sending_domain(client, org, app):
    """The sender's domain on the Deliverability page: a new domain, so it warms up."""
    client.post(f"{PAGE}/domains", data={"domain": app.config["MAIL_FROM"].rsplit("@", 1)[1]})
    with tenant_scope(org.id):
        return db.session.scalar(select(SendingDomain)).id


def schedule(org, count: int, bouncing: int = 0) -> None:
    """`count` reminders due now to different customers (the first `bouncing` to addresses that do not exist)."""
    with tenant_scope(org.id):
        for n in range(count):
            email = f"ap{n}@bounce.example" if n < bouncing else f"ap{n}@globex.example"
            customer = make_customer(org, time_zone="UTC")
            contact = make_contact(customer, email=email)
            invoice = make_invoice(org, customer)
            message = Message(org_id=org.id, idempotency_key=f"warm:{invoice.id}", customer_id=customer.id,
                              invoice_id=invoice.id, contact_id=contact.id, to_email=email, status="scheduled",
                              subject="Reminder", body="Please pay.", scheduled_for=WEDNESDAY - dt.timedelta(hours=1))
            db.session.add(message)
            db.session.flush()
            db.session.add(MessageInvoice(org_id=org.id, message_id=message.id, invoice_id=invoice.id))
        db.session.commit()


def domain_state(org, sending_id) -> SendingDomain:
    db.session.rollback()
    with tenant_scope(org.id):
        return db.session.get(SendingDomain, sending_id)


def test_a_new_domain_sends_20_on_its_first_day_then_twice_as_many_each_day(org, sink, clock, sending_domain):
    controller, received = sink
    schedule(org, 70)
    transport = SmtpTransport(controller.hostname, controller.port)
    outcomes = send_due_messages(transport)
    assert outcomes["sent"] == 20 and len(received.messages) == 20
    with tenant_scope(org.id):
        waiting = db.session.scalars(select(Message.wait_reason).where(Message.status == "scheduled")).all()
        assert len(waiting) == 50 and all(r.startswith("Warmup cap of 20 for plixo.localhost reached: goes")
                                            for r in waiting)
        assert set(db.session.scalars(select(Message.sender_domain).where(Message.status == "sent"))) \
            == {"plixo.localhost"}
    clock[0] = WEDNESDAY + dt.timedelta(days=1)
    assert send_due_messages(SmtpTransport(controller.hostname, controller.port))["sent"] == 40
    state = domain_state(org, sending_domain)
    assert (state.warmup_cap, state.warmup_paused) == (40, False)


def test_the_ramp_pauses_while_the_domain_bounces_too_much(org, sink, clock, sending_domain):
    controller, _received = sink
    schedule(org, 50, bouncing=2)
    send_due_messages(SmtpTransport(controller.hostname, controller.port))
    with tenant_scope(org.id):
        assert db.session.scalar(select(Message).where(Message.to_email == "ap0@bounce.example")).bounced_at \
            == WEDNESDAY
    clock[0] = WEDNESDAY + dt.timedelta(days=1)
    send_due_messages(SmtpTransport(controller.hostname, controller.port))
    state = domain_state(org, sending_domain)
    assert (state.warmup_cap, state.warmup_paused) == (20, True)  # 2 of 20 bounced: 10 %
    with tenant_scope(org.id):
        assert db.session.scalar(select(Message.wait_reason).where(Message.status == "scheduled")) \
            .startswith("Warmup cap of 20 for plixo.localhost reached: goes")


def test_warmup_ends_at_the_policy_cap_and_can_be_skipped_for_an_established_domain(client, org, sending_domain):
    page = client.get(PAGE).get_data(as_text=True)
    assert "20 → 40 → 80 → 160" in page and "Warming up" in page
    assert "Skip warmup for" in client.post(f"{PAGE}/domains/{sending_domain}/warmup",
                                            follow_redirects=True).get_data(as_text=True)
    assert domain_state(org, sending_domain).warmup_cap == 20  # asked first
    client.post(f"{PAGE}/domains/{sending_domain}/warmup", data={"confirm": "yes"})
    assert domain_state(org, sending_domain).warmup_cap >= 200
    assert "warmup complete" in client.get(PAGE).get_data(as_text=True)


def test_the_page_shows_the_bounce_rate_and_the_daily_figures(client, org, sink, clock, sending_domain):
    controller, _received = sink
    schedule(org, 20, bouncing=1)
    send_due_messages(SmtpTransport(controller.hostname, controller.port))
    page = client.get(PAGE).get_data(as_text=True)
    assert "5.0% (1 of 20)" in page  # too few e-mails yet for one bounce to count against Autopilot
    assert "Too high for Autopilot" not in page
    assert 'data-chart="chart-' in page and '"sent": [' in page and "vendor/chart.umd.min.js" in page
    assert "<td class=\"num\">20</td><td class=\"num\">1</td>" in page


def test_a_delivery_report_counts_against_the_domain_the_message_left_from(org, sink, clock, sending_domain):
    controller, _received = sink
    schedule(org, 1)
    send_due_messages(SmtpTransport(controller.hostname, controller.port))
    with tenant_scope(org.id):
        message = db.session.scalar(select(Message))
        report = (
            "From: MAILER-DAEMON@mx.globex.example\r\nTo: ar@plixo.localhost\r\nSubject: Undelivered\r\n"
            "Message-ID: <dsn-1@mx.globex.example>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
            "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.globex.example\r\n\r\n"
            f"Final-Recipient: rfc822; {message.to_email}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
            f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message.message_id_header}\r\n\r\n--b--\r\n")
        ingest_reply(db.session, org, report.encode(), WEDNESDAY + dt.timedelta(minutes=5))
        db.session.commit()
        assert db.session.get(Message, message.id).bounced_at is not None


def test_a_strained_sending_domain_puts_contacts_to_fix_before_disputes(org):
    now = dt.datetime.now(dt.UTC)
    with tenant_scope(org.id):
        customer = make_customer(org)
        bouncing = make_contact(customer, email="gone@globex.example", bounce_kind="hard", bounced_at=now)
        invoice = make_invoice(org, customer)
        for n in range(100):
            db.session.add(Message(org_id=org.id, idempotency_key=f"s{n}", customer_id=customer.id,
                                   contact_id=bouncing.id, status="sent", sender_domain="acme.example",
                                   sent_at=now - dt.timedelta(days=1), bounced_at=now if n < 10 else None))
        db.session.flush()
        refresh_priorities(db.session, org.id, org.base_currency, now.date())
        db.session.expire_all()  # the scores were written by a set-based UPDATE
        strained = db.session.get(Invoice, invoice.id)
        assert "sending domain at 10.0%" in strained.priority_detail["why"]
        assert strained.priority >= 900 + 150


def test_the_ramp_climbs_only_after_the_domain_really_sent_at_volume(org, sink, clock, sending_domain):
    controller, _received = sink
    schedule(org, 5)  # a quiet first day: 5 of the 20 allowed
    send_due_messages(SmtpTransport(controller.hostname, controller.port))
    clock[0] = WEDNESDAY + dt.timedelta(days=1)
    schedule(org, 1)
    send_due_messages(SmtpTransport(controller.hostname, controller.port))
    state = domain_state(org, sending_domain)
    assert (state.warmup_cap, state.warmup_paused) == (20, False)


def test_waiting_for_the_warmup_cap_does_not_use_up_retries(org, sink, clock, sending_domain):
    controller, _received = sink
    schedule(org, 25)
    for day in range(4):
        clock[0] = WEDNESDAY + dt.timedelta(minutes=day)  # the same day: the 5 beyond the cap wait each time
        send_due_messages(SmtpTransport(controller.hostname, controller.port))
    with tenant_scope(org.id):
        assert set(db.session.scalars(select(Message.attempts).where(Message.status == "scheduled"))) == {0}
