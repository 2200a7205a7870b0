"""Security baseline: permissions on every view, CSRF, headers, cookies, secrets."""

import pytest

from plixo import create_app
from plixo.config import ConfigError
from plixo.security import PERMISSIONS, PUBLIC, ROLES, role_can

PUBLIC_ENDPOINTS = {"static", "accounts.login", "accounts.signup", "accounts.accept_invite",
                    # sign-up finishes by a link e-mailed to the address; the dev sink page exists only locally
                    "accounts.signup_sent", "accounts.finish_signup", "accounts.dev_mail", "ops.healthz",
                    "payments.stripe_webhook", "payments.stripe_account_webhook",  # proven by Stripe's signature
                    # a signed pay link in the payer's e-mail is the credential
                    "payments.pay", "payments.start_payment", "payments.pay_done",
                    # the payer portal: a signed link, exchanged for a signed portal session (tests/portal/)
                    "portal.open_link", "portal.home", "portal.confirm_opt_out", "portal.brand_stylesheet",
                    "portal.logo", "portal.pay", "portal.propose_plan", "portal.open_dispute", "portal.log_promise",
                    "portal.opt_out", "portal.leave"}


def test_every_view_declares_its_permission(app):
    undeclared = [name for name, view in app.view_functions.items()
                  if name != "static" and getattr(view, "permission", None) is None]
    assert undeclared == []


def test_every_declared_permission_is_in_the_table(app):
    declared = {getattr(v, "permission", PUBLIC) for n, v in app.view_functions.items() if n != "static"}
    assert declared - {PUBLIC} <= set(PERMISSIONS)


def test_only_the_expected_views_are_public(app):
    public = {name for name, view in app.view_functions.items() if getattr(view, "permission", PUBLIC) == PUBLIC}
    assert public == PUBLIC_ENDPOINTS


def test_every_permission_names_only_known_roles():
    assert all(roles <= set(ROLES) for _text, roles in PERMISSIONS.values())


def test_unknown_permission_is_an_error_not_a_silent_no():
    with pytest.raises(KeyError):
        role_can("controller", "launch.missiles")


@pytest.mark.parametrize("role", sorted(set(ROLES) - {"controller"}))
def test_only_controllers_manage_users(client_as, role):
    assert client_as(role).get("/admin/users").status_code == 403


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_role_sees_the_shell(client_as, role):
    response = client_as(role).get("/")
    assert response.status_code == 200 and ROLES[role].encode() in response.data


def test_navigation_shows_only_permitted_areas(client_as):
    page = client_as("operator").get("/").data
    assert b"Users &amp; Roles" not in page and b"Audit log" not in page


def test_forbidden_page_is_friendly(client_as):
    response = client_as("cfo").get("/admin/audit")
    assert response.status_code == 403 and b"Ask your Controller" in response.data


def test_post_without_csrf_token_is_refused(client):
    response = client.post("/admin/users/invites", data={"email": "a@acmetest.example", "role": "operator"},
                           csrf=False)
    assert response.status_code == 400 and b"Reload the page" in response.data


def test_htmx_post_without_csrf_token_is_refused_with_a_toast(client):
    response = client.post("/admin/users/invites", data={"email": "a@acmetest.example", "role": "operator"},
                           headers={"HX-Request": "true"}, csrf=False)
    assert response.status_code == 400 and "shell:toast" in response.headers["HX-Trigger"]


def test_pages_send_the_csrf_token_for_htmx_in_hx_headers(client):
    assert b'hx-headers=\'{"X-CSRFToken": "' in client.get("/").data


def test_strict_content_security_policy(anon):
    csp = anon.get("/login").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


def test_no_inline_scripts_in_pages(client):
    page = client.get("/").data.decode()
    assert "<script>" not in page and "onclick=" not in page and " style=" not in page


def test_htmx_is_configured_without_eval_and_for_same_origin_only(client):
    page = client.get("/").data.decode()
    assert '"allowEval": false' in page and '"selfRequestsOnly": true' in page


@pytest.mark.parametrize(("header", "value"), [
    ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"), ("X-Frame-Options", "DENY"),
])
def test_security_headers(anon, header, value):
    assert anon.get("/login").headers[header] == value


def test_fragments_vary_on_hx_request(client):
    assert "HX-Request" in client.get("/").headers["Vary"]


PRODUCTION = {"PLIXO_ENV": "production", "SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": "sqlite://",
              "PUBLIC_BASE_URL": "https://pay.acme.example",
              "RATELIMIT_STORAGE_URI": "memory://", "ENCRYPTION_KEYS": "Q2hhbmdlTWVDaGFuZ2VNZUNoYW5nZU1lQ2hhbmdlTWU="}


def test_production_requires_a_secret_key(monkeypatch, redis_url):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"PLIXO_ENV": "production", "REDIS_URL": redis_url})


@pytest.mark.parametrize("missing", ["REDIS_URL", "ENCRYPTION_KEYS", "PUBLIC_BASE_URL"])
def test_production_requires_redis_encryption_keys_and_its_public_address(monkeypatch, redis_url, missing):
    monkeypatch.delenv(missing, raising=False)
    settings = {**PRODUCTION, "REDIS_URL": redis_url}
    settings.pop(missing)
    with pytest.raises(ConfigError, match=missing):
        create_app(settings)


def test_production_links_use_https(redis_url):
    with pytest.raises(ConfigError, match="https"):
        create_app({**PRODUCTION, "REDIS_URL": redis_url, "PUBLIC_BASE_URL": "http://pay.acme.example"})


def test_signed_in_pages_are_not_cached(client):
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_rate_limited_answer_says_when_to_retry(anon, controller):
    for _ in range(11):
        response = anon.post("/login", data={"email": controller.email, "password": "nope nope nope"})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0


def test_method_not_allowed_lists_the_allowed_methods(client):
    response = client.delete("/admin/users")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]


def _failed_sign_in_ip(application, controller) -> str:
    from sqlalchemy import select

    from plixo.audit import AuditEvent
    from plixo.extensions import db

    application.test_client().post("/login", data={"email": controller.email, "password": "wrong password!"},
                                   environ_base={"REMOTE_ADDR": "10.0.0.1"},
                                   headers={"X-Forwarded-For": "203.0.113.9"})
    db.session.expire_all()
    from tests.factories import across_workspaces

    return across_workspaces(select(AuditEvent.ip).order_by(AuditEvent.id.desc()))[0]


def test_client_ip_comes_from_the_trusted_proxy_header_when_configured(make_app, app, controller):
    behind_proxy = make_app(**{**app.config, "PROXY_FIX_HOPS": 1, "RATELIMIT_STORAGE_URI": "memory://"})
    assert _failed_sign_in_ip(behind_proxy, controller) == "203.0.113.9"


def test_forwarded_headers_are_ignored_without_a_trusted_proxy(app, controller):
    assert _failed_sign_in_ip(app, controller) == "10.0.0.1"


def test_production_cookies_are_secure_httponly_and_samesite(make_app, redis_url):
    config = make_app(**PRODUCTION, REDIS_URL=redis_url).config
    assert (config["SESSION_COOKIE_SECURE"], config["SESSION_COOKIE_HTTPONLY"], config["SESSION_COOKIE_SAMESITE"]) == (
        True, True, "Lax")


def test_production_sends_hsts(make_app, redis_url):
    production = make_app(**PRODUCTION, REDIS_URL=redis_url)
    assert "max-age" in production.test_client().get("/login").headers["Strict-Transport-Security"]


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and b"There is nothing here" in response.data
