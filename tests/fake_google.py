"""A small Google OAuth 2.0 / OpenID Connect provider and Gmail API on loopback, over HTTPS, for the real
`google-auth-oauthlib`, `google-auth` and `requests` clients: the authorization code flow with PKCE, refresh tokens
that do not rotate, RS256 ID tokens and the v1 x509 certificates that check them, token revocation, and the Gmail calls
Plixo makes (create a draft, send it, find it by its Message-ID, read new inbox mail through history, fetch a message's
MIME).

No browser is driven: `authorize` takes the URL the app built and returns the redirect Google would send the user
back with. Knobs break one thing at a time: a bad ID token, expired or revoked tokens, a throttled send, a send whose
answer never arrives, history too old to read. Everything asked is kept in `requests` and `sent`.

What Google does that surprises clients, and this fake does too:
- `email` and `profile` come back as their URLs in the granted `scope`, and a scope the user unticks is missing from
  it: oauthlib raises `Warning("Scope has changed ...")` unless the full URLs are asked or OAUTHLIB_RELAX_TOKEN_SCOPE
  is set;
- a refresh token is only issued the first time a user consents to offline access, or again with `prompt=consent`;
- refresh tokens do not rotate, and revoking any token of a user's grant revokes the whole grant.

    fake = start()
    flow = Flow.from_client_config(fake.client_config(REDIRECT), scopes=[...], redirect_uri=REDIRECT)
    flow.oauth2session.verify, flow.oauth2session.trust_env = fake.ca_file, False
    ...
    fake.stop()
"""

from __future__ import annotations

import base64
import hashlib
import html
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32, default
from email.utils import getaddresses, make_msgid
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

from tests.fake_microsoft import _self_signed

CLIENT_ID = "plixo-google-client.apps.googleusercontent.com"
CLIENT_SECRET = "plixo-google-secret"
DEFAULT_USER = "ar@acme.example"
ISSUER = "https://accounts.google.com"
SCOPE_URL = "https://www.googleapis.com/auth/"
USERINFO_EMAIL = SCOPE_URL + "userinfo.email"
USERINFO_PROFILE = SCOPE_URL + "userinfo.profile"
MAIL_FULL = "https://mail.google.com/"
GMAIL_COMPOSE = SCOPE_URL + "gmail.compose"
GMAIL_SEND = SCOPE_URL + "gmail.send"
GMAIL_READONLY = SCOPE_URL + "gmail.readonly"
GMAIL_MODIFY = SCOPE_URL + "gmail.modify"
GMAIL_METADATA = SCOPE_URL + "gmail.metadata"
MAIL_SCOPES = ("openid", USERINFO_EMAIL, GMAIL_COMPOSE, GMAIL_READONLY)
CODE_LIFETIME = 600
ID_TOKEN_LIFETIME = 3600
FIRST_HISTORY_ID = 4200

_SHORTHANDS = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}
_IDENTITY = frozenset({"openid", USERINFO_EMAIL, USERINFO_PROFILE})  # not offered as checkboxes, so never declined
# Which scopes let a token make each Gmail call (any one of them is enough), from Gmail's reference.
_MODIFY = frozenset({MAIL_FULL, GMAIL_MODIFY})
_PROFILE = _MODIFY | {GMAIL_COMPOSE, GMAIL_READONLY, GMAIL_METADATA}
_COMPOSE = _MODIFY | {GMAIL_COMPOSE}
_DRAFT_READ = _COMPOSE | {GMAIL_READONLY}
_SEND = _COMPOSE | {GMAIL_SEND}
_READ = _MODIFY | {GMAIL_READONLY, GMAIL_METADATA}
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_THROTTLE = {429: ("User-rate limit exceeded.", "rateLimitExceeded", "usageLimits"),
             500: ("Backend Error", "backendError", "global"),
             503: ("The service is currently unavailable.", "backendError", "global")}
_NO_RAW = "'raw' RFC822 payload message string or uploading message via /upload/* URL required"
_LABELS = {"sent": "SENT", "inbox": "INBOX", "drafts": "DRAFT", "draft": "DRAFT", "unread": "UNREAD",
           "starred": "STARRED", "spam": "SPAM", "trash": "TRASH"}
_USER_PATH = re.compile(r"/users/([^/]+)(/.*)?")
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


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
    scopes: tuple[str, ...]
    nonce: str | None
    challenge: str | None
    method: str
    offline: bool
    forced_consent: bool
    expires: float


@dataclass
class _AccessToken:
    user: str
    scopes: frozenset[str]
    expires: float


@dataclass
class _Grant:
    """What a refresh token stands for: the user's offline consent to these scopes."""

    user: str
    scopes: tuple[str, ...]


@dataclass
class _Stored:
    id: str
    owner: str
    thread_id: str
    labels: list[str]
    raw: bytes
    message_id: str  # the Message-ID header, angle brackets included
    internal_date: int  # epoch milliseconds, as Gmail's internalDate
    history_id: int


@dataclass
class _Change:
    """One history record: a message added to or deleted from the mailbox."""

    id: int
    owner: str
    kind: str  # "messageAdded" or "messageDeleted"
    message: dict  # id, threadId and labelIds at the time


@dataclass
class _Call:
    """One authenticated Gmail request, as the route handlers see it."""

    user: str
    args: tuple[str, ...]
    query: dict[str, list[str]]
    body: bytes
    scopes: frozenset[str]

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _new_kid() -> str:
    return secrets.token_hex(20)  # Google's key ids are 40 hex digits


