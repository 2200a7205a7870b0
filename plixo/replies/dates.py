"""Dates as payers write them in replies ("Friday", "the 15th", "Dec 10", "12/10", "10. Dezember", "end of the
month", "within 10 days", "week 50"), resolved from the day the reply arrived.

`written_dates` gives every date as the writer meant it, past ones included ("we paid on 20 Nov");
`future_dates` keeps those on or after the day the reply arrived, since a reply's past dates (an invoice date, the
day a cheque was posted) are not what it promises or when its writer is back; `date_ranges` gives the spans written
"14–18 Dec" or "from 12/14 to 12/18". A date written without its year is the one at most about two months back or
else the one ahead: "20 Nov" in December is last month's, "5 January" in December next month's.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

from plixo.replies.date_habits import month_first_for, month_first_zone
from plixo.replies.date_phrases import (
    MONTHS,
    day_of_month,
    end_of,
    in_year,
    iso_week_friday,
    last_weekday_of,
    month_number,
    relative_day,
    week_part,
    within,
)

__all__ = ["date_ranges", "future_dates", "month_first_for", "month_first_zone", "written_dates"]

_LONG_MONTH_NAMES = "|".join(sorted((name for name in MONTHS if not name.isascii() or len(name) > 3), key=len,
                                  reverse=True))
_MONTH = (rf"(?P<month>(?:jan(?:uary)?|feb(?:ruary|uary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          rf"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|{_LONG_MONTH_NAMES}|okt|dez|mrz)\b\.?)")
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th|er|e)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
_ENGLISH_WEEKDAY = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*day"
_TO = r"\s*(?:-|–|—|to|until|till|through|thru|bis|au|al)\s*"
_COUNT = r"\d{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten|fourteen|thirty"

# In order: a longer phrase is read before the shorter ones inside it ("the last Friday of the month" is not
# this Friday; "14–18 Dec" is not just the 18th).
_PATTERNS = [
    ("iso", re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b")),
    ("last_weekday_of", re.compile(
        rf"\blast\s+(?P<which>(?:working|business)\s+day|weekday|{_ENGLISH_WEEKDAY})\s+(?:of|in)\s+(?:the\s+|this\s+)?"
        rf"(?:(?P<relative>(?:next\s+)?month)\b|{_MONTH}){_YEAR}", re.I)),
    ("week_part", re.compile(r"\b(?:the\s+)?(?P<part>early|beginning\s+of|start\s+of|mid|middle\s+of|late|end\s+of)"
                             r"[\s-]*(?:the\s+)?next\s+week\b", re.I)),
    ("end_of", re.compile(rf"\b(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(?:(?P<relative>(?:next\s+)?(?:week|month)|"
                          rf"year)\b|{_MONTH})|\b(?P<month_end>month)[\s-]?end\b|\beom\b", re.I)),
    ("within", re.compile(rf"\b(?:with)?in\s+(?:the\s+next\s+|the\s+coming\s+|about\s+|around\s+)?(?P<count>{_COUNT})"
                          r"\s+(?P<working>(?:business|working)\s+)?(?P<unit>days?|weeks?|fortnights?|months?)\b",
                          re.I)),
    ("iso_week", re.compile(r"\b(?:(?:calendar\s+)?week|wk|kw|cw)\s*(?:no\.?\s*|number\s*|#\s*)?(?P<week>\d{1,2})\b",
                            re.I)),
    ("day_range", re.compile(rf"\b(?P<first>\d{{1,2}})(?:st|nd|rd|th|er|\.)?{_TO}{_DAY}\.?\s+(?:of\s+|de\s+)?{_MONTH}"
                             rf"{_YEAR}", re.I)),
    ("month_range", re.compile(rf"\b{_MONTH}\s+(?P<first>\d{{1,2}})(?:st|nd|rd|th)?{_TO}{_DAY}\b(?!/){_YEAR}", re.I)),
    ("month_day", re.compile(rf"\b{_MONTH}\s+{_DAY}\b{_YEAR}", re.I)),
    ("day_month", re.compile(rf"\b{_DAY}\.?(?:\s+of|\s+de)?\s+{_MONTH}{_YEAR}", re.I)),
    ("dotted", re.compile(r"\b(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?:(?P<year>\d{4}|\d{2})\b)?")),
    ("slashed", re.compile(r"\b(?!24/7\b)(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")),
    ("relative", re.compile(r"\b(today|tomorrow|yesterday|(?:this|next|last)?\s*(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*"
                            r"day|(?:este|ce|diesen|am|nächsten|prochain)?\s*(?:montag|dienstag|mittwoch|donnerstag|"
                            r"freitag|lundi|mardi|mercredi|jeudi|vendredi|lunes|martes|miércoles|miercoles|jueves|"
                            r"viernes))\b", re.I)),
    ("ordinal", re.compile(r"\b(?:on\s+|by\s+)?the\s+(\d{1,2})(?:st|nd|rd|th)\b|\b(\d{1,2})(?:st|nd|rd|th)\b", re.I)),
]
_RANGE_JOIN = re.compile(rf"(?:st|nd|rd|th|er|\.)?{_TO}(?:the\s+)?", re.I)

Reading = tuple[int, int, dt.date]  # where a date is written (start, end) and the date it means


def written_dates(text: str, received: dt.date, month_first: bool = True) -> list[tuple[int, dt.date]]:
    """(position, date) of every date in `text`, past ones included, in the order they are written. An ambiguous
    12/10 is read month first or day first as `month_first` says."""
    return [(start, value) for start, _end, value in _readings(text, received, month_first)]


def future_dates(text: str, received: dt.date, month_first: bool = True) -> list[tuple[int, dt.date]]:
    """(position, date) of every date in `text` on or after `received`, in the order they are written."""
    return [(start, value) for start, value in written_dates(text, received, month_first) if value >= received]


def date_ranges(text: str, received: dt.date, month_first: bool = True) -> list[tuple[int, dt.date, dt.date]]:
    """(position, first day, last day) of each span of days written as a range: "14–18 Dec", "Dec 14 - Dec 16",
    "from 14 to 18 December", "12/14-12/18"."""
    readings = _readings(text, received, month_first)
    return [(start, first, last) for (start, end, first), (next_start, _next_end, last) in itertools.pairwise(readings)
            if first <= last and _RANGE_JOIN.fullmatch(text, end, next_start)]


def _readings(text: str, received: dt.date, month_first: bool) -> list[Reading]:
    found: list[Reading] = []
    taken: list[range] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() in span or match.end() + 3 in span for span in taken):
                continue  # "Friday, 4 December": the day-month already read, and the weekday only names it
            readings = _resolve(kind, match, received, month_first)
            if readings:
                taken.append(range(match.start(), match.end()))  # a date's digits are not read again as a day
                found += readings
    return sorted(found)


def _resolve(kind: str, match: re.Match, received: dt.date, month_first: bool) -> list[Reading]:
    try:
        if kind in ("day_range", "month_range"):
            return _range(match, received)
        value = _date(kind, match, received, month_first)
    except (ValueError, KeyError, OverflowError):
        return []
    return [] if value is None else [(match.start(), match.end(), value)]


def _date(kind: str, match: re.Match, received: dt.date, month_first: bool) -> dt.date | None:
    if kind == "iso":
        return dt.date(int(match["year"]), int(match["month"]), int(match["day"]))
    if kind == "last_weekday_of":
        return last_weekday_of(match["which"], _month_meant(match, received), received)
    if kind == "week_part":
        return week_part(match["part"], received)
    if kind == "end_of":
        return end_of(match["relative"] or match["month_end"] or "month", _month_meant(match, received), received)
    if kind == "within":
        return within(match["count"], match["unit"], bool(match["working"]), received)
    if kind == "iso_week":
        return iso_week_friday(int(match["week"]), received)
    if kind in ("month_day", "day_month"):
        return in_year(received, month_number(match["month"]), int(match["day"]), match["year"])
    if kind == "dotted":  # 10.12. is 10 December wherever it is written: the dotted form is day first
        return in_year(received, int(match["month"]), int(match["day"]), match["year"])
    if kind == "slashed":
        first, second = int(match[1]), int(match[2])
        if first > 12 or (second <= 12 and not month_first):
            first, second = second, first  # day/month
        return in_year(received, first, second, match[3])
    if kind == "relative":
        return relative_day(match[1].lower(), received)
    return day_of_month(received, int(match[1] or match[2]))


def _month_meant(match: re.Match, received: dt.date) -> dt.date | None:
    """The first day of the month a phrase names ("end of January"), None when it names none by name."""
    if not match["month"]:
        return None
    return in_year(received, month_number(match["month"]), 1, match.groupdict().get("year"))


def _range(match: re.Match, received: dt.date) -> list[Reading]:
    last = in_year(received, month_number(match["month"]), int(match["day"]), match["year"])
    first = last.replace(day=int(match["first"]))
    if first > last:
        return [(match.start("day"), match.end(), last)]
    return [(match.start(), match.end("first"), first), (match.start("day"), match.end(), last)]
