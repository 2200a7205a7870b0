"""Writing to the payer about their dispute: drafted from the template that fits, sent through the outbox and the
send guard although the invoice is disputed, and the sender lets it go unless the invoice closed since."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.actions import ActionError
from plixo.disputes import correspondence, lifecycle
from plixo.disputes import service as disputes
from plixo.extensions import db
from plixo.model import utcnow
from plixo.outreach import sends
from plixo.outreach.models import Message

HTMX = {"HX-Request": "true", "HX-Target": "inspector"}


@pytest.fixture
def dispute(scoped, controller, invoice, tmp_path):
    return disputes.open_dispute(db.session, scoped, invoice, controller, "quality", "Parts arrived broken", None,
                                 tmp_path, utcnow())


def test_the_suggested_template_follows_the_dispute(scoped, controller, dispute):
    assert correspondence.suggested_response(dispute) == "acknowledge"
    subject, body = correspondence.draft_response(db.session, scoped, dispute, "acknowledge")
    assert "{invoice_number}" in subject and "damaged or defective goods" in body and "{reason}" not in body
    lifecycle.resolve(db.session, scoped, dispute, controller, "invalid", "no_action",
                      "The delivery note is signed without remarks.", utcnow())
    assert correspondence.suggested_response(dispute) == "resolved_invalid"
    _subject, body = correspondence.draft_response(db.session, scoped, dispute, "resolved_invalid")
    assert "The delivery note is signed without remarks." in body


def test_a_response_goes_to_the_outbox_although_the_invoice_is_disputed(scoped, controller, invoice, dispute):
    subject, body = correspondence.draft_response(db.session, scoped, dispute, "acknowledge")
    message = correspondence.send_response(db.session, scoped, dispute, controller, subject, body, utcnow())
    assert (message.status, message.dispute_id, message.to_email) == ("scheduled", dispute.id, "ap@globex.example")
    assert invoice.number in message.subject and "{" not in message.body


def test_an_ordinary_e_mail_on_a_disputed_invoice_is_still_refused(scoped, controller, invoice, dispute):
    with pytest.raises(ActionError, match="No outreach on this invoice"):
        sends.send_email(db.session, scoped, invoice, controller, "Pay {invoice_number}", "Please pay.",
                         {"invoice_number": invoice.number}, invoice.customer.contacts[0], utcnow())


def test_an_empty_response_is_refused(scoped, controller, dispute):
    with pytest.raises(ActionError):
        correspondence.send_response(db.session, scoped, dispute, controller, " ", "", utcnow())
    assert db.session.scalars(select(Message)).all() == []


def test_the_inspector_drafts_and_sends_it(client, org, controller):
    from plixo.tenancy import tenant_scope
    from tests.disputes.test_views import fresh, open_one
    from tests.factories import make_contact

    opened = open_one(org, controller, source="email", reason="quality")
    with tenant_scope(org.id):
        from plixo.ledger.models import Customer

        make_contact(db.session.get(Customer, opened.customer_id), email="ap@payer.example")
        db.session.commit()
    page = client.get(f"/work/disputes/{opened.id}?response=request_info", headers=HTMX).get_data(as_text=True)
    assert "a few details to resolve your query" in page and "Write to the payer" in page
    sent = client.post(f"/work/disputes/{opened.id}/email", headers=HTMX,
                       data={"subject": "About {invoice_number}", "body": "Hello, we are on it."})
    assert sent.status_code == 200 and "is in the outbox" in sent.headers["HX-Trigger"]
    refused = client.post(f"/work/disputes/{opened.id}/email", headers=HTMX, data={"subject": "", "body": ""})
    assert refused.status_code == 422
    assert fresh(org, type(opened), opened.id).status == "needs_review"


@pytest.mark.parametrize("closed", [False, True])
def test_the_sender_lets_a_response_go_unless_the_invoice_closed_since(scoped, controller, invoice, dispute, closed):
    from jobs.outbox import send_due_messages
    from plixo.integrations.mail.smtp import SmtpTransport
    from tests.smtp_sink import start_sink

    message = correspondence.send_response(db.session, scoped, dispute, controller, "About {invoice_number}",
                                           "Hello, we are looking into it.", utcnow())
    message.scheduled_for, message.wait_reason = utcnow() - dt.timedelta(minutes=1), None
    if closed:
        invoice.status, invoice.balance_minor = "paid", 0
    db.session.commit()
    server, _sink = start_sink()
    try:
        send_due_messages(SmtpTransport(server.hostname, server.port))
    finally:
        server.stop()
    db.session.rollback()
    status = db.session.get(Message, message.id).status
    assert (status == "cancelled") == closed  # else sent, or waiting for the payer's daytime