@dataclass
class FakeGoogle:
    base: str = ""  # https://127.0.0.1:PORT, set by start()
    ca_file: str = ""  # the server's self-signed certificate; pass it as `verify=`
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    # email -> {"id": the ID token's `sub`}, plus "hd" (a Workspace domain) and "name" when a test wants them
    users: dict[str, dict[str, str]] = field(default_factory=lambda: {DEFAULT_USER: {"id": "108374620195438127465"}})
    redirect_uris: set[str] = field(default_factory=set)  # the OAuth client's; empty accepts any
    id_token_overrides: dict = field(default_factory=dict)  # merged into ID token claims; None removes a claim
    sign_with_other_key: bool = False  # sign ID tokens with a key that is not published (same kid)
    access_token_lifetime: int = 3599  # what Google's token endpoint answers
    enforce_scopes: bool = True  # Gmail answers 403 when the token lacks the call's scope
    send_script: list[tuple | None] = field(default_factory=list)  # one entry consumed per send call
    send_as: set[str] = field(default_factory=set)  # From addresses kept besides the user's own
    page_size: int = 10  # most history records on one page, whatever maxResults asks
    history_id: int = FIRST_HISTORY_ID  # the mailbox's current historyId; every change adds one
    oldest_history_id: int = FIRST_HISTORY_ID  # an older startHistoryId is answered 404
    clock: Callable[[], float] = time.time
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    sent: list[dict] = field(default_factory=list)  # every message that left, in order, duplicates included
    revoked: list[str] = field(default_factory=list)  # tokens posted to /revoke that Google accepted
    messages: dict[str, _Stored] = field(default_factory=dict)
    drafts: dict[str, str] = field(default_factory=dict)  # draft id -> its message's id
    history: list[_Change] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    kid: str = field(default_factory=_new_kid)
    _codes: dict[str, _Code] = field(default_factory=dict, repr=False)
    _redeemed: set[str] = field(default_factory=set, repr=False)
    _refresh_tokens: dict[str, _Grant] = field(default_factory=dict, repr=False)
    _revoked_refresh_tokens: set[str] = field(default_factory=set, repr=False)
    _access_tokens: dict[str, _AccessToken] = field(default_factory=dict, repr=False)
    _consented: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _offline: set[str] = field(default_factory=set, repr=False)  # users already given a refresh token
    _signing_key: rsa.RSAPrivateKey = field(default_factory=_rsa_key, repr=False)
    _next_key: rsa.RSAPrivateKey = field(default_factory=_rsa_key, repr=False)  # published, not yet used
    _next_kid: str = field(default_factory=_new_kid, repr=False)
    _other_key: rsa.RSAPrivateKey = field(default_factory=_rsa_key, repr=False)
    _certificates: dict[str, str] = field(default_factory=dict, repr=False)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _directory: str = field(default="", repr=False)

    # --- Where the app points its clients -----------------------------------------------------------------

    @property
    def auth_uri(self) -> str:
        return f"{self.base}/o/oauth2/v2/auth"

    @property
    def token_uri(self) -> str:
        return f"{self.base}/token"

    @property
    def certs_url(self) -> str:
        return f"{self.base}/oauth2/v1/certs"

    @property
    def jwks_uri(self) -> str:
        return f"{self.base}/oauth2/v3/certs"

    @property
    def revoke_uri(self) -> str:
        return f"{self.base}/revoke"

    @property
    def gmail(self) -> str:
        return f"{self.base}/gmail/v1"

    def client_config(self, *redirect_uris: str) -> dict:
        """The "web" client secrets `Flow.from_client_config` takes, pointing at this fake."""
        return {"web": {"client_id": self.client_id, "client_secret": self.client_secret,
                        "auth_uri": self.auth_uri, "token_uri": self.token_uri,
                        "redirect_uris": list(redirect_uris or self.redirect_uris)}}

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> FakeGoogle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- What the user and Google do, outside the app -----------------------------------------------------

    def authorize(self, authorize_url: str, user: str = DEFAULT_USER, decline: tuple[str, ...] = ()) -> str:
        """The user signs in and consents at the URL the app built, unticking the scopes in `decline`; returns the
        redirect back to the app."""
        params = dict(parse_qsl(urlsplit(authorize_url).query))
        with self.lock:
            redirect_uri = self._check_authorize(params)
            if user not in self.users:
                raise ValueError(f"Couldn't find your Google Account: {user}.")
            requested = _normalized(params["scope"].split())
            if params.get("prompt") == "none" and not set(requested) <= self._consented.get(user, set()):
                return _with_query(redirect_uri, {"error": "consent_required", "state": params.get("state")})
            granted = self._grant_scopes(user, requested, params, {_normalized([s])[0] for s in decline})
            code = self._new_code(params, redirect_uri, user, granted)
            hosted_domain = self.users[user].get("hd")
        return _with_query(redirect_uri, {"state": params.get("state"), "code": code, "scope": " ".join(granted),
                                          "authuser": "0", "hd": hosted_domain, "prompt": "consent"})

    def deny(self, authorize_url: str) -> str:
        """The user cancels at Google's consent screen; returns the error redirect back to the app."""
        params = dict(parse_qsl(urlsplit(authorize_url).query))
        with self.lock:
            redirect_uri = self._check_authorize(params)
        return _with_query(redirect_uri, {"error": "access_denied", "state": params.get("state")})

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working at Gmail (the client's expiry does not know)."""
        with self.lock:
            past = self.clock() - 1
            for token in self._access_tokens.values():
                token.expires = min(token.expires, past)

    def revoke_refresh_tokens(self) -> None:
        """What a password change does to Gmail grants: every refresh token is refused from now on."""
        with self.lock:
            self._revoked_refresh_tokens.update(self._refresh_tokens)
            self._refresh_tokens.clear()
            self._offline.clear()

    def expire_history(self) -> None:
        """Gmail keeps history for about a week: every historyId seen so far becomes too old to start from."""
        with self.lock:
            self.oldest_history_id = self.history_id

    def issue_tokens(self, user: str = DEFAULT_USER, scopes: tuple[str, ...] = MAIL_SCOPES) -> dict:
        """A token response as the token endpoint gives it after offline consent, for tests that start from an
        already connected mailbox rather than from the sign-in."""
        with self.lock:
            granted = tuple(_normalized(list(scopes)))
            self._consented.setdefault(user, set()).update(granted)
            return self._issue(user, granted, nonce=None, refresh=True)

    def deliver(self, raw_mime: bytes, to: str = DEFAULT_USER) -> str:
        """A message arrives in the user's inbox, unread; returns its Gmail id."""
        with self.lock:
            raw_mime, message_id = _with_message_id(raw_mime)
            stored = self._store(to, raw_mime, message_id, ["INBOX", "UNREAD"], self._thread_of(to, raw_mime, None))
        return stored.id

    def times_sent(self, message_id_header: str) -> int:
        """How many times a message left: more than once is a duplicate reminder."""
        wanted = _bare_id(message_id_header)
        return sum(1 for message in self.sent if _bare_id(message["message_id"]) == wanted)

    def certs(self) -> dict[str, str]:
        """Google's v1 certificates: PEM x509 certificates keyed by kid, the current key and the next one."""
        if not self._certificates:
            self._certificates = {self.kid: _key_certificate(self._signing_key),
                                  self._next_kid: _key_certificate(self._next_key)}
        return dict(self._certificates)

    def jwks(self) -> dict:
        keys = []
        for kid, key in ((self.kid, self._signing_key), (self._next_kid, self._next_key)):
            keys.append({**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "use": "sig",
                         "alg": "RS256"})
        return {"keys": keys}

    # --- The HTTP surface -------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: HTTPMessage, body: bytes) -> _Reply | None:
        """Answer one request; None means close the connection without answering."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self.lock:
            self.requests.append((method, path))
            if path.startswith("/gmail/v1/"):
                return self._gmail(method, path.removeprefix("/gmail/v1"), query, headers, body)
            return self._oauth(method, path, parts.query, headers, body)

    # --- OAuth 2.0 and OpenID Connect --------------------------------------------------------------------

    def _oauth(self, method: str, path: str, query: str, headers: HTTPMessage, body: bytes) -> _Reply:
        if path == "/o/oauth2/v2/auth":
            return self._browser_authorize(query)
        if path == "/oauth2/v1/certs":
            return _json(200, self.certs(), {"Cache-Control": "public, max-age=21600, must-revalidate, no-transform"})
        if path == "/oauth2/v3/certs":
            return _json(200, self.jwks(), {"Cache-Control": "public, max-age=21600, must-revalidate, no-transform"})
        if path == "/.well-known/openid-configuration":
            return _json(200, self._discovery())
        if path == "/revoke":
            return self._revoke({**dict(parse_qsl(query)), **_form(headers, body)})
        if path == "/token":
            if method != "POST":
                return _json(405, {"error": "invalid_request", "error_description": "Method not allowed."})
            return self._token(headers, _form(headers, body))
        return _json(404, {"error": "not_found", "error_description": f"No endpoint at {path}."})

    def _discovery(self) -> dict:
        return {"issuer": ISSUER, "authorization_endpoint": self.auth_uri, "token_endpoint": self.token_uri,
                "revocation_endpoint": self.revoke_uri, "jwks_uri": self.jwks_uri,
                "response_types_supported": ["code", "token", "id_token", "code token", "code id_token",
                                             "token id_token", "code token id_token", "none"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat",
                                     "iss", "name", "picture", "sub"],
                "code_challenge_methods_supported": ["plain", "S256"],
                "grant_types_supported": ["authorization_code", "refresh_token"]}

    def _browser_authorize(self, query: str) -> _Reply:
        """A browser that lands on the consent screen is signed in as the first user and consents straight away."""
        try:
            location = self.authorize(f"{self.auth_uri}?{query}", next(iter(self.users)))
        except ValueError as error:
            return _text(400, str(error))
        return _Reply(302, headers={"Location": location})

    def _check_authorize(self, params: dict[str, str]) -> str:
        """Google shows an error page (no redirect) for these, so they raise."""
        if params.get("client_id") != self.client_id:
            raise ValueError("Error 401: invalid_client. The OAuth client was not found.")
        redirect_uri = params.get("redirect_uri") or ""
        if not redirect_uri or (self.redirect_uris and redirect_uri not in self.redirect_uris):
            raise ValueError(f"Error 400: redirect_uri_mismatch. redirect_uri={redirect_uri}")
        if params.get("response_type") != "code":
            raise ValueError(f"Error 400: invalid_request. Invalid response_type: {params.get('response_type')}")
        if not params.get("scope", "").split():
            raise ValueError("Error 400: invalid_request. Missing required parameter: scope")
        unknown = [s for s in _normalized(params["scope"].split()) if s != "openid" and not _known_scope(s)]
        if unknown:
            raise ValueError(f"Error 400: invalid_scope. Some requested scopes were invalid. {{invalid={unknown}}}")
        if params.get("access_type", "online") not in ("online", "offline"):
            raise ValueError(f"Error 400: invalid_request. Invalid access_type: {params.get('access_type')}")
        if params.get("code_challenge_method", "plain") not in ("S256", "plain"):
            raise ValueError("Error 400: invalid_request. Invalid code_challenge_method.")
        return redirect_uri

    def _grant_scopes(self, user: str, requested: list[str], params: dict[str, str],
                      declined: set[str]) -> list[str]:
        """What the user ends up granting: what was asked, less the unticked boxes, plus (with
        include_granted_scopes=true) what they granted this app before."""
        granted = [scope for scope in requested if scope in _IDENTITY or scope not in declined]
        if params.get("include_granted_scopes") == "true":
            granted += sorted(self._consented.get(user, set()) - set(granted))
        self._consented.setdefault(user, set()).update(granted)
        return granted

    def _new_code(self, params: dict[str, str], redirect_uri: str, user: str, granted: list[str]) -> str:
        code = f"4/0A{secrets.token_urlsafe(54)}"
        self._codes[code] = _Code(
            user=user, redirect_uri=redirect_uri, scopes=tuple(granted), nonce=params.get("nonce"),
            challenge=params.get("code_challenge"), method=params.get("code_challenge_method", "plain"),
            offline=params.get("access_type") == "offline",
            forced_consent="consent" in params.get("prompt", "").split(), expires=self.clock() + CODE_LIFETIME)
        return code

    def _token(self, headers: HTTPMessage, form: dict[str, str]) -> _Reply:
        client_id, secret = _client_credentials(headers, form)
        if not client_id:
            return _oauth_error(400, "invalid_request", "Could not determine client ID from request.")
        if client_id != self.client_id:
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if not secret or not secrets.compare_digest(secret, self.client_secret):
            return _oauth_error(401, "invalid_client", "Unauthorized")
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._redeem_code(form)
        if grant_type == "refresh_token":
            return self._redeem_refresh_token(form)
        return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _redeem_code(self, form: dict[str, str]) -> _Reply:
        value = form.get("code", "")
        code = self._codes.pop(value, None)  # one use only, whatever happens next
        if code is None:
            known = value in self._redeemed or value.startswith("4/")
            return _oauth_error(400, "invalid_grant", "Bad Request" if known else "Malformed auth code.")
        self._redeemed.add(value)
        if code.expires < self.clock():
            return _oauth_error(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        pkce_error = _pkce_error(code, form.get("code_verifier"))
        if pkce_error is not None:
            return pkce_error
        refresh = code.offline and (code.forced_consent or code.user not in self._offline)
        return _token_reply(self._issue(code.user, code.scopes, code.nonce, refresh))

    def _redeem_refresh_token(self, form: dict[str, str]) -> _Reply:
        value = form.get("refresh_token", "")
        if value in self._revoked_refresh_tokens:
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        grant = self._refresh_tokens.get(value)
        if grant is None:
            return _oauth_error(400, "invalid_grant", "Bad Request")
        scopes = grant.scopes
        asked = form.get("scope", "").split()
        if asked:  # a subset of the grant; asked scopes the user never granted are left out, not refused
            scopes = tuple(scope for scope in _normalized(asked) if scope in grant.scopes)
            if not scopes:
                return _oauth_error(400, "invalid_scope", "Bad Request")
        return _token_reply(self._issue(grant.user, scopes, nonce=None, refresh=False))

    def _issue(self, user: str, scopes: tuple[str, ...], nonce: str | None, refresh: bool) -> dict:
        now = self.clock()
        access_token = f"ya29.a0{secrets.token_urlsafe(96)}"
        self._access_tokens[access_token] = _AccessToken(user, frozenset(scopes), now + self.access_token_lifetime)
        response: dict = {"access_token": access_token, "expires_in": self.access_token_lifetime,
                          "scope": " ".join(scopes), "token_type": "Bearer"}
        if refresh:
            refresh_token = f"1//0{secrets.token_urlsafe(72)}"
            self._refresh_tokens[refresh_token] = _Grant(user, scopes)
            self._offline.add(user)
            response["refresh_token"] = refresh_token
        if _IDENTITY & set(scopes):
            response["id_token"] = self._id_token(user, set(scopes), access_token, nonce, now)
        return response

    def _id_token(self, email: str, scopes: set[str], access_token: str, nonce: str | None, now: float) -> str:
        user = self.users[email]
        claims: dict = {"iss": ISSUER, "azp": self.client_id, "aud": self.client_id, "sub": user["id"],
                        "at_hash": _at_hash(access_token), "iat": int(now), "exp": int(now) + ID_TOKEN_LIFETIME}
        if USERINFO_EMAIL in scopes:
            claims.update(email=email, email_verified=True)
        if USERINFO_PROFILE in scopes and user.get("name"):
            claims["name"] = user["name"]
        if user.get("hd"):
            claims["hd"] = user["hd"]
        if nonce:
            claims["nonce"] = nonce
        claims.update(self.id_token_overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        key = self._other_key if self.sign_with_other_key else self._signing_key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    def _revoke(self, form: dict[str, str]) -> _Reply:
        """Revoking any token of a grant ends the grant: its refresh tokens and access tokens all stop working."""
        token = form.get("token", "")
        grant = self._refresh_tokens.get(token)
        access = self._access_tokens.get(token)
        user = grant.user if grant else access.user if access and access.expires > self.clock() else None
        if user is None:
            return _oauth_error(400, "invalid_token", "Token expired or revoked")
        self._revoke_user(user)
        self.revoked.append(token)
        return _json(200, {})

    def _revoke_user(self, user: str) -> None:
        for value, grant in list(self._refresh_tokens.items()):
            if grant.user == user:
                self._revoked_refresh_tokens.add(value)
                del self._refresh_tokens[value]
        for value, access in list(self._access_tokens.items()):
            if access.user == user:
                del self._access_tokens[value]
        self._consented.pop(user, None)
        self._offline.discard(user)

    # --- Gmail ---------------------------------------------------------------------------------------

    def _gmail(self, method: str, path: str, query: dict[str, list[str]], headers: HTTPMessage,
               body: bytes) -> _Reply | None:
        token = self._access_token(headers)
        if isinstance(token, _Reply):
            return token
        match = _USER_PATH.fullmatch(path)
        if match is None:
            return _gmail_error(404, "Not Found", "notFound")
        who, rest = match.group(1), match.group(2) or ""
        if who != "me" and who.lower() != token.user.lower():
            return _gmail_error(403, f"Delegation denied for {token.user}", "forbidden")
        for verb, pattern, scopes, handler in _GMAIL_ROUTES:
            found = pattern.fullmatch(rest)
            if verb != method or found is None:
                continue
            if self.enforce_scopes and not scopes & token.scopes:
                return _insufficient_scopes()
            return handler(self, _Call(token.user, found.groups(), query, body, token.scopes))
        return _gmail_error(404, "Not Found", "notFound")

    def _access_token(self, headers: HTTPMessage) -> _AccessToken | _Reply:
        scheme, _, value = (headers.get("Authorization") or "").partition(" ")
        token = self._access_tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None or token.expires <= self.clock():
            return _unauthenticated()
        return token

    def _profile(self, call: _Call) -> _Reply:
        mine = self._mailbox(call.user)
        return _json(200, {"emailAddress": call.user, "messagesTotal": len(mine),
                           "threadsTotal": len({stored.thread_id for stored in mine}),
                           "historyId": str(self.history_id)})

    def _create_draft(self, call: _Call) -> _Reply:
        payload = _json_body(call.body)
        if payload is None:
            return _gmail_error(400, "Invalid JSON payload received.", "invalid")
        message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
        raw = _decode_raw(message.get("raw"))
        if isinstance(raw, _Reply):
            return raw
        stored = self._compose(call.user, raw, ["DRAFT"], message.get("threadId"))
        draft_id = f"r-{4_718_391_027_463_512_000 + next(self._ids)}"
        self.drafts[draft_id] = stored.id
        return _json(200, {"id": draft_id, "message": _summary(stored)})

    def _get_draft(self, call: _Call) -> _Reply:
        stored = self._draft(call.user, call.args[0])
        if stored is None:  # sent (the draft is gone) or deleted
            return _not_found()
        return _json(200, {"id": call.args[0], "message": _resource(stored, call.param("format", "full"), [])})

    def _delete_draft(self, call: _Call) -> _Reply:
        stored = self._draft(call.user, call.args[0])
        if stored is None:
            return _not_found()
        del self.drafts[call.args[0]]
        self._remove(stored)
        return _Reply(204)

    def _send_draft(self, call: _Call) -> _Reply | None:
        script = self.send_script.pop(0) if self.send_script else None
        if script is not None and script[0] == "status":
            return self._throttled(*script[1:])
        payload = _json_body(call.body)
        draft_id = str((payload or {}).get("id") or "")
        if not draft_id:
            return _gmail_error(400, "Invalid draft", "invalidArgument")
        stored = self._draft(call.user, draft_id)
        if stored is None:  # sent already (the draft is gone) or deleted
            return _not_found()
        if not _recipients(stored.raw):
            return _gmail_error(400, "Recipient address required", "invalidArgument")
        del self.drafts[draft_id]
        self._remove(stored)
        sent = self._sent(call.user, stored.raw, stored.thread_id, draft_id)
        return None if script is not None and script[0] == "drop_after_send" else _json(200, _summary(sent))

    def _send_message(self, call: _Call) -> _Reply | None:
        script = self.send_script.pop(0) if self.send_script else None
        if script is not None and script[0] == "status":
            return self._throttled(*script[1:])
        payload = _json_body(call.body) or {}
        raw = _decode_raw(payload.get("raw"))
        if isinstance(raw, _Reply):
            return raw
        if not _recipients(raw):
            return _gmail_error(400, "Recipient address required", "invalidArgument")
        raw, _message_id = self._outgoing(call.user, raw)
        sent = self._sent(call.user, raw, self._thread_of(call.user, raw, payload.get("threadId")), None)
        return None if script is not None and script[0] == "drop_after_send" else _json(200, _summary(sent))

    def _throttled(self, status: int, retry_after: str | int | None) -> _Reply:
        """A scripted send failure, before anything is sent; Gmail puts the time to retry in the message."""
        message, reason, domain = _THROTTLE.get(status, ("Backend Error", "backendError", "global"))
        if retry_after is not None and status == 429:
            later = datetime.fromtimestamp(self.clock() + float(retry_after), UTC)
            message = f"{message}  Retry after {later.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z"
        extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return _gmail_error(status, message, reason, extra, domain)

    def _sent(self, user: str, raw: bytes, thread_id: str, draft_id: str | None) -> _Stored:
        """The message leaves: a new message labelled SENT (a sent draft does not keep its message's id)."""
        message_id = str(_headers(raw).get("Message-ID") or "").strip()
        stored = self._store(user, raw, message_id, ["SENT"], thread_id)
        self.sent.append({"id": stored.id, "threadId": stored.thread_id, "draft_id": draft_id,
                          "message_id": message_id, "raw": raw,
                          "message": BytesParser(policy=default).parsebytes(raw)})
        return stored

    def _list_messages(self, call: _Call) -> _Reply:
        query = call.param("q")
        if query and not call.scopes & (_READ - {GMAIL_METADATA}):
            return _insufficient_scopes("Metadata scope does not support 'q' parameter")
        wanted = _query_labels(query)
        if isinstance(wanted, _Reply):
            return wanted
        message_ids, labels = wanted
        labels += call.query.get("labelIds", [])
        found = [s for s in reversed(self._mailbox(call.user)) if _labelled(s, labels)
                 and all(_bare_id(s.message_id) == wanted_id for wanted_id in message_ids)]
        size = min(_positive(call.param("maxResults")) or 100, 500)
        start = _positive(call.param("pageToken")) or 0
        body: dict = {"resultSizeEstimate": len(found)}
        if found[start:start + size]:
            body["messages"] = [{"id": s.id, "threadId": s.thread_id} for s in found[start:start + size]]
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return _json(200, body)

    def _get_message(self, call: _Call) -> _Reply:
        stored = self._find(call.user, call.args[0])
        if stored is None:
            return _not_found()
        fmt = call.param("format", "full")
        if fmt not in ("raw", "full", "metadata", "minimal"):
            return _gmail_error(400, f"Invalid value at 'format' ({fmt})", "invalid")
        if fmt in ("raw", "full") and not call.scopes & (_READ - {GMAIL_METADATA}):
            return _insufficient_scopes(f"Metadata scope doesn't allow format {fmt.upper()}")
        return _json(200, _resource(stored, fmt, call.query.get("metadataHeaders", [])))

    def _list_history(self, call: _Call) -> _Reply:
        start = _positive(call.param("startHistoryId"))
        if start is None:
            return _gmail_error(400, "Invalid startHistoryId", "invalidArgument")
        if start < self.oldest_history_id:
            return _not_found()
        after = max(start, _positive(call.param("pageToken")) or 0)
        kinds = {kind for value in call.query.get("historyTypes", []) for kind in value.split(",") if kind}
        label = call.param("labelId")
        records = [change for change in self.history
                   if change.id > after and change.owner == call.user
                   and (not kinds or change.kind in kinds)
                   and (not label or label in change.message["labelIds"])]
        size = min(_positive(call.param("maxResults")) or 100, self.page_size)
        body: dict = {}
        if records:
            body["history"] = [_history_record(change) for change in records[:size]]
        if len(records) > size:
            body["nextPageToken"] = str(records[size - 1].id)
        body["historyId"] = str(self.history_id)
        return _json(200, body)

    # --- The mailbox ------------------------------------------------------------------------------------

    def _compose(self, user: str, raw: bytes, labels: list[str], thread_id: str | None) -> _Stored:
        raw, message_id = self._outgoing(user, raw)
        return self._store(user, raw, message_id, labels, self._thread_of(user, raw, thread_id))

    def _outgoing(self, user: str, raw: bytes) -> tuple[bytes, str]:
        """What Gmail does to a message the user writes: a Message-ID if it has none, and the user's own From
        address unless the From is one of their send-as addresses."""
        raw, message_id = _with_message_id(raw, domain="mail.gmail.com")
        headers = _headers(raw)
        senders = [address.lower() for _name, address in getaddresses([str(headers.get("From") or "")]) if address]
        if not senders or senders[0] not in {user.lower(), *(address.lower() for address in self.send_as)}:
            raw = _replace_header(raw, "From", user)
        return raw, message_id

    def _thread_of(self, user: str, raw: bytes, asked: str | None) -> str:
        """The thread a new message joins: the one asked for if it exists, else that of a message it replies to."""
        mine = self._mailbox(user)
        if asked and any(stored.thread_id == asked for stored in mine):
            return asked
        headers = _headers(raw)
        parents = re.findall(r"<[^>]+>", f"{headers.get('In-Reply-To') or ''} {headers.get('References') or ''}")
        for stored in mine:
            if stored.message_id in parents:
                return stored.thread_id
        return ""

    def _store(self, user: str, raw: bytes, message_id: str, labels: list[str], thread_id: str) -> _Stored:
        """Keep a new message; an empty thread_id starts a thread of its own."""
        message_key = f"{0x19A0_0000_0000_0000 + next(self._ids):x}"  # 16 hex digits, like Gmail's ids
        stored = _Stored(id=message_key, owner=user, thread_id=thread_id or message_key, labels=list(labels),
                         raw=raw, message_id=message_id, internal_date=int(self.clock() * 1000), history_id=0)
        self.messages[message_key] = stored
        stored.history_id = self._record("messageAdded", stored)
        return stored

    def _remove(self, stored: _Stored) -> None:
        del self.messages[stored.id]
        self._record("messageDeleted", stored)

    def _record(self, kind: str, stored: _Stored) -> int:
        self.history_id += 1
        self.history.append(_Change(self.history_id, stored.owner, kind, _summary(stored)))
        return self.history_id

    def _mailbox(self, user: str) -> list[_Stored]:
        return [stored for stored in self.messages.values() if stored.owner == user]

    def _find(self, user: str, message_key: str) -> _Stored | None:
        stored = self.messages.get(message_key)
        return stored if stored is not None and stored.owner == user else None

    def _draft(self, user: str, draft_id: str) -> _Stored | None:
        message_key = self.drafts.get(draft_id)
        return self._find(user, message_key) if message_key else None


_GMAIL_ROUTES: list[tuple[str, re.Pattern[str], frozenset[str], Callable[..., _Reply | None]]] = [
    ("GET", re.compile(r"/profile"), _PROFILE, FakeGoogle._profile),
    ("POST", re.compile(r"/drafts"), _COMPOSE, FakeGoogle._create_draft),
    ("POST", re.compile(r"/drafts/send"), _COMPOSE, FakeGoogle._send_draft),
    ("GET", re.compile(r"/drafts/([^/]+)"), _DRAFT_READ, FakeGoogle._get_draft),
    ("DELETE", re.compile(r"/drafts/([^/]+)"), _COMPOSE, FakeGoogle._delete_draft),
    ("POST", re.compile(r"/messages/send"), _SEND, FakeGoogle._send_message),
    ("GET", re.compile(r"/messages"), _READ, FakeGoogle._list_messages),
    ("GET", re.compile(r"/messages/([^/]+)"), _READ, FakeGoogle._get_message),
    ("GET", re.compile(r"/history"), _READ, FakeGoogle._list_history),
]


# --- Small pieces of the protocols ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _normalized(scopes: list[str]) -> list[str]:
    """Google answers with `email` and `profile` as their URLs; order kept, repeats dropped."""
    return list(dict.fromkeys(_SHORTHANDS.get(scope, scope) for scope in scopes))


def _known_scope(scope: str) -> bool:
    return scope == MAIL_FULL or scope.startswith(SCOPE_URL)


def _at_hash(access_token: str) -> str:
    return _b64url(hashlib.sha256(access_token.encode()).digest()[:16])


def _client_credentials(headers: HTTPMessage, form: dict[str, str]) -> tuple[str | None, str | None]:
    """client_secret_basic (what requests-oauthlib sends) or client_secret_post (what google-auth sends)."""
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None, None
        return unquote(client_id), unquote(secret)
    return form.get("client_id"), form.get("client_secret")


def _pkce_error(code: _Code, verifier: str | None) -> _Reply | None:
    if code.challenge is None:
        if verifier:
            return _oauth_error(400, "invalid_request", "code_verifier or verifier is not needed.")
        return None
    if not verifier:
        return _oauth_error(400, "invalid_grant", "Missing code verifier.")
    expected = verifier if code.method == "plain" else _b64url(hashlib.sha256(verifier.encode()).digest())
    if not _VERIFIER.fullmatch(verifier) or not secrets.compare_digest(expected, code.challenge):
        return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
    return None


def _form(headers: HTTPMessage, body: bytes) -> dict[str, str]:
    """The token and revoke endpoints take form posts, and JSON too."""
    if (headers.get("Content-Type") or "").startswith("application/json"):
        payload = _json_body(body)
        return {str(name): str(value) for name, value in (payload or {}).items()}
    return dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))


