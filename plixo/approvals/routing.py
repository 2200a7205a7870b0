"""Who sees and who decides a request: each role its own; the controller sees everything and stands in for a
role only when nobody active holds it.

A request is routed to one role (`Approval.approver_role`, from the workspace policy, or Legal for a large
write-off). That role's members see and decide it. The controller sees every pending request, so nothing waits
unseen, but a request routed to another role stays that role's call while the workspace has an active member
who holds it and may decide approvals; with no such member, the controller decides it. A role that cannot decide
approvals at all (an A/R manager, say, if a policy ever named one) therefore always leaves the decision to the
controller.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo.accounts.models import Membership
from plixo.security import ROLES, role_can

CONTROLLER = "controller"


def role_label(role: str) -> str:
    """How a routed role reads on a card: "Legal", "Controller"."""
    return ROLES.get(role, role.replace("_", " ").title())


def deciding_roles(session: Session, org_id: int) -> set[str]:
    """The roles that have at least one active member allowed to decide approvals (one query)."""
    roles = session.scalars(select(Membership.role).where(Membership.org_id == org_id,
                                                          Membership.is_active.is_(True)).distinct())
    return {role for role in roles if role in ROLES and role_can(role, "approvals.decide")}


def refusal(viewer_role: str, routed_role: str, present: set[str]) -> str | None:
    """Why a member of `viewer_role` may not decide a request routed to `routed_role` (None: they may).

    `present` is deciding_roles(): the roles someone active could decide for."""
    if viewer_role == routed_role and role_can(viewer_role, "approvals.decide"):
        return None
    if viewer_role == CONTROLLER:
        if routed_role in present:
            return f"This request is for {role_label(routed_role)}: it is their call while they have an active member."
        return None
    return "This request is routed to another role."


def someone_else_decides(session: Session, org_id: int, routed_role: str, user_id: int) -> bool:
    """Whether an active member other than `user_id` may decide a request routed to `routed_role`: then the one who
    asked for it never decides it themselves (in a workspace with a single approver, they must)."""
    roles = set(session.scalars(select(Membership.role).where(
        Membership.org_id == org_id, Membership.is_active.is_(True), Membership.user_id != user_id)).all())
    present = {role for role in roles if role in ROLES and role_can(role, "approvals.decide")}
    return any(refusal(role, routed_role, present) is None for role in present)
