"""What moves invoices' open balances, recorded as it happens (`BalanceChange`).

Cash collected on a day is what payments and imports took off balances that day; worked out later from today's
balances it would be wrong the moment one more payment arrived. So every change is written when it is made:

- changes made through the ORM (Stripe payments, write-offs, a new invoice) by a flush hook, with the reason the
  caller names through `balance_reason` (without one, a change is "adjusted": never counted as cash);
- an import's bulk statements by `record_import_moves`, `record_new_invoices` and `record_closing`, which run in
  the same transaction as the statements they describe.

An invoice's open balance is its balance while open or disputed, else nothing; its changes always add up to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import and_, case, event, exists, func, insert, inspect, literal, select, union_all
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.ledger.aging import local_today
from plixo.ledger.models import BalanceChange, Invoice
from plixo.tenancy import current_org_id

OPEN_STATUSES = ("open", "disputed")
_REASON = "plixo.balance_reason"
_OFF = "plixo.balance_history_written_by_caller"
changes, invoices = BalanceChange.__table__, Invoice.__table__


@dataclass(frozen=True)
class Reason:
    """How to name a change: the kind when the balance falls and when it rises, where it came from, and the day
    it happened (None: the workspace's today)."""

    down: str
    up: str
    source: str
    day: dt.date | None = None


UNEXPLAINED = Reason("adjusted", "adjusted", "system")
WRITTEN_OFF = Reason("written_off", "adjusted", "manual")


@contextmanager
def balance_reason(session: Session, reason: Reason) -> Iterator[None]:
    """Name the balance changes flushed inside the block."""
    previous = session.info.get(_REASON)
    session.info[_REASON] = reason
    try:
        yield
    finally:
        session.info[_REASON] = previous


@contextmanager
def history_written_by_caller(session: Session) -> Iterator[None]:
    """For seeding code that writes an invoice's whole history itself (demo, benchmarks)."""
    session.info[_OFF] = True
    try:
        yield
    finally:
        session.info.pop(_OFF, None)


def open_balance(status: str, balance_minor: int) -> int:
    return balance_minor if status in OPEN_STATUSES else 0


# First among the flush hooks, so the workspace guard that follows checks the changes added here too.
@event.listens_for(Session, "before_flush", insert=True)
def _record_orm_changes(session: Session, _flush_context, _instances) -> None:
    if session.info.get(_OFF):
        return
    reason = session.info.get(_REASON) or UNEXPLAINED
    now = dt.datetime.now(dt.UTC)
    with session.no_autoflush:
        for invoice in [obj for obj in session.new if isinstance(obj, Invoice)]:
            _record_new(session, invoice, reason, now)
        for invoice in [obj for obj in session.dirty if isinstance(obj, Invoice)]:
            _record_moved(session, invoice, reason, now)


def _org_of(invoice: Invoice) -> int | None:
    # A new invoice's workspace is filled in from the current scope by the guard that runs after this hook.
    return invoice.org_id if invoice.org_id is not None else current_org_id()


def _day(session: Session, org_id: int | None, reason: Reason, now: dt.datetime) -> dt.date:
    if reason.day is not None:
        return reason.day
    zones = session.info.setdefault("plixo.time_zones", {})
    if org_id not in zones:
        zones[org_id] = session.get(Organization, org_id).time_zone
    return local_today(zones[org_id], now)


def _change(invoice: Invoice, customer_id: int, currency: str, day: dt.date, amount: int, kind: str, source: str,
            now: dt.datetime) -> BalanceChange:
    return BalanceChange(org_id=_org_of(invoice), invoice=invoice, customer_id=customer_id, currency=currency,
                         day=day, amount_minor=amount, kind=kind, source=source, recorded_at=now)


def _record_new(session: Session, invoice: Invoice, reason: Reason, now: dt.datetime) -> None:
    issued = _change(invoice, invoice.customer_id, invoice.currency, invoice.issue_date, invoice.amount_minor,
                     "issued", reason.source, now)
    session.add(issued)
    before_us = open_balance(invoice.status or "open", invoice.balance_minor) - invoice.amount_minor
    if before_us:
        day = _day(session, _org_of(invoice), reason, now)
        session.add(_change(invoice, invoice.customer_id, invoice.currency, day, before_us, "settled_before",
                            reason.source, now))


def _was(invoice: Invoice, name: str):
    history = inspect(invoice).attrs[name].history
    return history.deleted[0] if history.deleted else getattr(invoice, name)


def _record_moved(session: Session, invoice: Invoice, reason: Reason, now: dt.datetime) -> None:
    before = (_was(invoice, "customer_id"), _was(invoice, "currency"),
              open_balance(_was(invoice, "status"), _was(invoice, "balance_minor")))
    after = (invoice.customer_id, invoice.currency, open_balance(invoice.status, invoice.balance_minor))
    if before == after:
        return
    day = _day(session, _org_of(invoice), reason, now)
    if before[:2] != after[:2]:  # moved to another customer or currency: out of one, into the other
        session.add(_change(invoice, *before[:2], day, -before[2], "adjusted", reason.source, now))
        session.add(_change(invoice, *after[:2], day, after[2], "adjusted", reason.source, now))
        return
    delta = after[2] - before[2]
    session.add(_change(invoice, invoice.customer_id, invoice.currency, day, delta,
                        reason.down if delta < 0 else reason.up, reason.source, now))


# --- Bulk statements (imports and syncs) ----------------------------------------------------------------------

def _open_of(status, balance):
    return case((status.in_(OPEN_STATUSES), balance), else_=0)


def record_import_moves(session: Session, org_id: int, incoming, new_status, day: dt.date, source: str,
                        now: dt.datetime) -> None:
    """Before an import updates invoices from `incoming` (number, customer_id, currency, balance_minor), record
    how each open balance it is about to change moves: a fall is cash collected, a rise an adjustment."""
    was = _open_of(invoices.c.status, invoices.c.balance_minor)
    will = _open_of(new_status, incoming.c.balance_minor)
    joined = and_(invoices.c.org_id == org_id, invoices.c.number == incoming.c.number)
    same_place = and_(invoices.c.customer_id == incoming.c.customer_id, invoices.c.currency == incoming.c.currency)
    columns = ["org_id", "invoice_id", "customer_id", "currency", "day", "amount_minor", "kind", "source",
               "recorded_at"]
    moved = select(literal(org_id), invoices.c.id, invoices.c.customer_id, invoices.c.currency, literal(day),
                   will - was, case((will < was, "collected"), else_="adjusted"), literal(source),
                   literal(now)).where(joined, same_place, will != was)
    out_of = select(literal(org_id), invoices.c.id, invoices.c.customer_id, invoices.c.currency, literal(day), -was,
                    literal("adjusted"), literal(source), literal(now)).where(joined, ~same_place, was != 0)
    into = select(literal(org_id), invoices.c.id, incoming.c.customer_id, incoming.c.currency, literal(day), will,
                  literal("adjusted"), literal(source), literal(now)).where(joined, ~same_place, will != 0)
    session.execute(insert(changes).from_select(columns, union_all(moved, out_of, into)))


def record_new_invoices(session: Session, org_id: int, created_at: dt.datetime, day: dt.date, source: str) -> None:
    """After an import inserted invoices (created at `created_at`), record each one's billing on its issue date
    and, when it arrived part or fully paid, what was settled before Plixo knew it (not counted as cash)."""
    fresh = and_(invoices.c.org_id == org_id, invoices.c.created_at == created_at,
                 ~exists().where(changes.c.org_id == org_id, changes.c.invoice_id == invoices.c.id))
    columns = ["org_id", "invoice_id", "customer_id", "currency", "day", "amount_minor", "kind", "source",
               "recorded_at"]
    issued = select(literal(org_id), invoices.c.id, invoices.c.customer_id, invoices.c.currency,
                    invoices.c.issue_date, invoices.c.amount_minor, literal("issued"), literal(source),
                    literal(created_at)).where(fresh)
    before_us = _open_of(invoices.c.status, invoices.c.balance_minor) - invoices.c.amount_minor
    settled = select(literal(org_id), invoices.c.id, invoices.c.customer_id, invoices.c.currency, literal(day),
                     before_us, literal("settled_before"), literal(source),
                     literal(created_at)).where(fresh, before_us != 0)
    session.execute(insert(changes).from_select(columns, union_all(issued, settled)))


def record_closing(session: Session, org_id: int, closing, day: dt.date, source: str, now: dt.datetime) -> None:
    """Before a full sync closes the open invoices matching `closing`, record their balances as collected."""
    columns = ["org_id", "invoice_id", "customer_id", "currency", "day", "amount_minor", "kind", "source",
               "recorded_at"]
    closed = select(literal(org_id), invoices.c.id, invoices.c.customer_id, invoices.c.currency, literal(day),
                    -invoices.c.balance_minor, literal("collected"), literal(source), literal(now)).where(
        invoices.c.org_id == org_id, invoices.c.status == "open", invoices.c.balance_minor != 0, closing)
    session.execute(insert(changes).from_select(columns, closed))


def unbalanced_invoices(session: Session, org_id: int) -> list[int]:
    """Invoices whose changes do not add up to their open balance (none, unless something bypassed this module)."""
    recorded = (select(changes.c.invoice_id, func.sum(changes.c.amount_minor).label("total"))
                .where(changes.c.org_id == org_id).group_by(changes.c.invoice_id).subquery())
    return list(session.scalars(
        select(invoices.c.id).outerjoin(recorded, recorded.c.invoice_id == invoices.c.id)
        .where(invoices.c.org_id == org_id,
               func.coalesce(recorded.c.total, 0) != _open_of(invoices.c.status, invoices.c.balance_minor))
        .order_by(invoices.c.id)))