def _json_body(body: bytes) -> dict | None:
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _with_query(uri: str, params: dict[str, str | None]) -> str:
    separator = "&" if "?" in uri else "?"
    return uri + separator + urlencode({name: value for name, value in params.items() if value is not None})


def _positive(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _decode_raw(raw: object) -> bytes | _Reply:
    """Gmail's `raw`: base64url, padded or not."""
    if not isinstance(raw, str) or not raw:
        return _gmail_error(400, _NO_RAW, "invalidArgument")
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except ValueError:
        return _gmail_error(400, "Invalid value for ByteString", "invalid")


def _headers(raw: bytes) -> Message:
    return BytesParser(policy=compat32).parsebytes(raw, headersonly=True)


def _with_message_id(raw: bytes, domain: str = "mx.google.com") -> tuple[bytes, str]:
    """Keep the message's own Message-ID; Google gives one to a message that has none."""
    message_id = str(_headers(raw).get("Message-ID") or "").strip()
    if message_id:
        return raw, message_id
    message_id = make_msgid(domain=domain)
    return f"Message-ID: {message_id}\r\n".encode() + raw, message_id


def _replace_header(raw: bytes, name: str, value: str) -> bytes:
    """The message with every `name` header (continuation lines included) replaced by one at the top; the rest of
    the bytes untouched."""
    blank = re.search(rb"\r?\n\r?\n", raw)
    cut = blank.start() + (2 if raw[blank.start():blank.start() + 1] == b"\r" else 1) if blank else len(raw)
    head, rest = raw[:cut], raw[cut:]
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    kept, dropping = [], False
    for line in head.splitlines(keepends=True):
        if line[:1] not in (b" ", b"\t"):
            dropping = line.split(b":", 1)[0].strip().lower() == name.lower().encode()
        if not dropping:
            kept.append(line)
    return f"{name}: {value}".encode() + newline + b"".join(kept) + rest


def _recipients(raw: bytes) -> list[str]:
    headers = _headers(raw)
    values = [str(headers.get(name) or "") for name in ("To", "Cc", "Bcc")]
    return [address for _name, address in getaddresses(values) if address]


def _bare_id(message_id: str) -> str:
    return message_id.strip().removeprefix("<").removesuffix(">")


def _query_labels(query: str) -> tuple[list[str], list[str]] | _Reply:
    """The search operators this fake understands: rfc822msgid:, in:, label:, is:unread and is:read; labels to
    exclude come back prefixed with "-"."""
    message_ids: list[str] = []
    labels: list[str] = []
    for term in query.split():
        operator, _, value = term.partition(":")
        value = value.strip('"')
        if operator == "rfc822msgid" and value:
            message_ids.append(_bare_id(value))
        elif operator == "in" and value in _LABELS:
            labels.append(_LABELS[value])
        elif operator == "in" and value == "anywhere":
            continue
        elif operator == "label" and value:
            labels.append(_LABELS.get(value.lower(), value))
        elif operator == "is" and value in ("unread", "read"):
            labels.append("UNREAD" if value == "unread" else "-UNREAD")
        else:
            return _gmail_error(400, f"This fake does not understand the search term {term!r}.", "invalidArgument")
    if not any(label in ("SPAM", "TRASH") for label in labels):  # Gmail leaves these out unless asked
        labels += ["-SPAM", "-TRASH"]
    return message_ids, labels


def _labelled(stored: _Stored, labels: list[str]) -> bool:
    """Whether a message has every label asked and none of those excluded (prefixed with "-")."""
    return all(label[1:] not in stored.labels if label.startswith("-") else label in stored.labels
               for label in labels)


def _summary(stored: _Stored) -> dict:
    return {"id": stored.id, "threadId": stored.thread_id, "labelIds": list(stored.labels)}


def _resource(stored: _Stored, fmt: str, metadata_headers: list[str]) -> dict:
    """A Message in one of Gmail's formats: raw, full, metadata or minimal."""
    resource = {**_summary(stored), "snippet": _snippet(stored.raw), "sizeEstimate": len(stored.raw),
                "historyId": str(stored.history_id), "internalDate": str(stored.internal_date)}
    if fmt == "raw":
        resource["raw"] = base64.urlsafe_b64encode(stored.raw).decode()
    elif fmt == "metadata":
        parsed, wanted = _headers(stored.raw), {name.lower() for name in metadata_headers}
        headers = [{"name": name, "value": str(value)} for name, value in parsed.items()
                   if not wanted or name.lower() in wanted]
        resource["payload"] = {"mimeType": parsed.get_content_type(), "headers": headers}
    elif fmt == "full":
        resource["payload"] = _part(BytesParser(policy=compat32).parsebytes(stored.raw), "")
    return resource


def _part(part: Message, part_id: str) -> dict:
    payload: dict = {"partId": part_id, "mimeType": part.get_content_type(), "filename": part.get_filename() or "",
                     "headers": [{"name": name, "value": str(value)} for name, value in part.items()]}
    if part.is_multipart():
        children = part.get_payload()
        prefix = f"{part_id}." if part_id else ""
        payload["body"] = {"size": 0}
        payload["parts"] = [_part(child, f"{prefix}{index}") for index, child in enumerate(children)]
    else:
        data = part.get_payload(decode=True) or b""
        payload["body"] = {"size": len(data), "data": base64.urlsafe_b64encode(data).decode()}
    return payload


def _snippet(raw: bytes) -> str:
    message = BytesParser(policy=compat32).parsebytes(raw)
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = (part.get_payload(decode=True) or b"").decode(part.get_content_charset() or "utf-8", "replace")
            return html.escape(" ".join(text.split())[:200])
    return ""


def _history_record(change: _Change) -> dict:
    message = change.message
    plural = {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted"}[change.kind]
    return {"id": str(change.id), "messages": [{"id": message["id"], "threadId": message["threadId"]}],
            plural: [{"message": message}]}


def _json(status: int, payload: object, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(),
                  {"Content-Type": "application/json; charset=UTF-8", **(headers or {})})


def _text(status: int, text: str) -> _Reply:
    return _Reply(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


def _token_reply(payload: dict) -> _Reply:
    return _json(200, payload, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
                                "Pragma": "no-cache"})


def _oauth_error(status: int, error: str, description: str) -> _Reply:
    return _json(status, {"error": error, "error_description": description})


def _gmail_error(status: int, message: str, reason: str, headers: dict[str, str] | None = None,
                 domain: str = "global") -> _Reply:
    return _json(status, {"error": {"code": status, "message": message,
                                    "errors": [{"message": message, "domain": domain, "reason": reason}],
                                    "status": _STATUS.get(status, "UNKNOWN")}}, headers)


def _not_found() -> _Reply:
    return _gmail_error(404, "Requested entity was not found.", "notFound")


def _unauthenticated() -> _Reply:
    return _json(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                 "errors": [{"message": "Invalid Credentials", "domain": "global",
                                             "reason": "authError", "location": "Authorization",
                                             "locationType": "header"}],
                                 "status": "UNAUTHENTICATED"}},
                 {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})


def _insufficient_scopes(message: str = "Request had insufficient authentication scopes.") -> _Reply:
    return _gmail_error(403, message, "insufficientPermissions",
                        {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                                             'error="insufficient_scope"'})


def _key_certificate(key: rsa.RSAPrivateKey) -> str:
    """An ID token signing key as Google publishes it at v1/certs: a self-signed x509 certificate."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.google.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=14))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


# --- The server ----------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGoogle

    def handle_error(self, request, client_address) -> None:  # clients that hang up or reject the certificate
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Google's servers, so a dropped answer drops a live connection
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

    def do_PUT(self) -> None:
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


def start() -> FakeGoogle:
    """Serve a new fake on a free loopback port over HTTPS; stop it with `fake.stop()`."""
    fake = FakeGoogle()
    fake._directory = tempfile.mkdtemp(prefix="fake-google-")
    cert_file, key_file = _self_signed(Path(fake._directory))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.fake = fake
    fake.base, fake.ca_file, fake._server = f"https://127.0.0.1:{server.server_address[1]}", cert_file, server
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True, name="fake-google").start()
    return fake
