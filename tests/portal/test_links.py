"""Opening the portal: the link becomes a short portal session, and only a live, unrevoked one shows anything."""

from __future__ import annotations

import datetime as dt

from itsdangerous import TimestampSigner

from plixo.extensions import db
from plixo.ledger.models import Customer
from plixo.tenancy import tenant_scope
from tests.portal.conftest import link_path, reload


def bump_portal_version(org, customer) -> None:
    with tenant_scope(org.id):
        db.session.get(Customer, customer.id).portal_version += 1
        db.session.commit()


def page(response) -> str:
    return response.get_data(as_text=True)


# Opening a link

def test_a_valid_link_redirects_to_the_clean_address(anon, org, ledger):
    response = anon.get(link_path(org, ledger.customer))
    assert response.status_code == 303 and response.headers["Location"] == "/portal"


def test_the_link_is_exchanged_for_a_short_httponly_portal_cookie(app, anon, org, ledger):
    response = anon.get(link_path(org, ledger.customer))
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("plixo_portal="))
    minutes = app.config["PORTAL_SESSION_MINUTES"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/portal" in cookie
    assert f"Max-Age={minutes * 60}" in cookie


def test_the_portal_session_is_not_the_team_session(anon, org, ledger):
    anon.get(link_path(org, ledger.customer))
    with anon.session_transaction() as team_session:
        assert "org_id" not in team_session and "_user_id" not in team_session


def test_the_portal_shows_the_customers_open_invoices(payer):
    shown = page(payer.get("/portal"))
    assert "INV-1" in shown and "INV-2" in shown and "$1,000.00" in shown and "Globex" in shown


def test_the_portal_totals_the_balance_by_currency(payer):
    assert "Total USD: <strong>$1,500.00</strong>" in page(payer.get("/portal"))


def test_portal_pages_send_no_referrer_and_are_not_cached(payer):
    response = payer.get("/portal")
    assert response.headers["Referrer-Policy"] == "no-referrer" and response.headers["Cache-Control"] == "no-store"


def test_the_link_page_itself_sends_no_referrer(anon, org, ledger):
    assert anon.get(link_path(org, ledger.customer)).headers["Referrer-Policy"] == "no-referrer"


def test_the_portal_has_no_team_navigation_and_no_inline_styles(payer):
    shown = page(payer.get("/portal"))
    assert "Main navigation" not in shown and " style=" not in shown and "<script>" not in shown


def test_nothing_to_pay_is_said_plainly(payer, org, ledger):
    with tenant_scope(org.id):
        for invoice in (ledger.overdue, ledger.upcoming):
            paid = db.session.get(type(invoice), invoice.id)
            paid.balance_minor, paid.status = 0, "paid"
        db.session.commit()
    shown = page(payer.get("/portal"))
    assert "Nothing to pay" in shown and "INV-1" not in shown


# Links that cannot be honoured

def test_an_expired_link_is_refused(anon, org, ledger, monkeypatch):
    sent = dt.datetime.now(dt.UTC) - dt.timedelta(days=61)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(sent.timestamp()))
    path = link_path(org, ledger.customer)
    monkeypatch.undo()
    response = anon.get(path)
    assert response.status_code == 410 and "expired" in page(response)
    assert "plixo_portal" not in response.headers.get("Set-Cookie", "")


def test_a_tampered_link_is_refused_and_reveals_nothing(anon, org, ledger):
    path = link_path(org, ledger.customer)
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    response = anon.get(tampered)
    assert response.status_code == 404 and "not valid" in page(response)
    assert "Globex" not in page(response) and org.name not in page(response)


def test_a_revoked_link_is_refused(anon, org, ledger):
    path = link_path(org, ledger.customer)
    bump_portal_version(org, ledger.customer)
    response = anon.get(path)
    assert response.status_code == 410 and "no longer valid" in page(response) and "Globex" not in page(response)


def test_revoking_the_links_ends_a_live_portal_session(payer, org, ledger):
    bump_portal_version(org, ledger.customer)
    response = payer.get("/portal")
    assert response.status_code == 410 and "INV-1" not in page(response)
    assert "plixo_portal=; Expires=Thu, 01 Jan 1970" in response.headers["Set-Cookie"]  # the stale cookie is dropped


def test_a_link_for_an_unknown_customer_is_refused(anon, org, ledger):
    unknown = Customer(id=ledger.customer.id + 1000, portal_version=1)
    response = anon.get(link_path(org, unknown))
    assert response.status_code == 410 and org.name not in page(response)


def test_a_link_for_an_unknown_workspace_is_refused(anon, org, ledger):
    from plixo.ledger.payer_links import portal_token

    response = anon.get(f"/portal/{portal_token(org.id + 1000, ledger.customer.id, 1)}")
    assert response.status_code == 410


# The portal session

def test_without_a_portal_session_the_page_says_it_ended(anon, ledger):
    response = anon.get("/portal")
    assert response.status_code == 403 and "session has ended" in page(response) and "INV-1" not in page(response)


def test_a_signed_in_teammate_has_no_portal_session(client, ledger):
    assert client.get("/portal").status_code == 403


def test_the_session_ends_after_the_configured_idle_minutes(app, payer, monkeypatch):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=app.config["PORTAL_SESSION_MINUTES"] + 1)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(later.timestamp()))
    response = payer.get("/portal")
    assert response.status_code == 403 and "INV-1" not in page(response)


def test_each_request_renews_the_idle_timeout(payer):
    assert "plixo_portal=" in payer.get("/portal").headers["Set-Cookie"]


def test_a_forged_session_cookie_is_refused(anon, org, ledger):
    from plixo.ledger.payer_links import portal_token

    # A portal link is signed too, but for another purpose: it is not a session.
    anon.set_cookie("plixo_portal", portal_token(org.id, ledger.customer.id, 1), path="/portal")
    assert anon.get("/portal").status_code == 403


def test_leaving_ends_the_portal_session(payer):
    assert payer.post("/portal/leave").status_code == 200
    assert payer.get("/portal").status_code == 403


def test_leaving_ends_the_session_for_a_copied_cookie_too(app, payer):
    copied = payer.get_cookie("plixo_portal", path="/portal").value
    assert payer.post("/portal/leave").status_code == 200
    elsewhere = app.test_client()
    elsewhere.set_cookie("plixo_portal", copied, path="/portal")
    assert elsewhere.get("/portal").status_code == 403


def test_a_session_cookie_of_a_revoked_version_never_reaches_the_data(payer, org, ledger):
    bump_portal_version(org, ledger.customer)
    assert payer.post("/portal/promise", data={"invoice_id": ledger.overdue.id, "amount": "10"}).status_code == 410
    assert reload(org, Customer, ledger.customer.id).portal_version == 2


def test_an_unexpected_error_shows_the_payer_a_plain_page(payer, monkeypatch):
    from plixo.portal import service

    def broken(*_args):
        raise RuntimeError("database went away")

    monkeypatch.setattr(service, "overview", broken)
    response = payer.get("/portal")
    assert response.status_code == 500 and "nothing was half-saved" in page(response)
    assert "sign in" not in page(response) and response.headers["Referrer-Policy"] == "no-referrer"
