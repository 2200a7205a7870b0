"""A small Microsoft identity platform (v2.0) and Microsoft Graph on loopback, over HTTPS, for the real `msal` and
`requests` clients: OpenID discovery, signing keys, the authorization code flow with PKCE, refresh tokens that rotate,
signed ID tokens, and the Graph mail calls Plixo makes (create a draft, send it, find it in Sent Items, read the inbox
by delta, fetch a message's MIME).

No browser is driven: `authorize` takes the URL the app built and returns the redirect Microsoft would send the user
back with. Knobs break one thing at a time: a bad ID token, expired or revoked tokens, a throttled send, a send whose
answer never arrives, Sent Items that lag behind a send. Everything asked is kept in `requests` and `sent`.

    fake = start()
    app = msal.ConfidentialClientApplication(fake.client_id, client_credential=fake.client_secret,
                                             authority=fake.authority, instance_discovery=False, verify=fake.ca_file)
    ...
    fake.stop()
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import itertools
import json
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import compat32
from email.utils import formataddr, getaddresses, make_msgid
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from jwt.algorithms import RSAAlgorithm

CLIENT_ID = "plixo-client-id"
CLIENT_SECRET = "plixo-secret"
TENANT_ID = "6f1c2a7e-3b4d-4c5e-9f80-a1b2c3d4e5f6"
DEFAULT_USER = "ar@acme.example"
MAIL_SCOPES = ("Mail.ReadWrite", "Mail.Send", "User.Read")
CODE_LIFETIME = 600  # Microsoft's authorization codes live about ten minutes
ID_TOKEN_LIFETIME = 3600

_RESERVED = frozenset({"openid", "profile", "offline_access", "email"})
_GRAPH_RESOURCE = "https://graph.microsoft.com/"
# Which delegated permissions let a token make each Graph call (any one of them is enough).
_MAIL_READ = frozenset({"mail.read", "mail.readwrite", "mail.read.shared", "mail.readwrite.shared"})
_MAIL_LIST = _MAIL_READ | {"mail.readbasic", "mail.readbasic.shared"}
_MAIL_WRITE = frozenset({"mail.readwrite", "mail.readwrite.shared"})
_MAIL_SEND = frozenset({"mail.send", "mail.send.shared"})
_ANY = frozenset()  # /me: apps get User.Read by default, so Graph does not refuse it in practice
_FILTER = re.compile(r"\s*internetMessageId\s+eq\s+'((?:[^']|'')*)'\s*", re.IGNORECASE)
_FOLDER_CALL = re.compile(r"/mailFolders\('([^']*)'\)", re.IGNORECASE)  # Graph's links use this form
_MAX_PAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)
_IDENTITY = re.compile(r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|discovery/v2\.0/keys"
                       r"|oauth2/v2\.0/authorize|oauth2/v2\.0/token|oauth2/v2\.0/logout)")
_THROTTLE_CODES = {429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
                   503: ("ServiceNotAvailable", "Service Unavailable"),
                   504: ("GatewayTimeout", "Gateway Timeout")}


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Code:
    """A one-time authorization code and everything the token request must match."""

    user: str
    redirect_uri: str
    scopes: list[str]
    reserved: frozenset[str]
    nonce: str | None
    challenge: str | None
    method: str
    expires: float


@dataclass
class _Grant:
    """What a refresh token stands for: the user's consent to this app."""

    user: str
    scopes: list[str]
    reserved: frozenset[str]


@dataclass
class _AccessToken:
    user: str
    scopes: list[str]
    expires: float


@dataclass
class _Stored:
    owner: str
    folder: str  # "drafts", "sentitems" or "inbox"
    message: dict
    raw: bytes | None = None
    visible_at: float = 0.0


