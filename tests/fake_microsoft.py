"""A small Microsoft identity platform (v2.0) and Microsoft Graph on loopback, over HTTPS, for the real `msal` and
`requests` clients: OpenID discovery, signing keys, the authorization code flow with PKCE, refresh tokens that rotate,
signed ID tokens, and the Graph mail calls Plixo makes (create a draft, send it, find it in Sent Items, read the inbox
by delta, fetch a message's MIME).

No browser is driven: `authorize` takes the URL the app built and returns the redirect Microsoft would send the user
back with. Knobs break one thing at a time: a bad ID token, expired or revoked tokens, a throttled send, a send whose
answer never arrives, Sent Items that lag behind a send. Everything asked is kept in `requests` and `sent`.

The Graph calls are in tests/fake_graph.py, the HTTPS server in tests/fake_https.py.

    fake = start()
    app = msal.ConfidentialClientApplication(fake.client_id, client_credential=fake.client_secret,
                                             authority=fake.authority, instance_discovery=False, verify=fake.ca_file)
    ...
    fake.stop()
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPMessage
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from jwt.algorithms import RSAAlgorithm

from tests.fake_graph import GraphApi, permission
from tests.fake_https import Reply, Request, b64url, json_reply, text_reply, with_query
from tests.fake_provider import DEFAULT_USER, AccessToken, client_credentials, pkce_matches

CLIENT_ID = "plixo-client-id"
CLIENT_SECRET = "plixo-secret"
TENANT_ID = "6f1c2a7e-3b4d-4c5e-9f80-a1b2c3d4e5f6"
MAIL_SCOPES = ("Mail.ReadWrite", "Mail.Send", "User.Read")
CODE_LIFETIME = 600  # Microsoft's authorization codes live about ten minutes
ID_TOKEN_LIFETIME = 3600

_RESERVED = frozenset({"openid", "profile", "offline_access", "email"})
_IDENTITY = re.compile(r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|discovery/v2\.0/keys"
                       r"|oauth2/v2\.0/authorize|oauth2/v2\.0/token|oauth2/v2\.0/logout)")


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
class FakeMicrosoft(GraphApi):
    name = "fake-microsoft"
    methods = ("GET", "POST", "PATCH", "DELETE")

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    users: dict[str, dict[str, str]] = field(default_factory=lambda: {
        DEFAULT_USER: {"id": "3a9d7c21-5e4f-4b6a-8c0d-1e2f3a4b5c6d", "displayName": "Acme Receivables"}})
    kid: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    tenant_id: str = TENANT_ID

    # --- Where the app points its clients -----------------------------------------------------------------

    @property
    def authority(self) -> str:
        return f"{self.base}/organizations"

    def issuer(self, tenant_id: str | None = None) -> str:
        """The `iss` of ID tokens for a tenant (what discovery's "{tenantid}" template expands to)."""
        return f"{self.base}/{tenant_id or self.tenant_id}/v2.0"

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
        return with_query(redirect_uri, {"code": code, "client_info": _client_info(oid, self.tenant_id),
                                         "state": params.get("state"), "session_state": str(uuid.uuid4())})

    def deny(self, authorize_url: str, error: str = "access_denied",
             description: str = "AADSTS65004: User declined to consent to access the app.") -> str:
        """The user cancels at Microsoft's consent page; returns the error redirect back to the app."""
        params = dict(parse_qsl(urlsplit(authorize_url).query))
        with self.lock:
            redirect_uri = self._check_authorize(params)
        return with_query(redirect_uri, {"error": error, "error_subcode": "cancel",
                                         "error_description": description, "state": params.get("state")})

    def issue_tokens(self, user: str = DEFAULT_USER, scopes: tuple[str, ...] = MAIL_SCOPES) -> dict:
        """A token response as the token endpoint gives it, for tests that start from an already connected
        mailbox rather than from the sign-in."""
        with self.lock:
            grant = _Grant(user, list(scopes), frozenset({"openid", "profile", "offline_access"}))
            return self._issue(grant, list(scopes), None)

    def jwks(self) -> dict:
        key = RSAAlgorithm.to_jwk(self._signing_key.public_key(), as_dict=True)
        return {"keys": [{**key, "kid": self.kid, "use": "sig", "issuer": f"{self.base}/{{tenantid}}/v2.0"}]}

    # --- The HTTP surface -------------------------------------------------------------------------------

    def answer(self, request: Request) -> Reply | None:
        if request.path.startswith("/v1.0/"):
            return self._graph(request)
        return self._identity(request)

    # --- Identity platform -------------------------------------------------------------------------------

    def _identity(self, request: Request) -> Reply:
        path = request.path
        match = _IDENTITY.fullmatch(path)
        if match is None:
            return json_reply(404, {"error": "not_found", "error_description": f"No endpoint at {path}."})
        tenant, endpoint = match.groups()
        if endpoint.endswith("openid-configuration"):
            return json_reply(200, self._discovery(tenant))
        if endpoint.endswith("keys"):
            return json_reply(200, self.jwks())
        if endpoint.endswith("authorize"):
            return self._browser_authorize(request)
        if endpoint.endswith("logout"):
            after = dict(parse_qsl(request.query, keep_blank_values=True)).get("post_logout_redirect_uri")
            return Reply(302, headers={"Location": after}) if after else text_reply(200, "You signed out.")
        if request.method != "POST":
            return json_reply(405, {"error": "invalid_request",
                                    "error_description": "AADSTS900561: The endpoint only accepts POST requests."})
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        return self._token(tenant, request.headers, form)

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

    def _token(self, tenant: str, headers: HTTPMessage, form: dict[str, str]) -> Reply:
        # msal sends client_secret_post; a client_secret_basic pair is form-encoded, so "+" is a space
        client_id, secret = client_credentials(headers, form, unquote_basic=unquote_plus)
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

    def _redeem_code(self, form: dict[str, str]) -> Reply:
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
        return json_reply(200, self._issue(grant, scopes, code.nonce), {"Cache-Control": "no-store"})

    def _redeem_refresh_token(self, form: dict[str, str]) -> Reply:
        value = form.get("refresh_token", "")
        if value in self._revoked_refresh_tokens:
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
        return json_reply(200, self._issue(grant, scopes, None), {"Cache-Control": "no-store"})

    def _narrowed(self, grant: _Grant, form: dict[str, str]) -> list[str] | None:
        """The resource scopes a token request asks for, which must be among those consented; None if not."""
        requested = _resource_scopes((form.get("scope") or "").split())
        consented = {permission(scope) for scope in grant.scopes}
        if any(permission(scope) not in consented for scope in requested):
            return None
        return requested or list(grant.scopes)

    def _issue(self, grant: _Grant, scopes: list[str], nonce: str | None) -> dict:
        now = self.clock()
        access_token = f"eyJ0eXAiOiJKV1Qi.{secrets.token_urlsafe(48)}"
        self._access_tokens[access_token] = AccessToken(grant.user, scopes, now + self.access_token_lifetime)
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
        return self._signed_id_token(claims)


# --- Small pieces of the protocols ---------------------------------------------------------------------------


def _client_info(oid: str, tenant_id: str) -> str:
    """What msal builds the account's home_account_id from ("oid.tid")."""
    return b64url(json.dumps({"uid": oid, "utid": tenant_id}).encode())


def _pairwise_sub(oid: str, client_id: str) -> str:
    """Microsoft's `sub` differs per app for the same user; `oid` is the stable one."""
    return b64url(hashlib.sha256(f"{oid}:{client_id}".encode()).digest())


def _resource_scopes(scopes: list[str]) -> list[str]:
    return [scope for scope in scopes if scope.lower() not in _RESERVED]


def _pkce_matches(code: _Code, verifier: str | None) -> bool:
    if code.challenge is None:
        return True
    if not verifier:
        return False
    return pkce_matches(verifier, code.challenge, code.method)


def _oauth_error(status: int, error: str, description: str, **extra: str) -> Reply:
    """The token endpoint's error shape: OAuth's two fields plus Microsoft's numeric AADSTS codes and ids."""
    return json_reply(status, {"error": error, "error_description": description,
                               "error_codes": [int(code) for code in re.findall(r"AADSTS(\d+)", description)],
                               "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
                               "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4()), **extra})


def _consent_required() -> Reply:
    return _oauth_error(400, "invalid_grant", "AADSTS65001: The user or administrator has not consented to use the "
                                              "application.", suberror="consent_required")


def start() -> FakeMicrosoft:
    """Serve a new fake on a free loopback port over HTTPS; stop it with `fake.stop()`."""
    return FakeMicrosoft().serve()
