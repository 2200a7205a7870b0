"""Stripe events on receipt: routed to their workspace and stored once, before anything acts on them."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Connection

from plixo.background import WEBHOOKS, enqueue
from plixo.payments.models import StripeAccount, WebhookEvent

UNROUTED = "No workspace is connected to this Stripe account."


# One statement that writes first: SQLite takes its write lock (waiting for it) instead of failing to upgrade a
# read under concurrent deliveries, and PostgreSQL answers in one round trip. Text, because SQLAlchemy does not
# cache the compiled form of a dialect INSERT … ON CONFLICT, and compiling it cost more than running it.
# ("WHERE true" lets SQLite read INSERT … SELECT … ON CONFLICT unambiguously.)
_STORE = text("""
    INSERT INTO webhook_events (org_id, provider, event_id, event_type, payload, status, last_error, attempts,
                                received_at)
    SELECT route.org_id, 'stripe', :event_id, :event_type, :payload,
           CASE WHEN route.org_id IS NULL THEN 'ignored' ELSE 'received' END,
           CASE WHEN route.org_id IS NULL THEN :unrouted END, 0, :received_at
    FROM (SELECT (SELECT org_id FROM stripe_accounts WHERE account_id = :account) AS org_id) AS route
    WHERE true
    ON CONFLICT (provider, event_id) DO NOTHING
    RETURNING id, org_id
""").bindparams(bindparam("received_at", type_=WebhookEvent.__table__.c.received_at.type))


def store_stripe_event(connection: Connection, event: dict, raw_body: bytes, now: dt.datetime,
                       account: str | None = None) -> int | None:
    """Store a verified event once; the new row's id, or None when it was stored before or has no workspace.

    The unique (provider, event_id) index decides, so concurrent deliveries of one event store one row. An event
    for an account no workspace has connected is kept (the sender sees it acknowledged) but marked ignored.
    It runs on a bare connection: neither a workspace scope nor the ORM is needed to store one row.
    `account` is the account an endpoint belongs to (a restricted-key account's own endpoint, whose events do
    not name it); otherwise the event's `account` (Connect) routes it.
    """
    row = connection.execute(_STORE, {
        "account": account or str(event.get("account") or ""), "event_id": event["id"],
        "event_type": event["type"][:100], "payload": raw_body.decode("utf-8"), "received_at": now,
        "unrouted": UNROUTED,
    }).first()
    return row.id if row is not None and row.org_id is not None else None


def account_webhook_secret(connection: Connection, account_id: str) -> str | None:
    """The signing secret of a restricted-key account's own endpoint (None for unknown or Connect accounts)."""
    return connection.execute(select(StripeAccount.webhook_secret)
                              .where(StripeAccount.account_id == account_id)).scalar()


def payload_of(event: WebhookEvent) -> dict:
    return json.loads(event.payload)


def enqueue_event(event_id: int) -> None:
    """Queue a stored event to be applied; the job loads the row by its id."""
    enqueue(WEBHOOKS, "jobs.webhooks.apply_webhook_event", event_id)
