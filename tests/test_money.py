from decimal import Decimal

import pytest

from plixo.money import Money, MoneyError, exponent, format_money


def test_parse_keeps_exact_minor_units():
    assert Money.parse("1234.56", "USD") == Money(123456, "USD")


def test_parse_uses_the_currency_exponent():
    assert Money.parse("5000", "JPY").minor == 5000 and Money.parse("1.234", "KWD").minor == 1234


def test_parse_refuses_more_places_than_the_currency_has():
    with pytest.raises(MoneyError, match="decimal places"):
        Money.parse("10.005", "USD")


def test_parse_refuses_non_numbers():
    with pytest.raises(MoneyError):
        Money.parse("12,50", "EUR")


def test_unknown_currency_is_refused():
    with pytest.raises(MoneyError, match="unknown currency"):
        Money(100, "XYZ")


def test_floats_are_refused():
    with pytest.raises(MoneyError):
        Money(10.5, "USD")  # type: ignore[arg-type]


def test_adding_different_currencies_is_refused():
    with pytest.raises(MoneyError):
        Money(100, "USD") + Money(100, "EUR")


def test_arithmetic_is_exact():
    assert Money.parse("0.10", "USD") + Money.parse("0.20", "USD") == Money.parse("0.30", "USD")


def test_format_groups_thousands_and_signs():
    assert format_money(-123456, "USD") == "-$1,234.56" and format_money(500000, "JPY") == "¥500,000"


def test_format_compact():
    assert format_money(4_800_000, "USD", compact=True) == "$48k"


def test_format_with_the_currency_code_where_several_currencies_stand_together():
    assert format_money(700_000, "GBP", code=True) == "GBP 7,000.00" and format_money(-5, "JPY", code=True) == "-JPY 5"


def test_to_decimal_round_trips():
    assert Money(1999, "EUR").to_decimal() == Decimal("19.99") and exponent("BHD") == 3


def test_huge_amounts_are_refused_not_rounded():
    with pytest.raises(MoneyError):
        Money.parse("12345678901234567890123456789.12", "USD")


def test_amounts_beyond_a_bigint_are_refused():
    with pytest.raises(MoneyError, match="too large"):
        Money(2**63, "USD")


def test_infinity_is_not_an_amount():
    with pytest.raises(MoneyError):
        Money.from_decimal(Decimal("Infinity"), "USD")


@pytest.mark.parametrize(("minor", "text"), [
    (99_995_000, "$1M"), (9_999_999_999, "$100M"), (150_000, "$1.5k"), (5_000, "$50.00"), (250_000_000_000, "$2.5B"),
])
def test_compact_format_picks_the_unit_after_rounding(minor, text):
    assert format_money(minor, "USD", compact=True) == text
