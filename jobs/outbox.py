"""Sending the outbox: every minute from cron, and right after someone presses Send."""

from __future__ import annotations

import time

from flask import current_app

from plixo.extensions import db
from plixo.integrations.mail.smtp import SmtpTransport
from plixo.model import utcnow
from plixo.outreach.outbox import claim_due, deliver, reconcile_stuck

TIME_BUDGET_SECONDS = 50  # under the one-minute cron interval, so runs rarely overlap


def transport_from_config() -> SmtpTransport | None:
    config = current_app.config
    if not config.get("SMTP_HOST"):
        return None
    return SmtpTransport(config["SMTP_HOST"], config["SMTP_PORT"], config.get("SMTP_USERNAME") or None,
                         config.get("SMTP_PASSWORD") or None)


def send_due_messages(transport=None) -> dict[str, int]:
    """Flag messages stranded mid-send, then lease and send due ones in batches over one connection."""
    transport = transport or transport_from_config()
    stranded = reconcile_stuck(db.session, utcnow())
    outcomes: dict[str, int] = {"requeued": stranded["requeued"], "review_stranded": stranded["review"]}
    if transport is None:
        return outcomes
    sender = ("", current_app.config["MAIL_FROM"])
    started = time.monotonic()
    try:
        while time.monotonic() - started < TIME_BUDGET_SECONDS:
            ids = claim_due(db.session, utcnow())
            if not ids:
                break
            for message_id in ids:
                outcome = deliver(db.session, message_id, transport, utcnow(), sender)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    finally:
        transport.close()
    return outcomes
