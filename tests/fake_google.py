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

The Gmail API is in tests/fake_gmail.py, the HTTPS server in tests/fake_https.py.

    fake = start()
    flow = Flow.from_client_config(fake.client_config(REDIRECT), scopes=[...], redirect_uri=REDIRECT)
    flow.oauth2session.verify, flow.oauth2session.trust_env = fake.ca_file, False
    ...
    fake.stop()
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.client import HTTPMessage
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

from tests.fake_gmail import GMAIL_COMPOSE, GMAIL_READONLY, MAIL_FULL, SCOPE_URL, GmailApi, google_json
from tests.fake_https import Reply, Request, b64url, json_body, with_query
from tests.fake_provider import (
    DEFAULT_USER,
    AccessToken,
    client_credentials,
    pkce_matches,
    rsa_key,
)

CLIENT_ID = "plixo-google-client.apps.googleusercontent.com"
CLIENT_SECRET = "plixo-google-secret"
ISSUER = "https://accounts.google.com"
USERINFO_EMAIL = SCOPE_URL + "userinfo.email"
USERINFO_PROFILE = SCOPE_URL + "userinfo.profile"
MAIL_SCOPES = ("openid", USERINFO_EMAIL, GMAIL_COMPOSE, GMAIL_READONLY)
CODE_LIFETIME = 600
ID_TOKEN_LIFETIME = 3600

_SHORTHANDS = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}
_IDENTITY = frozenset({"openid", USERINFO_EMAIL, USERINFO_PROFILE})  # not offered as checkboxes, so never declined
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_KEYS_CACHED = {"Cache-Control": "public, max-age=21600, must-revalidate, no-transform"}


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
class _Grant:
    """What a refresh token stands for: the user's offline consent to these scopes."""

    user: str
    scopes: tuple[str, ...]


def _new_kid() -> str:
    return secrets.token_hex(20)  # Google's key ids are 40 hex digits


