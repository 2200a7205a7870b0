"""Why payers dispute, per workspace: each reason has an SLA in business days (the workspace's sending days, in its
time zone) and an owner for new disputes (a person, else the first active member of a role).

A workspace that has not edited its list uses DEFAULT_REASONS; editing writes the whole list as its own rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo.accounts.models import Membership, User
from plixo.disputes.models import DisputeReason


@dataclass(frozen=True)
class ReasonRule:
    key: str
    label: str
    sla_days: int
    owner_role: str | None = None
    owner_id: int | None = None


DEFAULT_REASONS = (
    ReasonRule("pricing", "Pricing or rate", 5, "sales"),
    ReasonRule("quantity", "Quantity or short shipment", 5, "ar_manager"),
    ReasonRule("quality", "Damaged or defective goods", 7, "ar_manager"),
    ReasonRule("not_received", "Goods or service not received", 7, "ar_manager"),
    ReasonRule("duplicate", "Duplicate billing", 3, "ar_manager"),
    ReasonRule("po_mismatch", "PO missing or mismatch", 3, "ar_manager"),
    ReasonRule("not_rendered", "Service not rendered", 7, "csm"),
    ReasonRule("already_paid", "Already paid", 3, "ar_manager"),
    ReasonRule("contract", "Contract or terms", 10, "legal"),
    ReasonRule("other", "Other", 5, "ar_manager"),
)
# Stripe's chargeback reasons, as the workspace's: the card network's deadline replaces the SLA.
STRIPE_REASONS = {"product_not_received": "not_received", "duplicate": "duplicate",
                  "product_unacceptable": "quality", "credit_not_processed": "pricing", "subscription_canceled":
                  "not_rendered"}


def reasons_of(session: Session, org_id: int) -> list[ReasonRule]:
    """The workspace's reasons in their order (the defaults until it edits them)."""
    rows = session.scalars(select(DisputeReason).where(DisputeReason.org_id == org_id,
                                                       DisputeReason.archived.is_(False))
                           .order_by(DisputeReason.position, DisputeReason.id)).all()
    if not rows:
        return list(DEFAULT_REASONS)
    return [ReasonRule(r.key, r.label, r.sla_days, r.owner_role, r.owner_id) for r in rows]


def reason_labels(session: Session, org_id: int) -> dict[str, str]:
    """Key -> label, with the defaults' labels for keys a workspace no longer lists (old disputes keep theirs)."""
    labels = {rule.key: rule.label for rule in DEFAULT_REASONS}
    labels.update({rule.key: rule.label for rule in reasons_of(session, org_id)})
    return labels


def reason_rule(session: Session, org_id: int, key: str) -> ReasonRule | None:
    return next((rule for rule in reasons_of(session, org_id) if rule.key == key), None)


def sla_due(opened_at: dt.datetime, business_days: int, zone: ZoneInfo, sending_days: list[int]) -> dt.datetime:
    """The end of the `business_days`-th working day after the day the dispute was opened, in the workspace's zone
    (working days are its sending days; none configured: Monday to Friday)."""
    working = set(sending_days) or {0, 1, 2, 3, 4}
    day = opened_at.astimezone(zone).date()
    counted = 0
    while counted < max(business_days, 0):
        day += dt.timedelta(days=1)
        counted += day.weekday() in working
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)


def business_days_between(start: dt.datetime, end: dt.datetime, zone: ZoneInfo, sending_days: list[int]) -> int:
    """Working days from `start`'s day to `end`'s day (the day of `start` not counted); negative when `end` is
    earlier."""
    working = set(sending_days) or {0, 1, 2, 3, 4}
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    sign, (first, last) = (1, (first, last)) if first <= last else (-1, (last, first))
    days = sum((first + dt.timedelta(days=n)).weekday() in working for n in range(1, (last - first).days + 1))
    return sign * days


def owner_for(session: Session, org_id: int, rule: ReasonRule | None) -> User | None:
    """Who new disputes of this reason go to: its person while still an active member, else the first active
    member (by name) with its role."""
    if rule is None:
        return None
    members = select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.org_id == org_id, Membership.is_active.is_(True))
    if rule.owner_id is not None:
        person = session.scalar(members.where(User.id == rule.owner_id))
        if person is not None:
            return person
    if rule.owner_role is None:
        return None
    return session.scalar(members.where(Membership.role == rule.owner_role).order_by(User.name, User.id).limit(1))
