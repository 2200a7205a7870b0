"""Commit: load the normalised file into a staging table, then merge it set-based in one transaction.

PostgreSQL loads with COPY, SQLite with batched executemany. The merges only write rows whose values
differ, so re-importing an unchanged file writes nothing. The caller owns the transaction: an error or a
killed worker leaves nothing behind.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.generations import mark_changed
from plixo.imports.pipeline import NORMALISED_COLUMNS
from plixo.ledger.aging import local_today
from plixo.ledger.balances import record_closing, record_import_moves, record_new_invoices
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.model import utcnow

BATCH_ROWS = 10_000
_FROZEN_STATUSES = ("disputed", "written_off", "void")  # an import never overrides these
_staging = MetaData()


def _text(name: str) -> Column:
    return Column(name, String)


INVOICE_STAGING = Table(
    "import_staging_invoices", _staging,
    Column("line", Integer), _text("invoice_number"), _text("customer_external_id"), _text("customer_name"),
    Column("issue_date", Date), Column("due_date", Date), Column("currency", String(3)),
    Column("amount_minor", BigInteger), Column("balance_minor", BigInteger), _text("contact_email"),
    _text("contact_name"), prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
)
CUSTOMER_STAGING = Table(
    "import_staging_customers", _staging,
    Column("line", Integer), _text("customer_external_id"), _text("customer_name"), _text("risk_tier"),
    _text("time_zone"), _text("contact_email"), _text("contact_name"), prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
STAGING = {"invoices": INVOICE_STAGING, "customers": CUSTOMER_STAGING}

customers, contacts, invoices = Customer.__table__, Contact.__table__, Invoice.__table__


@dataclass
class MergeResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    customers_created: int = 0
    customers_updated: int = 0
    contacts_created: int = 0
    closed_by_sync: int = 0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "extra"} | self.extra


def commit_file(session: Session, org_id: int, kind: str, normalised: Path, skip_keys: set[str],
                full_sync: bool = False, source: str = "import") -> MergeResult:
    """Load and merge one validated file for workspace `org_id` inside the session's transaction; the balance
    changes it makes are recorded as coming from `source` (import, or sync for a connector)."""
    connection = session.connection()
    staging = STAGING[kind]
    staging.drop(connection, checkfirst=True)
    staging.create(connection)
    _load(connection, staging, kind, normalised)
    if skip_keys:
        key = staging.c.invoice_number if kind == "invoices" else staging.c.customer_external_id
        for chunk in _chunks(sorted(skip_keys), 1000):
            connection.execute(staging.delete().where(key.in_(chunk)))
    _refresh_statistics(connection, staging)
    now = utcnow()
    mark_changed(session, org_id)  # bulk statements: the console's flush hook does not see them
    moves = _Moves(local_today(session.get(Organization, org_id).time_zone, now), source, now)
    result = MergeResult()
    _merge_customers(session, org_id, staging, now, result)
    if result.customers_created:
        _refresh_statistics(connection, customers)
    _merge_contacts(session, org_id, staging, now, result)
    if kind == "invoices":
        _refresh_statistics(connection, invoices)
        _merge_invoices(session, org_id, staging, moves, result)
        if result.inserted:
            _refresh_statistics(connection, invoices)  # the queue refresh that follows plans with these
        if full_sync:
            result.closed_by_sync = _close_absent_invoices(session, org_id, staging, moves)
    if connection.dialect.name != "postgresql":
        staging.drop(connection)
    return result


def _refresh_statistics(connection: Connection, table: Table) -> None:
    # A freshly loaded staging table (or a table that just grew a lot) has no planner statistics, and
    # PostgreSQL then picks nested loops that make the merge quadratic. ANALYZE samples, so it stays cheap.
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {table.name}")


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _load(connection: Connection, staging: Table, kind: str, normalised: Path) -> None:
    if connection.dialect.name == "postgresql":
        _copy_into(connection, staging, kind, normalised)
    else:
        _insert_batches(connection, staging, kind, normalised)


def _copy_into(connection: Connection, staging: Table, kind: str, normalised: Path) -> None:
    columns = ", ".join(NORMALISED_COLUMNS[kind])
    cursor = connection.connection.driver_connection.cursor()
    statement = f"COPY {staging.name} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)"
    with open(normalised, "rb") as source, cursor.copy(statement) as copy:
        while chunk := source.read(1 << 20):
            copy.write(chunk)


def _insert_batches(connection: Connection, staging: Table, kind: str, normalised: Path) -> None:
    columns = NORMALISED_COLUMNS[kind]
    date_columns = {i for i, name in enumerate(columns) if name.endswith("_date")}
    int_columns = {i for i, name in enumerate(columns) if name == "line" or name.endswith("_minor")}

    def typed(row: list[str]) -> dict:
        values = {}
        for i, (name, raw) in enumerate(zip(columns, row, strict=True)):
            if raw == "":
                values[name] = None
            elif i in date_columns:
                values[name] = dt.date.fromisoformat(raw)
            elif i in int_columns:
                values[name] = int(raw)
            else:
                values[name] = raw
        return values

    with open(normalised, newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        next(reader)
        batch: list[dict] = []
        for row in reader:
            batch.append(typed(row))
            if len(batch) == BATCH_ROWS:
                connection.execute(staging.insert(), batch)
                batch = []
        if batch:
            connection.execute(staging.insert(), batch)


def _count_written(session: Session, statement) -> int:
    """Run an INSERT … SELECT or UPDATE and count its rows (psycopg reports -1 for INSERT … SELECT)."""
    table = statement.table
    return len(session.execute(statement.returning(table.c.id)).all())


def _merge_customers(session: Session, org_id: int, staging: Table, now: dt.datetime, result: MergeResult) -> None:
    """Create customers the file introduces; update names (and tier/zone for customer files) that changed."""
    names = (select(staging.c.customer_external_id.label("external_id"),
                    func.max(staging.c.customer_name).label("name"),
                    *_customer_extras(staging))
             .group_by(staging.c.customer_external_id).subquery("incoming"))
    new = select(
        literal(org_id), names.c.external_id, func.coalesce(names.c.name, names.c.external_id),
        func.coalesce(names.c.risk_tier, "medium"), names.c.time_zone, _empty_json_list(session), literal(now),
        literal(now),
    ).where(~exists().where(customers.c.org_id == org_id, customers.c.external_id == names.c.external_id))
    result.customers_created = _count_written(session, customers.insert().from_select(
        ["org_id", "external_id", "name", "risk_tier", "time_zone", "tags", "created_at", "updated_at"], new))
    changed = _differs([(customers.c.name, func.coalesce(names.c.name, customers.c.name)),
                        (customers.c.risk_tier, func.coalesce(names.c.risk_tier, customers.c.risk_tier)),
                        (customers.c.time_zone, func.coalesce(names.c.time_zone, customers.c.time_zone))])
    result.customers_updated = _count_written(session, (
        update(customers)
        .where(customers.c.org_id == org_id, customers.c.external_id == names.c.external_id, changed)
        .values(name=func.coalesce(names.c.name, customers.c.name),
                risk_tier=func.coalesce(names.c.risk_tier, customers.c.risk_tier),
                time_zone=func.coalesce(names.c.time_zone, customers.c.time_zone), updated_at=now)
    ))
    if staging is CUSTOMER_STAGING:
        result.inserted, result.updated = result.customers_created, result.customers_updated
        total = session.scalar(select(func.count(func.distinct(staging.c.customer_external_id))))
        result.unchanged = total - result.inserted - result.updated


def _empty_json_list(session: Session):
    # PostgreSQL needs the JSON type spelled out; SQLite stores JSON as text (a cast would make it a number).
    if session.get_bind().dialect.name == "postgresql":
        return cast(literal("[]"), postgresql.JSON)
    return literal("[]")


def _customer_extras(staging: Table) -> list:
    if staging is CUSTOMER_STAGING:
        return [func.max(staging.c.risk_tier).label("risk_tier"), func.max(staging.c.time_zone).label("time_zone")]
    return [literal(None, String).label("risk_tier"), literal(None, String).label("time_zone")]


def _differs(pairs) -> object:
    """True when any (current, incoming) pair differs, treating NULLs as equal values."""
    return not_(and_(*(current.is_not_distinct_from(incoming) for current, incoming in pairs)))


def _merge_contacts(session: Session, org_id: int, staging: Table, now: dt.datetime, result: MergeResult) -> None:
    """Add each new (customer, e-mail) as a contact; a customer without a primary contact gets one."""
    incoming = (select(customers.c.id.label("customer_id"), staging.c.contact_email.label("email"),
                       func.max(staging.c.contact_name).label("name"))
                .join(customers, and_(customers.c.org_id == org_id,
                                      customers.c.external_id == staging.c.customer_external_id))
                .where(staging.c.contact_email.is_not(None))
                .group_by(customers.c.id, staging.c.contact_email).subquery("incoming_contacts"))
    new = select(literal(org_id), incoming.c.customer_id, incoming.c.name, incoming.c.email, literal(False),
                 literal(now), literal(now)).where(~exists().where(
                     contacts.c.org_id == org_id, contacts.c.customer_id == incoming.c.customer_id,
                     contacts.c.email == incoming.c.email))
    result.contacts_created = _count_written(session, contacts.insert().from_select(
        ["org_id", "customer_id", "name", "email", "is_primary", "created_at", "updated_at"], new))
    if result.contacts_created:
        _refresh_statistics(session.connection(), contacts)
        _ensure_primary_contacts(session, org_id, staging)


def _ensure_primary_contacts(session: Session, org_id: int, staging: Table) -> None:
    has_primary = func.max(case((contacts.c.is_primary.is_(True), 1), else_=0))
    in_file = select(customers.c.id).where(customers.c.org_id == org_id,
                                           customers.c.external_id.in_(select(staging.c.customer_external_id)))
    first_contacts = (select(func.min(contacts.c.id))
                      .where(contacts.c.org_id == org_id, contacts.c.customer_id.in_(in_file))
                      .group_by(contacts.c.customer_id).having(has_primary == 0))
    session.execute(update(contacts).where(contacts.c.org_id == org_id, contacts.c.id.in_(first_contacts))
                    .values(is_primary=True))


@dataclass(frozen=True)
class _Moves:
    """How the balance changes of one merge are recorded: on which local day, from which source, at what time."""

    day: dt.date
    source: str
    now: dt.datetime


def _merge_invoices(session: Session, org_id: int, staging: Table, moves: _Moves, result: MergeResult) -> None:
    """Update changed invoices, then insert new ones, keyed on (workspace, invoice number), recording how each
    open balance moved (a fall is cash collected, reported by the file).

    Two statements rather than one upsert: ON CONFLICT DO UPDATE locks (and so rewrites) every existing
    row it meets, even unchanged ones, while an UPDATE that filters on "differs" leaves them untouched.
    """
    incoming = (select(
        customers.c.id.label("customer_id"), staging.c.invoice_number.label("number"), staging.c.issue_date,
        staging.c.due_date, staging.c.currency, staging.c.amount_minor, staging.c.balance_minor,
    ).join(customers, and_(customers.c.org_id == org_id, customers.c.external_id == staging.c.customer_external_id))
        .subquery("incoming"))
    now = moves.now
    settled = incoming.c.balance_minor == 0
    compared = ("customer_id", "issue_date", "due_date", "currency", "amount_minor", "balance_minor")
    new_status = case((invoices.c.status.in_(_FROZEN_STATUSES), invoices.c.status), (settled, "paid"), else_="open")
    record_import_moves(session, org_id, incoming, new_status, moves.day, moves.source, now)
    result.updated = _count_written(session, update(invoices).where(
        invoices.c.org_id == org_id, invoices.c.number == incoming.c.number,
        _differs([(invoices.c[name], incoming.c[name]) for name in compared]),
    ).values(
        **{name: incoming.c[name] for name in compared},
        status=new_status,
        closed_at=case((settled, func.coalesce(invoices.c.closed_at, now)), else_=None),
        updated_at=now,
    ))
    # Existing numbers are skipped by the unique index itself: an anti-join would be planned from the
    # statistics of the table before the insert, and on a first import those say "empty".
    new = select(
        literal(org_id), *(incoming.c[name] for name in compared), incoming.c.number,
        case((settled, "paid"), else_="open"), literal("csv"), case((settled, literal(now)), else_=None),
        literal(now), literal(now),
    ).where(true())  # SQLite reads "INSERT … SELECT … ON CONFLICT" unambiguously only after a WHERE
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(invoices)
    result.inserted = _count_written(session, insert.from_select(
        ["org_id", *compared, "number", "status", "source", "closed_at", "created_at", "updated_at"], new,
    ).on_conflict_do_nothing(index_elements=["org_id", "number"]))
    if result.inserted:
        record_new_invoices(session, org_id, now, moves.day, moves.source)
    total = session.scalar(select(func.count()).select_from(staging))
    result.unchanged = total - result.inserted - result.updated


def _close_absent_invoices(session: Session, org_id: int, staging: Table, moves: _Moves) -> int:
    """Full sync: open invoices the file no longer lists were settled in the ERP; close them."""
    absent = ~exists().where(staging.c.invoice_number == invoices.c.number)
    record_closing(session, org_id, absent, moves.day, moves.source, moves.now)
    return _count_written(session, update(invoices).where(invoices.c.org_id == org_id, invoices.c.status == "open",
                                                          absent)
                          .values(status="closed", balance_minor=0, closed_at=moves.now, updated_at=moves.now))


def open_balances(session: Session, org_id: int) -> dict[str, int]:
    """Open balance per currency after the import (minor units)."""
    rows = session.execute(select(invoices.c.currency, func.sum(invoices.c.balance_minor))
                           .where(invoices.c.org_id == org_id, invoices.c.status.in_(("open", "disputed")))
                           .group_by(invoices.c.currency).order_by(invoices.c.currency))
    return {currency: int(total) for currency, total in rows}


def count_absent_open_invoices(session: Session, org_id: int, numbers: set[str]) -> int:
    """How many open invoices a full sync of a file with these numbers would close (shown before commit)."""
    open_numbers = session.scalars(select(invoices.c.number)
                                   .where(invoices.c.org_id == org_id, invoices.c.status == "open"))
    return sum(1 for number in open_numbers if number not in numbers)
