"""The ledger plan: who is billed what and when over the demo's history, and how each invoice is settled.

Billing follows the year (a Q4 peak, a summer dip, busier quarter-ends) and the business's growth; each customer
pays by its own habit (`customers.HABITS`), a little sooner as the history goes on (collections improved). Some
invoices are paid in two parts, a few get a credit note before the rest is paid, and most of those never paid are
written off once they are long past hope.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from itertools import accumulate

from plixo.demo.customers import HABITS, Account
from plixo.demo.draws import DAY, business_instant, first_issue_day, weekday_on_or_after
from plixo.ledger.models import Invoice
from plixo.money import exponent

# Relative billing per calendar month, January first: quarter-ends busier, a summer dip, a Q4 peak.
_SEASON = (0.86, 0.9, 1.06, 0.95, 1.0, 1.06, 0.84, 0.76, 1.06, 1.1, 1.2, 1.32)
_GROWTH_PER_YEAR = 0.25
_WEEKEND_SHARE = 0.1  # billing on a Saturday or Sunday, relative to a weekday
_IMPROVEMENT = 0.1  # lateness past the due date shrinks by this share over the history
_SPLIT_PAYMENT_SHARE = 0.10  # invoices paid in two instalments, the second often still outstanding
_CREDIT_SHARE = 0.015  # invoices a credit note reduces (a price or quantity agreed down), the rest then paid
_WRITE_OFF_SHARE = 0.55  # of balances never paid, written off once long overdue ...
_WRITE_OFF_DAYS = (200, 330)  # ... this many days past due

_MIN_INVOICE_MAJOR = 150
_MAX_INVOICE_MAJOR = 85_000
_YEAR = 365


@dataclass
class PlannedInvoice:
    """One invoice and what settles it (receipts, a credit note, a write-off), before any row exists."""

    account: Account
    issue_date: dt.date
    due_date: dt.date
    amount_minor: int
    receipts: list[tuple[dt.date, int]] = field(default_factory=list)  # (day received, minor units applied)
    credit: tuple[dt.date, int] | None = None  # (day, minor units) of a credit note
    written_off_on: dt.date | None = None
    number: str = ""
    disputed: bool = False
    has_promise: bool = False
    row: Invoice | None = None

    @property
    def balance_minor(self) -> int:
        """What is still owed once the planned receipts and credit are in (a write-off leaves it as it was)."""
        credited = self.credit[1] if self.credit else 0
        return self.amount_minor - credited - sum(applied for _, applied in self.receipts)

    @property
    def is_open(self) -> bool:
        """Still owed today: a balance left and not written off."""
        return self.balance_minor > 0 and self.written_off_on is None

    @property
    def last_receipt_day(self) -> dt.date | None:
        """The day of the latest planned receipt, if any."""
        return max((day for day, _ in self.receipts), default=None)


def plan_invoices(rng: random.Random, accounts: list[Account], count: int, today: dt.date) -> list[PlannedInvoice]:
    """About `count` invoices a year over the whole history (fewer in its earlier, smaller months), with how each
    is settled, in issue order and numbered."""
    first = first_issue_day(today)
    days = [first + DAY * n for n in range((today - first).days)]  # up to yesterday: today's would be in the future
    weights = [_billing_weight(day, first) for day in days]
    last_year = sum(w for day, w in zip(days, weights, strict=True) if day > today - dt.timedelta(days=_YEAR))
    total = max(len(accounts), round(count * sum(weights) / last_year))
    issued = rng.choices(days, cum_weights=list(accumulate(weights)), k=total)
    ledger = [_plan_invoice(rng, account, day, today)
              for account, day in zip(_bill_to(rng, accounts, total), issued, strict=True)]
    ledger.sort(key=lambda invoice: invoice.issue_date)  # stable: same-day order stays deterministic
    _number_invoices(rng, ledger)
    _plan_write_offs(rng, ledger, today)
    return ledger


def _billing_weight(day: dt.date, first: dt.date) -> float:
    """How much is billed on `day`, relative to other days: season, growth since `first`, weekends quiet."""
    growth = (1 + _GROWTH_PER_YEAR) ** ((day - first).days / _YEAR)
    return _SEASON[day.month - 1] * growth * (_WEEKEND_SHARE if day.weekday() >= 5 else 1.0)


def _bill_to(rng: random.Random, accounts: list[Account], count: int) -> list[Account]:
    """Which customer each invoice goes to: everyone gets one, the rest follow volume weights."""
    guaranteed = accounts[:count]
    extra = rng.choices(accounts, weights=[a.volume_weight for a in accounts], k=max(0, count - len(accounts)))
    return guaranteed + extra


def _plan_invoice(rng: random.Random, account: Account, issue: dt.date, today: dt.date) -> PlannedInvoice:
    """One invoice to `account` issued on `issue`, and how it is settled."""
    invoice = PlannedInvoice(
        account=account, issue_date=issue, due_date=issue + dt.timedelta(days=account.terms_days),
        amount_minor=_invoice_amount(rng, account),
    )
    credited = _credit_amount(rng, invoice) if rng.random() < _CREDIT_SHARE else 0
    invoice.receipts = _plan_receipts(rng, invoice, invoice.amount_minor - credited, today)
    if credited:
        # The credit note comes before the payment of the rest; one not raised yet leaves the short payment open.
        paid_on = invoice.receipts[0][0] if invoice.receipts else today
        day = max(issue + DAY, min(issue + dt.timedelta(days=rng.randint(5, 25)), paid_on))
        if day < today:
            invoice.credit = (day, credited)
    return invoice


def _invoice_amount(rng: random.Random, account: Account) -> int:
    """A log-normal amount around the customer's typical size, in integer minor units."""
    major = math.exp(rng.gauss(math.log(account.typical_major), 0.6))
    whole = int(min(max(major, _MIN_INVOICE_MAJOR), _MAX_INVOICE_MAJOR))
    if whole >= 5_000:
        whole = whole // 50 * 50  # large contracts are quoted in round figures
    unit = minor_unit(account.currency)
    cents = 0 if whole >= _MAX_INVOICE_MAJOR or rng.random() < 0.6 else rng.randint(0, unit - 1)
    return whole * unit + cents


