"""Admin → Connectors → Stripe against the fake Stripe: Connect OAuth, restricted keys, the test event, disconnect."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
from sqlalchemy import func, select, text

from plixo.audit import AuditEvent
from plixo.connectors.models import Connection
from plixo.extensions import db
from plixo.payments.models import StripeAccount, WebhookEvent
from plixo.tenancy import tenant_scope
from tests import stripe_events as se
from tests.conftest import run_jobs
from tests.factories import make_org

CONNECTOR = "/admin/connectors/stripe"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def stripe_approves(authorize_url: str) -> str:
    """The controller approves on Stripe's page; the path and query Stripe sends the browser back to."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(authorize_url)
    except urllib.error.HTTPError as redirect:
        location = redirect.headers["Location"]
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def endpoint_params(fake) -> dict:
    return next(r["params"] for r in fake.requests if r["path"] == "/v1/webhook_endpoints")


def connection_of(org) -> Connection | None:
    with tenant_scope(org.id):
        return db.session.scalar(select(Connection).where(Connection.kind == "stripe"))


def routes() -> list[tuple[int, str]]:
    return [tuple(r) for r in db.session.execute(select(StripeAccount.org_id, StripeAccount.account_id))]


def audit_actions(org) -> list[str]:
    with tenant_scope(org.id):
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def connect_with_oauth(client, fake, name="Acme Payments") -> str:
    account = fake.add_account(name=name)
    fake.next_oauth_account = account
    started = client.post(f"{CONNECTOR}/connect")
    client.get(stripe_approves(started.headers["Location"]))
    return account


def connect_with_key(client, fake, **permissions) -> tuple[str, str]:
    account = fake.add_account(name="Direct Co")
    key = fake.add_restricted_key(account, **permissions)
    client.post(f"{CONNECTOR}/key", data={"api_key": key})
    return account, key


# Connect OAuth

def test_connect_oauth_sends_the_controller_to_stripe_with_a_state(client, fake_stripe):
    response = client.post(f"{CONNECTOR}/connect")
    location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert response.status_code == 302 and location.path == "/oauth/authorize"
    assert query["client_id"] == ["ca_test_plixo"] and query["scope"] == ["read_write"] and query["state"][0]
    assert query["redirect_uri"] == ["http://localhost/admin/connectors/stripe/callback"]


def test_connect_oauth_connects_the_account_stripe_names(client, org, fake_stripe):
    account = connect_with_oauth(client, fake_stripe)
    connection = connection_of(org)
    assert (connection.status, connection.external_account_id, connection.display_name) == \
        ("active", account, "Acme Payments")
    assert routes() == [(org.id, account)]
    assert json.loads(connection.secrets) == {"mode": "oauth"}
    assert "connectors.stripe_connected" in audit_actions(org)
    page = client.get(CONNECTOR).get_data(as_text=True)
    assert "Active" in page and account in page and "Stripe Connect" in page


def test_a_callback_with_another_state_connects_nothing(client, org, fake_stripe):
    fake_stripe.next_oauth_account = fake_stripe.add_account()
    started = client.post(f"{CONNECTOR}/connect")
    back = stripe_approves(started.headers["Location"]).replace("state=", "state=forged")
    page = client.get(back, follow_redirects=True).get_data(as_text=True)
    assert "not started from this workspace" in page
    assert connection_of(org) is None and routes() == []


def test_a_refused_authorisation_connects_nothing(client, org, fake_stripe):
    fake_stripe.deny_oauth = True
    started = client.post(f"{CONNECTOR}/connect")
    page = client.get(stripe_approves(started.headers["Location"]), follow_redirects=True).get_data(as_text=True)
    assert "Stripe was not connected: The user denied your request" in page
    assert connection_of(org) is None


def test_a_used_code_is_refused_by_stripe_and_connects_nothing(client, org, fake_stripe):
    fake_stripe.next_oauth_account = fake_stripe.add_account()
    started = client.post(f"{CONNECTOR}/connect")
    back = stripe_approves(started.headers["Location"])
    fake_stripe.codes.clear()  # Stripe has already exchanged it
    page = client.get(back, follow_redirects=True).get_data(as_text=True)
    assert "Authorization code does not exist" in page
    assert connection_of(org) is None and routes() == []


def test_without_platform_settings_only_the_restricted_key_is_offered(client, app, fake_stripe):
    app.config["STRIPE_CLIENT_ID"] = ""
    page = client.get(CONNECTOR).get_data(as_text=True)
    assert "Not available on this server" in page and "Connect with key" in page
    assert "rk_live_" in page


# Restricted key

