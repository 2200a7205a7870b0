"""The console's remembered parts (insights.today) are exact: after every kind of change the page's figures equal
figures worked out from the tables with nothing remembered, and a change made today leaves the past's parts
standing while one that reaches into the past moves them."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest

from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.generations import generations
from plixo.insights.console import ConsoleFilters, _compute, console_data, reading_for
from plixo.insights.figures import Scope, figures
from plixo.insights.forecast import WEEKS, cash_forecast, expected_in_week, week_index, week_start
from plixo.insights.freshness import CASH_PAST, OPEN_PAST, PAID_PAST, SALES_PAST
from plixo.insights.habits import customer_habits
from plixo.insights.rates import converter_on, set_rate
from plixo.ledger.balances import Reason, balance_reason
from plixo.ledger.models import Customer, Invoice
from plixo.model import utcnow
from plixo.outreach.models import Message
from plixo.promises.models import Promise
from plixo.tenancy import tenant_scope
from tests.factories import make_invoice

DAY = dt.timedelta(days=1)
PAST = (OPEN_PAST, SALES_PAST, CASH_PAST, PAID_PAST)


def _invoice(amount: int) -> Invoice:
    return db.session.query(Invoice).filter(Invoice.amount_minor == amount).one()


def _pay(amount: int, minor: int, day: dt.date) -> None:
    invoice = _invoice(amount)
    with balance_reason(db.session, Reason("collected", "refunded", "stripe", day)):
        invoice.balance_minor -= minor
        if invoice.balance_minor == 0:
            invoice.status, invoice.closed_at = "paid", utcnow()
        db.session.flush()


def _new_invoice(org, today, issued: dt.date) -> None:
    customer = db.session.query(Customer).filter(Customer.name == "Mid Co").one()
    with balance_reason(db.session, Reason("issued", "issued", "manual", issued)):
        make_invoice(org, customer, issue_date=issued, due_date=today + 5 * DAY, amount_minor=12_300,
                     balance_minor=12_300)


def _email(org, sent_at: dt.datetime) -> None:
    customer = db.session.query(Customer).filter(Customer.name == "Big Co").one()
    db.session.add(Message(org_id=org.id, idempotency_key=f"e-{sent_at.isoformat()}", customer_id=customer.id,
                           status="sent", sent_at=sent_at))


def _dispute(org) -> None:
    invoice = _invoice(100_000)
    invoice.status = "disputed"
    db.session.add(Dispute(org_id=org.id, invoice_id=invoice.id, customer_id=invoice.customer_id, reason="pricing",
                           status="investigating", opened_at=utcnow()))


TODAYS = {
    "a part payment today": lambda org, today: _pay(80_000, 10_000, today),
    "an invoice paid in full today": lambda org, today: _pay(50_000, 30_000, today),
    "an invoice issued today": lambda org, today: _new_invoice(org, today, today),
    "an e-mail sent today": lambda org, today: _email(org, utcnow()),
    "a promise": lambda org, today: db.session.add(Promise(
        org_id=org.id, invoice_id=_invoice(80_000).id, customer_id=_invoice(80_000).customer_id, currency="USD",
        amount_minor=4_000, promised_date=today + 9 * DAY, status="pending")),
    "a dispute": lambda org, today: _dispute(org),
    "a risk tier": lambda org, today: setattr(
        db.session.query(Customer).filter(Customer.name == "Mid Co").one(), "risk_tier", "high"),
}
INTO_THE_PAST = {
    "a payment dated last week": lambda org, today: _pay(80_000, 5_000, today - 6 * DAY),
    "an invoice issued last month": lambda org, today: _new_invoice(org, today, today - 35 * DAY),
    "a due date moved": lambda org, today: setattr(_invoice(100_000), "due_date", today - 45 * DAY),
    "an invoice voided": lambda org, today: setattr(_invoice(7_000), "status", "void"),
    "an e-mail sent before the cash": lambda org, today: _email(
        org, dt.datetime.combine(today - 7 * DAY, dt.time(15), dt.UTC)),
}


def _fresh(org, filters: ConsoleFilters, today: dt.date) -> dict:
    """The console's data with nothing remembered."""
    return _compute(reading_for(db.session, org, filters, today, None), filters)


def _same_page(org, today, filters: ConsoleFilters | None = None) -> None:
    filters = filters or ConsoleFilters()
    assert console_data(db.session, org, filters) == _fresh(org, filters, today)


