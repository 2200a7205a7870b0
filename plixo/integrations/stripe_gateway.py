"""Stripe, through its own library: webhook signatures, Connect OAuth, restricted keys, Checkout, test events,
chargeback evidence.

Every call goes through `_client`, whose base addresses come from config, so tests point the real library at a
fake Stripe on loopback. Stripe's errors become StripeProblemError with a message a person can act on.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass

import stripe
from flask import current_app

DEFAULT_TOLERANCE_SECONDS = 300  # Stripe's own default: a signature older than this is a replay
# What an endpoint Plixo creates for a restricted-key account listens to: what apply.py handles, and the
# customer.created that "Send test event" causes.
ENDPOINT_EVENTS = ["checkout.session.completed", "payment_intent.succeeded", "payment_intent.payment_failed",
                   "charge.refunded", "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
                   "account.updated", "customer.created"]
TEST_EVENT_MARKER = "plixo_test"


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
    if _signed_at(signature_header) > time.time() + tolerance:  # the library checks only the past
        raise BadWebhookError("The signature is dated in the future (timestamp outside the tolerance).")
    try:
        event = json.loads(raw_body)
    except ValueError as exc:
        raise BadWebhookError("The body is not JSON.") from exc
    if not (isinstance(event, dict) and isinstance(event.get("id"), str) and isinstance(event.get("type"), str)
            and isinstance((event.get("data") or {}).get("object"), dict)):
        raise BadWebhookError("The body is not a Stripe event (id, type and data.object are required).")
    return event


def _signed_at(signature_header: str) -> int:
    """The header's t= timestamp (verify_header has already found a well-formed one)."""
    stamps = [item.split("=", 1)[1] for item in signature_header.split(",") if item.strip().startswith("t=")]
    return int(stamps[0]) if stamps and stamps[0].strip().isdigit() else 0


def _reason(error: stripe.SignatureVerificationError) -> str:
    text = str(error.user_message or error)
    if "tolerance" in text:
        return "The signature is too old (timestamp outside the tolerance)."
    return "The signature does not match the body."


class StripeProblemError(RuntimeError):
    """Stripe refused or could not be reached; the message says what to do about it."""


@dataclass(frozen=True)
class Credentials:
    """How to act on a connected account: the platform key on its behalf (Connect), or the account's own key."""

    api_key: str
    account_id: str | None = None  # sent as Stripe-Account when acting through Connect


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    name: str
    charges_enabled: bool


def _client(api_key: str, account_id: str | None = None) -> stripe.StripeClient:
    config = current_app.config
    return stripe.StripeClient(
        api_key, stripe_account=account_id, client_id=config["STRIPE_CLIENT_ID"] or None,
        base_addresses={"api": config["STRIPE_API_BASE"], "connect": config["STRIPE_CONNECT_BASE"],
                        "files": config["STRIPE_FILES_BASE"]},
        max_network_retries=2)


def _problem(error: stripe.StripeError) -> StripeProblemError:
    if isinstance(error, stripe.AuthenticationError):
        text = "Stripe did not accept the key. Check that it was copied in full and has not been rolled."
    elif isinstance(error, stripe.PermissionError):
        text = f"The key lacks a permission Plixo needs: {error.user_message or error}"
    elif isinstance(error, stripe.APIConnectionError):
        text = "Stripe could not be reached. Try again in a minute."
    elif isinstance(error, stripe.oauth_error.OAuthError):
        text = f"Stripe did not complete the connection: {error.user_message or error}"
    else:
        text = f"Stripe refused the request: {error.user_message or error}"
    return StripeProblemError(text)


def platform_credentials(account_id: str) -> Credentials:
    return Credentials(current_app.config["STRIPE_SECRET_KEY"], account_id)


def connect_available() -> bool:
    """Whether this server is set up as a Connect platform (else only restricted keys can connect)."""
    return bool(current_app.config["STRIPE_SECRET_KEY"] and current_app.config["STRIPE_CLIENT_ID"])


def authorize_url(state: str, redirect_uri: str) -> str:
    """Where to send a controller to connect a Standard account with Connect OAuth."""
    return _client(current_app.config["STRIPE_SECRET_KEY"]).oauth.authorize_url(
        {"scope": "read_write", "state": state, "redirect_uri": redirect_uri})


def finish_oauth(code: str) -> str:
    """Exchange the code Stripe returned for the connected account's id."""
    try:
        token = _client(current_app.config["STRIPE_SECRET_KEY"]).oauth.token(
            {"grant_type": "authorization_code", "code": code})
    except stripe.StripeError as error:
        raise _problem(error) from error
    return token["stripe_user_id"]


