"""Per-value parsers for CSV imports: accept messy finance data, report every change, refuse what is unsafe.

Each parser returns the clean value plus a Fix describing any automatic change, or raises FieldIssue
with a message and a suggestion. They run once per cell on files of up to millions of values, so the
common case takes a precompiled-regex fast path and the forgiving parsing only runs on odd values.

Measured per call with timeit (CPython 3.11 on the 2-core dev machine, best of 30 x 20,000 calls):
    normalize_currency("USD", ...)                 0.06 µs   already valid: one set lookup
    normalize_currency("usd" / "US$", ...)         0.65-0.75 µs
    parse_amount("1234.50" / "-12.00")             0.78 µs   plain decimal fast path, no Fix
    parse_amount("1234,50") decimal-comma file     2.0 µs    builds a Fix (~0.4 µs of that)
    parse_amount("$1,234.50" / "(1,234.50)")       3.1 µs    symbols, grouping, signs; builds a Fix
    parse_amount("1.234,50 €") decimal-comma file  3.4 µs
    parse_date("31/01/2026", "%d/%m/%Y")           1.0 µs    (strptime: 3.8 µs)
    parse_date("2026-01-31T00:00:00", "%Y-%m-%d")  1.7 µs
    normalize_email("jane.doe@example.com")        0.56 µs   fast regex path
    normalize_email("Jane.Doe@Example.com")        2.0 µs    lower-cased, builds a Fix
    normalize_email("José@example.com")            24 µs     email_validator, for anything unusual
    detect_date_format(1,000 samples)              4.6 ms
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import email_validator
from email_validator import EmailNotValidError, validate_email

from plixo.money import ISO_CURRENCIES, MAX_MINOR, exponent

__all__ = [
    "DATE_FORMATS",
    "DateColumnGuess",
    "FieldIssue",
    "Fix",
    "NumberStyle",
    "describe_date_format",
    "detect_date_format",
    "detect_number_style",
    "normalize_currency",
    "normalize_email",
    "parse_amount",
    "parse_date",
]


class FieldIssue(ValueError):  # noqa: N818 - the import API names it an issue, not an error
    """A value that cannot be used."""

    def __init__(self, code: str, message: str, suggestion: str = ""):
        # All three go to args so the exception survives pickling into a background job and back.
        super().__init__(code, message, suggestion)
        self.code = code
        self.message = message
        self.suggestion = suggestion

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Fix:
    """An automatic change made to a value, shown to the user so nothing changes silently."""

    code: str
    original: str
    fixed: str


def _shown(raw: str) -> str:
    """The value quoted for a message, cut short so a runaway cell cannot flood the report."""
    return f'"{raw}"' if len(raw) <= 40 else f'"{raw[:37]}…"'


# --- Currency ---------------------------------------------------------------------------------------

# Symbols that name exactly one currency. Keys are upper-cased with spaces removed ("us $" -> "US$").
_SYMBOL_CURRENCY = {
    "US$": "USD",
    "USD$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",  # also the yuan's sign; a CNY workspace gets CNY through _SHARED_SYMBOLS
    "JP¥": "JPY",
    "CN¥": "CNY",
    "RMB": "CNY",
    "C$": "CAD",
    "CA$": "CAD",
    "CAD$": "CAD",
    "A$": "AUD",
    "AU$": "AUD",
    "AUD$": "AUD",
    "NZ$": "NZD",
    "NZD$": "NZD",
    "S$": "SGD",
    "SGD$": "SGD",
    "HK$": "HKD",
    "HKD$": "HKD",
    "MX$": "MXN",
    "NT$": "TWD",
    "R$": "BRL",
    "₹": "INR",
    "FR.": "CHF",
    "SFR.": "CHF",
    "₩": "KRW",
    "₽": "RUB",
    "₺": "TRY",
    "₪": "ILS",
    "₱": "PHP",
    "₫": "VND",
    "฿": "THB",
    "₦": "NGN",
    "ZŁ": "PLN",
    "KČ": "CZK",
}
# Currencies written with a bare "$": it is only safe to read "$" as the workspace currency if that is one of these.
_DOLLAR_CURRENCIES = frozenset({
    "USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "TWD", "BBD", "BMD", "BND", "BSD", "BZD", "FJD", "GYD",
    "JMD", "KYD", "LRD", "NAD", "SBD", "SRD", "TTD", "XCD", "ARS", "CLP", "COP", "CUP", "DOP", "UYU",
})
# Symbols several currencies share; resolved only when the workspace currency is one of them.
_SHARED_SYMBOLS = {
    "$": _DOLLAR_CURRENCIES,
    "¥": frozenset({"JPY", "CNY"}),
    "KR": frozenset({"SEK", "NOK", "DKK", "ISK"}),
    "KR.": frozenset({"SEK", "NOK", "DKK", "ISK"}),
}
# Withdrawn or informal codes people still type, for suggestions only (changing them is the user's call).
_REPLACED_CODES = {
    "HRK": "EUR",
    "LTL": "EUR",
    "LVL": "EUR",
    "EEK": "EUR",
    "SKK": "EUR",
    "SIT": "EUR",
    "DEM": "EUR",
    "FRF": "EUR",
    "ITL": "EUR",
    "ESP": "EUR",
    "NLG": "EUR",
    "BEF": "EUR",
    "ATS": "EUR",
    "PTE": "EUR",
    "IEP": "EUR",
    "FIM": "EUR",
    "GRD": "EUR",
    "VEF": "VES",
    "ZWL": "ZWG",
    "SLL": "SLE",
    "MRO": "MRU",
    "STD": "STN",
    "BYR": "BYN",
    "CUC": "CUP",
    "NTD": "TWD",
    "STG": "GBP",
    "UKP": "GBP",
    "YEN": "JPY",
    "EURO": "EUR",
    "EUROS": "EUR",
}
# The codes a typo most likely came from; a near miss of exactly one of these earns a "did you mean".
_COMMON_CODES = (
    "USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "CNY", "INR", "MXN",
    "BRL", "NZD", "SGD", "HKD", "SEK", "NOK", "DKK", "ZAR", "PLN", "CZK",
)
_ISO_HINT = "use a 3-letter ISO 4217 code such as USD"


def _currency_key(text: str) -> str:
    return text.upper().replace(" ", "")


def _symbol_currency(key: str, workspace_currency: str) -> str | None:
    """The currency a symbol names, given the workspace; None when the symbol is unknown or shared."""
    shared = _SHARED_SYMBOLS.get(key)
    if shared is not None and workspace_currency in shared:
        return workspace_currency
    return _SYMBOL_CURRENCY.get(key)


def _near_miss(code: str) -> str | None:
    """The one common code `code` is a single typo (substitution or swapped neighbours) away from, if any."""
    if len(code) != 3 or not code.isalpha():
        return None
    matches = [
        known
        for known in _COMMON_CODES
        if sum(a != b for a, b in zip(code, known, strict=True)) == 1
        or any(code == known[:i] + known[i + 1] + known[i] + known[i + 2 :] for i in range(2))
    ]
    return matches[0] if len(matches) == 1 else None


def _unknown_currency(raw: str, key: str) -> FieldIssue:
    replacement = _REPLACED_CODES.get(key)
    if replacement:
        suggestion = f"{key} is not a current ISO 4217 code; use {replacement}"
    elif "DOLLAR" in key:
        suggestion = "say which dollar with its ISO 4217 code, e.g. USD, CAD or AUD"
    elif near := _near_miss(key):
        suggestion = f"did you mean {near}?"
    else:
        suggestion = _ISO_HINT
    return FieldIssue("unknown_currency", f"{_shown(raw)} is not a currency Plixo knows", suggestion)


def normalize_currency(raw: str, workspace_currency: str) -> tuple[str, Fix | None]:
    """An ISO 4217 code from a code in any case or a currency symbol; blank means the workspace currency."""
    if raw in ISO_CURRENCIES:  # the overwhelmingly common case, no allocation
        return raw, None
    text = raw.strip()
    if not text:
        return workspace_currency, Fix("blank_currency_defaulted", raw, workspace_currency)
    key = _currency_key(text)
    code = key if key in ISO_CURRENCIES else _symbol_currency(key, workspace_currency)
    if code is not None:
        return code, Fix("currency_normalised", raw, code)
    if key in _SHARED_SYMBOLS:
        examples = ", ".join(sorted(_SHARED_SYMBOLS[key] & {"USD", "CAD", "AUD", "SEK", "NOK", "DKK", "JPY", "CNY"}))
        raise FieldIssue(
            "ambiguous_currency",
            f"{_shown(raw)} is used by several currencies and the workspace currency is {workspace_currency}",
            f"use the ISO 4217 code instead, e.g. {examples}",
        )
    raise _unknown_currency(raw, key)


# --- E-mail -----------------------------------------------------------------------------------------

# Plain lower-case ASCII addresses, the bulk of any contact list, checked in ~0.7 µs. Together with the
# checks in _is_plain_email, everything this accepts email_validator (check_deliverability=False) accepts
# unchanged, which the tests check; anything else goes to email_validator itself (~24 µs).
_EMAIL_FAST = re.compile(
    r"[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z"
)
# Domains email_validator refuses (".test", ".local", ...), whatever its list holds in the installed version.
_SPECIAL_USE_ENDINGS = tuple(
    prefix + name for name in email_validator.SPECIAL_USE_DOMAIN_NAMES for prefix in (".", "@")
)
# "Jane Doe <jane@example.com>" or '"Doe, Jane" <jane@example.com>' as mail clients export them.
_DISPLAY_NAME_FORM = re.compile(r'\s*(?:"[^"]*"|[^<>",;@]*)\s*<([^<>]*)>\s*\Z')
_EMAIL_EXAMPLE = "check the address, e.g. name@example.com"


def _is_plain_email(text: str) -> bool:
    return (
        len(text) <= 254
        and _EMAIL_FAST.match(text) is not None
        and "--" not in text  # email_validator refuses "ab--c" labels that are not Punycode
        and not text.endswith(_SPECIAL_USE_ENDINGS)
    )


def _unwrap_email(text: str) -> str:
    """Drop a "mailto:" prefix, a display name, angle brackets and a trailing list separator around an address."""
    if text[:7].lower() == "mailto:":
        text = text[7:].strip()
    wrapped = _DISPLAY_NAME_FORM.match(text)
    if wrapped:
        text = wrapped[1].strip()
    if text.count("@") == 1:
        text = text.rstrip(",; ")  # "jane@example.com;" as copied from a mail client's recipient list
    return text


def _email_problem(raw: str, text: str, error: EmailNotValidError) -> FieldIssue:
    """The clearest explanation we can give, checking the common human mistakes before the library's wording."""
    shown = _shown(raw)
    at_signs = text.count("@")
    if at_signs == 0:
        return FieldIssue("invalid_email", f"{shown} has no @ sign", _EMAIL_EXAMPLE)
    if at_signs > 1 and any(separator in text for separator in ",; "):
        return FieldIssue("invalid_email", f"{shown} looks like more than one address", "put one address per contact")
    if at_signs > 1:
        return FieldIssue("invalid_email", f"{shown} has more than one @ sign", _EMAIL_EXAMPLE)
    if any(char.isspace() for char in text):
        return FieldIssue("invalid_email", f"{shown} contains a space", "remove the space from the address")
    # email_validator's own messages are clear ("The part after the @-sign is not valid. It should have a period.").
    return FieldIssue("invalid_email", f"{shown} is not a valid e-mail address: {error}", _EMAIL_EXAMPLE)


