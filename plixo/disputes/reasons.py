"""Why payers dispute, per workspace: each reason has an SLA in business days (the workspace's sending days, in its
time zone) and an owner for new disputes (a person, else the first active member of a role).

A workspace that has not edited its list uses DEFAULT_REASONS; editing writes the whole list as its own rows.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Membership, Organization, User
from plixo.actions import ActionError
from plixo.disputes.models import DisputeReason
from plixo.params import parse_id
from plixo.security import ROLES
from plixo.values import typed_name


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


def reason_labels(session: Session, org_id: int, rules: list[ReasonRule] | None = None) -> dict[str, str]:
    """Key -> label, with the defaults' labels for keys a workspace no longer lists (old disputes keep theirs);
    `rules`: the workspace's reasons when the caller has read them already."""
    labels = {rule.key: rule.label for rule in DEFAULT_REASONS}
    listed = rules if rules is not None else reasons_of(session, org_id)
    labels.update({rule.key: rule.label for rule in listed})
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


@dataclass(frozen=True)
class ReasonInput:
    """One row of the reasons form as typed (blank key: a new reason)."""

    key: str
    label: str
    sla_days: str
    owner_role: str
    owner_id: str
    archived: bool = False


MAX_SLA_DAYS = 60


class ReasonsError(ActionError):
    """Refusals of the reasons form, every one at once, by row."""

    def __init__(self, errors: dict[int, str]):
        super().__init__("Nothing was saved: check the rows marked below.")
        self.errors = errors


def save_reasons(session: Session, org_id: int, actor: User, typed: list[ReasonInput]) -> list[str]:
    """Make the workspace's reasons exactly the rows typed (in their order); returns what changed, for the flash."""
    rows, errors = _checked_rows(session, org_id, typed)
    if errors:
        raise ReasonsError(errors)
    if not any(not row.archived for row in rows):
        raise ReasonsError({0: "Keep at least one reason in use."})
    existing = {r.key: r for r in session.scalars(select(DisputeReason).where(DisputeReason.org_id == org_id))}
    before = [_as_dict(rule) for rule in reasons_of(session, org_id)]
    for position, row in enumerate(rows):
        record = existing.get(row.key) or DisputeReason(org_id=org_id, key=row.key)
        record.label, record.sla_days, record.owner_role, record.owner_id = row.label, row.sla_days, \
            row.owner_role, row.owner_id
        record.position, record.archived = position, row.archived
        session.add(record)
    session.flush()
    after = [_as_dict(rule) for rule in reasons_of(session, org_id)]
    audit.record(session, org_id=org_id, actor=actor, action="disputes.reasons_saved",
                 subject=session.get(Organization, org_id),
                 before={"reasons": before}, after={"reasons": after})
    return [rule["label"] for rule in after if rule not in before]


@dataclass(frozen=True)
class _Row:
    key: str
    label: str
    sla_days: int
    owner_role: str | None
    owner_id: int | None
    archived: bool


def _checked_rows(session: Session, org_id: int, typed: list[ReasonInput]) -> tuple[list[_Row], dict[int, str]]:
    known_keys = {rule.key for rule in DEFAULT_REASONS} | set(session.scalars(
        select(DisputeReason.key).where(DisputeReason.org_id == org_id)))
    members = set(session.scalars(select(Membership.user_id).where(Membership.org_id == org_id,
                                                                  Membership.is_active.is_(True))))
    rows, errors, labels = [], {}, set()
    for index, row in enumerate(typed):
        if not row.key and not row.label.strip():
            continue  # the blank "add a reason" row left empty
        label = typed_name(row.label)[:80]
        key = row.key if row.key in known_keys else _key_for(label, known_keys | {r.key for r in rows})
        problem = _row_problem(row, label, labels, members)
        if problem:
            errors[index] = problem
            continue
        labels.add(label.lower())
        rows.append(_Row(key, label, int(row.sla_days), row.owner_role or None, parse_id(row.owner_id),
                         row.archived))
    return rows, errors


def _row_problem(row: ReasonInput, label: str, labels: set[str], members: set[int]) -> str | None:
    if not label:
        return "Name the reason."
    if label.lower() in labels:
        return f"“{label}” is listed twice."
    if not (row.sla_days.isascii() and row.sla_days.isdigit() and 1 <= int(row.sla_days) <= MAX_SLA_DAYS):
        return f"The SLA is a whole number of working days, 1 to {MAX_SLA_DAYS}."
    if row.owner_role and row.owner_role not in ROLES:
        return "Choose one of the listed roles."
    if row.owner_id and parse_id(row.owner_id) not in members:
        return "Choose an active member of this workspace."
    return None


def _key_for(label: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:30] or "reason"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def _as_dict(rule: ReasonRule) -> dict:
    return {"key": rule.key, "label": rule.label, "sla_days": rule.sla_days, "owner_role": rule.owner_role,
            "owner_id": rule.owner_id}


def all_reasons_for_editing(session: Session, org_id: int) -> list[tuple[ReasonRule, bool]]:
    """Every reason with whether it is archived: the workspace's rows (archived too), else the defaults."""
    rows = session.scalars(select(DisputeReason).where(DisputeReason.org_id == org_id)
                           .order_by(DisputeReason.position, DisputeReason.id)).all()
    if not rows:
        return [(rule, False) for rule in DEFAULT_REASONS]
    return [(ReasonRule(r.key, r.label, r.sla_days, r.owner_role, r.owner_id), r.archived) for r in rows]
