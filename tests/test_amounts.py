from decimal import Decimal

import pytest

from plixo.amounts import AmountError, NumberStyle, detect_number_style, parse_amount
from plixo.money import MAX_MINOR, Money
from plixo.values import Fix

POINT = NumberStyle(decimal_comma=False)
COMMA = NumberStyle(decimal_comma=True)


def _issue(call, *args) -> AmountError:
    with pytest.raises(AmountError) as caught:
        call(*args)
    return caught.value


# --- Number style ----------------------------------------------------------------------------------


@pytest.mark.parametrize("samples", [
    ["1.234,56", "12,50"],
    ["1 234,56", "99,00"],
    ["1.234.567"],
    ["€ 12,50", "1.234,50 €"],
    ["1,234", "12,50", "1.234,56", "3.50"],
])
def test_decimal_comma_samples_give_a_decimal_comma_style(samples):
    assert detect_number_style(samples) == NumberStyle(decimal_comma=True)


@pytest.mark.parametrize("samples", [
    ["1,234.56", "12.50"],
    ["1,234,567"],
    ["$0.5"],
    ["1,234", "5,000", "12.50"],
])
def test_decimal_point_samples_give_a_decimal_point_style(samples):
    assert detect_number_style(samples) == NumberStyle(decimal_comma=False)


@pytest.mark.parametrize("samples", [["1,234", "5,000"], ["1.234"], [], ["abc", "", "1234"]])
def test_ambiguous_samples_default_to_a_decimal_point(samples):
    assert detect_number_style(samples) == NumberStyle(decimal_comma=False)


def test_number_style_accepts_any_iterable():
    assert detect_number_style(value for value in ["1.234,56"]).decimal_comma


# --- Amounts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "minor"), [
    ("1234.50", 123450), ("0", 0), ("-12.00", -1200), ("12.5", 1250), ("12.500", 1250), ("007", 700), ("-0.00", 0),
])
def test_a_plain_amount_needs_no_fix(raw, minor):
    assert parse_amount(raw, "USD", POINT) == (minor, None)


@pytest.mark.parametrize(("raw", "minor", "fixed"), [
    ("$1,234.50", 123450, "1234.50"),
    ("USD 1,234.50", 123450, "1234.50"),
    ("1234.50 usd", 123450, "1234.50"),
    ("1,234.50USD", 123450, "1234.50"),
    ("US$1,234.50", 123450, "1234.50"),
    ("$ 5", 500, "5.00"),
    ("1,234,567.89", 123456789, "1234567.89"),
    ("1 234 567.89", 123456789, "1234567.89"),
    ("1\u00a0234.56", 123456, "1234.56"),
    ("1\u202f234.56", 123456, "1234.56"),
    ("1'234.50", 123450, "1234.50"),
    ("1’234.50", 123450, "1234.50"),
    ("12,34,567.50", 1234567_50, "1234567.50"),
    (" 12.50 ", 1250, "12.50"),
    ("+12.00", 1200, "12.00"),
    (".50", 50, "0.50"),
    ("12.", 1200, "12.00"),
    ("'1234.50", 123450, "1234.50"),
    ("1,234", 123400, "1234.00"),
])
def test_a_formatted_amount_is_read_and_the_reformatting_reported(raw, minor, fixed):
    assert parse_amount(raw, "USD", POINT) == (minor, Fix("amount_reformatted", raw, fixed))


@pytest.mark.parametrize("raw", [
    "-12.00", "(12.00)", "12.00-", "−12.00", "–12.00", "- 12.00", "-$12.00", "$-12.00", "($12.00)", "$(12.00)",
    "$ (12.00)", "(12.00 USD)", "12.00 USD-", "USD -12.00",
])
def test_negative_amounts_in_every_notation(raw):
    assert parse_amount(raw, "USD", POINT)[0] == -1200


def test_a_negative_amount_reformats_to_a_leading_minus():
    assert parse_amount("(1,234.50)", "USD", POINT) == (-123450, Fix("amount_reformatted", "(1,234.50)", "-1234.50"))


@pytest.mark.parametrize(("raw", "minor"), [
    ("1.234,56", 123456), ("1234,56", 123456), ("12,50", 1250), ("1 234,56", 123456), ("1\u00a0234,56", 123456),
    ("1.234", 123400), ("1.234.567", 123456700), ("1.234,50 €", 123450), ("€ 1.234,50", 123450),
    ("-1.234,50", -123450), ("(1.234,50)", -123450), ("1.234,50-", -123450), ("1234.50", 123450),
])
def test_decimal_comma_amounts(raw, minor):
    assert parse_amount(raw, "EUR", COMMA)[0] == minor


def test_a_decimal_comma_amount_reports_its_canonical_form():
    assert parse_amount("1.234,5", "EUR", COMMA) == (123450, Fix("amount_reformatted", "1.234,5", "1234.50"))


@pytest.mark.parametrize(("style", "minor"), [(POINT, 1234000), (COMMA, 1234)])
def test_the_file_style_settles_a_three_decimal_amount(style, minor):
    # "1,234" is 1234 dinars with a decimal point and 1.234 dinars with a decimal comma.
    assert parse_amount("1,234", "KWD", style)[0] == minor


@pytest.mark.parametrize(("raw", "currency", "minor", "fix"), [
    ("5000", "JPY", 5000, None),
    ("5000.00", "JPY", 5000, None),
    ("¥5,000", "JPY", 5000, "5000"),
    ("JPY 1,234,567", "JPY", 1234567, "1234567"),
    ("1.234", "KWD", 1234, None),
    ("12.5", "KWD", 12500, None),
    ("KWD 1,234.5", "KWD", 1234500, "1234.500"),
    ("BHD 0.5", "BHD", 500, "0.500"),
])
def test_currency_exponents_are_respected(raw, currency, minor, fix):
    assert parse_amount(raw, currency, POINT) == (minor, fix and Fix("amount_reformatted", raw, fix))


