"""Stripe events as Stripe builds and signs them, for the webhook tests and the bench."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time

WEBHOOK_SECRET = "whsec_test_plixo_0123456789"
_seq = itertools.count(1)
_RUN = secrets.token_hex(4)  # event ids are unique across runs against one database, as Stripe's are


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: HMAC-SHA256 of "<timestamp>.<body>" with the endpoint's secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(kind: str, obj: dict, account: str | None, created: int | None = None) -> dict:
    n = next(_seq)
    return {"id": f"evt_{_RUN}{n:08d}", "object": "event", "type": kind, "account": account,
            "api_version": "2024-06-20", "created": created or int(time.time()) + n, "livemode": False,
            "data": {"object": obj}}


def body_of(evt: dict) -> bytes:
    return json.dumps(evt).encode()


def checkout_completed(account, intent, amount, invoice_ids, currency="usd", **extra):
    return event("checkout.session.completed", {
        "id": f"cs_test_{intent}", "object": "checkout.session", "payment_intent": intent, "amount_total": amount,
        "currency": currency, "payment_status": "paid", "created": int(time.time()) + next(_seq),
        "metadata": {"plixo_invoice_ids": ",".join(map(str, invoice_ids))}}, account, **extra)


def intent_succeeded(account, intent, amount, invoice_ids, currency="usd", **extra):
    return event("payment_intent.succeeded", {
        "id": intent, "object": "payment_intent", "amount": amount, "amount_received": amount, "currency": currency,
        "created": int(time.time()) + next(_seq), "status": "succeeded", "latest_charge": f"ch_{intent}",
        "metadata": {"plixo_invoice_ids": ",".join(map(str, invoice_ids))}}, account, **extra)


def intent_failed(account, intent, amount, invoice_ids, **extra):
    return event("payment_intent.payment_failed", {
        "id": intent, "object": "payment_intent", "amount": amount, "currency": "usd",
        "status": "requires_payment_method",
        "last_payment_error": {"message": "Your card was declined."},
        "metadata": {"plixo_invoice_ids": ",".join(map(str, invoice_ids))}}, account, **extra)


def charge_refunded(account, intent, amount, refunded, **extra):
    return event("charge.refunded", {
        "id": f"ch_{intent}", "object": "charge", "payment_intent": intent, "amount": amount,
        "amount_captured": amount, "amount_refunded": refunded, "currency": "usd", "refunded": refunded >= amount},
        account, **extra)


def dispute(account, intent, amount, status, kind="charge.dispute.created", due_by=None, **extra):
    obj = {"id": f"dp_{intent}", "object": "dispute", "charge": f"ch_{intent}", "payment_intent": intent,
           "amount": amount, "currency": "usd", "reason": "product_not_received", "status": status}
    if due_by is not None:
        obj["evidence_details"] = {"due_by": due_by, "has_evidence": False, "past_due": False, "submission_count": 0}
    return event(kind, obj, account, **extra)


def account_updated(account, charges_enabled, created=None):
    return event("account.updated", {"id": account, "object": "account", "charges_enabled": charges_enabled,
                                     "details_submitted": True}, account, created=created)
