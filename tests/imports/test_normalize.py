import datetime as dt
import pickle

import pytest
from email_validator import EmailNotValidError, validate_email

from plixo.imports.normalize import (
    DATE_FORMATS,
    DateColumnGuess,
    FieldIssue,
    describe_date_format,
    detect_date_format,
    normalize_currency,
    normalize_email,
    parse_date,
)
from plixo.values import Fix

JAN_31 = dt.date(2026, 1, 31)


def _issue(call, *args) -> FieldIssue:
    with pytest.raises(FieldIssue) as caught:
        call(*args)
    return caught.value


# --- FieldIssue ----------------------------------------------------------------------------------


def test_field_issue_carries_code_message_and_suggestion():
    issue = FieldIssue("invalid_amount", "not an amount", "use 12.50")
    assert (issue.code, issue.message, issue.suggestion, str(issue)) == (
        "invalid_amount", "not an amount", "use 12.50", "not an amount",
    )


def test_field_issue_is_a_value_error_with_an_empty_default_suggestion():
    issue = FieldIssue("invalid_date", "bad")
    assert isinstance(issue, ValueError) and issue.suggestion == ""


def test_field_issue_survives_pickling_for_background_jobs():
    copy = pickle.loads(pickle.dumps(FieldIssue("invalid_email", "no @ sign", "add one")))  # noqa: S301 - our own bytes
    assert (copy.code, copy.message, copy.suggestion) == ("invalid_email", "no @ sign", "add one")


# --- Currency --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["USD", "EUR", "JPY", "KWD", "CHF"])
def test_a_valid_iso_code_needs_no_fix(code):
    assert normalize_currency(code, "USD") == (code, None)


@pytest.mark.parametrize(("raw", "code"), [("usd", "USD"), ("Eur", "EUR"), (" gbp ", "GBP"), ("USD ", "USD")])
def test_an_iso_code_in_any_case_or_padding_is_normalised(raw, code):
    assert normalize_currency(raw, "EUR") == (code, Fix("currency_normalised", raw, code))


@pytest.mark.parametrize(("raw", "code"), [
    ("US$", "USD"), ("USD$", "USD"), ("us$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY"), ("JP¥", "JPY"),
    ("C$", "CAD"), ("CA$", "CAD"), ("CAD$", "CAD"), ("A$", "AUD"), ("AU$", "AUD"), ("NZ$", "NZD"), ("S$", "SGD"),
    ("HK$", "HKD"), ("R$", "BRL"), ("₹", "INR"), ("CHF", "CHF"), ("Fr.", "CHF"), ("MX$", "MXN"), ("RMB", "CNY"),
    (" € ", "EUR"), ("US $", "USD"),
])
def test_currency_symbols_map_to_their_code(raw, code):
    assert normalize_currency(raw, "GBP" if code != "GBP" else "EUR") == (
        code, None if raw == code else Fix("currency_normalised", raw, code),
    )


@pytest.mark.parametrize("workspace", ["USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"])
def test_a_bare_dollar_sign_means_a_dollar_workspace_currency(workspace):
    assert normalize_currency("$", workspace) == (workspace, Fix("currency_normalised", "$", workspace))


@pytest.mark.parametrize("workspace", ["EUR", "GBP", "JPY", "CHF"])
def test_a_bare_dollar_sign_is_ambiguous_outside_dollar_workspaces(workspace):
    issue = _issue(normalize_currency, "$", workspace)
    assert issue.code == "ambiguous_currency" and "USD" in issue.suggestion


def test_the_yen_sign_is_yuan_in_a_yuan_workspace():
    assert normalize_currency("¥", "CNY")[0] == "CNY"


@pytest.mark.parametrize(("workspace", "expected"), [("SEK", "SEK"), ("NOK", "NOK"), ("USD", None)])
def test_kronor_sign_is_only_read_in_a_krona_workspace(workspace, expected):
    if expected:
        assert normalize_currency("kr", workspace)[0] == expected
    else:
        assert _issue(normalize_currency, "kr", workspace).code == "ambiguous_currency"


@pytest.mark.parametrize("raw", ["", "   ", "\t"])
def test_a_blank_currency_defaults_to_the_workspace_currency(raw):
    assert normalize_currency(raw, "EUR") == ("EUR", Fix("blank_currency_defaulted", raw, "EUR"))