def normalize_email(raw: str) -> tuple[str | None, Fix | None]:
    """A lower-cased, syntax-checked e-mail address; blank gives None."""
    if _is_plain_email(raw):
        return raw, None
    text = raw.strip()
    if not text:
        return None, None
    text = _unwrap_email(text).lower()
    if not _is_plain_email(text):
        try:
            # Syntax only: no DNS, so no network and no dependence on a mail server being up.
            text = validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise _email_problem(raw, text, error) from None
    return text, None if text == raw else Fix("email_normalised", raw, text)


# --- Amounts ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NumberStyle:
    """Whether a file writes decimals with a comma (1.234,56) rather than a point (1,234.56)."""

    decimal_comma: bool


# Already canonical: what Money.parse accepts. Groups: sign, whole digits, fraction digits.
_PLAIN_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?\Z")
_PLAIN_COMMA_AMOUNT = re.compile(r"(-?)([0-9]+),([0-9]+)\Z")
# Hyphen-minus, unicode minus, en dash (word processors turn "-" into the latter two); escaped for use in [...].
_MINUS_SIGNS = r"\-−–"
_SPACES = " \u00a0\u202f\u2009"  # space, no-break space, narrow no-break space, thin space
_CURRENCY_TOKEN = rf"[^0-9\s()+{_MINUS_SIGNS}.,'’]+"
# Everything an amount may wear around its digits: currency before or after, a sign before or after,
# accounting parentheses. Combinations that make no sense (two signs, two currencies) are refused later.
# Groups match "" rather than being optional, which makes the regex about three times faster.
_AMOUNT_SHAPE = rf"""
    (\(?)\s*                                 # open
    ([+{_MINUS_SIGNS}]?)\s*                  # sign before the currency
    ({_CURRENCY_TOKEN}(?:\.(?=\s))?|)\s*     # currency before: "US$", "€", "USD", "Fr. "
    ([+{_MINUS_SIGNS}]?)\s*                  # sign after the currency
    (\(?)\s*                                 # open after the currency: "$ (12.00)"
    (NUMBER)                                 # the digits and separators
    \s*(\)?)                                 # close
    \s*([{_MINUS_SIGNS}]?)                   # trailing sign
    \s*({_CURRENCY_TOKEN}\.?|)               # currency after
    \s*([{_MINUS_SIGNS}]?)                   # sign after the currency
    \s*(\)?)                                 # close
    \Z
"""


