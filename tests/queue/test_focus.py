"""Today's Focus: one card per customer with "+N more"; what falls due now, then overdue, then not yet due; the
score among equals; the person's own queue."""

import datetime as dt

import pytest

from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.model import utcnow
from plixo.promises.models import Promise
from plixo.queue.focus import focus_cards
from plixo.queue.queries import QueueFilters
from tests.factories import make_customer, make_invoice, make_user, workspace_today

TODAY = workspace_today()


@pytest.fixture
def add(scoped):
    """add("Globex", priority=500, days_overdue=30) -> an open invoice of that customer with that stored score."""
    customers = {}

    def make(name: str, priority: int, days_overdue: int = 30, **overrides):
        if name not in customers:
            customers[name] = make_customer(scoped, name=name)
        return make_invoice(scoped, customers[name], priority=priority,
                            due_date=TODAY - dt.timedelta(days=days_overdue), **overrides)

    make.customers = customers
    return make


def focus(org, user_id: int = 0, mine: bool = False) -> list[tuple[str, str, int]]:
    db.session.flush()
    cards = focus_cards(db.session, org.id, user_id, QueueFilters(mine=mine), TODAY, utcnow())
    return [(card.customer_name, card.number, card.more) for card in cards]


def test_one_card_per_customer_with_the_rest_counted(scoped, add):
    add("Globex", 500, number="G-1"), add("Globex", 450, number="G-2"), add("Globex", 400, number="G-3")
    add("Initech", 300, number="I-1")
    assert focus(scoped) == [("Globex", "G-1", 2), ("Initech", "I-1", 0)]


def test_at_most_three_cards(scoped, add):
    for n, name in enumerate(["A", "B", "C", "D"]):
        add(name, 900 - n * 100, number=f"{name}-1")
    assert [name for name, _number, _more in focus(scoped)] == ["A", "B", "C"]


def test_overdue_outranks_not_yet_due_whatever_the_score(scoped, add):
    add("Globex", 1_250, days_overdue=-10, number="NOT-DUE")  # e.g. a bounce-prone contact on a large balance
    add("Initech", 350, days_overdue=294, number="OLD")
    assert focus(scoped) == [("Initech", "OLD", 0), ("Globex", "NOT-DUE", 0)]


def test_a_customers_card_is_its_overdue_invoice_before_its_not_yet_due_one(scoped, add):
    add("Globex", 1_000, days_overdue=-5, number="G-NOT-DUE")
    add("Globex", 200, days_overdue=40, number="G-OVERDUE")
    assert focus(scoped) == [("Globex", "G-OVERDUE", 1)]


@pytest.mark.parametrize(("status", "promised_in", "broke_hours_ago", "lifted"), [
    ("pending", 0, None, True), ("pending", 2, None, True), ("pending", 3, None, False),
    ("broken", -1, 5, True), ("broken", -9, 24 * 8, False),
])
def test_a_promise_falling_due_lifts_a_not_yet_due_invoice(scoped, add, status, promised_in, broke_hours_ago,
                                                            lifted):
    promised = add("Globex", 100, days_overdue=-3, number="PROMISED")
    add("Initech", 900, days_overdue=120, number="OVERDUE")
    db.session.add(Promise(org_id=scoped.id, invoice_id=promised.id, customer_id=promised.customer_id,
                           currency="USD", amount_minor=1_000, promised_date=TODAY + dt.timedelta(days=promised_in),
                           status=status, resolved_at=None if broke_hours_ago is None
                           else utcnow() - dt.timedelta(hours=broke_hours_ago)))
    first = focus(scoped)[0][1]
    assert first == ("PROMISED" if lifted else "OVERDUE")


@pytest.mark.parametrize(("dispute_status", "lifted"), [("needs_review", True), ("investigating", True),
                                                        ("waiting_customer", False), ("resolved", False)])
