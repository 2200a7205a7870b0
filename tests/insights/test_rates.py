"""The exchange-rate rules without HTTP: reading rates, currencies and dates as typed, a rates CSV, saving and
deleting, the page's grouping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from plixo.actions import ActionError
from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.insights.models import ExchangeRate
from plixo.insights.rates import (
    RatesFileError,
    RatesSaved,
    converter_on,
    delete_rate,
    import_rates,
    parse_currency,
    parse_day,
    parse_rate,
    rate_book,
    rates_from_csv,
    save_rates,
    set_rate,
)

TODAY = dt.date(2025, 6, 30)
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(("typed", "rate"), [
    ("1.0842", Decimal("1.0842")), (" 0.006712 ", Decimal("0.006712")), (".5", Decimal("0.5")),
    ("150", Decimal("150")), ("0.000000000001", Decimal("0.000000000001")),
])
def test_a_plain_decimal_is_a_rate(typed, rate):
    assert parse_rate(typed) == rate


@pytest.mark.parametrize("typed", ["1,08", "-1", "0", "0.000", "1e3", "1E-2", "NaN", "sNaN", "Infinity", "1_000",
                                   "+1.08", "\u0661.\u0662", "1.0000000000001", "1000000000", "", "1.08 EUR"])
def test_anything_else_is_refused_at_the_rate_field(typed):
    with pytest.raises(ActionError) as refused:
        parse_rate(typed)
    assert refused.value.field == "rate"


def test_a_currency_is_an_iso_code_other_than_the_base_one():
    assert parse_currency(" gbp ", "USD") == "GBP"
    for typed in ("USD", "GBX", "", "€"):
        with pytest.raises(ActionError):
            parse_currency(typed, "USD")


@pytest.mark.parametrize("typed", ["20250102", "2025-W01-1", "2025-1-2", "\u0662025-01-02", "2027-01-01",
                                   "1989-12-31"])
def test_a_day_is_written_yyyy_mm_dd_within_range(typed):
    with pytest.raises(ActionError):
        parse_day(typed, TODAY)


def test_a_csv_s_line_numbers_count_physical_lines():
    raw = b'currency,date,rate\n\nEUR,2025-01-02,"1.08"\nGBP,2025-01-02,"x\ny"\nJPY,2025-01-02,bad\n'
    with pytest.raises(RatesFileError) as refused:
        rates_from_csv(raw, "USD", TODAY)
    assert [problem.split(":")[0] for problem in refused.value.problems] == ["Line 5", "Line 6"]


def test_a_csv_with_many_bad_lines_names_the_first_twenty_and_counts_the_rest():
    raw = ("currency,date,rate\n" + "XXX,2025-01-02,1\n" * 25).encode()
    with pytest.raises(RatesFileError) as refused:
        rates_from_csv(raw, "USD", TODAY)
    assert len(refused.value.problems) == 20 and refused.value.more == 5
    assert refused.value.message == "Nothing was imported: 25 lines need fixing."


def test_saving_reports_what_was_added_replaced_and_already_there(scoped, controller):
    set_rate(db.session, scoped, controller, "EUR", TODAY, Decimal("1.05"))
    set_rate(db.session, scoped, controller, "GBP", TODAY, Decimal("1.27"))
    saved = import_rates(db.session, scoped, controller, [("EUR", TODAY, Decimal("1.08")),
                                                          ("GBP", TODAY, Decimal("1.2700")),
                                                          ("JPY", TODAY, Decimal("0.0067"))])
    assert saved == RatesSaved(added=1, replaced=1, unchanged=1)


def test_a_rate_is_stored_as_plain_decimal_text(scoped, controller):
    assert set_rate(db.session, scoped, controller, "VND", TODAY, Decimal("0.0000393")).rate == "0.0000393"


def test_a_rate_entered_again_after_the_base_currency_changed_converts_into_the_new_one(scoped, controller):
    set_rate(db.session, scoped, controller, "GBP", TODAY, Decimal("1.27"))
    scoped.base_currency = "EUR"
    assert converter_on(db.session, scoped, TODAY).rates == {}
    save_rates(db.session, scoped, controller, [("GBP", TODAY, Decimal("1.27"))])
    assert converter_on(db.session, scoped, TODAY).rates == {"GBP": Decimal("1.27")}


def test_deleting_lets_the_rate_before_apply_again(scoped, controller):
    set_rate(db.session, scoped, controller, "EUR", TODAY - 30 * DAY, Decimal("1.05"))
    latest = set_rate(db.session, scoped, controller, "EUR", TODAY - DAY, Decimal("1.08"))
    delete_rate(db.session, scoped, controller, latest)
    assert converter_on(db.session, scoped, TODAY).rates == {"EUR": Decimal("1.05")}
    assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == latest.id)).all()[-1] == (
        "insights.rate_deleted")
    assert db.session.scalar(select(ExchangeRate).where(ExchangeRate.day == TODAY - DAY)) is None


def test_the_book_lists_currencies_in_use_first_and_marks_today_s_rate(scoped, controller):
    set_rate(db.session, scoped, controller, "GBP", TODAY - 5 * DAY, Decimal("1.27"))
    set_rate(db.session, scoped, controller, "GBP", TODAY + 5 * DAY, Decimal("1.28"))
    set_rate(db.session, scoped, controller, "GBP", TODAY - 50 * DAY, Decimal("1.25"))
    db.session.add(ExchangeRate(org_id=scoped.id, currency="AUD", day=TODAY, rate="0.66", base_currency="EUR"))
    db.session.flush()
    book = rate_book(db.session, scoped, TODAY)
    assert [group.currency for group in book] == ["GBP", "AUD"]
    gbp, aud = book
    assert [line.day for line in gbp.lines] == [TODAY + 5 * DAY, TODAY - 5 * DAY, TODAY - 50 * DAY]
    assert [line.applies_today for line in gbp.lines] == [False, True, False] and gbp.today.rate == "1.27"
    assert aud.today is None and not aud.in_use and not aud.lines[0].in_use
