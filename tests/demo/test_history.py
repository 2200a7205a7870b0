"""The demo's 18 months of history, as the CFO console reads it: cash every month, from Stripe and from imports,
snapshots at every month-end, plausible figures, and balance changes that add up to every open balance.

The workspace is seeded once for the module (seeding back-fills snapshots, which takes seconds); each test reads
the facts gathered from it."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import pytest
from sqlalchemy import func, select

from plixo.accounts.models import Organization
from plixo.demo.draws import HISTORY_MONTHS, history_start
from plixo.demo.reminders import QUIET_DAYS
from plixo.demo.seed import seed_demo
from plixo.extensions import db
from plixo.insights.figures import cash_collected, figures
from plixo.insights.models import DailySnapshot, ExchangeRate
from plixo.ledger.aging import local_today
from plixo.ledger.balances import unbalanced_invoices
from plixo.ledger.models import BalanceChange, Invoice, Payment, PaymentApplication
from plixo.outreach.models import Message
from plixo.promises.models import Promise
from plixo.tenancy import tenant_scope, unscoped
from tests.conftest import _truncate_all

TODAY = dt.date(2026, 11, 20)
DAY = dt.timedelta(days=1)


def _month_ends(today: dt.date) -> list[dt.date]:
    """The last day of each whole month of the history."""
    ends, month = [], history_start(today)
    while (end := (month + dt.timedelta(days=32)).replace(day=1) - DAY) < today:
        ends.append(end)
        month = end + DAY
    return ends


@pytest.fixture(scope="module")
def history(app):
    with app.app_context(), unscoped():
        result = seed_demo(db.session, invoices=600, seed=3, today=TODAY)
        db.session.commit()
        with tenant_scope(result.org_id):
            facts = _facts(db.session.get(Organization, result.org_id))
        db.session.remove()
        _truncate_all()
    return facts


def _facts(org: Organization) -> dict:
    session = db.session
    month_ends = _month_ends(TODAY)
    zone = org.time_zone
    return {
        "month_ends": month_ends,
        "monthly_cash": [sum(cash_collected(session, end.replace(day=1) - DAY, end).values()) for end in month_ends],
        "snapshot_days": set(session.scalars(select(DailySnapshot.day))),
        "month_end_kpis": [snapshot.metrics["kpis"] for snapshot in session.scalars(
            select(DailySnapshot).where(DailySnapshot.day.in_(month_ends)).order_by(DailySnapshot.day))],
        "today": figures(session, org, TODAY, TODAY),
        "unbalanced": unbalanced_invoices(session, org.id),
        "cash_by_source": dict(session.execute(
            select(BalanceChange.source, func.count()).where(BalanceChange.kind == "collected")
            .group_by(BalanceChange.source)).all()),
        "stripe_days": _cash_days(session, zone, "stripe"),
        "erp_days": _cash_days(session, zone, "erp"),
        "stripe_changes": _change_days(session, "stripe"),
        "import_changes": _change_days(session, "import"),
        "kinds": Counter(session.scalars(select(BalanceChange.kind))),
        "statuses": Counter(session.scalars(select(Invoice.status))),
        "kept_promises": session.execute(select(Promise.invoice_id, Promise.promised_date)
                                         .where(Promise.status == "kept")).all(),
        "applications": _application_days(session, zone),
        "promise_months": Counter(_month(day) for day in session.scalars(
            select(Promise.promised_date).where(Promise.status.in_(("kept", "broken"))))),
        "sent_at": [at.astimezone(dt.UTC) if at.tzinfo else at.replace(tzinfo=dt.UTC)
                    for at in session.scalars(select(Message.sent_at).where(Message.status == "sent"))],
        "rates": set(session.execute(select(ExchangeRate.currency, ExchangeRate.day)).all()),
        "billed_by_month": Counter(_month(day) for day in session.scalars(select(Invoice.issue_date))),
        "lateness_by_customer": _lateness_by_customer(session),
    }


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _cash_days(session, zone: str, provider: str) -> dict[dt.date, int]:
    """What payments of `provider` applied to invoices, per local day they were received."""
    totals: dict[dt.date, int] = defaultdict(int)
    for received_at, applied in session.execute(
            select(Payment.received_at, PaymentApplication.amount_minor).join(PaymentApplication)
            .where(Payment.provider == provider)):
        totals[local_today(zone, _aware(received_at))] += applied
    return dict(totals)


def _change_days(session, source: str) -> dict[dt.date, int]:
    return {day: -total for day, total in session.execute(
        select(BalanceChange.day, func.sum(BalanceChange.amount_minor))
        .where(BalanceChange.kind == "collected", BalanceChange.source == source).group_by(BalanceChange.day))}


def _application_days(session, zone: str) -> set[tuple[int, dt.date]]:
    return {(invoice_id, local_today(zone, _aware(received_at))) for invoice_id, received_at in session.execute(
        select(PaymentApplication.invoice_id, Payment.received_at).join(Payment))}


def _lateness_by_customer(session) -> dict[int, float]:
    """Each customer's average days from due date to payment (of invoices it paid in one go)."""
    days: dict[int, list[int]] = defaultdict(list)
    for customer_id, due, closed_at in session.execute(
            select(Invoice.customer_id, Invoice.due_date, Invoice.closed_at).where(Invoice.status == "paid")):
        days[customer_id].append((_aware(closed_at).date() - due).days)
    return {customer: sum(values) / len(values) for customer, values in days.items() if len(values) >= 3}


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC


