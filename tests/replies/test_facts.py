"""The facts a reply states, read as a finance team would read them: amounts in the invoice's currency, the date
a payment is promised for, the day an absent writer is back."""

from __future__ import annotations

import datetime as dt

import pytest

from plixo.replies.dates import future_dates, written_dates
from plixo.replies.facts import promised_amount, promised_date, return_date

WEDNESDAY = dt.date(2026, 12, 2)


# Past dates: a few weeks back is this year's (or last year's), never next year's

def test_a_date_a_few_weeks_back_is_read_as_written_in_the_past():
    assert written_dates("we paid on 20 Nov", dt.date(2026, 12, 7)) == [(11, dt.date(2026, 11, 20))]


def test_a_december_date_written_in_january_is_last_december():
    assert written_dates("we paid on 20 Dec", dt.date(2027, 1, 8))[0][1] == dt.date(2026, 12, 20)
    assert written_dates("cheque posted 12/20", dt.date(2027, 1, 8))[0][1] == dt.date(2026, 12, 20)


def test_a_past_date_is_not_promised_for_next_year():
    text = "We paid half on 20 Dec, the rest follows on 15 Jan."
    assert promised_date(text, dt.date(2027, 1, 8), True) == dt.date(2027, 1, 15)
    assert future_dates("We paid half on 20 Dec.", dt.date(2027, 1, 8)) == []


def test_a_date_well_past_is_next_years():
    assert future_dates("we pay on 5 January", WEDNESDAY)[0][1] == dt.date(2027, 1, 5)


# Durations

@pytest.mark.parametrize(("text", "expected"), [
    ("We will pay within 10 days.", dt.date(2026, 12, 12)),
    ("Payment will be made in 14 days.", dt.date(2026, 12, 16)),
    ("we will settle within a week", dt.date(2026, 12, 9)),
    ("we will settle within a fortnight", dt.date(2026, 12, 16)),
    ("we can pay within two weeks", dt.date(2026, 12, 16)),
    ("we will pay within 5 business days", dt.date(2026, 12, 9)),
])
def test_within_some_days_counts_from_the_day_the_reply_arrived(text, expected):
    assert promised_date(text, WEDNESDAY, True) == expected


# Ends of months and last weekdays

@pytest.mark.parametrize(("text", "expected"), [
    ("we pay on the last Friday of the month", dt.date(2026, 12, 25)),
    ("paid on the last Friday of January", dt.date(2027, 1, 29)),
    ("will go out the last working day of the month", dt.date(2026, 12, 31)),
    ("by month end", dt.date(2026, 12, 31)),
    ("by month-end", dt.date(2026, 12, 31)),
    ("by the end of next month", dt.date(2027, 1, 31)),
    ("by the end of January", dt.date(2027, 1, 31)),
    ("end of the month", dt.date(2026, 12, 31)),
])
def test_ends_of_months_and_last_weekdays_are_dates(text, expected):
    assert promised_date(text, WEDNESDAY, True) == expected


def test_the_last_weekday_is_not_read_as_the_coming_one():
    assert promised_date("we pay the last Monday of the month", WEDNESDAY, True) == dt.date(2026, 12, 28)


# Payment runs and loose weeks

def test_a_day_of_the_month_is_the_next_one_after_today():
    assert promised_date("transfer booked for the 12th", dt.date(2026, 12, 14), True) == dt.date(2027, 1, 12)


def test_a_payment_run_week_is_the_friday_of_that_iso_week():
    assert promised_date("it is in our payment run for week 50", WEDNESDAY, True) == dt.date(2026, 12, 11)
    assert promised_date("payment run KW 2", WEDNESDAY, True) == dt.date(2027, 1, 15)


def test_early_next_week_is_the_tuesday_and_late_next_week_the_friday():
    assert promised_date("you'll have it early next week", WEDNESDAY, True) == dt.date(2026, 12, 8)
    assert promised_date("should go out late next week", WEDNESDAY, True) == dt.date(2026, 12, 11)


def test_next_week_alone_is_not_a_date():
    assert promised_date("will get this paid next week", WEDNESDAY, True) is None


def test_an_amount_and_a_month_end_in_one_sentence():
    text = "we could manage 3,000 by month end"
    assert promised_amount(text, "USD") == 300_000
    assert promised_date(text, WEDNESDAY, True) == dt.date(2026, 12, 31)


