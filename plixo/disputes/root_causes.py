"""The Root Causes report: why payers dispute, which customers and which owners, over the last 30, 90 or 365 days.

Disputes are counted by when they were opened. Amounts are the disputed invoices' full amounts (`amount_minor`): the
balance an invoice had when it was disputed is not stored, and its balance today says nothing about the dispute.
They are summed per currency and never across currencies.

Each view is one grouped statement, by the chosen dimensions and the invoice's currency; the currency rows of a group
are folded together here. Time to resolve travels in the same statement as one list of day counts per row, because
SQLite has no median.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, String, case, cast, func, select
from sqlalchemy.orm import Session

from plixo.accounts.models import User
from plixo.csv_safe import csv_safe
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute
from plixo.ledger.models import Customer, Invoice
from plixo.money import exponent

PERIODS = {30: "Last 30 days", 90: "Last 90 days", 365: "Last 365 days"}
DEFAULT_PERIOD = 90
GROUPINGS = {"reason": "Reason", "customer": "Customer", "owner": "Owner", "reason_customer": "Reason × customer"}
DEFAULT_GROUPING = "reason"
# The dimensions each grouping splits by, in column order.
DIMENSIONS = {"reason": ("reason",), "customer": ("customer",), "owner": ("owner",),
              "reason_customer": ("reason", "customer")}
DIMENSION_TITLES = {"reason": "Reason", "customer": "Customer", "owner": "Owner"}
ENDED_STATUSES = ("resolved", "withdrawn")
UNASSIGNED = "Unassigned"


@dataclass(frozen=True)
class RootCauseFilters:
    period_days: int = DEFAULT_PERIOD
    grouping: str = DEFAULT_GROUPING

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> RootCauseFilters:
        """The filters a query string asks for; anything unknown falls back to the default."""
        # Looked up as text, never parsed as a number: "90.0", "1e309" or other scripts' digits are just unknown.
        periods = {str(days): days for days in PERIODS}
        period = periods.get(args.get("period", ""), DEFAULT_PERIOD)
        grouping = args.get("group", "")
        return cls(period, grouping if grouping in GROUPINGS else DEFAULT_GROUPING)

    def as_args(self) -> dict[str, str]:
        return {"period": str(self.period_days), "group": self.grouping}

    @property
    def dimensions(self) -> tuple[str, ...]:
        return DIMENSIONS[self.grouping]


@dataclass
class RootCauseRow:
    """One group's figures: `labels` follow the grouping's dimensions (reason label, customer name, owner name)."""

    labels: tuple[str, ...]
    opened: int = 0
    still_open: int = 0
    resolved_valid: int = 0
    resolved_invalid: int = 0
    withdrawn: int = 0
    amounts: dict[str, int] = field(default_factory=dict)  # currency -> minor units
    days_to_resolve: list[float] = field(default_factory=list)

    @property
    def share_valid(self) -> float | None:
        """Valid among resolved (withdrawn disputes had no verdict); None when none was resolved."""
        resolved = self.resolved_valid + self.resolved_invalid
        return self.resolved_valid / resolved if resolved else None

    @property
    def median_days_to_resolve(self) -> float | None:
        if not self.days_to_resolve:
            return None
        return round(statistics.median(self.days_to_resolve), 1)


@dataclass
class RootCauseReport:
    filters: RootCauseFilters
    since: dt.datetime
    rows: list[RootCauseRow]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(DIMENSION_TITLES[dimension] for dimension in self.filters.dimensions)

    @property
    def currencies(self) -> list[str]:
        return sorted({currency for row in self.rows for currency in row.amounts})


def _dimension_columns(dimension: str) -> tuple[ColumnElement, ...]:
    # Customers and owners are grouped by id, so two customers of one name stay apart; the name is the label.
    return {
        "reason": (Dispute.reason.label("reason_key"),),
        "customer": (Customer.id.label("customer_id"), Customer.name.label("customer_name")),
        "owner": (Dispute.assigned_to_id.label("owner_id"), User.name.label("owner_name")),
    }[dimension]


def _days_to_resolve(session: Session) -> ColumnElement:
    """Days from opening to resolution or withdrawal, as text for the per-row list (None while open)."""
    if session.get_bind().dialect.name == "postgresql":
        days = func.extract("epoch", Dispute.resolved_at - Dispute.opened_at) / 86400
    else:
        days = func.julianday(Dispute.resolved_at) - func.julianday(Dispute.opened_at)
    return case((Dispute.status.in_(ENDED_STATUSES), cast(days, String)), else_=None)


def _grouped_statement(session: Session, org_id: int, filters: RootCauseFilters, since: dt.datetime) -> Select:
    keys = [column for dimension in filters.dimensions for column in _dimension_columns(dimension)]
    status, verdict = Dispute.status, Dispute.verdict
    return (
        select(*keys, Invoice.currency,
               func.count().label("opened"),
               func.count().filter(status.in_(OPEN_DISPUTE_STATUSES)).label("still_open"),
               func.count().filter(status == "resolved", verdict == "valid").label("resolved_valid"),
               func.count().filter(status == "resolved", verdict == "invalid").label("resolved_invalid"),
               func.count().filter(status == "withdrawn").label("withdrawn"),
               func.sum(Invoice.amount_minor).label("amount"),
               func.aggregate_strings(_days_to_resolve(session), ",").label("days"))
        .select_from(Dispute)
        .join(Invoice, (Invoice.id == Dispute.invoice_id) & (Invoice.org_id == Dispute.org_id))
        .join(Customer, (Customer.id == Dispute.customer_id) & (Customer.org_id == Dispute.org_id))
        .outerjoin(User, User.id == Dispute.assigned_to_id)
        .where(Dispute.org_id == org_id, Dispute.opened_at >= since)
        .group_by(*keys, Invoice.currency)
    )


def _labels_of(result_row, dimensions: tuple[str, ...], reason_labels: Mapping[str, str]) -> tuple[str, ...]:
    labels = {"reason": lambda: reason_labels.get(result_row.reason_key, result_row.reason_key),
              "customer": lambda: result_row.customer_name,
              "owner": lambda: result_row.owner_name or UNASSIGNED}
    return tuple(labels[dimension]() for dimension in dimensions)


def _group_key(result_row, dimensions: tuple[str, ...]) -> tuple:
    ids = {"reason": "reason_key", "customer": "customer_id", "owner": "owner_id"}
    return tuple(getattr(result_row, ids[dimension]) for dimension in dimensions)


def _add_currency_row(row: RootCauseRow, result_row) -> None:
    row.opened += result_row.opened
    row.still_open += result_row.still_open
    row.resolved_valid += result_row.resolved_valid
    row.resolved_invalid += result_row.resolved_invalid
    row.withdrawn += result_row.withdrawn
    row.amounts[result_row.currency] = row.amounts.get(result_row.currency, 0) + int(result_row.amount or 0)
    row.days_to_resolve += [float(days) for days in (result_row.days or "").split(",") if days]


def root_causes(session: Session, org_id: int, filters: RootCauseFilters, reason_labels: Mapping[str, str],
                now: dt.datetime) -> RootCauseReport:
    """The workspace's disputes opened in the period, grouped as asked, most disputes first."""
    since = now - dt.timedelta(days=filters.period_days)
    groups: dict[tuple, RootCauseRow] = {}
    for result_row in session.execute(_grouped_statement(session, org_id, filters, since)):
        key = _group_key(result_row, filters.dimensions)
        if key not in groups:
            groups[key] = RootCauseRow(_labels_of(result_row, filters.dimensions, reason_labels))
        _add_currency_row(groups[key], result_row)
    rows = sorted(groups.values(), key=lambda row: (-row.opened, tuple(label.casefold() for label in row.labels)))
    for row in rows:
        row.amounts = dict(sorted(row.amounts.items()))
    return RootCauseReport(filters, since, rows)


def _plain_amount(minor: int, currency: str) -> str:
    """A spreadsheet-friendly decimal ("1250.00"), in the currency's own number of places."""
    return f"{Decimal(minor).scaleb(-exponent(currency)):f}"


def _optional(value: float | None, text) -> str:
    return "" if value is None else text(value)


def root_causes_csv(report: RootCauseReport) -> str:
    """The report as CSV: the table's rows, one amount column per currency, every cell safe from formulas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    currencies = report.currencies
    writer.writerow([*report.columns, "Disputes opened", "Still open", "Resolved valid", "Resolved invalid",
                     "Withdrawn", "Share valid", "Median days to resolve",
                     *(f"Disputed amount {currency}" for currency in currencies)])
    for row in report.rows:
        cells = [*row.labels, row.opened, row.still_open, row.resolved_valid, row.resolved_invalid, row.withdrawn,
                 _optional(row.share_valid, lambda share: f"{share:.4f}"),
                 _optional(row.median_days_to_resolve, str),
                 *(_plain_amount(row.amounts[c], c) if c in row.amounts else "" for c in currencies)]
        writer.writerow([csv_safe(cell) for cell in cells])
    return buffer.getvalue()
