"""Each teammate's notifications: an @mention, a decision on their request."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo.accounts.models import Notification, User


def notify(session: Session, org_id: int, user: User, kind: str, text: str, link: str | None = None) -> Notification:
    """Put something in a teammate's notification list."""
    notification = Notification(org_id=org_id, user_id=user.id, kind=kind, text=text[:300], link=link)
    session.add(notification)
    return notification


def unread_notifications(session: Session, org_id: int, user_id: int, limit: int = 20) -> list[Notification]:
    """The member's newest unread notifications (mentions, decisions on their requests)."""
    return list(session.scalars(select(Notification).where(
        Notification.org_id == org_id, Notification.user_id == user_id, Notification.read_at.is_(None))
        .order_by(Notification.created_at.desc()).limit(limit)))
