"""Amounts people type into forms: either decimal style, never a guess that could be off by a thousand."""

import pytest

from plixo.params import parse_amount_input


@pytest.mark.parametrize(("typed", "currency", "minor"), [
    ("1250", "USD", 125_000),
    ("1250.5", "USD", 125_050),
    ("1,250.50", "USD", 125_050),
    ("$1,250.00", "USD", 125_000),
    ("1,000,000", "USD", 100_000_000),
    ("1,250", "USD", 125_000),
    ("5,000", "EUR", 500_000),
    ("1,5", "EUR", 150),
    ("12,50", "EUR", 1_250),
    ("1.250,00", "EUR", 125_000),
    ("1 250,50", "EUR", 125_050),
    ("2.000.000", "EUR", 200_000_000),
    ("€ 12,5", "EUR", 1_250),
    ("5000", "JPY", 5_000),
])
def test_amounts_in_either_decimal_style_are_read_exactly(typed, currency, minor):
    assert parse_amount_input(typed, currency) == minor


@pytest.mark.parametrize(("typed", "currency"), [
    ("1.250", "EUR"),  # a thousand and a quarter, or one and a quarter: refused, not guessed
    ("1.250", "USD"),
    ("1,250", "KWD"),  # three decimal places: either mark could be the decimal one
    ("12", "XYZ"),
    ("1.5", "JPY"),  # yen have no decimal places
    ("abc", "USD"),
    ("", "USD"),
    ("1.2.3,4,5", "USD"),
])
def test_what_is_not_clearly_one_amount_is_refused(typed, currency):
    assert parse_amount_input(typed, currency) is None