@pytest.mark.parametrize("raw", ["XYZ", "dollars?", "12", "US", "EURO", "HRK", "Fr"])
def test_an_unknown_currency_is_an_issue(raw):
    issue = _issue(normalize_currency, raw, "USD")
    assert issue.code == "unknown_currency" and raw in issue.message and issue.suggestion


@pytest.mark.parametrize(("raw", "hint"), [
    ("UDS", "did you mean USD?"), ("EUE", "did you mean EUR?"), ("GPB", "did you mean GBP?"),
    ("EURO", "use EUR"), ("HRK", "use EUR"), ("dollars?", "USD, CAD or AUD"),
    ("XYZ", "use a 3-letter ISO 4217 code such as USD"),
])
def test_an_unknown_currency_suggests_the_likely_code(raw, hint):
    assert hint in _issue(normalize_currency, raw, "USD").suggestion


# --- E-mail ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_a_blank_email_is_none(raw):
    assert normalize_email(raw) == (None, None)


@pytest.mark.parametrize("raw", ["jane@example.com", "first.last+tag@mail.example.co.uk", "ap@acme-corp.io"])
def test_a_clean_email_needs_no_fix(raw):
    assert normalize_email(raw) == (raw, None)


@pytest.mark.parametrize(("raw", "clean"), [
    ("Jane@Example.COM", "jane@example.com"),
    ("  jane@example.com ", "jane@example.com"),
    ("<jane@example.com>", "jane@example.com"),
    ("mailto:jane@example.com", "jane@example.com"),
    ("MAILTO:Jane@Example.com", "jane@example.com"),
    ("Jane Doe <Jane@Example.com>", "jane@example.com"),
    ('"Doe, Jane" <jane@example.com>', "jane@example.com"),
    ("jane@example.com;", "jane@example.com"),
    ("José@Example.com", "josé@example.com"),
])
def test_an_email_is_normalised_and_the_change_reported(raw, clean):
    assert normalize_email(raw) == (clean, Fix("email_normalised", raw, clean))


@pytest.mark.parametrize(("raw", "in_message", "in_suggestion"), [
    ("jane.example.com", "no @ sign", "name@example.com"),
    ("jane doe@example.com", "contains a space", "remove the space"),
    ("a@x.com, b@y.com", "more than one address", "one address per contact"),
    ("a@x.com; b@y.com", "more than one address", "one address per contact"),
    ("a@x.com b@y.com", "more than one address", "one address per contact"),
    ("a@@example.com", "more than one @ sign", "name@example.com"),
    ("jane@example", "period", "name@example.com"),
    ("jane@", "not a valid e-mail address", "name@example.com"),
    ("@example.com", "not a valid e-mail address", "name@example.com"),
    ("jane..doe@example.com", "not a valid e-mail address", "name@example.com"),
    ("jane@-example.com", "not a valid e-mail address", "name@example.com"),
    ("jane@ab--cd.com", "not a valid e-mail address", "name@example.com"),
    ("jane@example.test", "special-use", "name@example.com"),
    ("<>", "no @ sign", "name@example.com"),
])
def test_an_invalid_email_names_the_problem(raw, in_message, in_suggestion):
    issue = _issue(normalize_email, raw)
    assert (issue.code, in_message in issue.message, in_suggestion in issue.suggestion) == (
        "invalid_email", True, True,
    )


@pytest.mark.parametrize("raw", [
    "a@b.co", "x_y%z+w@ex-ample.com", "a-b.c@d.e.fg", "1@2.io", "abc@xn--80ak6aa92e.com", "abc@localhost.local",
    "a@b.arpa", "a@b.onion", "a@b.invalid", "abc@mail.example", "x@a1b2--c.com", "a" * 70 + "@example.com",
    "a@" + "b" * 63 + ".com", "a@" + "b" * 64 + ".com", "a" * 240 + "@example.com",
])
def test_the_fast_path_agrees_with_email_validator(raw):
    try:
        expected = validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError:
        assert _issue(normalize_email, raw).code == "invalid_email"
    else:
        assert normalize_email(raw)[0] == expected


# --- Dates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [
    "%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y", "%d/%m/%y", "%m/%d/%y",
    "%d-%b-%Y", "%d %b %Y", "%b %d, %Y", "%d %B %Y", "%B %d, %Y", "%Y%m%d",
])
def test_the_required_formats_are_supported(fmt):
    assert fmt in dict(DATE_FORMATS)


