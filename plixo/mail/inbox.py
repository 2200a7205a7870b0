"""The finance inbox: the workspace's own mailbox, which reminders are sent from and replies are read from.

A workspace has at most one connected inbox (Microsoft 365, Gmail, or SMTP + IMAP); connecting another replaces
it. Its secrets are encrypted at rest on the Connection. Sending goes through `outbound_for`, which also signs
with the sending domain's DKIM key over SMTP; reading goes through `fetch_replies`, which hands every new e-mail
to the reply intake and remembers where it stopped, so nothing is read twice and nothing old is acted on.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
from dataclasses import dataclass, replace
from ipaddress import ip_address

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.actions import ActionError
from plixo.connectors.models import Connection
from plixo.integrations.mail.drafts import DraftTransport
from plixo.integrations.mail.gmail import GmailMailbox, GoogleApp
from plixo.integrations.mail.gmail import SignedIn as GmailSignIn
from plixo.integrations.mail.gmail import revoke as revoke_google_access
from plixo.integrations.mail.imap import ImapMailbox, MailboxError
from plixo.integrations.mail.microsoft import (
    GraphMailbox,
    MicrosoftApp,
    MicrosoftError,
    SignedIn,
)
from plixo.integrations.mail.outcomes import PermanentFailure, ProviderError, TransientFailure
from plixo.integrations.mail.smtp import DkimKey, SmtpTransport, is_loopback
from plixo.mail.models import SendingDomain
from plixo.outreach.models import Message
from plixo.values import typed_name

MAIL_PORTS = {"smtp_port": (25, 465, 587, 2525), "imap_port": (143, 993)}
PROVIDERS = {"microsoft": "Microsoft 365", "gmail": "Gmail", "smtp": "SMTP and IMAP"}

_HOST = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class InboxError(ActionError):
    """An inbox that cannot be connected or used; the message says what to do."""


@dataclass(frozen=True)
class MailServerSettings:
    """What the SMTP + IMAP form asks for. One sign-in serves both servers, as with every mainstream host."""

    address: str
    display_name: str
    smtp_host: str
    smtp_port: int
    imap_host: str
    imap_port: int
    username: str
    password: str

    def public(self) -> dict:
        """Everything but the password: what the connection keeps in clear and the form shows again."""
        return {"address": self.address, "display_name": self.display_name, "smtp_host": self.smtp_host,
                "smtp_port": self.smtp_port, "imap_host": self.imap_host, "imap_port": self.imap_port,
                "username": self.username}


@dataclass(frozen=True)
class Outbound:
    """How one workspace's e-mails leave: the transport, and the name and address they come from."""

    transport: object
    sender: tuple[str, str]
    connection: Connection | None


def email_connection(session: Session, org_id: int) -> Connection | None:
    """The workspace's inbox, connected or failing (a disconnected one is kept only for its history)."""
    return session.scalar(select(Connection).where(
        Connection.org_id == org_id, Connection.kind == "email", Connection.status.in_(("active", "error")))
        .order_by(Connection.updated_at.desc()).limit(1))


def last_email_connection(session: Session, org_id: int) -> Connection | None:
    """The inbox connected most recently, whatever its state: what the connector page shows."""
    return email_connection(session, org_id) or session.scalar(
        select(Connection).where(Connection.org_id == org_id, Connection.kind == "email")
        .order_by(Connection.updated_at.desc()).limit(1))


# --- SMTP + IMAP ---------------------------------------------------------------------------------------------

def mail_server_settings(form, kept: dict | None = None, kept_password: str = "") -> MailServerSettings:
    """Read and check the SMTP + IMAP form. A blank password keeps the stored one, but only for the very same
    servers, account and address: the stored password must never be handed to a server someone just typed in."""
    kept = kept or {}
    address = _address(form.get("address", ""))
    settings = MailServerSettings(
        address=address, display_name=typed_name(form.get("display_name", ""))[:100],
        smtp_host=_host(form, "smtp_host"), smtp_port=_port(form, "smtp_port"),
        imap_host=_host(form, "imap_host"), imap_port=_port(form, "imap_port"),
        username=(form.get("username", "").strip() or address)[:320], password=form.get("password", ""))
    if not settings.password and kept and all(kept.get(k) == v for k, v in settings.public().items()
                                              if k != "display_name"):
        settings = replace(settings, password=kept_password)
    if not settings.password:
        raise InboxError("Enter the mailbox password (or an app password, if the provider asks for one). It is "
                         "needed again whenever a server, the username or the address changes.", "password")
    return settings


