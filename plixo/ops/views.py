"""Admin → Audit log, and the health endpoint."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, g, jsonify, request
from flask_login import current_user
from sqlalchemy import select

from plixo import audit
from plixo.accounts.models import Membership, User
from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.htmx import render_page_or_block
from plixo.ledger.aging import local_today
from plixo.ops import service
from plixo.params import parse_date, parse_id
from plixo.redis_conn import get_redis
from plixo.security import public, requires

bp = Blueprint("ops", __name__)
EXPORT_LIMIT = 100_000


FILTER_KEYS = ("actor_id", "action", "subject_type", "from", "to")


def _parse_filters(args) -> tuple[service.AuditFilters, list[str]]:
    """Filters from the query string, and a message for each value that is not usable."""
    errors: list[str] = []

    def as_id(name: str, label: str) -> int | None:
        raw = args.get(name, "").strip()
        value = parse_id(raw)
        if raw and value is None:
            errors.append(f"{label} must be a valid id")
        return value

    def as_date(name: str, label: str) -> dt.date | None:
        raw = args.get(name, "").strip()
        value = parse_date(raw)
        if raw and value is None:
            errors.append(f"{label} must be a date like 2026-01-31")
        return value

    filters = service.AuditFilters(
        actor_id=as_id("actor_id", "Actor"),
        action=args.get("action", "").strip()[:80] or None,
        subject_type=args.get("subject_type", "").strip()[:40] or None,
        date_from=as_date("from", "From"),
        date_to=as_date("to", "To"),
        before_id=as_id("before", "Page cursor"),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        errors.append("From must be on or before To")
    return filters, errors


@bp.route("/admin/audit")
@requires("audit.view")
def audit_log():
    filters, errors = _parse_filters(request.args)
    events, next_cursor = ([], None) if errors else service.audit_page(db.session, filters, g.org.time_zone)
    actors = db.session.execute(
        select(User.id, User.name).join(Membership, Membership.user_id == User.id).order_by(User.name)
    ).all()
    context = {
        "events": events, "next_cursor": next_cursor, "errors": errors, "filters": filters,
        "actors": actors,
        "actions": service.distinct_values(db.session, AuditEvent.action),
        "subject_types": service.distinct_values(db.session, AuditEvent.subject_type),
        "query_args": {k: request.args[k] for k in FILTER_KEYS if request.args.get(k)},
    }
    return render_page_or_block("ops/audit.html", "audit_more", "audit_results", **context)


@bp.route("/admin/audit.csv")
@requires("audit.view")
def audit_export():
    filters, errors = _parse_filters(request.args)
    if errors:
        return Response("; ".join(errors) + "\n", status=400, mimetype="text/plain")
    filters = service.AuditFilters(**{**filters.__dict__, "before_id": None})
    events = db.session.scalars(service.audit_query(filters, g.org.time_zone).limit(EXPORT_LIMIT)).all()
    body = "".join(service.audit_csv(events, g.org.time_zone))
    audit.record(db.session, org_id=g.org.id, actor=current_user, action="ops.audit_exported", subject=g.org,
                 after={"rows": len(events), **{k: request.args[k] for k in FILTER_KEYS if request.args.get(k)}})
    db.session.commit()
    stamp = local_today(g.org.time_zone).isoformat()
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="plixo-audit-{stamp}.csv"'})


@bp.route("/healthz")
@public
def healthz():
    checks = {"database": service.check_database(db.session), "redis": service.check_redis(get_redis())}
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "degraded", **checks), 200 if healthy else 503
