import datetime as dt

import pytest

from plixo.imports.dates import (
    DATE_FORMATS,
    DateColumnGuess,
    describe_date_format,
    detect_date_format,
    parse_date,
)
from plixo.imports.issues import FieldIssue

JAN_31 = dt.date(2026, 1, 31)


def _issue(call, *args) -> FieldIssue:
    with pytest.raises(FieldIssue) as caught:
        call(*args)
    return caught.value


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
