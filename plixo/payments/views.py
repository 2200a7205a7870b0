"""Stripe: the webhook endpoints, Admin → Connectors → Stripe (connect, test, disconnect, events) and pay links."""

from __future__ import annotations

import hmac
import logging
import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from redis.exceptions import RedisError
from sqlalchemy import select

from plixo import audit, tenancy
from plixo.accounts.models import Organization
from plixo.actions import ActionError
from plixo.extensions import csrf, db, limiter
from plixo.htmx import change
from plixo.integrations import stripe_gateway as gateway
from plixo.integrations.stripe_gateway import BadWebhookError, verified_event
from plixo.ledger.models import Customer, Invoice
from plixo.ledger.payer_links import ExpiredLinkError, LinkError, public_url, read_pay_token
from plixo.model import utcnow
from plixo.params import parse_id
from plixo.payments import connector
from plixo.payments.checkout import CheckoutError, payable, start_checkout
from plixo.payments.connector import stripe_connection
from plixo.payments.events import account_webhook_secret, enqueue_event, store_stripe_event
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
    return _receive(secret)


@bp.route("/webhooks/stripe/accounts/<account_id>", methods=["POST"])
@public
@csrf.exempt  # as above: the endpoint's own signing secret proves the sender
@limiter.exempt
def stripe_account_webhook(account_id: str):
    """Events of an account connected with its own restricted key, posted to the endpoint Plixo created there."""
    with db.engine.connect() as connection:
        secret = account_webhook_secret(connection, account_id[:100])
    if not secret:
        return jsonify(error="No workspace receives events at this address."), 404
    return _receive(secret, account=account_id)


def _receive(secret: str, account: str | None = None):
    """Verify the raw body against `secret`, store the event once and acknowledge it."""
    raw = request.stream.read(MAX_EVENT_BYTES + 1)  # bounded even when no Content-Length says how much comes
    if len(raw) > MAX_EVENT_BYTES:
        return jsonify(error="The event is larger than any Stripe event."), 413
    try:
        event = verified_event(raw, request.headers.get("Stripe-Signature"), secret,
                               current_app.config["STRIPE_WEBHOOK_TOLERANCE"])
    except BadWebhookError as refused:
        return jsonify(error=str(refused)), 400
    _store_and_enqueue(event, raw, account=account)
    return jsonify(received=True)


def _store_and_enqueue(event: dict, raw: bytes, account: str | None = None) -> None:
    with db.engine.begin() as connection:
        new_id = store_stripe_event(connection, event, raw, utcnow(), account=account)
    if new_id is not None:
        try:
            enqueue_event(new_id)  # after the commit: the job must find the row
        except RedisError:
            # The event is stored: the sweeper enqueues it once Redis is back. Refusing would only make Stripe
            # deliver it again.
            log.warning("Stripe event %s stored but not enqueued: Redis is unavailable", event["id"])


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


# --- Admin → Connectors → Stripe ---------------------------------------------------------------------------

OAUTH_STATE_KEY = "stripe_oauth_state"


@bp.route("/admin/connectors/stripe")
@requires("connectors.manage")
def stripe_connector():
    connection = stripe_connection(db.session, g.org.id)
    recent = db.session.scalars(select(WebhookEvent).where(WebhookEvent.org_id == g.org.id)
                                .order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc()).limit(5)).all()
    return render_template("payments/connector.html", status=connector.stripe_status(connection), recent=recent,
                           connect_available=gateway.connect_available(),
                           confirm_disconnect=request.args.get("confirm") == "disconnect")


@bp.route("/admin/connectors/stripe/connect", methods=["POST"])
@requires("connectors.manage")
def start_stripe_oauth():
    if not gateway.connect_available():
        flash("Connecting with Stripe is not set up on this server; paste a restricted key instead.", "warning")
        return redirect(url_for("payments.stripe_connector"))
    state = secrets.token_urlsafe(24)
    session[OAUTH_STATE_KEY] = {"state": state, "org_id": g.org.id}
    return redirect(gateway.authorize_url(state, url_for("payments.finish_stripe_oauth", _external=True)))


@bp.route("/admin/connectors/stripe/callback")
@requires("connectors.manage")
def finish_stripe_oauth():
    expected = session.pop(OAUTH_STATE_KEY, None) or {}
    state_ok = bool(expected.get("state")) and hmac.compare_digest(expected["state"], request.args.get("state", ""))
    if not state_ok or expected.get("org_id") != g.org.id:
        flash("That Stripe connection was not started from this workspace, or took too long. Please start again.",
              "error")
    elif request.args.get("error"):
        flash(f"Stripe was not connected: {request.args.get('error_description') or request.args['error']}.",
              "warning")
    else:
        return _connect_or_flash(lambda: connector.connect_with_oauth_code(
            db.session, g.org, current_user, request.args.get("code", "")[:200], utcnow()))
    return _back_to_connector()


@bp.route("/admin/connectors/stripe/key", methods=["POST"])
@requires("connectors.manage")
def connect_stripe_key():
    return _connect_or_flash(lambda: connector.connect_with_restricted_key(
        db.session, g.org, current_user, request.form.get("api_key", ""), utcnow()))