def _styled_number(decimal_mark: str) -> str:
    """Digits grouped by threes with one separator throughout, then the file style's decimal mark and fraction."""
    separators = [char for char in f".,'’{_SPACES}" if char != decimal_mark]
    grouped = "|".join(rf"[1-9][0-9]{{0,2}}(?:{re.escape(sep)}[0-9]{{3}})+" for sep in separators)
    return rf"(?=[.,]?[0-9])(?:{grouped}|[0-9]*)(?:{re.escape(decimal_mark)}[0-9]*)?"


# Any digits and separators; _split_number works out which separator is which and refuses the rest.
_ANY_AMOUNT = re.compile(_AMOUNT_SHAPE.replace("NUMBER", rf"[.,]?[0-9][0-9.,'’{_SPACES}]*(?<=[0-9.,])"), re.VERBOSE)
# Well-formed numbers in the file's own style ("1,234.50" or "1.234,50"), the usual case, need no more checks.
_STYLED_AMOUNT = {
    decimal_comma: re.compile(_AMOUNT_SHAPE.replace("NUMBER", _styled_number(mark)), re.VERBOSE)
    for decimal_comma, mark in ((False, "."), (True, ","))
}
# Thousands grouping: 1,234,567 or 1 234 567 (one separator throughout), and Indian 12,34,567 (lakh, crore).
_WESTERN_GROUPING = re.compile(rf"[1-9][0-9]{{0,2}}([,.'’{_SPACES}])[0-9]{{3}}(?:\1[0-9]{{3}})*\Z")
_INDIAN_GROUPING = re.compile(rf"[1-9][0-9]?([,.'’{_SPACES}])(?:[0-9]{{2}}\1)+[0-9]{{3}}\Z")
_SCIENTIFIC = re.compile(r"[-+]?[0-9]*[.,]?[0-9]+[eE][-+]?[0-9]+\Z")
_AMOUNT_EXAMPLE = "use digits with an optional decimal point, e.g. 1234.50"


