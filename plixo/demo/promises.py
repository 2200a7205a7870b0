"""Promises to pay: over the history on invoices paid late (kept ones on the day the payment came, broken ones
well before it), and on today's overdue invoices with an outcome; written once invoices and payments exist."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy.orm import Session

from plixo.demo.draws import DAY, business_instant, day_between, history_start, weighted
from plixo.demo.invoices import PlannedInvoice, partial_amount
from plixo.demo.workspace import Team
from plixo.ledger.models import Payment
from plixo.promises.models import Promise

_PROMISE_SHARE = 0.06
_PROMISE_OUTCOMES = (("kept", 40), ("broken", 30), ("pending", 30))
_PAST_PROMISE_SHARE = 0.15  # of invoices paid 10+ days late since Plixo came in
_PAST_KEPT_SHARE = 0.68
_PAST_LATE_DAYS = 10


@dataclass
class PlannedPromise:
    """A promise to pay one invoice, and how it turned out, before any row exists."""

    invoice: PlannedInvoice
    outcome: str  # kept, broken, pending
    promised_date: dt.date
    amount_minor: int
    made_on: dt.date


def plan_promises(rng: random.Random, ledger: list[PlannedInvoice], today: dt.date) -> list[PlannedPromise]:
    """Promises over the history, then on ~6 % of today's overdue open invoices (kept ones add the payment that
    kept them)."""
    promises = _plan_past_promises(rng, ledger, today)
    overdue = [inv for inv in ledger if inv.is_open and inv.due_date < today]
    if not overdue:
        return promises
    chosen = rng.sample(overdue, k=min(len(overdue), max(3, round(len(overdue) * _PROMISE_SHARE))))
    for invoice, outcome in zip(chosen, _promise_outcomes(len(chosen)), strict=True):
        promise = _plan_promise(rng, invoice, outcome, today)
        if promise.outcome == "kept":
            invoice.receipts.append((promise.promised_date, promise.amount_minor))
        invoice.has_promise = True
        promises.append(promise)
    return promises


def _plan_past_promises(rng: random.Random, ledger: list[PlannedInvoice], today: dt.date) -> list[PlannedPromise]:
    """Promises made since Plixo came in on invoices paid 10+ days late: a kept one promised the payment that then
    came, a broken one promised the balance for a day at least five days before anything came."""
    since, recent = history_start(today), today - dt.timedelta(days=30)
    promises = []
    for invoice in ledger:
        if not invoice.receipts:
            continue
        paid_on, paid = invoice.receipts[0]
        first = max(invoice.due_date + DAY, since)  # made once overdue, and in Plixo
        if (paid_on - invoice.due_date).days < _PAST_LATE_DAYS or paid_on - first < 5 * DAY or paid_on >= recent:
            continue
        if rng.random() >= _PAST_PROMISE_SHARE:
            continue
        if rng.random() < _PAST_KEPT_SHARE:
            made_on = max(first, paid_on - dt.timedelta(days=rng.randint(3, 14)))
            promises.append(PlannedPromise(invoice, "kept", paid_on, paid, made_on))
        else:
            promised = day_between(rng, first, paid_on - 5 * DAY)
            made_on = max(first, promised - dt.timedelta(days=rng.randint(2, 10)))
            credited = invoice.credit[1] if invoice.credit and invoice.credit[0] <= promised else 0
            promises.append(PlannedPromise(invoice, "broken", promised, invoice.amount_minor - credited, made_on))
        invoice.has_promise = True
    return promises


def _promise_outcomes(count: int) -> list[str]:
    """Outcomes in fixed shares rather than drawn, so even a small demo shows every kind."""
    total_weight = sum(weight for _, weight in _PROMISE_OUTCOMES)
    outcomes = []
    for outcome, weight in _PROMISE_OUTCOMES:
        outcomes += [outcome] * max(1, count * weight // total_weight)
    return (outcomes + [_PROMISE_OUTCOMES[-1][0]] * count)[:count]


def _plan_promise(rng: random.Random, invoice: PlannedInvoice, outcome: str, today: dt.date) -> PlannedPromise:
    """A promise whose dates fit its outcome; pending when the invoice's history leaves no room for it."""
    window = _past_promise_window(invoice, outcome, today)
    if window is None:
        promised = today + dt.timedelta(days=rng.randint(1, 14))
        made_on = max(invoice.due_date, today - dt.timedelta(days=rng.randint(1, 6)))
        return PlannedPromise(invoice, "pending", promised, invoice.balance_minor, made_on)
    promised = day_between(rng, *window)
    made_on = max(invoice.due_date, promised - dt.timedelta(days=rng.randint(2, 10)))
    amount = invoice.balance_minor
    if outcome == "kept" and rng.random() < 0.3:
        amount = partial_amount(rng, amount, invoice.account.currency)  # kept, but for part of the balance
    return PlannedPromise(invoice, outcome, promised, amount, made_on)


def _past_promise_window(invoice: PlannedInvoice, outcome: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """First and last possible promised date of a kept or broken promise, or None if none fits."""
    after_due = invoice.due_date + DAY
    if outcome == "kept":
        # Paid on the promised day, so it must come after any earlier receipt and before today.
        after_receipts = (invoice.last_receipt_day or invoice.issue_date) + DAY
        first, last = max(after_due, after_receipts, today - dt.timedelta(days=30)), today - DAY
    elif outcome == "broken":
        first, last = max(after_due, today - dt.timedelta(days=21)), today - 2 * DAY  # noticed the day after
    else:
        return None
    return (first, last) if first <= last else None


def write_promises(
    session: Session, org_id: int, rng: random.Random, promises: list[PlannedPromise],
    payments: dict[tuple[str, dt.date], Payment], team: Team,
) -> None:
    """Promise rows; a kept one is resolved when the payment that kept it arrived."""
    rows = []
    for promise in promises:
        invoice = promise.invoice
        primary = invoice.account.primary
        resolved_at = None
        if promise.outcome == "kept":
            resolved_at = payments[(invoice.account.customer.external_id, promise.promised_date)].received_at
        elif promise.outcome == "broken":
            resolved_at = business_instant(rng, promise.promised_date + DAY)
        rows.append(Promise(
            org_id=org_id, invoice_id=invoice.row.id, customer_id=invoice.account.customer.id,
            contact_id=primary.id if primary else None, currency=invoice.account.currency,
            amount_minor=promise.amount_minor, promised_date=promise.promised_date, status=promise.outcome,
            source=weighted(rng, (("operator", 70), ("portal", 20), ("email", 10))),
            created_by_id=team.id_of("operator"), resolved_at=resolved_at,
            created_at=business_instant(rng, promise.made_on),
        ))
    session.add_all(rows)
