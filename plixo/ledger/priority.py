"""In which order to work open invoices: each one's priority score and the reasons behind it.

`queue_priority` is pure: facts in, an explainable score out. `refresh_priorities` stores the score and its
explanation on the invoices, set-based, after anything that changes them (a promise, a dispute, a bounce, a
payment, an opt-out) and hourly; the queue lists invoices by the stored score.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import JSON, Column, Integer, MetaData, Table, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute
from plixo.ledger.aging import aging_bucket, days_past_due, local_today
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.mail.sending import strained_domains
from plixo.money import exponent, format_money
from plixo.promises.models import Promise

PROMISE_DUE_SOON_DAYS = 3
BROKEN_PROMISE_MEMORY_DAYS = 14
BOUNCE_MEMORY_DAYS = 30

# Points per aging bucket: older debt is harder to collect, so it comes first.
BUCKET_POINTS = {"current": 0, "1-30": 100, "31-60": 200, "61-90": 300, "90+": 400}
RISK_POINTS = {"low": 0, "medium": 40, "high": 100}
AMOUNT_POINTS_CAP = 250
# Signals that need a person now. Each outweighs any aging and amount, so a small invoice with a broken
# promise still rises above a large quiet one; among flagged items, aging and amount order them.
FLAG_POINTS = {"promise_broken": 1200, "promise_due": 1100, "dispute": 1000, "bounce": 900}
# While the sending domain's bounce rate is high, each further bounce hurts every customer's reminders: contacts
# to fix then come before disputes.
STRAINED_DOMAIN_POINTS = 150

# Indicative rates to the US dollar, used only to rank invoices in other currencies against each other;
# amounts shown and stored are always in the invoice's own currency.
RANKING_RATES_TO_USD = {
    "USD": 1.0, "EUR": 1.08, "GBP": 1.27, "CAD": 0.73, "AUD": 0.66, "NZD": 0.6, "CHF": 1.13, "JPY": 0.0067,
    "SEK": 0.095, "NOK": 0.094, "DKK": 0.145, "SGD": 0.74, "HKD": 0.128, "INR": 0.012, "MXN": 0.058,
    "BRL": 0.2, "ZAR": 0.055, "PLN": 0.25, "CZK": 0.044, "CNY": 0.14,
}


@dataclass(frozen=True, slots=True)
class PriorityFacts:
    """What the score is computed from, for one open invoice."""

    due_date: dt.date
    balance_minor: int
    currency: str
    workspace_currency: str
    risk_tier: str = "medium"
    promise_date: dt.date | None = None  # the pending promise's date, if any
    promise_broken_on: dt.date | None = None  # when the latest broken promise fell due, if recent
    customer_disputing: bool = False  # another invoice of this customer is in an open dispute
    bounce_prone: bool = False  # no deliverable contact, or the primary contact bounced lately
    domain_bounce_rate: float = 0.0  # the sending domain's 30-day bounce rate, when high enough to act on


@dataclass(frozen=True, slots=True)
class Component:
    key: str
    label: str
    points: int


@dataclass(frozen=True, slots=True)
class Priority:
    score: int
    components: tuple[Component, ...]

    @property
    def why(self) -> str:
        """The reasons in one line, most important first: "90+ days · $48k · promise broken yesterday"."""
        ranked = sorted(self.components, key=lambda c: -c.points)
        return " · ".join(c.label for c in ranked if c.label)

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.components if c.key in FLAG_POINTS)


def ranking_amount(balance_minor: int, currency: str, workspace_currency: str) -> float:
    """The balance in the workspace currency's major units, for ranking only (indicative rates)."""
    major = balance_minor / 10 ** exponent(currency)
    if currency == workspace_currency:
        return major
    to_usd = RANKING_RATES_TO_USD.get(currency, 1.0)
    from_usd = RANKING_RATES_TO_USD.get(workspace_currency, 1.0)
    return major * to_usd / from_usd


def amount_points(amount_major: float) -> int:
    """Log-scaled: $1k ≈ 63, $10k ≈ 120, $100k ≈ 180 points; capped so amount never outranks a flag."""
    if amount_major <= 0:
        return 0
    return min(AMOUNT_POINTS_CAP, round(60 * math.log10(1 + amount_major / 100)))


