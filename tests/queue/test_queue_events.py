"""Every inspector action that can change the queue answers with the one `queue:changed` event (the totals reload
on it, and the row leaves when the change removed it); the totals fragment keeps listening for the next one."""

import datetime as dt
import json

import pytest

from plixo.approvals.service import request_write_off
from plixo.extensions import db
from plixo.model import utcnow
from plixo.tenancy import tenant_scope
from tests.factories import workspace_today
from tests.queue.test_views import HX, ledger  # noqa: F401 (the fixture)

LATER = (workspace_today() + dt.timedelta(days=10)).isoformat()
LATEST = (workspace_today() + dt.timedelta(days=40)).isoformat()


def queue_event(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    events = json.loads(response.headers["HX-Trigger"])
    assert [name for name in events if name.startswith("queue:")] == ["queue:changed"]  # one event, whatever changed
    return events["queue:changed"]


def contact_of(org, invoice) -> int:
    from sqlalchemy import select

    from plixo.ledger.models import Contact

    with tenant_scope(org.id):
        return db.session.scalar(select(Contact.id).where(Contact.customer_id == invoice.customer_id))


@pytest.mark.parametrize(("action", "form", "change"), [
    ("hold", {"reason": "Awaiting credit note"}, "removed"),
    ("dispute", {"reason": "pricing", "note": "Wrong rate"}, "removed"),
    ("promise", {"amount": "100", "promised_date": LATER}, "changed"),
    ("plan", {"installment_date": [LATER, LATEST], "installment_amount": ["625", "625"]}, "changed"),
    ("shadow", {"reason": "Sensitive account"}, "changed"),
    ("write-off", {"reason": "Bankrupt"}, "changed"),
    ("assign", {"assignee_id": "", "scope": "invoice"}, "changed"),
    ("send", {"subject": "Invoice {invoice_number}", "body": "Hello {customer_name}"}, "sent"),
    ("draft", {"subject": "Invoice {invoice_number}", "body": "Hello {customer_name}"}, "changed"),
])
def test_each_action_announces_its_change_to_the_queue(client, ledger, action, form, change):  # noqa: F811
    invoice = ledger["new"]
    event = queue_event(client.post(f"/work/queue/{invoice.id}/{action}", headers=HX, data=form))
    assert event == {"invoice_id": invoice.id, "change": change}


def test_suppressing_the_contact_removes_the_row(client, ledger, org):  # noqa: F811
    invoice = ledger["new"]
    form = {"contact_id": contact_of(org, invoice), "until": LATER, "reason": "On leave"}
    assert queue_event(client.post(f"/work/queue/{invoice.id}/suppress", headers=HX, data=form)) == {
        "invoice_id": invoice.id, "change": "removed"}


def test_an_approved_write_off_removes_the_row_a_rejected_one_changes_it(client, ledger, org, controller):  # noqa: F811
    with tenant_scope(org.id):
        rejected = request_write_off(db.session, org, ledger["new"], controller, "Small balance", utcnow())
        approved = request_write_off(db.session, org, ledger["old"], controller, "Bankrupt", utcnow())
        db.session.commit()
    response = client.post(f"/work/approvals/{rejected.id}/decide", headers=HX,
                           data={"decision": "reject", "comment": "Keep chasing"})
    assert queue_event(response) == {"invoice_id": ledger["new"].id, "change": "changed"}
    response = client.post(f"/work/approvals/{approved.id}/decide", headers=HX, data={"decision": "approve"})
    assert queue_event(response) == {"invoice_id": ledger["old"].id, "change": "removed"}


def test_a_refused_action_announces_nothing(client, ledger):  # noqa: F811
    response = client.post(f"/work/queue/{ledger['new'].id}/hold", headers=HX, data={"reason": ""})
    assert response.status_code == 422 and "queue:changed" not in response.headers["HX-Trigger"]


def test_the_totals_reload_on_the_event_and_keep_listening(client, ledger):  # noqa: F811
    page = client.get("/work/queue").get_data(as_text=True)
    assert 'hx-trigger="load, queue:changed from:body"' in page
    html = client.get("/work/queue/totals?bucket=90%2B", headers=HX).get_data(as_text=True)
    assert "1 invoice to work" in html and 'hx-trigger="queue:changed from:body"' in html
    assert 'hx-get="/work/queue/totals?bucket=90%2B"' in html  # the same filters next time
    client.post(f"/work/queue/{ledger['old'].id}/hold", headers=HX, data={"reason": "Awaiting credit note"})
    assert "0 invoices to work" in client.get("/work/queue/totals?bucket=90%2B", headers=HX).get_data(as_text=True)
