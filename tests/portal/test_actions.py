"""What the payer does in the portal: each action validated, audited, recorded as the payer's, or refused unchanged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from plixo.approvals.models import Approval
from plixo.audit import AuditEvent
from plixo.disputes.models import Dispute, DisputeEvidence
from plixo.extensions import db
from plixo.holds.models import Hold
from plixo.ledger.eligibility import stopping_reasons
from plixo.ledger.models import Contact, Invoice
from plixo.model import utcnow
from plixo.outreach.models import Message
from plixo.promises.models import PaymentPlan, Promise
from plixo.tenancy import tenant_scope
from tests.factories import workspace_today
from tests.portal.conftest import PDF, in_days, reload

ACTOR = "Payer portal (ap@globex.example)"


def count(org, model, *where) -> int:
    with tenant_scope(org.id):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audit_actors(org, action: str) -> list[str]:
    with tenant_scope(org.id):
        return list(db.session.scalars(select(AuditEvent.actor_label).where(AuditEvent.action == action)))


def plan_form(invoice_id: int, *rows: tuple[str, str]) -> dict:
    return {"invoice_id": str(invoice_id), "installment_date": [d for d, _ in rows],
            "installment_amount": [a for _, a in rows]}


def text(response) -> str:
    return response.get_data(as_text=True)


# Pay

def test_paying_without_online_payment_set_up_explains_and_changes_nothing(payer, org, ledger):
    response = payer.post("/portal/pay", data={"invoice_id": [ledger.overdue.id, ledger.upcoming.id]})
    assert response.status_code == 409 and "does not take online payments yet" in text(response)
    assert reload(org, Invoice, ledger.overdue.id).balance_minor == 100_000
    assert audit_actors(org, "payments.checkout_started") == []


def test_paying_needs_an_invoice_chosen(payer):
    response = payer.post("/portal/pay", data={})
    assert response.status_code == 422 and "Choose the invoices you want to pay" in text(response)


# Payment plans

def test_a_plan_within_policy_is_accepted_at_once(payer, org, ledger):
    response = payer.post("/portal/plan", data=plan_form(ledger.overdue.id, (in_days(14), "500.00"),
                                                          (in_days(44), "500.00")))
    assert response.status_code == 303 and response.headers["Location"] == "/portal?done=plan_accepted"
    with tenant_scope(org.id):
        plan = db.session.scalar(select(PaymentPlan))
        assert (plan.status, plan.source, plan.proposed_by_id) == ("accepted", "portal", None)
    assert audit_actors(org, "queue.plan_proposed") == [ACTOR]


def test_an_accepted_plan_shows_as_accepted(payer, ledger):
    payer.post("/portal/plan", data=plan_form(ledger.overdue.id, (in_days(14), "500"), (in_days(44), "500")))
    shown = text(payer.get("/portal?done=plan_accepted"))
    assert "Your payment plan is accepted" in shown and "Plan: accepted" in shown


def test_a_plan_beyond_policy_waits_for_the_teams_approval(payer, org, ledger):
    response = payer.post("/portal/plan", data=plan_form(ledger.overdue.id, (in_days(30), "500"),
                                                          (in_days(150), "500")))
    assert response.headers["Location"] == "/portal?done=plan_pending"
    with tenant_scope(org.id):
        approval = db.session.scalar(select(Approval))
        assert approval.kind == "payment_plan" and approval.requested_by_id is None and approval.requested_in_portal
    assert "Awaiting approval" in text(payer.get("/portal"))


def test_a_plan_on_an_invoice_the_team_holds_goes_to_the_team_even_within_policy(payer, org, ledger):
    with tenant_scope(org.id):
        db.session.add(Hold(org_id=org.id, kind="hold", customer_id=ledger.customer.id,
                            invoice_id=ledger.overdue.id, reason="Legal review"))
        db.session.commit()
    response = payer.post("/portal/plan", data=plan_form(ledger.overdue.id, (in_days(14), "500"),
                                                          (in_days(44), "500")))
    assert response.headers["Location"] == "/portal?done=plan_pending"
    with tenant_scope(org.id):
        approval = db.session.scalar(select(Approval))
        assert approval.source == "portal" and "outreach is stopped: On hold" in approval.reason


def test_an_amount_in_decimal_comma_style_is_read_as_the_payer_meant_it(payer, org, ledger):
    payer.post("/portal/plan", data=plan_form(ledger.overdue.id, (in_days(14), "499,50"), (in_days(44), "500,50")))
    with tenant_scope(org.id):
        plan = db.session.scalar(select(PaymentPlan))
        assert [i.amount_minor for i in plan.installments] == [49_950, 50_050]


def test_a_plan_that_does_not_add_up_is_refused_with_the_reason(payer, org, ledger):
    response = payer.post("/portal/plan", data=plan_form(ledger.overdue.id, (in_days(14), "400"),
                                                          (in_days(44), "500")))
    assert response.status_code == 422 and "add up to $900.00, but the balance is $1,000.00" in text(response)
    assert count(org, PaymentPlan) == 0


def test_a_refused_plan_keeps_what_the_payer_typed(payer, ledger):
    response = payer.post("/portal/plan", data=plan_form(ledger.overdue.id, (in_days(14), "400"),
                                                          (in_days(44), "500")))
    assert 'value="400"' in text(response) and f'value="{in_days(44)}"' in text(response)


@pytest.mark.parametrize(("rows", "message"), [
    (((in_days(14), "abc"), (in_days(44), "500")), "Installment 1 needs a date and an amount"),
    (((in_days(14), "1000"),), "at least two installments"),
    (((in_days(-3), "500"), (in_days(44), "500")), "in the past"),
])
def test_bad_installments_are_refused(payer, org, ledger, rows, message):
    response = payer.post("/portal/plan", data=plan_form(ledger.overdue.id, *rows))
    assert response.status_code == 422 and message in text(response)
    assert count(org, PaymentPlan) == 0


def test_a_second_plan_for_the_same_invoice_is_refused(payer, org, ledger):
    form = plan_form(ledger.overdue.id, (in_days(14), "500"), (in_days(44), "500"))
    payer.post("/portal/plan", data=form)
    response = payer.post("/portal/plan", data=form)
    assert response.status_code == 422 and "already has a plan" in text(response)
    assert count(org, PaymentPlan) == 1


def test_a_plan_needs_an_invoice(payer, org, ledger):
    response = payer.post("/portal/plan", data=plan_form("", (in_days(14), "500"), (in_days(44), "500")))
    assert response.status_code == 422 and "Choose the invoice" in text(response)


# Disputes

def test_a_dispute_stops_reminders_and_is_recorded_as_the_payers(payer, org, ledger):
    response = payer.post("/portal/dispute", data={"invoice_id": ledger.overdue.id, "reason": "pricing",
                                                   "message": "The rate is not the one we agreed."})
    assert response.status_code == 303 and response.headers["Location"] == "/portal?done=dispute"
    with tenant_scope(org.id):
        dispute = db.session.scalar(select(Dispute))
        assert (dispute.source, dispute.reason) == ("portal", "pricing")
        assert stopping_reasons(db.session, ledger.overdue.id, workspace_today()) != []
    assert reload(org, Invoice, ledger.overdue.id).status == "disputed"
    assert audit_actors(org, "queue.dispute_opened") == [ACTOR]


def test_an_open_dispute_shows_on_the_page(payer, ledger):
    payer.post("/portal/dispute", data={"invoice_id": ledger.overdue.id, "reason": "quantity", "message": "Only 8"})
    shown = text(payer.get("/portal"))
    assert "Dispute about INV-1: Quantity" in shown and "Disputed" in shown


def test_a_dispute_needs_a_reason_and_a_message(payer, org, ledger):
    response = payer.post("/portal/dispute", data={"invoice_id": ledger.overdue.id, "reason": "",
                                                   "message": "Wrong"})
    assert response.status_code == 422 and "Choose what is wrong" in text(response)
    response = payer.post("/portal/dispute", data={"invoice_id": ledger.overdue.id, "reason": "other",
                                                   "message": "  "})
    assert response.status_code == 422 and "Tell us what is wrong" in text(response)
    assert count(org, Dispute) == 0 and reload(org, Invoice, ledger.overdue.id).status == "open"


def test_evidence_is_kept_outside_the_web_root(app, payer, org, ledger):
    from io import BytesIO

    payer.post("/portal/dispute", data={"invoice_id": ledger.overdue.id, "reason": "quality",
                                        "message": "Damaged on arrival", "evidence": (BytesIO(PDF), "photos.pdf")},
               content_type="multipart/form-data")
    with tenant_scope(org.id):
        evidence = db.session.scalar(select(DisputeEvidence))
    stored = Path(evidence.storage_path)
    assert evidence.content_type == "application/pdf" and stored.read_bytes() == PDF
    assert stored.is_relative_to(Path(app.config["UPLOAD_DIR"]) / "evidence")
    assert not stored.resolve().is_relative_to(Path(app.static_folder).resolve())


@pytest.mark.parametrize("disguised", [b"MZ\x90\x00\x03\x00\x00\x00 windows executable",
                                       b"\x7fELF\x02\x01\x01\x00 linux executable"])
def test_a_disguised_executable_is_refused_and_nothing_changes(app, payer, org, ledger, disguised):
    from io import BytesIO

    response = payer.post("/portal/dispute", data={
        "invoice_id": ledger.overdue.id, "reason": "pricing", "message": "See the attached invoice",
        "evidence": (BytesIO(disguised), "invoice.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 422 and "PDF, PNG or JPEG" in text(response)
    assert count(org, Dispute) == 0 and reload(org, Invoice, ledger.overdue.id).status == "open"
    stored = (Path(app.config["UPLOAD_DIR"]) / "evidence").rglob("*")
    assert not any(path.is_file() and path.read_bytes() == disguised for path in stored)


def test_an_already_disputed_invoice_cannot_be_disputed_again(payer, org, ledger):
    form = {"invoice_id": ledger.overdue.id, "reason": "pricing", "message": "Wrong rate"}
    payer.post("/portal/dispute", data=form)
    response = payer.post("/portal/dispute", data=form)
    assert response.status_code == 422 and "already disputed" in text(response)
    assert count(org, Dispute) == 1


# Promises

def test_a_promise_is_recorded_as_the_payers(payer, org, ledger):
    response = payer.post("/portal/promise", data={"invoice_id": ledger.overdue.id, "amount": "1,000.00",
                                                   "promised_date": in_days(7)})
    assert response.status_code == 303 and response.headers["Location"] == "/portal?done=promise"
    with tenant_scope(org.id):
        promise = db.session.scalar(select(Promise))
        assert (promise.amount_minor, promise.source, promise.created_by_id) == (100_000, "portal", None)
    assert audit_actors(org, "queue.promise_logged") == [ACTOR]


def test_a_pending_promise_shows_on_the_page(payer, ledger):
    payer.post("/portal/promise", data={"invoice_id": ledger.overdue.id, "amount": "250",
                                        "promised_date": in_days(7)})
    assert "Promise to pay $250.00 for INV-1" in text(payer.get("/portal"))


@pytest.mark.parametrize(("form", "message"), [
    ({"amount": "1000.01", "promised_date": in_days(7)}, "cannot exceed the open balance of $1,000.00"),
    ({"amount": "ten", "promised_date": in_days(7)}, "Enter the amount as a number"),
    ({"amount": "", "promised_date": in_days(7)}, "Enter the amount you will pay"),
    ({"amount": "100", "promised_date": ""}, "Choose the date you will pay by"),
    ({"amount": "100", "promised_date": in_days(-1)}, "in the past"),
    ({"amount": "100", "promised_date": in_days(400)}, "is a payment plan"),
])
def test_a_bad_promise_is_refused_and_nothing_changes(payer, org, ledger, form, message):
    response = payer.post("/portal/promise", data={"invoice_id": ledger.overdue.id, **form})
    assert response.status_code == 422 and message in text(response)
    assert count(org, Promise) == 0


# Opting out

def test_opting_out_asks_for_confirmation_first(payer, org, ledger):
    response = payer.get("/portal/opt-out")
    assert response.status_code == 200 and "Yes, stop reminders" in text(response)
    assert count(org, Hold) == 0


def test_opting_out_without_confirming_changes_nothing(payer, org, ledger):
    response = payer.post("/portal/opt-out", data={})
    assert response.status_code == 422 and count(org, Hold) == 0


def test_opting_out_stops_outreach_to_the_customer(payer, org, ledger):
    with tenant_scope(org.id):
        db.session.add(Message(org_id=org.id, idempotency_key="reminder-1", customer_id=ledger.customer.id,
                               invoice_id=ledger.overdue.id, status="scheduled", to_email="ap@globex.example",
                               subject="Reminder", body="Please pay", scheduled_for=utcnow() + dt.timedelta(hours=2)))
        db.session.commit()
    response = payer.post("/portal/opt-out", data={"confirm": "yes"})
    assert response.status_code == 303 and response.headers["Location"] == "/portal?done=opted_out"
    with tenant_scope(org.id):
        assert db.session.scalar(select(Hold)).kind == "opt_out"
        assert db.session.scalar(select(Contact)).opted_out_at is not None
        assert db.session.scalar(select(Message)).status == "cancelled"
        assert "Customer suppressed, held or opted out" in stopping_reasons(db.session, ledger.upcoming.id,
                                                                             workspace_today())
    assert audit_actors(org, "queue.opted_out") == [ACTOR]


def test_the_page_shows_that_reminders_are_off(payer, ledger):
    payer.post("/portal/opt-out", data={"confirm": "yes"})
    assert "Payment reminders by e-mail are switched off" in text(payer.get("/portal"))


def test_opting_out_twice_is_refused_plainly(payer, org, ledger):
    payer.post("/portal/opt-out", data={"confirm": "yes"})
    response = payer.post("/portal/opt-out", data={"confirm": "yes"})
    assert response.status_code == 422 and "already switched off" in text(response)
    assert count(org, Hold) == 1


# Protections every action shares

ACTIONS = ["/portal/pay", "/portal/plan", "/portal/dispute", "/portal/promise", "/portal/opt-out", "/portal/leave"]


@pytest.mark.parametrize("path", ACTIONS)
def test_an_action_without_the_csrf_token_is_refused(payer, org, ledger, path):
    response = payer.post(path, data={"invoice_id": ledger.overdue.id, "confirm": "yes", "reason": "pricing",
                                      "message": "x", "amount": "10", "promised_date": in_days(3)}, csrf=False)
    assert response.status_code == 400 and response.headers["Referrer-Policy"] == "no-referrer"
    assert count(org, Hold) == count(org, Dispute) == count(org, Promise) == 0


@pytest.mark.parametrize("path", ACTIONS[:-1])
def test_a_refused_action_sends_no_referrer_and_is_not_cached(payer, path):
    response = payer.post(path, data={})
    assert response.status_code in (409, 422)
    assert response.headers["Referrer-Policy"] == "no-referrer" and response.headers["Cache-Control"] == "no-store"


@pytest.fixture
def tight_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_RATE_LIMIT", "3 per minute")


def test_actions_are_rate_limited_per_payer(app, payer, org, ledger, tight_limit):
    from tests.portal.conftest import link_path

    for _ in range(3):
        assert payer.post("/portal/promise", data={"invoice_id": ledger.overdue.id}).status_code == 422
    # The same customer from another address (a colleague, a new network) shares the payer's allowance.
    other_address = app.test_client()
    other_address.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    other_address.get(link_path(org, ledger.customer))
    response = other_address.post("/portal/promise", data={"invoice_id": ledger.overdue.id})
    assert response.status_code == 429 and "Too many attempts" in text(response)
    assert response.headers["Referrer-Policy"] == "no-referrer" and "sign in" not in text(response)


def test_actions_are_rate_limited_per_address(app, payer, org, ledger, tight_limit):
    from tests.factories import make_contact, make_customer, make_invoice
    from tests.portal.conftest import link_path

    for _ in range(3):
        payer.post("/portal/promise", data={"invoice_id": ledger.overdue.id})
    with tenant_scope(org.id):
        other = make_customer(org, name="Initech")
        make_contact(other)
        invoice = make_invoice(org, other)
    db.session.commit()
    neighbour = app.test_client()  # another customer's portal, from the same address
    neighbour.get(link_path(org, other))
    assert neighbour.post("/portal/promise", data={"invoice_id": invoice.id}).status_code == 429
