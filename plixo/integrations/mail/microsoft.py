"""Microsoft 365: sign-in with msal (authorization code with PKCE), the ID token checked here, and Microsoft Graph
for sending from the mailbox and reading the replies that reach it.

msal contacts its authority as soon as a client is built, so clients are built only when a sign-in or a Graph call
needs one, never at start-up. Tokens live in msal's cache, which the connection keeps encrypted; a Graph call
answered 401 refreshes the access token once and tries again.
"""

from __future__ import annotations

import hashlib
import hmac
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

import jwt
import msal
import requests

from plixo.integrations.mail.drafts import NETWORK_ERRORS
from plixo.integrations.mail.outcomes import NeedsReauthorising, ProviderAnswers, ProviderError, UnknownOutcome

MICROSOFT_LOGIN = "https://login.microsoftonline.com"
SCOPES = ["User.Read", "Mail.ReadWrite", "Mail.Send"]
TIMEOUT_SECONDS = 20
REAUTHORISE_ERRORS = ("invalid_grant", "interaction_required", "consent_required", "login_required")
CLOCK_SKEW_SECONDS = 120


class MicrosoftError(ProviderError):
    """Microsoft could not be used; the message says what happened, for a person."""


def _refuses_the_recipients(response: requests.Response) -> bool:
    try:
        return response.json().get("error", {}).get("code", "") == "ErrorInvalidRecipients"
    except ValueError:
        return False


MICROSOFT = ProviderAnswers("Microsoft", MicrosoftError, error_name_field="code", is_bounce=_refuses_the_recipients)


@dataclass(frozen=True)
class MicrosoftApp:
    """Plixo's app registration and where Microsoft is (tests point both addresses at a fake on loopback)."""

    client_id: str
    client_secret: str
    authority_host: str = MICROSOFT_LOGIN
    tenant: str = "organizations"
    graph_base: str = "https://graph.microsoft.com/v1.0"
    ca_bundle: str = ""  # a CA file to trust instead of the system's (the fake's own certificate)

    @classmethod
    def from_config(cls, config) -> MicrosoftApp | None:
        if not (config.get("MS_CLIENT_ID") and config.get("MS_CLIENT_SECRET")):
            return None
        return cls(config["MS_CLIENT_ID"], config["MS_CLIENT_SECRET"], config["MS_AUTHORITY_HOST"].rstrip("/"),
                   config["MS_TENANT"], config["MS_GRAPH_BASE"].rstrip("/"), config.get("MAIL_CA_BUNDLE", ""))

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant}"

    def http(self) -> requests.Session:
        session = requests.Session()
        # Environment CA variables would override the session's `verify` (a requests quirk): this app's trust is
        # what its configuration says, nothing else.
        session.trust_env = False
        session.verify = self.ca_bundle or True
        return session

    def client(self, cache: msal.TokenCache | None = None) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            self.client_id, client_credential=self.client_secret, authority=self.authority, token_cache=cache,
            http_client=self.http(), instance_discovery=self.authority_host == MICROSOFT_LOGIN)


@dataclass(frozen=True)
class SignedIn:
    address: str
    display_name: str
    tenant_id: str
    account_id: str  # msal's home account id: which cached sign-in the tokens belong to
    token_cache: str  # msal's serialized cache, to be kept encrypted


def start_sign_in(app: MicrosoftApp, redirect_uri: str) -> dict:
    """The auth-code flow to keep in the session; its `auth_uri` is where the person signs in."""
    try:
        with warnings.catch_warnings():
            # msal recommends form_post; Plixo reads the answer from the query string, because a cross-site POST
            # would arrive without the session cookie (SameSite=Lax) that ties it to this workspace.
            warnings.simplefilter("ignore", UserWarning)
            return app.client().initiate_auth_code_flow(SCOPES, redirect_uri=redirect_uri, prompt="select_account")
    except (ValueError, *NETWORK_ERRORS) as error:
        raise MicrosoftError(f"Microsoft's sign-in could not be reached: {error}") from error