def _connect_or_flash(connect):
    """Connect and say how it went, then back to the connector page."""
    return change(connect, _connected, _flash_refusal)


def _back_to_connector():
    return redirect(url_for("payments.stripe_connector"))


def _flash_refusal(error: ActionError):
    flash(error.message, "error")
    return _back_to_connector()


def _connected(connection):
    if connection.status == "active":
        flash(f"Stripe account {connection.display_name} connected. Send a test event to check that webhooks "
              "arrive.", "success")
    else:
        flash(f"Stripe account {connection.display_name} connected, but {connection.last_error}", "warning")
    return _back_to_connector()


@bp.route("/admin/connectors/stripe/test", methods=["POST"])
@requires("connectors.manage")
def send_stripe_test_event():
    def requested(_result):
        flash("Test event requested. The badge turns green when Stripe's webhook arrives.", "info")
        return _back_to_connector()

    return change(lambda: connector.send_test_event(db.session, g.org, current_user, utcnow()), requested,
                  _flash_refusal)


@bp.route("/admin/connectors/stripe/disconnect", methods=["POST"])
@requires("connectors.manage")
def disconnect_stripe():
    if request.form.get("confirm") != "yes":
        return redirect(url_for("payments.stripe_connector", confirm="disconnect"))

    def disconnected(connection):
        flash(connection.last_error or "Stripe disconnected. Pay links now tell payers to contact you.",
              "warning" if connection.last_error else "success")
        return _back_to_connector()

    return change(lambda: connector.disconnect(db.session, g.org, current_user, request.form.get("reason", "")),
                  disconnected, _flash_refusal)


# --- {pay_link}: a stable link that opens Stripe Checkout for what is owed now -------------------------------

@bp.route("/pay/<token>")
@public
@limiter.limit("30 per minute")
def pay(token: str):
    """What the link pays, as owed now, behind a button: mail scanners that open links start nothing."""
    claim, customer = _pay_claim_or_page(token)
    if customer is None:
        return claim  # the error page
    with tenancy.tenant_scope(claim.org_id):
        return _pay_overview(claim, token)


@bp.route("/pay/<token>", methods=["POST"])
@public
@limiter.limit("10 per minute")
def start_payment(token: str):
    claim, customer = _pay_claim_or_page(token)
    if customer is None:
        return claim
    with tenancy.tenant_scope(claim.org_id):
        invoices = _claimed_invoices(claim)
        if not payable(invoices):
            return _pay_overview(claim, token)
        org = db.session.get(Organization, claim.org_id)
        try:
            url = start_checkout(db.session, org, customer, invoices, public_url("payments.pay_done", token=token))
        except CheckoutError as refused:
            db.session.commit()  # what was learnt on the way (a page expired, Stripe's refusal) stays recorded
            return _pay_page(org, "unavailable", status=409, message=str(refused), invoices=invoices, token=token)
        db.session.commit()
        response = redirect(url, code=303)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


def _pay_overview(claim, token: str):
    org = db.session.get(Organization, claim.org_id)
    invoices = _claimed_invoices(claim)
    if not invoices:
        return _bad_link("This link is not valid. Check that it was copied in full.", 404)
    due = payable(invoices)
    if due:
        totals = {}
        for invoice in due:
            totals[invoice.currency] = totals.get(invoice.currency, 0) + invoice.balance_minor
        return _pay_page(org, "pay", invoices=invoices, due=due, totals=totals, token=token)
    outcome = "disputed" if any(i.status == "disputed" for i in invoices) else "already_paid"
    return _pay_page(org, outcome, invoices=invoices)


@bp.route("/pay/<token>/done")
@public
@limiter.limit("30 per minute")
def pay_done(token: str):
    claim, customer = _pay_claim_or_page(token)
    if customer is None:
        return claim
    with tenancy.tenant_scope(claim.org_id):
        org = db.session.get(Organization, claim.org_id)
        outcome = "paid" if request.args.get("checkout") == "paid" else "cancelled"
        return _pay_page(org, outcome, invoices=_claimed_invoices(claim), token=token)


def _pay_claim_or_page(token: str):
    """The link's claim and customer, or an error page (and None) for a bad, expired or revoked link."""
    try:
        claim = read_pay_token(token)
    except LinkError as refused:
        return _bad_link(str(refused), 410 if isinstance(refused, ExpiredLinkError) else 404), None
    with tenancy.tenant_scope(claim.org_id):
        customer = db.session.get(Customer, claim.customer_id)
        if customer is None or customer.portal_version != claim.version:
            return _bad_link("This link is no longer valid. Ask the sender for a new one.", 410), None
    return claim, customer


def _claimed_invoices(claim) -> list[Invoice]:
    rows = db.session.scalars(select(Invoice).where(Invoice.id.in_(claim.invoice_ids),
                                                    Invoice.customer_id == claim.customer_id)).all()
    return sorted(rows, key=lambda i: (i.due_date, i.id))


def _bad_link(message: str, status: int):
    return _pay_page(None, "bad_link", status=status, message=message)


def _pay_page(org, outcome: str, status: int = 200, **context):
    response = make_response(render_template("payments/pay_result.html", org=org, outcome=outcome, **context),
                             status)
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is a credential: never pass it on
    response.headers["Cache-Control"] = "no-store"
    return response
