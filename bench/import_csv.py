"""Benchmark: end-to-end CSV import into PostgreSQL against a bare COPY of the same rows.

    DATABASE_URL=postgresql://... python -m bench.import_csv --rows 1000000

Generates a realistic invoice file (mixed number and text styles, ~2 % bad rows), imports it end to end
(upload, analyse, validate, commit) into a fresh workspace, re-imports the unchanged file, then times a
plain COPY of the same file into a bare table. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HEADER = ["Invoice #", "Customer ID", "Customer Name", "Invoice Date", "Due Date", "Currency", "Amount",
          "Amount Due", "AR Email"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def _amount_text(rng: random.Random, minor: int, currency: str) -> str:
    whole, cents = divmod(minor, 100)
    style = rng.random()
    if style < 0.5:
        return f"{whole}.{cents:02d}"
    if style < 0.85:
        return f"{whole:,}.{cents:02d}"
    return f"{SYMBOLS[currency.upper()]}{whole:,}.{cents:02d}"


def _bad(rng: random.Random, row: list[str]) -> list[str]:
    kind = rng.randrange(4)
    if kind == 0:
        row[5] = "XYZ"
    elif kind == 1:
        row[8] = "not-an-email"
    elif kind == 2:
        row[6] = "12,3x"
    else:
        row[3] = "2026-02-30"
    return row


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """A realistic invoice export: ~2 % of rows carry one bad value."""
    rng = random.Random(seed)
    customers = max(50, rows // 40)
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(1, rows + 1):
            customer = rng.randrange(1, customers + 1)
            issue_day = rng.randrange(1, 28)
            month = rng.randrange(1, 13)
            due_month = month % 12 + 1
            amount = rng.randrange(5_000, 25_000_000)
            balance = amount if rng.random() < 0.6 else rng.randrange(0, amount)
            currency = rng.choice(("USD", "USD", "USD", "usd", "EUR", "GBP"))
            row = [
                f"INV-{n:08d}", f"C-{customer:06d}", f"Customer {customer} Holdings",
                f"2025-{month:02d}-{issue_day:02d}", f"{issue_day:02d}-{MONTHS[due_month - 1]}-2026", currency,
                _amount_text(rng, amount, currency), _amount_text(rng, balance, currency),
                f" AP{customer}@c{customer}.example " if rng.random() < 0.3 else f"ap{customer}@c{customer}.example",
            ]
            writer.writerow(_bad(rng, row) if rng.random() < 0.02 else row)


def _import(session, org, path: Path):
    from plixo.imports import service

    with open(path, "rb") as stream:
        run = service.create_run(session, org=org, actor="benchmark", kind="invoices", filename=path.name,
                                 stream=stream, max_bytes=10**11)
    session.commit()
    problems = service.problems_before_validation(run, org)
    if problems:
        raise SystemExit(f"benchmark file needs mapping: {problems}")
    service.validate_run(session, run, org)
    session.commit()
    service.commit_run(session, run, org, actor="benchmark")
    session.commit()
    return run


def _bare_copy(session, path: Path) -> float:
    from sqlalchemy import text

    connection = session.connection()
    connection.execute(text("CREATE TEMP TABLE bench_bare (" + ", ".join(f"c{i} text" for i in range(len(HEADER)))
                            + ")"))
    cursor = connection.connection.driver_connection.cursor()
    started = time.perf_counter()
    with open(path, "rb") as source, cursor.copy("COPY bench_bare FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
        while chunk := source.read(1 << 20):
            copy.write(chunk)
    seconds = time.perf_counter() - started
    session.rollback()
    return seconds


def _invoice_write_floor(session, org_id: int) -> float:
    """Seconds to write the imported invoices, already typed, once more into the real invoices table.

    The least any import can spend on them: the table's indexes, foreign keys and row-level security,
    with no parsing, validation or merging at all. Written under a second workspace, then rolled back.
    """
    from sqlalchemy import text

    from plixo.accounts.models import Organization
    from plixo.tenancy import tenant_scope, unscoped

    columns = "customer_id, number, issue_date, due_date, currency, amount_minor, balance_minor, status, source, " \
              "created_at, updated_at"
    with tenant_scope(org_id):
        session.execute(text(f"CREATE TEMP TABLE floor_rows AS SELECT {columns} FROM invoices"))  # noqa: S608
    with unscoped():
        twin = Organization(name="Write floor", slug=f"floor-{uuid.uuid4().hex[:8]}", base_currency="USD")
        session.add(twin)
        session.flush()
    with tenant_scope(twin.id):
        session.execute(text("SELECT 1"))  # the workspace setting, before the clock starts
        started = time.perf_counter()
        session.execute(text(f"INSERT INTO invoices (org_id, {columns}) SELECT :twin, {columns} FROM floor_rows"),  # noqa: S608
                        {"twin": twin.id})
        seconds = time.perf_counter() - started
    session.rollback()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (an ordinary role)")
    workdir = Path(tempfile.mkdtemp(prefix="plixo-import-bench-"))
    os.environ.setdefault("PLIXO_INSTANCE_DIR", str(workdir))
    os.environ.setdefault("UPLOAD_DIR", str(workdir / "uploads"))

    from flask_migrate import upgrade

    from plixo import create_app
    from plixo.accounts.models import Organization, Policy
    from plixo.extensions import db
    from plixo.tenancy import tenant_scope, unscoped

    path = workdir / "invoices.csv"
    generate(path, args.rows)
    app = create_app()
    with app.app_context():
        upgrade()
        with unscoped():
            org = Organization(name="Import benchmark", slug=f"bench-{uuid.uuid4().hex[:8]}", base_currency="USD")
            db.session.add(org)
            db.session.commit()
        with tenant_scope(org.id):
            db.session.add(Policy(org_id=org.id))
            db.session.commit()
            started = time.perf_counter()
            run = _import(db.session, org, path)
            seconds = time.perf_counter() - started
            started = time.perf_counter()
            again = _import(db.session, org, path)
            reimport_seconds = time.perf_counter() - started
            copy_seconds = _bare_copy(db.session, path)
        floor_seconds = _invoice_write_floor(db.session, org.id)
        with tenant_scope(org.id):
            outcome = {"valid": run.rows_valid, "rejected": run.rows_rejected, "inserted": run.summary["inserted"],
                       "reimport_unchanged": again.summary["unchanged"],
                       "validation_seconds": run.summary["validation_seconds"],
                       "commit_seconds": run.summary["commit_seconds"]}
    rows_per_s = args.rows / seconds
    copy_rows_per_s = args.rows / copy_seconds
    print(json.dumps({
        "rows": args.rows, "seconds": round(seconds, 2), "rows_per_s": round(rows_per_s),
        "copy_rows_per_s": round(copy_rows_per_s), "copy_ratio": round(rows_per_s / copy_rows_per_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "reimport_seconds": round(reimport_seconds, 2), "reimport_speedup": round(seconds / reimport_seconds, 2),
        "invoice_write_floor_seconds": round(floor_seconds, 2),
        "best_possible_ratio": round(copy_seconds / floor_seconds, 3),
        **outcome,
    }))


if __name__ == "__main__":
    main()