def finish_sign_in(app: MicrosoftApp, flow: dict, answer: dict) -> SignedIn:
    """Exchange the code, check the ID token, and read which mailbox signed in."""
    cache = msal.SerializableTokenCache()
    client = app.client(cache)
    try:
        result = client.acquire_token_by_auth_code_flow(flow, answer, scopes=SCOPES)
    except (ValueError, RuntimeError) as mismatch:  # msal: state (ValueError) or nonce (RuntimeError)
        raise MicrosoftError("That sign-in does not match the one started here. Please start again.") from mismatch
    except NETWORK_ERRORS as error:
        raise MICROSOFT.unreachable(error) from error
    if "error" in result:
        raise MicrosoftError(f"Microsoft refused the sign-in: {result.get('error_description') or result['error']}")
    claims = verify_id_token(app, result.get("id_token", ""), hashlib.sha256(flow["nonce"].encode()).hexdigest())
    profile = MICROSOFT.checked_json(app.http().get(f"{app.graph_base}/me", timeout=TIMEOUT_SECONDS,
                                                    headers={"Authorization": f"Bearer {result['access_token']}"}))
    address = (profile.get("mail") or profile.get("userPrincipalName") or "").lower()
    account = next((a for a in client.get_accounts() if a.get("local_account_id") == claims.get("oid")), None)
    if not address or account is None:
        raise MicrosoftError("Microsoft did not say which mailbox signed in.")
    return SignedIn(address, profile.get("displayName") or "", claims["tid"], account["home_account_id"],
                    cache.serialize())


def verify_id_token(app: MicrosoftApp, token: str, nonce: str) -> dict:
    """The ID token's claims once its signature, issuer, audience, expiry and nonce all check out.

    msal only decodes the token; trusting who signed in needs these checks. The issuer is the tenant's own, so
    the metadata's `{tenantid}` is filled with the token's tenant before comparing.
    """
    http = app.http()
    try:
        metadata = MICROSOFT.checked_json(http.get(f"{app.authority}/v2.0/.well-known/openid-configuration",
                                                   timeout=TIMEOUT_SECONDS))
        keys = jwt.PyJWKSet.from_dict(MICROSOFT.checked_json(http.get(metadata["jwks_uri"], timeout=TIMEOUT_SECONDS)))
        kid = jwt.get_unverified_header(token).get("kid")
        key = next((k for k in keys.keys if k.key_id == kid), None)
        if key is None:
            raise MicrosoftError("The ID token is signed with a key Microsoft does not publish.")
        tenant = str(jwt.decode(token, options={"verify_signature": False}).get("tid", ""))
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=app.client_id,
                            issuer=metadata["issuer"].replace("{tenantid}", tenant), leeway=CLOCK_SKEW_SECONDS,
                            options={"require": ["exp", "iat", "iss", "aud", "nonce", "tid", "oid"]})
    except (jwt.PyJWTError, KeyError, ValueError) as invalid:
        raise MicrosoftError(f"Microsoft's answer could not be verified ({invalid}). Please sign in again.") \
            from invalid
    except NETWORK_ERRORS as error:
        raise MICROSOFT.unreachable(error) from error
    if not hmac.compare_digest(str(claims["nonce"]), nonce):
        raise MicrosoftError("The ID token was not issued for this sign-in. Please sign in again.")
    return claims


