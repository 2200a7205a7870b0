"""Approvals: deciding a plan or a write-off, routing large write-offs to Legal, telling the requester."""


import pytest
from sqlalchemy import select

from plixo.accounts.models import Notification
from plixo.actions import ActionError
from plixo.approvals import service as approvals
from plixo.approvals.models import Approval
from plixo.extensions import db
from plixo.model import utcnow as now
from plixo.promises import plans
from tests.factories import PAYER, audited, make_invoice, make_user, plan_of


def test_approving_a_plan_accepts_it_and_notifies_the_requester(scoped, controller):
    operator = make_user(scoped, "operator")
    big = make_invoice(scoped, balance_minor=5_000_000, amount_minor=5_000_000)
    plan = plans.propose_plan(db.session, scoped, big, operator, plan_of(2_500_000, 2_500_000), now())
    approval = db.session.scalar(select(Approval).where(Approval.subject_id == plan.id))
    approvals.decide_approval(db.session, scoped, approval, controller, "controller", True, "", now())
    assert plan.status == "accepted" and approval.status == "approved"
    note = db.session.scalar(select(Notification).where(Notification.user_id == operator.id))
    assert "approved your payment plan request" in note.text


def test_rejecting_needs_a_reason(scoped, controller):
    big = make_invoice(scoped, balance_minor=5_000_000, amount_minor=5_000_000)
    plan = plans.propose_plan(db.session, scoped, big, controller, plan_of(2_500_000, 2_500_000), now())
    approval = db.session.scalar(select(Approval).where(Approval.subject_id == plan.id))
    with pytest.raises(ActionError, match="why"):
        approvals.decide_approval(db.session, scoped, approval, controller, "controller", False, " ", now())
    assert approval.status == "pending"


def test_write_off_only_happens_after_approval(scoped, controller, invoice):
    approval = approvals.request_write_off(db.session, scoped, invoice, controller, "Customer insolvent", now())
    assert invoice.status == "open"
    approvals.decide_approval(db.session, scoped, approval, controller, "controller", True, "Agreed", now())
    assert invoice.status == "written_off" and audited("queue.written_off")


def test_write_off_without_a_reason_is_refused(scoped, controller, invoice):
    with pytest.raises(ActionError):
        approvals.request_write_off(db.session, scoped, invoice, controller, "", now())


def test_large_write_offs_are_routed_to_legal(scoped, controller):
    small = make_invoice(scoped, balance_minor=10_000, amount_minor=10_000)
    large = make_invoice(scoped, balance_minor=900_000, amount_minor=900_000)  # policy threshold: 50,000
    assert approvals.request_write_off(
        db.session, scoped, small, controller, "Dust", now()).approver_role == "controller"
    assert approvals.request_write_off(
        db.session, scoped, large, controller, "Bankrupt", now()).approver_role == "legal"


def test_a_payers_plan_above_policy_is_decided_without_a_requester_to_notify(scoped, controller):
    big = make_invoice(scoped, balance_minor=5_000_000, amount_minor=5_000_000)
    plan = plans.propose_plan(db.session, scoped, big, PAYER, plan_of(2_500_000, 2_500_000), now(), source="portal")
    approval = db.session.scalar(select(Approval).where(Approval.subject_id == plan.id))
    assert approval.requested_in_portal and plan.source == "portal"
    approvals.decide_approval(db.session, scoped, approval, controller, "controller", True, "", now())
    assert plan.status == "accepted" and db.session.scalars(select(Notification)).all() == []