def deauthorize(account_id: str) -> None:
    try:
        _client(current_app.config["STRIPE_SECRET_KEY"]).oauth.deauthorize({"stripe_user_id": account_id})
    except stripe.StripeError as error:
        raise _problem(error) from error


def account_info(credentials: Credentials) -> AccountInfo:
    """The account the credentials act on: its id, the name payers see, and whether it can take payments."""
    client = _client(credentials.api_key)
    try:
        account = (client.v1.accounts.retrieve(credentials.account_id) if credentials.account_id
                   else client.v1.accounts.retrieve_current()).to_dict()
    except stripe.StripeError as error:
        raise _problem(error) from error
    profile = account.get("business_profile") or {}
    dashboard = (account.get("settings") or {}).get("dashboard") or {}
    name = profile.get("name") or dashboard.get("display_name") or account["id"]
    return AccountInfo(account["id"], name, bool(account.get("charges_enabled")))


def create_webhook_endpoint(api_key: str, url: str) -> tuple[str, str]:
    """A webhook endpoint on the key's own account pointing at `url`: its id and signing secret."""
    try:
        # Events in the API version this library (and apply.py) reads, whatever the account's default is.
        endpoint = _client(api_key).v1.webhook_endpoints.create(
            {"url": url, "enabled_events": ENDPOINT_EVENTS, "description": "Plixo", "api_version": stripe.api_version})
    except stripe.StripeError as error:
        raise _problem(error) from error
    return endpoint["id"], endpoint["secret"]


def delete_webhook_endpoint(api_key: str, endpoint_id: str) -> None:
    try:
        _client(api_key).v1.webhook_endpoints.delete(endpoint_id)
    except stripe.InvalidRequestError:
        pass  # already gone
    except stripe.StripeError as error:
        raise _problem(error) from error


def send_test_event(credentials: Credentials, nonce: str) -> None:
    """Cause a webhook on the account: create a customer marked with `nonce` (its customer.created event comes
    back to Plixo), then delete it so the account keeps nothing."""
    client = _client(credentials.api_key, credentials.account_id)
    try:
        customer = client.v1.customers.create(
            {"description": "Plixo connection test (deleted right away)", "metadata": {TEST_EVENT_MARKER: nonce}},
            {"idempotency_key": f"plixo-test-{nonce}"})
        client.v1.customers.delete(customer["id"])
    except stripe.StripeError as error:
        raise _problem(error) from error


def create_checkout_session(credentials: Credentials, params: dict, idempotency_key: str) -> tuple[str, str]:
    """A Checkout Session on the connected account: its id and the URL of Stripe's payment page."""
    client = _client(credentials.api_key, credentials.account_id)
    try:
        checkout = client.v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key})
    except stripe.StripeError as error:
        raise _problem(error) from error
    return checkout["id"], checkout["url"]


def expire_checkout_session(credentials: Credentials, session_id: str) -> str:
    """Close an open Checkout page so it can no longer take a payment; the session's status afterwards
    ("expired", or "complete" when the payer finished paying on it first)."""
    client = _client(credentials.api_key, credentials.account_id)
    try:
        return client.v1.checkout.sessions.expire(session_id)["status"]
    except stripe.InvalidRequestError:
        pass  # no longer open: ask what became of it
    except stripe.StripeError as error:
        raise _problem(error) from error
    try:
        return client.v1.checkout.sessions.retrieve(session_id)["status"]
    except stripe.StripeError as error:
        raise _problem(error) from error


def upload_dispute_evidence(credentials: Credentials, filename: str, data: bytes) -> str:
    """Upload one evidence file to the connected account (purpose dispute_evidence); the File's id."""
    upload = io.BytesIO(data)
    upload.name = filename  # the name Stripe shows next to the file in the dispute
    try:
        created = _client(credentials.api_key, credentials.account_id).v1.files.create(
            {"purpose": "dispute_evidence", "file": upload})
    except stripe.StripeError as error:
        raise _problem(error) from error
    return created["id"]


def submit_dispute_evidence(credentials: Credentials, dispute_id: str, evidence: dict[str, str]) -> dict:
    """Send the evidence to the card issuer in one update with submit=true; Stripe's dispute afterwards.

    Stripe takes evidence once: a second submission, or one after the deadline, is refused with its reason.
    """
    try:
        dispute = _client(credentials.api_key, credentials.account_id).v1.disputes.update(
            dispute_id, {"evidence": evidence, "submit": True})
    except stripe.StripeError as error:
        raise _problem(error) from error
    return dispute.to_dict()
