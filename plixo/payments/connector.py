"""The workspace's Stripe connection: connect (Connect OAuth or a restricted key), test, disconnect.

A connected account gets a route (StripeAccount) so its webhooks find the workspace, and a Connection holding
how to act on it. A restricted-key account has no platform in between: Plixo creates a webhook endpoint on the
account itself and keeps that endpoint's signing secret (encrypted) on the route.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.actions import ActionError
from plixo.connectors.models import Connection
from plixo.connectors.stripe import credentials_of
from plixo.integrations import stripe_gateway as gateway
from plixo.integrations.stripe_gateway import AccountInfo, Credentials, StripeProblemError
from plixo.payments.models import StripeAccount

RESTRICTED_KEY_PREFIXES = ("rk_live_", "rk_test_")
ALREADY_TAKEN = "This Stripe account is already connected to another Plixo workspace. Disconnect it there first."
log = logging.getLogger(__name__)


class ConnectorError(ActionError):
    """A connection that cannot be made or used, with the message to show."""


def stripe_connection(session: Session, org_id: int) -> Connection | None:
    return session.scalar(select(Connection).where(Connection.org_id == org_id, Connection.kind == "stripe",
                                                   Connection.provider == "stripe"))


def active_connection(session: Session, org_id: int) -> Connection | None:
    """The connection payments can go through now (connected, and Stripe lets it take charges)."""
    connection = stripe_connection(session, org_id)
    return connection if connection is not None and connection.status == "active" else None


def webhook_url_for(account_id: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/webhooks/stripe/accounts/{account_id}"


def connect_with_oauth_code(session: Session, org: Organization, user: User, code: str,
                            now: dt.datetime) -> Connection:
    """Finish Connect OAuth: the account Stripe names becomes this workspace's."""
    try:
        account_id = gateway.finish_oauth(code)
        info = gateway.account_info(gateway.platform_credentials(account_id))
    except StripeProblemError as problem:
        raise ConnectorError(str(problem)) from problem
    return _connected(session, org, user, info, {"mode": "oauth"}, None, now)


def connect_with_restricted_key(session: Session, org: Organization, user: User, api_key: str,
                                now: dt.datetime) -> Connection:
    """Connect with the account's own restricted key: check it, then create the account's webhook endpoint."""
    api_key = api_key.strip()
    if not api_key:
        raise ConnectorError("Paste the restricted key (it starts with rk_live_ or rk_test_).")
    if api_key.startswith(("sk_live_", "sk_test_")):
        raise ConnectorError("That is a secret key, which can do anything on the account. Create a restricted key "
                             "with only the permissions Plixo needs, and paste that instead.")
    if not api_key.startswith(RESTRICTED_KEY_PREFIXES) or len(api_key) > 255:
        raise ConnectorError("That does not look like a restricted key (it starts with rk_live_ or rk_test_).")
    try:
        info = gateway.account_info(Credentials(api_key))
        _refuse_if_taken(session, org, info.account_id)
        endpoint_id, webhook_secret = gateway.create_webhook_endpoint(api_key, webhook_url_for(info.account_id))
    except StripeProblemError as problem:
        raise ConnectorError(str(problem)) from problem
    stored = {"mode": "key", "api_key": api_key, "webhook_endpoint_id": endpoint_id}
    try:
        return _connected(session, org, user, info, stored, webhook_secret, now)
    except ConnectorError:
        _release_on_stripe(stored, None)  # the endpoint just made must not post to an address nobody reads
        raise


def _refuse_if_taken(session: Session, org: Organization, account_id: str) -> None:
    owner = session.scalar(select(StripeAccount.org_id).where(StripeAccount.account_id == account_id))
    if owner is not None and owner != org.id:
        raise ConnectorError(ALREADY_TAKEN)


def _release_replaced(replaced: tuple[dict, str | None], stored: dict, account_id: str) -> None:
    """A new connection replaces the old one: the old endpoint is deleted, and an OAuth grant for another
    account (or one now connected by key) is revoked. Re-authorising the same account keeps its grant."""
    old, old_account = replaced
    if old.get("mode") == "key" or (old.get("mode") == "oauth" and (stored["mode"] != "oauth"
                                                                    or old_account != account_id)):
        _release_on_stripe(old, old_account)


