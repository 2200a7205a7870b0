"""Today's Focus: the few customers that most need the person today, one card each.

The rule, in order:

1. **One card per customer.** A customer's card shows its riskiest invoice in the person's queue, and "+N more"
   counts the customer's other invoices there.
2. **Something falls due now comes first**: a pending promise due today or within PROMISE_DUE_DAYS days (or
   already past its date and not yet settled), a promise broken within JUST_BROKEN_DAYS days, an open dispute
   on the customer that waits for the collector (not for the customer), or a reply of theirs nobody has handled
   (it pauses their chase until someone does).
3. **Then overdue invoices**, and only then invoices not yet due, however large: a not-yet-due invoice rises
   only through rule 2.
4. **Among equals, the priority score** (ledger/priority.py: aging, balance, risk and the queue's signals).

A customer's riskiest invoice follows the same order (a promise falling due, then overdue, then the score), so the
card is the invoice the rule ranks it by.

The queue can hold a hundred thousand invoices, so nothing is ranked in full: the few urgent invoices are found
from their promises and disputes (small, indexed), then each tier is read in stored-priority order over
ix_invoices_org_status_priority, a short page at a time, skipping customers that already have a card. Every page
brings at least one new customer, so FOCUS_CARDS cards take at most FOCUS_CARDS pages per tier; "+N more" is one
grouped count over the chosen customers.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from plixo.disputes.models import Dispute
from plixo.ledger.models import Customer, Invoice
from plixo.promises.models import Promise
from plixo.queue.queries import TOTALS_TTL_SECONDS, QueueFilters, filter_queue, queue_version
from plixo.redis_conn import get_redis
from plixo.replies.models import Reply

FOCUS_CARDS = 3
PROMISE_DUE_DAYS = 2
JUST_BROKEN_DAYS = 2
# Disputes where the next move is the team's: a review, a credit, a decision. "waiting_customer" waits on the payer.
DISPUTE_AWAITS_COLLECTOR = ("needs_review", "investigating", "waiting_internal")
PAGE = 60

TIERS = ("act_now", "overdue", "not_yet_due")
FOCUS_RULE = ("One card per customer, for its riskiest invoice; “+N more” counts its other invoices in your queue. "
              f"First what falls due now: a promise due within {PROMISE_DUE_DAYS} days or just broken, or a dispute "
              "waiting for you, or a reply nobody has handled. Then overdue invoices, then those not yet due. "
              "Among equals, the priority score: "
              "aging, balance, risk and signals such as bounces.")


@dataclass(frozen=True)
class FocusCard:
    """One customer's card: the invoice's queue row, why it is here, and how many more the customer has."""

    row: object  # the queue row (the columns queue_page reads)
    tier: str
    more: int

    def __getattr__(self, name: str):
        return getattr(self.row, name)


def _columns():
    return select(Invoice.id, Invoice.number, Invoice.due_date, Invoice.currency, Invoice.balance_minor,
                  Invoice.priority, Invoice.priority_detail, Invoice.assignee_id, Customer.id.label("customer_id"),
                  Customer.name.label("customer_name"), Customer.owner_id)


def _act_now_clause(session: Session, org_id: int, today: dt.date, now: dt.datetime):
    """Invoices with a promise falling due or just broken, or of a customer whose dispute or reply waits for the
    team; None when there are none.

    Read first from the promises and disputes (few rows, on their status indexes) and given to the queue as lists:
    as subqueries, the planner walks the whole queue in priority order testing each row, which costs a full scan
    whenever nothing falls due."""
    promised = select(literal("invoice").label("kind"), Promise.invoice_id.label("id")).where(
        Promise.org_id == org_id,
        or_((Promise.status == "pending") & (Promise.promised_date <= today + dt.timedelta(days=PROMISE_DUE_DAYS)),
            (Promise.status == "broken")
            # the date bound lets the status/date index narrow it; resolved_at says when it broke
            & (Promise.promised_date >= today - dt.timedelta(days=JUST_BROKEN_DAYS + 14))
            & (Promise.resolved_at >= now - dt.timedelta(days=JUST_BROKEN_DAYS))))
    disputing = select(literal("customer"), Dispute.customer_id).where(
        Dispute.org_id == org_id, Dispute.status.in_(DISPUTE_AWAITS_COLLECTOR))
    replied = select(literal("customer"), Reply.customer_id).where(
        Reply.org_id == org_id, Reply.handled_at.is_(None), Reply.customer_id.is_not(None))
    found = session.execute(union_all(promised, disputing, replied)).all()  # one round trip for all three
    invoice_ids = {row.id for row in found if row.kind == "invoice"}
    customer_ids = {row.id for row in found if row.kind == "customer"}
    if not invoice_ids and not customer_ids:
        return None
    return or_(Invoice.id.in_(sorted(invoice_ids)), Invoice.customer_id.in_(sorted(customer_ids)))


def _tiers(session: Session, org_id: int, today: dt.date, now: dt.datetime):
    """(tier, clause) in rank order; a tier nothing can match is left out. Each tier reads the whole queue in priority
    order, skipping customers earlier tiers chose, so a clause need not exclude what an earlier one matched."""
    act_now = _act_now_clause(session, org_id, today, now)
    if act_now is not None:
        yield "act_now", act_now
    yield "overdue", Invoice.due_date < today
    yield "not_yet_due", None


def focus_cards(session: Session, org_id: int, user_id: int, filters: QueueFilters, today: dt.date,
                now: dt.datetime, limit: int = FOCUS_CARDS) -> list[FocusCard]:
    """Today's Focus for the person's queue (`filters.mine` for their own), in the order of the rule above."""
    base = filter_queue(_columns(), session, org_id, user_id, QueueFilters(mine=filters.mine), today)
    picked: list[tuple[object, str]] = []
    for tier, clause in _tiers(session, org_id, today, now):
        statement = base if clause is None else base.where(clause)
        picked += _first_customers(session, statement, {row.customer_id for row, _ in picked}, limit - len(picked),
                                   tier)
        if len(picked) >= limit:
            break
    counts = _queue_counts(session, base, [row.customer_id for row, _ in picked])
    return [FocusCard(row, tier, counts.get(row.customer_id, 1) - 1) for row, tier in picked]


def cached_focus_cards(session: Session, org_id: int, user_id: int, filters: QueueFilters, today: dt.date,
                       now: dt.datetime) -> list[FocusCard]:
    """`focus_cards`, whose choice is remembered until the queue changes (at most a minute): every queue page shows
    Focus, and choosing walks the queue tier by tier. The chosen rows are read again each time, still through the
    queue's filters, so a card never shows an invoice that left the queue or stale figures."""
    redis = get_redis()
    key = (f"plixo:queue-focus:{org_id}:{queue_version(org_id)}:{today.isoformat()}:"
           f"{user_id if filters.mine else 'all'}")
    cached = redis.get(key)
    if cached is not None:
        picks = json.loads(cached)
        base = filter_queue(_columns(), session, org_id, user_id, QueueFilters(mine=filters.mine), today)
        rows = {row.id: row for row in session.execute(base.where(Invoice.id.in_([p[0] for p in picks])))}
        if len(rows) == len(picks):
            return [FocusCard(rows[invoice_id], tier, more) for invoice_id, tier, more in picks]
    cards = focus_cards(session, org_id, user_id, filters, today, now)
    redis.set(key, json.dumps([[card.row.id, card.tier, card.more] for card in cards]), ex=TOTALS_TTL_SECONDS)
    return cards


def _first_customers(session: Session, statement, taken: set[int], wanted: int, tier: str) -> list:
    """The first `wanted` customers in priority order not in `taken`, each with its first (highest) row."""
    found: list = []
    seen = set(taken)
    while len(found) < wanted:
        page = statement
        if seen:
            page = page.where(Invoice.customer_id.not_in(seen))
        rows = session.execute(page.order_by(Invoice.priority.desc(), Invoice.id.desc()).limit(PAGE)).all()
        for row in rows:
            if row.customer_id not in seen and len(found) < wanted:
                seen.add(row.customer_id)
                found.append((row, tier))
        if len(rows) < PAGE:
            break
    return found


def _queue_counts(session: Session, base, customer_ids: list[int]) -> dict[int, int]:
    """How many of each customer's invoices are in the queue (same filters), in one grouped count."""
    if not customer_ids:
        return {}
    statement = (base.with_only_columns(Invoice.customer_id, func.count()).where(Invoice.customer_id.in_(customer_ids))
                 .group_by(Invoice.customer_id))
    return dict(session.execute(statement).all())