def _days_phrase(days: int, past: bool) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday" if past else "tomorrow"
    return f"{days} days ago" if past else f"in {days} days"


def queue_priority(facts: PriorityFacts, today: dt.date) -> Priority:
    """The invoice's priority score and the components that explain it."""
    components: list[Component] = []
    bucket = aging_bucket(facts.due_date, today)
    overdue = days_past_due(facts.due_date, today)
    bucket_label = "not yet due" if bucket == "current" else (f"{bucket} days" if bucket != "90+" else "90+ days")
    if bucket == "90+":
        bucket_label = f"{overdue} days past due"
    components.append(Component("aging", bucket_label, BUCKET_POINTS[bucket]))
    components.append(Component("amount", format_money(facts.balance_minor, facts.currency, compact=True),
                                amount_points(ranking_amount(facts.balance_minor, facts.currency,
                                                             facts.workspace_currency))))
    if facts.promise_broken_on is not None:
        ago = (today - facts.promise_broken_on).days
        components.append(Component("promise_broken", f"promise broken {_days_phrase(ago, past=True)}",
                                    FLAG_POINTS["promise_broken"]))
    elif facts.promise_date is not None and (facts.promise_date - today).days <= PROMISE_DUE_SOON_DAYS:
        ahead = (facts.promise_date - today).days
        components.append(Component("promise_due", f"promise due {_days_phrase(max(ahead, 0), past=False)}",
                                    FLAG_POINTS["promise_due"]))
    if facts.customer_disputing:
        components.append(Component("dispute", "customer has an open dispute", FLAG_POINTS["dispute"]))
    if facts.bounce_prone and facts.domain_bounce_rate:
        label = f"contact e-mail bouncing, sending domain at {facts.domain_bounce_rate:.1%}"
        components.append(Component("bounce", label, FLAG_POINTS["bounce"] + STRAINED_DOMAIN_POINTS))
    elif facts.bounce_prone:
        components.append(Component("bounce", "contact e-mail bouncing", FLAG_POINTS["bounce"]))
    risk = RISK_POINTS.get(facts.risk_tier, RISK_POINTS["medium"])
    components.append(Component("risk", f"{facts.risk_tier} risk" if facts.risk_tier == "high" else "", risk))
    return Priority(sum(c.points for c in components), tuple(components))


# --- Stored scores ------------------------------------------------------------------------------------
# Each open invoice stores its score (the queue's sort key) and its explanation, so listing the queue
# reads them instead of recomputing. refresh_priorities rewrites them after anything that changes them.

def _facts_query(org_id: int, today: dt.date, invoice_ids: Iterable[int] | None):
    """One row of PriorityFacts inputs per open invoice, from set-based joins (no per-row subqueries)."""
    pending = (select(Promise.invoice_id, func.min(Promise.promised_date).label("promise_date"))
               .where(Promise.org_id == org_id, Promise.status == "pending")
               .group_by(Promise.invoice_id).subquery("pending"))
    broken = (select(Promise.invoice_id, func.max(Promise.promised_date).label("broken_on"))
              .where(Promise.org_id == org_id, Promise.status == "broken",
                     Promise.promised_date >= today - dt.timedelta(days=BROKEN_PROMISE_MEMORY_DAYS))
              .group_by(Promise.invoice_id).subquery("broken"))
    disputing = (select(Dispute.customer_id).where(Dispute.org_id == org_id,
                                                   Dispute.status.in_(OPEN_DISPUTE_STATUSES))
                 .group_by(Dispute.customer_id).subquery("disputing"))
    bounce_since = dt.datetime.combine(today - dt.timedelta(days=BOUNCE_MEMORY_DAYS), dt.time(), tzinfo=dt.UTC)
    deliverable = and_(Contact.email.is_not(None), Contact.opted_out_at.is_(None),
                       or_(Contact.bounce_kind.is_(None), Contact.bounce_kind != "hard"))
    reach = (select(Contact.customer_id,
                    func.max(case((deliverable, 1), else_=0)).label("deliverable"),
                    func.max(case((and_(Contact.is_primary.is_(True), Contact.bounced_at >= bounce_since), 1),
                                  else_=0)).label("primary_bounced"))
             .where(Contact.org_id == org_id).group_by(Contact.customer_id).subquery("reach"))
    query = (select(Invoice.id, Invoice.due_date, Invoice.balance_minor, Invoice.currency, Customer.risk_tier,
                    pending.c.promise_date, broken.c.broken_on.label("promise_broken_on"),
                    disputing.c.customer_id.is_not(None).label("customer_disputing"),
                    or_(func.coalesce(reach.c.deliverable, 0) == 0, reach.c.primary_bounced == 1).label("bounce_prone"),
                    func.coalesce(reach.c.primary_bounced, 0).label("primary_bounced"),
                    Invoice.priority, Invoice.priority_detail)
             .join(Customer, and_(Customer.org_id == Invoice.org_id, Customer.id == Invoice.customer_id))
             .outerjoin(pending, pending.c.invoice_id == Invoice.id)
             .outerjoin(broken, broken.c.invoice_id == Invoice.id)
             .outerjoin(disputing, disputing.c.customer_id == Invoice.customer_id)
             .outerjoin(reach, reach.c.customer_id == Invoice.customer_id)
             .where(Invoice.org_id == org_id, Invoice.status == "open"))
    if invoice_ids is not None:
        query = query.where(Invoice.id.in_(list(invoice_ids)))
    return query


