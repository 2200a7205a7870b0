"""What the team sees of the payer's portal actions: the inspector, the approvals sidebar and the evidence."""

from __future__ import annotations

from io import BytesIO

from sqlalchemy import select

from plixo.approvals.models import Approval
from plixo.disputes.models import DisputeEvidence
from plixo.extensions import db
from plixo.ledger.models import Customer
from plixo.promises.models import PaymentPlan
from plixo.tenancy import tenant_scope
from tests.conftest import sign_in
from tests.factories import make_user
from tests.portal.conftest import PDF, in_days, reload


def inspector(client, invoice) -> str:
    return client.get(f"/work/queue/{invoice.id}", headers={"HX-Request": "true", "HX-Target": "inspector"}) \
        .get_data(as_text=True)


def test_a_portal_promise_is_labelled_in_the_inspector(client, payer, ledger):
    payer.post("/portal/promise", data={"invoice_id": ledger.overdue.id, "amount": "250",
                                        "promised_date": in_days(7)})
    shown = inspector(client, ledger.overdue)
    assert "Promise of $250.00" in shown and "badge-portal" in shown
    assert "Payer portal (ap@globex.example)" in shown  # the timeline names who did it


def test_a_portal_plan_is_labelled_in_the_inspector(client, payer, ledger):
    payer.post("/portal/plan", data={"invoice_id": ledger.overdue.id, "installment_date": [in_days(9), in_days(39)],
                                     "installment_amount": ["500", "500"]})
    shown = inspector(client, ledger.overdue)
    assert "Plan of $1,000.00 in 2 installments" in shown and "badge-portal" in shown


def test_a_portal_dispute_shows_in_the_inspector_with_its_evidence(client, payer, org, ledger):
    payer.post("/portal/dispute", data={"invoice_id": ledger.overdue.id, "reason": "quality", "message": "Broken",
                                        "evidence": (BytesIO(PDF), "photo report.pdf")},
               content_type="multipart/form-data")
    shown = inspector(client, ledger.overdue)
    assert 'id="inspector-disputes"' in shown and "Payer portal" in shown and "photo report.pdf" in shown
    assert "queue.dispute opened" in shown


def test_a_portal_opt_out_shows_in_the_timeline_of_every_invoice(client, payer, ledger):
    payer.post("/portal/opt-out", data={"confirm": "yes"})
    for invoice in (ledger.overdue, ledger.upcoming):
        shown = inspector(client, invoice)
        assert "Opted out of reminders" in shown and "Payer portal (ap@globex.example)" in shown


def test_the_team_downloads_evidence_as_an_attachment(client, payer, org, ledger):
    payer.post("/portal/dispute", data={"invoice_id": ledger.overdue.id, "reason": "quality", "message": "Broken",
                                        "evidence": (BytesIO(PDF), "report.pdf")}, content_type="multipart/form-data")
    with tenant_scope(org.id):
        evidence = db.session.scalar(select(DisputeEvidence))
    response = client.get(f"/work/evidence/{evidence.id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "application/pdf"


def test_evidence_needs_a_signed_in_teammate(anon, payer, org, ledger):
    payer.post("/portal/dispute", data={"invoice_id": ledger.overdue.id, "reason": "quality", "message": "Broken",
                                        "evidence": (BytesIO(PDF), "report.pdf")}, content_type="multipart/form-data")
    with tenant_scope(org.id):
        evidence = db.session.scalar(select(DisputeEvidence))
    assert anon.get(f"/work/evidence/{evidence.id}").status_code == 302
    assert payer.get(f"/work/evidence/{evidence.id}").status_code == 302  # a portal session is not a sign-in


def test_a_plan_the_payer_asked_for_is_in_the_approvals_sidebar(client, payer, ledger):
    payer.post("/portal/plan", data={"invoice_id": ledger.overdue.id, "installment_date": [in_days(30), in_days(150)],
                                     "installment_amount": ["500", "500"]})
    shown = client.get("/work/queue").get_data(as_text=True)
    assert "The payer, in the portal" in shown and "Plan of 2 installments" in shown


def test_approving_a_portal_plan_accepts_it_and_the_payer_sees_it(client, payer, org, ledger):
    payer.post("/portal/plan", data={"invoice_id": ledger.overdue.id, "installment_date": [in_days(30), in_days(150)],
                                     "installment_amount": ["500", "500"]})
    with tenant_scope(org.id):
        approval = db.session.scalar(select(Approval))
    response = client.post(f"/work/approvals/{approval.id}/decide", data={"decision": "approve", "comment": ""},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert reload(org, PaymentPlan, approval.subject_id).status == "accepted"
    assert "Plan: accepted" in payer.get("/portal").get_data(as_text=True)


def test_rejecting_a_portal_plan_shows_the_payer_it_was_not_accepted(app, org, payer, ledger):
    approver = sign_in(app.test_client(), make_user(org, "controller"))
    db.session.commit()
    payer.post("/portal/plan", data={"invoice_id": ledger.overdue.id, "installment_date": [in_days(30), in_days(150)],
                                     "installment_amount": ["500", "500"]})
    with tenant_scope(org.id):
        approval = db.session.scalar(select(Approval))
    approver.post(f"/work/approvals/{approval.id}/decide", data={"decision": "reject",
                                                                        "comment": "Too long"})
    assert "Not accepted" in payer.get("/portal").get_data(as_text=True)


def test_the_team_revokes_a_customers_links_and_the_open_session_ends(client, payer, org, ledger):
    response = client.post(f"/work/queue/{ledger.overdue.id}/revoke-links", data={"reason": "E-mail forwarded"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200 and "no longer work" in response.headers.get("HX-Trigger", "")
    assert reload(org, Customer, ledger.customer.id).portal_version == 2
    assert payer.get("/portal").status_code == 410
    assert "Revoke payment links" in inspector(client, ledger.overdue)
    assert "payer links revoked" in inspector(client, ledger.overdue)  # on the invoice's timeline


def test_revoking_links_is_for_collectors_only(client_as, org, ledger):
    sales = client_as("sales")
    assert sales.post(f"/work/queue/{ledger.overdue.id}/revoke-links").status_code == 403
    assert reload(org, Customer, ledger.customer.id).portal_version == 1