def _credit_amount(rng: random.Random, invoice: PlannedInvoice) -> int:
    """A credit note for 5-20 % of the invoice, in whole units."""
    unit = minor_unit(invoice.account.currency)
    return max(unit, invoice.amount_minor * rng.randint(5, 20) // 100 // unit * unit)


def _plan_receipts(rng: random.Random, invoice: PlannedInvoice, payable: int,
                   today: dt.date) -> list[tuple[dt.date, int]]:
    """When the customer pays `payable`: its own habit, a little sooner later in the history; receipts after
    yesterday have not happened yet."""
    account = invoice.account
    habit = HABITS[account.habit]
    mean, spread = habit.lateness
    late = rng.gauss(mean + account.lateness_shift, spread)
    if late > 0:
        first = first_issue_day(today)
        late *= 1 - _IMPROVEMENT * (invoice.issue_date - first).days / max(1, (today - first).days)
    pay_day = weekday_on_or_after(max(invoice.issue_date + DAY, invoice.due_date + dt.timedelta(days=round(late))))
    never_pays = rng.random() < habit.never_pays
    if rng.random() < _SPLIT_PAYMENT_SHARE:
        first_part = partial_amount(rng, payable, account.currency)
        second_day = weekday_on_or_after(pay_day + dt.timedelta(days=rng.randint(14, 60)))
        planned = [(pay_day, first_part)] if never_pays else [(pay_day, first_part), (second_day, payable - first_part)]
    else:
        planned = [] if never_pays else [(pay_day, payable)]
    # Nothing is received "today": a time later today would be in the future for whoever opens the demo.
    return [(day, amount) for day, amount in planned if day < today]


def _plan_write_offs(rng: random.Random, ledger: list[PlannedInvoice], today: dt.date) -> None:
    """Most balances nobody paid are written off, 7-11 months past due; the rest stay in 90+."""
    for invoice in ledger:
        if not invoice.is_open or invoice.due_date >= today - dt.timedelta(days=_WRITE_OFF_DAYS[0]):
            continue
        if rng.random() < _WRITE_OFF_SHARE:
            day = weekday_on_or_after(invoice.due_date + dt.timedelta(days=rng.randint(*_WRITE_OFF_DAYS)))
            if day < today and day > (invoice.last_receipt_day or invoice.issue_date):
                invoice.written_off_on = day


def partial_amount(rng: random.Random, amount_minor: int, currency: str) -> int:
    """A round part (25-75 %) of an amount, strictly between zero and the whole."""
    unit = minor_unit(currency)
    part = amount_minor * rng.randint(25, 75) // 100 // unit * unit
    return min(max(part, unit), amount_minor - 1)


def minor_unit(currency: str) -> int:
    """How many minor units make one unit of `currency` (100 cents to the dollar)."""
    return 10 ** exponent(currency)


def _number_invoices(rng: random.Random, ledger: list[PlannedInvoice]) -> None:
    """Number the invoices in issue order from a random starting point."""
    number = 100_000 + rng.randint(1, 4_000)
    for invoice in ledger:
        number += 2 if rng.random() < 0.02 else 1  # the odd voided number leaves a gap, as in real ledgers
        invoice.number = f"INV-{number:06d}"


def invoice_row(org_id: int, rng: random.Random, invoice: PlannedInvoice) -> Invoice:
    """The invoice row for a planned invoice, its status following the balance left."""
    balance = invoice.balance_minor
    status = "disputed" if invoice.disputed else ("paid" if balance == 0 else "open")
    row = Invoice(
        org_id=org_id, customer_id=invoice.account.customer.id, number=invoice.number,
        issue_date=invoice.issue_date, due_date=invoice.due_date, currency=invoice.account.currency,
        amount_minor=invoice.amount_minor, balance_minor=balance, status=status, source="demo",
        created_at=business_instant(rng, invoice.issue_date),
    )
    if invoice.written_off_on is not None:
        # The balance stays what was written off, as approvals.service leaves it.
        row.status, row.closed_at = "written_off", business_instant(rng, invoice.written_off_on)
    return row