@dataclass
class _Call:
    """One authenticated Graph request, as the route handlers see it."""

    user: str
    args: tuple[str, ...]
    query: dict[str, str]
    headers: HTTPMessage
    body: bytes


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeMicrosoft:
    base: str = ""  # https://127.0.0.1:PORT, set by start()
    ca_file: str = ""  # the server's self-signed certificate; pass it as `verify=`
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    tenant_id: str = TENANT_ID
    users: dict[str, dict[str, str]] = field(default_factory=lambda: {
        DEFAULT_USER: {"id": "3a9d7c21-5e4f-4b6a-8c0d-1e2f3a4b5c6d", "displayName": "Acme Receivables"}})
    redirect_uris: set[str] = field(default_factory=set)  # the app registration's; empty accepts any
    id_token_overrides: dict = field(default_factory=dict)  # merged into ID token claims; None removes a claim
    sign_with_other_key: bool = False  # sign ID tokens with a key that is not in the JWKS (same kid)
    access_token_lifetime: int = 3600
    enforce_scopes: bool = True  # Graph answers 403 when the token lacks the call's Mail.* permission
    send_retry_after: str | None = None  # "2": send answers Retry-After: 2, Sent Items shows the mail 2 s later
    send_script: list[tuple | None] = field(default_factory=list)  # one entry consumed per send call
    send_as: set[str] = field(default_factory=set)  # addresses the user may put in "from" besides their own
    page_size: int = 10
    clock: Callable[[], float] = time.time
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    graph_calls: int = 0
    sent: list[dict] = field(default_factory=list)  # every message that left, in order, duplicates included
    messages: dict[str, _Stored] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    kid: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    _codes: dict[str, _Code] = field(default_factory=dict, repr=False)
    _redeemed: set[str] = field(default_factory=set, repr=False)
    _refresh_tokens: dict[str, _Grant] = field(default_factory=dict, repr=False)
    _revoked: set[str] = field(default_factory=set, repr=False)
    _access_tokens: dict[str, _AccessToken] = field(default_factory=dict, repr=False)
    _signing_key: rsa.RSAPrivateKey = field(default_factory=_rsa_key, repr=False)
    _other_key: rsa.RSAPrivateKey = field(default_factory=_rsa_key, repr=False)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _directory: str = field(default="", repr=False)

    # --- Where the app points its clients -----------------------------------------------------------------

    @property
    def authority(self) -> str:
        return f"{self.base}/organizations"

    @property
    def graph(self) -> str:
        return f"{self.base}/v1.0"

    def issuer(self, tenant_id: str | None = None) -> str:
        """The `iss` of ID tokens for a tenant (what discovery's "{tenantid}" template expands to)."""
        return f"{self.base}/{tenant_id or self.tenant_id}/v2.0"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> FakeMicrosoft:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- What the user and Microsoft do, outside the app ----------------------------------------------------

    def authorize(self, authorize_url: str, user: str = DEFAULT_USER) -> str:
        """The user signs in and consents at the URL the app built; returns the redirect back to the app (query
        parameters even when the app asked for form_post: post them to the redirect URI then)."""
        params = dict(parse_qsl(urlsplit(authorize_url).query))
        with self.lock:
            redirect_uri = self._check_authorize(params)
            if user not in self.users:
                raise ValueError(f"AADSTS50034: The user account {user} does not exist in the directory.")
            code = self._new_code(params, redirect_uri, user)
            oid = self.users[user]["id"]
        return _with_query(redirect_uri, {"code": code, "client_info": _client_info(oid, self.tenant_id),
                                          "state": params.get("state"), "session_state": str(uuid.uuid4())})

    def deny(self, authorize_url: str, error: str = "access_denied",
             description: str = "AADSTS65004: User declined to consent to access the app.") -> str:
        """The user cancels at Microsoft's consent page; returns the error redirect back to the app."""
        params = dict(parse_qsl(urlsplit(authorize_url).query))
        with self.lock:
            redirect_uri = self._check_authorize(params)
        return _with_query(redirect_uri, {"error": error, "error_subcode": "cancel",
                                          "error_description": description, "state": params.get("state")})

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working at Graph (msal's cache does not know)."""
        with self.lock:
            past = self.clock() - 1
            for token in self._access_tokens.values():
                token.expires = min(token.expires, past)

    def revoke_refresh_tokens(self) -> None:
        """What a password reset or an admin revoking sessions does: every refresh token is refused."""
        with self.lock:
            self._revoked.update(self._refresh_tokens)
            self._refresh_tokens.clear()

    def issue_tokens(self, user: str = DEFAULT_USER, scopes: tuple[str, ...] = MAIL_SCOPES) -> dict:
        """A token response as the token endpoint gives it, for tests that start from an already connected
        mailbox rather than from the sign-in."""
        with self.lock:
            grant = _Grant(user, list(scopes), frozenset({"openid", "profile", "offline_access"}))
            return self._issue(grant, list(scopes), None)

    def deliver(self, raw_mime: bytes, to: str = DEFAULT_USER) -> str:
        """A message arrives in the user's inbox; returns its Graph id."""
        headers = BytesParser(policy=compat32).parsebytes(raw_mime, headersonly=True)
        internet_message_id = (headers.get("Message-ID") or "").strip()
        if not internet_message_id:  # Exchange gives every message one, and it is in the MIME from then on
            internet_message_id = make_msgid(domain="fake.outlook.example")
            raw_mime = f"Message-ID: {internet_message_id}\r\n".encode() + raw_mime
        with self.lock:
            message_id = self._new_id("inbox")
            now = _iso(self.clock())
            sender = _recipients(headers.get("From"))
            message = {"id": message_id, "createdDateTime": now, "lastModifiedDateTime": now, "receivedDateTime": now,
                       "sentDateTime": now, "subject": str(headers.get("Subject") or ""),
                       "internetMessageId": internet_message_id, "from": sender[0] if sender else None,
                       "sender": sender[0] if sender else None, "toRecipients": _recipients(headers.get("To")),
                       "ccRecipients": _recipients(headers.get("Cc")), "isRead": False, "isDraft": False,
                       "parentFolderId": "inbox", "conversationId": _conversation(internet_message_id)}
            self.messages[message_id] = _Stored(to, "inbox", message, raw=raw_mime)
        return message_id

    def times_sent(self, internet_message_id: str) -> int:
        """How many times a message left: more than once is a duplicate reminder."""
        return sum(1 for message in self.sent if message["internetMessageId"] == internet_message_id)

    def jwks(self) -> dict:
        key = RSAAlgorithm.to_jwk(self._signing_key.public_key(), as_dict=True)
        return {"keys": [{**key, "kid": self.kid, "use": "sig", "issuer": f"{self.base}/{{tenantid}}/v2.0"}]}

    # --- The HTTP surface -------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: HTTPMessage, body: bytes) -> _Reply | None:
        """Answer one request; None means close the connection without answering."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self.lock:
            self.requests.append((method, path))
            if path.startswith("/v1.0/"):
                self.graph_calls += 1
                return self._graph(method, path.removeprefix("/v1.0"), query, headers, body)
            return self._identity(method, path, query, headers, body)

    # --- Identity platform -------------------------------------------------------------------------------

    def _identity(self, method: str, path: str, query: dict[str, str], headers: HTTPMessage,
                  body: bytes) -> _Reply:
        match = _IDENTITY.fullmatch(path)
        if match is None:
            return _json(404, {"error": "not_found", "error_description": f"No endpoint at {path}."})
        tenant, endpoint = match.groups()
        if endpoint.endswith("openid-configuration"):
            return _json(200, self._discovery(tenant))
        if endpoint.endswith("keys"):
            return _json(200, self.jwks())
        if endpoint.endswith("authorize"):
            return self._browser_authorize(path, query)
        if endpoint.endswith("logout"):
            after = query.get("post_logout_redirect_uri")
            return _Reply(302, headers={"Location": after}) if after else _text(200, "You signed out.")
        if method != "POST":
            return _json(405, {"error": "invalid_request", "error_description": "AADSTS900561: The endpoint only "
                                                                                "accepts POST requests."})
        return self._token(tenant, headers, dict(parse_qsl(body.decode(), keep_blank_values=True)))

    def _discovery(self, tenant: str) -> dict:
        root = f"{self.base}/{tenant}"
        # Like Microsoft: the multi-tenant endpoints publish a template, a tenant's own endpoint its real issuer.
        issuer = self.issuer() if tenant == self.tenant_id else f"{self.base}/{{tenantid}}/v2.0"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer,
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "name", "preferred_username",
                                 "oid", "tid", "ver"],
            "tenant_region_scope": None,
            "cloud_instance_name": "microsoftonline.com",
            "msgraph_host": urlsplit(self.base).netloc,
        }

    def _browser_authorize(self, path: str, query: dict[str, str]) -> _Reply:
        """A browser that lands on the sign-in page is signed in as the default user straight away."""
        try:
            location = self.authorize(f"{self.base}{path}?{urlencode(query)}", next(iter(self.users)))
        except ValueError as error:
            return _text(400, str(error))
        return _Reply(302, headers={"Location": location})

    def _check_authorize(self, params: dict[str, str]) -> str:
        """Microsoft shows an error page (no redirect) for these, so they raise."""
        if params.get("client_id") != self.client_id:
            raise ValueError(f"AADSTS700016: Application with identifier '{params.get('client_id')}' was not found "
                             "in the directory.")
        if params.get("response_type") != "code":
            raise ValueError(f"AADSTS700054: response_type '{params.get('response_type')}' is not enabled for the "
                             "application.")
        redirect_uri = params.get("redirect_uri") or ""
        if not redirect_uri or (self.redirect_uris and redirect_uri not in self.redirect_uris):
            raise ValueError(f"AADSTS50011: The redirect URI '{redirect_uri}' specified in the request does not "
                             f"match the redirect URIs configured for the application '{self.client_id}'.")
        if params.get("code_challenge_method", "plain") not in ("S256", "plain"):
            raise ValueError("AADSTS501491: Invalid code_challenge_method.")
        return redirect_uri

    def _new_code(self, params: dict[str, str], redirect_uri: str, user: str) -> str:
        requested = (params.get("scope") or "").split()
        code = f"0.A{secrets.token_urlsafe(48)}"
        self._codes[code] = _Code(
            user=user, redirect_uri=redirect_uri, scopes=_resource_scopes(requested),
            reserved=frozenset(s.lower() for s in requested) & _RESERVED, nonce=params.get("nonce"),
            challenge=params.get("code_challenge"), method=params.get("code_challenge_method", "plain"),
            expires=self.clock() + CODE_LIFETIME)
        return code

    def _token(self, tenant: str, headers: HTTPMessage, form: dict[str, str]) -> _Reply:
        client_id, secret = _client_credentials(headers, form)
        if client_id != self.client_id:
            return _oauth_error(400, "unauthorized_client", f"AADSTS700016: Application with identifier "
                                                            f"'{client_id}' was not found in the directory "
                                                            f"'{tenant}'.")
        if not secret or not secrets.compare_digest(secret, self.client_secret):
            return _oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the "
                                                       "secret being sent in the request is the client secret value, "
                                                       "not the client secret ID.")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._redeem_code(form)
        if grant_type == "refresh_token":
            return self._redeem_refresh_token(form)
        return _oauth_error(400, "unsupported_grant_type", f"AADSTS70003: The app requested an unsupported grant "
                                                           f"type '{grant_type}'.")

    def _redeem_code(self, form: dict[str, str]) -> _Reply:
        value = form.get("code", "")
        code = self._codes.pop(value, None)  # one use only, whatever happens next
        if code is None:
            if value in self._redeemed:
                return _oauth_error(400, "invalid_grant", "AADSTS54005: OAuth2 Authorization code was already "
                                                          "redeemed, please retry with a new valid code or use an "
                                                          "existing refresh token.")
            return _oauth_error(400, "invalid_grant", "AADSTS70000: The provided value for the 'code' parameter is "
                                                      "not valid.")
        self._redeemed.add(value)
        if code.expires < self.clock():
            return _oauth_error(400, "invalid_grant", "AADSTS70008: The provided authorization code or refresh token "
                                                      "has expired due to inactivity.")
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error(400, "invalid_grant", f"AADSTS500112: The reply address '{form.get('redirect_uri')}' "
                                                      f"does not match the reply address '{code.redirect_uri}' "
                                                      "provided when requesting Authorization code.")
        if not _pkce_matches(code, form.get("code_verifier")):
            return _oauth_error(400, "invalid_grant", "AADSTS50148: The code_verifier does not match the "
                                                      "code_challenge supplied in the authorization request for PKCE.")
        grant = _Grant(code.user, code.scopes, code.reserved)
        scopes = self._narrowed(grant, form)
        if scopes is None:
            return _consent_required()
        return _json(200, self._issue(grant, scopes, code.nonce), {"Cache-Control": "no-store"})

    def _redeem_refresh_token(self, form: dict[str, str]) -> _Reply:
        value = form.get("refresh_token", "")
        if value in self._revoked:
            return _oauth_error(400, "invalid_grant", "AADSTS50173: The provided grant has expired due to it being "
                                                      "revoked, a fresh auth token is needed.", suberror="bad_token")
        grant = self._refresh_tokens.get(value)
        if grant is None:
            return _oauth_error(400, "invalid_grant", "AADSTS9002313: Invalid request. Request is malformed or "
                                                      "invalid: the refresh token is unknown or was already used.")
        scopes = self._narrowed(grant, form)
        if scopes is None:
            return _consent_required()
        del self._refresh_tokens[value]  # rotated: the app must keep the new one
        return _json(200, self._issue(grant, scopes, None), {"Cache-Control": "no-store"})

    def _narrowed(self, grant: _Grant, form: dict[str, str]) -> list[str] | None:
        """The resource scopes a token request asks for, which must be among those consented; None if not."""
        requested = _resource_scopes((form.get("scope") or "").split())
        consented = {_permission(scope) for scope in grant.scopes}
        if any(_permission(scope) not in consented for scope in requested):
            return None
        return requested or list(grant.scopes)

    def _issue(self, grant: _Grant, scopes: list[str], nonce: str | None) -> dict:
        now = self.clock()
        access_token = f"eyJ0eXAiOiJKV1Qi.{secrets.token_urlsafe(48)}"
        self._access_tokens[access_token] = _AccessToken(grant.user, scopes, now + self.access_token_lifetime)
        oid = self.users[grant.user]["id"]
        response = {"token_type": "Bearer",
                    "scope": " ".join([*scopes, *sorted(grant.reserved - {"offline_access"})]),
                    "expires_in": self.access_token_lifetime, "ext_expires_in": self.access_token_lifetime,
                    "access_token": access_token, "client_info": _client_info(oid, self.tenant_id)}
        if "offline_access" in grant.reserved:
            refresh_token = f"1.A{secrets.token_urlsafe(64)}"
            self._refresh_tokens[refresh_token] = grant
            response["refresh_token"] = refresh_token
        if "openid" in grant.reserved:
            response["id_token"] = self._id_token(grant.user, nonce, now)
        return response

    def _id_token(self, email: str, nonce: str | None, now: float) -> str:
        user = self.users[email]
        claims: dict = {
            "aud": self.client_id, "iss": self.issuer(), "iat": int(now), "nbf": int(now),
            "exp": int(now) + ID_TOKEN_LIFETIME, "name": user["displayName"], "oid": user["id"],
            "preferred_username": email, "sub": _pairwise_sub(user["id"], self.client_id), "tid": self.tenant_id,
            "uti": secrets.token_urlsafe(16), "ver": "2.0"}
        if nonce:
            claims["nonce"] = nonce
        claims.update(self.id_token_overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        key = self._other_key if self.sign_with_other_key else self._signing_key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    # --- Microsoft Graph -------------------------------------------------------------------------------

    def _graph(self, method: str, path: str, query: dict[str, str], headers: HTTPMessage,
               body: bytes) -> _Reply | None:
        token = self._access_token(headers)
        if isinstance(token, _Reply):
            return token
        path = self._as_me(_FOLDER_CALL.sub(r"/mailFolders/\1", path), token.user)
        if path is None:
            return _graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        for verb, pattern, permissions, handler in _GRAPH_ROUTES:
            match = pattern.fullmatch(path)
            if verb != method or match is None:
                continue
            if self.enforce_scopes and permissions and not permissions & {_permission(s) for s in token.scopes}:
                return _graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            return handler(self, _Call(token.user, match.groups(), query, headers, body))
        segment = path.rstrip("/").rsplit("/", 1)[-1]
        return _graph_error(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    def _access_token(self, headers: HTTPMessage) -> _AccessToken | _Reply:
        scheme, _, value = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return _unauthorized("Access token is empty.")
        token = self._access_tokens.get(value.strip())
        if token is None or token.expires <= self.clock():
            return _unauthorized("Access token has expired or is not yet valid.")
        return token

    def _as_me(self, path: str, user: str) -> str | None:
        """/users/{id or UPN}/... is the same as /me/... for the signed-in user, and refused for anyone else."""
        if not path.startswith("/users/"):
            return path
        who, _, rest = path.removeprefix("/users/").partition("/")
        if who.lower() not in (user.lower(), self.users[user]["id"].lower()):
            return None
        return f"/me/{rest}".rstrip("/")

    def _me(self, call: _Call) -> _Reply:
        user = self.users[call.user]
        return _json(200, {"@odata.context": f"{self.graph}/$metadata#users/$entity", "id": user["id"],
                           "displayName": user["displayName"], "mail": call.user,
                           "userPrincipalName": call.user})

    def _create_draft(self, call: _Call) -> _Reply:
        try:
            payload = json.loads(call.body or b"{}")
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return _graph_error(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                                                   "header is set and payload is of valid JSON format.")
        for header in payload.get("internetMessageHeaders") or []:
            if not str(header.get("name", "")).lower().startswith("x-"):
                return _graph_error(400, "InvalidInternetMessageHeader",
                                    f"The internet message header name '{header.get('name')}' should start with "
                                    "'x-' or 'X-'.")
        message = self._draft(call.user, payload)
        self.messages[message["id"]] = _Stored(call.user, "drafts", message)
        return _json(201, {"@odata.context": f"{self.graph}/$metadata#users('{call.user}')/messages/$entity",
                           **message})

    def _draft(self, owner: str, payload: dict) -> dict:
        now = _iso(self.clock())
        me = {"emailAddress": {"name": self.users[owner]["displayName"], "address": owner}}
        internet_message_id = payload.get("internetMessageId") or make_msgid(domain="fake.outlook.example")
        message = {"id": self._new_id("draft"), "createdDateTime": now, "lastModifiedDateTime": now,
                    "receivedDateTime": now, "sentDateTime": None, "subject": payload.get("subject") or "",
                    "body": payload.get("body") or {"contentType": "text", "content": ""},
                    "from": payload.get("from") or me, "sender": me,
                    "toRecipients": payload.get("toRecipients") or [],
                    "ccRecipients": payload.get("ccRecipients") or [],
                    "bccRecipients": payload.get("bccRecipients") or [], "replyTo": payload.get("replyTo") or [],
                    "internetMessageId": internet_message_id, "conversationId": _conversation(internet_message_id),
                    "isDraft": True, "isRead": True, "parentFolderId": "drafts"}
        if payload.get("internetMessageHeaders"):
            message["internetMessageHeaders"] = payload["internetMessageHeaders"]
        return message

    def _get_message(self, call: _Call) -> _Reply:
        stored = self._find(call.user, call.args[0])
        if stored is None:
            return _not_found()
        return _json(200, _project(stored.message, call.query.get("$select")))

    def _get_mime(self, call: _Call) -> _Reply:
        stored = self._find(call.user, call.args[0])
        if stored is None:
            return _not_found()
        return _Reply(200, stored.raw or _mime_of(stored.message), {"Content-Type": "text/plain"})

    def _delete_message(self, call: _Call) -> _Reply:
        """Graph moves a deleted item to Deleted Items; here it simply goes, which is all a client can tell."""
        if self._find(call.user, call.args[0]) is None:
            return _not_found()
        del self.messages[call.args[0]]
        return _Reply(204)

    def _send(self, call: _Call) -> _Reply | None:
        script = self.send_script.pop(0) if self.send_script else None
        if script is not None and script[0] == "status":
            _, status, retry_after = script
            code, message = _THROTTLE_CODES.get(status, ("ErrorInternalServerError", "An internal server error "
                                                                                     "occurred."))
            extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return _graph_error(status, code, message, extra)
        stored = self._find(call.user, call.args[0])
        if stored is None or stored.folder != "drafts":  # a sent draft has moved to Sent Items under a new id
            return _not_found()
        message = stored.message
        if not (message["toRecipients"] or message["ccRecipients"] or message["bccRecipients"]):
            return _graph_error(400, "ErrorInvalidRecipients", "At least one recipient isn't valid., A message "
                                                               "can't be sent because it contains no recipients.")
        sender = (message["from"].get("emailAddress") or {}).get("address", "").lower()
        if sender not in {call.user.lower(), *(address.lower() for address in self.send_as)}:
            return _graph_error(403, "ErrorSendAsDenied", "The user account which was used to submit this request "
                                                          "does not have the right to send mail on behalf of the "
                                                          "specified sending account., Cannot submit message.")
        self._move_to_sent(call.args[0], stored)
        if script is not None and script[0] == "drop_after_send":
            return None
        extra = {"Retry-After": str(self.send_retry_after)} if self.send_retry_after else {}
        return _Reply(202, headers=extra)

    def _move_to_sent(self, draft_id: str, draft: _Stored) -> None:
        now = self.clock()
        del self.messages[draft_id]
        message = {**draft.message, "id": self._new_id("sent"), "isDraft": False, "sentDateTime": _iso(now),
                   "lastModifiedDateTime": _iso(now), "parentFolderId": "sentitems"}
        # Graph sends asynchronously: the copy in Sent Items appears after about the Retry-After it answered.
        visible_at = now + float(self.send_retry_after or 0)
        self.messages[message["id"]] = _Stored(draft.owner, "sentitems", message, visible_at=visible_at)
        self.sent.append(message)

    def _list_folder(self, call: _Call) -> _Reply:
        folder = call.args[0].lower()
        if folder not in ("inbox", "sentitems", "drafts"):
            return _graph_error(404, "ErrorItemNotFound", "The specified folder could not be found in the store.")
        found = self._folder(call.user, folder)
        wanted = call.query.get("$filter")
        if wanted is not None:
            match = _FILTER.fullmatch(wanted)
            if match is None:
                return _graph_error(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more "
                                                                       "invalid nodes.")
            internet_message_id = match.group(1).replace("''", "'")
            found = [s for s in found if s.message["internetMessageId"] == internet_message_id]
        top = _int_or_none(call.query.get("$top") or "") or 10
        skip = _int_or_none(call.query.get("$skip") or "") or 0
        select = call.query.get("$select")
        body: dict = {"@odata.context": f"{self.graph}/$metadata#users('{call.user}')/mailFolders('{folder}')/messages",
                      "value": [_project(s.message, select) for s in found[skip:skip + top]]}
        if skip + top < len(found):
            body["@odata.nextLink"] = self._link(f"mailFolders('{folder}')/messages",
                                                 {**call.query, "$skip": str(skip + top)})
        return _json(200, body)

    def _delta(self, call: _Call) -> _Reply:
        """Delta over the inbox, whose messages only ever arrive: a token is how many of them were already seen."""
        if call.args[0].lower() != "inbox":
            return _graph_error(400, "BadRequest", "This fake keeps delta for the inbox only.")
        inbox = self._folder(call.user, "inbox")
        token = call.query.get("$deltatoken") or call.query.get("$skiptoken") or "0"
        start = len(inbox) if token == "latest" else _int_or_none(token)
        if start is None or not 0 <= start <= len(inbox):
            return _graph_error(410, "SyncStateNotFound", "The sync state generation is not found. Start a new sync "
                                                          "without a delta token.")
        page = [] if token == "latest" else inbox[start:start + self._page_size(call.headers)]
        end = start + len(page)
        select = call.query.get("$select")
        links = {"$select": select} if select else {}
        body: dict = {"@odata.context": f"{self.graph}/$metadata#Collection(message)",
                      "value": [_project(s.message, select) for s in page]}
        if end < len(inbox):
            body["@odata.nextLink"] = self._link("mailFolders('inbox')/messages/delta", {**links, "$skiptoken": end})
        else:
            body["@odata.deltaLink"] = self._link("mailFolders('inbox')/messages/delta", {**links, "$deltatoken": end})
        return _json(200, body)

    def _page_size(self, headers: HTTPMessage) -> int:
        prefer = _MAX_PAGE.search(headers.get("Prefer") or "")
        return max(1, int(prefer.group(1))) if prefer else self.page_size

    def _link(self, resource: str, params: dict) -> str:
        query = "&".join(f"{name}={quote(str(value), safe=',')}" for name, value in params.items())
        return f"{self.graph}/me/{resource}?{query}"

    def _folder(self, user: str, folder: str) -> list[_Stored]:
        now = self.clock()
        return [s for s in self.messages.values() if s.owner == user and s.folder == folder and s.visible_at <= now]

    def _find(self, user: str, message_id: str) -> _Stored | None:
        stored = self.messages.get(message_id)
        if stored is None or stored.owner != user or stored.visible_at > self.clock():
            return None
        return stored

    def _new_id(self, kind: str) -> str:
        return f"AAMk-{kind}-{next(self._ids)}"


_GRAPH_ROUTES: list[tuple[str, re.Pattern[str], frozenset[str], Callable[..., _Reply | None]]] = [
    ("GET", re.compile(r"(?i)/me"), _ANY, FakeMicrosoft._me),
    ("POST", re.compile(r"(?i)/me/messages"), _MAIL_WRITE, FakeMicrosoft._create_draft),
    ("GET", re.compile(r"(?i)/me/messages/([^/]+)"), _MAIL_LIST, FakeMicrosoft._get_message),
    ("GET", re.compile(r"(?i)/me/messages/([^/]+)/\$value"), _MAIL_READ, FakeMicrosoft._get_mime),
    ("POST", re.compile(r"(?i)/me/messages/([^/]+)/send"), _MAIL_SEND, FakeMicrosoft._send),
    ("DELETE", re.compile(r"(?i)/me/messages/([^/]+)"), _MAIL_WRITE, FakeMicrosoft._delete_message),
    ("GET", re.compile(r"(?i)/me/mailFolders/([^/]+)/messages"), _MAIL_LIST, FakeMicrosoft._list_folder),
    ("GET", re.compile(r"(?i)/me/mailFolders/([^/]+)/messages/delta"), _MAIL_LIST, FakeMicrosoft._delta),
]


# --- Small pieces of the protocols ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _client_info(oid: str, tenant_id: str) -> str:
    """What msal builds the account's home_account_id from ("oid.tid")."""
    return _b64url(json.dumps({"uid": oid, "utid": tenant_id}).encode())


def _pairwise_sub(oid: str, client_id: str) -> str:
    """Microsoft's `sub` differs per app for the same user; `oid` is the stable one."""
    return _b64url(hashlib.sha256(f"{oid}:{client_id}".encode()).digest())


def _permission(scope: str) -> str:
    return scope.lower().removeprefix(_GRAPH_RESOURCE)


def _resource_scopes(scopes: list[str]) -> list[str]:
    return [scope for scope in scopes if scope.lower() not in _RESERVED]


def _client_credentials(headers: HTTPMessage, form: dict[str, str]) -> tuple[str | None, str | None]:
    """client_secret_basic or client_secret_post; msal uses the latter."""
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None, None
        return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
    return form.get("client_id"), form.get("client_secret")


def _pkce_matches(code: _Code, verifier: str | None) -> bool:
    if code.challenge is None:
        return True
    if not verifier:
        return False
    expected = verifier if code.method == "plain" else _b64url(hashlib.sha256(verifier.encode()).digest())
    return secrets.compare_digest(expected, code.challenge)


def _with_query(uri: str, params: dict[str, str | None]) -> str:
    separator = "&" if "?" in uri else "?"
    return uri + separator + urlencode({name: value for name, value in params.items() if value is not None})


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _conversation(internet_message_id: str) -> str:
    return f"AAQk-{hashlib.sha256(internet_message_id.encode()).hexdigest()[:16]}"


def _recipients(header: str | None) -> list[dict]:
    return [{"emailAddress": {"name": name, "address": address}}
            for name, address in getaddresses([str(header or "")]) if address]


def _project(message: dict, select: str | None) -> dict:
    """$select: the id always, then only the named properties."""
    if not select:
        return dict(message)
    names = [name.strip() for name in select.split(",")]
    return {"@odata.etag": f'W/"{message["id"]}"', "id": message["id"],
            **{name: message.get(name) for name in names if name != "id"}}


def _mime_of(message: dict) -> bytes:
    """The MIME of a message created through Graph (arrived ones keep what arrived)."""
    mime = EmailMessage()
    mime["Message-ID"] = message["internetMessageId"]
    mime["Subject"] = message.get("subject") or ""
    mime["From"] = _address(message["from"])
    for header, key in (("To", "toRecipients"), ("Cc", "ccRecipients")):
        if message.get(key):
            mime[header] = ", ".join(_address(recipient) for recipient in message[key])
    for header in message.get("internetMessageHeaders") or []:
        mime[header["name"]] = header["value"]
    body = message.get("body") or {}
    subtype = "html" if str(body.get("contentType", "text")).lower() == "html" else "plain"
    mime.set_content(body.get("content") or "", subtype=subtype)
    return mime.as_bytes()


def _address(recipient: dict) -> str:
    address = recipient.get("emailAddress") or {}
    return formataddr((address.get("name") or "", address.get("address") or ""))


def _json(status: int, payload: object, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(),
                  {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def _text(status: int, text: str) -> _Reply:
    return _Reply(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


def _oauth_error(status: int, error: str, description: str, **extra: str) -> _Reply:
    """The token endpoint's error shape: OAuth's two fields plus Microsoft's numeric AADSTS codes and ids."""
    return _json(status, {"error": error, "error_description": description,
                          "error_codes": [int(code) for code in re.findall(r"AADSTS(\d+)", description)],
                          "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
                          "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4()), **extra})


def _consent_required() -> _Reply:
    return _oauth_error(400, "invalid_grant", "AADSTS65001: The user or administrator has not consented to use the "
                                              "application.", suberror="consent_required")


def _graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> _Reply:
    request_id = str(uuid.uuid4())
    inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id,
             "client-request-id": request_id}
    return _json(status, {"error": {"code": code, "message": message, "innerError": inner}}, headers)


def _unauthorized(message: str) -> _Reply:
    challenge = 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'
    return _graph_error(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": challenge})


def _not_found() -> _Reply:
    return _graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")


# --- The server ----------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeMicrosoft

    def handle_error(self, request, client_address) -> None:  # clients that hang up or reject the certificate
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Microsoft's servers, so a dropped answer drops a live connection
    timeout = 30
    server: _Server

    def handle(self) -> None:
        try:
            self.connection.do_handshake()  # here, in this connection's thread, not in the accept loop
        except (ssl.SSLError, OSError):
            return
        super().handle()

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PATCH(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.fake.handle(self.command, self.path, self.headers, body)
        if reply is None:  # the work is done, but the client never hears so
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for name, value in {**reply.headers, "Content-Length": str(len(reply.body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


def _self_signed(directory: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that is its own CA, so its file is the whole trust bundle a client needs."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                          decipher_only=False)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "fake-microsoft.pem", directory / "fake-microsoft.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def start() -> FakeMicrosoft:
    """Serve a new fake on a free loopback port over HTTPS; stop it with `fake.stop()`."""
    fake = FakeMicrosoft()
    fake._directory = tempfile.mkdtemp(prefix="fake-microsoft-")
    cert_file, key_file = _self_signed(Path(fake._directory))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.fake = fake
    fake.base, fake.ca_file, fake._server = f"https://127.0.0.1:{server.server_address[1]}", cert_file, server
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True, name="fake-microsoft").start()
    return fake
