"""The facts a reply states, read from the payer's own words: the amount and date of a promise, the day an
absent writer is back."""

from __future__ import annotations

import datetime as dt
import re

from plixo.params import parse_amount_input
from plixo.replies.date_phrases import next_working_day
from plixo.replies.dates import date_ranges, future_dates

_BACK = re.compile(r"\b(back|return\w*|reopen\w*|resume|wieder|retour|de vuelta|regreso)\b", re.I)
_UNTIL = re.compile(r"\b(until|till|til|through|bis|jusqu'?au|hasta)\b", re.I)
# "Out until Monday" is how English says back on Monday: a weekend ends the absence. A bare date ("until
# 7 December") is read as the last day away, whatever weekday it falls on.
_UNTIL_MONDAY = re.compile(r"\s*(?:on\s+)?monday\b", re.I)


def promised_date(text: str, received: dt.date, month_first: bool = True) -> dt.date | None:
    """The first date after today in the payer's words, else today itself ("we'll pay today")."""
    dates = [value for _position, value in future_dates(text, received, month_first)]
    return next((value for value in dates if value > received), dates[0] if dates else None)


def return_date(text: str, received: dt.date, month_first: bool = True) -> dt.date | None:
    """When the writer is back: a date named after "back"/"returning", else the working day after the range of
    days they are away ("on leave 14–18 Dec") or after the date they are away "until", else the first date after
    today."""
    dates = [(position, value) for position, value in future_dates(text, received, month_first)
             if value > received]
    back = _first_date_after(_BACK, text, dates, 40)
    if back is not None:
        return back[1]
    away = [last for _position, _first, last in date_ranges(text, received, month_first) if last >= received]
    if away:
        return next_working_day(away[0])
    until = _first_date_after(_UNTIL, text, dates, 25)
    if until is not None:
        keyword_end, day = until
        return day if _UNTIL_MONDAY.match(text, keyword_end) else next_working_day(day)
    return dates[0][1] if dates else None


def _first_date_after(keywords: re.Pattern, text: str, dates: list[tuple[int, dt.date]],
                      reach: int) -> tuple[int, dt.date] | None:
    """(where the keyword ends, the date) for the first keyword followed within `reach` characters by a date."""
    for keyword in keywords.finditer(text):
        after = [value for position, value in dates if 0 <= position - keyword.end() <= reach]
        if after:
            return keyword.end(), after[0]
    return None


_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_NUMBER = r"\d{1,3}(?:[,.\s]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?:(?P<symbol>[$€£¥])\s?|(?P<code>\b[A-Z]{{3}})\s?)(?P<number>{_NUMBER})"
    rf"|(?P<bare>{_NUMBER})\s?(?P<after>[A-Z]{{3}}\b|dollars|euros?|pounds)"
    rf"|\b(?:pay|paying|send|sending|remit|transfer|wire|payment of|amount of|sum of)\s+(?:you\s+|the\s+|an?\s+)?"
    rf"(?:amount\s+of\s+)?"
    rf"(?P<verb_number>{_NUMBER})\b(?!\s*(?:%|st|nd|rd|th|days?|weeks?|months?|of\b|/|"
    # "pay 3 invoices", "pay in 2 instalments": a count, not an amount
    rf"(?:more\s+|open\s+|outstanding\s+|overdue\s+)?(?:invoices?|bills?|items?|instal+ments?|payments?|times|parts|"
    rf"cheques?|checks?|transfers?|tranches?)\b))")


_PAYING_WORDS = re.compile(r"\b(pay|paying|send|sending|remit|wire|transfer|payment of|amount of|sum of|commit to "
                           r"paying|the full)\s*$", re.I)


def promised_amount(text: str, currency: str) -> int | None:
    """The amount the payer says they will pay, in the invoice's currency (one written in another is not it):
    the first one right after words of paying, else the first one at all."""
    amounts = list(_amounts(text, currency))
    paying = [minor for start, minor in amounts if _PAYING_WORDS.search(text[max(start - 25, 0):start])]
    return (paying or [minor for _start, minor in amounts] or [None])[0]


def _amounts(text: str, currency: str):
    for match in _AMOUNT.finditer(text):
        number = match["number"] or match["bare"] or match["verb_number"]
        written_in = _SYMBOLS.get(match["symbol"] or "") or (match["code"] or match["after"] or "").upper()
        if written_in and written_in not in (currency, "DOLLARS", "EUROS", "EURO", "POUNDS"):
            continue
        minor = parse_amount_input(number.replace(" ", ""), currency)
        if minor is not None and minor > 0:
            yield match.start(), minor