def test_a_dispute_waiting_for_the_collector_lifts_the_customer(scoped, add, dispute_status, lifted):
    disputed = add("Globex", 0, number="DISPUTED", status="disputed")
    add("Globex", 100, days_overdue=-3, number="G-NOT-DUE")
    add("Initech", 900, days_overdue=120, number="OVERDUE")
    db.session.add(Dispute(org_id=scoped.id, invoice_id=disputed.id, customer_id=disputed.customer_id,
                           reason="quality", status=dispute_status, opened_at=utcnow()))
    first = focus(scoped)[0][1]
    assert first == ("G-NOT-DUE" if lifted else "OVERDUE")


@pytest.mark.parametrize("handled", [False, True])
def test_a_reply_nobody_has_handled_lifts_the_customer(scoped, add, handled):
    from plixo.replies.models import Reply

    waiting = add("Globex", 100, days_overdue=-3, number="G-NOT-DUE")
    add("Initech", 900, days_overdue=120, number="OVERDUE")
    db.session.add(Reply(org_id=scoped.id, header_message_id="<r@globex.example>", customer_id=waiting.customer_id,
                         matched_by="sender", received_at=utcnow(), label="other", body="Call me.",
                         handled_at=utcnow() if handled else None))
    assert focus(scoped)[0][1] == ("OVERDUE" if handled else "G-NOT-DUE")


def test_among_equals_the_score_orders(scoped, add):
    add("Low", 300, number="LOW"), add("High", 700, number="HIGH"), add("Mid", 500, number="MID")
    assert [number for _name, number, _more in focus(scoped)] == ["HIGH", "MID", "LOW"]


def test_an_operator_sees_their_own_queue(scoped, add):
    operator = make_user(scoped, "operator")
    add("Theirs", 200, number="THEIRS", assignee_id=operator.id)
    add("Theirs", 100, number="THEIRS-2", assignee_id=operator.id)
    add("Theirs", 900, number="SOMEONE-ELSES")  # unassigned, and the customer is not theirs
    add("Other", 950, number="OTHER")
    assert focus(scoped, operator.id, mine=True) == [("Theirs", "THEIRS", 1)]


def test_the_queue_page_shows_one_card_per_customer_and_the_rule(client, org, controller):
    from plixo.tenancy import tenant_scope

    with tenant_scope(org.id):
        big = make_customer(org, name="Globex Industrial")
        for n in range(3):
            make_invoice(org, big, number=f"G-{n}", priority=900 - n, due_date=TODAY - dt.timedelta(days=40))
        make_invoice(org, make_customer(org, name="Initech"), number="I-1", priority=10,
                     due_date=TODAY - dt.timedelta(days=3))
        db.session.commit()
    page = client.get("/work/queue").get_data(as_text=True)
    strip = page[page.index('class="focus-strip"'):page.index('id="queue-filters"')]
    assert strip.count('class="focus-card"') == 2 and "+2 more invoices" in strip
    assert "One card per customer" in strip and "then overdue invoices, then those not yet due" in strip.replace(
        "Then", "then")


def test_the_remembered_choice_is_read_again_and_dropped_once_a_card_leaves_the_queue(scoped, add):
    from plixo.queue.focus import cached_focus_cards
    from plixo.queue.queries import queue_changed

    def cached():
        db.session.flush()
        cards = cached_focus_cards(db.session, scoped.id, 0, QueueFilters(), TODAY, utcnow())
        return [(card.customer_name, card.number, card.balance_minor) for card in cards]

    first = add("Globex", 500, number="G-1", balance_minor=10_000)
    add("Initech", 300, number="I-1", balance_minor=5_000)
    assert cached() == [("Globex", "G-1", 10_000), ("Initech", "I-1", 5_000)]
    first.balance_minor = 7_500  # a part payment: the remembered card shows the figure as it is now
    assert cached()[0] == ("Globex", "G-1", 7_500)
    first.status, first.balance_minor = "paid", 0  # it left the queue without a change being announced
    assert cached() == [("Initech", "I-1", 5_000)]
    add("Hooli", 900, number="H-1")
    queue_changed(scoped.id)  # an announced change chooses again
    assert [number for _name, number, _balance in cached()] == ["H-1", "I-1"]
