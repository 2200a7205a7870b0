"""Reading the queue: filtered, keyset-paginated pages of eligible invoices, counts and Today's Focus.

Pages walk ix_invoices_org_status_priority in (priority, id) order from a cursor, so page 2,000 costs
what page 1 does. Every statement filters on org_id first, so the workspace indexes lead.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session

from plixo.ledger.aging import BUCKET_NAMES
from plixo.ledger.eligibility import eligible_clause
from plixo.ledger.models import Customer, Invoice
from plixo.outreach.models import Message, Segment
from plixo.outreach.segments import SegmentRules, bucket_clause, segment_clause
from plixo.promises.models import Promise
from plixo.redis_conn import get_redis

PAGE_SIZE = 50
STATUS_FILTERS = {
    "": "Any status",
    "promised": "Promise pending",
    "broken": "Promise broken",
    "draft": "Draft ready",
    "scheduled": "Send scheduled",
}


@dataclass(frozen=True)
class QueueFilters:
    mine: bool = False
    bucket: str = ""
    segment_id: int | None = None
    status: str = ""
    search: str = ""

    def as_args(self) -> dict[str, str]:
        """The filters as query-string arguments (only those set)."""
        args = {"mine": "1" if self.mine else "", "bucket": self.bucket,
                "segment": str(self.segment_id or ""), "status": self.status, "q": self.search}
        return {k: v for k, v in args.items() if v}


@dataclass(frozen=True)
class Cursor:
    priority: int
    invoice_id: int

    def encode(self) -> str:
        return f"{self.priority}.{self.invoice_id}"

    @classmethod
    def decode(cls, raw: str | None) -> Cursor | None:
        """A cursor from its text form, or None for anything malformed (the first page is shown)."""
        priority, _, invoice_id = (raw or "").partition(".")
        if not (priority.lstrip("-").isdigit() and invoice_id.isdigit()) or len(raw) > 40:
            return None
        return cls(int(priority), int(invoice_id))


@dataclass
class QueuePage:
    rows: list = field(default_factory=list)
    next_cursor: Cursor | None = None


def assigned_to(user_id: int):
    """My Queue: invoices assigned to the user, or unassigned ones of customers the user owns."""
    return or_(Invoice.assignee_id == user_id, and_(Invoice.assignee_id.is_(None), Customer.owner_id == user_id))


def _status_clause(status: str, org_id: int):
    promise = exists().where(Promise.org_id == org_id, Promise.invoice_id == Invoice.id)
    if status == "promised":
        return promise.where(Promise.status == "pending")
    if status == "broken":
        return promise.where(Promise.status == "broken")
    message = exists().where(Message.org_id == org_id, Message.invoice_id == Invoice.id)
    if status == "draft":
        return message.where(Message.status == "draft")
    if status == "scheduled":
        return message.where(Message.status == "scheduled")
    return None


def filter_queue(statement, session: Session, org_id: int, user_id: int, filters: QueueFilters, today: dt.date):
    """`statement` limited to the eligible open invoices the filters select (joined to their customer)."""
    statement = (statement.join(Customer, and_(Customer.org_id == Invoice.org_id, Customer.id == Invoice.customer_id))
                 .where(Invoice.org_id == org_id, Invoice.status == "open", eligible_clause(today)))
    if filters.mine:
        statement = statement.where(assigned_to(user_id))
    if filters.bucket in BUCKET_NAMES:
        statement = statement.where(bucket_clause(filters.bucket, today))
    if filters.segment_id:
        segment = session.get(Segment, filters.segment_id)
        if segment is not None and segment.org_id == org_id:
            statement = statement.where(segment_clause(SegmentRules.from_json(segment.rules), today))
    status = _status_clause(filters.status, org_id)
    if status is not None:
        statement = statement.where(status)
    search = filters.search.strip()
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(or_(Customer.name.ilike(pattern, escape="\\"),
                                        Invoice.number.ilike(pattern, escape="\\")))
    return statement


def queue_page(session: Session, org_id: int, user_id: int, filters: QueueFilters, today: dt.date,
               after: Cursor | None = None, limit: int = PAGE_SIZE) -> QueuePage:
    """One page of the queue, highest priority first, starting after `after`."""
    statement = filter_queue(select(
        Invoice.id, Invoice.number, Invoice.due_date, Invoice.currency, Invoice.balance_minor, Invoice.priority,
        Invoice.priority_detail, Invoice.assignee_id, Customer.id.label("customer_id"),
        Customer.name.label("customer_name"), Customer.owner_id,
    ), session, org_id, user_id, filters, today)
    if after is not None:
        statement = statement.where(tuple_(Invoice.priority, Invoice.id) < (after.priority, after.invoice_id))
    rows = session.execute(statement.order_by(Invoice.priority.desc(), Invoice.id.desc()).limit(limit + 1)).all()
    page = QueuePage(rows=list(rows[:limit]))
    if len(rows) > limit:
        last = rows[limit - 1]
        page.next_cursor = Cursor(last.priority, last.id)
    return page


TOTALS_TTL_SECONDS = 60


def _version_key(org_id: int) -> str:
    return f"plixo:queue-version:{org_id}"


def queue_changed(org_id: int) -> None:
    """Forget the workspace's cached queue totals (after anything that adds, removes or changes items)."""
    get_redis().incr(_version_key(org_id))


def queue_version(org_id: int) -> int:
    """The workspace's queue version: every change bumps it, so what is remembered under it is current."""
    return int(get_redis().get(_version_key(org_id)) or 0)


def cached_queue_totals(session: Session, org_id: int, user_id: int, filters: QueueFilters,
                        today: dt.date) -> tuple[int, dict[str, int]]:
    """queue_totals, remembered briefly: counting a large queue scans it, and the answer rarely changes."""
    redis = get_redis()
    version = queue_version(org_id)
    scope = f"{user_id}:" if filters.mine else ""
    selection = json.dumps(filters.as_args(), sort_keys=True)
    key = f"plixo:queue-totals:{org_id}:{version}:{today.isoformat()}:{scope}{selection}"
    cached = redis.get(key)
    if cached is not None:
        count, balances = json.loads(cached)
        return count, balances
    count, balances = queue_totals(session, org_id, user_id, filters, today)
    redis.set(key, json.dumps([count, balances]), ex=TOTALS_TTL_SECONDS)
    return count, balances


def queue_totals(session: Session, org_id: int, user_id: int, filters: QueueFilters,
                 today: dt.date) -> tuple[int, dict[str, int]]:
    """How many invoices the filters select, and their open balance per currency."""
    statement = filter_queue(select(Invoice.currency, func.count(), func.sum(Invoice.balance_minor)),
                          session, org_id, user_id, filters, today).group_by(Invoice.currency)
    count, balances = 0, {}
    for currency, n, total in session.execute(statement):
        count += n
        balances[currency] = int(total or 0)
    return count, dict(sorted(balances.items(), key=lambda item: -item[1]))
