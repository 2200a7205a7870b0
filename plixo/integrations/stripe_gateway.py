"""Stripe, through its own library: webhook signatures now; Checkout and Connect build on the same module."""

from __future__ import annotations

import json

import stripe

DEFAULT_TOLERANCE_SECONDS = 300  # Stripe's own default: a signature older than this is a replay


class BadWebhookError(ValueError):
    """A webhook that is not provably from Stripe, or not an event at all."""


def verified_event(raw_body: bytes, signature_header: str | None, secret: str,
                   tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> dict:
    """The event in `raw_body` once its signature checks out against `secret` within `tolerance` seconds.

    The signature covers the exact bytes received, so this must run before anything parses or re-encodes them.
    """
    if not signature_header:
        raise BadWebhookError("The Stripe-Signature header is missing.")
    try:
        stripe.WebhookSignature.verify_header(raw_body.decode("utf-8"), signature_header, secret, tolerance)
    except UnicodeDecodeError as exc:
        raise BadWebhookError("The body is not UTF-8 text.") from exc
    except stripe.SignatureVerificationError as exc:
        raise BadWebhookError(_reason(exc)) from exc
    try:
        event = json.loads(raw_body)
    except ValueError as exc:
        raise BadWebhookError("The body is not JSON.") from exc
    if not (isinstance(event, dict) and isinstance(event.get("id"), str) and isinstance(event.get("type"), str)
            and isinstance((event.get("data") or {}).get("object"), dict)):
        raise BadWebhookError("The body is not a Stripe event (id, type and data.object are required).")
    return event


def _reason(error: stripe.SignatureVerificationError) -> str:
    text = str(error.user_message or error)
    if "tolerance" in text:
        return "The signature is too old (timestamp outside the tolerance)."
    return "The signature does not match the body."
