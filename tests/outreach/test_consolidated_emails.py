"""Consolidated e-mails list each invoice with its own number, amount and due date (merge blocks, not figures
typed in), speak in the plural, and go back to the singular once a single invoice is left."""

import datetime as dt

import pytest
from sqlalchemy import select

from jobs.outbox import send_due_messages
from plixo.extensions import db
from plixo.integrations.mail.smtp import SmtpTransport
from plixo.outreach.cadences import DueInvoice, StepInput, create_cadence, render_step, tick
from plixo.outreach.models import CadenceStep, Message, Segment
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, make_ready_sender
from tests.smtp_sink import start_sink

WEDNESDAY = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
TODAY = WEDNESDAY.date()
SUBJECT = "Invoice {invoice_number} is {days_past_due} days past due"
BODY = """Hello {customer_name},

We are following up on our earlier e-mail. Invoice {invoice_number} for {amount_due} was due on {due_date} and is \
still open on our side.

Please arrange payment at your earliest convenience.

Kind regards,
{sender_name}"""


class NoLinks:
    def values(self, customer_id, portal_version, invoice_ids):
        return {}


def due(number: str, balance_minor: int, due_date: dt.date, currency: str = "USD") -> DueInvoice:
    return DueInvoice(id=int(number[-1]), customer_id=1, number=number, balance_minor=balance_minor,
                      currency=currency, due_date=due_date, customer_name="Globex", time_zone="UTC", held=False,
                      portal_version=1)


def rendered(*invoices: DueInvoice) -> tuple[str, str]:
    step = CadenceStep(position=1, subject=SUBJECT, body=BODY)
    subject, body, problems = render_step(step, list(invoices), TODAY, "Acme Corp", NoLinks())
    assert problems == []
    return subject, body


FIRST = due("INV-1", 120_000, dt.date(2026, 11, 6))
SECOND = due("INV-2", 75_000, dt.date(2026, 11, 9))
THIRD = due("INV-3", 30_000, dt.date(2026, 11, 12))


def test_one_invoice_reads_in_the_singular_as_written():
    assert rendered(FIRST) == ("Invoice INV-1 is 12 days past due", """Hello Globex,

We are following up on our earlier e-mail. Invoice INV-1 for $1,200.00 was due on 6 Nov 2026 and is still open on \
our side.

Please arrange payment at your earliest convenience.

Kind regards,
Acme Corp""")


def test_two_invoices_are_listed_each_with_its_amount_and_due_date():
    assert rendered(FIRST, SECOND) == ("Your open invoices: $1,950.00", """Hello Globex,

We are following up on our earlier e-mail.

These invoices are open on your account:
- INV-1: $1,200.00, due 6 Nov 2026
- INV-2: $750.00, due 9 Nov 2026
Total due: $1,950.00

Please arrange payment at your earliest convenience.

Kind regards,
Acme Corp""")


def test_three_invoices_are_all_listed():
    assert rendered(FIRST, SECOND, THIRD) == ("Your open invoices: $2,250.00", """Hello Globex,

We are following up on our earlier e-mail.

These invoices are open on your account:
- INV-1: $1,200.00, due 6 Nov 2026
- INV-2: $750.00, due 9 Nov 2026
- INV-3: $300.00, due 12 Nov 2026
Total due: $2,250.00

Please arrange payment at your earliest convenience.

Kind regards,
Acme Corp""")


def test_mixed_currencies_are_never_added_together():
    in_euros = due("INV-3", 30_000, dt.date(2026, 11, 12), currency="EUR")
    assert rendered(FIRST, SECOND, in_euros) == ("Your open invoices: €300.00 and $1,950.00", """Hello Globex,

We are following up on our earlier e-mail.

These invoices are open on your account:
- INV-1: $1,200.00, due 6 Nov 2026
- INV-2: $750.00, due 9 Nov 2026
- INV-3: €300.00, due 12 Nov 2026

Please arrange payment at your earliest convenience.

Kind regards,
Acme Corp""")


def test_a_step_that_places_the_list_itself_keeps_its_own_wording():
    step = CadenceStep(position=1, subject="Statement for {customer_name}",
                       body="Open on your account:\n{invoice_list}\nIn all {total_due}. Invoice {invoice_number} is "
                            "the oldest.\n\nThanks,\n{sender_name}")
    subject, body, _problems = render_step(step, [FIRST, SECOND], TODAY, "Acme Corp", NoLinks())
    assert subject == "Statement for Globex"
    assert body == ("Open on your account:\n- INV-1: $1,200.00, due 6 Nov 2026\n- INV-2: $750.00, due 9 Nov 2026\n"
                    "In all $1,950.00.\n\nThanks,\nAcme Corp")


