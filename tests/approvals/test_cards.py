"""Approval cards and routing: each role sees what is routed to it; the controller sees Legal's too, labelled, and
decides them only when Legal has no active member; every card says whose account, which invoices, what is asked,
who asked and when."""

import datetime as dt

import pytest
from sqlalchemy import event, select

from plixo.accounts.models import Membership, Notification
from plixo.actions import ActionError
from plixo.approvals import service as approvals
from plixo.approvals.cards import age_phrase, pending_cards, waiting_count
from plixo.approvals.models import Approval
from plixo.extensions import db
from plixo.model import utcnow as now
from plixo.promises import plans
from tests.factories import PAYER, make_customer, make_invoice, make_user, plan_of


@pytest.fixture
def globex(scoped):
    return make_customer(scoped, name="Globex Industrial")


@pytest.fixture
def legal_write_off(scoped, globex, controller):
    large = make_invoice(scoped, globex, number="INV-LARGE", balance_minor=2_835_000, amount_minor=2_835_000)
    approval = approvals.request_write_off(db.session, scoped, large, controller, "Customer in liquidation", now())
    db.session.flush()  # the audit event too, before a test adds users outside the workspace's scope
    return approval


@pytest.fixture
def controller_plan(scoped, globex):
    operator = make_user(scoped, "operator", name="Omar Operator")
    big = make_invoice(scoped, globex, number="INV-PLAN", balance_minor=5_000_000, amount_minor=5_000_000)
    plan = plans.propose_plan(db.session, scoped, big, operator, plan_of(2_000_000, 1_500_000, 1_500_000), now())
    db.session.flush()
    return db.session.scalar(select(Approval).where(Approval.subject_id == plan.id, Approval.kind == "payment_plan"))


def test_legal_sees_only_what_is_routed_to_legal(scoped, legal_write_off, controller_plan):
    make_user(scoped, "legal")
    cards = pending_cards(db.session, scoped.id, "legal")
    assert [card.id for card in cards] == [legal_write_off.id]
    assert cards[0].decidable and cards[0].routed_label == "for Legal"


def test_the_controller_sees_legals_items_labelled_and_cannot_decide_them_while_legal_is_there(
        scoped, legal_write_off, controller_plan, controller):
    make_user(scoped, "legal")
    cards = {card.id: card for card in pending_cards(db.session, scoped.id, "controller")}
    assert set(cards) == {legal_write_off.id, controller_plan.id}
    assert cards[legal_write_off.id].routed_label == "for Legal" and not cards[legal_write_off.id].decidable
    assert cards[controller_plan.id].routed_label == "for Controller" and cards[controller_plan.id].decidable
    assert waiting_count(db.session, scoped.id, "controller") == 1
    with pytest.raises(ActionError, match="for Legal"):
        approvals.decide_approval(db.session, scoped, legal_write_off, controller, "controller", True, "", now())
    assert legal_write_off.status == "pending"


def test_the_controller_decides_legals_items_when_legal_has_no_active_member(scoped, legal_write_off, controller):
    lawyer = make_user(scoped, "legal")
    db.session.scalar(select(Membership).where(Membership.user_id == lawyer.id)).is_active = False
    card, = pending_cards(db.session, scoped.id, "controller")
    assert card.decidable and card.routed_label == "for Legal"
    assert waiting_count(db.session, scoped.id, "controller") == 1
    approvals.decide_approval(db.session, scoped, legal_write_off, controller, "controller", True, "", now())
    assert legal_write_off.status == "approved"


def test_legal_decides_legals_items(scoped, legal_write_off):
    lawyer = make_user(scoped, "legal", name="Lena Legal")
    approvals.decide_approval(db.session, scoped, legal_write_off, lawyer, "legal", True, "", now())
    assert legal_write_off.status == "approved"


def test_other_roles_cannot_decide(scoped, controller_plan):
    lawyer = make_user(scoped, "legal")
    with pytest.raises(ActionError, match="another role"):
        approvals.decide_approval(db.session, scoped, controller_plan, lawyer, "legal", True, "", now())
    assert pending_cards(db.session, scoped.id, "operator") == []


def test_a_plan_card_lists_customer_invoices_installments_and_requester(scoped, controller_plan):
    card, = pending_cards(db.session, scoped.id, "controller")
    assert card.customer_name == "Globex Industrial" and card.invoice_numbers == "INV-PLAN"
    assert [line.amount_minor for line in card.installments] == [2_000_000, 1_500_000, 1_500_000]
    assert card.installments[0].due_date < card.installments[1].due_date
    assert card.summary == "Plan of 3 installments, $50,000.00 in total"
    assert card.requester == "Omar Operator" and card.about == "Globex Industrial · INV-PLAN"