def _invalid_amount(raw: str, why: str, suggestion: str = _AMOUNT_EXAMPLE) -> FieldIssue:
    return FieldIssue("invalid_amount", f"{_shown(raw)} {why}", suggestion)


# Decimal places per currency as one dict lookup per cell, built from plixo.money.exponent (the one source of truth).
_PLACES = {code: exponent(code) for code in ISO_CURRENCIES}
# What a currency mark written next to the digits can mean: an ISO code itself, "$" any dollar, "¥" yen or yuan.
_MARK_MEANINGS: dict[str, frozenset[str]] = {code: frozenset({code}) for code in ISO_CURRENCIES}
_MARK_MEANINGS |= {symbol: frozenset({code}) for symbol, code in _SYMBOL_CURRENCY.items()}
_MARK_MEANINGS |= {symbol: codes | _MARK_MEANINGS.get(symbol, frozenset()) for symbol, codes in _SHARED_SYMBOLS.items()}


def _places(currency: str) -> int:
    """Minor-unit decimal places of the row's currency."""
    places = _PLACES.get(currency)
    if places is None:
        raise FieldIssue("unknown_currency", f"{_shown(currency)} is not a currency Plixo knows", _ISO_HINT)
    return places


def _decimal_mark(number: str) -> str | None:
    """The decimal mark the digits prove: "." or ",", "" for none, None when only the file's style can tell."""
    dot = number.rfind(".")
    comma = number.rfind(",")
    if dot < 0 and comma < 0:
        return ""
    if dot >= 0 and comma >= 0:
        return "." if dot > comma else ","  # 1.234,56 and 1,234.56: the last one is the decimal mark
    at = dot if dot >= 0 else comma
    separator = number[at]
    if number.count(separator) > 1:
        return ""  # 1.234.567: repeated, so grouping
    # One separator then exactly three digits after a 1-3 digit head (1,234) reads either way.
    if len(number) - at == 4 and 1 <= at <= 3 and number[0] != "0" and (number[:at] + number[at + 1 :]).isdigit():
        return None
    return separator


def _ungroup(raw: str, head: str) -> str:
    """The whole-number digits with thousands separators removed, refusing irregular grouping."""
    if head.isdigit() or not head:
        return head or "0"
    grouped = _WESTERN_GROUPING.match(head) or _INDIAN_GROUPING.match(head)
    if grouped is None:
        raise _invalid_amount(raw, "has irregular digit grouping", "remove the thousands separators, e.g. 1234.50")
    return head.replace(grouped[1], "")


