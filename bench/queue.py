"""Benchmark: the collections queue at scale, served by gunicorn and driven over loopback.

    DATABASE_URL=postgresql://... REDIS_URL=redis://127.0.0.1:6379/12 python -m bench.queue --invoices 100000

Seeds a fresh workspace with that many open invoices on PostgreSQL, starts gunicorn (2 workers) on the
real app plus one bare "hello" route, signs in, and drives each page from another process for a few
seconds with keep-alive connections. Server time is the app's own Server-Timing header. Also EXPLAINs
the queue query to check it walks an org_id-leading index. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-queue-2026"  # noqa: S105 - a throwaway benchmark login
CONCURRENCY = 4
SECONDS_PER_SCENARIO = 8.0


def seed_customers(org_id: int, invoices: int, now) -> list[int]:
    """One customer per 20 invoices, each with a primary contact, inserted in bulk; their ids in order."""
    from sqlalchemy import insert, select

    from plixo.extensions import db
    from plixo.ledger.models import Contact, Customer

    db.session.execute(insert(Customer), [
        {"org_id": org_id, "external_id": f"C-{n:06d}", "name": f"Customer {n:06d} Holdings",
         "risk_tier": ("low", "medium", "high")[n % 3], "tags": [], "created_at": now, "updated_at": now}
        for n in range(max(1, invoices // 20))])
    customer_ids = db.session.scalars(select(Customer.id).where(Customer.org_id == org_id)
                                      .order_by(Customer.id)).all()
    db.session.execute(insert(Contact), [
        {"org_id": org_id, "customer_id": cid, "email": f"ap{cid}@customer.example", "is_primary": True,
         "created_at": now, "updated_at": now} for cid in customer_ids])
    return list(customer_ids)


def seed(invoices: int) -> dict:
    """A workspace with `invoices` open invoices over invoices/20 customers; returns what the driver needs."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from plixo import create_app
    from plixo.accounts.models import Membership, Organization, Policy, User
    from plixo.accounts.service import hash_password
    from plixo.extensions import db
    from plixo.ledger.models import Invoice
    from plixo.model import utcnow
    from plixo.promises.service import refresh_queue
    from plixo.queue.queries import QueueFilters, queue_page
    from plixo.tenancy import tenant_scope, unscoped

    app = create_app()
    with app.app_context():
        upgrade()
        tag = uuid.uuid4().hex[:8]
        with unscoped():
            org = Organization(name="Queue benchmark", slug=f"queue-bench-{tag}", base_currency="USD",
                               time_zone="America/New_York")
            user = User(email=f"collector-{tag}@bench.example", name="Bench Collector",
                        password_hash=hash_password(PASSWORD))
            db.session.add_all([org, user])
            db.session.flush()
            db.session.add(Membership(org_id=org.id, user_id=user.id, role="ar_manager"))
            db.session.commit()
        with tenant_scope(org.id):
            db.session.add(Policy(org_id=org.id))
            today, now = dt.date.today(), utcnow()
            customer_ids = seed_customers(org.id, invoices, now)
            customer_count = len(customer_ids)
            for start in range(0, invoices, 10_000):
                db.session.execute(insert(Invoice), [
                    {"org_id": org.id, "customer_id": customer_ids[n % customer_count], "number": f"INV-{n:07d}",
                     "issue_date": today - dt.timedelta(days=30 + n % 200),
                     "due_date": today - dt.timedelta(days=n % 200 - 20), "currency": "USD",
                     "amount_minor": 10_000 + (n * 7919) % 5_000_000, "balance_minor": 10_000 + (n * 7919) % 5_000_000,
                     "status": "open", "source": "manual", "created_at": now, "updated_at": now}
                    for n in range(start, min(start + 10_000, invoices))])
            db.session.commit()
            for table in ("customers", "contacts", "invoices", "holds", "promises", "payment_plans",
                          "payment_plan_invoices", "disputes", "messages"):
                db.session.execute(db.text(f"ANALYZE {table}"))  # the steady state autovacuum keeps
            db.session.commit()
            refresh_queue(db.session, org, utcnow())
            db.session.commit()
            db.session.execute(db.text("ANALYZE invoices"))
            db.session.commit()
            rows = queue_page(db.session, org.id, user.id, QueueFilters(), today, limit=200).rows
            plan = _queue_plan(db.session, org.id, user.id, today)
        return {"email": user.email, "invoice_ids": [r.id for r in rows], "plan": plan}


def _queue_plan(session, org_id: int, user_id: int, today: dt.date) -> str:
    """PostgreSQL's plan for the first queue page."""
    from sqlalchemy import select, text
    from sqlalchemy.dialects import postgresql

    from plixo.ledger.models import Invoice
    from plixo.queue.queries import QueueFilters, filter_queue

    statement = filter_queue(select(Invoice.id), session, org_id, user_id, QueueFilters(), today) \
        .order_by(Invoice.priority.desc(), Invoice.id.desc()).limit(51)
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    return "\n".join(row[0] for row in session.execute(text("EXPLAIN " + sql)))