def test_a_plan_over_several_invoices_lists_each(scoped, globex, controller_plan):
    from plixo.promises.models import PaymentPlanInvoice

    other = make_invoice(scoped, globex, number="INV-2ND")
    db.session.add(PaymentPlanInvoice(org_id=scoped.id, plan_id=controller_plan.subject_id, invoice_id=other.id))
    db.session.flush()
    card, = pending_cards(db.session, scoped.id, "controller")
    assert {ref.number for ref in card.invoices} == {"INV-PLAN", "INV-2ND"}


def test_a_write_off_card_shows_amount_and_reason(scoped, legal_write_off):
    card, = pending_cards(db.session, scoped.id, "controller")
    assert card.summary == "Write off $28,350.00" and card.reason == "Customer in liquidation"
    assert card.invoice_id == legal_write_off.subject_id and card.customer_name == "Globex Industrial"


def test_a_discount_card_shows_amount_and_share_of_the_balance(scoped, controller, invoice):
    db.session.add(Approval(org_id=scoped.id, kind="discount", subject_type="Invoice", subject_id=invoice.id,
                            currency="USD", amount_minor=10_000, requested_by_id=controller.id, reason="Loyal"))
    db.session.flush()
    card, = pending_cards(db.session, scoped.id, "controller")
    assert card.summary == "Discount of $100.00 (10% of the balance)"


def test_a_plan_the_payer_asked_for_says_so(scoped, controller):
    big = make_invoice(scoped, balance_minor=5_000_000, amount_minor=5_000_000)
    plans.propose_plan(db.session, scoped, big, PAYER, plan_of(2_500_000, 2_500_000), now(), source="portal")
    card, = pending_cards(db.session, scoped.id, "controller")
    assert card.requester == "The payer, in the portal"


def test_cards_take_a_fixed_number_of_queries(scoped, globex, controller):
    def count_queries(role: str) -> int:
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            pending_cards(db.session, scoped.id, role)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    def add_requests(n: int) -> None:
        for _ in range(n):
            inv = make_invoice(scoped, globex, balance_minor=5_000_000, amount_minor=5_000_000)
            plans.propose_plan(db.session, scoped, inv, controller, plan_of(2_500_000, 2_500_000), now())
            approvals.request_write_off(db.session, scoped, make_invoice(scoped, globex), controller, "Gone", now())
        db.session.flush()

    add_requests(1)
    few = count_queries("controller")
    add_requests(5)
    assert count_queries("controller") == few <= 7


@pytest.mark.parametrize("approve", [True, False])
def test_the_requester_is_told_with_customer_and_invoice(scoped, controller_plan, controller, approve):
    approvals.decide_approval(db.session, scoped, controller_plan, controller, "controller", approve,
                              "" if approve else "Too long", now())
    note = db.session.scalar(select(Notification))
    verdict = "approved" if approve else "rejected"
    assert note.text.startswith(f"Cora Controller {verdict} your payment plan request for Globex Industrial · INV-PLAN")
    assert note.link.startswith("/work/")  # a page the requester may open: tests/customers/test_notification_links
    assert approve or note.text.endswith(": Too long")


def test_ages_read_as_people_say_them():
    at = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    assert age_phrase(at, at + dt.timedelta(seconds=20)) == "just now"
    assert age_phrase(at, at + dt.timedelta(minutes=12)) == "12 min ago"
    assert age_phrase(at, at + dt.timedelta(hours=3, minutes=5)) == "3 h ago"
    assert age_phrase(at, at + dt.timedelta(days=1, hours=2)) == "1 day ago"
    assert age_phrase(at, at + dt.timedelta(days=2, hours=2)) == "2 days ago"


def test_a_request_routed_to_a_role_that_cannot_decide_is_the_controllers(scoped, controller, invoice):
    # approvals.decide is the controller's and Legal's; a request routed anywhere else (an A/R manager, if a policy
    # ever named one) would otherwise wait for nobody.
    make_user(scoped, "ar_manager")
    approval = approvals.request_write_off(db.session, scoped, invoice, controller, "Dust", now())
    approval.approver_role = "ar_manager"
    card, = pending_cards(db.session, scoped.id, "controller")
    assert card.decidable and card.routed_label == "for A/R Manager"
    approvals.decide_approval(db.session, scoped, approval, controller, "controller", True, "", now())
    assert approval.status == "approved"
