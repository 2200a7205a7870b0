"""The workspace's default signature signs the e-mails people and Autopilot send (the {signature} merge field)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from plixo.extensions import db
from plixo.ledger.payer_links import link_maker
from plixo.model import utcnow
from plixo.outreach import sends
from plixo.outreach.cadences import StepInput, create_cadence, tick
from plixo.outreach.drafting import drafted_email
from plixo.outreach.merge_fields import fill, merge_values, preview, signed
from plixo.outreach.models import Message, Segment
from tests.factories import make_contact, make_customer, make_invoice, workspace_today

SIGNATURE = "Acme Test Co · Accounts Receivable\n+1 555 0100"


def test_an_empty_signature_is_never_a_problem_and_adds_nothing():
    filled = fill("Regards\n{signature}", {"signature": ""})
    assert filled.problems == [] and filled.text == "Regards\n"
    assert signed("Regards,\nCora", "") == "Regards,\nCora"


def test_the_signature_ends_the_text_once_wherever_it_was_placed():
    assert signed("Regards,\nCora\n", SIGNATURE) == f"Regards,\nCora\n\n{SIGNATURE}"
    placed = preview("S", "Hello\n\n{signature}\n\nP.S. thanks", {"signature": SIGNATURE})
    assert placed.body.count(SIGNATURE) == 1 and placed.body.endswith("P.S. thanks")


def test_merge_values_carry_the_workspace_signature(scoped, invoice):
    assert merge_values(invoice, workspace_today(), "Cora")["signature"] == ""
    scoped.email_signature = SIGNATURE
    assert merge_values(invoice, workspace_today(), "Cora")["signature"] == SIGNATURE


def test_a_persons_e_mail_is_signed_in_the_preview_and_in_the_outbox(scoped, controller, invoice):
    scoped.email_signature = SIGNATURE
    values = merge_values(invoice, workspace_today(), controller.name, link_maker(db.session, scoped.id))
    subject, body = drafted_email("reminder", "professional", values)
    shown = preview(subject, body, values)
    assert shown.problems == [] and shown.body.endswith(f"Accounts receivable\n\n{SIGNATURE}")
    message = sends.send_email(db.session, scoped, invoice, controller, subject, body, values,
                               invoice.customer.contacts[0], utcnow())
    assert message.body.endswith(SIGNATURE) and message.body.count(SIGNATURE) == 1


def test_autopilot_e_mails_are_signed(scoped, controller):
    scoped.email_signature = SIGNATURE
    segment = Segment(org_id=scoped.id, name="All", rules={})
    db.session.add(segment)
    db.session.flush()
    create_cadence(db.session, scoped, controller, "Gentle", segment.id,
                   [StepInput(3, "due_date", "Invoice {invoice_number}", "Hello {customer_name}.\n\n{sender_name}")],
                   "shadow", utcnow())
    customer = make_customer(scoped, name="Initech", time_zone="UTC")
    make_contact(customer, email="ap@initech.example")
    for number in ("INV-S1", "INV-S2"):  # consolidated: the list of invoices comes before the signature
        make_invoice(scoped, customer, number=number, due_date=workspace_today() - dt.timedelta(days=9))
    tick(db.session, scoped, utcnow())
    message = db.session.scalars(select(Message)).one()
    assert message.body.endswith(SIGNATURE) and "These invoices are open on your account:" in message.body
    assert message.body.index("Hello Initech.") < message.body.index("INV-S1") < message.body.index(SIGNATURE)


def test_without_a_signature_autopilot_e_mails_are_as_before(scoped, controller):
    segment = Segment(org_id=scoped.id, name="All", rules={})
    db.session.add(segment)
    db.session.flush()
    create_cadence(db.session, scoped, controller, "Gentle", segment.id,
                   [StepInput(3, "due_date", "Invoice {invoice_number}", "Hello {customer_name}.\n\n{signature}")],
                   "shadow", utcnow())
    customer = make_customer(scoped, name="Initech", time_zone="UTC")
    make_contact(customer, email="ap@initech.example")
    make_invoice(scoped, customer, number="INV-S3", due_date=workspace_today() - dt.timedelta(days=9))
    tick(db.session, scoped, utcnow())
    message = db.session.scalars(select(Message)).one()
    assert message.body.strip() == "Hello Initech." and message.wait_reason is None
