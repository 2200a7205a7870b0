"""The demo's past as the console reads it: every change of every open balance (billed, paid through Stripe or
reported by an import, credited, written off) on the day it happened, the month-by-month exchange rates foreign
invoices convert at, and the snapshots behind the console's trends (every month-end, and every day of the last
quarter).

The ledger rows are written already settled (`payments.write_invoices_and_payments`), so the flush hook that would
record their changes is off there and the whole history is written here in one bulk insert. Each invoice's changes
add up to its open balance, as `ledger.balances.unbalanced_invoices` checks.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.demo.draws import DAY, first_issue_day, history_start
from plixo.demo.invoices import PlannedInvoice
from plixo.demo.payments import STRIPE
from plixo.demo.workspace import ORG_ZONE, Team
from plixo.insights.rates import set_rate
from plixo.insights.service import back_fill_snapshot, take_snapshot
from plixo.ledger.models import BalanceChange, Invoice, Payment

# Where each foreign currency stood in US dollars when the history starts, and how far it drifts in a month.
_OPENING_RATES = {"EUR": Decimal("1.0850"), "GBP": Decimal("1.2650")}
_MONTHLY_DRIFT = 0.012
_RATE_PLACES = Decimal("0.0001")
_IMPORT_HOUR = dt.time(19, 30)  # the nightly ERP import reports the day's bank receipts and credit notes
DAILY_SNAPSHOT_DAYS = 90


def write_balance_history(session: Session, org_id: int, ledger: list[PlannedInvoice],
                          payments: dict[tuple[str, dt.date], Payment]) -> int:
    """Every invoice's balance changes, bulk inserted; returns how many."""
    rows = []
    for invoice in ledger:
        row = invoice.row
        rows.append(_change(row, invoice.issue_date, invoice.amount_minor, "issued", "import", row.created_at))
        if invoice.credit is not None:
            day, credited = invoice.credit
            rows.append(_change(row, day, -credited, "credited", "import", _imported_at(day)))
        for day, applied in invoice.receipts:
            payment = payments[(invoice.account.customer.external_id, day)]
            if payment.provider == STRIPE:  # cash counts on the local day Stripe took it
                rows.append(_change(row, day, -applied, "collected", "stripe", payment.received_at))
            else:
                rows.append(_change(row, day, -applied, "collected", "import", _imported_at(day)))
        if invoice.written_off_on is not None:
            rows.append(_change(row, invoice.written_off_on, -invoice.balance_minor, "written_off", "manual",
                                row.closed_at))
    session.execute(insert(BalanceChange), rows)
    return len(rows)


def _change(invoice: Invoice, day: dt.date, amount: int, kind: str, source: str, at: dt.datetime) -> dict:
    return {"org_id": invoice.org_id, "invoice_id": invoice.id, "customer_id": invoice.customer_id,
            "currency": invoice.currency, "day": day, "amount_minor": amount, "kind": kind, "source": source,
            "recorded_at": at}


def _imported_at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, _IMPORT_HOUR, ORG_ZONE).astimezone(dt.UTC)


def write_exchange_rates(session: Session, org: Organization, rng: random.Random, team: Team,
                         today: dt.date) -> int:
    """A rate for each foreign currency billed (but the Canadian dollar: its amounts show apart, unconverted) on
    the first of every month of the history, as the billing admin imports them; returns how many."""
    month = first_issue_day(today).replace(day=1)
    rates = dict(_OPENING_RATES)
    entered_by = team.users.get("billing_admin") or team.user("controller")
    count = 0
    while month <= today:
        for currency in sorted(rates):
            set_rate(session, org, entered_by, currency, month, rates[currency], source="csv")
            drift = Decimal(str(round(rng.gauss(0.0, _MONTHLY_DRIFT), 4)))
            rates[currency] = (rates[currency] * (1 + drift)).quantize(_RATE_PLACES)
            count += 1
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return count


def snapshot_days(today: dt.date) -> list[dt.date]:
    """The past days the demo keeps a snapshot of: every month-end of the history, and each of the last 90 days.
    (Every day of 18 months would take half a minute on SQLite: each snapshot works its figures out afresh.)"""
    days = {today - DAY * n for n in range(1, DAILY_SNAPSHOT_DAYS + 1)}
    month = history_start(today)
    while (month_end := (month + dt.timedelta(days=32)).replace(day=1) - DAY) < today:
        days.add(month_end)
        month = month_end + DAY
    return sorted(days)


def back_fill_snapshots(session: Session, org: Organization, today: dt.date) -> int:
    """The snapshots of `snapshot_days`, oldest first (a day's CEI starts from the snapshot 30 days before it when
    there is one), and today's, taken as the hourly job takes it; returns how many."""
    days = snapshot_days(today)
    for day in days:
        back_fill_snapshot(session, org, day, today)
    take_snapshot(session, org, dt.datetime.combine(today, dt.time(12), ORG_ZONE))
    return len(days) + 1
