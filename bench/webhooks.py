"""Benchmark: Stripe webhooks acknowledged by gunicorn while a real RQ worker applies them.

    DATABASE_URL=postgresql://... REDIS_URL=redis://127.0.0.1:6379/13 python -m bench.webhooks --rate 200

Seeds a workspace with a connected Stripe account and one open invoice per event, starts gunicorn (2 workers)
and one webhook worker, then posts signed payment_intent.succeeded events from this process at a steady --rate
for --seconds (open loop: each event leaves at its scheduled time, however slow the previous answers), with
--duplicates of them delivered a second time as Stripe's retries would be. Acknowledgement time is measured
from the moment each event was due to leave. Then waits for the worker to drain and checks that every event
was stored once and applied exactly once: one payment per charge, every invoice paid. Target: p99 <= 100 ms at
200 events/s. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.queue import serve  # noqa: E402 - after the path is set
from tests import stripe_events as se  # noqa: E402

SENDERS = 16  # connections in flight: enough that a slow answer never delays the next event's departure


def seed(app, count: int) -> tuple[int, str, list[int]]:
    from plixo.accounts.models import Organization
    from plixo.extensions import db
    from plixo.ledger.models import Customer, Invoice
    from plixo.model import utcnow
    from plixo.payments.models import StripeAccount
    from plixo.tenancy import tenant_scope, unscoped

    tag = uuid.uuid4().hex[:8]
    account = f"acct_bench_{tag}"
    with app.app_context():
        with unscoped():
            org = Organization(name="Webhook benchmark", slug=f"webhook-bench-{tag}", base_currency="USD",
                               time_zone="UTC", status="active")
            db.session.add(org)
            db.session.flush()
            db.session.add(StripeAccount(org_id=org.id, account_id=account))
            db.session.commit()
        with tenant_scope(org.id):
            today = utcnow().date()
            customers = [Customer(org_id=org.id, external_id=f"C-{n}", name=f"Customer {n}")
                         for n in range(count // 10 + 1)]
            db.session.add_all(customers)
            db.session.flush()
            invoices = [Invoice(org_id=org.id, customer_id=customers[n // 10].id, number=f"WB-{n:06d}",
                                issue_date=today, due_date=today, currency="USD", amount_minor=10_000 + n,
                                balance_minor=10_000 + n, status="open", source="manual") for n in range(count)]
            db.session.add_all(invoices)
            db.session.commit()
            return org.id, account, [i.id for i in invoices]


def wait_until_serving(port: int) -> None:
    """gunicorn listens before its workers have built the app: time nothing until both answer."""
    deadline = time.time() + 60
    answered = 0
    while answered < 20:
        if time.time() > deadline:
            raise SystemExit("the web server never answered")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            answered += response.status == 200
        except OSError:
            time.sleep(0.2)


def start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs.worker", "--queues", "webhooks"], cwd=ROOT, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def deliver(port: int, deliveries: list[bytes], rate: float) -> tuple[list[float], list[float], float]:
    """Post each body at start + i/rate from SENDERS connections: acknowledgement times as the sender saw them
    and as the server measured them (its Server-Timing header), in ms, and the seconds it all took."""
    due: queue.Queue = queue.Queue()
    timings: list[float] = []
    server_times: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    for n, body in enumerate(deliveries):
        due.put((start + n / rate, body))

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while True:
            try:
                at, body = due.get_nowait()
            except queue.Empty:
                break
            time.sleep(max(0.0, at - time.perf_counter()))
            conn.request("POST", "/webhooks/stripe", body=body, headers={
                "Content-Type": "application/json", "Stripe-Signature": se.sign(body)})
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - at) * 1000)
            server_times.append(float((response.getheader("Server-Timing") or "dur=0").split("dur=")[1]))
            if response.status != 200:
                with lock:
                    failures.append(f"{response.status}")
        with lock:
            timings.extend(mine)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} deliveries were refused: {sorted(set(failures))}")
    return timings, server_times, time.perf_counter() - start


def wait_until_applied(app, org_id: int, expected: int, timeout: float) -> float:
    from sqlalchemy import func, select

    from plixo.extensions import db
    from plixo.payments.models import WebhookEvent

    started = time.perf_counter()
    with app.app_context():
        while time.perf_counter() - started < timeout:
            done = db.session.scalar(select(func.count()).select_from(WebhookEvent).where(
                WebhookEvent.org_id == org_id, WebhookEvent.status.in_(("processed", "failed"))))
            db.session.commit()
            if done >= expected:
                break
            time.sleep(0.2)
    return time.perf_counter() - started


def check(app, org_id: int, invoice_ids: list[int]) -> dict:
    from sqlalchemy import func, select

    from plixo.extensions import db
    from plixo.ledger.models import Invoice, Payment, PaymentApplication
    from plixo.payments.models import WebhookEvent
    from plixo.tenancy import tenant_scope

    with app.app_context(), tenant_scope(org_id):
        statuses = dict(db.session.execute(select(WebhookEvent.status, func.count()).where(
            WebhookEvent.org_id == org_id).group_by(WebhookEvent.status)).all())
        payments = db.session.scalar(select(func.count()).select_from(Payment))
        applications = db.session.scalar(select(func.count()).select_from(PaymentApplication))
        paid = db.session.scalar(select(func.count()).select_from(Invoice).where(
            Invoice.status == "paid", Invoice.balance_minor == 0))
    count = len(invoice_ids)
    return {"events_stored": sum(statuses.values()), "events_by_status": statuses, "payments": payments,
            "invoices_paid": paid,
            "applied_exactly_once": statuses.get("processed", 0) == count == payments == applications == paid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200, help="events per second")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of events delivered twice")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--worker", choices=("after", "during"), default="after",
                        help="start the worker after the deliveries (on a 2-core machine it otherwise competes "
                             "with the web server for the CPU) or during them")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from plixo import create_app

    env = {**os.environ, "STRIPE_WEBHOOK_SECRET": se.WEBHOOK_SECRET}
    os.environ["STRIPE_WEBHOOK_SECRET"] = se.WEBHOOK_SECRET
    app = create_app()
    with app.app_context():
        upgrade()
    unique = int(args.rate * args.seconds / (1 + args.duplicates))
    org_id, account, invoice_ids = seed(app, unique)
    events = [se.body_of(se.intent_succeeded(account, f"pi_bench_{org_id}_{i}", 10_000 + n, [i]))
              for n, i in enumerate(invoice_ids)]
    deliveries = events + events[:int(len(events) * args.duplicates)]
    random.Random(1).shuffle(deliveries)  # retries mixed in among first deliveries

    server = serve(args.port, {**env, "PYTHONPATH": str(ROOT)})
    processes = [server] + ([start_worker(env)] if args.worker == "during" else [])
    try:
        wait_until_serving(args.port)
        timings, server_times, elapsed = deliver(args.port, deliveries, args.rate)
        if args.worker == "after":
            processes.append(start_worker(env))
        drain = wait_until_applied(app, org_id, len(events), timeout=600)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    timings.sort()
    server_times.sort()
    result = {
        "deliveries": len(deliveries), "unique_events": len(events), "rate_target": args.rate,
        "acknowledged_per_second": round(len(deliveries) / elapsed, 1),
        "ack_p50_ms": round(statistics.median(timings), 1),
        "ack_p99_ms": round(timings[int(len(timings) * 0.99) - 1], 1),
        "ack_max_ms": round(timings[-1], 1),
        "server_p50_ms": server_times[len(server_times) // 2],
        "server_p99_ms": server_times[int(len(server_times) * 0.99) - 1],
        "worker": args.worker, "apply_seconds": round(drain, 1),
        "applied_per_second": round(len(events) / drain, 1) if args.worker == "after" else None,
        **check(app, org_id, invoice_ids),
        "targets": {"ack_p99_ms": 100, "rate": 200},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
