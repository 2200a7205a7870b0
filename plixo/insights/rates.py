"""Exchange rates a workspace's figures convert at: dated, exact, entered by hand or from a CSV.

A rate says how much one unit of a currency is worth in the base currency from its day on, until a later rate. A
figure as of a day uses the latest rate on or before it; an amount with no such rate is reported apart, never
converted with a guess. Rates are exact decimals (text in the database, `Decimal` here), and a converted amount is
rounded once, half to even, to the base currency's minor unit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.actions import ActionError
from plixo.insights.models import ExchangeRate
from plixo.money import ISO_CODE_HINT, exponent, is_currency

MAX_RATE = Decimal(10) ** 9
MAX_PLACES = 12
MAX_CSV_ROWS = 20_000
CSV_COLUMNS = ("currency", "date", "rate")


@dataclass(frozen=True)
class Converter:
    """Amounts into the base currency at the rates of one day."""

    base: str
    rates: Mapping[str, Decimal]

    def __call__(self, minor: int, currency: str) -> int | None:
        """`minor` units of `currency` in base minor units, or None when there is no rate for it."""
        if currency == self.base:
            return minor
        rate = self.rates.get(currency)
        if rate is None:
            return None
        value = Decimal(minor) * rate * Decimal(10) ** (exponent(self.base) - exponent(currency))
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))

    def total(self, by_currency: Mapping[str, int]) -> tuple[int, dict[str, int]]:
        """The sum in base minor units of the amounts that convert, and the amounts that do not, per currency."""
        converted, apart = 0, {}
        for currency, minor in by_currency.items():
            value = self(minor, currency)
            if value is None:
                apart[currency] = minor
            else:
                converted += value
        return converted, apart


def converter_on(session: Session, org: Organization, day: dt.date) -> Converter:
    """The workspace's latest rate per currency on or before `day`, into its base currency."""
    latest = (select(ExchangeRate.currency, func.max(ExchangeRate.day).label("day"))
              .where(ExchangeRate.day <= day, ExchangeRate.base_currency == org.base_currency)
              .group_by(ExchangeRate.currency).subquery())
    rows = session.execute(select(ExchangeRate.currency, ExchangeRate.rate).join(
        latest, (latest.c.currency == ExchangeRate.currency) & (latest.c.day == ExchangeRate.day))
        .where(ExchangeRate.base_currency == org.base_currency))
    return Converter(org.base_currency, {currency: Decimal(rate) for currency, rate in rows})


def parse_rate(text: str) -> Decimal:
    """A rate as typed: a positive decimal with a point, at most 12 places."""
    cleaned = (text or "").strip()
    try:
        rate = Decimal(cleaned)
    except InvalidOperation:
        raise ActionError(f"“{cleaned[:20]}” is not a rate: use digits with a decimal point, e.g. 1.0842.",
                          "rate") from None
    if not rate.is_finite() or rate <= 0 or rate >= MAX_RATE:
        raise ActionError("A rate must be above 0 and below 1,000,000,000.", "rate")
    if "e" in cleaned.lower() or -rate.as_tuple().exponent > MAX_PLACES:
        raise ActionError(f"Use at most {MAX_PLACES} decimal places, written out (no exponent).", "rate")
    return rate


def parse_currency(text: str, base: str) -> str:
    code = (text or "").strip().upper()
    if not is_currency(code):
        raise ActionError(f"“{code[:10]}” is not a currency: {ISO_CODE_HINT}.", "currency")
    if code == base:
        raise ActionError(f"{base} is the base currency: it needs no rate.", "currency")
    return code


def parse_day(text: str, today: dt.date) -> dt.date:
    try:
        day = dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise ActionError("Enter the date as YYYY-MM-DD.", "day") from None
    if day > today + dt.timedelta(days=366) or day.year < 1990:
        raise ActionError("Enter a date between 1990 and a year from now.", "day")
    return day


def set_rate(session: Session, org: Organization, user: User, currency: str, day: dt.date, rate: Decimal,
             source: str = "manual") -> ExchangeRate:
    """Record the rate of `currency` from `day` on (replacing one of the same day), audited."""
    existing = session.scalar(select(ExchangeRate).where(ExchangeRate.currency == currency, ExchangeRate.day == day))
    before = {"rate": existing.rate, "base_currency": existing.base_currency} if existing else None
    if existing is None:
        existing = ExchangeRate(org_id=org.id, currency=currency, day=day)
        session.add(existing)
    existing.rate, existing.base_currency = str(rate), org.base_currency
    existing.source, existing.entered_by_id = source, user.id
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="insights.rate_set", subject=existing, before=before,
                 after={"currency": currency, "day": day.isoformat(), "rate": str(rate),
                        "base_currency": org.base_currency, "source": source})
    return existing


def delete_rate(session: Session, org: Organization, user: User, rate: ExchangeRate) -> None:
    audit.record(session, org_id=org.id, actor=user, action="insights.rate_deleted", subject=rate,
                 before={"currency": rate.currency, "day": rate.day.isoformat(), "rate": rate.rate})
    session.execute(delete(ExchangeRate).where(ExchangeRate.id == rate.id))


def rates_from_csv(raw: bytes, base: str, today: dt.date) -> list[tuple[str, dt.date, Decimal]]:
    """The rows of a rates CSV (currency, date, rate; a header row first), all checked before any is kept."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ActionError("The file is not UTF-8 text. Save it as CSV (UTF-8) and try again.", "file") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [cell.strip().lower() for cell in rows[0]] != list(CSV_COLUMNS):
        raise ActionError("The first row must be the header: currency,date,rate.", "file")
    body = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    if not body:
        raise ActionError("The file has a header but no rates.", "file")
    if len(body) > MAX_CSV_ROWS:
        raise ActionError(f"At most {MAX_CSV_ROWS:,} rates per file.", "file")
    return [_csv_row(row, line, base, today) for line, row in _numbered(rows)]


def _numbered(rows: list[list[str]]) -> Iterable[tuple[int, list[str]]]:
    return ((line, row) for line, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row))


def _csv_row(row: list[str], line: int, base: str, today: dt.date) -> tuple[str, dt.date, Decimal]:
    if len(row) != len(CSV_COLUMNS):
        raise ActionError(f"Line {line}: expected 3 values (currency, date, rate), found {len(row)}.", "file")
    try:
        return parse_currency(row[0], base), parse_day(row[1], today), parse_rate(row[2])
    except ActionError as error:
        raise ActionError(f"Line {line}: {error.message}", "file") from None


def import_rates(session: Session, org: Organization, user: User, rows: list[tuple[str, dt.date, Decimal]]) -> int:
    for currency, day, rate in rows:
        set_rate(session, org, user, currency, day, rate, source="csv")
    return len(rows)
