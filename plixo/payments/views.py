"""The Stripe webhook endpoint and Admin → Stripe events (processing state, retry)."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from redis.exceptions import RedisError
from sqlalchemy import select

from jobs.webhooks import enqueue_event
from plixo import audit
from plixo.extensions import csrf, db, limiter
from plixo.integrations.stripe_gateway import BadWebhookError, verified_event
from plixo.model import utcnow
from plixo.params import parse_id
from plixo.payments.events import store_stripe_event
from plixo.payments.models import WebhookEvent
from plixo.security import public, requires

bp = Blueprint("payments", __name__)
log = logging.getLogger(__name__)
EVENTS_SHOWN = 200
EVENT_STATES = ("received", "processed", "waiting", "failed", "ignored")
MAX_EVENT_BYTES = 512 * 1024  # Stripe events are a few kilobytes; refuse to buffer more before verifying


@bp.route("/webhooks/stripe", methods=["POST"])
@public
@csrf.exempt  # Stripe cannot hold a CSRF token; the signature on the body proves the sender instead
@limiter.exempt  # Stripe retries what is refused, so throttling it only delays payments
def stripe_webhook():
    secret = current_app.config["STRIPE_WEBHOOK_SECRET"]
    if not secret:
        return jsonify(error="Stripe webhooks are not configured on this server."), 503
    raw = request.stream.read(MAX_EVENT_BYTES + 1)  # bounded even when no Content-Length says how much comes
    if len(raw) > MAX_EVENT_BYTES:
        return jsonify(error="The event is larger than any Stripe event."), 413
    try:
        event = verified_event(raw, request.headers.get("Stripe-Signature"), secret,
                               current_app.config["STRIPE_WEBHOOK_TOLERANCE"])
    except BadWebhookError as refused:
        return jsonify(error=str(refused)), 400
    with db.engine.begin() as connection:
        new_id = store_stripe_event(connection, event, raw, utcnow())
    if new_id is not None:
        try:
            enqueue_event(new_id)  # after the commit: the job must find the row
        except RedisError:
            # The event is stored: the sweeper enqueues it once Redis is back. Refusing would only make Stripe
            # deliver it again.
            log.warning("Stripe event %s stored but not enqueued: Redis is unavailable", event["id"])
    return jsonify(received=True)


@bp.route("/admin/connectors/stripe/events")
@requires("connectors.manage")
def stripe_events():
    status = request.args.get("status", "")
    status = status if status in EVENT_STATES else ""  # an unknown state in the URL shows every event
    query = select(WebhookEvent).where(WebhookEvent.org_id == g.org.id)
    if status:
        query = query.where(WebhookEvent.status == status)
    events = db.session.scalars(query.order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
                                .limit(EVENTS_SHOWN)).all()
    return render_template("payments/events.html", events=events, status=status,
                           statuses=EVENT_STATES)


@bp.route("/admin/connectors/stripe/events/<webhook_event_id>/retry", methods=["POST"])
@requires("connectors.manage")
def retry_stripe_event(webhook_event_id: str):
    event = db.session.scalar(select(WebhookEvent).where(WebhookEvent.org_id == g.org.id,
                                                         WebhookEvent.id == parse_id(webhook_event_id)))
    if event is None:
        abort(404)  # not this workspace's event (WebhookEvent is filtered by hand: it is not a tenant table)
    if event.status not in ("failed", "waiting"):
        flash(f"Only failed or waiting events can be retried; this one is {event.status}.", "warning")
    else:
        before = event.status
        event.status, event.last_error = "received", None
        audit.record(db.session, org_id=g.org.id, actor=current_user, action="payments.event_retried",
                     subject=event, before={"status": before}, after={"event": event.event_id})
        db.session.commit()
        enqueue_event(event.id)
        flash(f"{event.event_type} {event.event_id} queued to be applied again.", "success")
    return redirect(url_for("payments.stripe_events"))
