"""Replies (/work/replies): waiting replies pause the chase; accepting, reclassifying and marking handled settle
them, each refusing bad input with a message and changing nothing."""

import datetime as dt
import json

import pytest
from sqlalchemy import select

from plixo.audit import AuditEvent
from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.holds.models import Hold
from plixo.ledger.models import Contact, Invoice
from plixo.model import utcnow
from plixo.outreach.models import Message
from plixo.promises.models import Promise
from plixo.replies.models import Reply
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, make_org

PAGE = "/work/replies"
HTMX = {"HX-Request": "true", "HX-Target": "triage"}


def toast_of(response) -> str:
    return json.loads(response.headers["HX-Trigger"])["shell:toast"]["message"]


def waiting_reply(org, invoice=None, customer_id=None, label="other", **values) -> Reply:
    customer_id = customer_id or (invoice.customer_id if invoice is not None else None)
    with tenant_scope(org.id):
        reply = Reply(org_id=org.id, header_message_id=f"<{label}-{utcnow().timestamp()}@globex.example>",
                      customer_id=customer_id, invoice_id=invoice.id if invoice else None,
                      matched_by="sender", from_email="ap@globex.example", subject="Re: your reminder",
                      body=values.pop("body", "Please call me about this."),
                      received_at=values.pop("received_at", utcnow() - dt.timedelta(hours=2)), label=label,
                      confidence_pct=62, reasons=["“call me”"], currency="USD", **values)
        db.session.add(reply)
        db.session.commit()
        return reply


def fresh(model, row_id: int, org):
    db.session.rollback()
    with tenant_scope(org.id):
        return db.session.get(model, row_id)


@pytest.fixture
def globex(org):
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex", time_zone="UTC")
        make_contact(customer, email="ap@globex.example", name="Dana Whitfield")
        invoice = make_invoice(org, customer, number="INV-7001", balance_minor=100_000, amount_minor=100_000)
        db.session.commit()
        return invoice


def test_the_page_lists_waiting_replies_oldest_first_with_why(client, org, globex):
    waiting_reply(org, globex, body="Newer: call me", received_at=utcnow() - dt.timedelta(hours=1))
    waiting_reply(org, globex, label="dispute", body="Older: the rate is not what we agreed",
                  received_at=utcnow() - dt.timedelta(days=1))
    page = client.get(PAGE).get_data(as_text=True)
    assert page.index("Older: the rate") < page.index("Newer: call me")
    assert "Open a dispute" in page and "“call me”" in page and "62 % sure" in page and "2 waiting" in page


def test_an_empty_triage_says_so(client):
    assert "No reply is waiting" in client.get(PAGE).get_data(as_text=True)


def test_accepting_a_dispute_disputes_the_invoice_settles_the_reply_and_tells_the_queue(client, org, globex):
    reply = waiting_reply(org, globex, label="dispute")
    response = client.post(f"{PAGE}/{reply.id}/accept", data={"reason": "pricing"}, headers=HTMX)
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"])["queue:changed"] == {"invoice_id": globex.id,
                                                                           "change": "removed"}
    settled = fresh(Reply, reply.id, org)
    assert settled.handled_at is not None and settled.handled_how.startswith("Invoice INV-7001 disputed")
    with tenant_scope(org.id):
        dispute = db.session.scalars(select(Dispute)).one()
    assert (dispute.reason, dispute.source, dispute.needs_review) == ("pricing", "email", False)


def test_a_dispute_naming_no_invoice_asks_which_and_refuses_anyone_elses(client, org, globex):
    reply = waiting_reply(org, customer_id=globex.customer_id, label="dispute")
    other = make_invoice(make_org(name="Other Co"), number="X-1")
    db.session.commit()
    for invoice_id, message in (("", "Choose the invoice"), (str(other.id), "Choose one of the customer's"),
                                ("12abc", "Choose one of the customer's"), (str(2**40), "Choose one of the")):
        response = client.post(f"{PAGE}/{reply.id}/accept", data={"invoice_id": invoice_id}, headers=HTMX)
        assert response.status_code == 422 and message in toast_of(response)
    assert fresh(Reply, reply.id, org).handled_at is None and fresh(Invoice, other.id, other).status == "open"
    response = client.post(f"{PAGE}/{reply.id}/accept", data={"invoice_id": str(globex.id)}, headers=HTMX)
    assert response.status_code == 200 and fresh(Invoice, globex.id, org).status == "disputed"


def test_accepting_a_promise_logs_it_as_adjusted(client, org, globex):
    promised = utcnow().date() + dt.timedelta(days=5)
    reply = waiting_reply(org, globex, label="promise", amount_minor=40_000, promised_date=promised)
    for values, message in (({"amount": "sNaN"}, "Enter the amount in USD"),
                            ({"promised_date": "2020-01-01"}, "in the past"),
                            ({"promised_date": "tomorrow"}, "as a date"),
                            ({"amount": "2000.00"}, "cannot exceed")):
        response = client.post(f"{PAGE}/{reply.id}/accept", data=values, headers=HTMX)
        assert response.status_code == 422 and message in toast_of(response)
    assert client.post(f"{PAGE}/{reply.id}/accept", data={"amount": "450.00"}, headers=HTMX).status_code == 200
    with tenant_scope(org.id):
        promise = db.session.scalars(select(Promise)).one()
    assert (promise.amount_minor, promise.promised_date, promise.source) == (45_000, promised, "email")
    assert fresh(Reply, reply.id, org).handled_how.startswith("Promise logged: $450.00")


