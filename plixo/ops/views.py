"""Admin → Audit log, and the health endpoint."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select

from plixo.accounts.models import Membership, User
from plixo.audit import AuditEvent
from plixo.extensions import db, htmx
from plixo.htmx import render_page_or_block
from plixo.ops import service
from plixo.redis_conn import get_redis
from plixo.security import public, requires

bp = Blueprint("ops", __name__)
EXPORT_LIMIT = 100_000


def _parse_filters(args) -> tuple[service.AuditFilters, list[str]]:
    errors: list[str] = []

    def as_int(name: str) -> int | None:
        raw = args.get(name, "").strip()
        if not raw:
            return None
        if not raw.isdigit():
            errors.append(f"{name.replace('_', ' ')} must be a number")
            return None
        return int(raw)

    def as_date(name: str, label: str) -> dt.date | None:
        raw = args.get(name, "").strip()
        if not raw:
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            errors.append(f"{label} must be a date like 2026-01-31")
            return None

    filters = service.AuditFilters(
        actor_id=as_int("actor_id"),
        action=args.get("action", "").strip() or None,
        subject_type=args.get("subject_type", "").strip() or None,
        date_from=as_date("from", "From"),
        date_to=as_date("to", "To"),
        before_id=as_int("before"),
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
        "query_args": {k: v for k, v in request.args.items() if k != "before" and v},
    }
    if htmx.target == "audit-more":
        return render_page_or_block("ops/audit.html", "audit_more", **context)
    return render_page_or_block("ops/audit.html", "audit_results", **context)


@bp.route("/admin/audit.csv")
@requires("audit.view")
def audit_export():
    filters, errors = _parse_filters(request.args)
    if errors:
        return Response("; ".join(errors) + "\n", status=400, mimetype="text/plain")
    filters = service.AuditFilters(**{**filters.__dict__, "before_id": None})
    events = db.session.scalars(service.audit_query(filters, g.org.time_zone).limit(EXPORT_LIMIT)).all()
    body = "".join(service.audit_csv(events, g.org.time_zone))
    stamp = dt.date.today().isoformat()
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="plixo-audit-{stamp}.csv"'})


@bp.route("/healthz")
@public
def healthz():
    checks = {"database": service.check_database(db.session), "redis": service.check_redis(get_redis())}
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "degraded", **checks), 200 if healthy else 503
