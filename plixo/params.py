"""Parsing values that arrive in URLs and forms, refusing anything odd instead of raising deep inside."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from werkzeug.routing import IntegerConverter
from wtforms import DecimalField, IntegerField

from plixo.actions import ActionError
from plixo.amounts import AmountError, NumberStyle, detect_number_style, parse_amount
from plixo.money import MoneyError, exponent

MAX_ID = 2**31 - 1  # primary keys are INTEGER: PostgreSQL refuses a larger number before it can find nothing


def parse_id(raw: str | None) -> int | None:
    """A positive database id from text, or None ("²", "-1", "1e3" and overflowing numbers are not ids)."""
    raw = (raw or "").strip()
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: a database id, 1 … 2^31 − 1. Anything else (0, an id too large for the database)
    matches no route and answers 404 before any query, as parse_id does for ids in query strings and forms."""

    def __init__(self, map, fixed_digits: int = 0, min: int = 1, max: int = MAX_ID, signed: bool = False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


_PLAIN_NUMBER = re.compile(r"^[0-9]{1,3}(?:,[0-9]{3})*(?:\.[0-9]+)?$|^[0-9]+(?:\.[0-9]+)?$")
NUMBER_HINT = "Enter a number with the digits 0-9, like 1250 or 1,250.50."


def parse_plain_number(raw: str | None) -> Decimal | None:
    """A finite, non-negative number typed with ASCII digits (thousands commas and a decimal point allowed), or None:
    "NaN", "sNaN", "Infinity", "1e309" and other scripts' digits are not numbers here."""
    text = (raw or "").strip()
    if len(text) > 40 or not _PLAIN_NUMBER.match(text):
        return None
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


class PlainDecimalField(DecimalField):
    """A DecimalField that reads only what parse_plain_number reads (Decimal() alone takes "sNaN" and "١٢")."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = parse_plain_number(valuelist[0])
            if self.data is None:
                raise ValueError(NUMBER_HINT)


class PlainIntegerField(IntegerField):
    """An IntegerField that reads only ASCII digits (int() alone takes "١٢" and "１２")."""

    def process_formdata(self, valuelist):
        if valuelist:
            number = parse_plain_number(valuelist[0])
            if number is None or number != number.to_integral_value():
                self.data = None
                raise ValueError("Enter a whole number with the digits 0-9.")
            self.data = int(number)


def optional_id(raw: str | None, field: str, message: str = "Choose one of the listed options.") -> int | None:
    """An id chosen in a form: None when left blank; anything that is not an id is refused (ActionError on the field),
    never silently taken for "none"."""
    if not (raw or "").strip():
        return None
    value = parse_id(raw)
    if value is None:
        raise ActionError(message, field)
    return value


def parse_date(raw: str | None) -> dt.date | None:
    """An ISO date (2026-01-31) between year 1900 and 2999, or None."""
    try:
        value = dt.date.fromisoformat((raw or "").strip())
    except ValueError:
        return None
    return value if 1900 <= value.year <= 2999 else None


_LONE_MARK_THEN_THREE = re.compile(r"^[^.,]*\d([.,])\d{3}$")  # "1,250" or "1.250"


def parse_amount_input(raw: str | None, currency: str) -> int | None:
    """Minor units of `currency` from an amount a person typed, in either decimal style ("1,250.50",
    "1.250,50", "1 250,50", "$1250"), or None when it is not an amount or could be read two ways.

    A lone separator followed by three digits is a thousands separator when it is a comma ("1,250": nobody
    writes 1.25 that way); a lone point is refused rather than guessed ("1.250" is 1250 to a German reader and
    1.25 to an American one), as is either mark for currencies with three decimal places. A promise or plan must
    not be off by a factor of a thousand.
    """
    text = (raw or "").strip()
    lone = _LONE_MARK_THEN_THREE.match(text)
    try:
        three_places = exponent(currency) >= 3
    except MoneyError:
        return None
    if not text or (lone and (lone[1] == "." or three_places)):
        return None
    style = NumberStyle(False) if lone else NumberStyle(detect_number_style([text]).decimal_comma)
    try:
        minor, _fix = parse_amount(text, currency, style)
    except AmountError:
        return None
    return minor