def test_a_restricted_key_connects_and_gets_its_own_webhook_endpoint(client, org, fake_stripe):
    account, key = connect_with_key(client, fake_stripe)
    connection = connection_of(org)
    (endpoint,) = fake_stripe.endpoints.values()
    assert connection.status == "active" and connection.external_account_id == account
    assert endpoint["url"] == f"http://localhost/webhooks/stripe/accounts/{account}"
    assert "checkout.session.completed" in endpoint["enabled_events"]
    assert "customer.created" in endpoint["enabled_events"]
    assert endpoint_params(fake_stripe)["api_version"] == stripe.api_version  # events in the shape apply.py reads
    route = db.session.scalar(select(StripeAccount))
    assert (route.account_id, route.webhook_secret) == (account, endpoint["secret"])
    assert json.loads(connection.secrets)["api_key"] == key


def test_the_key_and_the_endpoint_secret_are_encrypted_at_rest(client, org, fake_stripe):
    _account, key = connect_with_key(client, fake_stripe)
    with db.engine.connect() as raw:
        if raw.dialect.name == "postgresql":  # row-level security shows a workspace's rows only inside its scope
            raw.execute(text("SELECT set_config('plixo.workspace', :org, true)"), {"org": str(org.id)})
        stored_secrets = raw.execute(text("SELECT secrets FROM connections")).scalar()
        stored_route = raw.execute(text("SELECT webhook_secret FROM stripe_accounts")).scalar()
    assert key not in stored_secrets and "whsec_" not in stored_route


@pytest.mark.parametrize(("pasted", "message"), [
    ("", "Paste the restricted key"),
    ("sk_live_abcdef", "That is a secret key"),
    ("pk_live_abcdef", "does not look like a restricted key"),
    ("rk_test_unknown", "Stripe did not accept the key"),
])
def test_a_bad_key_is_refused_with_a_reason_and_stores_nothing(client, org, fake_stripe, pasted, message):
    page = client.post(f"{CONNECTOR}/key", data={"api_key": pasted}, follow_redirects=True).get_data(as_text=True)
    assert message in page
    assert connection_of(org) is None and routes() == [] and fake_stripe.endpoints == {}


def test_a_key_that_cannot_create_webhooks_is_refused_and_stores_nothing(client, org, fake_stripe):
    account = fake_stripe.add_account()
    key = fake_stripe.add_restricted_key(account, permissions=("checkout", "customers"))
    page = client.post(f"{CONNECTOR}/key", data={"api_key": key}, follow_redirects=True).get_data(as_text=True)
    assert "lacks a permission Plixo needs" in page and "rak_webhook_write" in page
    assert connection_of(org) is None and routes() == []


def test_an_account_connected_to_another_workspace_is_refused(client, org, fake_stripe):
    other = make_org(name="Other Co")
    account = fake_stripe.add_account()
    db.session.add(StripeAccount(org_id=other.id, account_id=account))
    db.session.commit()
    key = fake_stripe.add_restricted_key(account)
    page = client.post(f"{CONNECTOR}/key", data={"api_key": key}, follow_redirects=True).get_data(as_text=True)
    assert "already connected to another Plixo workspace" in page
    assert routes() == [(other.id, account)] and connection_of(org) is None


def test_an_account_without_charges_is_connected_in_error(client, org, fake_stripe):
    account = fake_stripe.add_account(charges_enabled=False)
    client.post(f"{CONNECTOR}/key", data={"api_key": fake_stripe.add_restricted_key(account)})
    connection = connection_of(org)
    assert connection.status == "error" and "not enabled charges" in connection.last_error
    assert "Error" in client.get(CONNECTOR).get_data(as_text=True)


# The account's own endpoint

def test_events_on_the_account_endpoint_need_that_endpoints_secret(client, anon, org, fake_stripe):
    account, _key = connect_with_key(client, fake_stripe)
    evt = se.account_updated(None, True)
    body = se.body_of(evt)
    refused = anon.post(f"/webhooks/stripe/accounts/{account}", data=body, content_type="application/json",
                        headers={"Stripe-Signature": se.sign(body)})  # the platform's secret, not this endpoint's
    assert refused.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_an_unknown_account_endpoint_answers_404(anon, fake_stripe):
    body = se.body_of(se.account_updated(None, True))
    response = anon.post("/webhooks/stripe/accounts/acct_nobody", data=body, content_type="application/json",
                         headers={"Stripe-Signature": se.sign(body)})
    assert response.status_code == 404


# Send test event

def test_a_test_event_through_the_accounts_endpoint_turns_the_badge_green(client, org, fake_stripe):
    connect_with_key(client, fake_stripe)
    client.post(f"{CONNECTOR}/test")
    assert "Waiting for the test event" in client.get(CONNECTOR).get_data(as_text=True)
    assert fake_stripe.customers == {}  # the customer it made to cause the event is deleted again
    assert fake_stripe.deliver(client) == [200]
    run_jobs()
    assert "Stripe test received" in client.get(CONNECTOR).get_data(as_text=True)
    assert "Stripe test received" in client.get("/").get_data(as_text=True)  # the Data-Ready widget
    assert "connectors.stripe_test_received" in audit_actions(org)


