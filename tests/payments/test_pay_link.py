"""{pay_link}: a stable link in the e-mail that opens Stripe Checkout for what is owed when it is clicked."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from plixo.audit import AuditEvent
from plixo.connectors.models import Connection
from plixo.extensions import db
from plixo.ledger.models import Customer, Invoice
from plixo.ledger.payer_links import link_maker, pay_url, portal_url, read_pay_token, read_portal_token
from plixo.outreach.cadences import StepInput, create_cadence, tick
from plixo.outreach.merge_fields import merge_values
from plixo.outreach.models import Message, Segment
from plixo.payments import checkout
from plixo.payments.checkout import CheckoutError
from plixo.payments.models import CheckoutSession
from plixo.tenancy import tenant_scope
from tests.conftest import run_jobs
from tests.factories import make_contact, make_customer, make_invoice, workspace_today
from tests.payments.test_connector import connect_with_key, connect_with_oauth


@pytest.fixture
def ledger(org):
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex")
        make_contact(customer, email="ap@globex.example")
        first = make_invoice(org, customer, number="INV-1", amount_minor=100_000, balance_minor=100_000)
        second = make_invoice(org, customer, number="INV-2", amount_minor=50_000, balance_minor=50_000)
    db.session.commit()
    return customer, first, second


def link_path(org, customer, *invoices) -> str:
    return urlsplit(pay_url(org.id, customer.id, customer.portal_version, [i.id for i in invoices])).path


def reload(org, model, object_id):
    with tenant_scope(org.id):
        return db.session.get(model, object_id)


# Clicking the link

def test_the_link_shows_what_is_owed_now_and_starts_nothing_until_asked(client, anon, org, ledger, fake_stripe):
    connect_with_oauth(client, fake_stripe)
    customer, first, second = ledger
    response = anon.get(link_path(org, customer, first, second))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Pay $1,500.00" in page and "INV-1" in page and "INV-2" in page
    assert response.headers["Referrer-Policy"] == "no-referrer"  # the link is a credential: never pass it on
    assert fake_stripe.sessions == {}  # a mail scanner opening the link creates no Checkout page


def test_paying_opens_checkout_on_the_connected_account_for_the_open_balance(client, anon, org, ledger,
                                                                           fake_stripe):
    account = connect_with_oauth(client, fake_stripe)
    customer, first, second = ledger
    response = anon.post(link_path(org, customer, first, second))
    (checkout,) = fake_stripe.sessions.values()
    assert response.status_code == 303 and response.headers["Location"] == checkout["url"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert checkout["account"] == account  # Stripe-Account: the workspace's own Stripe account takes the money
    assert checkout["amount_total"] == 150_000 and checkout["currency"] == "usd"
    assert [item["price_data"]["product_data"]["name"] for item in checkout["line_items"]] == \
        ["Invoice INV-1", "Invoice INV-2"]
    expected = f"{first.id},{second.id}"
    assert checkout["metadata"]["plixo_invoice_ids"] == expected
    assert checkout["payment_intent_metadata"]["plixo_invoice_ids"] == expected
    assert checkout["customer_email"] == "ap@globex.example"
    assert checkout["success_url"].endswith("/done?checkout=paid")
    assert 1800 <= checkout["expires_at"] - time.time() <= 3600  # open for an hour at most


def test_a_link_never_charges_a_stale_amount(client, anon, org, ledger, fake_stripe):
    connect_with_key(client, fake_stripe)
    customer, first, _second = ledger
    path = link_path(org, customer, first)  # sent when 1,000.00 was owed
    with tenant_scope(org.id):
        db.session.get(Invoice, first.id).balance_minor = 40_000  # part was paid by bank transfer since
        db.session.commit()
    anon.post(path)
    (checkout,) = fake_stripe.sessions.values()
    assert checkout["amount_total"] == 40_000


def test_a_second_click_reuses_the_open_checkout_page(client, anon, org, ledger, fake_stripe):
    connect_with_key(client, fake_stripe)
    customer, first, _second = ledger
    path = link_path(org, customer, first)
    assert anon.post(path).headers["Location"] == anon.post(path).headers["Location"]
    assert len(fake_stripe.sessions) == 1


def test_the_portal_reuses_the_page_the_link_opened_for_the_same_invoices(app, client, anon, org, ledger,
                                                                          fake_stripe):
    connect_with_key(client, fake_stripe)
    customer, first, _second = ledger
    from_link = anon.post(link_path(org, customer, first)).headers["Location"]
    payer = app.test_client()
    payer.get(urlsplit(portal_url(org.id, customer.id, customer.portal_version)).path)
    assert payer.post("/portal/pay", data={"invoice_id": [first.id]}).headers["Location"] == from_link
    assert len(fake_stripe.sessions) == 1


def test_a_new_amount_expires_the_old_page_so_it_cannot_also_be_paid(client, anon, org, ledger, fake_stripe):
    connect_with_key(client, fake_stripe)
    customer, first, second = ledger
    anon.post(link_path(org, customer, first))
    (old,) = fake_stripe.sessions
    anon.post(link_path(org, customer, first, second))  # now both invoices: a page that covers the first again
    assert fake_stripe.sessions[old]["status"] == "expired"
    assert sorted(s["status"] for s in fake_stripe.sessions.values()) == ["expired", "open"]
    with tenant_scope(org.id):
        assert sorted(db.session.scalars(select(CheckoutSession.status))) == ["expired", "open"]


def test_a_page_paid_a_moment_ago_is_not_replaced_by_another(client, anon, org, ledger, fake_stripe):
    connect_with_key(client, fake_stripe)
    customer, first, second = ledger
    anon.post(link_path(org, customer, first))
    (paid,) = fake_stripe.sessions
    fake_stripe.sessions[paid]["status"] = "complete"  # paid on Stripe; the webhook has not arrived yet
    response = anon.post(link_path(org, customer, first, second))
    assert response.status_code == 409 and "was just made and is being processed" in response.get_data(as_text=True)
    assert len(fake_stripe.sessions) == 1


def test_a_paid_invoice_shows_already_paid_and_asks_stripe_nothing(client, anon, org, ledger, fake_stripe):
    connect_with_key(client, fake_stripe)
    customer, first, _second = ledger
    with tenant_scope(org.id):
        paid = db.session.get(Invoice, first.id)
        paid.balance_minor, paid.status = 0, "paid"
        db.session.commit()
    for response in (anon.get(link_path(org, customer, first)), anon.post(link_path(org, customer, first))):
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and "Already paid" in page and "nothing left to pay" in page
    assert fake_stripe.sessions == {}


def test_a_disputed_invoice_is_shown_under_review_not_paid(anon, org, ledger):
    customer, first, _second = ledger
    with tenant_scope(org.id):
        db.session.get(Invoice, first.id).status = "disputed"
        db.session.commit()
    page = anon.get(link_path(org, customer, first)).get_data(as_text=True)
    assert "Under review" in page and "Already paid" not in page


def test_only_what_is_still_open_is_charged(client, anon, org, ledger, fake_stripe):
    connect_with_key(client, fake_stripe)
    customer, first, second = ledger
    with tenant_scope(org.id):
        db.session.get(Invoice, first.id).status = "disputed"
        db.session.commit()
    anon.post(link_path(org, customer, first, second))
    (checkout,) = fake_stripe.sessions.values()
    assert checkout["amount_total"] == 50_000 and checkout["metadata"]["plixo_invoice_ids"] == str(second.id)


def test_without_stripe_the_payer_is_told_to_contact_the_company(anon, org, ledger, fake_stripe):
    customer, first, _second = ledger
    response = anon.post(link_path(org, customer, first))
    assert response.status_code == 409
    assert "does not take online payments yet" in response.get_data(as_text=True)
    assert fake_stripe.requests == []


def test_when_stripe_refuses_the_payer_gets_a_plain_message_and_the_team_the_reason(client, anon, org, ledger,
                                                                                    fake_stripe):
    connect_with_key(client, fake_stripe)
    fake_stripe.keys.clear()  # the key was rolled in the Stripe Dashboard
    customer, first, _second = ledger
    response = anon.post(link_path(org, customer, first))
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "Online payment is unavailable right now" in page
    assert "did not accept" not in page  # Stripe's wording is for the team, not the payer
    with tenant_scope(org.id):
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "payments.checkout_started")) is None
        assert "Stripe did not accept the key" in db.session.scalar(select(Connection.last_error))
    assert "Stripe did not accept the key" in client.get("/admin/connectors/stripe").get_data(as_text=True)


def test_more_invoices_than_stripe_metadata_holds_are_refused_before_asking_stripe(org):
    customer = Customer(id=1, org_id=org.id, external_id="C", name="Globex")
    many = [Invoice(id=10**9 + n, org_id=org.id, customer_id=1, number=f"I{n}", currency="USD", balance_minor=100,
                    status="open") for n in range(60)]
    with pytest.raises(CheckoutError, match="more invoices than one payment can cover"):
        checkout._checked(customer, many)


def test_the_return_pages_thank_or_offer_to_try_again(anon, org, ledger):
    customer, first, _second = ledger
    path = link_path(org, customer, first)
    assert "Thank you" in anon.get(f"{path}/done?checkout=paid").get_data(as_text=True)
    cancelled = anon.get(f"{path}/done?checkout=cancelled").get_data(as_text=True)
    assert "Nothing was charged" in cancelled and f'href="{path}"' in cancelled


# Bad links

def test_a_tampered_link_is_refused(anon, org, ledger):
    customer, first, _second = ledger
    path = link_path(org, customer, first)
    response = anon.get(path[:-3] + ("xyz" if not path.endswith("xyz") else "abc"))
    assert response.status_code == 404 and "not valid" in response.get_data(as_text=True)


def test_an_expired_link_is_refused(anon, org, ledger, monkeypatch):
    customer, first, _second = ledger
    sent = dt.datetime.now(dt.UTC) - dt.timedelta(days=61)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(sent.timestamp()))
    path = link_path(org, customer, first)
    monkeypatch.undo()
    response = anon.get(path)
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)


def test_a_revoked_link_is_refused(anon, org, ledger, fake_stripe):
    customer, first, _second = ledger
    path = link_path(org, customer, first)
    with tenant_scope(org.id):
        db.session.get(Customer, customer.id).portal_version += 1
        db.session.commit()
    response = anon.get(path)
    assert response.status_code == 410 and "no longer valid" in response.get_data(as_text=True)


def test_a_link_cannot_reach_another_customers_invoice(client, anon, org, ledger, fake_stripe):
    connect_with_key(client, fake_stripe)
    customer, _first, _second = ledger
    with tenant_scope(org.id):
        stranger = make_invoice(org, make_customer(org, name="Initech"), number="INV-X")
    db.session.commit()
    # A validly signed link for Globex naming Initech's invoice (as a forged id would): not found, nothing shown.
    for response in (anon.get(link_path(org, customer, stranger)), anon.post(link_path(org, customer, stranger))):
        assert response.status_code == 404 and "INV-X" not in response.get_data(as_text=True)
    assert fake_stripe.sessions == {}


# The link in e-mails

def test_drafts_carry_pay_and_portal_links_once_stripe_is_connected(client, org, controller, ledger, fake_stripe):
    customer, first, _second = ledger
    with tenant_scope(org.id):
        invoice = db.session.get(Invoice, first.id)
        assert merge_values(invoice, workspace_today(), "Cora", link_maker(db.session, org.id))["pay_link"] == ""
    connect_with_key(client, fake_stripe)
    with tenant_scope(org.id):
        values = merge_values(invoice, workspace_today(), "Cora", link_maker(db.session, org.id))
    claim = read_pay_token(urlsplit(values["pay_link"]).path.rsplit("/", 1)[1])
    assert values["pay_link"].startswith("http://localhost/pay/") and claim.invoice_ids == (first.id,)
    portal = read_portal_token(urlsplit(values["portal_link"]).path.rsplit("/", 1)[1])
    assert (portal.org_id, portal.customer_id) == (org.id, customer.id)


def test_a_consolidated_reminder_links_to_paying_all_its_invoices(client, org, controller, ledger, fake_stripe):
    connect_with_key(client, fake_stripe)
    _customer, first, second = ledger
    now = dt.datetime.now(dt.UTC)
    with tenant_scope(org.id):
        segment = Segment(org_id=org.id, name="All", rules={}, mode="shadow")
        db.session.add(segment)
        db.session.flush()
        step = StepInput(1, "due_date", "Overdue: {invoice_number}", "Please pay {amount_due}: {pay_link}")
        create_cadence(db.session, org, controller, "Reminders", segment.id, [step], "shadow", now)
        tick(db.session, org, now)
        (draft,) = db.session.scalars(select(Message)).all()
    token = draft.body.split("/pay/", 1)[1].split()[0]
    assert draft.wait_reason is None and read_pay_token(token).invoice_ids == tuple(sorted([first.id, second.id]))


# End to end

def test_paying_through_the_link_marks_the_invoices_paid(client, anon, org, ledger, fake_stripe):
    connect_with_oauth(client, fake_stripe)
    customer, first, second = ledger
    anon.post(link_path(org, customer, first, second))
    (session_id,) = fake_stripe.sessions
    fake_stripe.complete_checkout(session_id)
    assert fake_stripe.deliver(anon) == [200, 200]
    run_jobs()
    assert [(i.balance_minor, i.status) for i in (reload(org, Invoice, first.id), reload(org, Invoice, second.id))] \
        == [(0, "paid"), (0, "paid")]


# Paying from the portal

def test_the_portal_pays_the_invoices_the_payer_ticks_and_returns_to_the_portal(app, client, org, ledger,
                                                                                fake_stripe):
    connect_with_oauth(client, fake_stripe)
    customer, _first, second = ledger
    payer = app.test_client()
    payer.get(urlsplit(portal_url(org.id, customer.id, customer.portal_version)).path)
    response = payer.post("/portal/pay", data={"invoice_id": [second.id]})
    (checkout,) = fake_stripe.sessions.values()
    assert response.status_code == 303 and response.headers["Location"] == checkout["url"]
    assert checkout["amount_total"] == 50_000 and checkout["metadata"]["plixo_invoice_ids"] == str(second.id)
    assert checkout["success_url"] == "http://localhost/portal?checkout=paid"
    assert "Your payment was received by Stripe" in payer.get("/portal?checkout=paid").get_data(as_text=True)
