"""SIGKILL a real worker process in the middle of applying a Stripe event: after recovery it is applied once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from jobs.webhooks import sweep_unapplied_events
from plixo.config import ROOT
from plixo.extensions import db
from plixo.ledger.models import Invoice, Payment, PaymentApplication
from plixo.payments.models import WebhookEvent
from plixo.tenancy import tenant_scope
from tests import stripe_events as se
from tests.conftest import run_jobs
from tests.factories import make_customer, make_invoice
from tests.payments.test_webhooks import ACCOUNT, connect, post

POINT = "webhook_before_commit"


def _worker(app, database_url, redis_url, marks) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": app.secret_key,
           "PLIXO_INSTANCE_DIR": str(marks), "PLIXO_ENV": "testing", "PLIXO_FAILPOINTS": POINT,
           "PLIXO_FAILPOINT_MARKS": str(marks)}
    return subprocess.Popen([sys.executable, "-m", "jobs.worker", "--burst", "--queues", "webhooks"], env=env,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_event_applied_exactly_once_after_its_worker_is_killed_mid_apply(app, anon, org, tmp_path, database_url,
                                                                          redis_url):
    app.config["STRIPE_WEBHOOK_SECRET"] = se.WEBHOOK_SECRET
    try:
        connect(org)
        with tenant_scope(org.id):
            invoice = make_invoice(org, make_customer(org), amount_minor=90_000, balance_minor=90_000)
        db.session.commit()
        assert post(anon, se.intent_succeeded(ACCOUNT, "pi_kill", 40_000, [invoice.id])).status_code == 200
    finally:
        app.config["STRIPE_WEBHOOK_SECRET"] = ""

    worker = _worker(app, database_url, redis_url, tmp_path)
    deadline = time.monotonic() + 60
    while not (tmp_path / POINT).exists():
        assert worker.poll() is None, "the worker exited before reaching its failpoint"
        assert time.monotonic() < deadline, "the worker never reached its failpoint"
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    db.session.expire_all()
    assert db.session.scalar(select(WebhookEvent.status)) == "received"  # the kill rolled the whole apply back
    assert sweep_unapplied_events(lost_after=dt.timedelta(0)) == 1
    sweep_unapplied_events(lost_after=dt.timedelta(0))  # a second sweep before the worker runs: still once
    run_jobs()

    assert db.session.scalar(select(WebhookEvent.status)) == "processed"
    with tenant_scope(org.id):
        assert db.session.get(Invoice, invoice.id).balance_minor == 50_000
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
        assert db.session.scalar(select(func.count()).select_from(PaymentApplication)) == 1
