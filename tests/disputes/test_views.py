"""The Disputes page over HTTP: the snapshot, focus, metrics, table and inspector; every action, with bad input."""

import datetime as dt
import json

import pytest
from sqlalchemy import select

from plixo.disputes import service as disputes
from plixo.disputes.models import Dispute, DisputeEvidence
from plixo.extensions import db
from plixo.ledger.models import Invoice
from plixo.model import utcnow
from plixo.tenancy import tenant_scope
from tests.factories import make_customer, make_invoice, make_org, make_user

HTMX = {"HX-Request": "true", "HX-Target": "inspector"}
PAGE = "/work/disputes"


def open_one(org, actor, number="INV-9001", balance=150_000, reason="pricing", source="operator", **values):
    with tenant_scope(org.id):
        customer = make_customer(org, name=f"{number} Ltd")
        invoice = make_invoice(org, customer, number=number, balance_minor=balance, amount_minor=balance)
        dispute = disputes.open_dispute(db.session, org, invoice, actor, reason, "Rate is wrong", None, None,
                                        utcnow(), source=source)
        for name, value in values.items():
            setattr(dispute, name, value)
        db.session.commit()
        return dispute


def fresh(org, model, row_id):
    db.session.rollback()
    with tenant_scope(org.id):
        return db.session.get(model, row_id)


def test_the_page_shows_the_snapshot_focus_metrics_and_table(client, org, controller):
    open_one(org, controller, "INV-1", sla_due_at=utcnow() - dt.timedelta(days=1))
    open_one(org, controller, "INV-2", balance=990_000)
    open_one(org, controller, "INV-3", source="email", reason="quality")
    page = client.get(PAGE).get_data(as_text=True)
    assert "Breached" in page and "$12,900.00" in page  # open total; by reason, pricing is $11,400.00
    assert "$11,400.00" in page
    assert page.count('class="queue-row') == 3 and "Damaged or defective goods" in page
    assert "Pick a dispute" in page


def test_filters_narrow_the_table_and_bad_ones_are_ignored(client, org, controller):
    open_one(org, controller, "INV-1", sla_due_at=utcnow() - dt.timedelta(days=1))
    open_one(org, controller, "INV-2")
    breached = client.get(f"{PAGE}?status=breached", headers={"HX-Request": "true", "HX-Target": "dispute-results"})
    assert breached.get_data(as_text=True).count('class="queue-row') == 1
    for query in ("status=sNaN", "owner=12abc", "owner=" + "9" * 30, "source=<script>", "after=1.2.3"):
        assert client.get(f"{PAGE}?{query}").status_code == 200


def test_the_inspector_opens_as_a_block_and_as_a_page(client, org, controller):
    dispute = open_one(org, controller)
    block = client.get(f"{PAGE}/{dispute.id}", headers=HTMX).get_data(as_text=True)
    assert block.startswith("\n<aside") or "<aside" in block[:200]
    assert "Contract or price agreement" in block and "Missing" in block and "working day" in block
    assert "Disputes" in client.get(f"{PAGE}/{dispute.id}").get_data(as_text=True)


def test_resolving_invalid_returns_the_invoice_to_the_queue(client, org, controller):
    dispute = open_one(org, controller)
    response = client.post(f"{PAGE}/{dispute.id}/resolve", headers=HTMX,
                           data={"verdict": "invalid", "resolution": "no_action", "note": "Contract rate applies"})
    assert response.status_code == 200 and "disputes:changed" in response.headers["HX-Trigger"]
    assert fresh(org, Invoice, dispute.invoice_id).status == "open"


@pytest.mark.parametrize("values", [
    {"verdict": "valid", "resolution": "no_action", "note": "x y z"},
    {"verdict": "sNaN", "resolution": "no_action", "note": "x y z"},
    {"verdict": "invalid", "resolution": "no_action", "note": ""},
    {},
])
def test_a_bad_resolution_is_refused_and_changes_nothing(client, org, controller, values):
    dispute = open_one(org, controller)
    response = client.post(f"{PAGE}/{dispute.id}/resolve", headers=HTMX, data=values)
    assert response.status_code == 422
    assert json.loads(response.headers["HX-Trigger"])["shell:toast"]["level"] == "error"
    assert fresh(org, Dispute, dispute.id).status == "investigating"


def test_moving_withdrawing_and_assigning(client, org, controller):
    lawyer = make_user(org, "legal", name="Lena Legal")
    db.session.commit()
    dispute = open_one(org, controller)
    assert client.post(f"{PAGE}/{dispute.id}/status", headers=HTMX,
                       data={"status": "waiting_customer"}).status_code == 200
    assert client.post(f"{PAGE}/{dispute.id}/status", headers=HTMX, data={"status": "resolved"}).status_code == 422
    assert client.post(f"{PAGE}/{dispute.id}/assign", headers=HTMX,
                       data={"owner_id": str(lawyer.id), "note": "Contract?"}).status_code == 200
    assert client.post(f"{PAGE}/{dispute.id}/assign", headers=HTMX, data={"owner_id": "abc"}).status_code == 422
    assert client.post(f"{PAGE}/{dispute.id}/withdraw", headers=HTMX, data={"note": ""}).status_code == 422
    assert client.post(f"{PAGE}/{dispute.id}/withdraw", headers=HTMX,
                       data={"note": "Payer withdrew by phone"}).status_code == 200
    final = fresh(org, Dispute, dispute.id)
    assert (final.status, final.assigned_to_id) == ("withdrawn", lawyer.id)
    assert fresh(org, Invoice, dispute.invoice_id).status == "open"