def _split_number(raw: str, number: str, style: NumberStyle) -> tuple[str, str]:
    """Whole and fraction digits of a number written with any thousands and decimal separators."""
    mark = _decimal_mark(number)
    if mark is None:
        separator = "." if "." in number else ","
        mark = separator if (separator == ",") == style.decimal_comma else ""
    if not mark:
        return _ungroup(raw, number), ""
    head, _, fraction = number.rpartition(mark)
    if fraction and not fraction.isdigit():
        raise _invalid_amount(raw, "has digit separators after the decimal mark")
    return _ungroup(raw, head), fraction


def _decimal_places(count: int) -> str:
    return "no decimal places" if count == 0 else f"{count} decimal place{'s' if count > 1 else ''}"


def _too_many_decimals(raw: str, whole: str, fraction: str, currency: str, places: int) -> FieldIssue:
    # Whole has at most 19 significant digits here, so the default 28-digit context rounds exactly.
    rounded = Decimal(f"{whole}.{fraction}").quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return FieldIssue(
        "too_many_decimals",
        f"{_shown(raw)} has {_decimal_places(len(fraction.rstrip('0')))} but {currency} amounts have "
        f"{_decimal_places(places)}",
        f"round it to {'a whole number' if places == 0 else _decimal_places(places)}, e.g. {rounded}",
    )


def _too_large(raw: str) -> FieldIssue:
    return FieldIssue(
        "amount_too_large",
        f"{_shown(raw)} is larger than the largest amount Plixo can store",
        "check for extra digits or a misplaced separator",
    )


def _to_minor(raw: str, negative: bool, whole: str, fraction: str, currency: str, places: int) -> int:
    """Exact integer minor units from digit strings: what Money.from_decimal gives, with string and int work only."""
    # Check length first: int() of a 5,000-digit string is slow and then refused by Python anyway.
    if len(whole) > 19 and len(whole.lstrip("0")) > 19:
        raise _too_large(raw)
    if len(fraction) > places:
        if fraction[places:].strip("0"):
            raise _too_many_decimals(raw, whole, fraction, currency, places)
        fraction = fraction[:places]  # 12.500 USD is 12.50: trailing zeros lose nothing
    minor = int(whole + fraction + "0" * (places - len(fraction)))
    if minor > MAX_MINOR:
        raise _too_large(raw)
    return -minor if negative else minor


def _canonical(minor: int, places: int) -> str:
    """Plain decimal text with the currency's places: 123450 USD -> "1234.50", 5000 JPY -> "5000"."""
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor))
    if not places:
        return sign + digits
    digits = digits.rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def _check_currency_token(raw: str, token: str, currency: str) -> None:
    """Refuse a symbol or code next to the digits that is not the row's currency."""
    meanings = _MARK_MEANINGS.get(token) or _MARK_MEANINGS.get(_currency_key(token))
    if meanings is None:
        raise _invalid_amount(raw, f'contains "{token}", which is not a currency symbol or code')
    if currency not in meanings:
        raise FieldIssue(
            "currency_mismatch",
            f'{_shown(raw)} is marked "{token}" but the row\'s currency is {currency}',
            "correct the currency column or the amount",
        )


def _unreadable_amount(raw: str, text: str) -> FieldIssue:
    """Why text is not an amount, naming spreadsheet artefacts specifically because they are the usual cause."""
    if not text:
        return FieldIssue("invalid_amount", "the amount is empty", "enter an amount such as 0.00")
    if text[0] in "=@":
        # Never evaluated: "=cmd|' /C calc'!A0" is how CSV injection starts.
        return _invalid_amount(raw, "is a spreadsheet formula, not a value", "export calculated values, not formulas")
    if text[0] == "#":
        return _invalid_amount(raw, "is a spreadsheet error", "fix the cell in the spreadsheet and export again")
    if _SCIENTIFIC.match(text):
        return _invalid_amount(
            raw,
            "is in scientific notation, which may have lost digits",
            "format the column as a number with all its digits before exporting",
        )
    return _invalid_amount(raw, "is not an amount")


def _check_signs(raw: str, opening: str, closing: str, signs: str) -> None:
    """Refuse unbalanced parentheses and more than one sign: "-(12.00)" and "--12" could mean either."""
    if len(opening) != len(closing) or len(opening) > 1:
        raise _invalid_amount(raw, "has unbalanced parentheses")
    if len(signs) + len(opening) > 1:
        raise _invalid_amount(raw, "has more than one sign", "write negatives one way only, e.g. -12.00")


