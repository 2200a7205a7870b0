"""What the fakes of the two mail providers (tests/fake_google.py, tests/fake_microsoft.py) share besides their
HTTPS server: an OAuth 2.0 / OpenID Connect provider's users, codes and tokens, ID tokens signed with a published
key (or, to break them, with another), and the knobs of a mail API that break sending one thing at a time."""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from http.client import HTTPMessage

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fake_https import FakeHttps, Reply, Request, b64url, text_reply

DEFAULT_USER = "ar@acme.example"


@dataclass
class AccessToken:
    user: str
    scopes: Collection[str]
    expires: float


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeProvider(FakeHttps):
    client_id: str = ""
    client_secret: str = ""
    users: dict[str, dict[str, str]] = field(default_factory=dict)  # email -> the user's id and names
    redirect_uris: set[str] = field(default_factory=set)  # the app registration's; empty accepts any
    id_token_overrides: dict = field(default_factory=dict)  # merged into ID token claims; None removes a claim
    sign_with_other_key: bool = False  # sign ID tokens with a key that is not published (same kid)
    access_token_lifetime: int = 3600  # what the token endpoint answers
    enforce_scopes: bool = True  # the mail API answers 403 when the token lacks the call's permission
    send_script: list[tuple | None] = field(default_factory=list)  # one entry consumed per send call
    send_as: set[str] = field(default_factory=set)  # From addresses kept besides the user's own
    page_size: int = 10  # most items on one page of the mailbox's changes, whatever the client asks
    clock: Callable[[], float] = time.time
    sent: list[dict] = field(default_factory=list)  # every message that left, in order, duplicates included
    messages: dict = field(default_factory=dict)  # the mail API's id -> the message as the fake keeps it
    kid: str = ""
    _codes: dict = field(default_factory=dict, repr=False)  # authorization code -> what redeeming it must match
    _redeemed: set[str] = field(default_factory=set, repr=False)
    _refresh_tokens: dict = field(default_factory=dict, repr=False)  # refresh token -> the grant it stands for
    _revoked_refresh_tokens: set[str] = field(default_factory=set, repr=False)
    _access_tokens: dict[str, AccessToken] = field(default_factory=dict, repr=False)
    _signing_key: rsa.RSAPrivateKey = field(default_factory=rsa_key, repr=False)
    _other_key: rsa.RSAPrivateKey = field(default_factory=rsa_key, repr=False)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    def authorize(self, authorize_url: str, user: str = DEFAULT_USER) -> str:
        """The user signs in and consents at the URL the app built; returns the redirect back to the app."""
        raise NotImplementedError

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working at the mail API (the client's own expiry does not know)."""
        with self.lock:
            past = self.clock() - 1
            for token in self._access_tokens.values():
                token.expires = min(token.expires, past)

    def revoke_refresh_tokens(self) -> None:
        """What a password change or an admin revoking sessions does: every refresh token is refused from now on."""
        with self.lock:
            self._revoked_refresh_tokens.update(self._refresh_tokens)
            self._refresh_tokens.clear()

    def _browser_authorize(self, request: Request) -> Reply:
        """A browser that lands on the sign-in page is signed in as the first user and consents straight away."""
        try:
            location = self.authorize(f"{self.base}{request.path}?{request.query}", next(iter(self.users)))
        except ValueError as error:
            return text_reply(400, str(error))
        return Reply(302, headers={"Location": location})

    def _signed_id_token(self, claims: dict) -> str:
        """The claims as the test asks (overridden, or removed when None), signed with the key it asks for."""
        claims = {**claims, **self.id_token_overrides}
        claims = {name: value for name, value in claims.items() if value is not None}
        key = self._other_key if self.sign_with_other_key else self._signing_key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    def _live_access_token(self, headers: HTTPMessage) -> AccessToken | None:
        token = self._access_tokens.get(bearer_token(headers))
        return token if token is not None and token.expires > self.clock() else None

    def _next_send(self) -> tuple:
        """How this send call goes, from `send_script`: ("status", code, retry_after) fails before anything is sent,
        ("drop_after_send",) sends but never answers, and () (or a None entry) sends as usual."""
        return (self.send_script.pop(0) if self.send_script else None) or ()

    def _may_send_from(self, user: str, address: str) -> bool:
        return address.lower() in {user.lower(), *(alias.lower() for alias in self.send_as)}


def bearer_token(headers: HTTPMessage) -> str:
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def client_credentials(headers: HTTPMessage, form: dict[str, str],
                       unquote_basic: Callable[[str], str]) -> tuple[str | None, str | None]:
    """client_secret_basic, its two halves decoded by `unquote_basic`, or client_secret_post."""
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None, None
        return unquote_basic(client_id), unquote_basic(secret)
    return form.get("client_id"), form.get("client_secret")


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    expected = verifier if method == "plain" else b64url(hashlib.sha256(verifier.encode()).digest())
    return secrets.compare_digest(expected, challenge)