@pytest.mark.parametrize("change", [*TODAYS, *INTO_THE_PAST])
def test_after_every_change_the_page_equals_figures_worked_out_afresh(ledger, change):
    org, controller, today = ledger
    owner_filter = ConsoleFilters(owner_id=controller.id)
    with tenant_scope(org.id):
        _same_page(org, today)
        _same_page(org, today, owner_filter)
        {**TODAYS, **INTO_THE_PAST}[change](org, today)
        db.session.commit()
        _same_page(org, today)
        _same_page(org, today, owner_filter)


@pytest.mark.parametrize("change", list(TODAYS))
def test_a_change_made_today_leaves_the_past_standing(ledger, change):
    org, _controller, today = ledger
    with tenant_scope(org.id):
        before = generations(org.id, PAST)
        TODAYS[change](org, today)
        db.session.commit()
        after = generations(org.id, PAST)
    assert after[0] > before[0]  # the page itself is worked out again
    assert after[1:] == before[1:]


@pytest.mark.parametrize("change", list(INTO_THE_PAST))
def test_a_change_that_reaches_into_the_past_moves_its_part(ledger, change):
    org, _controller, today = ledger
    with tenant_scope(org.id):
        before = generations(org.id, PAST)
        INTO_THE_PAST[change](org, today)
        db.session.commit()
        after = generations(org.id, PAST)
    assert any(b > a for a, b in zip(before[1:], after[1:], strict=True))


def test_a_new_exchange_rate_moves_every_part(ledger):
    org, controller, today = ledger
    with tenant_scope(org.id):
        _same_page(org, today)
        set_rate(db.session, org, controller, "GBP", today - 3 * DAY, Decimal("1.25"))
        db.session.commit()
        _same_page(org, today)
        assert console_data(db.session, org, ConsoleFilters())["figures"]["not_converted"] == {}


@pytest.mark.parametrize("scope", [Scope(), "owner"])
def test_todays_reading_gives_the_same_figures_as_the_tables(ledger, scope):
    org, controller, today = ledger
    scope = Scope(owner_id=controller.id) if scope == "owner" else scope
    with tenant_scope(org.id):
        _pay(80_000, 1_000, today)
        db.session.commit()
        filters = ConsoleFilters(owner_id=scope.owner_id)
        for period in (7, 30, 365):
            reading = reading_for(db.session, org, filters, today, None)
            assert (figures(db.session, org, today, today, period, scope, reading).as_dict()
                    == figures(db.session, org, today, today, period, scope).as_dict())


def _forecast_by_hand(org, today) -> list[int]:
    """Each open invoice on its own: promised amounts on their dates, the rest at due date + its customer's habit."""
    convert, habits, first = converter_on(db.session, org, today), customer_habits(db.session, org, today), \
        week_start(today)
    weeks = [0] * WEEKS
    promised = defaultdict(list)
    for promise in db.session.query(Promise).filter(Promise.status == "pending").order_by(Promise.promised_date):
        promised[promise.invoice_id].append(promise)
    for invoice in db.session.query(Invoice).filter(Invoice.status == "open", Invoice.issue_date <= today):
        balance = invoice.balance_minor
        plan = [(p.promised_date, min(p.amount_minor, balance)) for p in promised[invoice.id]]
        balance -= sum(taken for _day, taken in plan)
        plan.append((invoice.due_date + dt.timedelta(days=habits.days(invoice.customer_id)), balance))
        for day, minor in plan:
            value = convert(minor, invoice.currency)
            if value is not None and week_index(first, day) < WEEKS:
                weeks[week_index(first, day)] += value
    return weeks


def test_the_forecast_takes_each_open_invoice_once_by_promise_or_habit(ledger):
    org, _controller, today = ledger
    with tenant_scope(org.id):
        _pay(80_000, 2_000, today)  # today's change on top of the remembered past
        db.session.commit()
        forecast = cash_forecast(reading_for(db.session, org, ConsoleFilters(), today, None))
        assert [week.total_minor for week in forecast["weeks"]] == _forecast_by_hand(org, today)
        assert forecast["not_converted"] == {"GBP": 7_000}
        assert sum(week.promised_minor for week in forecast["weeks"]) == 12_000  # both pending promises on A


def test_each_forecast_week_lists_the_invoices_that_make_it(ledger):
    org, _controller, today = ledger
    with tenant_scope(org.id):
        reading = reading_for(db.session, org, ConsoleFilters(), today, None)
        convert = converter_on(db.session, org, today)
        for index, week in enumerate(cash_forecast(reading)["weeks"]):
            listed = [convert(e.minor, e.currency) for e in expected_in_week(reading, index)]
            assert sum(value for value in listed if value is not None) == week.total_minor
        assert {e.kind for e in expected_in_week(reading, 0)} >= {"promise"}  # the 3,000 promised in 3 days
