"""SIGKILL a real sender process at random points against a real SMTP server: each message is delivered
exactly once, or flagged for review if the kill came mid-hand-over; none is ever sent twice or lost."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from jobs.outbox import send_due_messages
from plixo.accounts.models import Policy
from plixo.background import SENDS, enqueue
from plixo.config import ROOT
from plixo.extensions import db
from plixo.integrations.mail.smtp import SmtpTransport
from plixo.model import utcnow
from plixo.outreach.models import Message
from plixo.outreach.outbox import LEASE, reconcile_stuck
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice
from tests.smtp_sink import start_sink

ROUNDS = 50
MESSAGES_PER_ROUND = 3
FAILPOINTS = ("outbox_before_handover", "outbox_before_send", "outbox_after_send")


@pytest.fixture
def sink():
    controller, sink = start_sink()
    yield controller, sink
    controller.stop()


def _always_open(org) -> None:
    # Every day, no quiet hours: the round must not depend on when the suite runs.
    with tenant_scope(org.id):
        policy = db.session.scalar(select(Policy).where(Policy.org_id == org.id))
        policy.sending_days, policy.quiet_hours_start, policy.quiet_hours_end = list(range(7)), dt.time(0), dt.time(0)
        db.session.commit()


def _schedule(org, round_no: int) -> list[int]:
    ids = []
    with tenant_scope(org.id):
        for n in range(MESSAGES_PER_ROUND):
            customer = make_customer(org, time_zone="UTC")
            contact = make_contact(customer, email=f"ap{round_no}-{n}@round.example")
            invoice = make_invoice(org, customer)
            message = Message(org_id=org.id, idempotency_key=f"crash:{round_no}:{n}", customer_id=customer.id,
                              invoice_id=invoice.id, contact_id=contact.id, to_email=contact.email,
                              status="scheduled", subject=f"Round {round_no} #{n}", body="Please pay.",
                              scheduled_for=utcnow() - dt.timedelta(minutes=1))
            db.session.add(message)
            db.session.flush()
            ids.append(message.id)
        db.session.commit()
    return ids


def _sender(app, database_url, redis_url, controller, marks: Path, point: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": app.secret_key,
           "PLIXO_INSTANCE_DIR": str(marks), "PLIXO_ENV": "testing", "SMTP_HOST": controller.hostname,
           "SMTP_PORT": str(controller.port), "PLIXO_FAILPOINTS": point, "PLIXO_FAILPOINT_MARKS": str(marks)}
    return subprocess.Popen([sys.executable, "-m", "jobs.worker", "--burst", "--queues", "sends"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when_parked(worker: subprocess.Popen, mark: Path) -> None:
    deadline = time.monotonic() + 60
    while not mark.exists():
        assert worker.poll() is None, "the sender exited before reaching its failpoint"
        assert time.monotonic() < deadline, "the sender never reached its failpoint"
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)


def test_killed_senders_never_send_twice_and_never_lose_a_message(app, org, tmp_path, database_url, redis_url,
                                                                   sink):
    controller, received = sink
    _always_open(org)
    rng = random.Random(20261122)
    all_ids = []
    for round_no in range(ROUNDS):
        ids = _schedule(org, round_no)
        all_ids += ids
        point = rng.choice(FAILPOINTS)
        marks = tmp_path / f"round{round_no}"
        marks.mkdir()
        enqueue(SENDS, send_due_messages)
        _kill_when_parked(_sender(app, database_url, redis_url, controller, marks, point), marks / point)
        # Later, a healthy sender runs once the dead one's lease has run out.
        with tenant_scope(org.id):
            reconcile_stuck(db.session, utcnow() + LEASE + dt.timedelta(seconds=1))
        send_due_messages(SmtpTransport(controller.hostname, controller.port))

    delivered = Counter(int(m["X-Plixo-Message"]) for m in received.messages)
    with tenant_scope(org.id):
        db.session.expire_all()
        statuses = dict(db.session.execute(select(Message.id, Message.status).where(Message.id.in_(all_ids))).all())
    assert max(delivered.values()) == 1, "a message was delivered twice"
    assert set(statuses.values()) <= {"sent", "review"}, f"a message was lost: {Counter(statuses.values())}"
    assert all(delivered[i] == 1 for i, status in statuses.items() if status == "sent")
    assert Counter(statuses.values())["review"] <= ROUNDS  # at most the one being handed over per kill
