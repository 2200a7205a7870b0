"""A chargeback's evidence sent to Stripe against the fake Stripe: the files uploaded, the dispute updated once,
every refusal (Stripe's own too) leaving nothing recorded, the deadline from the webhook, and the route."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from sqlalchemy import func, select

from plixo.actions import ActionError
from plixo.audit import AuditEvent
from plixo.connectors.models import Connection
from plixo.disputes.chargeback import submit_chargeback_evidence
from plixo.disputes.evidence import EVIDENCE_TYPES, evidence_dir, store_evidence
from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.model import utcnow
from plixo.payments.models import StripeAccount
from plixo.tenancy import tenant_scope
from tests import stripe_events as se
from tests.conftest import run_jobs
from tests.factories import make_contact, make_customer, make_invoice, make_org, make_user
from tests.fake_stripe import ALREADY_SUBMITTED, pointed_at_fake

PDF = b"%PDF-1.4 delivery note"
PNG = b"\x89PNG\r\n\x1a\n e-mail thread"
HTMX = {"HX-Request": "true", "HX-Target": "inspector"}


@pytest.fixture
def fake(app):
    with pointed_at_fake(app) as fake:
        yield fake


def connect_stripe(fake, org) -> str:
    """The workspace connected with Connect OAuth to an account of the fake."""
    account = fake.add_account()
    fake.oauth_accounts.add(account)
    db.session.add(StripeAccount(org_id=org.id, account_id=account))
    with tenant_scope(org.id):
        db.session.add(Connection(org_id=org.id, kind="stripe", provider="stripe", status="active",
                                  external_account_id=account, secrets=json.dumps({"mode": "oauth"})))
        db.session.commit()
    return account


def chargeback(org, fake=None, account=None, files=(("proof_of_delivery", "delivery.pdf", PDF),),
               due_in=dt.timedelta(days=5), **values) -> Dispute:
    """A Stripe chargeback of 1,000.00 on invoice INV-77 of Globex, with evidence files (slot, name, bytes)."""
    due_at = utcnow().replace(microsecond=0) + due_in
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex")
        make_contact(customer, email="ap@globex.example")
        invoice = make_invoice(org, customer, number="INV-77", amount_minor=100_000, balance_minor=100_000)
        stripe_id = fake.add_dispute(account, "pi_cb", 100_000, int(due_at.timestamp())) if fake else "dp_none"
        defaults = {"reason": "not_received", "description": "Card chargeback (product_not_received) on payment pi_cb.",
                    "source": "stripe", "status": "needs_review", "needs_review": True, "opened_at": utcnow(),
                    "sla_due_at": due_at, "stripe_dispute_id": stripe_id}
        dispute = Dispute(org_id=org.id, invoice_id=invoice.id, customer_id=customer.id, **{**defaults, **values})
        db.session.add(dispute)
        db.session.flush()
        for slot, name, data in files:
            kind = next(kind for magic, kind in EVIDENCE_TYPES.items() if data.startswith(magic))
            store_evidence(db.session, org, dispute, "test", name, data, kind, evidence_dir(), utcnow(), slot=slot)
        db.session.commit()
        return dispute


def submit(org, dispute, actor="Cora", now=None):
    with tenant_scope(org.id):
        dispute = db.session.get(Dispute, dispute.id)
        try:
            return submit_chargeback_evidence(db.session, org, dispute, actor, evidence_dir(), now or utcnow())
        finally:
            db.session.rollback()


def submit_and_commit(org, dispute):
    with tenant_scope(org.id):
        dispute = db.session.get(Dispute, dispute.id)
        plan = submit_chargeback_evidence(db.session, org, dispute, "Cora", evidence_dir(), utcnow())
        db.session.commit()
        return plan


def stored(org, dispute) -> Dispute:
    db.session.rollback()
    with tenant_scope(org.id):
        return db.session.get(Dispute, dispute.id)


def dispute_updates(fake) -> list[dict]:
    return [r["params"] for r in fake.requests if r["method"] == "POST" and r["path"].startswith("/v1/disputes/")]


def submissions_audited(org) -> int:
    with tenant_scope(org.id):
        return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "disputes.chargeback_evidence_submitted"))


# Submitting

def test_submission_uploads_each_file_and_updates_the_dispute_once(org, fake):
    account = connect_stripe(fake, org)
    dispute = chargeback(org, fake, account, files=(("proof_of_delivery", "delivery.pdf", PDF),
                                                    ("correspondence", "thread.png", PNG)))
    submit_and_commit(org, dispute)
    uploads = {f["filename"]: f for f in fake.files.values()}
    assert set(uploads) == {"delivery.pdf", "thread.png"}
    assert {(f["purpose"], f["account"]) for f in uploads.values()} == {("dispute_evidence", account)}
    assert uploads["delivery.pdf"]["data"] == PDF
    [update] = dispute_updates(fake)
    assert update["submit"] == "true"
    assert update["evidence"]["shipping_documentation"] == uploads["delivery.pdf"]["id"]
    assert update["evidence"]["customer_communication"] == uploads["thread.png"]["id"]
    assert update["evidence"]["customer_name"] == "Globex"
    assert update["evidence"]["customer_email_address"] == "ap@globex.example"
    assert "INV-77" in update["evidence"]["product_description"]
    assert "INV-77" in update["evidence"]["uncategorized_text"]
    assert fake.disputes[dispute.stripe_dispute_id]["status"] == "under_review"
    assert stored(org, dispute).evidence_submitted_at is not None and submissions_audited(org) == 1


def test_files_of_one_slot_take_the_next_free_field_and_the_rest_are_left_out(org, fake):
    account = connect_stripe(fake, org)
    files = [("correspondence", f"mail-{n}.pdf", PDF) for n in range(3)]
    dispute = chargeback(org, fake, account, files=files)
    plan = submit_and_commit(org, dispute)
    # The newest file claims the slot's own field, the next one the catch-all field, the oldest has no field left.
    assert [(e.filename, field) for e, field in plan.files] == [("mail-2.pdf", "customer_communication"),
                                                                ("mail-1.pdf", "uncategorized_file")]
    assert [e.filename for e in plan.left_out] == ["mail-0.pdf"]
    assert len(fake.files) == 2


def test_a_second_submission_from_plixo_is_refused_before_reaching_stripe(org, fake):
    account = connect_stripe(fake, org)
    dispute = chargeback(org, fake, account)
    submit_and_commit(org, dispute)
    with pytest.raises(ActionError, match="already sent to Stripe"):
        submit(org, dispute)
    assert len(dispute_updates(fake)) == 1 and submissions_audited(org) == 1


def test_stripe_refusing_a_second_submission_gives_its_reason_and_records_nothing(org, fake):
    account = connect_stripe(fake, org)
    dispute = chargeback(org, fake, account)
    fake.disputes[dispute.stripe_dispute_id]["status"] = "under_review"  # answered in Stripe's Dashboard meanwhile
    with pytest.raises(ActionError) as refused:
        submit(org, dispute)
    assert ALREADY_SUBMITTED in refused.value.message
    assert stored(org, dispute).evidence_submitted_at is None and submissions_audited(org) == 0
    assert fake.disputes[dispute.stripe_dispute_id]["evidence"] == {}


# Refusals before anything leaves Plixo

def test_a_dispute_that_is_not_a_stripe_chargeback_is_refused(org, fake):
    connect_stripe(fake, org)
    dispute = chargeback(org, source="operator")
    with pytest.raises(ActionError, match="Only a card chargeback"):
        submit(org, dispute)
    assert fake.requests == []


def test_a_chargeback_without_files_is_refused(org, fake):
    account = connect_stripe(fake, org)
    dispute = chargeback(org, fake, account, files=())
    with pytest.raises(ActionError, match="Attach at least one file"):
        submit(org, dispute)
    assert dispute_updates(fake) == [] and fake.files == {}


def test_a_chargeback_past_its_deadline_is_refused(org, fake):
    account = connect_stripe(fake, org)
    dispute = chargeback(org, fake, account, due_in=dt.timedelta(hours=-1))
    with pytest.raises(ActionError, match=r"deadline .* has passed"):
        submit(org, dispute)
    assert dispute_updates(fake) == [] and fake.files == {}


def test_a_chargeback_is_refused_while_stripe_is_not_connected(org, fake):
    dispute = chargeback(org, fake, fake.add_account())
    with pytest.raises(ActionError, match="Stripe is not connected"):
        submit(org, dispute)
    assert fake.requests == []


def test_a_disconnected_stripe_counts_as_not_connected(org, fake):
    account = connect_stripe(fake, org)
    dispute = chargeback(org, fake, account)
    with tenant_scope(org.id):
        db.session.scalar(select(Connection)).status = "disconnected"
        db.session.commit()
    with pytest.raises(ActionError, match="Stripe is not connected"):
        submit(org, dispute)


# The deadline from the webhook

def post_event(anon, event: dict) -> None:
    body = se.body_of(event)
    anon.post("/webhooks/stripe", data=body, content_type="application/json",
              headers={"Stripe-Signature": se.sign(body)})


def test_the_webhook_stores_stripes_due_by_as_the_sla_deadline(anon, org, fake):
    account = connect_stripe(fake, org)
    with tenant_scope(org.id):
        invoice = make_invoice(org, number="INV-5", amount_minor=100_000, balance_minor=100_000)
        db.session.commit()
    due_by = int(time.time()) + 9 * 86_400
    post_event(anon, se.intent_succeeded(account, "pi_w", 100_000, [invoice.id]))
    post_event(anon, se.dispute(account, "pi_w", 100_000, "needs_response", due_by=due_by))
    run_jobs()
    with tenant_scope(org.id):
        assert db.session.scalar(select(Dispute.sla_due_at)) == dt.datetime.fromtimestamp(due_by, dt.UTC)
    later = due_by + 86_400  # an update moving the deadline moves the SLA with it
    post_event(anon, se.dispute(account, "pi_w", 100_000, "needs_response", kind="charge.dispute.updated",
                                due_by=later))
    run_jobs()
    db.session.rollback()
    with tenant_scope(org.id):
        assert db.session.scalar(select(Dispute.sla_due_at)) == dt.datetime.fromtimestamp(later, dt.UTC)


# Over HTTP

def test_the_inspector_shows_where_each_file_goes_and_the_submit_button(client, org, fake):
    account = connect_stripe(fake, org)
    dispute = chargeback(org, fake, account)
    block = client.get(f"/work/disputes/{dispute.id}", headers=HTMX).get_data(as_text=True)
    assert "Shipping documentation" in block and "delivery.pdf" in block
    assert "Submit to Stripe" in block and "Stripe accepts evidence once" in block


def test_the_route_submits_and_answers_with_the_inspector(client, org, fake):
    account = connect_stripe(fake, org)
    dispute = chargeback(org, fake, account)
    response = client.post(f"/work/disputes/{dispute.id}/chargeback-evidence", headers=HTMX)
    assert response.status_code == 200 and "disputes:changed" in response.headers["HX-Trigger"]
    page = response.get_data(as_text=True)
    assert "Sent " in page and "What went to Stripe" in page and "Submit to Stripe" not in page
    assert stored(org, dispute).evidence_submitted_at is not None


def test_the_route_answers_422_with_stripes_reason_when_refused(client, org, fake):
    account = connect_stripe(fake, org)
    dispute = chargeback(org, fake, account)
    fake.disputes[dispute.stripe_dispute_id]["status"] = "under_review"
    response = client.post(f"/work/disputes/{dispute.id}/chargeback-evidence", headers=HTMX)
    assert response.status_code == 422 and ALREADY_SUBMITTED in response.get_data(as_text=True)
    assert stored(org, dispute).evidence_submitted_at is None


def test_the_route_answers_422_for_a_dispute_that_is_not_a_chargeback(client, org, fake):
    dispute = chargeback(org, source="operator")
    response = client.post(f"/work/disputes/{dispute.id}/chargeback-evidence", headers=HTMX)
    assert response.status_code == 422 and "Only a card chargeback" in response.get_data(as_text=True)


def test_another_workspaces_chargeback_is_a_404_and_stays_unsent(client, fake):
    other = make_org(name="Other")
    make_user(other)
    db.session.commit()
    account = connect_stripe(fake, other)
    dispute = chargeback(other, fake, account)
    response = client.post(f"/work/disputes/{dispute.id}/chargeback-evidence", headers=HTMX)
    assert response.status_code == 404 and fake.requests == []
    assert stored(other, dispute).evidence_submitted_at is None
