"""The console's formulas against figures worked out by hand."""

from __future__ import annotations

import pytest

from plixo.insights import formulas


def test_countback_walks_back_whole_periods_then_a_share_of_the_last():
    # The specification's example: 212k against periods of 100k, 80k and 70k is 30 + 30 + 32/70 × 30.
    result = formulas.countback_dso(212_000, [100_000, 80_000, 70_000, 90_000])
    assert result.days == pytest.approx(73.714, abs=0.001) and not result.over_cap


def test_countback_across_uneven_months_stops_exactly_at_a_period_boundary():
    assert formulas.countback_dso(180_000, [100_000, 80_000, 5]).days == 60.0


def test_countback_counts_a_period_without_sales_as_thirty_days():
    assert formulas.countback_dso(50_000, [0, 100_000]).days == pytest.approx(30 + 15)


def test_countback_with_a_remainder_older_than_twelve_periods_is_capped_and_flagged():
    result = formulas.countback_dso(10_000_000, [100_000] * 12)
    assert (result.days, result.over_cap) == (360.0, True)


def test_countback_of_no_or_negative_open_ar_is_zero_days():
    assert formulas.countback_dso(0, [0] * 12).days == 0.0
    assert formulas.countback_dso(-5_000, [100_000] * 12).days == 0.0  # over-payments exceed what is owed


def test_standard_and_best_possible_dso_and_add():
    standard = formulas.standard_dso(300_000, 450_000)  # 300k / 450k × 90
    best = formulas.best_possible_dso(120_000, 450_000)
    assert (standard, best) == (60.0, 24.0)
    assert formulas.average_days_delinquent(standard, best) == 36.0


def test_dso_with_zero_sales_is_not_a_number_of_days():
    assert formulas.standard_dso(300_000, 0) is None and formulas.best_possible_dso(0, 0) is None
    assert formulas.average_days_delinquent(None, None) is None


def test_cei_is_what_was_collected_over_what_could_have_been():
    # Start 200k, billed 100k, 150k still open of which 50k not yet due: collected 150k of a possible 250k.
    assert formulas.collection_effectiveness(200_000, 100_000, 150_000, 50_000) == 60.0
    assert formulas.collection_effectiveness(0, 0, 0, 0) is None