def _parse_messy_amount(raw: str, currency: str, places: int, style: NumberStyle) -> int:
    """Minor units from an amount with symbols, separators, signs or parentheses around it."""
    text = raw.strip()
    first = text[:1]
    if first == "'" and len(text) > 1:
        text = text[1:]  # a leading apostrophe is Excel's "keep as text" marker, not part of the value
        first = text[:1]
    if first in ("=", "@", "#", ""):
        raise _unreadable_amount(raw, text)
    parts = _STYLED_AMOUNT[style.decimal_comma].match(text)
    styled = parts is not None
    if not styled:
        parts = _ANY_AMOUNT.match(text)
        if parts is None:
            raise _unreadable_amount(raw, text)
    open1, sign1, before, sign2, open2, number, close2, sign3, after, sign4, close1 = parts.groups()
    signs = sign1 + sign2 + sign3 + sign4  # unused groups match ""
    parentheses = open1 + open2 + close1 + close2
    if parentheses or len(signs) > 1:
        _check_signs(raw, open1 + open2, close1 + close2, signs)
    if before and after:
        raise _invalid_amount(raw, "has a currency both before and after the number")
    if before or after:
        _check_currency_token(raw, before or after, currency)
    if styled:
        head, _, fraction = number.partition("," if style.decimal_comma else ".")
        if not head.isdigit():
            # Grouped by threes with one separator, so the fourth character from the end is the separator.
            head = head.replace(head[-4], "") if head else "0"
        whole = head
    else:
        whole, fraction = _split_number(raw, number, style)
    negative = parentheses != "" or (signs != "" and signs != "+")
    return _to_minor(raw, negative, whole, fraction, currency, places)


def parse_amount(raw: str, currency: str, style: NumberStyle) -> tuple[int, Fix | None]:
    """Exact integer minor units of `currency` from an amount as people and spreadsheets write it."""
    places = _places(currency)
    plain = _PLAIN_AMOUNT.match(raw)
    # With a decimal comma, "1.234" is one thousand two hundred and thirty-four, so it is not plain.
    if plain is not None and not (style.decimal_comma and plain[3] is not None and len(plain[3]) == 3):
        return _to_minor(raw, plain[1] == "-", plain[2], plain[3] or "", currency, places), None
    comma = _PLAIN_COMMA_AMOUNT.match(raw) if style.decimal_comma else None
    if comma is not None:
        minor = _to_minor(raw, comma[1] == "-", comma[2], comma[3], currency, places)
    else:
        minor = _parse_messy_amount(raw, currency, places, style)
    return minor, Fix("amount_reformatted", raw, _canonical(minor, places))


def _separator_vote(sample: str) -> str | None:
    """The decimal mark one sample proves, or None when it is ambiguous or not a number."""
    parts = _ANY_AMOUNT.match(sample.strip())
    if parts is None:
        return None
    number = parts[6]
    mark = _decimal_mark(number)
    if mark == "":
        # Repeated separators are grouping, which tells us the other one is the decimal mark.
        if number.count(".") > 1:
            return ","
        if number.count(",") > 1:
            return "."
        return None
    return mark


def detect_number_style(samples: Iterable[str]) -> NumberStyle:
    """The decimal mark most of a column's unambiguous samples use; a decimal point when they do not say."""
    comma_votes = point_votes = 0
    for sample in samples:
        vote = _separator_vote(sample)
        if vote == ",":
            comma_votes += 1
        elif vote == ".":
            point_votes += 1
    return NumberStyle(decimal_comma=comma_votes > point_votes)


# --- Dates ------------------------------------------------------------------------------------------