def connect_mail_servers(session: Session, org: Organization, user: User, settings: MailServerSettings,
                         now: dt.datetime) -> Connection:
    """Sign in to both servers before keeping anything; reading starts with mail that arrives from now on."""
    try:
        _smtp_transport(settings.public(), settings.password).check()
    except PermanentFailure as refused:
        raise InboxError(f"SMTP: {refused}", "password") from refused
    except TransientFailure as failed:
        raise InboxError(f"SMTP: {failed}", "smtp_host") from failed
    try:
        with imap_mailbox(settings.public(), settings.password) as mailbox:
            position = mailbox.position()
    except MailboxError as failed:
        raise InboxError(f"IMAP: {failed}", "imap_host") from failed
    state = settings.public() | {"imap_uidvalidity": position.uidvalidity, "imap_last_uid": position.last_uid}
    return _connected(session, org, user, "smtp", settings.address, settings.display_name, state,
                      {"password": settings.password}, now)


def _smtp_transport(settings: dict, password: str, dkim_key: DkimKey | None = None) -> SmtpTransport:
    return SmtpTransport(settings["smtp_host"], settings["smtp_port"], settings["username"], password,
                         timeout=20, dkim_key=dkim_key)


def imap_mailbox(settings: dict, password: str) -> ImapMailbox:
    return ImapMailbox(settings["imap_host"], settings["imap_port"], settings["username"], password, timeout=20)


def _address(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as bad:
        raise InboxError(f"Enter the mailbox's e-mail address: {bad}", "address") from bad


def _host(form, field: str) -> str:
    host = form.get(field, "").strip().lower().rstrip(".")
    if not _HOST.match(host):
        raise InboxError("Enter the server's name, such as smtp.example.com (without a port or https://).", field)
    if current_app.config["PLIXO_ENV"] == "production":
        _refuse_internal(host, field)
    return host


def _refuse_internal(host: str, field: str) -> None:
    """In production a mail server must be a public one: an address inside Plixo's own network (its database,
    its cache, a cloud metadata service) must never be reachable by typing it in as a mail server."""
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError):
        raise InboxError(f"{host} could not be found. Check the server's name.", field) from None
    if is_loopback(host) or not found or any(not ip_address(address).is_global for address in found):
        raise InboxError("That server is on a private or internal network; enter your provider's public mail "
                         "server.", field)


def _port(form, field: str) -> int:
    try:
        port = int(str(form.get(field, "")).strip())
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise InboxError("Enter the port, a number such as 587 (SMTP) or 993 (IMAP).", field)
    if current_app.config["PLIXO_ENV"] == "production" and port not in MAIL_PORTS[field]:
        raise InboxError(f"Use one of the mail ports: {', '.join(map(str, MAIL_PORTS[field]))}.", field)
    return port


# --- Microsoft 365 ---------------------------------------------------------------------------------------------

def microsoft_app() -> MicrosoftApp | None:
    """Plixo's Microsoft app registration, when this server has one."""
    return MicrosoftApp.from_config(current_app.config)


def connect_microsoft(session: Session, org: Organization, user: User, signed_in: SignedIn,
                      now: dt.datetime) -> Connection:
    """Keep the signed-in mailbox; reading starts with mail that arrives from now on."""
    mailbox = GraphMailbox(microsoft_app(), signed_in.token_cache, signed_in.account_id, signed_in.address)
    try:
        position = mailbox.latest_position()
    except MicrosoftError as failed:
        raise InboxError(f"Signed in, but the inbox of {signed_in.address} could not be read: {failed}") from failed
    settings = {"address": signed_in.address, "tenant_id": signed_in.tenant_id,
                "account_id": signed_in.account_id, "delta_link": position}
    return _connected(session, org, user, "microsoft", signed_in.address, signed_in.display_name, settings,
                      {"token_cache": mailbox.cache.serialize()}, now)


def graph_mailbox(connection: Connection) -> GraphMailbox:
    """The connection's mailbox; refreshed tokens are written back to the connection (encrypted) as they come."""
    def keep_tokens(state: str) -> None:
        connection.secrets = json.dumps(secrets_of(connection) | {"token_cache": state})

    settings = connection.settings
    return GraphMailbox(microsoft_app(), secrets_of(connection).get("token_cache", ""), settings["account_id"],
                        settings["address"], on_tokens_changed=keep_tokens)


