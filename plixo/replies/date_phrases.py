"""What each way of writing a date means, counted from the day a reply arrived: month and weekday names in the
languages payers write, "the 15th", "next Tuesday", "end of January", "the last Friday of the month", "early next
week", "within 10 days", "week 50". `dates` finds them in a reply; this module only resolves them."""

from __future__ import annotations

import calendar
import datetime as dt

WEEKDAYS = {name: index for index, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday",
                                                       "saturday", "sunday"))}
WEEKDAYS |= {name[:3]: index for name, index in list(WEEKDAYS.items())}
# The weekdays of the replies Plixo sees most besides English: German, French, Spanish.
FOREIGN_WEEKDAYS = {"montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4,
                    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4,
                    "lunes": 0, "martes": 1, "miércoles": 2, "miercoles": 2, "jueves": 3, "viernes": 4}
MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}
MONTHS |= {name[:3]: index for name, index in list(MONTHS.items())}
# German, French, Spanish, Dutch, Italian and Portuguese names the English ones do not already start.
MONTHS |= {
    "januar": 1, "janvier": 1, "enero": 1, "gennaio": 1, "janeiro": 1, "januari": 1,
    "februar": 2, "février": 2, "fevrier": 2, "febrero": 2, "febbraio": 2, "fevereiro": 2, "februari": 2,
    "märz": 3, "maerz": 3, "mars": 3, "marzo": 3, "maart": 3, "março": 3, "marco": 3,
    "avril": 4, "abril": 4, "aprile": 4,
    "mai": 5, "mayo": 5, "mei": 5, "maggio": 5, "maio": 5,
    "juni": 6, "juin": 6, "junio": 6, "giugno": 6, "junho": 6,
    "juli": 7, "juillet": 7, "julio": 7, "luglio": 7, "julho": 7,
    "août": 8, "aout": 8, "agosto": 8, "augustus": 8,
    "septembre": 9, "septiembre": 9, "settembre": 9, "setembro": 9,
    "oktober": 10, "octobre": 10, "octubre": 10, "ottobre": 10, "outubro": 10,
    "novembre": 11, "noviembre": 11, "novembro": 11,
    "dezember": 12, "décembre": 12, "decembre": 12, "diciembre": 12, "dicembre": 12, "dezembro": 12,
    "okt": 10, "dez": 12, "mrz": 3,
}
_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "fourteen": 14, "thirty": 30}
# A date written without its year is at most this far back (an invoice date, the day a cheque went out); one
# further back is next year's: "5 January" written in December is a month ahead, not eleven months ago.
PAST_WINDOW_DAYS = 60
FRIDAY = 4


def month_number(name: str) -> int:
    name = name.lower().rstrip(".")
    return MONTHS[name] if name in MONTHS else MONTHS[name[:3]]


def in_year(received: dt.date, month: int, day: int, year: str | None = None) -> dt.date:
    """The date a day and month name: in the year written, else the one from about two months back to ten ahead."""
    if year:
        return dt.date(int(year) + (2000 if len(year) == 2 else 0), month, day)
    for candidate_year in (received.year - 1, received.year, received.year + 1):
        try:
            value = dt.date(candidate_year, month, day)
        except ValueError:
            continue  # 29 February of a year without one
        if -PAST_WINDOW_DAYS <= (value - received).days <= 365 - PAST_WINDOW_DAYS:
            return value
    raise ValueError(f"no {month}/{day} near {received}")


def day_of_month(received: dt.date, day: int) -> dt.date | None:
    """"The 15th": this month's, or next month's once it has passed; "the 31st" of a shorter month is its last day."""
    if not 1 <= day <= 31:
        return None
    month = received.replace(day=1)
    if day < received.day:
        month = _next_month(month)
    return month.replace(day=min(day, _days_in(month)))


def relative_day(phrase: str, received: dt.date) -> dt.date | None:
    """"today", "tomorrow", "yesterday", "Friday" (the coming one), "next Tuesday", "last Friday"."""
    fixed = {"today": 0, "tomorrow": 1, "yesterday": -1}
    if phrase in fixed:
        return received + dt.timedelta(days=fixed[phrase])
    words = phrase.split()
    weekday = FOREIGN_WEEKDAYS.get(words[-1], WEEKDAYS.get(words[-1][:3]))
    if weekday is None:
        return None
    if words[0] in ("next", "nächsten", "prochain"):  # "next Tuesday": in the week after this one
        return _monday_after(received) + dt.timedelta(days=weekday)
    if words[0] == "last":
        return received - dt.timedelta(days=(received.weekday() - weekday - 1) % 7 + 1)
    return received + dt.timedelta(days=(weekday - received.weekday() - 1) % 7 + 1)


def end_of(period: str, month: dt.date | None, received: dt.date) -> dt.date:
    """The end of "week" (its Friday), "next week", "year", "month", "next month" or a named `month`."""
    period = " ".join(period.lower().split())
    if period == "week":
        return received + dt.timedelta(days=(FRIDAY - received.weekday()) % 7)
    if period == "next week":
        return _monday_after(received) + dt.timedelta(days=FRIDAY)
    if period == "year":
        return dt.date(received.year, 12, 31)
    start = month or (_next_month(received) if period == "next month" else received)
    return start.replace(day=_days_in(start))


def last_weekday_of(which: str, month: dt.date | None, received: dt.date) -> dt.date:
    """"The last Friday of the month" (or "of next month", "of January"); "the last working day" is Monday to
    Friday."""
    start = month or received
    day = start.replace(day=_days_in(start))
    which = which.lower()
    working_day = which in ("weekday",) or which.endswith(" day")
    while (day.weekday() >= 5) if working_day else (day.weekday() != WEEKDAYS[which[:3]]):
        day -= dt.timedelta(days=1)
    return day


def week_part(part: str, received: dt.date) -> dt.date:
    """Early next week is its Tuesday, mid next week its Wednesday, late next week its Friday: the latest day the
    words allow, so a payment that comes when the payer said it would is not counted late."""
    part = part.lower().split()[0]
    offset = {"early": 1, "beginning": 1, "start": 1, "mid": 2, "middle": 2}.get(part, FRIDAY)
    return _monday_after(received) + dt.timedelta(days=offset)


def within(count: str, unit: str, working: bool, received: dt.date) -> dt.date:
    """"Within 10 days", "in two weeks", "within a fortnight", "in 5 business days", "within a month"."""
    number = int(count) if count.isdigit() else _COUNTS[count.lower()]
    unit = unit.lower().rstrip("s")
    if unit == "month":
        month = received.replace(day=1)
        for _ in range(number):
            month = _next_month(month)
        return month.replace(day=min(received.day, _days_in(month)))
    days = number * {"day": 1, "week": 7, "fortnight": 14}[unit]
    if not working:
        return received + dt.timedelta(days=days)
    day = received
    for _ in range(days):
        day = next_working_day(day)
    return day


def iso_week_friday(week: int, received: dt.date) -> dt.date:
    """A payment run "for week 50": the Friday of that ISO week. The run may be any day of the week, and the
    payer has kept the promise if the money is there by the week's last working day; the week is this year's
    unless it is more than about two months gone, then next year's."""
    year = received.isocalendar().year
    friday = dt.date.fromisocalendar(year, week, FRIDAY + 1)
    if (received - friday).days > PAST_WINDOW_DAYS:
        friday = dt.date.fromisocalendar(year + 1, week, FRIDAY + 1)
    return friday


def next_working_day(day: dt.date) -> dt.date:
    """The next day from Monday to Friday after `day`."""
    day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _monday_after(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=7 - day.weekday())


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _days_in(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]
