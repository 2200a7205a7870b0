"""The compose box's draft follows the invoice's story (contact, signer, e-mails sent, replies, promises), and
{promise_date} is filled wherever merge fields are: the compose box, its preview and cadence e-mails."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.extensions import db
from plixo.model import utcnow
from plixo.outreach.cadences import StepInput, create_cadence, tick
from plixo.outreach.drafting import first_name
from plixo.outreach.merge_fields import merge_values
from plixo.outreach.models import Message, Segment
from plixo.promises.models import Promise
from plixo.queue.inspector import inspect
from plixo.replies.models import Reply
from tests.factories import make_contact, make_customer, make_invoice, workspace_today

TODAY = workspace_today()


@pytest.fixture
def invoice(scoped):
    customer = make_customer(scoped, name="Globex")
    make_contact(customer, email="maria@globex.example", name="Maria Lopez")
    return make_invoice(scoped, customer, number="INV-77", due_date=TODAY - dt.timedelta(days=40))


def drafted(org, invoice, user):
    return inspect(db.session, org, invoice, user, utcnow(), sender_role="controller")


def sent_email(invoice, at: dt.datetime) -> Message:
    message = Message(org_id=invoice.org_id, idempotency_key=f"sent:{at.isoformat()}", customer_id=invoice.customer_id,
                      invoice_id=invoice.id, status="sent", sent_at=at, subject="Invoice", body="Hello",
                      to_email="maria@globex.example")
    db.session.add(message)
    db.session.flush()
    return message


def reply(invoice, label: str, at: dt.datetime) -> Reply:
    found = Reply(org_id=invoice.org_id, header_message_id=f"<{label}@globex.example>", customer_id=invoice.customer_id,
                  invoice_id=invoice.id, matched_by="thread", from_email="maria@globex.example", received_at=at,
                  label=label, body="…")
    db.session.add(found)
    db.session.flush()
    return found


def promise(invoice, status: str, days_from_today: int) -> Promise:
    found = Promise(org_id=invoice.org_id, invoice_id=invoice.id, customer_id=invoice.customer_id,
                    currency="USD", amount_minor=50_000, promised_date=TODAY + dt.timedelta(days=days_from_today),
                    status=status)
    db.session.add(found)
    db.session.flush()
    return found


def test_the_draft_greets_the_contact_and_is_signed_with_the_senders_role(scoped, controller, invoice):
    body = drafted(scoped, invoice, controller).body
    assert body.split("\n")[0] in ("Dear Maria,", "Hello Maria,") and body.endswith("\nFinancial Controller")


def test_the_same_invoice_drafts_the_same_email_again(scoped, controller, invoice):
    first, again = drafted(scoped, invoice, controller), drafted(scoped, invoice, controller)
    assert (first.subject, first.body) == (again.subject, again.body)


def test_the_next_email_to_a_customer_reads_differently(scoped, controller, invoice):
    before = drafted(scoped, invoice, controller).body
    sent_email(invoice, utcnow() - dt.timedelta(days=3))
    assert drafted(scoped, invoice, controller).body != before


def test_after_a_sent_email_the_draft_follows_up(scoped, controller, invoice):
    sent_email(invoice, utcnow() - dt.timedelta(days=3))
    body = drafted(scoped, invoice, controller).body
    assert any(word in body for word in ("earlier", "previous", "recently"))


def test_an_already_paid_reply_makes_the_draft_ask_for_the_remittance(scoped, controller, invoice):
    reply(invoice, "already_paid", utcnow() - dt.timedelta(hours=2))
    assert "remittance" in drafted(scoped, invoice, controller).body


def test_a_reply_we_wrote_after_is_not_answered_again(scoped, controller, invoice):
    reply(invoice, "already_paid", utcnow() - dt.timedelta(days=2))
    sent_email(invoice, utcnow() - dt.timedelta(days=1))
    assert "remittance" not in drafted(scoped, invoice, controller).body


def test_a_request_for_a_copy_puts_the_portal_link_first(scoped, controller, invoice):
    reply(invoice, "invoice_copy", utcnow() - dt.timedelta(hours=2))
    inspection = drafted(scoped, invoice, controller)
    assert inspection.body.split("\n\n")[1].endswith("\n{portal_link}")
    assert inspection.subject in ("Copy of invoice {invoice_number}", "Invoice {invoice_number}, as requested")


def test_a_broken_promise_is_named_and_its_date_filled_in(scoped, controller, invoice):
    promise(invoice, "broken", -7)
    inspection = drafted(scoped, invoice, controller)
    when = (TODAY - dt.timedelta(days=7)).strftime("%-d %b %Y")
    assert "{promise_date}" in inspection.body and when in inspection.preview.body
    assert not inspection.preview.problems


def test_the_promise_date_is_the_latest_promise_not_cancelled(scoped, invoice):
    promise(invoice, "broken", -7)
    promise(invoice, "cancelled", 9)
    assert merge_values(invoice, TODAY, "Cora")["promise_date"] == (TODAY - dt.timedelta(days=7)).strftime("%-d %b %Y")


def test_without_a_promise_the_promise_date_has_no_value(scoped, invoice):
    assert merge_values(invoice, TODAY, "Cora")["promise_date"] == ""


@pytest.mark.parametrize(("name", "greeted"), [
    ("James Okoye", "James"), ("Accounts Payable", ""), ("AP team", ""), ("Payables 12", ""), ("R2D2", ""),
    ("{customer_name}", ""), ("", ""), (None, ""), ("Anne-Marie Dubois", "Anne-Marie"),
])
def test_only_a_persons_name_is_greeted(name, greeted):
    assert first_name(name) == greeted


# Cadence e-mails fill {promise_date} too.

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
STEP = StepInput(3, "due_date", "Invoice {invoice_number}", "You promised to pay by {promise_date}.")


@pytest.fixture
def utc_workspace(scoped):
    scoped.time_zone = "UTC"
    segment = Segment(org_id=scoped.id, name="All", rules={}, mode="shadow")
    db.session.add(segment)
    db.session.flush()
    return scoped, segment


def cadence_invoice(org):
    customer = make_customer(org, name="Globex", time_zone="UTC")
    make_contact(customer, email="ap@globex.example")
    return make_invoice(org, customer, due_date=NOW.date() - dt.timedelta(days=5))


def test_a_cadence_email_fills_the_promise_date(utc_workspace, controller):
    org, segment = utc_workspace
    invoice = cadence_invoice(org)
    db.session.add(Promise(org_id=org.id, invoice_id=invoice.id, customer_id=invoice.customer_id, currency="USD",
                           amount_minor=50_000, promised_date=dt.date(2026, 11, 21), status="pending"))
    create_cadence(db.session, org, controller, "Promises", segment.id, [STEP], "shadow", NOW)
    tick(db.session, org, NOW)
    assert db.session.scalar(select(Message.body)) == "You promised to pay by 21 Nov 2026."


def test_a_cadence_email_naming_a_promise_that_was_never_made_waits_for_review(utc_workspace, controller):
    org, segment = utc_workspace
    cadence_invoice(org)
    create_cadence(db.session, org, controller, "Promises", segment.id, [STEP], "shadow", NOW)
    tick(db.session, org, NOW)
    assert "{promise_date} has no value" in db.session.scalar(select(Message.wait_reason))