def test_every_invoice_s_changes_add_up_to_its_open_balance(history):
    assert history["unbalanced"] == []


def test_cash_comes_in_every_month_of_the_18(history):
    assert len(history["monthly_cash"]) == HISTORY_MONTHS and all(cash > 0 for cash in history["monthly_cash"])


def test_a_snapshot_at_every_month_end_and_every_recent_day(history):
    recent = {TODAY - DAY * n for n in range(1, 31)}
    assert set(history["month_ends"]) | recent | {TODAY} <= history["snapshot_days"]


def test_month_end_snapshots_carry_dso_cei_and_promise_kept_rate(history):
    kpis = history["month_end_kpis"]
    assert len(kpis) == HISTORY_MONTHS
    assert all(k["dso_countback_days"] is not None and k["cei_percent"] is not None
               and k["promise_kept_rate"] is not None for k in kpis)


def test_today_s_figures_are_plausible(history):
    today = history["today"]
    assert 20 < today.dso_countback_days < 120 and not today.dso_countback_over_360
    assert 30 < today.cei_percent <= 100
    assert 0.3 < today.promises["kept_rate_count"] < 1
    assert 10 < today.cash_after_email_percent < 95


def test_cash_comes_through_stripe_and_through_imports(history):
    assert history["cash_by_source"].get("stripe", 0) > 0 and history["cash_by_source"].get("import", 0) > 0


def test_stripe_cash_is_counted_on_the_local_day_stripe_took_it(history):
    assert history["stripe_changes"] == history["stripe_days"]


def test_imported_cash_is_counted_on_the_day_the_bank_received_it(history):
    assert history["import_changes"] == history["erp_days"]


def test_credit_notes_and_write_offs_are_not_cash(history):
    kinds, statuses = history["kinds"], history["statuses"]
    assert kinds["credited"] > 0 and kinds["written_off"] == statuses["written_off"] > 0


def test_a_kept_promise_is_followed_by_its_payment_on_the_promised_day(history):
    kept = history["kept_promises"]
    assert kept and all((invoice_id, day) in history["applications"] for invoice_id, day in kept)


def test_promises_are_kept_and_broken_in_every_quarter_of_the_history(history):
    def quarter(month: dt.date) -> tuple[int, int]:
        return month.year, (month.month - 1) // 3

    quarters = {quarter(_month(end)) for end in history["month_ends"]}
    assert quarters <= {quarter(month) for month in history["promise_months"]}


def test_plixo_e_mails_went_over_the_history_but_none_in_the_last_two_weeks(history):
    local_days = sorted(local_today("America/New_York", at) for at in history["sent_at"])
    assert local_days[0] < history_start(TODAY) + dt.timedelta(days=31)
    assert local_days[-1] <= TODAY - dt.timedelta(days=QUIET_DAYS)


def test_foreign_currencies_have_monthly_rates_but_canadian_dollars_stay_apart(history):
    rates = history["rates"]
    months = [_month(end) for end in history["month_ends"]]
    assert all(("EUR", month) in rates and ("GBP", month) in rates for month in months)
    assert not any(currency == "CAD" for currency, _day in rates)
    assert set(history["today"].not_converted.get("open_ar", {})) <= {"CAD"}


def test_billing_peaks_in_the_fourth_quarter_dips_in_summer_and_grows(history):
    billed = history["billed_by_month"]
    year = TODAY.year - 1
    q4 = sum(billed[dt.date(year, month, 1)] for month in (10, 11, 12)) / 3
    summer = sum(billed[dt.date(year, month, 1)] for month in (7, 8)) / 2
    last_year = sum(n for month, n in billed.items() if month >= dt.date(TODAY.year - 1, TODAY.month, 1))
    year_before = sum(n for month, n in billed.items()
                      if dt.date(TODAY.year - 2, TODAY.month, 1) <= month < dt.date(TODAY.year - 1, TODAY.month, 1))
    assert q4 > summer and last_year > year_before


def test_customers_pay_by_their_own_habits_from_early_to_90_days_late(history):
    lateness = history["lateness_by_customer"].values()
    assert min(lateness) < 0 and max(lateness) > 60