def needs_reauthorising(connection: Connection, problem: str) -> None:
    """The provider refuses the stored sign-in: nothing is sent or read until someone signs in again."""
    connection.status, connection.last_error = "error", f"Re-authorise the mailbox: {problem}"[:2000]
    connection.settings = connection.settings | {"needs_reauth": True}


# --- Gmail -----------------------------------------------------------------------------------------------------

def google_app() -> GoogleApp | None:
    """Plixo's Google OAuth client, when this server has one."""
    return GoogleApp.from_config(current_app.config)


def connect_gmail(session: Session, org: Organization, user: User, signed_in: GmailSignIn,
                  now: dt.datetime) -> Connection:
    """Keep the signed-in Gmail mailbox; reading starts with mail that arrives from now on."""
    mailbox = GmailMailbox(google_app(), signed_in.token, signed_in.address)
    try:
        position = mailbox.latest_position()
    except ProviderError as failed:
        raise InboxError(f"Signed in, but the inbox of {signed_in.address} could not be read: {failed}") from failed
    return _connected(session, org, user, "gmail", signed_in.address, "", {"address": signed_in.address,
                                                                          "history_id": position},
                      mailbox.stored(), now)


def gmail_mailbox(connection: Connection) -> GmailMailbox:
    """The connection's Gmail mailbox; refreshed tokens are written back to the connection (encrypted)."""
    def keep_tokens(stored: dict) -> None:
        connection.secrets = json.dumps(stored)

    return GmailMailbox(google_app(), secrets_of(connection), connection.settings["address"],
                        on_tokens_changed=keep_tokens)


# --- Any provider ----------------------------------------------------------------------------------------------

def _connected(session: Session, org: Organization, user: User, provider: str, address: str, name: str,
               settings: dict, secrets: dict, now: dt.datetime) -> Connection:
    """Keep the new connection and retire any other inbox: e-mails must come from one mailbox at a time.

    Re-authorising the same mailbox keeps where reading stopped, so replies that arrived while it was failing are
    still read; another mailbox starts at its own end.
    """
    last = last_email_connection(session, org.id)
    if last is not None and (last.provider, last.display_name) != (provider, address):
        _hand_drafts_to_people(session, last)
    previous = email_connection(session, org.id)
    if previous is not None and previous.provider != provider:
        _retire(session, org, user, previous, f"Replaced by {PROVIDERS[provider]} ({address}).")
    connection = session.scalar(select(Connection).where(Connection.org_id == org.id, Connection.kind == "email",
                                                         Connection.provider == provider))
    before = None if connection is None else {"status": connection.status, "address": connection.display_name}
    if connection is None:
        connection = Connection(org_id=org.id, kind="email", provider=provider)
        session.add(connection)
    elif connection.status != "disconnected" and connection.display_name == address:
        settings = settings | {key: connection.settings[key] for key in READING_POSITION[provider]
                               if key in (connection.settings or {})}
    connection.status, connection.last_error, connection.display_name = "active", None, address
    connection.external_account_id, connection.settings = address, settings | {"display_name": name}
    connection.secrets, connection.connected_by_id, connection.last_sync_at = json.dumps(secrets), user.id, None
    connection.updated_at = now
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="connectors.email_connected", subject=connection,
                 before=before, after={"status": "active", "provider": provider, "address": address})
    return connection


READING_POSITION = {"smtp": ("imap_uidvalidity", "imap_last_uid"), "microsoft": ("delta_link",),
                    "gmail": ("history_id",)}


def _hand_drafts_to_people(session: Session, mailbox: Connection) -> None:
    """E-mails handed to the old mailbox as drafts and not known to be sent: only that mailbox can tell whether
    they left, so a person checks its sent items rather than the new mailbox sending them again."""
    session.execute(
        update(Message).where(Message.org_id == mailbox.org_id, Message.provider_draft_id.is_not(None),
                              Message.status.in_(("scheduled", "sending", "delivering")))
        .values(status="review", claimed_until=None,
                last_error=f"Was being sent from {mailbox.display_name} when the inbox changed: check that "
                           "mailbox's sent items before sending it again.")
        .execution_options(synchronize_session=False))


