"""Sending the outbox: every minute from cron, and right after someone presses Send."""

from __future__ import annotations

import time

from flask import current_app
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.accounts.workspaces import workspace_ids
from plixo.extensions import db
from plixo.mail.inbox import Outbound, after_sending, outbound_for
from plixo.model import utcnow
from plixo.outreach.outbox import claim_due, reconcile_stuck, send_leased
from plixo.tenancy import current_org_id, tenant_scope

TIME_BUDGET_SECONDS = 50  # under the one-minute cron interval, so runs rarely overlap


def send_due_messages(transport=None) -> dict[str, int]:
    """In each workspace, flag messages stranded mid-send, then lease and send due ones in batches through the
    workspace's inbox (one connection for the run). A `transport` given here serves every workspace instead."""
    outcomes: dict[str, int] = {"requeued": 0, "review_stranded": 0}
    started = time.monotonic()
    try:
        # The sender commits once per e-mail. Through the pool, every commit also handed the connection back
        # (a reset round trip) and took it again (a ping round trip); one connection kept for the run saves both.
        with db.engine.connect() as connection:
            with Session(bind=connection) as session:
                org_ids = workspace_ids(session)
            for org_id in org_ids:
                with tenant_scope(org_id), Session(bind=connection, expire_on_commit=False) as session:
                    _send_for_workspace(session, transport, outcomes, deadline=started + TIME_BUDGET_SECONDS)
    finally:
        if transport is not None:
            transport.close()
    return outcomes


def _send_for_workspace(session: Session, transport, outcomes: dict[str, int], deadline: float) -> None:
    org = session.get(Organization, current_org_id())
    outbound = (Outbound(transport, ("", current_app.config["MAIL_FROM"]), None) if transport is not None
                else outbound_for(session, org))
    stranded = reconcile_stuck(session, utcnow(),
                               resumable=outbound is not None and getattr(outbound.transport, "keeps_drafts", False))
    outcomes["requeued"] += stranded["requeued"]
    outcomes["review_stranded"] += stranded["review"]
    if outbound is None:
        return
    try:
        while time.monotonic() < deadline:
            ids = claim_due(session, utcnow())
            if not ids:
                break
            sent = send_leased(session, ids, outbound.transport, utcnow(), outbound.sender, deadline)
            for outcome, count in sent.items():
                outcomes[outcome] = outcomes.get(outcome, 0) + count
            if sent.get("mailbox_unavailable"):
                break  # the mailbox cannot take any: the next run asks again
    finally:
        after_sending(outbound)
        session.commit()
        if transport is None:
            outbound.transport.close()