def test_accepting_already_paid_holds_the_invoice_for_a_remittance_check(client, org, globex):
    reply = waiting_reply(org, globex, label="already_paid")
    assert client.post(f"{PAGE}/{reply.id}/accept", headers=HTMX).status_code == 200
    with tenant_scope(org.id):
        hold = db.session.scalars(select(Hold)).one()
    assert hold.invoice_id == globex.id and "remittance" in hold.reason


def test_accepting_a_copy_request_e_mails_the_portal_link_through_the_send_guard(client, org, globex):
    reply = waiting_reply(org, globex, label="invoice_copy")
    assert client.post(f"{PAGE}/{reply.id}/accept", headers=HTMX).status_code == 200
    with tenant_scope(org.id):
        message = db.session.scalars(select(Message)).one()
    assert message.to_email == "ap@globex.example" and "/portal/" in message.body and "INV-7001" in message.subject
    assert message.status == "scheduled"
    assert fresh(Reply, reply.id, org).handled_how.startswith("Portal link for INV-7001 e-mailed")


def test_accepting_out_of_office_pauses_the_customer_until_they_are_back(client, org, globex):
    back = utcnow().date() + dt.timedelta(days=6)
    reply = waiting_reply(org, globex, label="out_of_office", return_date=back)
    assert client.post(f"{PAGE}/{reply.id}/accept", headers=HTMX).status_code == 200
    with tenant_scope(org.id):
        hold = db.session.scalars(select(Hold)).one()
    assert (hold.customer_id, hold.invoice_id, hold.until) == (globex.customer_id, None, back)


def test_accepting_unsubscribe_opts_the_sender_out(client, org, globex):
    reply = waiting_reply(org, globex, label="unsubscribe")
    assert client.post(f"{PAGE}/{reply.id}/accept", headers=HTMX).status_code == 200
    with tenant_scope(org.id):
        assert db.session.scalars(select(Contact)).one().opted_out_at is not None


def test_other_has_nothing_to_accept(client, org, globex):
    reply = waiting_reply(org, globex)
    response = client.post(f"{PAGE}/{reply.id}/accept", headers=HTMX)
    assert response.status_code == 422 and "Nothing to accept" in response.get_data(as_text=True)


def test_changing_the_class_keeps_the_example_and_changes_the_suggestion(client, org, globex):
    reply = waiting_reply(org, globex)
    response = client.post(f"{PAGE}/{reply.id}/class", data={"label": "dispute"}, headers=HTMX)
    assert response.status_code == 200 and "Open a dispute" in response.get_data(as_text=True)
    changed = fresh(Reply, reply.id, org)
    assert (changed.label, changed.corrected_label, changed.handled_at) == ("other", "dispute", None)
    for label in ("dispute", "bounce", "sNaN", ""):
        assert client.post(f"{PAGE}/{reply.id}/class", data={"label": label}, headers=HTMX).status_code == 422
    with tenant_scope(org.id):
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "replies.class_changed")).one()
    assert (event.before, event.after) == ({"label": "other"}, {"label": "dispute"})


def test_marking_handled_settles_once(client, org, globex):
    reply = waiting_reply(org, globex)
    assert client.post(f"{PAGE}/{reply.id}/handled", headers=HTMX).status_code == 200
    assert fresh(Reply, reply.id, org).handled_how == "Marked handled"
    again = client.post(f"{PAGE}/{reply.id}/handled", headers=HTMX)
    assert again.status_code == 422 and "already handled" in toast_of(again)
    assert client.post(f"{PAGE}/{reply.id}/accept", headers=HTMX).status_code == 422


def test_another_workspace_s_reply_is_not_found(client, globex):
    other = make_org(name="Other Co")
    theirs = waiting_reply(other, make_invoice(other), label="dispute")
    for action in ("accept", "class", "handled"):
        assert client.post(f"{PAGE}/{theirs.id}/{action}", data={"label": "promise"}).status_code == 404
    assert fresh(Reply, theirs.id, other).handled_at is None


def test_an_operator_cannot_settle_a_colleague_s_invoice(client_as, org, globex, controller):
    with tenant_scope(org.id):
        db.session.get(Invoice, globex.id).assignee_id = controller.id
        db.session.commit()
    reply = waiting_reply(org, globex, label="dispute")
    response = client_as("operator").post(f"{PAGE}/{reply.id}/accept", headers=HTMX)
    assert response.status_code == 422 and "Cora Controller's to work" in toast_of(response)
    assert fresh(Invoice, globex.id, org).status == "open"


def test_roles_outside_collections_cannot_open_triage(client_as):
    assert client_as("cfo").get(PAGE).status_code == 403


def test_a_person_s_e_mail_to_a_customer_whose_reply_waits_asks_them_to_confirm(client, org, globex):
    reply = waiting_reply(org, globex)
    inspector = client.get(f"/work/queue/{globex.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Reply from Dana Whitfield waiting since" in inspector and 'name="reply_read"' in inspector
    send = {"subject": "About INV-7001", "body": "Hello, about {invoice_number}."}
    refused = client.post(f"/work/queue/{globex.id}/send", data=send, headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "confirm you did" in refused.get_data(as_text=True)
    assert fresh(Reply, reply.id, org).handled_at is None
    sent = client.post(f"/work/queue/{globex.id}/send", data={**send, "reply_read": "1"},
                       headers={"HX-Request": "true"})
    assert sent.status_code == 200 and fresh(Reply, reply.id, org).handled_how == "Answered by e-mail"