@pytest.mark.parametrize(("fmt", "example"), DATE_FORMATS)
def test_every_format_example_reads_as_31_january_2026(fmt, example):
    assert parse_date(example, fmt) == JAN_31


@pytest.mark.parametrize(("fmt", "example"), DATE_FORMATS)
def test_every_format_example_is_detected(fmt, example):
    # Day 31 cannot be a month, so every example settles its own format.
    assert detect_date_format([example]) == DateColumnGuess(fmt, (), ())


@pytest.mark.parametrize(("raw", "fmt", "expected"), [
    ("2026-01-31", "%Y-%m-%d", JAN_31),
    ("1/5/2026", "%m/%d/%Y", dt.date(2026, 1, 5)),
    ("1/5/2026", "%d/%m/%Y", dt.date(2026, 5, 1)),
    ("31-JAN-2026", "%d-%b-%Y", JAN_31),
    ("31-jan-2026", "%d-%b-%Y", JAN_31),
    ("30 Sept 2026", "%d %b %Y", dt.date(2026, 9, 30)),
    ("30 Sep. 2026", "%d %b %Y", dt.date(2026, 9, 30)),
    ("Jan 31 2026", "%b %d, %Y", JAN_31),
    ("JANUARY 31, 2026", "%B %d, %Y", JAN_31),
    ("  31/01/2026  ", "%d/%m/%Y", JAN_31),
    ("31.01.26", "%d.%m.%y", JAN_31),
    ("31-Jan-26", "%d-%b-%y", JAN_31),
    ("29/02/2028", "%d/%m/%Y", dt.date(2028, 2, 29)),
])
def test_parse_date(raw, fmt, expected):
    assert parse_date(raw, fmt) == expected


@pytest.mark.parametrize(("raw", "year"), [
    ("31/01/00", 2000), ("31/01/26", 2026), ("31/01/69", 2069), ("31/01/70", 1970), ("31/01/99", 1999),
])
def test_two_digit_years_below_70_are_in_the_2000s(raw, year):
    assert parse_date(raw, "%d/%m/%y").year == year


@pytest.mark.parametrize("raw", [
    "2026-01-31T00:00:00", "2026-01-31 00:00:00", "2026-01-31T23:59:59.123Z", "2026-01-31T10:00:00+01:00",
    "2026-01-31 10:00", "2026-01-31T10:00:00.000000", "2026-01-31 9:30 PM",
])
@pytest.mark.parametrize("fmt", ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])
def test_iso_datetimes_keep_the_date(raw, fmt):
    assert parse_date(raw, fmt) == JAN_31


@pytest.mark.parametrize(("raw", "fmt"), [("1/31/2026 0:00", "%m/%d/%Y"), ("31/01/2026 14:30:00", "%d/%m/%Y")])
def test_spreadsheet_datetimes_keep_the_date(raw, fmt):
    assert parse_date(raw, fmt) == JAN_31


@pytest.mark.parametrize(("raw", "fmt"), [
    ("31/02/2026", "%d/%m/%Y"), ("2026-13-01", "%Y-%m-%d"), ("2026-00-10", "%Y-%m-%d"), ("00/01/2026", "%d/%m/%Y"),
    ("29/02/2027", "%d/%m/%Y"), ("31/01/1899", "%d/%m/%Y"), ("31/01/3000", "%d/%m/%Y"), ("31-Foo-2026", "%d-%b-%Y"),
    ("2026-01-31 25:00", "%Y-%m-%d"), ("2026-01-31T10:61:00", "%Y-%m-%d"), ("garbage", "%d/%m/%Y"),
    ("", "%d/%m/%Y"), ("2026-01-31", "%d/%m/%Y"), ("31/01/2026", "%Y-%m-%d"), ("31/01/2026", "%d/%m/%y"),
    ("46053", "%d/%m/%Y"), ("2026/1/31/5", "%Y/%m/%d"), ("31 Janvier 2026", "%d %B %Y"),
])
def test_invalid_dates_are_issues_naming_the_expected_format(raw, fmt):
    issue = _issue(parse_date, raw, fmt)
    assert issue.code == "invalid_date" and describe_date_format(fmt) in issue.suggestion


def test_an_excel_serial_number_is_explained():
    assert "serial number" in _issue(parse_date, "46053", "%d/%m/%Y").message


def test_a_format_outside_the_list_falls_back_to_strptime():
    assert parse_date("2026.01.31", "%Y.%m.%d") == JAN_31