class GraphMailbox:  # a DraftMailbox
    """One mailbox through Graph, with tokens from the connection's msal cache, refreshed when Graph says so."""

    def __init__(self, app: MicrosoftApp, token_cache: str, account_id: str, address: str,
                 on_tokens_changed: Callable[[str], None] | None = None):
        self.app, self.account_id, self.address = app, account_id, address
        self.cache = msal.SerializableTokenCache()
        self.cache.deserialize(token_cache or None)
        self.on_tokens_changed = on_tokens_changed
        self.http = app.http()
        self._client: msal.ConfidentialClientApplication | None = None

    def _token(self, force_refresh: bool = False) -> str:
        if self._client is None:
            try:
                self._client = self.app.client(self.cache)
            except (ValueError, *NETWORK_ERRORS) as error:
                raise MICROSOFT.unreachable(error) from error
        account = next((a for a in self._client.get_accounts() if a["home_account_id"] == self.account_id), None)
        if account is None:
            raise NeedsReauthorising("Plixo holds no sign-in for this mailbox any more.")
        result = self._client.acquire_token_silent_with_error(SCOPES, account, force_refresh=force_refresh)
        if self.cache.has_state_changed and self.on_tokens_changed is not None:
            self.on_tokens_changed(self.cache.serialize())
            self.cache.has_state_changed = False
        if not result or "access_token" not in result:
            detail = (result or {}).get("error_description") or (result or {}).get("error") or "no token"
            if result and result.get("error") not in REAUTHORISE_ERRORS:  # an outage at Microsoft: try later
                raise MICROSOFT.renewal_failed(self.address, detail)
            raise MICROSOFT.access_withdrawn(self.address, detail)
        return result["access_token"]

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        """A Graph request; an expired access token (401) is refreshed once."""
        url = path if path.startswith("https://") else f"{self.app.graph_base}{path}"
        extra_headers = kwargs.pop("headers", {})

        def request(renew: bool) -> requests.Response:
            headers = {"Authorization": f"Bearer {self._token(force_refresh=renew)}", **extra_headers}
            return self.http.request(method, url, headers=headers, timeout=TIMEOUT_SECONDS, **kwargs)

        return MICROSOFT.with_one_renewal(self.address, request)

    # --- Reading ------------------------------------------------------------------------------------------------

    def latest_position(self) -> str:
        """A delta link at the inbox's end: reading from it sees only mail that arrives later."""
        response = self.call("GET", "/me/mailFolders/inbox/messages/delta",
                             params={"$deltatoken": "latest", "$select": "id"})
        return MICROSOFT.checked_json(response)["@odata.deltaLink"]

    def read_after(self, position: str, limit: int) -> tuple[str, list[bytes]]:
        """Up to about `limit` messages delivered after `position`, and the position after them."""
        raws: list[bytes] = []
        link = position
        while True:
            page = MICROSOFT.checked_json(self.call("GET", link))
            for item in page.get("value", []):
                if "@removed" not in item:
                    raws.append(MICROSOFT.checked(self.call("GET", f"/me/messages/{item['id']}/$value")).content)
            if "@odata.deltaLink" in page:
                return page["@odata.deltaLink"], raws
            link = page["@odata.nextLink"]
            if len(raws) >= limit:  # the next page's link is a valid place to resume
                return link, raws

    # --- Sending ------------------------------------------------------------------------------------------------

    def in_sent_items(self, internet_message_id: str) -> str | None:
        escaped = internet_message_id.replace("'", "''")
        response = self.call("GET", "/me/mailFolders/sentitems/messages", params={
            "$filter": f"internetMessageId eq '{escaped}'", "$select": "id,internetMessageId"})
        found = MICROSOFT.checked_json(response).get("value", [])
        return found[0]["id"] if found else None

    def is_draft(self, draft_id: str) -> bool:
        response = self.call("GET", f"/me/messages/{draft_id}", params={"$select": "id,isDraft"})
        if response.status_code == 404:
            return False
        return bool(MICROSOFT.checked_json(response).get("isDraft"))

    def create_draft(self, email: EmailMessage) -> str:
        response = self.call("POST", "/me/messages", json=_graph_message(email, self.address))
        if response.status_code != 201:
            raise MICROSOFT.refusal(response, "create the draft")
        return MICROSOFT.json(response)["id"]

    def delete_draft(self, draft_id: str) -> None:
        response = self.call("DELETE", f"/me/messages/{draft_id}")
        if response.status_code not in (204, 404):
            MICROSOFT.checked(response)

    def send_draft(self, draft_id: str) -> str:
        response = self.call("POST", f"/me/messages/{draft_id}/send")
        if response.status_code == 202:  # accepted: Graph sends it and files the copy in Sent Items shortly
            return draft_id
        if response.status_code == 404:
            raise UnknownOutcome("The draft disappeared from the mailbox before Microsoft confirmed sending it.")
        raise MICROSOFT.refusal(response, "send")


def _graph_message(email: EmailMessage, address: str) -> dict:
    name, _ = parseaddr(email["From"])
    return {
        "subject": email["Subject"],
        "body": {"contentType": "text", "content": email.get_content()},
        "from": {"emailAddress": {"address": address, "name": name}},
        "toRecipients": [{"emailAddress": {"address": to}} for _n, to in getaddresses(email.get_all("To", []))],
        "internetMessageId": email["Message-ID"],
        "internetMessageHeaders": [{"name": "X-Plixo-Message", "value": email["X-Plixo-Message"] or ""}],
    }