def _connected(session: Session, org: Organization, user: User, info: AccountInfo, stored: dict,
               webhook_secret: str | None, now: dt.datetime) -> Connection:
    _refuse_if_taken(session, org, info.account_id)
    connection = stripe_connection(session, org.id) or Connection(org_id=org.id, kind="stripe", provider="stripe",
                                                                  settings={})
    before = {"status": connection.status, "account": connection.external_account_id}
    replaced = (json.loads(connection.secrets or "{}"), connection.external_account_id)
    try:
        with session.begin_nested():  # another workspace may be connecting the same account at this moment
            session.execute(delete(StripeAccount).where(StripeAccount.org_id == org.id))
            session.add(StripeAccount(org_id=org.id, account_id=info.account_id, webhook_secret=webhook_secret))
            session.flush()
    except IntegrityError as taken:
        raise ConnectorError(ALREADY_TAKEN) from taken
    _release_replaced(replaced, stored, info.account_id)
    connection.external_account_id, connection.display_name = info.account_id, info.name[:200]
    connection.status = "active" if info.charges_enabled else "error"
    connection.last_error = None if info.charges_enabled else "Stripe has not enabled charges on this account yet."
    connection.secrets, connection.connected_by_id, connection.last_sync_at = json.dumps(stored), user.id, now
    connection.settings = {"mode": stored["mode"]}  # a new connection starts without an old test badge
    session.add(connection)
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="connectors.stripe_connected", subject=connection,
                 before=before, after={"status": connection.status, "account": info.account_id,
                                       "mode": stored["mode"]})
    return connection


def send_test_event(session: Session, org: Organization, user: User, now: dt.datetime) -> Connection:
    """Ask Stripe for a webhook; when it arrives the connector shows "Stripe test received"."""
    connection = stripe_connection(session, org.id)
    if connection is None or connection.status == "disconnected":
        raise ConnectorError("Connect Stripe first.")
    nonce = secrets.token_urlsafe(16)
    try:
        gateway.send_test_event(credentials_of(connection), nonce)
    except StripeProblemError as problem:
        raise ConnectorError(str(problem)) from problem
    connection.settings = {**(connection.settings or {}), "test_nonce": nonce, "test_sent_at": now.isoformat(),
                           "test_received_at": None}
    audit.record(session, org_id=org.id, actor=user, action="connectors.stripe_test_sent", subject=connection)
    return connection


def record_test_received(session: Session, org_id: int, nonce: str | None, now: dt.datetime) -> bool:
    """The test webhook came back: stamp the badge (only for the test this workspace asked for last)."""
    connection = stripe_connection(session, org_id)
    if connection is None or not nonce or (connection.settings or {}).get("test_nonce") != nonce:
        return False
    connection.settings = {**connection.settings, "test_received_at": now.isoformat()}
    audit.record(session, org_id=org_id, actor="Stripe", action="connectors.stripe_test_received",
                 subject=connection)
    return True


def disconnect(session: Session, org: Organization, user: User, reason: str) -> Connection:
    """Forget the account: its webhooks stop routing here, its secrets are erased, Stripe revokes access."""
    connection = stripe_connection(session, org.id)
    if connection is None or connection.status == "disconnected":
        raise ConnectorError("Stripe is not connected.")
    account = connection.external_account_id
    warning = _release_on_stripe(json.loads(connection.secrets or "{}"), account)
    session.execute(delete(StripeAccount).where(StripeAccount.org_id == org.id))
    before = connection.status
    connection.status, connection.secrets, connection.last_error = "disconnected", None, warning
    connection.settings = {"mode": (connection.settings or {}).get("mode")}
    audit.record(session, org_id=org.id, actor=user, action="connectors.stripe_disconnected", subject=connection,
                 before={"status": before, "account": account}, after={"status": "disconnected"},
                 reason=reason.strip()[:2000])
    return connection


def _release_on_stripe(stored: dict, account_id: str | None) -> str | None:
    """Revoke Plixo's access on Stripe's side (the key's endpoint, or the OAuth grant); a warning for the person
    when that fails, which must not keep the workspace connected."""
    try:
        if stored.get("mode") == "key":
            gateway.delete_webhook_endpoint(stored["api_key"], stored["webhook_endpoint_id"])
        elif stored.get("mode") == "oauth":
            if not gateway.connect_available():
                return ("Disconnected here, but this server is no longer set up for Stripe Connect, so Stripe was "
                        "not told. Remove Plixo in the Stripe Dashboard (Settings → Installed apps).")
            gateway.deauthorize(account_id)
    except StripeProblemError as problem:
        log.warning("Stripe access for %s was not revoked: %s", account_id, problem)
        return f"Disconnected here, but Stripe was not told: {problem} Remove Plixo in the Stripe Dashboard."
    return None


@dataclass(frozen=True)
class StripeStatus:
    """What the connector tile and the Data-Ready widget show."""

    state: str  # not_connected, active, error, disconnected
    account_id: str | None = None
    name: str | None = None
    mode: str | None = None
    error: str | None = None
    test_sent_at: dt.datetime | None = None
    test_received_at: dt.datetime | None = None


def stripe_status(connection: Connection | None) -> StripeStatus:
    if connection is None:
        return StripeStatus("not_connected")
    settings = connection.settings or {}
    return StripeStatus(connection.status if connection.status in ("active", "error", "disconnected") else "error",
                        connection.external_account_id, connection.display_name, settings.get("mode"),
                        connection.last_error, _instant(settings.get("test_sent_at")),
                        _instant(settings.get("test_received_at")))


def _instant(value) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
