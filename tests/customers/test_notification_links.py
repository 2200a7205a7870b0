"""Every notification links to a page its recipient may open, whatever their role: a mention, a decision on a
request (a payment plan, a write-off) and a suggested reminder to review."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.accounts.models import Notification
from plixo.accounts.notifications import role_of
from plixo.approvals import service as approvals
from plixo.approvals.models import Approval
from plixo.extensions import db
from plixo.model import utcnow
from plixo.notes import service as notes
from plixo.outreach import nudges
from plixo.promises import plans
from plixo.promises.plans import Installment
from plixo.security import ROLES, role_can
from plixo.tenancy import tenant_scope
from tests.conftest import sign_in
from tests.factories import TODAY, make_user

LONG_PLAN = [Installment(TODAY + dt.timedelta(days=30), 125_000), Installment(TODAY + dt.timedelta(days=200), 125_000)]


def _notifications(org, user) -> list[Notification]:
    with tenant_scope(org.id):
        return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                                       .order_by(Notification.id)))


def _every_kind_for(org, controller, member, globex) -> None:
    """A note and a customer note mentioning the member, and decisions on the member's plan and write-off."""
    handle = member.email.split("@")[0]
    lawyer = make_user(org, "legal", name="Lee Legal", email="lee.legal@acmetest.example")
    with tenant_scope(org.id):
        notes.add_note(db.session, org, globex["overdue"], controller, f"@{handle} please look at this invoice")
        notes.add_customer_note(db.session, org, globex["customer"], controller, f"@{handle} and at the account")
        plan = plans.propose_plan(db.session, org, globex["overdue"], member, LONG_PLAN, utcnow())
        write_off = approvals.request_write_off(db.session, org, globex["current"], member, "Goodwill", utcnow())
        plan_approval = db.session.scalar(select(Approval).where(Approval.subject_type == "PaymentPlan",
                                                                 Approval.subject_id == plan.id))
        approvals.decide_approval(db.session, org, plan_approval, controller, "controller", True, "", utcnow())
        # A large write-off is Legal's call while the workspace has a Legal member: one of them decides it.
        decider, role = (lawyer, "legal") if write_off.approver_role == "legal" else (controller, "controller")
        approvals.decide_approval(db.session, org, write_off, decider, role, False, "Not this time", utcnow())
        db.session.commit()


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_notification_opens_for_every_role(app, org, controller, globex, role):
    member = make_user(org, role, name=f"{ROLES[role]} Member", email=f"{role.replace('_', '-')}@acmetest.example")
    db.session.commit()
    _every_kind_for(org, controller, member, globex)
    received = _notifications(org, member)
    assert sorted(n.kind for n in received) == ["approval_decided", "approval_decided", "mention", "mention"]
    client = sign_in(app.test_client(), member)
    for notification in received:
        path, _, anchor = notification.link.partition("#")
        response = client.get(path)
        assert response.status_code == 200, (notification.kind, notification.link)
        assert f'id="{anchor}"' in response.get_data(as_text=True) or path.startswith("/work/queue/")
    expected = "/work/queue/" if role_can(role, "queue.work") else "/work/customers/"
    assert all(n.link.startswith(expected) for n in received if n.kind == "approval_decided")
    assert all(n.link.startswith("/work/customers/") for n in received if n.kind == "mention")


@pytest.mark.parametrize("role", sorted(r for r in ROLES if role_can(r, "queue.work")))
def test_a_suggested_reminder_reaches_a_collector_who_can_open_it(app, org, globex, role):
    reviewer = make_user(org, role, name="Rita Reviewer")
    suggester = make_user(org, "csm", name="Casey Success")
    with tenant_scope(org.id):
        globex["overdue"].assignee_id = reviewer.id
        subject, body = nudges.nudge_draft(db.session, org, globex["overdue"], utcnow())
        nudges.suggest_nudge(db.session, org, globex["overdue"], suggester, "csm", subject, body, utcnow())
        db.session.commit()
    [notice] = _notifications(org, reviewer)
    response = sign_in(app.test_client(), reviewer).get(notice.link)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Suggested by Casey Success (Customer Success)" in html


def test_no_one_outside_the_collectors_is_asked_to_review(org, controller, globex):
    for role in ROLES:
        make_user(org, role)
    with tenant_scope(org.id):
        globex["customer"].owner_id = None
        reviewers = nudges.reviewers_of(db.session, org, globex["overdue"])
    assert reviewers and all(role_can(_role(org, r), "queue.work") for r in reviewers)


def _role(org, user):
    with tenant_scope(org.id):
        return role_of(db.session, org.id, user.id)
