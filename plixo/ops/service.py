"""Reading the audit trail, and the health of the parts the app depends on."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from plixo.audit import AuditEvent
from plixo.csv_safe import csv_safe

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilters:
    actor_id: int | None = None
    action: str | None = None
    subject_type: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    before_id: int | None = None  # keyset cursor: events older than this id


def audit_query(filters: AuditFilters, time_zone: str) -> Select:
    """Audit events matching the filters, newest first; dates are whole days in the workspace zone."""
    zone = ZoneInfo(time_zone)
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if filters.actor_id:
        query = query.where(AuditEvent.actor_id == filters.actor_id)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.subject_type:
        query = query.where(AuditEvent.subject_type == filters.subject_type)
    if filters.date_from:
        start = dt.datetime.combine(filters.date_from, dt.time.min, zone)
        query = query.where(AuditEvent.created_at >= start)
    if filters.date_to:
        end = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time.min, zone)
        query = query.where(AuditEvent.created_at < end)
    if filters.before_id:
        query = query.where(AuditEvent.id < filters.before_id)
    return query


def audit_page(session: Session, filters: AuditFilters, time_zone: str) -> tuple[list[AuditEvent], int | None]:
    """One page of events and the cursor for the next page (None on the last)."""
    events = session.scalars(audit_query(filters, time_zone).limit(PAGE_SIZE + 1)).all()
    more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    return events, (events[-1].id if more else None)


def distinct_values(session: Session, column) -> list[str]:
    return [v for v in session.scalars(select(column).distinct().order_by(column)) if v]


def _as_json(values: dict | None) -> str:
    return json.dumps(values, sort_keys=True) if values else ""


def audit_csv(events: Iterable[AuditEvent], time_zone: str) -> Iterator[str]:
    """The events as CSV lines, streamed, with timestamps in the workspace zone."""
    zone = ZoneInfo(time_zone)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["time", "actor", "action", "object", "object id", "before", "after", "reason", "ip"]
    writer.writerow(header)
    for event in events:
        writer.writerow([csv_safe(v) for v in (
            event.created_at.astimezone(zone).isoformat(timespec="seconds"), event.actor_label, event.action,
            event.subject_type, event.subject_id, _as_json(event.before), _as_json(event.after), event.reason,
            event.ip)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def check_database(session: Session) -> str:
    try:
        session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported not raised
        session.rollback()
        return f"down: {type(exc).__name__}"


def check_redis(client) -> str:
    try:
        client.ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"down: {type(exc).__name__}"
