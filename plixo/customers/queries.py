"""The customer list: search, owner filter, sorting by exposure or risk, and each row's figures.

Sorting needs a figure for every customer, so one grouped query over the open invoices gives each customer's
balance in the workspace currency (and in all others, kept apart), overdue balance and oldest due date; the
page's rows then get their per-currency figures, open disputes and pending promise in one query each, for those
rows only. Amounts of different currencies are never added together: a row lists one figure per currency.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Integer, and_, case, cast, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization, User
from plixo.disputes.models import OPEN_DISPUTE_STATUSES, Dispute
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.promises.models import Promise

PAGE_SIZE = 50
OPEN_STATUSES = ("open", "disputed")  # what a customer still owes, disputed balances included
SORTS = {"exposure": "Largest exposure", "overdue": "Oldest overdue", "risk": "Highest risk", "name": "Name"}
RISK_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class CustomerFilters:
    search: str = ""
    owner: str = ""  # "" (anyone), "mine", "none" (nobody), or an owner's user id
    sort: str = "exposure"
    page: int = 1

    def as_args(self, **changes) -> dict[str, str]:
        """The filters as query-string arguments (only those that differ from the defaults)."""
        values = {"q": self.search, "owner": self.owner, "sort": self.sort, "page": self.page} | changes
        defaults = {"q": "", "owner": "", "sort": "exposure", "page": 1}
        return {k: str(v) for k, v in values.items() if v != defaults[k]}


@dataclass(frozen=True)
class CurrencyFigures:
    open_minor: int
    overdue_minor: int


@dataclass
class CustomerRow:
    id: int
    name: str
    external_id: str
    risk_tier: str
    owner_id: int | None
    owner_name: str | None
    oldest_due: dt.date | None
    days_past_due: int | None = None
    figures: dict[str, CurrencyFigures] = field(default_factory=dict)  # currency -> open and overdue balance
    open_disputes: int = 0
    pending_promise: Promise | None = None


@dataclass
class CustomerList:
    rows: list[CustomerRow]
    total: int
    page: int
    pages: int


def _open_balances(org: Organization, today: dt.date):
    """Per customer: balance in the workspace currency, in all others, overdue in the workspace currency, and the
    oldest due date still owed."""
    base = Invoice.currency == org.base_currency
    overdue = Invoice.due_date < today
    # Grouped by an expression, not the bare column: SQLite (without statistics) would otherwise walk every invoice
    # in customer order (ix_invoices_org_customer) instead of the open ones by status, four times slower on the
    # demo. The cast keeps the column's integer affinity, so the join below can still index it.
    customer = cast(Invoice.customer_id + literal_column("0"), Integer)
    return (select(customer.label("customer_id"),
                   func.sum(case((base, Invoice.balance_minor), else_=0)).label("base_open"),
                   func.sum(case((base, 0), else_=Invoice.balance_minor)).label("other_open"),
                   func.sum(case((and_(base, overdue), Invoice.balance_minor), else_=0)).label("base_overdue"),
                   func.min(case((overdue, Invoice.due_date))).label("oldest_due"))
            .where(Invoice.org_id == org.id, Invoice.status.in_(OPEN_STATUSES), Invoice.balance_minor > 0)
            .group_by(customer).subquery("balances"))


def _like(search: str) -> str:
    return "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filtered(statement, org: Organization, user_id: int, filters: CustomerFilters):
    statement = statement.where(Customer.org_id == org.id)
    if filters.owner == "mine":
        statement = statement.where(Customer.owner_id == user_id)
    elif filters.owner == "none":
        statement = statement.where(Customer.owner_id.is_(None))
    elif filters.owner.isdigit():
        statement = statement.where(Customer.owner_id == int(filters.owner))
    if filters.search:
        pattern = _like(filters.search)
        contact = exists().where(Contact.org_id == org.id, Contact.customer_id == Customer.id,
                                 Contact.email.ilike(pattern, escape="\\"))
        statement = statement.where(or_(Customer.name.ilike(pattern, escape="\\"),
                                        Customer.external_id.ilike(pattern, escape="\\"), contact))
    return statement


def _order(balances, sort: str) -> list:
    base_open, other_open = func.coalesce(balances.c.base_open, 0), func.coalesce(balances.c.other_open, 0)
    by_name = [Customer.name, Customer.id]
    if sort == "name":
        return by_name
    if sort == "risk":
        risk = case(*((Customer.risk_tier == tier, rank) for tier, rank in RISK_ORDER.items()), else_=len(RISK_ORDER))
        return [risk, func.coalesce(balances.c.base_overdue, 0).desc(), base_open.desc(), *by_name]
    if sort == "overdue":
        # Customers with nothing overdue last, whatever the database's place for NULLs.
        return [balances.c.oldest_due.is_(None), balances.c.oldest_due, base_open.desc(), *by_name]
    return [base_open.desc(), other_open.desc(), *by_name]


def customer_list(session: Session, org: Organization, user_id: int, filters: CustomerFilters, today: dt.date,
                  page_size: int = PAGE_SIZE) -> CustomerList:
    """One page of the workspace's customers, filtered and sorted, with each row's figures."""
    total = session.scalar(_filtered(select(func.count()).select_from(Customer), org, user_id, filters)) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(filters.page, 1), pages)
    balances = _open_balances(org, today)
    statement = _filtered(
        select(Customer.id, Customer.name, Customer.external_id, Customer.risk_tier, Customer.owner_id,
               User.name.label("owner_name"), balances.c.oldest_due)
        .outerjoin(balances, balances.c.customer_id == Customer.id)
        .outerjoin(User, User.id == Customer.owner_id), org, user_id, filters)
    statement = statement.order_by(*_order(balances, filters.sort)).offset((page - 1) * page_size).limit(page_size)
    rows = [CustomerRow(*row) for row in session.execute(statement)]
    _add_figures(session, org.id, rows, today)
    return CustomerList(rows=rows, total=total, page=page, pages=pages)


def _add_figures(session: Session, org_id: int, rows: list[CustomerRow], today: dt.date) -> None:
    """Each row's balances per currency, open disputes and earliest pending promise (one query each)."""
    by_id = {row.id: row for row in rows}
    if not by_id:
        return
    ids = list(by_id)
    for row in rows:
        row.days_past_due = (today - row.oldest_due).days if row.oldest_due else None
    figures = session.execute(
        select(Invoice.customer_id, Invoice.currency, func.sum(Invoice.balance_minor),
               func.sum(case((Invoice.due_date < today, Invoice.balance_minor), else_=0)))
        .where(Invoice.org_id == org_id, Invoice.customer_id.in_(ids), Invoice.status.in_(OPEN_STATUSES),
               Invoice.balance_minor > 0)
        .group_by(Invoice.customer_id, Invoice.currency))
    per_customer: dict[int, dict[str, CurrencyFigures]] = defaultdict(dict)
    for customer_id, currency, open_minor, overdue_minor in figures:
        per_customer[customer_id][currency] = CurrencyFigures(int(open_minor), int(overdue_minor or 0))
    for customer_id, currencies in per_customer.items():
        by_id[customer_id].figures = dict(sorted(currencies.items(), key=lambda item: -item[1].open_minor))
    disputes = session.execute(
        select(Dispute.customer_id, func.count())
        .where(Dispute.org_id == org_id, Dispute.customer_id.in_(ids), Dispute.status.in_(OPEN_DISPUTE_STATUSES))
        .group_by(Dispute.customer_id))
    for customer_id, count in disputes:
        by_id[customer_id].open_disputes = count
    promises = session.scalars(
        select(Promise).where(Promise.org_id == org_id, Promise.customer_id.in_(ids), Promise.status == "pending")
        .order_by(Promise.promised_date.desc()))
    for promise in promises:  # the earliest date is read last, so it stays
        by_id[promise.customer_id].pending_promise = promise


def owner_choices(session: Session, org_id: int) -> list[tuple[int, str]]:
    """The teammates who own customers, for the owner filter."""
    return list(session.execute(
        select(User.id, User.name).where(User.id.in_(
            select(Customer.owner_id).where(Customer.org_id == org_id, Customer.owner_id.is_not(None)).distinct()))
        .order_by(User.name)).tuples())
