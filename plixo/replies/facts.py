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


# A bare "$" is the invoice's own dollar (or peso) when the invoice is in one, and "kr" its own crown: a Canadian
# writing "$3,000" about a CAD invoice means Canadian dollars. Anywhere else "$" is the US dollar and "kr" is not
# this invoice's money.
_DOLLAR_SIGN_CURRENCIES = frozenset({
    "USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "BSD", "BBD", "BMD", "BND", "BZD", "FJD", "GYD", "JMD", "KYD",
    "LRD", "NAD", "SBD", "SRD", "TTD", "XCD", "MXN", "ARS", "CLP", "COP", "CUP", "DOP", "UYU",
})
_CROWN_CURRENCIES = frozenset({"SEK", "NOK", "DKK", "ISK"})
_RUPEE_CURRENCIES = frozenset({"INR", "PKR", "LKR", "NPR", "MUR", "SCR"})
_YEN_CURRENCIES = frozenset({"JPY", "CNY"})
# Where 2,45,000 (two lakh forty-five thousand) is how amounts are grouped.
_LAKH_CURRENCIES = frozenset({"INR", "NPR", "PKR", "BDT"})
_MARKED_DOLLARS = {"us$": "USD", "c$": "CAD", "ca$": "CAD", "cad$": "CAD", "a$": "AUD", "au$": "AUD", "nz$": "NZD",
                   "s$": "SGD", "sg$": "SGD", "hk$": "HKD", "nt$": "TWD", "mx$": "MXN"}
_SIGNS = {"€": "EUR", "euro": "EUR", "euros": "EUR", "£": "GBP", "pound": "GBP", "pounds": "GBP", "₹": "INR"}
_SHARED_SIGNS = ((_DOLLAR_SIGN_CURRENCIES, "USD", {"$", "dollar", "dollars"}),
                 (_CROWN_CURRENCIES, "crowns of another country", {"kr", "kronor", "kroner", "krona", "krone"}),
                 (_RUPEE_CURRENCIES, "INR", {"rs", "rupee", "rupees"}),
                 (_YEN_CURRENCIES, "JPY", {"¥"}))

_LAKH = r"\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d{1,2})?(?!\d)"
_NUMBER = rf"{_LAKH}|\d{{1,3}}(?:[,.\s]\d{{3}})+(?:[.,]\d{{1,2}})?|\d+(?:[.,]\d{{1,2}})?"
_SIGN = r"(?:\b(?:US|CAD|CA|AU|NZ|SG|HK|NT|MX|[CAS]))?\$|[€£¥₹]|\b(?i:rs|kr)(?![a-z])\.?"
_SIGN_AFTER = r"[€£₹]|[A-Z]{3}\b|(?i:dollars?|euros?|pounds?|rupees?|kronor|kroner|kr(?![a-z])\.?)"
_AMOUNT = re.compile(
    rf"(?:(?P<symbol>{_SIGN})\s?|(?P<code>\b[A-Z]{{3}})\s?)(?P<number>{_NUMBER})"
    rf"|(?P<bare>{_NUMBER})\s?(?P<after>{_SIGN_AFTER})"
    rf"|\b(?i:pay|paying|send|sending|remit|transfer|wire|manage|afford|payment of|amount of|sum of)\s+"
    rf"(?:you\s+|the\s+|an?\s+)?(?:amount\s+of\s+)?"
    rf"(?P<verb_number>{_NUMBER})(?:\s?(?P<verb_after>{_SIGN_AFTER})|\b)(?!\s*(?:%|st|nd|rd|th|days?|weeks?|months?|of\b|/|"
    # "pay 3 invoices", "pay in 2 instalments": a count, not an amount
    rf"(?:more\s+|open\s+|outstanding\s+|overdue\s+)?(?:invoices?|bills?|items?|instal+ments?|payments?|times|parts|"
    rf"cheques?|checks?|transfers?|tranches?)\b))")


_PAYING_WORDS = re.compile(r"\b(pay|paying|send|sending|remit|wire|transfer|manage|afford|payment of|amount of|"
                           r"sum of|commit to paying|the full)\s*$", re.I)


def promised_amount(text: str, currency: str) -> int | None:
    """The amount the payer says they will pay, in the invoice's currency (one written in another is not it):
    the first one right after words of paying, else the first one at all."""
    amounts = list(_amounts(text, currency))
    paying = [minor for start, minor in amounts if _PAYING_WORDS.search(text[max(start - 25, 0):start])]
    return (paying or [minor for _start, minor in amounts] or [None])[0]


def _amounts(text: str, currency: str):
    for match in _AMOUNT.finditer(text):
        number = match["number"] or match["bare"] or match["verb_number"]
        sign = match["symbol"] or match["code"] or match["after"] or match["verb_after"] or ""
        written_in = _currency_named(sign, currency)
        if written_in not in (None, currency):
            continue
        if re.fullmatch(_LAKH, number):
            if currency not in _LAKH_CURRENCIES:
                continue  # not to be misread as 2.45 on a dollar invoice
            number = number.replace(",", "")
        minor = parse_amount_input(number.replace(" ", ""), currency)
        if minor is not None and minor > 0:
            yield match.start(), minor


def _currency_named(sign: str, invoice_currency: str) -> str | None:
    """The currency a sign, code or word names, read against the invoice's; None when nothing names one."""
    sign = sign.lower().rstrip(".")
    if not sign:
        return None
    for currencies, elsewhere, signs in _SHARED_SIGNS:
        if sign in signs:
            return invoice_currency if invoice_currency in currencies else elsewhere
    return _MARKED_DOLLARS.get(sign) or _SIGNS.get(sign) or sign.upper()
