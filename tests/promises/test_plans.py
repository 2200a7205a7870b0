"""Payment plans: accepted within policy, sent for approval above it, refused when they do not add up."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.actions import ActionError
from plixo.approvals.models import Approval
from plixo.extensions import db
from plixo.holds import service as holds
from plixo.ledger.eligibility import stopping_reasons
from plixo.model import utcnow as now
from plixo.promises import plans
from plixo.promises.models import PaymentPlan
from plixo.promises.plans import Installment
from tests.factories import PAYER, TODAY, make_invoice, plan_of


def test_plan_within_policy_is_accepted_and_stops_outreach(scoped, controller, invoice):
    plan = plans.propose_plan(db.session, scoped, invoice, controller, plan_of(50_000, 50_000), now())
    assert plan.status == "accepted"
    assert stopping_reasons(db.session, invoice.id, TODAY) == ["Covered by an accepted payment plan"]


def test_plan_above_the_policy_limit_waits_for_approval(scoped, controller):
    big = make_invoice(scoped, balance_minor=5_000_000, amount_minor=5_000_000)
    plan = plans.propose_plan(db.session, scoped, big, controller, plan_of(2_500_000, 2_500_000), now())
    assert plan.status == "pending_approval"
    approval = db.session.scalar(select(Approval).where(Approval.subject_id == plan.id))
    assert approval.kind == "payment_plan" and approval.status == "pending"
    assert stopping_reasons(db.session, big.id, TODAY) == []


@pytest.mark.parametrize(("installments", "message"), [
    (plan_of(40_000, 50_000), "add up to"),
    (plan_of(100_000), "at least two"),
    ([Installment(TODAY - dt.timedelta(days=1), 50_000), Installment(TODAY + dt.timedelta(days=9), 50_000)],
     "in the past"),
    ([Installment(TODAY + dt.timedelta(days=9), 50_000), Installment(TODAY + dt.timedelta(days=3), 50_000)],
     "in order"),
    (plan_of(-50_000, 150_000), "above zero"),
])
def test_bad_plans_are_refused(scoped, controller, invoice, installments, message):
    with pytest.raises(ActionError, match=message):
        plans.propose_plan(db.session, scoped, invoice, controller, installments, now())
    assert db.session.scalars(select(PaymentPlan)).all() == []


def test_a_payer_may_propose_a_plan_while_outreach_is_held_and_the_team_decides_it(scoped, controller, invoice):
    holds.place_hold(db.session, scoped, invoice, controller, "Awaiting PO", None, now())
    plan = plans.propose_plan(db.session, scoped, invoice, PAYER, plan_of(50_000, 50_000), now(), source="portal")
    assert plan.status == "pending_approval"
