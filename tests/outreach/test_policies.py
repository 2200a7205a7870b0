"""Admin → Policies: controllers change the guardrails; bad combinations are refused; changes are audited."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.accounts.models import Policy
from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.tenancy import tenant_scope

VALID = {
    "tone": "firm", "business_hours_start": "09:00", "business_hours_end": "17:30",
    "quiet_hours_start": "19:00", "quiet_hours_end": "08:00", "sending_days": ["0", "1", "2", "3"],
    "daily_cap_per_mailbox": "150", "daily_cap_per_domain": "400", "max_touches_per_week": "3",
    "min_gap_hours": "24", "discount_cap_percent": "2.5", "credit_approval": "1500.00",
    "plan_approval": "25000", "plan_approval_months": "6", "writeoff_approval": "750.50",
    "approver_role": "legal",
}


def policy(org) -> Policy:
    with tenant_scope(org.id):
        db.session.expire_all()
        return db.session.scalar(select(Policy).where(Policy.org_id == org.id))


def test_controller_sees_the_current_guardrails(client):
    page = client.get("/admin/policies").get_data(as_text=True)
    assert "Quiet hours from" in page and 'value="20:00"' in page and 'value="1000.00"' in page


def test_saving_changes_every_field_and_audits_the_difference(client, org):
    response = client.post("/admin/policies", data=VALID)
    assert response.status_code == 302
    saved = policy(org)
    assert saved.tone == "firm" and saved.business_hours_end == dt.time(17, 30) and saved.sending_days == [0, 1, 2, 3]
    assert saved.discount_cap_bp == 250 and saved.credit_approval_minor == 150_000
    assert saved.writeoff_approval_minor == 75_050 and saved.approver_role == "legal"
    with tenant_scope(org.id):
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "policies.updated"))
    assert event.before["tone"] == "professional" and event.after["tone"] == "firm"


@pytest.mark.parametrize(("change", "message"), [
    ({"business_hours_end": "08:00"}, "must end after they start"),
    ({"quiet_hours_end": "19:00"}, "different times"),
    ({"sending_days": []}, "at least one sending day"),
    ({"quiet_hours_start": "08:30", "quiet_hours_end": "18:00"}, "entirely within quiet hours"),
    ({"daily_cap_per_mailbox": "0"}, "from 1 to 100,000"),
    ({"max_touches_per_week": "lots"}, "Enter a whole number with the digits 0-9"),
    ({"max_touches_per_week": "\u0663"}, "Enter a whole number with the digits 0-9"),  # Arabic-Indic 3
    ({"discount_cap_percent": "sNaN"}, "digits 0-9"),
    ({"discount_cap_percent": "NaN"}, "digits 0-9"),
    ({"credit_approval": "Infinity"}, "digits 0-9"),
    ({"writeoff_approval": "1e309"}, "digits 0-9"),
    ({"plan_approval": "\u0661\u0662\u0663"}, "digits 0-9"),
    ({"credit_approval": "12.345"}, "decimal places"),
    ({"discount_cap_percent": "120"}, "0 to 100"),
    ({"tone": "shouty"}, "Not a valid choice"),
])
def test_bad_settings_are_refused_with_a_message_and_change_nothing(client, org, change, message):
    response = client.post("/admin/policies", data={**VALID, **change})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert policy(org).tone == "professional"


@pytest.mark.parametrize("role", ["ar_manager", "operator", "cfo", "legal"])
def test_only_controllers_change_policies(client_as, role):
    assert client_as(role).post("/admin/policies", data=VALID).status_code == 403
