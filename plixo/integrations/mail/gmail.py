"""Gmail: sign-in with Google OAuth 2.0 (google-auth-oauthlib, authorization code with PKCE), the ID token checked
here, and the Gmail API for sending through drafts and reading new inbox mail by history id.

Google's addresses come from configuration, so the tests' fake Google on loopback stands in. Credentials are kept
as plain fields (token, refresh token, expiry, scopes) encrypted on the connection; the client secret and token
address always come from configuration, never from storage.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import google.auth.exceptions
import google.auth.transport.requests
import google.oauth2.credentials
import google.oauth2.id_token
import requests
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from plixo.integrations.mail.drafts import NETWORK_ERRORS
from plixo.integrations.mail.outcomes import ProviderAnswers, ProviderError, UnknownOutcome

GMAIL_COMPOSE = "https://www.googleapis.com/auth/gmail.compose"  # drafts, and sending them
GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"  # reading replies
SCOPES = ["openid", "https://www.googleapis.com/auth/userinfo.email", GMAIL_COMPOSE, GMAIL_READONLY]
ISSUERS = ("https://accounts.google.com", "accounts.google.com")
TIMEOUT_SECONDS = 20


class GmailError(ProviderError):
    """Google could not be used; the message says what happened, for a person."""


GOOGLE = ProviderAnswers("Google", GmailError, error_name_field="status",
                         is_bounce=lambda response: "Invalid To header" in response.text)


@dataclass(frozen=True)
class GoogleApp:
    """Plixo's Google OAuth client and where Google is."""

    client_id: str
    client_secret: str
    auth_uri: str
    token_uri: str
    certs_url: str
    revoke_uri: str
    gmail_base: str
    ca_bundle: str = ""

    @classmethod
    def from_config(cls, config) -> GoogleApp | None:
        if not (config.get("GOOGLE_CLIENT_ID") and config.get("GOOGLE_CLIENT_SECRET")):
            return None
        return cls(config["GOOGLE_CLIENT_ID"], config["GOOGLE_CLIENT_SECRET"], config["GOOGLE_AUTH_URI"],
                   config["GOOGLE_TOKEN_URI"], config["GOOGLE_CERTS_URL"], config["GOOGLE_REVOKE_URI"],
                   config["GMAIL_API_BASE"].rstrip("/"), config.get("MAIL_CA_BUNDLE", ""))

    def http(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # environment CA variables would override `verify` (a requests quirk)
        session.verify = self.ca_bundle or True
        return session

    def flow(self, redirect_uri: str, **kwargs) -> Flow:
        config = {"web": {"client_id": self.client_id, "client_secret": self.client_secret,
                          "auth_uri": self.auth_uri, "token_uri": self.token_uri, "redirect_uris": [redirect_uri]}}
        flow = Flow.from_client_config(config, scopes=SCOPES, redirect_uri=redirect_uri, **kwargs)
        flow.oauth2session.trust_env = False
        flow.oauth2session.verify = self.ca_bundle or True
        return flow


@dataclass(frozen=True)
class SignedIn:
    address: str
    token: dict  # access token, refresh token, expiry (ISO, UTC) and granted scopes: kept encrypted


def start_sign_in(app: GoogleApp, redirect_uri: str) -> tuple[str, dict]:
    """Where the person signs in, and what to keep in the session until Google sends them back."""
    flow = app.flow(redirect_uri)
    nonce = secrets.token_urlsafe(24)
    # "consent" every time: without it, connecting again returns no refresh token.
    url, state = flow.authorization_url(prompt="consent", nonce=nonce, include_granted_scopes="false")
    return url, {"state": state, "code_verifier": flow.code_verifier, "nonce": nonce, "redirect_uri": redirect_uri}


def finish_sign_in(app: GoogleApp, saved: dict, answer: dict) -> SignedIn:
    """Exchange the code (with the PKCE verifier), check the ID token and the permissions granted."""
    if not saved.get("state") or not hmac.compare_digest(str(saved["state"]), str(answer.get("state", ""))):
        raise GmailError("That sign-in does not match the one started here. Please start again.")
    flow = app.flow(saved["redirect_uri"], state=saved["state"], code_verifier=saved["code_verifier"])
    try:
        token = flow.fetch_token(code=str(answer.get("code", ""))[:2000])
    except Warning as narrowed:  # oauthlib: the person unticked a permission
        raise GmailError("Plixo needs every permission it asks for: to draft and send e-mails and to read "
                         "replies. Please connect again and leave them all ticked.") from narrowed
    except OAuth2Error as refused:
        raise GmailError(f"Google refused the sign-in: {refused.description or refused.error}") from refused
    except NETWORK_ERRORS as error:
        raise GOOGLE.unreachable(error) from error
    granted = set(token.get("scope") or [])
    if not {GMAIL_COMPOSE, GMAIL_READONLY} <= granted:
        raise GmailError("Plixo needs every permission it asks for: to draft and send e-mails and to read replies. "
                         "Please connect again and leave them all ticked.")
    if not token.get("refresh_token"):
        raise GmailError("Google gave no lasting access. Please connect again.")
    claims = verify_id_token(app, token.get("id_token", ""), saved["nonce"])
    expiry = dt.datetime.fromtimestamp(token["expires_at"], dt.UTC) if token.get("expires_at") else None
    return SignedIn(claims["email"].lower(), {
        "token": token["access_token"], "refresh_token": token["refresh_token"], "scopes": sorted(granted),
        "expiry": expiry.isoformat() if expiry else None})


def verify_id_token(app: GoogleApp, token: str, nonce: str) -> dict:
    """The ID token's claims once its signature, audience, expiry, issuer, nonce and verified e-mail check out
    (google-auth checks the first three; the rest is ours to check)."""
    try:
        claims = google.oauth2.id_token.verify_token(
            token, google.auth.transport.requests.Request(app.http()), audience=app.client_id,
            certs_url=app.certs_url, clock_skew_in_seconds=120)
    except (ValueError, google.auth.exceptions.GoogleAuthError) as invalid:
        raise GmailError(f"Google's answer could not be verified ({invalid}). Please sign in again.") from invalid
    if claims.get("iss") not in ISSUERS:
        raise GmailError("Google's answer was not issued by Google. Please sign in again.")
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise GmailError("The ID token was not issued for this sign-in. Please sign in again.")
    if not claims.get("email") or claims.get("email_verified") is not True:
        raise GmailError("Google did not confirm the mailbox's address.")
    return claims


def revoke(app: GoogleApp, stored: dict) -> str | None:
    """Withdraw Plixo's access at Google; a warning for the person when Google could not be told."""
    try:
        # In the body, never the address: a failed request's error text names its URL.
        response = app.http().post(app.revoke_uri, data={"token": stored.get("refresh_token", "")},
                                   timeout=TIMEOUT_SECONDS)
    except NETWORK_ERRORS:
        return "Disconnected here, but Google could not be reached to withdraw access. Remove Plixo at " \
               "myaccount.google.com."
    if response.status_code not in (200, 400):  # 400: the grant was already gone
        return "Disconnected here, but Google was not told. Remove Plixo at myaccount.google.com."
    return None


class GmailMailbox:  # a DraftMailbox
    """One Gmail mailbox through the Gmail API; an expired access token is refreshed (and kept) when needed."""

    def __init__(self, app: GoogleApp, stored: dict, address: str,
                 on_tokens_changed: Callable[[dict], None] | None = None):
        self.app, self.address, self.on_tokens_changed = app, address, on_tokens_changed
        expiry = stored.get("expiry")
        self.credentials = google.oauth2.credentials.Credentials(
            stored.get("token"), refresh_token=stored.get("refresh_token"), token_uri=app.token_uri,
            client_id=app.client_id, client_secret=app.client_secret, scopes=stored.get("scopes"),
            # google-auth compares expiry with a naive UTC clock
            expiry=dt.datetime.fromisoformat(expiry).astimezone(dt.UTC).replace(tzinfo=None) if expiry else None)
        self.http = app.http()
        self._refresher = google.auth.transport.requests.Request(self.http)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        """A Gmail API request; the access token is refreshed first when expired, and once more on a 401."""
        def request(renew: bool) -> requests.Response:
            self._fresh_token(renew)
            return self.http.request(method, f"{self.app.gmail_base}/users/me{path}", timeout=TIMEOUT_SECONDS,
                                     headers={"Authorization": f"Bearer {self.credentials.token}"}, **kwargs)

        return GOOGLE.with_one_renewal(self.address, request)

    def _fresh_token(self, force: bool) -> None:
        if not force and self.credentials.valid:
            return
        try:
            self.credentials.refresh(self._refresher)
        except google.auth.exceptions.RefreshError as refused:
            if getattr(refused, "retryable", False):  # an outage at Google, not a withdrawn grant
                raise GOOGLE.renewal_failed(self.address, refused) from refused
            raise GOOGLE.access_withdrawn(self.address, refused.args[0] if refused.args else refused) from refused
        except google.auth.exceptions.TransportError as error:
            raise GOOGLE.unreachable(error) from error
        if self.on_tokens_changed is not None:
            self.on_tokens_changed(self.stored())

    def stored(self) -> dict:
        """The credentials as the connection keeps them (encrypted)."""
        expiry = self.credentials.expiry
        return {"token": self.credentials.token, "refresh_token": self.credentials.refresh_token,
                "scopes": sorted(self.credentials.scopes or []),
                "expiry": expiry.replace(tzinfo=dt.UTC).isoformat() if expiry else None}

    # --- Reading ------------------------------------------------------------------------------------------------

    def latest_position(self) -> str:
        """The mailbox's current history id: reading from it sees only mail that arrives later."""
        return str(GOOGLE.checked_json(self.call("GET", "/profile"))["historyId"])

    def read_after(self, history_id: str, limit: int) -> tuple[str, list[bytes]]:
        """Up to about `limit` messages added to the inbox after `history_id`, and the history id after them.

        History too old for Gmail to answer (404) restarts from the mailbox's current end rather than guessing.
        """
        raws: list[bytes] = []
        position, page_token = history_id, None
        while True:
            params = {"startHistoryId": history_id, "historyTypes": "messageAdded", "labelId": "INBOX"}
            if page_token:
                params["pageToken"] = page_token
            response = self.call("GET", "/history", params=params)
            if response.status_code == 404:
                return self.latest_position(), []
            page = GOOGLE.checked_json(response)
            for record in page.get("history", []):
                for added in record.get("messagesAdded", []):
                    if "INBOX" in added["message"].get("labelIds", ["INBOX"]):
                        raws.append(self._raw(added["message"]["id"]))
                position = str(record["id"])
                if len(raws) >= limit:
                    return position, raws
            page_token = page.get("nextPageToken")
            if not page_token:
                return str(page.get("historyId") or position), raws

    def _raw(self, message_id: str) -> bytes:
        found = GOOGLE.checked_json(self.call("GET", f"/messages/{message_id}", params={"format": "raw"}))
        return base64.urlsafe_b64decode(found["raw"] + "=" * (-len(found["raw"]) % 4))

    # --- Sending ------------------------------------------------------------------------------------------------

    def in_sent_items(self, internet_message_id: str) -> str | None:
        query = f"rfc822msgid:{internet_message_id.strip('<>')} in:sent"
        found = GOOGLE.checked_json(self.call("GET", "/messages", params={"q": query})).get("messages") or []
        return found[0]["id"] if found else None

    def is_draft(self, draft_id: str) -> bool:
        response = self.call("GET", f"/drafts/{draft_id}", params={"format": "minimal"})
        if response.status_code == 404:
            return False
        GOOGLE.checked(response)
        return True

    def create_draft(self, email: EmailMessage) -> str:
        raw = base64.urlsafe_b64encode(email.as_bytes(policy=SMTP_POLICY)).decode()
        response = self.call("POST", "/drafts", json={"message": {"raw": raw}})
        if response.status_code != 200:
            raise GOOGLE.refusal(response, "create the draft")
        return GOOGLE.json(response)["id"]

    def delete_draft(self, draft_id: str) -> None:
        response = self.call("DELETE", f"/drafts/{draft_id}")
        if response.status_code not in (200, 204, 404):
            GOOGLE.checked(response)

    def send_draft(self, draft_id: str) -> str:
        response = self.call("POST", "/drafts/send", json={"id": draft_id})
        if response.status_code == 200:
            return GOOGLE.json(response)["id"]
        if response.status_code == 404:
            raise UnknownOutcome("The draft disappeared from the mailbox before Google confirmed sending it.")
        raise GOOGLE.refusal(response, "send")