@pytest.mark.parametrize(("raw", "currency", "suggestion"), [
    ("12.345", "USD", "round it to 2 decimal places, e.g. 12.35"),
    ("5000.5", "JPY", "round it to a whole number, e.g. 5001"),
    ("¥5,000.50", "JPY", "round it to a whole number, e.g. 5001"),
    ("1.2345", "KWD", "round it to 3 decimal places, e.g. 1.235"),
    ("0.001", "EUR", "round it to 2 decimal places, e.g. 0.00"),
])
def test_too_many_decimal_places_is_an_issue(raw, currency, suggestion):
    issue = _issue(parse_amount, raw, currency, POINT)
    assert (issue.code, issue.suggestion) == ("too_many_decimals", suggestion)


@pytest.mark.parametrize("raw", [
    "abc", "12abc", "", "   ", "1.2.3", "12%", "NaN", "nan", "Infinity", "inf", "-inf", "0x1A", "١٢٣", "12 34",
    "1,23,4", "1,234,56", "12.34.5,6", "1.234.5", "1,2 3", "--12", "-(12.00)", "(-12.00)", "-12.00-", "+-12",
    "(12.00", "12.00)", "$12.00 USD", "12-00", "1/2",
])
def test_non_numbers_are_invalid_amounts(raw):
    assert _issue(parse_amount, raw, "USD", POINT).code == "invalid_amount"


@pytest.mark.parametrize("raw", ["=1+2", "=cmd|' /C calc'!A0", "=SUM(A1:A3)", "@SUM(A1:A3)", "+1+2", "-2+3", "=-5"])
def test_formulas_are_invalid_amounts_and_never_evaluated(raw):
    assert _issue(parse_amount, raw, "USD", POINT).code == "invalid_amount"


def test_a_formula_is_named_as_one():
    assert "formula" in _issue(parse_amount, "=cmd|' /C calc'!A0", "USD", POINT).message


@pytest.mark.parametrize(("raw", "in_message"), [
    ("1.2E+3", "scientific notation"), ("1,23457E+11", "scientific notation"), ("#N/A", "spreadsheet error"),
    ("#VALUE!", "spreadsheet error"), ("", "empty"), ("12%", '"%"'),
])
def test_spreadsheet_artefacts_get_specific_messages(raw, in_message):
    assert in_message in _issue(parse_amount, raw, "USD", POINT).message


@pytest.mark.parametrize(("raw", "currency"), [
    ("€12.00", "USD"), ("12.00 EUR", "USD"), ("$12.00", "EUR"), ("£5", "USD"), ("USD 5", "CAD"),
])
def test_a_currency_mark_that_contradicts_the_row_currency_is_an_issue(raw, currency):
    assert _issue(parse_amount, raw, currency, POINT).code == "currency_mismatch"


@pytest.mark.parametrize(("raw", "currency"), [
    ("$12.00", "CAD"), ("$12.00", "AUD"), ("¥500", "CNY"), ("C$12.00", "CAD"), ("12.00 cad", "CAD"), ("€12", "EUR"),
])
def test_a_currency_mark_that_fits_the_row_currency_is_accepted(raw, currency):
    assert parse_amount(raw, currency, POINT)[0] in (1200, 500, 50000)


def test_an_unknown_row_currency_is_an_issue():
    assert _issue(parse_amount, "12.00", "XYZ", POINT).code == "unknown_currency"


@pytest.mark.parametrize("raw", [
    "92233720368547758.08", "-92233720368547758.08", "99999999999999999999", "1" + "0" * 5000, "$" + "9" * 30,
])
def test_amounts_beyond_the_storable_range_are_too_large(raw):
    assert _issue(parse_amount, raw, "USD", POINT).code == "amount_too_large"


def test_the_largest_storable_amount_is_accepted():
    assert parse_amount("92233720368547758.07", "USD", POINT) == (MAX_MINOR, None)


@pytest.mark.parametrize(("raw", "minor"), [
    ("0.1", 10), ("0.2", 20), ("0.3", 30), ("1.005", 1005), ("12345678901234567.89", 1234567890123456789),
    ("9007199254740993", 900719925474099300), ("0.07", 7), ("4.35", 435),
])
def test_amounts_are_exact_where_a_float_would_not_be(raw, minor):
    places = 3 if raw == "1.005" else 2
    value, _fix = parse_amount(raw, "KWD" if places == 3 else "USD", POINT)
    assert value == minor and type(value) is int


def test_tenths_add_up_exactly():
    assert parse_amount("0.1", "USD", POINT)[0] + parse_amount("0.2", "USD", POINT)[0] == parse_amount(
        "0.3", "USD", POINT
    )[0]


@pytest.mark.parametrize("raw", ["0", "1", "-1", "0.01", "1234.5", "1234.56", "-99999.99", "12.500", "1.000"])
@pytest.mark.parametrize("currency", ["USD", "EUR", "JPY", "KWD", "BHD"])
def test_parse_amount_agrees_with_money_from_decimal(raw, currency):
    try:
        expected = Money.from_decimal(Decimal(raw), currency).minor
    except ValueError:
        assert _issue(parse_amount, raw, currency, POINT).code == "too_many_decimals"
    else:
        assert parse_amount(raw, currency, POINT)[0] == expected
