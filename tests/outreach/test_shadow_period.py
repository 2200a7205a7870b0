"""A cadence launched in Shadow goes Active only after 14 days of Shadow, unless a controller ends Shadow early
with a reason; its page shows the days left and what Shadow would have sent."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.accounts.models import Organization
from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.model import utcnow
from plixo.outreach.cadences import (
    CadenceError,
    StepInput,
    change_status,
    create_cadence,
    end_shadow_early,
    may_activate,
    shadow_days_left,
    shadow_messages,
    tick,
)
from plixo.outreach.models import Cadence, Segment
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, make_org, make_user, workspace_today

STEPS = [StepInput(3, "due_date", "Invoice {invoice_number}", "Hello {customer_name}, {amount_due} is due.")]
REASON = "Finance signed off the drafts after review with the CFO."


def launch(org, user, started_days_ago: float = 1, status: str = "shadow", name: str = "Gentle") -> Cadence:
    with tenant_scope(org.id):
        segment = db.session.scalar(select(Segment).where(Segment.name == "All")) or Segment(
            org_id=org.id, name="All", rules={})
        db.session.add(segment)
        db.session.flush()
        cadence = create_cadence(db.session, org, user, name, segment.id, STEPS, status,
                                 utcnow() - dt.timedelta(days=started_days_ago))
        db.session.commit()
        return cadence


def fresh(org, cadence_id) -> Cadence:
    db.session.expire_all()
    with tenant_scope(org.id):
        return db.session.get(Cadence, cadence_id)


# --- The rule --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("days_ago", "left"), [(0, 14), (1, 13), (13.5, 1), (14, 0), (20, 0)])
def test_days_of_shadow_left(org, controller, days_ago, left):
    cadence = launch(org, controller, days_ago)
    assert shadow_days_left(cadence, utcnow()) == left
    assert may_activate(cadence, utcnow()) is (left == 0)


def test_activating_before_14_days_is_refused_with_the_date_and_what_to_do(scoped, controller):
    cadence = launch(scoped, controller, 4)
    with pytest.raises(CadenceError) as refused:
        change_status(db.session, scoped, controller, cadence, "active", utcnow())
    assert "10 days left" in refused.value.message and "runs 14 days in Shadow" in refused.value.message
    assert "end Shadow early" in refused.value.message and cadence.status == "shadow"


def test_after_14_days_it_may_be_activated(scoped, controller):
    cadence = launch(scoped, controller, 14.1)
    change_status(db.session, scoped, controller, cadence, "active", utcnow())
    assert cadence.status == "active"


def test_pausing_does_not_skip_the_shadow_period(scoped, controller):
    cadence = launch(scoped, controller, 3)
    change_status(db.session, scoped, controller, cadence, "paused", utcnow())
    assert not may_activate(cadence, utcnow())
    with pytest.raises(CadenceError, match="11 days left"):
        change_status(db.session, scoped, controller, cadence, "active", utcnow())


def test_a_cadence_that_was_active_and_is_paused_may_go_active_again(scoped, controller):
    cadence = launch(scoped, controller, 1, status="active")
    change_status(db.session, scoped, controller, cadence, "paused", utcnow())
    change_status(db.session, scoped, controller, cadence, "active", utcnow())
    assert cadence.status == "active" and shadow_days_left(cadence, utcnow()) is None


def test_resuming_in_shadow_starts_a_new_14_days(scoped, controller):
    cadence = launch(scoped, controller, 1, status="active")
    change_status(db.session, scoped, controller, cadence, "paused", utcnow())
    change_status(db.session, scoped, controller, cadence, "shadow", utcnow())
    assert shadow_days_left(cadence, utcnow()) == 14 and not may_activate(cadence, utcnow())


def test_a_controller_ends_shadow_early_with_a_reason_audited(scoped, controller):
    cadence = launch(scoped, controller, 5)
    end_shadow_early(db.session, scoped, controller, cadence, f"  {REASON}  ", utcnow())
    assert cadence.status == "active" and cadence.shadow_end_reason == REASON
    assert cadence.shadow_ended_early_at is not None and cadence.activated_at is not None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "cadences.shadow_ended_early"))
    assert event.reason == REASON and event.before["shadow_days_left"] == 9 and event.after == {"status": "active"}
    assert event.actor_id == controller.id


@pytest.mark.parametrize("reason", ["", "   ", "because"])
def test_ending_shadow_early_needs_a_typed_reason(scoped, controller, reason):
    cadence = launch(scoped, controller, 5)
    with pytest.raises(CadenceError) as refused:
        end_shadow_early(db.session, scoped, controller, cadence, reason, utcnow())
    assert refused.value.field == "reason" and cadence.status == "shadow"


def test_there_is_no_shadow_to_end_once_it_ran_or_for_an_active_cadence(scoped, controller):
    done = launch(scoped, controller, 15)
    with pytest.raises(CadenceError, match="activate it instead"):
        end_shadow_early(db.session, scoped, controller, done, REASON, utcnow())
    active = launch(scoped, controller, 1, status="active", name="Live")
    with pytest.raises(CadenceError, match="no Shadow period left"):
        end_shadow_early(db.session, scoped, controller, active, REASON, utcnow())


def test_shadow_messages_are_the_drafts_the_cadence_made_in_shadow(scoped, controller):
    cadence = launch(scoped, controller, 2)
    customer = make_customer(scoped, name="Initech", time_zone="UTC")
    make_contact(customer, email="ap@initech.example")
    invoice = make_invoice(scoped, customer, number="INV-SH-1", due_date=workspace_today() - dt.timedelta(days=9))
    result = tick(db.session, scoped, utcnow())
    assert result.drafts == 1
    shown, total = shadow_messages(db.session, scoped.id, cadence)
    assert total == 1 and shown[0].customer_name == "Initech" and shown[0].invoice_number == invoice.number
    assert shown[0].step_position == 1 and shown[0].message.status == "draft"
    assert "Hello Initech" in shown[0].message.body
    other = launch(scoped, controller, 2, name="Other")
    assert shadow_messages(db.session, scoped.id, other) == ([], 0)


# --- Over HTTP -------------------------------------------------------------------------------------------

def test_the_list_offers_no_activate_during_shadow_and_shows_the_days_left(client, org, controller):
    launch(org, controller, 4)
    html = client.get("/admin/cadences").get_data(as_text=True)
    row = html[html.index('id="cadence-'):]
    assert "10 days of Shadow left" in row and 'value="active"' not in row


def test_a_forged_activation_during_shadow_is_refused_clearly(client, org, controller):
    cadence = launch(org, controller, 4)
    response = client.post(f"/admin/cadences/{cadence.id}/status", data={"status": "active"},
                           follow_redirects=True)
    assert "10 days left" in response.get_data(as_text=True)
    assert fresh(org, cadence.id).status == "shadow"
    htmx = client.post(f"/admin/cadences/{cadence.id}/status", data={"status": "active"},
                       headers={"HX-Request": "true", "HX-Target": "cadences"})
    assert htmx.status_code == 409 and fresh(org, cadence.id).status == "shadow"


def test_the_cadence_page_shows_days_left_and_what_shadow_would_have_sent(client, org, controller):
    cadence = launch(org, controller, 4)
    with tenant_scope(org.id):
        customer = make_customer(org, name="Initech", time_zone="UTC")
        make_contact(customer, email="ap@initech.example")
        make_invoice(org, customer, number="INV-SH-2", due_date=workspace_today() - dt.timedelta(days=9))
        tick(db.session, db.session.get(Organization, org.id), utcnow())
        db.session.commit()
    html = client.get(f"/admin/cadences/{cadence.id}").get_data(as_text=True)
    assert "10 days of Shadow left" in html and "What Shadow would have sent" in html
    section = html[html.index('id="shadow-messages"'):]
    assert "Initech" in section and "INV-SH-2" in section and "Draft for review" in section
    assert "<summary>Read</summary>" in section and "Hello Initech" in section
    assert 'value="active"' not in html and 'id="end-shadow"' in html


def test_a_controller_ends_shadow_early_from_the_page(client, org, controller):
    cadence = launch(org, controller, 4)
    response = client.post(f"/admin/cadences/{cadence.id}/end-shadow", data={"reason": REASON})
    assert response.status_code == 303 and fresh(org, cadence.id).status == "active"
    html = client.get(f"/admin/cadences/{cadence.id}").get_data(as_text=True)
    assert "Shadow was ended early" in html and REASON in html


def test_ending_shadow_early_without_a_reason_is_refused_at_the_form(client, org, controller):
    cadence = launch(org, controller, 4)
    response = client.post(f"/admin/cadences/{cadence.id}/end-shadow", data={"reason": "ok"})
    assert response.status_code == 422 and 'id="end-shadow-error"' in response.get_data(as_text=True)
    assert fresh(org, cadence.id).status == "shadow"
    with tenant_scope(org.id):
        assert db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "cadences.shadow_ended_early")) is None


@pytest.mark.parametrize("role", ["ar_manager", "operator", "sales", "cfo"])
def test_only_a_controller_may_end_shadow_early(client_as, org, controller, role):
    cadence = launch(org, controller, 4)
    member = client_as(role)
    assert member.post(f"/admin/cadences/{cadence.id}/end-shadow", data={"reason": REASON}).status_code == 403
    assert fresh(org, cadence.id).status == "shadow"


def test_an_ar_manager_sees_the_page_without_the_early_end(client_as, org, controller):
    cadence = launch(org, controller, 4)
    html = client_as("ar_manager").get(f"/admin/cadences/{cadence.id}").get_data(as_text=True)
    assert "10 days of Shadow left" in html and 'id="end-shadow"' not in html
    assert "A controller can end Shadow early" in html


def test_another_workspaces_cadence_page_is_not_found(client, org):
    other = make_org(name="Other")
    theirs = launch(other, make_user(other), 4)
    assert client.get(f"/admin/cadences/{theirs.id}").status_code == 404
    assert client.post(f"/admin/cadences/{theirs.id}/end-shadow", data={"reason": REASON}).status_code == 404
    assert fresh(other, theirs.id).status == "shadow"
