"""Disputes' Root Causes report (/work/disputes/root-causes): the figures by reason, customer or owner for a period,
as a page whose table swaps when a filter changes, and as a CSV download of the same rows."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from plixo.disputes import root_causes as queries
from plixo.disputes.reasons import reason_labels
from plixo.extensions import db
from plixo.htmx import render_page_or_block
from plixo.ledger.aging import local_today
from plixo.model import utcnow
from plixo.security import requires

bp = Blueprint("dispute_reports", __name__, url_prefix="/work")
PAGE = "disputes/root_causes.html"


def _report() -> queries.RootCauseReport:
    filters = queries.RootCauseFilters.from_args(request.args)
    return queries.root_causes(db.session, g.org.id, filters, reason_labels(db.session, g.org.id), utcnow())


@bp.route("/disputes/root-causes")
@requires("disputes.manage")
def root_causes():
    report = _report()
    return render_page_or_block(PAGE, "root_cause_results", report=report, filters=report.filters,
                                periods=queries.PERIODS, groupings=queries.GROUPINGS)


@bp.route("/disputes/root-causes.csv")
@requires("disputes.manage")
def root_causes_csv():
    report = _report()
    stamp = local_today(g.org.time_zone).isoformat()
    name = f"plixo-dispute-root-causes-{report.filters.grouping}-{report.filters.period_days}d-{stamp}.csv"
    return Response(queries.root_causes_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
