"""Every console figure against a small ledger worked out by hand: three currencies (one without a rate), a
payment, a past day read from the recorded changes, promises, a partial dispute and an e-mail before the cash."""

from __future__ import annotations

import datetime as dt

import pytest

from plixo.extensions import db
from plixo.insights.figures import Scope, figures, open_ar
from plixo.insights.rates import converter_on
from plixo.outreach.segments import SegmentRules
from plixo.tenancy import tenant_scope

DAY = dt.timedelta(days=1)


def test_open_ar_aging_and_currencies_without_a_rate(ledger):
    org, _controller, today = ledger
    with tenant_scope(org.id):
        result = figures(db.session, org, today, today)
    assert result.open_ar_minor == 100_000 + 80_000 + 30_000 + 11_000  # 10,000 EUR cents at 1.10
    assert result.current_ar_minor == 111_000
    assert result.aging_minor == {"current": 111_000, "1-30": 80_000, "31-60": 30_000, "61-90": 0, "90+": 0}
    assert result.not_converted["open_ar"] == {"GBP": 7_000}
    assert result.open_ar_by_currency == {"EUR": 10_000, "GBP": 7_000, "USD": 210_000}


def test_dso_figures(ledger):
    org, _controller, today = ledger
    with tenant_scope(org.id):
        result = figures(db.session, org, today, today)
    assert result.sales_by_period_minor[:5] == [111_000, 80_000, 50_000, 40_000, 0]
    assert result.dso_countback_days == pytest.approx(78.0)  # 30 + 30 + 30 × 30k / 50k
    assert result.dso_standard_days == pytest.approx(221_000 / 241_000 * 90)
    assert result.bpdso_days == pytest.approx(111_000 / 241_000 * 90)
    assert result.add_days == pytest.approx(110_000 / 241_000 * 90)


def test_cash_cei_and_cash_after_an_email(ledger):
    org, _controller, today = ledger
    with tenant_scope(org.id):
        result = figures(db.session, org, today, today)
    assert result.cash_collected_minor == 20_000  # the earlier payment is outside the 30 days
    assert (result.cash_after_email_minor, result.cash_after_email_percent) == (20_000, 100.0)
    # A/R 30 days ago: B 80k + C 50k (F was paid before); billed since A 100k + D 11k; 221k open, 111k current.
    assert result.cei_start_from == "ledger"
    assert result.cei_percent == pytest.approx((130_000 + 111_000 - 221_000) / (130_000 + 111_000 - 111_000) * 100)


def test_a_past_day_is_read_from_the_recorded_changes(ledger):
    org, _controller, today = ledger
    with tenant_scope(org.id):
        # Then B was not yet due and C ten days late; 60 days ago C was not yet due and F (paid since) was late.
        assert open_ar(db.session, today - 30 * DAY, today) == {
            "USD": {"current": 80_000, "1-30": 50_000, "31-60": 0, "61-90": 0, "90+": 0}}
        assert open_ar(db.session, today - 60 * DAY, today) == {
            "USD": {"current": 50_000, "1-30": 40_000, "31-60": 0, "61-90": 0, "90+": 0}}
        past = figures(db.session, org, today - 30 * DAY, today)
    assert past.open_ar_minor == 130_000 and past.cash_collected_minor == 40_000  # F, paid 50 days ago


def test_promises_disputes_and_exposure(ledger):
    org, _controller, today = ledger
    with tenant_scope(org.id):
        result = figures(db.session, org, today, today)
    promises = result.promises
    assert (promises["kept"], promises["broken"], promises["kept_rate_count"]) == (1, 1, 0.5)
    assert promises["kept_rate_amount"] == pytest.approx(10_000 / 15_000 * 100)
    assert promises["at_risk_minor"] == 5_000 + 3_000
    assert result.disputed_minor == 20_000
    exposure = result.exposure
    assert [(entry["name"], entry["minor"]) for entry in exposure["top"]] == [
        ("Big Co", 180_000), ("Mid Co", 30_000), ("Euro SA", 11_000)]
    assert exposure["high_risk_percent"] == pytest.approx(180_000 / 221_000 * 100)


def test_the_rate_of_the_day_is_used(ledger):
    org, _controller, today = ledger
    with tenant_scope(org.id):
        assert converter_on(db.session, org, today - 31 * DAY)(10_000, "EUR") == 10_500
        assert converter_on(db.session, org, today)(10_000, "EUR") == 11_000
        assert converter_on(db.session, org, today - 500 * DAY)(10_000, "EUR") is None


def test_an_owner_or_segment_narrows_every_figure(ledger):
    org, controller, today = ledger
    with tenant_scope(org.id):
        own = figures(db.session, org, today, today, scope=Scope(owner_id=controller.id))
        risky = figures(db.session, org, today, today, scope=Scope(segment=SegmentRules(risk_tiers=("high",))))
    assert own.open_ar_minor == risky.open_ar_minor == 180_000
    assert own.cash_collected_minor == 0 and own.disputed_minor == 20_000
