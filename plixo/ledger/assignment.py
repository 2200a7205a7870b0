"""Who works an invoice: its assignee, or the owner of the customer's account."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Membership, Organization, User
from plixo.actions import ActionError
from plixo.ledger.models import Invoice
from plixo.security import role_can


def assign(session: Session, org: Organization, invoice: Invoice, user: User, assignee_id: int | None,
           whole_customer: bool) -> None:
    """Give the invoice (or the customer's account) to an operator; None unassigns."""
    assignee = None
    if assignee_id is not None:
        membership = session.scalar(select(Membership).where(Membership.org_id == org.id,
                                                             Membership.user_id == assignee_id,
                                                             Membership.is_active.is_(True)))
        if membership is None or not role_can(membership.role, "queue.work"):
            raise ActionError("Choose a teammate who works the queue.", "assignee_id")
        assignee = session.get(User, assignee_id)
    if whole_customer:
        before = invoice.customer.owner_id
        invoice.customer.owner_id = assignee.id if assignee else None
        subject, after = invoice.customer, {"owner_id": invoice.customer.owner_id}
    else:
        before = invoice.assignee_id
        invoice.assignee_id = assignee.id if assignee else None
        subject, after = invoice, {"assignee_id": invoice.assignee_id}
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="queue.assigned", subject=subject,
                 before={"assignee": before}, after=after)


def work_refusal(invoice: Invoice, user_id: int, works_anywhere: bool) -> str | None:
    """Why this person may read the invoice but not act on it (None: they may act). Managers and controllers act
    anywhere; an operator acts on invoices assigned to them and on unassigned ones nobody else owns, as the
    permission table's "own and unassigned" work says."""
    if works_anywhere or invoice.assignee_id == user_id:
        return None
    holder = invoice.assignee if invoice.assignee_id is not None else invoice.customer.owner
    if holder is None or holder.id == user_id:
        return None
    return (f"{invoice.number} is {holder.name}'s to work: you can read it, not act on it. "
            "Ask an A/R manager to assign it to you.")
