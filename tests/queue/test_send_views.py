"""The send guard over HTTP: overrides need the permission and a reason, waiting e-mails can be cancelled, and
another workspace's e-mails cannot be touched."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.accounts.models import Policy
from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.outreach.models import Message
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, make_org, workspace_today

HX = {"HX-Request": "true"}


@pytest.fixture
def overdue(org):
    with tenant_scope(org.id):
        policy = db.session.scalar(select(Policy))
        policy.quiet_hours_start = policy.quiet_hours_end = dt.time(0, 0)  # any hour may send: the gap is tested
        policy.sending_days = [0, 1, 2, 3, 4, 5, 6]
        customer = make_customer(org, name="Hooli GmbH")
        make_contact(customer, email="ap@hooli.example")
        invoice = make_invoice(org, customer, number="INV-9", due_date=workspace_today() - dt.timedelta(days=30))
    db.session.commit()
    return invoice


def send(client, invoice, body: str, **extra):
    return client.post(f"/work/queue/{invoice.id}/send", data={"subject": "Reminder", "body": body, **extra},
                       headers=HX)


def messages(org) -> list[Message]:
    with tenant_scope(org.id):
        return db.session.scalars(select(Message).order_by(Message.id)).all()


def test_the_second_press_is_scheduled_after_the_gap_and_the_toast_says_when(client, org, overdue):
    assert send(client, overdue, "First.").status_code == 200
    second = send(client, overdue, "Second.")
    assert second.status_code == 200 and "Minimum gap of 48 h: goes" in second.headers["HX-Trigger"]
    first, waiting = messages(org)
    assert waiting.scheduled_for - first.scheduled_for >= dt.timedelta(hours=48)


def test_an_operator_cannot_override_and_nothing_is_scheduled(client, client_as, org, overdue):
    send(client, overdue, "First.")
    answer = send(client_as("operator"), overdue, "Second.", override="1", override_reason="The customer asked")
    assert answer.status_code == 422 and "Only a controller or an A/R manager" in answer.get_data(as_text=True)
    assert len(messages(org)) == 1


def test_an_override_without_a_reason_is_refused(client, org, overdue):
    send(client, overdue, "First.")
    answer = send(client, overdue, "Second.", override="1", override_reason="")
    assert answer.status_code == 422 and "Say why" in answer.get_data(as_text=True)
    assert len(messages(org)) == 1


def test_an_ar_manager_overrides_with_a_reason_and_it_is_audited(client, client_as, org, overdue):
    send(client, overdue, "First.")
    answer = send(client_as("ar_manager"), overdue, "Here is the copy you asked for.", override="1",
                  override_reason="The customer asked for a copy on the phone")
    assert answer.status_code == 200 and "on its way" in answer.headers["HX-Trigger"]
    assert [m.guard_override for m in messages(org)] == [None, "The customer asked for a copy on the phone"]
    with tenant_scope(org.id):
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "queue.guard_overridden"))
    assert event.reason == "The customer asked for a copy on the phone"


def test_the_inspector_offers_the_override_only_to_those_who_may(client, client_as, overdue):
    send(client, overdue, "First.")
    assert "Send now inside the contact limits" in client.get(f"/work/queue/{overdue.id}").get_data(as_text=True)
    page = client_as("operator").get(f"/work/queue/{overdue.id}").get_data(as_text=True)
    assert "S schedules it." in page and "Send now inside the contact limits" not in page


def test_a_waiting_email_is_cancelled_from_the_inspector(client, org, overdue):
    send(client, overdue, "First.")
    send(client, overdue, "Second.")
    waiting = messages(org)[1]
    answer = client.post(f"/work/queue/{overdue.id}/messages/{waiting.id}/cancel", headers=HX)
    assert answer.status_code == 200 and messages(org)[1].status == "cancelled"
    assert send(client, overdue, "A better second e-mail.").status_code == 200


def test_another_workspaces_email_cannot_be_cancelled(client, org, overdue):
    other = make_org(name="Other Co")
    with tenant_scope(other.id):
        customer = make_customer(other, name="Theirs")
        theirs = make_invoice(other, customer, number="T-1")
        message = Message(org_id=other.id, idempotency_key="x", customer_id=customer.id, invoice_id=theirs.id,
                          status="scheduled", scheduled_for=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
        db.session.add(message)
        db.session.commit()
    assert client.post(f"/work/queue/{theirs.id}/messages/{message.id}/cancel", headers=HX).status_code == 404
    assert client.post(f"/work/queue/{overdue.id}/messages/{message.id}/cancel", headers=HX).status_code == 422
    with tenant_scope(other.id):
        assert db.session.get(Message, message.id).status == "scheduled"
