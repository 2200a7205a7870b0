"""The SIGKILL test of the outbox, with Microsoft Graph as the transport: a real sender process killed at every
point of a send, against the fake Microsoft. Because the draft is recorded before Graph is asked to send it, the
next sender can always tell what happened: every e-mail is sent exactly once, none needs a person to check."""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from jobs.outbox import send_due_messages
from plixo.background import SENDS, enqueue
from plixo.config import ROOT
from plixo.extensions import db
from plixo.model import utcnow
from plixo.outreach.models import Message
from plixo.outreach.outbox import LEASE
from plixo.tenancy import tenant_scope
from tests.outreach.test_outbox_crash import _always_open, _kill_when_parked, _schedule

ROUNDS = 16
FAILPOINTS = ("outbox_before_handover", "outbox_before_send", "outbox_after_draft", "outbox_after_send")


def _graph_sender(app, database_url, redis_url, fake, marks: Path, point: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": app.secret_key,
           "ENCRYPTION_KEYS": app.config["ENCRYPTION_KEYS"], "PLIXO_INSTANCE_DIR": str(marks),
           "PLIXO_ENV": "testing", "MS_CLIENT_ID": fake.client_id, "MS_CLIENT_SECRET": fake.client_secret,
           "MS_AUTHORITY_HOST": fake.base, "MS_GRAPH_BASE": fake.graph, "MAIL_CA_BUNDLE": fake.ca_file,
           "PLIXO_FAILPOINTS": point, "PLIXO_FAILPOINT_MARKS": str(marks)}
    return subprocess.Popen([sys.executable, "-m", "jobs.worker", "--burst", "--queues", "sends"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_killed_graph_senders_send_every_email_exactly_once(app, org, connected, fake, tmp_path,
                                                            database_url, redis_url, monkeypatch):
    _always_open(org)
    fake.send_retry_after = "1"  # Graph files the copy in Sent Items a moment after accepting it
    rng = random.Random(20261203)
    all_ids = []
    for round_no in range(ROUNDS):
        ids = _schedule(org, round_no)
        all_ids += ids
        point = FAILPOINTS[round_no % len(FAILPOINTS)] if round_no < len(FAILPOINTS) else rng.choice(FAILPOINTS)
        marks = tmp_path / f"round{round_no}"
        marks.mkdir()
        enqueue(SENDS, send_due_messages)
        _kill_when_parked(_graph_sender(app, database_url, redis_url, fake, marks, point), marks / point)
        # Later, a healthy sender runs once the dead one's lease has run out.
        later = utcnow() + LEASE + dt.timedelta(seconds=1)
        monkeypatch.setattr("jobs.outbox.utcnow", lambda later=later: later)
        send_due_messages()
        monkeypatch.undo()

    # An e-mail Graph accepted just before the kill is filed in Sent Items a moment later: the attempt that found
    # its draft gone waited for that rather than guess; the next run, a little later, finds it there.
    fake.clock = lambda: time.time() + 3600
    an_hour_later = utcnow() + dt.timedelta(hours=1)
    monkeypatch.setattr("jobs.outbox.utcnow", lambda: an_hour_later)
    send_due_messages()

    db.session.rollback()
    with tenant_scope(org.id):
        messages = db.session.execute(select(Message.id, Message.status, Message.message_id_header)
                                      .where(Message.id.in_(all_ids))).all()
    assert Counter(status for _id, status, _header in messages) == {"sent": len(all_ids)}
    assert all(fake.times_sent(header) == 1 for _id, _status, header in messages)
    assert len(fake.sent) == len(all_ids)
