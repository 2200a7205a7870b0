"""Applying stored Stripe events: one job per event row, exactly once however often it is enqueued."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from jobs.tracking import tracked
from plixo.accounts.models import Organization
from plixo.extensions import db
from plixo.failpoints import failpoint
from plixo.model import utcnow
from plixo.payments.apply import (
    NotYetError,
    UnusableEventError,
    apply_event,
    events_waiting_for,
    lock_workspace_payments,
    recorded_payment,
)
from plixo.payments.events import enqueue_event, payload_of
from plixo.payments.models import WebhookEvent
from plixo.tenancy import unscoped

FINISHED = ("processed", "ignored")
LOST_AFTER = dt.timedelta(minutes=2)  # a stored event's job normally runs within seconds
WAIT_AT_MOST = dt.timedelta(days=1)  # Stripe delivers within minutes; after a day the payment is not Plixo's
GAVE_UP = "No payment recorded by Plixo matches it (a payment made outside Plixo)."


@tracked(WebhookEvent)
def apply_webhook_event(event: WebhookEvent) -> None:
    """Apply the event in one transaction with its new status, so a killed worker leaves it to apply again.

    Runs in the event's workspace (set by `tracked`), behind the workspace's payment lock: a duplicate job,
    or one re-enqueued by the sweeper, finds the event finished and does nothing.
    """
    lock_workspace_payments(db.session, event.org_id)
    db.session.refresh(event)
    if event.status in FINISHED or event.org_id is None:
        return
    org = db.session.get(Organization, event.org_id)
    payload = payload_of(event)
    try:
        with db.session.begin_nested():
            event.status = apply_event(db.session, org, payload, utcnow())
        event.processed_at, event.last_error = utcnow(), None
    except NotYetError as waiting:
        event.status, event.last_error = "waiting", str(waiting)
    except UnusableEventError as unusable:
        event.status, event.last_error = "failed", str(unusable)
    failpoint("webhook_before_commit")
    db.session.commit()
    reference = recorded_payment(payload) if event.status == "processed" else None
    if reference is not None:
        # The payment this event recorded may be what waiting events (its refund, its dispute) needed.
        for waiting_id in events_waiting_for(db.session, event.org_id, reference):
            enqueue_event(waiting_id)


def sweep_unapplied_events(lost_after: dt.timedelta = LOST_AFTER) -> int:
    """Enqueue events whose job was lost (Redis restarted, a worker killed mid-apply) and those still waiting;
    stop waiting for what never came (a refund of a payment made outside Plixo)."""
    now = utcnow()
    lost = (WebhookEvent.status == "received") & (WebhookEvent.received_at < now - lost_after)
    with unscoped():
        db.session.execute(update(WebhookEvent).where(
            WebhookEvent.status == "waiting", WebhookEvent.received_at < now - WAIT_AT_MOST,
        ).values(status="ignored", last_error=GAVE_UP))
        db.session.commit()
        ids = list(db.session.scalars(select(WebhookEvent.id).where(
            WebhookEvent.org_id.is_not(None), lost | (WebhookEvent.status == "waiting"))))
    for event_id in ids:
        enqueue_event(event_id)
    return len(ids)
