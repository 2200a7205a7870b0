"""What the weekly digest says: the console's headline figures of one workspace, each with its change since the
snapshot of seven days before, as plain text and simple HTML, with a link to the console.

Only workspace-wide figures appear: no customer, invoice or person is named, so the e-mail tells its reader nothing
the console would not show them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.insights.figures import cash_collected, figures
from plixo.insights.models import DailySnapshot
from plixo.insights.rates import converter_on
from plixo.money import format_money

WEEK = dt.timedelta(days=7)
CASH_DAYS = 7
CONSOLE_PATH = "/admin/overview"  # the CFO console (insights.overview)
SETTINGS_PATH = "/settings/weekly-digest"  # where a member turns the digest off (digest.settings)
UP, DOWN, SAME, UNKNOWN = "\u25b2", "\u25bc", "=", "\u2014"


@dataclass(frozen=True)
class Headline:
    label: str
    value: str  # "$120,000.00", "45.2 days", "—" when the figure cannot be worked out (no sales, say)
    change: str  # "▲ $5,000.00", "▼ 2.1 days", "= no change", "—" without last week's figure
    note: str = ""  # this figure's amounts left out for want of an exchange rate


@dataclass(frozen=True)
class DigestContent:
    workspace: str
    currency: str
    as_of: dt.date
    compared_with: dt.date | None  # the day of last week's snapshot, None when there is none
    headlines: tuple[Headline, ...]
    left_out: bool  # some amount had no exchange rate
    console_url: str
    settings_url: str


def digest_content(session: Session, org: Organization, today: dt.date, base_url: str) -> DigestContent:
    """The current workspace's headline figures as of `today`, against its snapshot of seven days before."""
    now = figures(session, org, today, today, period_days=CASH_DAYS)
    last_day = today - WEEK
    before = _snapshot_figures(session, org, last_day)
    apart = now.not_converted
    currency = org.base_currency
    kept_now = now.promises.get("kept_rate_count")
    kept_before = (before.get("promises") or {}).get("kept_rate_count") if before is not None else None
    headlines = (
        _amount("Open A/R", now.open_ar_minor, _number(before, "open_ar_minor"), currency, apart.get("open_ar")),
        _amount(f"Cash collected, last {CASH_DAYS} days", now.cash_collected_minor,
                _cash_the_week_before(session, org, last_day) if before is not None else None, currency,
                apart.get("cash collected")),
        _days("Countback DSO", now.dso_countback_days, _number(before, "dso_countback_days"),
              over_cap=now.dso_countback_over_360),
        _days("Best-possible DSO", now.bpdso_days, _number(before, "bpdso_days")),
        _points("CEI", now.cei_percent, _number(before, "cei_percent")),
        _points("Promise kept rate", None if kept_now is None else kept_now * 100,
                None if kept_before is None else kept_before * 100),
        _amount("Disputed", now.disputed_minor, _number(before, "disputed_minor"), currency, apart.get("disputed")),
    )
    return DigestContent(
        workspace=org.name, currency=currency, as_of=today, compared_with=last_day if before is not None else None,
        headlines=headlines, left_out=bool(apart), console_url=base_url + CONSOLE_PATH,
        settings_url=base_url + SETTINGS_PATH)


def render_digest(content: DigestContent, recipient_name: str) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the digest for one reader."""
    env = current_app.jinja_env
    context = {"digest": content, "name": recipient_name, "unknown": UNKNOWN}
    text = env.get_template("insights/digest_email.txt").render(**context)
    html = env.get_template("insights/digest_email.html").render(**context)
    subject = f"Weekly A/R digest: {content.workspace}, {content.as_of:%-d %b %Y}"
    return subject, text, html


def _snapshot_figures(session: Session, org: Organization, day: dt.date) -> dict | None:
    """The figures the workspace's snapshot of `day` kept, if it kept them in today's base currency."""
    metrics = session.scalar(select(DailySnapshot.metrics).where(DailySnapshot.day == day))
    kpis = (metrics or {}).get("kpis")
    if not kpis or kpis.get("currency") != org.base_currency:
        return None  # a change against figures in another currency would mean nothing
    return kpis


def _number(kpis: dict | None, name: str) -> float | None:
    value = (kpis or {}).get(name)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _cash_the_week_before(session: Session, org: Organization, last_day: dt.date) -> int:
    """Cash collected in the seven days up to `last_day`. Snapshots keep 30 days of cash, so the week before comes
    from the recorded balance changes, converted at that day's rates (what has no rate is left out, as always)."""
    by_currency = cash_collected(session, last_day - dt.timedelta(days=CASH_DAYS), last_day)
    return converter_on(session, org, last_day).total(by_currency)[0]


def _arrow(delta: float) -> str:
    return UP if delta > 0 else DOWN


def _amount(label: str, minor: int, before: float | None, currency: str, apart: dict[str, int] | None) -> Headline:
    change = UNKNOWN
    if before is not None:
        delta = minor - int(before)
        change = f"{_arrow(delta)} {format_money(abs(delta), currency)}" if delta else f"{SAME} no change"
    note = ""
    if apart:
        amounts = ", ".join(format_money(amount, code, code=True) for code, amount in sorted(apart.items()))
        note = f"plus {amounts} without a rate"
    return Headline(label, format_money(minor, currency), change, note)


def _days(label: str, days: float | None, before: float | None, over_cap: bool = False) -> Headline:
    value = UNKNOWN if days is None else ("360+ days" if over_cap else f"{days:.1f} days")
    return Headline(label, value, _change(days, before, "days"))


def _points(label: str, percent: float | None, before: float | None) -> Headline:
    return Headline(label, UNKNOWN if percent is None else f"{percent:.1f}%", _change(percent, before, "pts"))


def _change(value: float | None, before: float | None, unit: str) -> str:
    if value is None or before is None:
        return UNKNOWN
    delta = round(value - before, 1)
    return f"{_arrow(delta)} {abs(delta):.1f} {unit}" if delta else f"{SAME} no change"