# Every format also reads a trailing time ("2026-01-31T09:30:00Z", "1/31/2026 9:30 PM"), which is dropped:
# due dates are days, and exports from spreadsheets and APIs add midnight times to them.
DATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("%Y-%m-%d", "2026-01-31"),
    ("%Y/%m/%d", "2026/01/31"),
    ("%Y%m%d", "20260131"),
    ("%d/%m/%Y", "31/01/2026"),
    ("%m/%d/%Y", "01/31/2026"),
    ("%d/%m/%y", "31/01/26"),
    ("%m/%d/%y", "01/31/26"),
    ("%d.%m.%Y", "31.01.2026"),
    ("%d.%m.%y", "31.01.26"),
    ("%d-%m-%Y", "31-01-2026"),
    ("%m-%d-%Y", "01-31-2026"),
    ("%d-%b-%Y", "31-Jan-2026"),
    ("%d-%b-%y", "31-Jan-26"),
    ("%d %b %Y", "31 Jan 2026"),
    ("%d %B %Y", "31 January 2026"),
    ("%b %d, %Y", "Jan 31, 2026"),
    ("%B %d, %Y", "January 31, 2026"),
)
_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)
_FULL_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_SHORT_MONTHS = {name[:3]: number for number, name in enumerate(_MONTH_NAMES, start=1)} | {"sept": 9}
# Each strptime directive as a regex. Numbers may drop leading zeros (1/5/2026), as strptime allows.
_DIRECTIVE_PATTERNS = {
    "d": "([0-9]{1,2})",
    "m": "([0-9]{1,2})",
    "Y": "([0-9]{4})",
    "y": "([0-9]{2})",
    "b": r"([A-Za-z]{3,4})\.?",
    "B": "([A-Za-z]{3,9})",
}
_LITERAL_PATTERNS = {" ": "[ \u00a0]+", ",": ",?"}  # "Jan 31 2026" and double spaces are the same date
# Optional time after any date: hours, minutes, seconds, fraction, AM/PM and zone. Groups: hour, minute, second.
_TIME_SUFFIX = (
    r"(?:(?:T|[ \u00a0]+)([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]{1,9})?)?"
    r"(?:[ \u00a0]?[AaPp][Mm])?(?:[ \u00a0]?(?:Z|UTC|GMT|[+-][0-9]{2}(?::?[0-9]{2})?))?)?"
)
_DIRECTIVE_NAMES = {
    "d": "DD", "m": "MM", "Y": "YYYY", "y": "YY", "b": "Mon", "B": "Month", "H": "hh", "M": "mm", "S": "ss",
}
_TIME_DIRECTIVES = re.compile(r"(?:T|\s+)%[HI]\S*(?:\s+%p)?(?:\s*%z)?\Z")
_EXCEL_SERIAL = re.compile(r"[0-9]{5}(?:\.[0-9]+)?\Z")


@dataclass(frozen=True, slots=True)
class _DateFormat:
    """A supported format compiled to a regex, with the group number of each part."""

    pattern: re.Pattern[str]
    year: int
    two_digit_year: bool
    month: int
    month_names: dict[str, int] | None  # None for numeric months
    day: int
    hour: int  # the time suffix's first group; minute and second follow it


def _compile_date_format(fmt: str) -> _DateFormat:
    pieces = re.findall(r"%.|.", fmt)
    regex: list[str] = []
    groups: dict[str, int] = {}
    for index, piece in enumerate(pieces):
        if not piece.startswith("%"):
            regex.append(_LITERAL_PATTERNS.get(piece, re.escape(piece)))
            continue
        directive = piece[1]
        pattern = _DIRECTIVE_PATTERNS[directive]
        neighbours = pieces[max(index - 1, 0) : index] + pieces[index + 1 : index + 2]
        if directive in "dm" and any(other.startswith("%") for other in neighbours):
            pattern = "([0-9]{2})"  # 20260131: without separators only fixed widths can be split
        groups[directive] = len(groups) + 1
        regex.append(pattern)
    month_names = _SHORT_MONTHS if "b" in groups else _FULL_MONTHS if "B" in groups else None
    return _DateFormat(
        pattern=re.compile("".join(regex) + _TIME_SUFFIX + r"\Z"),
        year=groups.get("Y") or groups["y"],
        two_digit_year="y" in groups,
        month=groups.get("m") or groups.get("b") or groups["B"],
        month_names=month_names,
        day=groups["d"],
        hour=len(groups) + 1,
    )


_DATE_FORMATS = {fmt: _compile_date_format(fmt) for fmt, _example in DATE_FORMATS}
_EXAMPLES = dict(DATE_FORMATS)


def _read_date(spec: _DateFormat, text: str) -> dt.date | None:
    """The date text holds in this format, or None; years outside 1900..2999 do not count."""
    found = spec.pattern.match(text)
    if found is None:
        return None
    year = int(found[spec.year])
    if spec.two_digit_year:
        year += 2000 if year < 70 else 1900  # 00-69 -> 2000s, 70-99 -> 1900s, as strptime does
    if spec.month_names is None:
        month: int | None = int(found[spec.month])
    else:
        month = spec.month_names.get(found[spec.month].lower())
    if month is None or not 1900 <= year <= 2999:
        return None
    if found[spec.hour] is not None and not _valid_time(found, spec.hour):
        return None
    try:
        return dt.date(year, month, int(found[spec.day]))
    except ValueError:
        return None  # 31/02/2026 and friends


