"""Benchmark: the Autopilot engine tick over a large workspace, and the sender's throughput over SMTP.

    DATABASE_URL=postgresql://... python -m bench.autopilot --invoices 100000

Seeds a fresh workspace with that many open invoices (20 per customer) and 10 Autopilot cadences on 10
segments that split it by risk tier and aging bucket. Then times:
- the first tick, which plans every due step (consolidated e-mails, scheduled by the guardrails);
- a second tick, which finds everything already planned (the steady state every few minutes);
- one sender (`send_due_messages`, as the RQ job runs it) delivering --sends messages to the development
  SMTP sink (aiosmtpd on loopback, writing a Maildir) over one reused connection.
Targets: tick <= 10 s and >= 10k invoices evaluated per second; >= 100 messages sent per second.
Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_SIGN_IN = "-"  # matches no password hash: the benchmark user never signs in
sys.path.insert(0, str(ROOT))

SEGMENTS = [(tiers, buckets) for tiers in (["low"], ["medium"]) for buckets in (["1-30"], ["31-60"], ["61-90"])] + \
    [(["high"], ["1-30", "31-60"]), (["high"], ["61-90", "90+"]), (["low", "medium"], ["90+"]), (["high"], ["current"])]


def seed(app, invoices: int):
    """The workspace: invoices over the last 120 days' due dates and the next 10, three contacts' worth of
    customers, a permissive policy (the bench measures the engine, not the guardrails' waiting)."""
    from flask import current_app
    from sqlalchemy import insert, select

    from plixo.accounts.models import Membership, Organization, Policy, User
    from plixo.demo.simulation import ready_sender
    from plixo.extensions import db
    from plixo.ledger.models import Contact, Customer, Invoice
    from plixo.model import utcnow
    from plixo.outreach.cadences import StepInput, create_cadence
    from plixo.outreach.models import Segment
    from plixo.tenancy import tenant_scope, unscoped

    tag = uuid.uuid4().hex[:8]
    with unscoped():
        org = Organization(name="Autopilot benchmark", slug=f"autopilot-bench-{tag}", base_currency="USD",
                           time_zone="UTC", status="active")
        user = User(email=f"controller-{tag}@bench.example", name="Bench Controller", password_hash=NO_SIGN_IN)
        db.session.add_all([org, user])
        db.session.flush()
        db.session.add(Membership(org_id=org.id, user_id=user.id, role="controller"))
        db.session.commit()
    with tenant_scope(org.id):
        db.session.add_all([Policy(org_id=org.id, sending_days=list(range(7)), quiet_hours_start=dt.time(0),
                                   quiet_hours_end=dt.time(0), business_hours_start=dt.time(0),
                                   business_hours_end=dt.time(23, 59), daily_cap_per_mailbox=1_000_000,
                                   daily_cap_per_domain=1_000_000, min_gap_hours=0, max_touches_per_week=14)])
        db.session.commit()
    with tenant_scope(org.id):
        today, now = dt.date.today(), utcnow()
        customers = max(1, invoices // 20)
        zones = ("UTC", "Europe/London", "America/New_York", "Asia/Tokyo")
        db.session.execute(insert(Customer), [
            {"org_id": org.id, "external_id": f"C-{n:06d}", "name": f"Customer {n:06d}", "time_zone": zones[n % 4],
             "risk_tier": ("low", "medium", "high")[n % 3], "tags": [], "created_at": now, "updated_at": now}
            for n in range(customers)])
        customer_ids = db.session.scalars(select(Customer.id).where(Customer.org_id == org.id)).all()
        db.session.execute(insert(Contact), [
            {"org_id": org.id, "customer_id": cid, "email": f"ap{cid}@customer.example", "is_primary": True,
             "created_at": now, "updated_at": now} for cid in customer_ids])
        for start in range(0, invoices, 10_000):
            db.session.execute(insert(Invoice), [
                {"org_id": org.id, "customer_id": customer_ids[n % customers], "number": f"INV-{n:07d}",
                 "issue_date": today - dt.timedelta(days=150), "due_date": today - dt.timedelta(days=n % 130 - 10),
                 "currency": "USD", "amount_minor": 10_000 + n % 900_000, "balance_minor": 10_000 + n % 900_000,
                 "status": "open", "source": "manual", "created_at": now, "updated_at": now}
                for n in range(start, min(start + 10_000, invoices))])
        steps = [StepInput(1, "due_date", "Invoice {invoice_number}", "Hello {customer_name}, {amount_due} is due."),
                 StepInput(7, "previous_touch", "Reminder: {invoice_number}", "{amount_due} is still open."),
                 StepInput(14, "previous_touch", "Overdue: {invoice_number}", "{days_past_due} days late.")]
        ready_sender(db.session, org, current_app.config["MAIL_FROM"])  # Autopilot's gate: a ready inbox
        for n, (tiers, buckets) in enumerate(SEGMENTS):
            segment = Segment(org_id=org.id, name=f"Segment {n}", rules={"risk_tiers": tiers, "buckets": buckets},
                              mode="autopilot")
            db.session.add(segment)
            db.session.flush()
            create_cadence(db.session, org, user, f"Cadence {n}", segment.id, steps, "active", now)
        db.session.commit()
        for table in ("customers", "contacts", "invoices", "messages", "message_invoices", "holds"):
            db.session.execute(db.text(f"ANALYZE {table}"))
        db.session.commit()
    return org.id


def timed_tick(org_id: int):
    from plixo.accounts.models import Organization
    from plixo.extensions import db
    from plixo.model import utcnow
    from plixo.outreach.cadences import tick
    from plixo.tenancy import tenant_scope

    with tenant_scope(org_id):
        org = db.session.get(Organization, org_id)
        started = time.perf_counter()
        result = tick(db.session, org, utcnow())
        db.session.commit()
        return time.perf_counter() - started, result


def timed_sends(org_id: int, count: int) -> tuple[float, dict]:
    """Make `count` of the planned e-mails due now, then time one sender delivering them."""
    from sqlalchemy import select, update

    from jobs.outbox import send_due_messages
    from plixo.devmail import free_loopback_port
    from plixo.extensions import db
    from plixo.integrations.mail.smtp import SmtpTransport
    from plixo.model import utcnow
    from plixo.outreach.models import Message
    from plixo.tenancy import tenant_scope

    with tenant_scope(org_id):
        ids = db.session.scalars(select(Message.id).where(Message.status == "scheduled")
                                 .order_by(Message.id).limit(count)).all()
        db.session.execute(update(Message).where(Message.status == "scheduled", Message.id.not_in(ids))
                           .values(scheduled_for=utcnow() + dt.timedelta(days=30)))
        db.session.execute(update(Message).where(Message.id.in_(ids))
                           .values(scheduled_for=utcnow() - dt.timedelta(minutes=1)))
        db.session.commit()
    with tempfile.TemporaryDirectory() as outbox:
        port = free_loopback_port()
        # The sink runs in a process of its own, as under `make run`: in this one it would share the
        # interpreter lock with the sender it is measuring.
        sink = subprocess.Popen([sys.executable, "-m", "plixo.devmail", outbox, str(port)], cwd=ROOT)
        try:
            _wait_for_port(port)
            started = time.perf_counter()
            outcomes = send_due_messages(SmtpTransport("127.0.0.1", port))
            return time.perf_counter() - started, outcomes
        finally:
            sink.terminate()
            sink.wait(timeout=30)


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--sends", type=int, default=2_000)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from plixo import create_app

    app = create_app()
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        org_id = seed(app, args.invoices)
        seed_seconds = time.perf_counter() - started
        first_seconds, first = timed_tick(org_id)
        second_seconds, second = timed_tick(org_id)
        send_seconds, outcomes = timed_sends(org_id, args.sends)
    sent = outcomes.get("sent", 0)
    tick_seconds = max(first_seconds, second_seconds)
    print(json.dumps({
        "invoices": args.invoices, "cadences": len(SEGMENTS), "seed_seconds": round(seed_seconds, 1),
        "first_tick_seconds": round(first_seconds, 2), "first_tick_evaluated": first.evaluated,
        "first_tick_messages": first.scheduled + first.drafts, "first_tick_consolidated": first.consolidated,
        "steady_tick_seconds": round(second_seconds, 2), "steady_tick_evaluated": second.evaluated,
        "tick_seconds": round(tick_seconds, 2),
        "invoices_per_second": round(args.invoices / tick_seconds),
        "sent": sent, "send_seconds": round(send_seconds, 2),
        "messages_per_second": round(sent / send_seconds, 1) if send_seconds else None,
        "send_outcomes": outcomes,
        "targets": {"tick_seconds": 10, "invoices_per_second": 10_000, "messages_per_second": 100},
    }))


if __name__ == "__main__":
    main()