@pytest.fixture
def sink():
    controller, sink = start_sink()
    yield controller, sink
    controller.stop()


def test_the_outbox_writes_the_singular_again_once_one_of_two_invoices_is_paid(org, controller, sink, monkeypatch):
    monkeypatch.setattr("jobs.outbox.utcnow", lambda: WEDNESDAY)
    with tenant_scope(org.id):
        org.time_zone, org.name = "UTC", "Acme Corp"
        customer = make_customer(org, time_zone="UTC", name="Globex")
        make_contact(customer, email="ap@globex.example")
        paid = make_invoice(org, customer, number="INV-1", due_date=dt.date(2026, 11, 6), balance_minor=120_000)
        make_invoice(org, customer, number="INV-2", due_date=dt.date(2026, 11, 9), balance_minor=75_000)
        make_ready_sender(org, "ar@plixo.localhost")
        segment = Segment(org_id=org.id, name="Everyone", rules={}, mode="autopilot")
        db.session.add(segment)
        db.session.flush()
        create_cadence(db.session, org, controller, "Auto", segment.id, [StepInput(3, "due_date", SUBJECT, BODY)],
                       "active", WEDNESDAY)
        assert tick(db.session, org, WEDNESDAY).scheduled == 1
        scheduled = db.session.scalar(select(Message))
        assert scheduled.subject == "Your open invoices: $1,950.00" and "- INV-2: $750.00" in scheduled.body
        paid.balance_minor, paid.status = 0, "paid"
        db.session.commit()
    smtp, received = sink
    assert send_due_messages(SmtpTransport(smtp.hostname, smtp.port))["sent"] == 1
    email = received.messages[0]
    assert email["Subject"] == "Invoice INV-2 is 9 days past due"
    assert email.get_payload(decode=True).decode().replace("\r\n", "\n").rstrip() == """Hello Globex,

We are following up on our earlier e-mail. Invoice INV-2 for $750.00 was due on 9 Nov 2026 and is still open on \
our side.

Please arrange payment at your earliest convenience.

Kind regards,
Acme Corp"""


def test_a_sentence_naming_only_the_balance_speaks_of_the_total_and_keeps_its_link():
    links = NoLinks()
    links.values = lambda *args: {"pay_link": "https://pay.example/p/abc"}
    step = CadenceStep(position=1, subject="Overdue: {invoice_number}", body="Please pay {amount_due}: {pay_link}")
    assert render_step(step, [FIRST, SECOND], TODAY, "Acme Corp", links)[:2] == (
        "Your open invoices: $1,950.00",
        "These invoices are open on your account:\n- INV-1: $1,200.00, due 6 Nov 2026\n"
        "- INV-2: $750.00, due 9 Nov 2026\nTotal due: $1,950.00\n\n"
        "Please pay $1,950.00: https://pay.example/p/abc")


def test_a_link_in_a_sentence_that_gives_way_to_the_list_is_kept_below_it():
    links = NoLinks()
    links.values = lambda *args: {"pay_link": "https://pay.example/p/abc"}
    step = CadenceStep(position=1, subject="Reminder",
                       body="Hello {customer_name},\n\nInvoice {invoice_number} is due: pay it here {pay_link}\n\n"
                            "Thanks,\n{sender_name}")
    assert render_step(step, [FIRST, SECOND], TODAY, "Acme Corp", links)[1] == (
        "Hello Globex,\n\nThese invoices are open on your account:\n- INV-1: $1,200.00, due 6 Nov 2026\n"
        "- INV-2: $750.00, due 9 Nov 2026\nTotal due: $1,950.00\nPay online: https://pay.example/p/abc\n\n"
        "Thanks,\nAcme Corp")


def test_a_link_in_a_sentence_that_gives_way_to_the_authors_own_list_is_kept_below_it():
    links = NoLinks()
    links.values = lambda *args: {"pay_link": "https://pay.example/p/abc"}
    step = CadenceStep(position=1, subject="Statement",
                       body="Open on your account:\n{invoice_list}\nInvoice {invoice_number}: pay it at {pay_link}"
                            "\n\nThanks,\n{sender_name}")
    assert render_step(step, [FIRST, SECOND], TODAY, "Acme Corp", links)[1] == (
        "Open on your account:\n- INV-1: $1,200.00, due 6 Nov 2026\n- INV-2: $750.00, due 9 Nov 2026\n"
        "Pay online: https://pay.example/p/abc\n\nThanks,\nAcme Corp")
