"""Per-value parsers for CSV imports: accept messy finance data, report every change, refuse what is unsafe.
Amounts are read by plixo.amounts (core: forms read them too).

Each parser returns the clean value plus a Fix describing any automatic change, or raises FieldIssue
with a message and a suggestion. They run once per cell on files of up to millions of values, so the
common case takes a precompiled-regex fast path and the forgiving parsing only runs on odd values.

Measured per call with timeit (CPython 3.11 on the 2-core dev machine, best of 30 x 20,000 calls):
    normalize_currency("USD", ...)                 0.06 µs   already valid: one set lookup
    normalize_currency("usd" / "US$", ...)         0.65-0.75 µs
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

import email_validator
from email_validator import EmailNotValidError, validate_email

from plixo.money import ISO_CODE_HINT, ISO_CURRENCIES, SHARED_SYMBOLS, SYMBOL_CURRENCY, currency_key
from plixo.values import Fix, UnusableValueError, quoted


class FieldIssue(UnusableValueError):  # noqa: N818 - the import API names it an issue, not an error
    """A value that cannot be used."""


# --- Currency ---------------------------------------------------------------------------------------

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


def _symbol_currency(key: str, workspace_currency: str) -> str | None:
    """The currency a symbol names, given the workspace; None when the symbol is unknown or shared."""
    shared = SHARED_SYMBOLS.get(key)
    if shared is not None and workspace_currency in shared:
        return workspace_currency
    return SYMBOL_CURRENCY.get(key)


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
        suggestion = ISO_CODE_HINT
    return FieldIssue("unknown_currency", f"{quoted(raw)} is not a currency Plixo knows", suggestion)


def normalize_currency(raw: str, workspace_currency: str) -> tuple[str, Fix | None]:
    """An ISO 4217 code from a code in any case or a currency symbol; blank means the workspace currency."""
    if raw in ISO_CURRENCIES:  # the overwhelmingly common case, no allocation
        return raw, None
    text = raw.strip()
    if not text:
        return workspace_currency, Fix("blank_currency_defaulted", raw, workspace_currency)
    key = currency_key(text)
    code = key if key in ISO_CURRENCIES else _symbol_currency(key, workspace_currency)
    if code is not None:
        return code, Fix("currency_normalised", raw, code)
    if key in SHARED_SYMBOLS:
        examples = ", ".join(sorted(SHARED_SYMBOLS[key] & {"USD", "CAD", "AUD", "SEK", "NOK", "DKK", "JPY", "CNY"}))
        raise FieldIssue(
            "ambiguous_currency",
            f"{quoted(raw)} is used by several currencies and the workspace currency is {workspace_currency}",
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
    shown = quoted(raw)
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
            f"{quoted(raw)} looks like a spreadsheet date serial number",
            f"format the column as dates before exporting, as {expected}",
        )
    spec = _DATE_FORMATS.get(fmt) or _format_with_time(fmt)
    if spec is not None and spec.pattern.match(text):
        # It has the right shape, so the day, month name, time or year (1900-2999) is out of range.
        suggestion = f"check the day, month and year (1900-2999): {expected}"
        return FieldIssue("invalid_date", f"{quoted(raw)} is not a valid date", suggestion)
    return FieldIssue("invalid_date", f"{quoted(raw)} is not a date in the expected format", f"use {expected}")


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
