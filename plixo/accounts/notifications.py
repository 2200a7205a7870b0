"""Each teammate's notifications (an @mention, a decision on their request, a suggested draft to review), and
the pages they link to: always one the recipient's role may open."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo.accounts.models import Membership, Notification, User
from plixo.security import role_can


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


# Where a notification points. Rules write notifications outside any request (jobs too), so the team's pages are
# named by their paths here; tests/customers/test_notification_links.py opens each as every role.
def customer_page(customer_id: int, anchor: str = "", **query: int) -> str:
    """The customer page, which every role may open; `anchor` is the element to scroll to (note-12)."""
    args = "&".join(f"{name}={value}" for name, value in query.items())
    return f"/work/customers/{customer_id}" + (f"?{args}" if args else "") + (f"#{anchor}" if anchor else "")


def invoice_in_queue(invoice_id: int) -> str:
    """The invoice open in the queue's inspector (for collectors: it needs queue.work)."""
    return f"/work/queue/{invoice_id}"


def page_for_role(role: str | None, customer_id: int, invoice_id: int | None, anchor: str = "") -> str:
    """The invoice in the queue for a collector, else the customer page (what the member's role may open)."""
    if invoice_id is not None and role_can(role, "queue.work"):
        return invoice_in_queue(invoice_id)
    return customer_page(customer_id, anchor)


def role_of(session: Session, org_id: int, user_id: int) -> str | None:
    """The member's role in the workspace (None when they are not an active member)."""
    return session.scalar(select(Membership.role).where(Membership.org_id == org_id, Membership.user_id == user_id,
                                                        Membership.is_active.is_(True)))