@dataclass
class FakeGoogle(GmailApi):
    name = "fake-google"
    methods = ("GET", "POST", "PUT", "DELETE")

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    # email -> {"id": the ID token's `sub`}, plus "hd" (a Workspace domain) and "name" when a test wants them
    users: dict[str, dict[str, str]] = field(default_factory=lambda: {DEFAULT_USER: {"id": "108374620195438127465"}})
    access_token_lifetime: int = 3599  # what Google's token endpoint answers
    kid: str = field(default_factory=_new_kid)
    revoked: list[str] = field(default_factory=list)  # tokens posted to /revoke that Google accepted
    _consented: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _offline: set[str] = field(default_factory=set, repr=False)  # users already given a refresh token
    _next_key: rsa.RSAPrivateKey = field(default_factory=rsa_key, repr=False)  # published, not yet used
    _next_kid: str = field(default_factory=_new_kid, repr=False)
    _certificates: dict[str, str] = field(default_factory=dict, repr=False)

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

    def client_config(self, *redirect_uris: str) -> dict:
        """The "web" client secrets `Flow.from_client_config` takes, pointing at this fake."""
        return {"web": {"client_id": self.client_id, "client_secret": self.client_secret,
                        "auth_uri": self.auth_uri, "token_uri": self.token_uri,
                        "redirect_uris": list(redirect_uris or self.redirect_uris)}}

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
                return with_query(redirect_uri, {"error": "consent_required", "state": params.get("state")})
            granted = self._grant_scopes(user, requested, params, {_normalized([s])[0] for s in decline})
            code = self._new_code(params, redirect_uri, user, granted)
            hosted_domain = self.users[user].get("hd")
        return with_query(redirect_uri, {"state": params.get("state"), "code": code, "scope": " ".join(granted),
                                         "authuser": "0", "hd": hosted_domain, "prompt": "consent"})

    def deny(self, authorize_url: str) -> str:
        """The user cancels at Google's consent screen; returns the error redirect back to the app."""
        params = dict(parse_qsl(urlsplit(authorize_url).query))
        with self.lock:
            redirect_uri = self._check_authorize(params)
        return with_query(redirect_uri, {"error": "access_denied", "state": params.get("state")})

    def revoke_refresh_tokens(self) -> None:
        """What a password change does to Gmail grants: every refresh token is refused from now on."""
        with self.lock:
            super().revoke_refresh_tokens()
            self._offline.clear()

    def issue_tokens(self, user: str = DEFAULT_USER, scopes: tuple[str, ...] = MAIL_SCOPES) -> dict:
        """A token response as the token endpoint gives it after offline consent, for tests that start from an
        already connected mailbox rather than from the sign-in."""
        with self.lock:
            granted = tuple(_normalized(list(scopes)))
            self._consented.setdefault(user, set()).update(granted)
            return self._issue(user, granted, nonce=None, refresh=True)

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

    def answer(self, request: Request) -> Reply | None:
        if request.path.startswith("/gmail/v1/"):
            return self._gmail(request)
        return self._oauth(request)

    # --- OAuth 2.0 and OpenID Connect --------------------------------------------------------------------

    def _oauth(self, request: Request) -> Reply:
        path = request.path
        if path == "/o/oauth2/v2/auth":
            return self._browser_authorize(request)
        if path == "/oauth2/v1/certs":
            return google_json(200, self.certs(), _KEYS_CACHED)
        if path == "/oauth2/v3/certs":
            return google_json(200, self.jwks(), _KEYS_CACHED)
        if path == "/.well-known/openid-configuration":
            return google_json(200, self._discovery())
        if path == "/revoke":
            return self._revoke({**dict(parse_qsl(request.query)), **_form(request.headers, request.body)})
        if path == "/token":
            if request.method != "POST":
                return google_json(405, {"error": "invalid_request", "error_description": "Method not allowed."})
            return self._token(request.headers, _form(request.headers, request.body))
        return google_json(404, {"error": "not_found", "error_description": f"No endpoint at {path}."})

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

    def _token(self, headers: HTTPMessage, form: dict[str, str]) -> Reply:
        # client_secret_basic (what requests-oauthlib sends) or client_secret_post (what google-auth sends)
        client_id, secret = client_credentials(headers, form, unquote_basic=unquote)
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

    def _redeem_code(self, form: dict[str, str]) -> Reply:
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

    def _redeem_refresh_token(self, form: dict[str, str]) -> Reply:
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
        self._access_tokens[access_token] = AccessToken(user, frozenset(scopes), now + self.access_token_lifetime)
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
        return self._signed_id_token(claims)

    def _revoke(self, form: dict[str, str]) -> Reply:
        """Revoking any token of a grant ends the grant: its refresh tokens and access tokens all stop working."""
        token = form.get("token", "")
        grant = self._refresh_tokens.get(token)
        access = self._access_tokens.get(token)
        user = grant.user if grant else access.user if access and access.expires > self.clock() else None
        if user is None:
            return _oauth_error(400, "invalid_token", "Token expired or revoked")
        self._revoke_user(user)
        self.revoked.append(token)
        return google_json(200, {})

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


# --- Small pieces of the protocols ---------------------------------------------------------------------------


def _normalized(scopes: list[str]) -> list[str]:
    """Google answers with `email` and `profile` as their URLs; order kept, repeats dropped."""
    return list(dict.fromkeys(_SHORTHANDS.get(scope, scope) for scope in scopes))


def _known_scope(scope: str) -> bool:
    return scope == MAIL_FULL or scope.startswith(SCOPE_URL)


def _at_hash(access_token: str) -> str:
    return b64url(hashlib.sha256(access_token.encode()).digest()[:16])


def _pkce_error(code: _Code, verifier: str | None) -> Reply | None:
    if code.challenge is None:
        if verifier:
            return _oauth_error(400, "invalid_request", "code_verifier or verifier is not needed.")
        return None
    if not verifier:
        return _oauth_error(400, "invalid_grant", "Missing code verifier.")
    if not _VERIFIER.fullmatch(verifier) or not pkce_matches(verifier, code.challenge, code.method):
        return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
    return None


def _form(headers: HTTPMessage, body: bytes) -> dict[str, str]:
    """The token and revoke endpoints take form posts, and JSON too."""
    if (headers.get("Content-Type") or "").startswith("application/json"):
        payload = json_body(body)
        return {str(name): str(value) for name, value in (payload or {}).items()}
    return dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))


def _token_reply(payload: dict) -> Reply:
    return google_json(200, payload, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
                                      "Pragma": "no-cache"})


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return google_json(status, {"error": error, "error_description": description})


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


def start() -> FakeGoogle:
    """Serve a new fake on a free loopback port over HTTPS; stop it with `fake.stop()`."""
    return FakeGoogle().serve()
