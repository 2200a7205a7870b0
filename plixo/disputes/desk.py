"""What the Disputes page reads: the SLA snapshot, Today's Focus, the metrics cards and the keyset-paged table.

Open disputes are few next to invoices (thousands against hundreds of thousands), and every statement filters on
org_id and status first, so ix_disputes_org_status_sla leads. Amounts are what each dispute contests (its part, or
its invoice's whole open balance), summed per currency and never across currencies.

Joining every open dispute to its invoice reads the whole invoices table (a hash join beats thousands of index
probes), so a page or a pick chooses its disputes on their own table first and joins only those few rows; the
figures that need every open dispute's invoice (amounts per reason and currency, the largest) are remembered in
Redis until a dispute or the queue changes (bench/disputes.py measures both).
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select, true, tuple_
from sqlalchemy.orm import Session, aliased

from plixo.accounts.models import User
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute, DisputeInvoice
from plixo.ledger.models import Customer, Invoice
from plixo.redis_conn import get_redis

PAGE_SIZE = 50
FIGURES_TTL_SECONDS = 60  # how stale the open amounts may be after a payment alone changes a balance
LOOKBACK = dt.timedelta(days=90)  # resolution figures: the disputes that ended in this window
SOURCES = {"operator": "Team", "portal": "Portal", "email": "E-mail", "stripe": "Stripe"}
STATUS_FILTERS = {"open": "Open", "needs_review": "Needs review", "investigating": "Investigating",
                  "waiting_customer": "Waiting on customer", "waiting_internal": "Waiting internally",
                  "breached": "SLA breached", "resolved": "Resolved", "withdrawn": "Withdrawn", "all": "All"}


@dataclass(frozen=True)
class DisputeFilters:
    status: str = "open"
    reason: str = ""
    owner_id: int | None = None
    source: str = ""

    def as_args(self) -> dict[str, str]:
        args = {"status": self.status if self.status != "open" else "", "reason": self.reason,
                "owner": str(self.owner_id or ""), "source": self.source}
        return {k: v for k, v in args.items() if v}


@dataclass(frozen=True)
class DisputeCursor:
    """Open disputes are read by SLA deadline (soonest first); the id breaks ties."""

    due: dt.datetime
    dispute_id: int

    def encode(self) -> str:
        return f"{int(self.due.timestamp())}.{self.dispute_id}"

    @classmethod
    def decode(cls, raw: str | None) -> DisputeCursor | None:
        seconds, _, dispute_id = (raw or "").partition(".")
        if len(raw or "") > 40 or not (seconds.isdigit() and dispute_id.isdigit()) or int(seconds) > 2**40:
            return None
        return cls(dt.datetime.fromtimestamp(int(seconds), dt.UTC), int(dispute_id))


@dataclass
class Snapshot:
    open_count: int = 0
    open_amounts: dict[str, int] = field(default_factory=dict)  # currency -> minor units
    due_today: int = 0
    breached: int = 0
    median_days_to_resolve: float | None = None
    within_sla_share: float | None = None


FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def _due():
    # A dispute without a deadline sorts last, where a cursor can still reach it.
    return func.coalesce(Dispute.sla_due_at, FAR_FUTURE)


def disputed_amount():
    """What a dispute contests: its part of its invoice (or the whole open balance), and of each other invoice it
    covers (they share its currency)."""
    other = aliased(Invoice)
    covered = (select(func.coalesce(func.sum(func.coalesce(DisputeInvoice.disputed_minor, other.balance_minor)), 0))
               .join(other, (other.id == DisputeInvoice.invoice_id) & (other.org_id == DisputeInvoice.org_id))
               .where(DisputeInvoice.org_id == Dispute.org_id, DisputeInvoice.dispute_id == Dispute.id)
               .correlate(Dispute).scalar_subquery())
    return func.coalesce(Dispute.disputed_minor, Invoice.balance_minor) + covered


def _rows() -> Select:
    return (select(Dispute.id, Dispute.status, Dispute.reason, Dispute.source, Dispute.opened_at,
                   Dispute.sla_due_at, Dispute.needs_review, Dispute.assigned_to_id, Dispute.verdict,
                   Invoice.number.label("invoice_number"), disputed_amount().label("balance_minor"), Invoice.currency,
                   Customer.name.label("customer_name"), User.name.label("owner_name"))
            .join(Invoice, (Invoice.id == Dispute.invoice_id) & (Invoice.org_id == Dispute.org_id))
            .join(Customer, (Customer.id == Dispute.customer_id) & (Customer.org_id == Dispute.org_id))
            .outerjoin(User, User.id == Dispute.assigned_to_id))


def _filtered(statement: Select, org_id: int, filters: DisputeFilters, now: dt.datetime) -> Select:
    statement = statement.where(Dispute.org_id == org_id)
    if filters.status == "open":
        statement = statement.where(Dispute.status.in_(OPEN_DISPUTE_STATUSES))
    elif filters.status == "breached":
        statement = statement.where(Dispute.status.in_(OPEN_DISPUTE_STATUSES), Dispute.sla_due_at < now)
    elif filters.status in STATUS_FILTERS and filters.status != "all":
        statement = statement.where(Dispute.status == filters.status)
    if filters.reason:
        statement = statement.where(Dispute.reason == filters.reason)
    if filters.owner_id:
        statement = statement.where(Dispute.assigned_to_id == filters.owner_id)
    if filters.source in SOURCES:
        statement = statement.where(Dispute.source == filters.source)
    return statement


def _first_rows(session: Session, org_id: int, keys: Select, order: tuple, limit: int) -> list:
    """The table rows of the first `limit` disputes `keys` selects in `order`, chosen on the disputes table alone
    and only then joined to their invoices and customers."""
    chosen = keys.order_by(*order).limit(limit)
    return session.execute(_rows().where(Dispute.org_id == org_id, Dispute.id.in_(chosen)).order_by(*order)).all()


def dispute_page(session: Session, org_id: int, filters: DisputeFilters, now: dt.datetime,
                 cursor: DisputeCursor | None = None, size: int = PAGE_SIZE) -> tuple[list, DisputeCursor | None]:
    """One page of the table, soonest deadline first, and the cursor of the next page (None: the last)."""
    keys = _filtered(select(Dispute.id), org_id, filters, now)
    if cursor is not None:
        keys = keys.where(tuple_(_due(), Dispute.id) > tuple_(cursor.due, cursor.dispute_id))
    rows = _first_rows(session, org_id, keys, (_due(), Dispute.id), size + 1)
    more = rows[size] if len(rows) > size else None
    rows = rows[:size]
    last = rows[-1] if rows and more is not None else None
    return rows, DisputeCursor(last.sla_due_at or FAR_FUTURE, last.id) if last is not None else None


def open_figures(session: Session, org_id: int, now: dt.datetime) -> dict:
    """Open disputes per (reason, currency) with the amounts they contest, the three Focus picks, and how the
    last 90 days' disputes ended (median days, share within SLA, outcomes).

    They read every open dispute's invoice and every recent ending, so they are remembered under the workspace's
    disputes (their count and latest change: every status, reason or owner change stamps updated_at), and for at
    most FIGURES_TTL_SECONDS, as the queue's totals are, for a balance that changes by a payment alone. A page asks
    once and hands them to snapshot, focus and metrics."""
    count, changed = session.execute(select(func.count(), func.max(Dispute.updated_at))
                                     .where(Dispute.org_id == org_id)).one()
    redis = get_redis()
    key = f"plixo:dispute-figures:{org_id}:{count}:{changed.isoformat() if changed else ''}"
    cached = redis.get(key)
    if cached is not None:
        return json.loads(cached)
    joined = (select(Dispute.id).select_from(Dispute)
              .join(Invoice, (Invoice.id == Dispute.invoice_id) & (Invoice.org_id == Dispute.org_id))
              .where(Dispute.org_id == org_id, Dispute.status.in_(OPEN_DISPUTE_STATUSES)))
    by_reason = session.execute(joined.with_only_columns(Dispute.reason, Invoice.currency, func.count(),
                                                         func.sum(disputed_amount()))
                                .group_by(Dispute.reason, Invoice.currency)).all()
    figures = {"by_reason": [[reason, currency, n, int(total or 0)] for reason, currency, n, total in by_reason],
               "focus": _focus_ids(session, org_id, now), "ended": _endings(session, org_id, now),
               "by_owner": _by_owner(session, org_id, now)}
    redis.set(key, json.dumps(figures), ex=FIGURES_TTL_SECONDS)
    return figures


def _endings(session: Session, org_id: int, now: dt.datetime) -> dict:
    """How the disputes that ended in the last 90 days ended, and how fast."""
    ended = session.execute(select(Dispute.opened_at, Dispute.resolved_at, Dispute.sla_due_at,
                                   func.coalesce(Dispute.verdict, Dispute.status)).where(
        Dispute.org_id == org_id, Dispute.status.in_(("resolved", "withdrawn")),
        Dispute.resolved_at >= now - LOOKBACK)).all()
    outcomes = Counter(outcome for *_times, outcome in ended)
    median = round(statistics.median((resolved - opened).total_seconds() / 86400
                                     for opened, resolved, _due, _outcome in ended), 1) if ended else None
    timed = [resolved <= due for _opened, resolved, due, _outcome in ended if due is not None]
    return {"median": median, "within": sum(timed) / len(timed) if timed else None, "valid": outcomes["valid"],
            "invalid": outcomes["invalid"], "withdrawn": outcomes["withdrawn"]}


def snapshot(session: Session, org_id: int, zone: ZoneInfo, now: dt.datetime, figures: dict | None = None) -> Snapshot:
    """The SLA snapshot: what is open and its amounts, what is due today or breached, how fast disputes end."""
    figures = figures or open_figures(session, org_id, now)
    result = Snapshot()
    counts: dict[str, int] = defaultdict(int)
    amounts: dict[str, int] = defaultdict(int)
    for _reason, currency, count, total in figures["by_reason"]:
        counts[currency] += count
        amounts[currency] += total
    result.open_count = sum(counts.values())
    result.open_amounts = {currency: amounts[currency] for currency in sorted(amounts)}
    end_of_today = dt.datetime.combine(now.astimezone(zone).date() + dt.timedelta(days=1), dt.time(), zone)
    result.breached, result.due_today = session.execute(
        select(func.count().filter(Dispute.sla_due_at < now),
               func.count().filter(Dispute.sla_due_at >= now, Dispute.sla_due_at <= end_of_today))
        .where(Dispute.org_id == org_id, Dispute.status.in_(OPEN_DISPUTE_STATUSES))).one()
    result.median_days_to_resolve = figures["ended"]["median"]
    result.within_sla_share = figures["ended"]["within"]
    return result


def focus(session: Session, org_id: int, now: dt.datetime, figures: dict | None = None) -> list[tuple[str, object]]:
    """The three that most need someone: the soonest deadline (breached first), the nearest chargeback deadline,
    and the largest amount, each a different dispute; (why, row). The choice is remembered with the workspace's
    figures; the rows are read again, still as open disputes, so the cards show current figures."""
    picks = (figures or open_figures(session, org_id, now))["focus"]
    rows = _open_rows(session, org_id, now, picks)
    if any(dispute_id not in rows for _why, dispute_id in picks):  # one ended since: choose afresh
        picks = _focus_ids(session, org_id, now)
        rows = _open_rows(session, org_id, now, picks)
    return [(why, rows[dispute_id]) for why, dispute_id in picks if dispute_id in rows]


def _open_rows(session: Session, org_id: int, now: dt.datetime, picks: list[list]) -> dict[int, object]:
    if not picks:
        return {}
    return {row.id: row for row in session.execute(_filtered(_rows(), org_id, DisputeFilters(), now).where(
        Dispute.id.in_([dispute_id for _why, dispute_id in picks])))}


def _focus_ids(session: Session, org_id: int, now: dt.datetime) -> list[list]:
    keys = _filtered(select(Dispute.id), org_id, DisputeFilters(), now)
    picks: list[list] = []
    for why, statement in (("SLA", keys), ("Chargeback", keys.where(Dispute.source == "stripe"))):
        chosen = [dispute_id for _why, dispute_id in picks]
        found = session.scalar(statement.where(Dispute.id.not_in(chosen) if chosen else true())
                               .order_by(_due(), Dispute.id).limit(1))
        if found is not None:
            picks.append([why, found])
    chosen = [dispute_id for _why, dispute_id in picks]
    largest = session.scalar(
        select(Dispute.id).join(Invoice, (Invoice.id == Dispute.invoice_id) & (Invoice.org_id == Dispute.org_id))
        .where(Dispute.org_id == org_id, Dispute.status.in_(OPEN_DISPUTE_STATUSES),
               Dispute.id.not_in(chosen) if chosen else true())
        .order_by(disputed_amount().desc(), Dispute.id).limit(1))
    if largest is not None:
        picks.append(["Largest", largest])
    return picks


@dataclass
class Metrics:
    by_reason: list[tuple[str, int, dict[str, int]]]  # reason, open count, amount per currency
    by_owner: list[tuple[str, int, int]]  # owner name, open count, breached
    valid: int
    invalid: int
    withdrawn: int


def metrics(session: Session, org_id: int, now: dt.datetime, figures: dict | None = None) -> Metrics:
    """Open disputes by reason and by owner; how the last 90 days' disputes ended."""
    figures = figures or open_figures(session, org_id, now)
    reasons: dict[str, list] = defaultdict(lambda: [0, defaultdict(int)])
    for reason, currency, count, total in figures["by_reason"]:
        reasons[reason][0] += count
        reasons[reason][1][currency] += total
    by_reason = sorted(((reason, count, dict(amounts)) for reason, (count, amounts) in reasons.items()),
                       key=lambda item: (-item[1], item[0]))
    ended = figures["ended"]
    by_owner = [tuple(row) for row in figures["by_owner"]]
    return Metrics(by_reason, by_owner, ended["valid"], ended["invalid"], ended["withdrawn"])


def _by_owner(session: Session, org_id: int, now: dt.datetime) -> list[list]:
    """Open disputes per owner and how many are past their SLA (remembered with the figures: at most a minute old)."""
    return [[name or "Unassigned", count, breached] for name, count, breached in session.execute(
        select(User.name, func.count(), func.count().filter(Dispute.sla_due_at < now))
        .select_from(Dispute).outerjoin(User, User.id == Dispute.assigned_to_id)
        .where(Dispute.org_id == org_id, Dispute.status.in_(OPEN_DISPUTE_STATUSES))
        .group_by(User.name).order_by(func.count().desc(), User.name))]