def test_evidence_is_checked_by_its_content(client, org, controller):
    dispute = open_one(org, controller)
    refused = client.post(f"{PAGE}/{dispute.id}/evidence", headers=HTMX, content_type="multipart/form-data",
                          data={"slot": "contract", "evidence": (__import__("io").BytesIO(b"MZ not a pdf"), "c.pdf")})
    assert refused.status_code == 422
    ok = client.post(f"{PAGE}/{dispute.id}/evidence", headers=HTMX, content_type="multipart/form-data",
                     data={"slot": "contract", "evidence": (__import__("io").BytesIO(b"%PDF-1.7 x"), "c.pdf.exe")})
    assert ok.status_code == 200 and "c.pdf.pdf" in ok.get_data(as_text=True)
    with tenant_scope(org.id):
        assert db.session.scalars(select(DisputeEvidence.slot)).all() == ["contract"]


def test_another_workspace_s_dispute_is_not_found(client, controller):
    other = make_org(name="Other Co")
    someone = make_user(other, "controller")
    db.session.commit()
    theirs = open_one(other, someone)
    assert client.get(f"{PAGE}/{theirs.id}").status_code == 404
    for action in ("status", "resolve", "withdraw", "assign", "evidence"):
        assert client.post(f"{PAGE}/{theirs.id}/{action}", data={"status": "waiting_customer"}).status_code == 404


def test_collectors_without_the_permission_cannot_open_it(client_as):
    assert client_as("operator").get(PAGE).status_code == 403
    assert client_as("legal").get(PAGE).status_code == 200


def test_a_suggested_dispute_is_accepted_or_its_reason_changed(client, org, controller):
    dispute = open_one(org, controller, source="email", reason="quality")
    seven_days = dispute.sla_due_at
    page = client.get(f"{PAGE}/{dispute.id}", headers=HTMX).get_data(as_text=True)
    assert "Accept the dispute" in page
    changed = client.post(f"{PAGE}/{dispute.id}/reason", headers=HTMX, data={"reason": "duplicate"})
    assert changed.status_code == 200
    shorter = fresh(org, Dispute, dispute.id)
    assert shorter.reason == "duplicate" and shorter.sla_due_at < seven_days  # 3 working days, not 7
    for reason in ("duplicate", "sNaN", ""):
        assert client.post(f"{PAGE}/{dispute.id}/reason", headers=HTMX, data={"reason": reason}).status_code == 422
    assert client.post(f"{PAGE}/{dispute.id}/status", headers=HTMX, data={"status": "investigating"}).status_code == 200
    assert fresh(org, Dispute, dispute.id).status == "investigating"


def test_a_valid_write_off_or_a_large_credit_waits_for_approval(client, org, controller):
    from plixo.approvals.models import Approval

    writing_off = open_one(org, controller, "INV-W", balance=90_000)
    response = client.post(f"{PAGE}/{writing_off.id}/resolve", headers=HTMX,
                           data={"verdict": "valid", "resolution": "write_off", "note": "Goods never shipped"})
    assert response.status_code == 200 and "Sent for approval" in response.headers["HX-Trigger"]
    crediting = open_one(org, controller, "INV-C", balance=500_000)
    small = open_one(org, controller, "INV-S", balance=500_000)
    assert client.post(f"{PAGE}/{crediting.id}/resolve", headers=HTMX, data={
        "verdict": "valid", "resolution": "credit_note", "credit": "2,000.00", "note": "Price per contract"}
    ).status_code == 200
    within = client.post(f"{PAGE}/{small.id}/resolve", headers=HTMX, data={
        "verdict": "valid", "resolution": "adjustment", "credit": "50.00", "note": "Freight line"})
    assert within.status_code == 200 and "Sent for approval" not in within.headers["HX-Trigger"]
    refused = client.post(f"{PAGE}/{open_one(org, controller, 'INV-X').id}/resolve", headers=HTMX, data={
        "verdict": "valid", "resolution": "credit_note", "credit": "sNaN", "note": "x y z"})
    assert refused.status_code == 422
    with tenant_scope(org.id):
        kinds = sorted((a.kind, a.amount_minor) for a in db.session.scalars(select(Approval)))
    assert kinds == [("credit", 200_000), ("write_off", 90_000)]


def test_internal_notes_on_the_dispute_tell_the_mentioned(client, org, controller):
    from plixo.accounts.models import Notification

    lawyer = make_user(org, "legal", name="Lena Legal", email="lena@acmetest.example")
    db.session.commit()
    dispute = open_one(org, controller)
    response = client.post(f"{PAGE}/{dispute.id}/note", headers=HTMX,
                           data={"body": "@lena is the rate in the contract?"})
    assert response.status_code == 200 and "is the rate in the contract?" in response.get_data(as_text=True)
    with tenant_scope(org.id):
        assert db.session.scalars(select(Notification.user_id)).all() == [lawyer.id]
    assert client.post(f"{PAGE}/{dispute.id}/note", headers=HTMX, data={"body": "  "}).status_code == 422
