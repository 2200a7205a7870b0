"""Workspace guardrails: reading and changing the Policy (audited; every cadence reads the same row)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, Policy, User
from plixo.accounts.service import policy_of
from plixo.actions import ActionError
from plixo.money import Money, MoneyError
from plixo.outreach.guardrails import in_quiet_hours

MONEY_FIELDS = {"credit_approval": "credit_approval_minor", "plan_approval": "plan_approval_minor",
                "writeoff_approval": "writeoff_approval_minor"}
PLAIN_FIELDS = ("tone", "business_hours_start", "business_hours_end", "quiet_hours_start", "quiet_hours_end",
                "sending_days", "daily_cap_per_mailbox", "daily_cap_per_domain", "max_touches_per_week",
                "min_gap_hours", "plan_approval_months", "approver_role")


class PolicyError(ActionError):
    """Settings that cannot work together, with the field to show the message on."""


def form_values(policy: Policy, currency: str) -> dict:
    """The policy as the form shows it: amounts in major units, the discount cap in percent."""
    values = {name: getattr(policy, name) for name in PLAIN_FIELDS}
    values |= {field: Money(getattr(policy, column), currency).to_decimal() for field, column in MONEY_FIELDS.items()}
    values["discount_cap_percent"] = Decimal(policy.discount_cap_bp) / 100
    return values


def update_policy(session: Session, org: Organization, user: User, values: dict) -> dict[str, tuple]:
    """Apply new guardrails after checking they can work together; audit what changed (old, new)."""
    _check_consistency(values)
    new = {name: values[name] for name in PLAIN_FIELDS}
    new["sending_days"] = sorted(set(values["sending_days"]))
    for field, column in MONEY_FIELDS.items():
        try:
            new[column] = Money.from_decimal(Decimal(values[field]), org.base_currency).minor
        except MoneyError as error:
            raise PolicyError(f"Use at most the decimal places {org.base_currency} has.", field) from error
    percent = Decimal(values["discount_cap_percent"])
    if percent != percent.quantize(Decimal("0.01")):
        raise PolicyError("Use at most two decimal places.", "discount_cap_percent")
    new["discount_cap_bp"] = int(percent * 100)
    policy = policy_of(session, org.id)
    changes = {name: (getattr(policy, name), value) for name, value in new.items() if getattr(policy, name) != value}
    for name, (_old, value) in changes.items():
        setattr(policy, name, value)
    if changes:
        session.flush()
        audit.record(session, org_id=org.id, actor=user, action="policies.updated", subject=policy,
                     before={name: old for name, (old, _new) in changes.items()},
                     after={name: value for name, (_old, value) in changes.items()})
    return changes


def _check_consistency(values: dict) -> None:
    start, end = values["business_hours_start"], values["business_hours_end"]
    if start >= end:
        raise PolicyError("Business hours must end after they start.", "business_hours_end")
    if values["quiet_hours_start"] == values["quiet_hours_end"]:
        raise PolicyError("Quiet hours must start and end at different times.", "quiet_hours_end")
    if not values["sending_days"]:
        raise PolicyError("Choose at least one sending day.", "sending_days")
    if not _sendable_business_time(values):
        raise PolicyError("Business hours fall entirely within quiet hours: nothing could ever be sent.",
                          "business_hours_start")


def _sendable_business_time(values: dict) -> bool:
    """Whether some quarter hour of business hours lies outside quiet hours."""
    window = SimpleNamespace(quiet_hours_start=values["quiet_hours_start"], quiet_hours_end=values["quiet_hours_end"])
    moment = dt.datetime.combine(dt.date(2026, 1, 5), values["business_hours_start"])
    end = dt.datetime.combine(dt.date(2026, 1, 5), values["business_hours_end"])
    while moment < end:
        if not in_quiet_hours(moment, window):
            return True
        moment += dt.timedelta(minutes=15)
    return False
