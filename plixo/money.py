"""Exact money: integer minor units with an ISO 4217 currency, never floats."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, Inexact, InvalidOperation, localcontext

# Minor-unit exponents where they differ from 2 (ISO 4217).
_EXPONENT_EXCEPTIONS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "CLF": 4,
    "UYW": 4,
}
# Active ISO 4217 alphabetic codes (funds and precious-metal codes left out on purpose).
ISO_CURRENCIES = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)
_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CAD": "CA$",
    "AUD": "A$",
    "CHF": "CHF ",
    "INR": "₹",
    "MXN": "MX$",
    "BRL": "R$",
    "SEK": "SEK ",
    "NZD": "NZ$",
    "SGD": "S$",
}
_AMOUNT_RE = re.compile(r"^-?\d+(\.\d+)?$")

# Currency symbols as people write them, next to amounts and in currency columns: read by the amount parser
# (plixo.amounts) and the importer's currency column. These name exactly one currency; keys are as currency_key
# spells them.
SYMBOL_CURRENCY = {
    "US$": "USD",
    "USD$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",  # also the yuan's sign; a CNY workspace gets CNY through SHARED_SYMBOLS
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
SHARED_SYMBOLS = {
    "$": _DOLLAR_CURRENCIES,
    "¥": frozenset({"JPY", "CNY"}),
    "KR": frozenset({"SEK", "NOK", "DKK", "ISK"}),
    "KR.": frozenset({"SEK", "NOK", "DKK", "ISK"}),
}
ISO_CODE_HINT = "use a 3-letter ISO 4217 code such as USD"  # what to tell someone whose currency Plixo cannot read


def currency_key(text: str) -> str:
    """A currency code or symbol as the tables above spell it: upper case, spaces removed ("us $" -> "US$")."""
    return text.upper().replace(" ", "")


MAX_MINOR = 2**63 - 1  # what a BIGINT column holds


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


def is_currency(code: str) -> bool:
    return code in ISO_CURRENCIES


def exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has."""
    if currency not in ISO_CURRENCIES:
        raise MoneyError(f"unknown currency code {currency!r}")
    return _EXPONENT_EXCEPTIONS.get(currency, 2)


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self):
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError("money is held in integer minor units")
        if abs(self.minor) > MAX_MINOR:
            raise MoneyError("amount is too large")
        exponent(self.currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a plain decimal string ("1234.5") exactly; more places than the currency has is an error."""
        text = text.strip()
        if not _AMOUNT_RE.match(text):
            raise MoneyError(f"{text!r} is not an amount")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise MoneyError(f"{text!r} is not an amount") from exc
        return cls.from_decimal(value, currency)

    @classmethod
    def from_decimal(cls, value: Decimal, currency: str) -> Money:
        places = exponent(currency)
        if not value.is_finite():
            raise MoneyError(f"{value} is not an amount")
        # Exact scaling: a context wide enough for any stored amount, trapping any rounding.
        with localcontext() as context:
            context.prec = 60
            context.traps[Inexact] = True
            scaled = value.scaleb(places)
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"{value} has more decimal places than {currency} allows ({places})")
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def format(self, compact: bool = False) -> str:
        """Human text: "$1,234.50", "-€12.00", "¥5,000"; compact gives "$48k"."""
        return format_money(self.minor, self.currency, compact=compact)

    def __str__(self) -> str:
        return self.format()


def format_money(minor: int, currency: str, compact: bool = False, code: bool = False) -> str:
    """Format integer minor units of `currency` for display; with `code`, named by its ISO code ("GBP 7,000.00")
    rather than its symbol, where amounts of several currencies stand side by side."""
    places = exponent(currency)
    value = Decimal(abs(minor)).scaleb(-places)
    symbol = currency + " " if code else _SYMBOLS.get(currency, currency + " ")
    sign = "-" if minor < 0 else ""
    if compact:
        for divisor, suffix in ((Decimal(1_000_000_000), "B"), (Decimal(1_000_000), "M"), (Decimal(1000), "k")):
            # Round before choosing the unit, so 999,950 reads "1M" rather than "1000k".
            short = (value / divisor).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
            if short >= 1:
                return f"{sign}{symbol}{short.normalize():f}{suffix}"
    return f"{sign}{symbol}{value:,.{places}f}"