def _priority_of(row, workspace_currency: str, today: dt.date, domain_bounce_rate: float = 0.0) -> Priority:
    return queue_priority(PriorityFacts(
        due_date=row.due_date, balance_minor=row.balance_minor, currency=row.currency,
        workspace_currency=workspace_currency, risk_tier=row.risk_tier, promise_date=row.promise_date,
        promise_broken_on=row.promise_broken_on, customer_disputing=bool(row.customer_disputing),
        bounce_prone=bool(row.bounce_prone), domain_bounce_rate=domain_bounce_rate), today)


def stored_detail(priority: Priority) -> dict:
    """What the queue shows without recomputing: the one-line why and the flags."""
    return {"why": priority.why, "flags": list(priority.flags)}


_SCORES = Table("queue_scores", MetaData(), Column("invoice_id", Integer, primary_key=True),
                Column("priority", Integer), Column("detail", JSON), prefixes=["TEMPORARY"])


def refresh_priorities(session: Session, org_id: int, workspace_currency: str, today: dt.date,
                       invoice_ids: Iterable[int] | None = None) -> int:
    """Recompute stored scores of open invoices (all, or the given ones); returns how many changed."""
    changed = []
    strain = None  # asked for only when some invoice's contact really bounced (not merely has no address)
    for row in session.execute(_facts_query(org_id, today, invoice_ids)).all():
        if row.primary_bounced and strain is None:
            strain = max(strained_domains(session, org_id, dt.datetime.combine(today, dt.time(12), dt.UTC)).values(),
                         default=0.0)
        priority = _priority_of(row, workspace_currency, today, (strain or 0.0) if row.primary_bounced else 0.0)
        detail = stored_detail(priority)
        if priority.score != row.priority or detail != row.priority_detail:
            changed.append({"invoice_id": row.id, "priority": priority.score, "detail": detail})
    if changed:
        _write_scores(session, org_id, changed)
    return len(changed)


def _write_scores(session: Session, org_id: int, changed: list[dict]) -> None:
    # Through a scratch table and one UPDATE … FROM: a hundred thousand single-row UPDATEs take minutes.
    connection = session.connection()
    _SCORES.drop(connection, checkfirst=True)
    _SCORES.create(connection)
    try:
        connection.execute(_SCORES.insert(), changed)
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE queue_scores")  # else the planner assumes it is empty
        invoices = Invoice.__table__
        session.execute(update(invoices).where(invoices.c.org_id == org_id, invoices.c.id == _SCORES.c.invoice_id)
                        .values(priority=_SCORES.c.priority, priority_detail=_SCORES.c.detail))
    finally:
        _SCORES.drop(connection)


def rescore_customer(session: Session, org: Organization, customer_id: int, now: dt.datetime) -> None:
    """Score the customer's open invoices again (after something about the customer changed)."""
    ids = session.scalars(select(Invoice.id).where(Invoice.org_id == org.id, Invoice.customer_id == customer_id,
                                                   Invoice.status == "open")).all()
    refresh_priorities(session, org.id, org.base_currency, local_today(org.time_zone, now), ids)