def _valid_time(found: re.Match[str], hour_group: int) -> bool:
    """The dropped time must still be a time, so "2026-01-31 99:99" is refused rather than quietly read."""
    seconds = found[hour_group + 2]
    return int(found[hour_group]) < 24 and int(found[hour_group + 1]) < 60 and (seconds is None or int(seconds) <= 60)


@dataclass(frozen=True, slots=True)
class DateColumnGuess:
    """Which date format a column uses, or the candidates the user must choose between."""

    format: str | None
    ambiguous: tuple[str, ...]
    unparsed: tuple[str, ...]


def _same_reading(fmt: str) -> str:
    """Formats that can never disagree share this key: "May" is both an abbreviation and a full name."""
    return fmt.replace("%B", "%b")


def detect_date_format(samples: Iterable[str]) -> DateColumnGuess:
    """The format that reads the most samples, or the day-first/month-first candidates when samples cannot tell."""
    values = [text for text in (sample.strip() for sample in samples) if text]
    if not values:
        return DateColumnGuess(None, (), ())
    readings = {fmt: [_read_date(spec, value) for value in values] for fmt, spec in _DATE_FORMATS.items()}
    counts = {fmt: len(dates) - dates.count(None) for fmt, dates in readings.items()}
    best = max(counts.values())
    if best == 0:
        return DateColumnGuess(None, (), tuple(dict.fromkeys(values))[:5])
    # A few typos should not hide the format, so the winner is the format reading the most samples, not all.
    candidates: dict[str, str] = {}
    for fmt, count in counts.items():
        if count == best:
            candidates.setdefault(_same_reading(fmt), fmt)
    chosen = tuple(candidates.values())
    unread = (value for index, value in enumerate(values) if all(readings[fmt][index] is None for fmt in chosen))
    unparsed = tuple(dict.fromkeys(unread))[:5]
    if len(chosen) == 1:
        return DateColumnGuess(chosen[0], (), unparsed)
    return DateColumnGuess(None, chosen, unparsed)


def describe_date_format(fmt: str) -> str:
    """The format as people read it: "DD/MM/YYYY (e.g. 31/01/2026)"."""
    pattern = re.sub(r"%(.)", lambda directive: _DIRECTIVE_NAMES.get(directive[1], directive[0]), fmt)
    example = _EXAMPLES.get(fmt) or dt.datetime(2026, 1, 31).strftime(fmt)
    return f"{pattern} (e.g. {example})"


def _invalid_date(raw: str, text: str, fmt: str) -> FieldIssue:
    expected = describe_date_format(fmt)
    if not text:
        return FieldIssue("invalid_date", "the date is empty", f"enter a date as {expected}")
    if _EXCEL_SERIAL.match(text):
        return FieldIssue(
            "invalid_date",
            f"{_shown(raw)} looks like a spreadsheet date serial number",
            f"format the column as dates before exporting, as {expected}",
        )
    spec = _DATE_FORMATS.get(fmt) or _format_with_time(fmt)
    if spec is not None and spec.pattern.match(text):
        # It has the right shape, so the day, month name, time or year (1900-2999) is out of range.
        suggestion = f"check the day, month and year (1900-2999): {expected}"
        return FieldIssue("invalid_date", f"{_shown(raw)} is not a valid date", suggestion)
    return FieldIssue("invalid_date", f"{_shown(raw)} is not a date in the expected format", f"use {expected}")


@functools.lru_cache(maxsize=64)
def _format_with_time(fmt: str) -> _DateFormat | None:
    """A supported format followed by a time ("%Y-%m-%dT%H:%M:%S") reads like the date alone: times are dropped."""
    date_part = _TIME_DIRECTIVES.sub("", fmt)
    return _DATE_FORMATS.get(date_part) if date_part != fmt else None


def _parse_other_format(raw: str, text: str, fmt: str) -> dt.date:
    """A format outside DATE_FORMATS, read with strptime (slower, but correct for any format)."""
    try:
        value = dt.datetime.strptime(text, fmt).date()
    except ValueError:
        raise _invalid_date(raw, text, fmt) from None
    if not 1900 <= value.year <= 2999:
        raise _invalid_date(raw, text, fmt)
    return value


def parse_date(raw: str, fmt: str) -> dt.date:
    """The date in raw, read with a format from DATE_FORMATS (or any strptime format)."""
    text = raw.strip()
    spec = _DATE_FORMATS.get(fmt) or _format_with_time(fmt)
    if spec is None:
        return _parse_other_format(raw, text, fmt)
    value = _read_date(spec, text)
    if value is None:
        raise _invalid_date(raw, text, fmt)
    return value
