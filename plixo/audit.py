"""The audit trail: every state change records who did what to which object, and why."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import has_request_context, request
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plixo.model import Base, IdMixin, TenantMixin, utcnow


class AuditEvent(IdMixin, TenantMixin, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_org_created", "org_id", "created_at"),
        Index("ix_audit_events_org_action", "org_id", "action", "created_at"),
        Index("ix_audit_events_org_subject", "org_id", "subject_type", "subject_id"),
        Index("ix_audit_events_org_actor", "org_id", "actor_id", "created_at"),
    )

    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(200))  # name/e-mail at the time, or "system", "payer portal"
    action: Mapped[str] = mapped_column(String(80))  # area.verb, e.g. "accounts.invite_sent"
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int | None]
    before: Mapped[dict | None]
    after: Mapped[dict | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    actor = relationship("User")


def _jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    plain = (str, int, float, bool, type(None), list, dict)
    return {k: v if isinstance(v, plain) else str(v) for k, v in values.items()}


def record(
    session,
    *,
    org_id: int,
    actor,
    action: str,
    subject,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Add an audit event for `subject` in the caller's transaction (the caller commits).

    `actor` is a User, or a string such as "system" or "payer portal" for non-human changes.
    """
    is_user = actor is not None and not isinstance(actor, str)
    event = AuditEvent(
        org_id=org_id,
        actor_id=actor.id if is_user else None,
        actor_label=f"{actor.name} <{actor.email}>" if is_user else (actor or "system"),
        action=action,
        subject_type=type(subject).__name__,
        subject_id=getattr(subject, "id", None),
        before=_jsonable(before),
        after=_jsonable(after),
        reason=reason,
        ip=request.remote_addr if has_request_context() else None,
    )
    session.add(event)
    return event
