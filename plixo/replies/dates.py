"""Dates as payers write them in replies ("Friday", "the 15th", "Dec 10", "12/10", "end of the month"), resolved
from the day the reply arrived. Only dates on or after that day are returned: a reply's past dates (an invoice
date, the day a cheque was posted) are not what it promises or when its writer is back."""

from __future__ import annotations

import calendar
import datetime as dt
import re

WEEKDAYS = {name: index for index, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday",
                                                       "saturday", "sunday"))}
WEEKDAYS |= {name[:3]: index for name, index in list(WEEKDAYS.items())}
# The weekdays of the replies Plixo sees most besides English: German, French, Spanish.
FOREIGN_WEEKDAYS = {"montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4,
                    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4,
                    "lunes": 0, "martes": 1, "miércoles": 2, "miercoles": 2, "jueves": 3, "viernes": 4}
MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}
MONTHS |= {name[:3]: index for name, index in list(MONTHS.items())}

_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_PATTERNS = [
    ("iso", re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")),
    ("month_day", re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?:,?\s+(\d{{4}}))?", re.I)),
    ("day_month", re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+(\d{{4}}))?", re.I)),
    ("dotted", re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")),
    ("slashed", re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")),
    ("relative", re.compile(r"\b(today|tomorrow|end of (?:the )?(?:week|month|year)|(?:this|next)?\s*"
                            r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*day|(?:este|ce|diesen|am|nächsten|prochain)?\s*"
                            rf"(?:{'|'.join(FOREIGN_WEEKDAYS)}))\b", re.I)),
    ("ordinal", re.compile(r"\b(?:on\s+|by\s+)?the\s+(\d{1,2})(?:st|nd|rd|th)\b|\b(\d{1,2})(?:st|nd|rd|th)\b", re.I)),
]


# Where 12/10 means December 10th; elsewhere it is 12 October. Either way 25/12 and 12/25 read themselves.
_MONTH_FIRST_ZONES = {"Pacific/Honolulu", "Asia/Manila", "America/Puerto_Rico", "Pacific/Guam"}
_MONTH_FIRST_PREFIXES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
                         "America/Phoenix", "America/Anchorage", "America/Detroit", "America/Boise", "America/Juneau",
                         "America/Indiana/", "America/Kentucky/", "America/North_Dakota/", "America/Menominee",
                         "America/Adak", "America/Sitka", "America/Nome", "America/Yakutat", "US/")


def month_first_zone(zone: str | None) -> bool:
    """Whether people in this time zone write month before day (the United States and a few others)."""
    return bool(zone) and (zone in _MONTH_FIRST_ZONES or zone.startswith(_MONTH_FIRST_PREFIXES))


def future_dates(text: str, received: dt.date, month_first: bool = True) -> list[tuple[int, dt.date]]:
    """(position, date) of every date in `text` on or after `received`, in the order they are written. An
    ambiguous 12/10 is read month first or day first as `month_first` says."""
    found: dict[int, dt.date] = {}
    taken: list[range] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() in span or match.end() + 3 in span for span in taken):
                continue  # "Friday, 4 December": the day-month already read, and the weekday only names it
            value = _resolve(kind, match, received, month_first)
            if value is None:
                continue
            taken.append(range(match.start(), match.end()))  # a past date's digits are not read again as a day
            if value >= received:
                found[match.start()] = value
    return sorted(found.items())


def _resolve(kind: str, match: re.Match, received: dt.date, month_first: bool = True) -> dt.date | None:
    try:
        if kind == "iso":
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        if kind == "month_day":
            return _in_year(received, _month(match[1]), int(match[2]), match[3])
        if kind == "day_month":
            return _in_year(received, _month(match[2]), int(match[1]), match[3])
        if kind == "dotted":
            return dt.date(int(match[3]), int(match[2]), int(match[1]))
        if kind == "slashed":
            first, second = int(match[1]), int(match[2])
            if first > 12 or (second <= 12 and not month_first):
                first, second = second, first  # day/month
            return _in_year(received, first, second, match[3])
        if kind == "relative":
            return _relative(match[1].lower(), received)
        return _day_of_month(received, int(match[1] or match[2]))
    except (ValueError, KeyError):
        return None


def _month(name: str) -> int:
    return MONTHS[name.lower()[:3]]


def _in_year(received: dt.date, month: int, day: int, year: str | None) -> dt.date:
    if year:
        return dt.date(int(year) + (2000 if len(year) == 2 else 0), month, day)
    value = dt.date(received.year, month, day)
    # "January 5" written in December is next January; a date two months back stays in the past.
    return dt.date(received.year + 1, month, day) if (received - value).days > 60 else value


def _day_of_month(received: dt.date, day: int) -> dt.date | None:
    """"The 15th": this month's, or next month's once it has passed; "the 31st" of a shorter month is its last day."""
    if not 1 <= day <= 31:
        return None
    month = received.replace(day=1)
    if day < received.day:
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return month.replace(day=min(day, calendar.monthrange(month.year, month.month)[1]))


def _relative(phrase: str, received: dt.date) -> dt.date | None:
    if phrase == "today":
        return received
    if phrase == "tomorrow":
        return received + dt.timedelta(days=1)
    if phrase.startswith("end of"):
        if phrase.endswith("week"):
            return received + dt.timedelta(days=(4 - received.weekday()) % 7)
        if phrase.endswith("year"):
            return dt.date(received.year, 12, 31)
        return received.replace(day=calendar.monthrange(received.year, received.month)[1])
    words = phrase.split()
    weekday = FOREIGN_WEEKDAYS.get(words[-1], WEEKDAYS.get(words[-1][:3]))
    if weekday is None:
        return None
    if words[0] in ("next", "nächsten", "prochain"):  # "next Tuesday": in the week after this one
        monday_next_week = received + dt.timedelta(days=7 - received.weekday())
        return monday_next_week + dt.timedelta(days=weekday)
    return received + dt.timedelta(days=(weekday - received.weekday() - 1) % 7 + 1)