def test_strptime_formats_also_refuse_years_outside_range():
    assert _issue(parse_date, "1850.01.31", "%Y.%m.%d").code == "invalid_date"


@pytest.mark.parametrize(("samples", "fmt"), [
    (["2026-01-31", "2026-02-01"], "%Y-%m-%d"),
    (["2026-01-31T00:00:00", "2026-02-01T00:00:00"], "%Y-%m-%d"),
    (["2026-01-31", "2026-02-01 00:00:00"], "%Y-%m-%d"),
    (["2026/01/31"], "%Y/%m/%d"),
    (["20260131", "20260201"], "%Y%m%d"),
    (["31.01.2026", "01.02.2026"], "%d.%m.%Y"),
    (["31-Jan-2026", "01-Feb-2026"], "%d-%b-%Y"),
    (["Jan 31, 2026", "Feb 1, 2026"], "%b %d, %Y"),
    (["January 31, 2026", "May 1, 2026"], "%B %d, %Y"),
    (["31 May 2026"], "%d %b %Y"),
])
def test_a_single_fitting_format_is_chosen(samples, fmt):
    assert detect_date_format(samples) == DateColumnGuess(fmt, (), ())


@pytest.mark.parametrize(("samples", "candidates"), [
    (["01/02/2026", "03/04/2026"], ("%d/%m/%Y", "%m/%d/%Y")),
    (["01/02/2026", "12/12/2026"], ("%d/%m/%Y", "%m/%d/%Y")),
    (["01-02-2026"], ("%d-%m-%Y", "%m-%d-%Y")),
    (["01/02/26", "11/12/26"], ("%d/%m/%y", "%m/%d/%y")),
])
def test_day_and_month_that_both_fit_make_the_column_ambiguous(samples, candidates):
    assert detect_date_format(samples) == DateColumnGuess(None, candidates, ())


@pytest.mark.parametrize(("samples", "fmt"), [
    (["01/02/2026", "03/04/2026", "13/04/2026"], "%d/%m/%Y"),
    (["01/02/2026", "03/04/2026", "04/13/2026"], "%m/%d/%Y"),
    (["01-02-2026", "31-01-2026"], "%d-%m-%Y"),
    (["01/02/26", "01/31/26"], "%m/%d/%y"),
])
def test_one_value_above_12_settles_day_and_month(samples, fmt):
    assert detect_date_format(samples) == DateColumnGuess(fmt, (), ())


def test_a_few_unreadable_values_do_not_hide_the_format():
    guess = detect_date_format(["31/01/2026", "n/a", "01/02/2026", "TBD", "n/a"])
    assert guess == DateColumnGuess("%d/%m/%Y", (), ("n/a", "TBD"))


def test_unreadable_values_are_listed_with_ambiguous_candidates():
    guess = detect_date_format(["01/02/2026", "soon"])
    assert guess == DateColumnGuess(None, ("%d/%m/%Y", "%m/%d/%Y"), ("soon",))


def test_when_nothing_fits_up_to_five_values_are_listed():
    guess = detect_date_format(["a", "b", "c", "a", "d", "e", "f"])
    assert guess == DateColumnGuess(None, (), ("a", "b", "c", "d", "e"))


@pytest.mark.parametrize("samples", [[], ["", "  "]])
def test_no_samples_give_no_guess(samples):
    assert detect_date_format(samples) == DateColumnGuess(None, (), ())


def test_blank_samples_are_ignored_and_any_iterable_works():
    assert detect_date_format(value for value in ["", "2026-01-31", " "]).format == "%Y-%m-%d"


@pytest.mark.parametrize(("fmt", "text"), [
    ("%d/%m/%Y", "DD/MM/YYYY (e.g. 31/01/2026)"),
    ("%m/%d/%y", "MM/DD/YY (e.g. 01/31/26)"),
    ("%Y-%m-%d", "YYYY-MM-DD (e.g. 2026-01-31)"),
    ("%d-%b-%Y", "DD-Mon-YYYY (e.g. 31-Jan-2026)"),
    ("%B %d, %Y", "Month DD, YYYY (e.g. January 31, 2026)"),
    ("%Y.%m.%d", "YYYY.MM.DD (e.g. 2026.01.31)"),
])
def test_describe_date_format(fmt, text):
    assert describe_date_format(fmt) == text