# Foreign month names

@pytest.mark.parametrize(("text", "expected"), [
    ("sera effectué par virement le 10 décembre.", dt.date(2026, 12, 10)),
    ("Wir zahlen am 10. Dezember.", dt.date(2026, 12, 10)),
    ("se realizará el 18 de diciembre", dt.date(2026, 12, 18)),
    ("Ab dem 21.12. bin ich wieder erreichbar.", dt.date(2026, 12, 21)),
    ("le 1er février", dt.date(2027, 2, 1)),
])
def test_months_are_read_in_the_languages_payers_write(text, expected):
    assert promised_date(text, WEDNESDAY, False) == expected


# Amounts

@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("we will pay 2,45,000 on Friday", "INR", 24_500_000),
    ("we will pay ₹2,45,000 on Friday", "INR", 24_500_000),
    ("we will pay INR 2,45,000 on Friday", "INR", 24_500_000),
    ("we will pay Rs. 2,45,000 on Friday", "INR", 24_500_000),
    ("we will pay Rs 12,34,567.50 on Friday", "INR", 123_456_750),
    ("we will pay 2,45,000 on Friday", "USD", None),  # lakh grouping on a dollar invoice: not read as 2.45
    ("we will pay ₹2,45,000 on Friday", "USD", None),
    ("we will pay 1,250.00 on Friday", "USD", 125_000),
    ("we will pay 1.250,00 on Friday", "EUR", 125_000),
    ("we will pay 3,000 on Friday", "INR", 300_000),
])
def test_indian_digit_grouping(text, currency, minor):
    assert promised_amount(text, currency) == minor


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("we will pay $3,000 on Friday", "CAD", 300_000),
    ("we will pay $3,000 on Friday", "AUD", 300_000),
    ("we will pay $3,000 on Friday", "USD", 300_000),
    ("we will pay US$3,000 on Friday", "CAD", None),
    ("we will pay USD 3,000 on Friday", "CAD", None),
    ("we will pay C$3,000 on Friday", "CAD", 300_000),
    ("we will pay C$3,000 on Friday", "USD", None),
    ("we will pay 3,000 dollars", "NZD", 300_000),
    ("we will pay 3,000 dollars", "EUR", None),
    ("we will pay $3,000 on Friday", "EUR", None),
    ("vi betalar 3 000 kr på fredag", "SEK", 300_000),
    ("we will pay kr 3.000,00", "NOK", 300_000),
    ("we will pay 3 000 kr", "EUR", None),
    ("we will pay SEK 3 000", "NOK", None),
    ("Zahlung von 980,50 € folgt", "EUR", 98_050),
])
def test_a_dollar_or_a_krona_is_the_invoices_own_when_nothing_says_otherwise(text, currency, minor):
    assert promised_amount(text, currency) == minor


def test_words_of_paying_are_read_whatever_their_case():
    assert promised_amount("Payment of 1250 will be released on Dec 10.", "USD") == 125_000


# Absences

@pytest.mark.parametrize(("text", "expected"), [
    ("I am on leave 14–18 Dec.", dt.date(2026, 12, 21)),
    ("I am away from 14 to 18 December.", dt.date(2026, 12, 21)),
    ("Out 12/14-12/18, limited email.", dt.date(2026, 12, 21)),
    ("I'm off until the 18th.", dt.date(2026, 12, 21)),
    ("Out of office Dec 14 - Dec 16.", dt.date(2026, 12, 17)),
    ("On leave December 7-11.", dt.date(2026, 12, 14)),
    ("Our offices are closed Dec 2 - Dec 4. We reopen on Tuesday, December 8.", dt.date(2026, 12, 8)),
    ("On leave 14–18 Dec, back on 22 December.", dt.date(2026, 12, 22)),
])
def test_a_leave_range_ends_the_working_day_after_it(text, expected):
    assert return_date(text, WEDNESDAY, True) == expected


def test_out_until_monday_means_back_on_monday():
    assert return_date("I am out of the office until Monday, December 7.", WEDNESDAY, True) == dt.date(2026, 12, 7)
    assert return_date("I'm out of office until 7 December.", WEDNESDAY, True) == dt.date(2026, 12, 8)