def test_a_test_event_through_connect_arrives_at_the_platform_endpoint(client, org, fake_stripe):
    account = connect_with_oauth(client, fake_stripe)
    client.post(f"{CONNECTOR}/test")
    (delivery,) = fake_stripe.outbox
    assert delivery.url.endswith("/webhooks/stripe") and delivery.event["account"] == account
    fake_stripe.deliver(client)
    run_jobs()
    assert connection_of(org).settings["test_received_at"]


def test_other_customers_created_on_the_account_are_ignored(client, org, fake_stripe):
    account = connect_with_oauth(client, fake_stripe)
    fake_stripe._emit(account, se.event("customer.created", {"id": "cus_theirs", "metadata": {}}, None))
    fake_stripe.deliver(client)
    run_jobs()
    assert db.session.scalar(select(WebhookEvent.status)) == "ignored"
    assert connection_of(org).settings.get("test_received_at") is None


def test_a_test_event_needs_a_connection(client, fake_stripe):
    page = client.post(f"{CONNECTOR}/test", follow_redirects=True).get_data(as_text=True)
    assert "Connect Stripe first" in page


# Disconnect

def test_disconnect_asks_for_confirmation_first(client, org, fake_stripe):
    connect_with_oauth(client, fake_stripe)
    response = client.post(f"{CONNECTOR}/disconnect")
    assert response.headers["Location"].endswith("?confirm=disconnect")
    assert connection_of(org).status == "active"
    page = client.get(f"{CONNECTOR}?confirm=disconnect").get_data(as_text=True)
    assert "Disconnect Acme Payments?" in page and "Keep connected" in page


def test_disconnecting_a_key_account_removes_its_endpoint_route_and_secrets(client, org, fake_stripe):
    account, _key = connect_with_key(client, fake_stripe)
    client.post(f"{CONNECTOR}/disconnect", data={"confirm": "yes", "reason": "Moving to another processor"})
    connection = connection_of(org)
    assert (connection.status, connection.secrets) == ("disconnected", None)
    assert routes() == [] and fake_stripe.endpoints == {}
    with tenant_scope(org.id):
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "connectors.stripe_disconnected"))
    assert audit.reason == "Moving to another processor" and audit.before["account"] == account


def test_disconnecting_an_oauth_account_deauthorizes_plixo_and_stops_routing(client, anon, org, fake_stripe):
    account = connect_with_oauth(client, fake_stripe)
    client.post(f"{CONNECTOR}/disconnect", data={"confirm": "yes"})
    assert account not in fake_stripe.oauth_accounts
    evt = se.account_updated(account, True)
    anon.post("/webhooks/stripe", data=se.body_of(evt), content_type="application/json",
              headers={"Stripe-Signature": se.sign(se.body_of(evt))})
    assert db.session.scalar(select(WebhookEvent.status)) == "ignored"  # no workspace owns the account now
    assert "Not connected" not in client.get(CONNECTOR).get_data(as_text=True)
    assert "Connect again below" in client.get(CONNECTOR).get_data(as_text=True)


def test_disconnecting_without_connect_settings_warns_that_stripe_was_not_told(client, app, org, fake_stripe):
    account = connect_with_oauth(client, fake_stripe)
    app.config["STRIPE_CLIENT_ID"] = ""  # the server lost its Connect settings since
    page = client.post(f"{CONNECTOR}/disconnect", data={"confirm": "yes"}, follow_redirects=True)
    assert "Stripe was not told" in page.get_data(as_text=True) and account in fake_stripe.oauth_accounts
    assert connection_of(org).status == "disconnected" and routes() == []


# Replacing a connection

def test_a_new_key_replaces_the_old_endpoint_instead_of_leaving_it_behind(client, org, fake_stripe):
    connect_with_key(client, fake_stripe)
    account, _key = connect_with_key(client, fake_stripe)
    (endpoint,) = fake_stripe.endpoints.values()
    assert endpoint["account"] == account and routes() == [(org.id, account)]


def test_switching_from_connect_to_a_key_revokes_the_connect_grant(client, org, fake_stripe):
    first = connect_with_oauth(client, fake_stripe)
    second, _key = connect_with_key(client, fake_stripe)
    assert first not in fake_stripe.oauth_accounts and routes() == [(org.id, second)]


def test_authorising_the_same_account_again_keeps_its_grant(client, org, fake_stripe):
    account = connect_with_oauth(client, fake_stripe)
    fake_stripe.next_oauth_account = account
    client.get(stripe_approves(client.post(f"{CONNECTOR}/connect").headers["Location"]))
    assert account in fake_stripe.oauth_accounts and connection_of(org).status == "active"


def test_operators_cannot_open_or_change_the_connector(client_as, org, fake_stripe):
    operator = client_as("operator")
    assert operator.get(CONNECTOR).status_code == 403
    assert operator.post(f"{CONNECTOR}/key", data={"api_key": "rk_test_x"}).status_code == 403
    assert operator.post(f"{CONNECTOR}/disconnect", data={"confirm": "yes"}).status_code == 403
    assert connection_of(org) is None
