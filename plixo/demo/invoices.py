"""The ledger plan: who is billed what and when, and which receipts settle each invoice."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from plixo.demo.customers import Account
from plixo.demo.draws import DAY, HISTORY_DAYS, business_instant
from plixo.ledger.models import Invoice
from plixo.money import exponent

# When customers pay, in days after the due date: (mean, standard deviation) per risk tier.
_LATENESS_DAYS = {"low": (0.0, 8.0), "medium": (15.0, 18.0), "high": (38.0, 32.0)}
# Share of invoices a customer never settles (the 90+ tail every real ledger has).
_NEVER_PAYS = {"low": 0.015, "medium": 0.04, "high": 0.12}
_SPLIT_PAYMENT_SHARE = 0.10  # invoices paid in two instalments, the second often still outstanding

_MIN_INVOICE_MAJOR = 150
_MAX_INVOICE_MAJOR = 85_000


@dataclass
class PlannedInvoice:
    """One invoice and the receipts applied to it, before any row exists."""

    account: Account
    issue_date: dt.date
    due_date: dt.date
    amount_minor: int
    receipts: list[tuple[dt.date, int]] = field(default_factory=list)  # (day received, minor units applied)
    number: str = ""
    disputed: bool = False
    has_promise: bool = False
    row: Invoice | None = None

    @property
    def balance_minor(self) -> int:
        """What is still owed once the planned receipts are in."""
        return self.amount_minor - sum(applied for _, applied in self.receipts)

    @property
    def last_receipt_day(self) -> dt.date | None:
        """The day of the latest planned receipt, if any."""
        return max((day for day, _ in self.receipts), default=None)


def plan_invoices(rng: random.Random, accounts: list[Account], count: int, today: dt.date) -> list[PlannedInvoice]:
    """About `count` invoices over the last year with their receipts, in issue order and numbered."""
    ledger = [_plan_invoice(rng, account, today) for account in _bill_to(rng, accounts, count)]
    ledger.sort(key=lambda invoice: invoice.issue_date)  # stable: same-day order stays deterministic
    _number_invoices(rng, ledger)
    return ledger


def _bill_to(rng: random.Random, accounts: list[Account], count: int) -> list[Account]:
    """Which customer each invoice goes to: everyone gets one, the rest follow volume weights."""
    guaranteed = accounts[:count]
    extra = rng.choices(accounts, weights=[a.volume_weight for a in accounts], k=max(0, count - len(accounts)))
    return guaranteed + extra


def _plan_invoice(rng: random.Random, account: Account, today: dt.date) -> PlannedInvoice:
    """One invoice to `account` issued in the last year, and when it is paid."""
    # The year up to yesterday: an invoice stamped later today would be in the future for the viewer.
    issue = today - dt.timedelta(days=rng.randint(1, HISTORY_DAYS))
    invoice = PlannedInvoice(
        account=account, issue_date=issue, due_date=issue + dt.timedelta(days=account.terms_days),
        amount_minor=_invoice_amount(rng, account),
    )
    invoice.receipts = _plan_receipts(rng, invoice, today)
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


def _plan_receipts(rng: random.Random, invoice: PlannedInvoice, today: dt.date) -> list[tuple[dt.date, int]]:
    """When the customer pays: lateness by risk tier; receipts after yesterday have not happened yet."""
    risk = invoice.account.customer.risk_tier
    mean, spread = _LATENESS_DAYS[risk]
    pay_day = max(invoice.issue_date + DAY, invoice.due_date + dt.timedelta(days=round(rng.gauss(mean, spread))))
    never_pays = rng.random() < _NEVER_PAYS[risk]
    if rng.random() < _SPLIT_PAYMENT_SHARE:
        first = partial_amount(rng, invoice.amount_minor, invoice.account.currency)
        second_day = pay_day + dt.timedelta(days=rng.randint(14, 60))
        planned = [(pay_day, first)] if never_pays else [(pay_day, first), (second_day, invoice.amount_minor - first)]
    else:
        planned = [] if never_pays else [(pay_day, invoice.amount_minor)]
    # Nothing is received "today": a time later today would be in the future for whoever opens the demo.
    return [(day, amount) for day, amount in planned if day < today]


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
    return Invoice(
        org_id=org_id, customer_id=invoice.account.customer.id, number=invoice.number,
        issue_date=invoice.issue_date, due_date=invoice.due_date, currency=invoice.account.currency,
        amount_minor=invoice.amount_minor, balance_minor=balance, status=status, source="demo",
        created_at=business_instant(rng, invoice.issue_date),
    )