def serve(port: int, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "bench.queue_app:app"], cwd=ROOT, env=env, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not start")


def sign_in(port: int, email: str) -> str:
    """The session cookie after signing in through the real login form."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookies = _cookies(response)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = f"csrf_token={token}&email={email}&password={PASSWORD}"
    conn.request("POST", "/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies})
    response = conn.getresponse()
    response.read()
    if response.status not in (302, 303):
        raise SystemExit(f"sign-in failed: {response.status}")
    return _cookies(response) or cookies


def _cookies(response) -> str:
    return "; ".join(v.split(";")[0] for k, v in response.getheaders() if k.lower() == "set-cookie")


def drive(port: int, paths: list[str], headers: dict, seconds: float) -> dict:
    """Request `paths` round-robin from CONCURRENCY keep-alive connections; server and client times, throughput.

    Client time is the round trip as the driver saw it: it adds the wait for a free gunicorn worker and the
    transfer to the server's own time."""
    timings: list[float] = []
    client: list[float] = []
    sizes: list[int] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        n = offset
        local_t, local_c, local_s = [], [], []
        while time.perf_counter() < stop:
            sent = time.perf_counter()
            conn.request("GET", paths[n % len(paths)], headers=headers)
            response = conn.getresponse()
            body = response.read()
            local_c.append((time.perf_counter() - sent) * 1000)
            if response.status != 200:
                raise SystemExit(f"{paths[n % len(paths)]} answered {response.status}")
            local_t.append(float(response.getheader("Server-Timing").split("dur=")[1]))
            local_s.append(len(body))
            n += CONCURRENCY
        with lock:
            timings.extend(local_t)
            client.extend(local_c)
            sizes.extend(local_s)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONCURRENCY)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    timings.sort()
    client.sort()
    return {"p50_ms": round(statistics.median(timings), 1), "p95_ms": _p95(timings),
            "client_p50_ms": round(statistics.median(client), 1), "client_p95_ms": _p95(client),
            "rps": round(len(timings) / elapsed, 1), "max_bytes": max(sizes), "requests": len(timings)}


def _p95(ordered: list[float]) -> float:
    return round(ordered[max(int(len(ordered) * 0.95) - 1, 0)], 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=SECONDS_PER_SCENARIO)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (an ordinary role)")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
    os.environ.setdefault("SECRET_KEY", uuid.uuid4().hex)
    os.environ.setdefault("PLIXO_INSTANCE_DIR", tempfile.mkdtemp(prefix="plixo-queue-bench-"))

    started = time.perf_counter()
    seeded = seed(args.invoices)
    seed_seconds = time.perf_counter() - started
    from plixo.devmail import free_loopback_port

    port = free_loopback_port()
    server = serve(port, dict(os.environ))
    try:
        cookie = sign_in(port, seeded["email"])
        page_headers = {"Cookie": cookie}
        fragment_headers = {"Cookie": cookie, "HX-Request": "true", "HX-Target": "inspector"}
        inspector_paths = [f"/work/queue/{i}" for i in seeded["invoice_ids"]]
        drive(port, ["/work/queue", *inspector_paths[:5]], page_headers, 1.0)  # warm both workers
        results = {
            "hello": drive(port, ["/bench/hello"], {}, args.seconds),
            "signed_in_hello": drive(port, ["/bench/signed-in-hello"], page_headers, args.seconds),
            "queue": drive(port, ["/work/queue"], page_headers, args.seconds),
            "inspector": drive(port, inspector_paths, fragment_headers, args.seconds),
            "jk": drive(port, inspector_paths[:20], fragment_headers, args.seconds),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    uses_org_index = "ix_invoices_org_status_priority" in seeded["plan"]
    print(json.dumps({
        "invoices": args.invoices, "seed_seconds": round(seed_seconds, 1),
        "queue_p50_ms": results["queue"]["p50_ms"], "queue_p95_ms": results["queue"]["p95_ms"],
        "inspector_p50_ms": results["inspector"]["p50_ms"], "inspector_p95_ms": results["inspector"]["p95_ms"],
        "jk_p95_ms": results["jk"]["p95_ms"], "jk_fragment_kb": round(results["jk"]["max_bytes"] / 1024, 1),
        "queue_rps": results["queue"]["rps"], "inspector_rps": results["inspector"]["rps"],
        "hello_rps": results["hello"]["rps"], "hello_p95_ms": results["hello"]["p95_ms"],
        "signed_in_hello_rps": results["signed_in_hello"]["rps"],
        "signed_in_hello_p95_ms": results["signed_in_hello"]["p95_ms"],
        "queue_rps_ratio": round(results["queue"]["rps"] / results["hello"]["rps"], 3),
        "queue_plan_uses_org_index": uses_org_index,
    }))


if __name__ == "__main__":
    main()
