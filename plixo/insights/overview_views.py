"""The CFO console (/admin/overview): figures, twelve-month trend and a 13-week forecast for a period, owner and
segment; the rows behind each figure; everything as CSV."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, g, request
from sqlalchemy import select

from plixo.accounts.models import Membership, User
from plixo.extensions import db
from plixo.htmx import render_page_or_block
from plixo.insights import behind
from plixo.insights.chart_views import charts
from plixo.insights.console import PERIODS, ConsoleFilters, console_data, scope_of, todays_reading
from plixo.insights.export import figures_csv
from plixo.insights.formulas_text import FORMULAS
from plixo.ledger.aging import BUCKET_NAMES, local_today
from plixo.outreach.models import Segment
from plixo.params import parse_id
from plixo.security import requires

bp = Blueprint("overview", __name__, url_prefix="/admin")
PAGE = "insights/overview.html"


def _filters() -> ConsoleFilters:
    period = parse_id(request.args.get("period"))
    owner_id, segment_id = parse_id(request.args.get("owner")), parse_id(request.args.get("segment"))
    owners = dict(_owners())
    segment = db.session.get(Segment, segment_id) if segment_id else None
    return ConsoleFilters(period_days=period if period in PERIODS else 30,
                          owner_id=owner_id if owner_id in owners else None,
                          segment_id=segment.id if segment is not None else None)


def _owners() -> list[tuple[int, str]]:
    """Teammates who can own customers, by name."""
    return [(user_id, name) for user_id, name in db.session.execute(
        select(User.id, User.name).join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == g.org.id, Membership.is_active.is_(True)).order_by(User.name))]


def _past_day(text: str | None, today: dt.date) -> dt.date | None:
    """A day up to today within the trend's reach (?on=YYYY-MM-DD: a month's last day, or today for this month so
    far), else None."""
    day = _iso_day(text)
    return day if day is not None and today - dt.timedelta(days=400) <= day <= today else None


def _iso_day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "")[:10])
    except ValueError:
        return None


@bp.route("/overview")
@requires("dashboards.view")
def overview():
    filters = _filters()
    data = console_data(db.session, g.org, filters)
    segments = db.session.execute(select(Segment.id, Segment.name).order_by(Segment.name)).all()
    return render_page_or_block(PAGE, "console", data=data, f=data["figures"], filters=filters, periods=PERIODS,
                                owners=_owners(), segments=segments, formulas=FORMULAS,
                                charts=charts(data), buckets=BUCKET_NAMES)


@bp.route("/overview.csv")
@requires("dashboards.view")
def overview_csv():
    filters = _filters()
    data = console_data(db.session, g.org, filters)
    name = f"plixo-cfo-console-{data['today']}-{filters.period_days}d.csv"
    return Response(figures_csv(data), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/overview/behind/<any(open, cash, promises, forecast):kind>")
@requires("dashboards.view")
def behind_figure(kind: str):
    filters = _filters()
    scope, today = scope_of(db.session, filters), local_today(g.org.time_zone)
    which, day = request.args.get("which", ""), _past_day(request.args.get("on"), today)
    bucket = which if which in BUCKET_NAMES else ""
    if kind == "open" and day is not None and day < today:
        result = behind.open_invoices_on(db.session, day, scope, bucket)
    elif kind == "open":
        result = behind.open_invoices(db.session, g.org, today, scope, bucket)
    elif kind == "forecast":
        start = _iso_day(request.args.get("on"))
        result = behind.forecast_week(todays_reading(db.session, g.org, filters, today), start) if start else None
        if result is None:
            abort(404)  # not a week of the forecast
    elif kind == "cash":
        result = behind.cash(db.session, g.org, today, scope, filters.period_days, day)
    elif which in behind.PROMISE_KINDS:
        result = behind.promises(db.session, g.org, today, scope, which)
    else:
        abort(404)  # promises, but which ones?
    return render_page_or_block("insights/behind.html", "rows", result=result, filters=filters, shown=behind.SHOWN)