def disconnect_inbox(session: Session, org: Organization, user: User, reason: str) -> Connection:
    """Stop sending from and reading the mailbox; its secrets are erased. Scheduled e-mails wait."""
    connection = email_connection(session, org.id)
    if connection is None:
        raise InboxError("No inbox is connected.")
    warning = _withdraw_access(connection)
    _retire(session, org, user, connection, reason.strip()[:2000])
    connection.last_error = warning
    return connection


def _withdraw_access(connection: Connection) -> str | None:
    """Tell the provider Plixo no longer needs the access it was granted, where it offers a way to."""
    if connection.provider == "gmail" and google_app() is not None:
        return revoke_google_access(google_app(), secrets_of(connection))
    return None


def _retire(session: Session, org: Organization, user: User, connection: Connection, reason: str) -> None:
    before = connection.status
    connection.status, connection.secrets, connection.last_error = "disconnected", None, None
    audit.record(session, org_id=org.id, actor=user, action="connectors.email_disconnected", subject=connection,
                 before={"status": before, "address": connection.display_name},
                 after={"status": "disconnected"}, reason=reason)


def secrets_of(connection: Connection) -> dict:
    return json.loads(connection.secrets or "{}")


def outbound_for(session: Session, org: Organization) -> Outbound | None:
    """How the workspace sends now: through its connected inbox, else the server's own SMTP (development and
    workspaces that have not connected one), else not at all."""
    config = current_app.config
    connection = email_connection(session, org.id)
    if connection is not None and connection.provider == "smtp":
        settings = connection.settings
        if settings.get("needs_reauth"):
            return None  # signing in again and again with a refused password would lock the mailbox
        transport = _smtp_transport(settings, secrets_of(connection).get("password", ""),
                                    dkim_key_for(session, org.id, settings["address"]))
        return Outbound(transport, (settings.get("display_name") or "", settings["address"]), connection)
    if connection is not None and connection.provider in API_MAILBOXES:
        mailbox = api_mailbox(connection)
        if mailbox is None:
            return None
        settings = connection.settings
        return Outbound(DraftTransport(mailbox), (settings.get("display_name") or "", settings["address"]),
                        connection)
    if connection is not None:
        return None  # a provider this server cannot send through
    if not config.get("SMTP_HOST") or last_email_connection(session, org.id) is not None:
        return None  # a workspace that disconnected its inbox waits for it: never a different sender unasked
    transport = SmtpTransport(config["SMTP_HOST"], config["SMTP_PORT"], config.get("SMTP_USERNAME") or None,
                              config.get("SMTP_PASSWORD") or None,
                              dkim_key=dkim_key_for(session, org.id, config["MAIL_FROM"]))
    return Outbound(transport, ("", config["MAIL_FROM"]), None)


API_MAILBOXES = ("microsoft", "gmail")


def api_mailbox(connection: Connection) -> GraphMailbox | GmailMailbox | None:
    """The mailbox behind a Microsoft 365 or Gmail connection; None while it must be re-authorised or while this
    server has no app registration for its provider."""
    if connection.settings.get("needs_reauth"):
        return None
    if connection.provider == "microsoft":
        return graph_mailbox(connection) if microsoft_app() is not None else None
    return gmail_mailbox(connection) if google_app() is not None else None


def after_sending(outbound: Outbound) -> None:
    """What sending learnt about the mailbox: a refused sign-in stops further sends until re-authorised."""
    problem = getattr(outbound.transport, "auth_problem", None)
    if problem and outbound.connection is not None:
        needs_reauthorising(outbound.connection, problem)


def sender_address(session: Session, org_id: int) -> str | None:
    """The address the workspace's e-mails leave from now (None: they cannot leave at all)."""
    connection = email_connection(session, org_id)
    if connection is not None:
        return connection.settings.get("address") or connection.display_name
    config = current_app.config
    if config.get("SMTP_HOST") and last_email_connection(session, org_id) is None:
        return config["MAIL_FROM"]
    return None


def dkim_key_for(session: Session, org_id: int, address: str) -> DkimKey | None:
    """The DKIM key of the sender's domain, when the workspace has added that domain on the Deliverability page."""
    domain = address.rsplit("@", 1)[-1].lower()
    sending = session.scalar(select(SendingDomain).where(SendingDomain.org_id == org_id,
                                                         SendingDomain.domain == domain))
    return None if sending is None else DkimKey(sending.domain, sending.dkim_selector, sending.dkim_private_key)
