"""Benchmark: the Disputes page at scale, served by gunicorn and driven over loopback.

    python -m bench.disputes [--invoices 100000 --open-disputes 5000] [--plans]

Drops and recreates the PostgreSQL database plixo_bench_disputes (owned by plixo_ci), seeds one workspace with
that many invoices, the open disputes on invoices marked disputed and some resolved or withdrawn ones (every
reason, owner and source; SLA deadlines, many breached; evidence and audit history), then serves the real app as
bench/queue.py does and drives three scenarios: the full page, the table's next pages through the keyset cursor
of the `#dispute-more` row, and the inspector for many different disputes. Server time is the app's own
Server-Timing header; client time is the round trip. Before serving, every statement the page and the inspector
run is captured and EXPLAIN ANALYZEd; `--plans` prints the plans. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import http.client
import json
import os
import random
import re
import signal
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from bench.queue import PASSWORD, drive, seed_customers, serve, sign_in

DATABASE = "plixo_bench_disputes"
ROLE_URL = "postgresql://plixo_ci:plixo-ci@127.0.0.1:5432/"
TARGET_P95_MS = 50.0
SECONDS_PER_SCENARIO = 8.0
INSPECTED = 1_000  # different disputes the inspector scenario opens, round-robin
MEMBERS = (("ar_manager", "Avery Brooks"), ("ar_manager", "Casey Nguyen"), ("sales", "Dana Ortiz"),
           ("legal", "Elliot Park"), ("csm", "Frances Reid"), ("controller", "Gabriel Stone"),
           ("ar_manager", "Harper Quinn"))
OPEN_STATUSES = ("needs_review", "investigating", "investigating", "waiting_customer", "waiting_customer",
                 "waiting_internal")
SOURCES = ("operator", "operator", "operator", "email", "email", "portal", "stripe")
CURRENCIES = ("USD", "USD", "USD", "USD", "EUR", "GBP", "CAD")
FRAGMENT = {"HX-Request": "true"}


def fresh_database() -> str:
    """Drop and recreate the benchmark database; its URL for the ordinary role."""
    for sql in (f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", f"CREATE DATABASE {DATABASE} OWNER plixo_ci"):
        subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       check=True, cwd="/")
    return ROLE_URL + DATABASE


def seed(invoices: int, open_disputes: int, ended_disputes: int) -> dict:
    """The workspace, its invoices and disputes; what the driver needs, and the plans of the page's statements."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from plixo import create_app
    from plixo.accounts.models import Membership, Organization, Policy, User
    from plixo.accounts.service import hash_password
    from plixo.audit import AuditEvent
    from plixo.disputes.evidence import slots_for
    from plixo.disputes.models import Dispute, DisputeEvidence
    from plixo.disputes.reasons import DEFAULT_REASONS, sla_due
    from plixo.extensions import db
    from plixo.ledger.models import Invoice
    from plixo.model import utcnow
    from plixo.tenancy import tenant_scope, unscoped

    if open_disputes + ended_disputes > invoices:
        raise SystemExit("more disputes than invoices")
    app = create_app()
    rng = random.Random(19)
    with app.app_context():
        upgrade()
        tag = uuid.uuid4().hex[:8]
        with unscoped():
            org = Organization(name="Disputes benchmark", slug=f"disputes-bench-{tag}", base_currency="USD",
                               time_zone="America/New_York")
            user = User(email=f"disputes-{tag}@bench.example", name="Bench Manager",
                        password_hash=hash_password(PASSWORD))
            others = [User(email=f"member{n}-{tag}@bench.example", name=name,
                           password_hash="!")  # noqa: S106 - owners who never sign in
                      for n, (_role, name) in enumerate(MEMBERS)]
            db.session.add_all([org, user, *others])
            db.session.flush()
            db.session.add(Membership(org_id=org.id, user_id=user.id, role="ar_manager"))
            db.session.add_all(Membership(org_id=org.id, user_id=u.id, role=role)
                               for u, (role, _name) in zip(others, MEMBERS, strict=True))
            db.session.commit()
        owners, email = [user.id, *(u.id for u in others)], user.email
        zone = ZoneInfo(org.time_zone)
        with tenant_scope(org.id):
            db.session.add(Policy(org_id=org.id))
            today, now = dt.date.today(), utcnow()
            customer_ids = seed_customers(org.id, invoices, now)
            customer_count = len(customer_ids)
            # Disputed invoices are spread over the whole ledger: every stride-th one, open disputes first.
            stride = invoices // (open_disputes + ended_disputes)
            disputed = {n * stride: k for k, n in enumerate(range(open_disputes + ended_disputes))}
            for start in range(0, invoices, 10_000):
                db.session.execute(insert(Invoice), [
                    {"org_id": org.id, "customer_id": customer_ids[n % customer_count], "number": f"INV-{n:07d}",
                     "issue_date": today - dt.timedelta(days=30 + n % 200),
                     "due_date": today - dt.timedelta(days=n % 200 - 20), "currency": CURRENCIES[n % 7],
                     "amount_minor": 10_000 + (n * 7919) % 5_000_000, "balance_minor": 10_000 + (n * 7919) % 5_000_000,
                     "status": "disputed" if disputed.get(n, open_disputes) < open_disputes else "open",
                     "source": "manual", "priority": (n * 104_729) % 10_000, "created_at": now, "updated_at": now}
                    for n in range(start, min(start + 10_000, invoices))])
            invoice_ids = dict(db.session.execute(select(Invoice.number, Invoice.id)
                                                  .where(Invoice.org_id == org.id)).all())
            rows = []
            for n, k in disputed.items():
                rule = DEFAULT_REASONS[k % len(DEFAULT_REASONS)]
                source = SOURCES[k % len(SOURCES)]
                is_open = k < open_disputes
                opened = now - dt.timedelta(hours=rng.uniform(1, 15 * 24) if is_open else rng.uniform(5, 200) * 24)
                due = (opened + dt.timedelta(days=rng.randint(7, 21)) if source == "stripe"
                       else sla_due(opened, rule.sla_days, zone, [0, 1, 2, 3, 4]))
                status, verdict, outcome, resolved = OPEN_STATUSES[k % len(OPEN_STATUSES)], None, None, None
                if not is_open:
                    resolved = min(opened + dt.timedelta(hours=rng.uniform(12, 25 * 24)), now)
                    status = "withdrawn" if k % 5 == 0 else "resolved"
                    verdict = None if status == "withdrawn" else ("valid", "invalid")[k % 2]
                    outcome = {"valid": "credit_note", "invalid": "no_action"}.get(verdict)
                rows.append({
                    "org_id": org.id, "invoice_id": invoice_ids[f"INV-{n:07d}"],
                    "customer_id": customer_ids[n % customer_count], "reason": rule.key,
                    "description": "The payer says the invoice is wrong.", "status": status, "verdict": verdict,
                    "outcome": outcome, "resolution_note": "", "source": source,
                    "needs_review": status == "needs_review", "routed_to": "legal" if rule.key == "contract" else None,
                    "assigned_to_id": None if k % 9 == 8 else owners[k % len(owners)],
                    "sla_due_at": None if k % 97 == 0 else due, "opened_at": opened, "resolved_at": resolved,
                    "stripe_dispute_id": f"dp_{tag}_{k}" if source == "stripe" else None,
                    "created_at": opened, "updated_at": resolved or opened})
            db.session.execute(insert(Dispute), rows)
            disputes = db.session.execute(select(Dispute.id, Dispute.invoice_id, Dispute.reason, Dispute.status,
                                                 Dispute.source, Dispute.opened_at)
                                          .where(Dispute.org_id == org.id).order_by(Dispute.id)).all()
            evidence, events = [], []
            for d in disputes:
                if d.id % 3 == 0:
                    evidence.append({"org_id": org.id, "dispute_id": d.id, "slot": slots_for(d.reason)[0],
                                     "filename": f"evidence-{d.id}.pdf", "content_type": "application/pdf",
                                     "size_bytes": 48_213, "sha256": f"{d.id:064d}", "uploaded_by_id": user.id,
                                     "storage_path": f"evidence/{org.id}/{d.id}.pdf", "uploaded_at": d.opened_at})
                opened_on = "disputes.chargeback_opened" if d.source == "stripe" else "queue.dispute_opened"
                events.append(_event(org.id, user, opened_on, "Invoice", d.invoice_id, d.opened_at))
                for hours, action in enumerate(("disputes.assigned", "disputes.status_changed"), start=1):
                    if d.status != "needs_review":
                        events.append(_event(org.id, user, action, "Dispute", d.id,
                                             d.opened_at + dt.timedelta(hours=hours)))
            db.session.execute(insert(DisputeEvidence), evidence)
            # Every invoice has its own history (imports, reminders): the trail the inspector's history sifts.
            for start in range(0, len(invoice_ids), 20_000):
                events.extend(_event(org.id, None, "ledger.invoice_imported", "Invoice", invoice_id,
                                     now - dt.timedelta(days=30))
                              for invoice_id in list(invoice_ids.values())[start:start + 20_000])
                db.session.execute(insert(AuditEvent), events)
                events = []
            db.session.commit()
            for table in ("customers", "contacts", "invoices", "disputes", "dispute_evidence", "audit_events",
                          "users", "memberships"):
                db.session.execute(db.text(f"ANALYZE {table}"))  # the steady state autovacuum keeps
            db.session.commit()
            open_ids = [d.id for d in disputes if d.status not in ("resolved", "withdrawn")]
            ended_ids = [d.id for d in disputes if d.status in ("resolved", "withdrawn")]
            inspected = rng.sample(open_ids, min(len(open_ids), INSPECTED * 4 // 5)) + \
                rng.sample(ended_ids, min(len(ended_ids), INSPECTED // 5))
            rng.shuffle(inspected)
            plans = explain_page(db.session, org, inspected[0])
    return {"email": email, "dispute_ids": inspected, "plans": plans}


def _event(org_id: int, user, action: str, subject_type: str, subject_id: int, at: dt.datetime) -> dict:
    return {"org_id": org_id, "actor_id": user.id if user else None,
            "actor_label": f"{user.name} <{user.email}>" if user else "system", "action": action,
            "subject_type": subject_type, "subject_id": subject_id, "before": None, "after": None, "reason": "",
            "ip": None, "created_at": at}


@contextmanager
def captured(session):
    """The SELECTs the block runs, with their parameters, as the driver received them."""
    from sqlalchemy import event

    statements: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def explain_page(session, org, dispute_id: int) -> list[dict]:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement the page's parts and the inspector run, as the app runs them
    (the workspace scope and row-level security included)."""
    from plixo.disputes import desk
    from plixo.disputes.inspector import inspect_dispute
    from plixo.disputes.models import Dispute
    from plixo.model import utcnow

    now = utcnow()
    parts = {
        "snapshot": lambda: desk.snapshot(session, org.id, ZoneInfo(org.time_zone), now),
        "focus": lambda: desk.focus(session, org.id, now),
        "metrics": lambda: desk.metrics(session, org.id, now),
        "dispute_page": lambda: desk.dispute_page(session, org.id, desk.DisputeFilters(), now),
        "dispute_page_after": lambda: desk.dispute_page(
            session, org.id, desk.DisputeFilters(), now,
            desk.dispute_page(session, org.id, desk.DisputeFilters(), now, size=2_500)[1]),
        "inspector": lambda: inspect_dispute(session, org, session.get(Dispute, dispute_id), now),
    }
    plans = []
    for name, run in parts.items():
        for instance in [i for i in session if i is not org]:
            session.expunge(instance)  # the inspector's session.get must reach the database, as in a request
        with captured(session) as statements:
            run()
        if name == "dispute_page_after":
            statements = statements[-1:]  # the page after the cursor, not the walk that found it
        for n, (statement, parameters) in enumerate(statements, start=1):
            lines = [row[0] for row in session.connection().exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]
            took = next((float(line.split(":")[1].split()[0]) for line in lines if line.startswith("Execution Time")),
                        0.0)
            plans.append({"name": f"{name}.{n}", "ms": took, "sql": statement, "plan": lines})
    return plans


def walk_cursor(port: int, cookie: str) -> list[str]:
    """Every next-page URL of the default (open) table, read from the `#dispute-more` row page after page."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Cookie": cookie}
    path, cursors = "/work/disputes", []
    while path is not None:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read().decode()
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status}")
        more = re.search(r'<tr id="dispute-more"[^>]*hx-get="([^"]+)"', body)
        path = html.unescape(more.group(1)) if more else None
        if path is not None:
            cursors.append(path)
        headers = {"Cookie": cookie, **FRAGMENT, "HX-Target": "dispute-results"}
    return cursors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--open-disputes", type=int, default=5_000)
    parser.add_argument("--ended-disputes", type=int, default=4_000, help="resolved or withdrawn")
    parser.add_argument("--seconds", type=float, default=SECONDS_PER_SCENARIO)
    parser.add_argument("--plans", action="store_true", help="print the EXPLAIN ANALYZE plans")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = fresh_database()
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ.setdefault("SECRET_KEY", uuid.uuid4().hex)
    os.environ.setdefault("PLIXO_INSTANCE_DIR", tempfile.mkdtemp(prefix="plixo-disputes-bench-"))

    started = time.perf_counter()
    seeded = seed(args.invoices, args.open_disputes, args.ended_disputes)
    seed_seconds = time.perf_counter() - started
    if args.plans:
        for plan in seeded["plans"]:
            print(f"-- {plan['name']} ({plan['ms']} ms)\n{plan['sql']}\n" + "\n".join(plan["plan"]) + "\n")
    from plixo.devmail import free_loopback_port

    port = free_loopback_port()
    server = serve(port, dict(os.environ))
    try:
        cookie = sign_in(port, seeded["email"])
        page_headers = {"Cookie": cookie}
        inspector_headers = {"Cookie": cookie, **FRAGMENT, "HX-Target": "inspector"}
        table_headers = {"Cookie": cookie, **FRAGMENT, "HX-Target": "dispute-results"}
        inspector_paths = [f"/work/disputes/{i}" for i in seeded["dispute_ids"]]
        cursor_paths = walk_cursor(port, cookie)
        drive(port, ["/work/disputes"], page_headers, 1.0)  # warm both workers
        drive(port, inspector_paths[:20], inspector_headers, 1.0)
        results = {
            "hello": drive(port, ["/bench/hello"], {}, min(args.seconds, 3.0)),
            "page": drive(port, ["/work/disputes"], page_headers, args.seconds),
            "table": drive(port, cursor_paths, table_headers, args.seconds),
            "inspector": drive(port, inspector_paths, inspector_headers, args.seconds),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    report = {"invoices": args.invoices, "open_disputes": args.open_disputes,
              "ended_disputes": args.ended_disputes, "seed_seconds": round(seed_seconds, 1),
              "table_pages": len(cursor_paths) + 1, "inspected_disputes": len(set(seeded["dispute_ids"]))}
    for name in ("page", "table", "inspector"):
        r = results[name]
        report.update({f"{name}_p50_ms": r["p50_ms"], f"{name}_p95_ms": r["p95_ms"],
                       f"{name}_client_p50_ms": r["client_p50_ms"], f"{name}_client_p95_ms": r["client_p95_ms"],
                       f"{name}_rps": r["rps"], f"{name}_kb": round(r["max_bytes"] / 1024, 1)})
    report["hello_client_p95_ms"] = results["hello"]["client_p95_ms"]
    report["targets_met"] = all(results[name]["p95_ms"] <= TARGET_P95_MS for name in ("page", "table", "inspector"))
    report["sql_ms"] = {plan["name"]: plan["ms"] for plan in seeded["plans"]}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
