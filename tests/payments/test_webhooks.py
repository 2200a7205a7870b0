"""Stripe webhooks: verified on the raw body, stored once, applied by the real worker idempotently and in any order."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis.exceptions import RedisError
from sqlalchemy import func, select, update
from werkzeug.serving import make_server

from jobs.webhooks import sweep_unapplied_events
from plixo.audit import AuditEvent
from plixo.connectors.models import Connection
from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.ledger.models import Invoice, Payment
from plixo.model import utcnow
from plixo.outreach.models import Message
from plixo.payments.models import StripeAccount, WebhookEvent
from plixo.promises.models import Promise
from plixo.tenancy import tenant_scope
from tests import stripe_events as se
from tests.conftest import run_jobs
from tests.factories import make_contact, make_customer, make_invoice, make_org, workspace_today

ACCOUNT = "acct_1PlixoTest"


@pytest.fixture(autouse=True)
def webhook_secret(app):
    app.config["STRIPE_WEBHOOK_SECRET"] = se.WEBHOOK_SECRET
    yield
    app.config["STRIPE_WEBHOOK_SECRET"] = ""


def connect(org, account: str = ACCOUNT) -> None:
    db.session.add(StripeAccount(org_id=org.id, account_id=account))
    with tenant_scope(org.id):
        db.session.add(Connection(org_id=org.id, kind="stripe", provider="stripe", status="active",
                                  external_account_id=account))
        db.session.flush()
    db.session.commit()


@pytest.fixture
def ledger(org):
    connect(org)
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex")
        make_contact(customer, email="ap@globex.example")
        first = make_invoice(org, customer, number="INV-1", amount_minor=100_000, balance_minor=100_000)
        second = make_invoice(org, customer, number="INV-2", amount_minor=50_000, balance_minor=50_000)
    db.session.commit()
    return first, second


def post(anon, evt: dict, secret: str = se.WEBHOOK_SECRET, timestamp: int | None = None, body: bytes | None = None):
    raw = se.body_of(evt) if body is None else body
    return anon.post("/webhooks/stripe", data=raw, content_type="application/json",
                     headers={"Stripe-Signature": se.sign(se.body_of(evt), secret, timestamp)})


def stored() -> int:
    return db.session.scalar(select(func.count()).select_from(WebhookEvent))


def invoice_state(org, *invoices):
    with tenant_scope(org.id):
        current = [db.session.get(Invoice, i.id) for i in invoices]
        return [(i.balance_minor, i.status) for i in current]


# Verification

@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "future", "header", "not json"])
def test_unverifiable_webhooks_answer_400_and_store_nothing(anon, org, ledger, tamper):
    first, _ = ledger
    evt = se.intent_succeeded(ACCOUNT, "pi_1", 100_000, [first.id])
    raw = se.body_of(evt)
    signature = se.sign(raw)
    if tamper == "body":
        raw = raw.replace(b"100000", b"1")
    elif tamper == "secret":
        signature = se.sign(raw, "whsec_someone_else")
    elif tamper == "stale":
        signature = se.sign(raw, timestamp=int(time.time()) - 3600)
    elif tamper == "future":  # a signature dated ahead would stay replayable for that long
        signature = se.sign(raw, timestamp=int(time.time()) + 3600)
    elif tamper == "header":
        signature = ""
    else:
        raw = b"not json"
        signature = se.sign(raw)
    response = anon.post("/webhooks/stripe", data=raw, content_type="application/json",
                         headers={"Stripe-Signature": signature} if signature else {})
    assert response.status_code == 400 and response.json["error"]
    assert stored() == 0
    run_jobs()
    assert invoice_state(org, first) == [(100_000, "open")]


def test_an_oversized_body_is_refused_before_it_is_read(anon, ledger):
    response = anon.post("/webhooks/stripe", data=b"x" * (600 * 1024), content_type="application/json",
                         headers={"Stripe-Signature": "t=1,v1=0"})
    assert response.status_code == 413 and stored() == 0


def test_an_event_stored_while_redis_is_down_is_acknowledged_and_applied_later(anon, org, ledger, monkeypatch):
    def redis_down(_event_id):
        raise RedisError("Connection refused")

    monkeypatch.setattr("plixo.payments.views.enqueue_event", redis_down)
    assert post(anon, se.intent_succeeded(ACCOUNT, "pi_outage", 100_000, [ledger[0].id])).status_code == 200
    monkeypatch.undo()
    assert sweep_unapplied_events(lost_after=dt.timedelta(0)) == 1
    run_jobs()
    assert invoice_state(org, ledger[0]) == [(0, "paid")]


def test_without_a_configured_secret_nothing_is_accepted(app, anon, ledger):
    app.config["STRIPE_WEBHOOK_SECRET"] = ""
    response = post(anon, se.intent_succeeded(ACCOUNT, "pi_1", 100_000, [ledger[0].id]))
    assert response.status_code == 503 and stored() == 0


# Application

def test_payment_in_full_marks_paid_stops_sends_keeps_promise_and_audits(anon, org, ledger):
    first, _ = ledger
    with tenant_scope(org.id):
        db.session.add(Message(org_id=org.id, invoice_id=first.id, customer_id=first.customer_id, status="scheduled",
                               idempotency_key="t:1", subject="s", body="b", scheduled_for=utcnow()))
        db.session.add(Promise(org_id=org.id, invoice_id=first.id, customer_id=first.customer_id, currency="USD",
                               amount_minor=100_000, promised_date=workspace_today(), created_at=utcnow()))
        db.session.flush()
    db.session.commit()
    evt = se.intent_succeeded(ACCOUNT, "pi_full", 100_000, [first.id])
    assert post(anon, evt).status_code == 200
    assert post(anon, evt).status_code == 200  # Stripe's retry of the same event
    assert stored() == 1
    run_jobs()
    assert invoice_state(org, first) == [(0, "paid")]
    with tenant_scope(org.id):
        assert db.session.scalar(select(Message.status)) == "cancelled"
        assert db.session.scalar(select(Promise.status)) == "kept"
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "payments.received")) is not None
    assert db.session.scalar(select(WebhookEvent.status)) == "processed"


def test_partial_payment_then_overpayment_leaves_a_credit(anon, org, ledger):
    first, second = ledger
    post(anon, se.checkout_completed(ACCOUNT, "pi_part", 30_000, [first.id]))
    run_jobs()
    assert invoice_state(org, first) == [(70_000, "open")]
    post(anon, se.intent_succeeded(ACCOUNT, "pi_over", 200_000, [first.id, second.id]))
    run_jobs()
    assert invoice_state(org, first, second) == [(0, "paid"), (0, "paid")]
    with tenant_scope(org.id):
        over = db.session.scalar(select(Payment).where(Payment.provider_ref == "pi_over"))
        assert over.unapplied_minor == 200_000 - 70_000 - 50_000


def test_refund_reopens_the_balance(anon, org, ledger):
    first, _ = ledger
    post(anon, se.intent_succeeded(ACCOUNT, "pi_r", 100_000, [first.id]))
    post(anon, se.charge_refunded(ACCOUNT, "pi_r", 100_000, 40_000))
    run_jobs()
    assert invoice_state(org, first) == [(40_000, "open")]


def test_a_refund_before_its_payment_waits_and_is_applied_when_that_payment_arrives(anon, org, ledger):
    first, _second = ledger
    post(anon, se.charge_refunded(ACCOUNT, "pi_late", 100_000, 40_000))
    post(anon, se.charge_refunded(ACCOUNT, "pi_other", 50_000, 50_000))
    run_jobs()
    post(anon, se.intent_succeeded(ACCOUNT, "pi_late", 100_000, [first.id]))
    run_jobs()  # no sweep: recording pi_late wakes the refund that named it, and only that one
    statuses = sorted(db.session.execute(select(WebhookEvent.event_type, WebhookEvent.status,
                                                WebhookEvent.attempts)).all())
    assert statuses == [("charge.refunded", "processed", 2), ("charge.refunded", "waiting", 1),
                        ("payment_intent.succeeded", "processed", 1)]
    assert invoice_state(org, first) == [(40_000, "open")]


def test_a_full_refund_stays_refunded_when_the_success_arrives_again_later(anon, org, ledger):
    first, _ = ledger
    post(anon, se.charge_refunded(ACCOUNT, "pi_full_refund", 100_000, 100_000))  # before its payment: waits
    post(anon, se.intent_succeeded(ACCOUNT, "pi_full_refund", 100_000, [first.id]))
    run_jobs()
    post(anon, se.checkout_completed(ACCOUNT, "pi_full_refund", 100_000, [first.id]))
    run_jobs()
    assert invoice_state(org, first) == [(100_000, "open")]
    with tenant_scope(org.id):
        assert db.session.scalar(select(Payment.status)) == "refunded"
    assert set(db.session.scalars(select(WebhookEvent.status))) == {"processed"}


def test_chargeback_opens_a_dispute_and_a_lost_one_reopens_the_balance(anon, org, ledger):
    first, _ = ledger
    post(anon, se.intent_succeeded(ACCOUNT, "pi_d", 100_000, [first.id]))
    post(anon, se.dispute(ACCOUNT, "pi_d", 100_000, "needs_response"))
    run_jobs()
    with tenant_scope(org.id):
        dispute = db.session.scalar(select(Dispute))
        assert dispute.source == "stripe" and dispute.status == "needs_review" and dispute.reason == "not_received"
    post(anon, se.dispute(ACCOUNT, "pi_d", 100_000, "lost", kind="charge.dispute.closed"))
    run_jobs()
    assert invoice_state(org, first) == [(100_000, "open")]
    with tenant_scope(org.id):
        assert db.session.execute(select(Dispute.status, Dispute.verdict, Dispute.outcome)).one() == (
            "resolved", "valid", "credit_note")


def test_failed_payment_changes_no_balance_and_is_recorded(anon, org, ledger):
    first, _ = ledger
    post(anon, se.intent_failed(ACCOUNT, "pi_f", 100_000, [first.id]))
    run_jobs()
    assert invoice_state(org, first) == [(100_000, "open")]
    with tenant_scope(org.id):
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "payments.failed"))


def test_account_updated_follows_the_newest_snapshot(anon, org, ledger):
    post(anon, se.account_updated(ACCOUNT, False, created=1_800_000_200))
    post(anon, se.account_updated(ACCOUNT, True, created=1_800_000_100))  # older, delivered late
    run_jobs()
    with tenant_scope(org.id):
        assert db.session.scalar(select(Connection.status)) == "error"


def test_unknown_types_and_unknown_accounts_are_stored_and_ignored(anon, org, ledger):
    post(anon, se.event("customer.created", {"id": "cus_1", "object": "customer"}, ACCOUNT))
    post(anon, se.intent_succeeded("acct_nobody", "pi_x", 100_000, [ledger[0].id]))
    run_jobs()
    assert sorted(db.session.scalars(select(WebhookEvent.status))) == ["ignored", "ignored"]
    assert invoice_state(org, ledger[0]) == [(100_000, "open")]


def test_the_accounts_other_payments_are_ignored_and_orphan_refunds_stop_waiting(anon, org, ledger):
    outside = se.intent_succeeded(ACCOUNT, "pi_shop", 5_000, [])
    del outside["data"]["object"]["metadata"]["plixo_invoice_ids"]  # a sale the account made without Plixo
    post(anon, outside)
    post(anon, se.charge_refunded(ACCOUNT, "pi_shop", 5_000, 5_000))
    run_jobs()
    statuses = dict(db.session.execute(select(WebhookEvent.event_type, WebhookEvent.status)).all())
    assert statuses == {"payment_intent.succeeded": "ignored", "charge.refunded": "waiting"}
    db.session.execute(update(WebhookEvent).values(received_at=utcnow() - dt.timedelta(days=2)))
    db.session.commit()
    assert sweep_unapplied_events() == 0
    assert set(db.session.scalars(select(WebhookEvent.status))) == {"ignored"}
    with tenant_scope(org.id):
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_payment_naming_another_workspaces_invoice_changes_nothing(anon, org, ledger):
    other = make_org()
    with tenant_scope(other.id):
        foreign = make_invoice(other, make_customer(other), balance_minor=100_000, amount_minor=100_000)
    db.session.commit()
    post(anon, se.intent_succeeded(ACCOUNT, "pi_foreign", 100_000, [foreign.id]))
    run_jobs()
    assert invoice_state(other, foreign) == [(100_000, "open")]
    assert db.session.scalar(select(WebhookEvent.status)) == "failed"


# Order and concurrency

def _story(account: str, first: Invoice, second: Invoice) -> list[dict]:
    return [
        se.checkout_completed(account, "pi_a", 60_000, [first.id]),
        se.intent_succeeded(account, "pi_a", 60_000, [first.id]),
        se.intent_succeeded(account, "pi_b", 120_000, [first.id, second.id]),
        se.charge_refunded(account, "pi_a", 60_000, 10_000),
        se.charge_refunded(account, "pi_a", 60_000, 25_000),
        se.intent_failed(account, "pi_c", 5_000, [second.id]),
        se.dispute(account, "pi_b", 120_000, "needs_response"),
        se.dispute(account, "pi_b", 120_000, "won", kind="charge.dispute.closed"),
        se.account_updated(account, True),
        se.event("invoice.created", {"id": "in_1", "object": "invoice"}, account),
    ]


def _final_state(org, first, second):
    with tenant_scope(org.id):
        payments = sorted((p.provider_ref, p.amount_minor, p.refunded_minor, p.unapplied_minor, p.status,
                           sorted((a.invoice_id == first.id, a.amount_minor) for a in p.applications))
                          for p in db.session.scalars(select(Payment)))
        disputes = [(d.status, d.outcome) for d in db.session.scalars(select(Dispute))]
    return invoice_state(org, first, second), payments, disputes


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _deliver(url: str, evt: dict) -> int:
    body = se.body_of(evt)
    request = urllib.request.Request(url + "/webhooks/stripe", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Stripe-Signature": se.sign(body)})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_three_concurrent_shuffled_deliveries_end_as_in_order_delivery(anon, live_server):
    in_order, shuffled = make_org(), make_org()
    invoices = {}
    for org, account in ((in_order, "acct_in_order"), (shuffled, "acct_shuffled")):
        connect(org, account)
        with tenant_scope(org.id):
            customer = make_customer(org)
            invoices[org.id] = (make_invoice(org, customer, amount_minor=100_000, balance_minor=100_000),
                                make_invoice(org, customer, amount_minor=80_000, balance_minor=80_000))
        db.session.commit()

    for evt in _story("acct_in_order", *invoices[in_order.id]):
        assert post(anon, evt).status_code == 200
        run_jobs()

    story = _story("acct_shuffled", *invoices[shuffled.id])
    deliveries = story * 3
    random.Random(7).shuffle(deliveries)
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert set(pool.map(lambda evt: _deliver(live_server, evt), deliveries)) == {200}
    run_jobs()

    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)
                             .where(WebhookEvent.org_id == shuffled.id)) == len(story)
    expected = _final_state(in_order, *invoices[in_order.id])
    assert _final_state(shuffled, *invoices[shuffled.id]) == expected
    assert expected[0] == [(0, "paid"), (25_000, "open")]  # 35k net of pi_a + 120k of pi_b over 180k owed
    with tenant_scope(shuffled.id):
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 2  # one per charge


def test_admin_sees_event_states_and_retries_a_failed_one(client, org, ledger):
    assert "No Stripe events yet" in client.get("/admin/connectors/stripe/events").get_data(as_text=True)
    db.session.add(WebhookEvent(org_id=org.id, provider="stripe", event_id="evt_failed", event_type="charge.refunded",
                                payload="{}", status="failed", last_error="boom"))
    db.session.commit()
    assert 'href="/admin/connectors/stripe"' in client.get("/").get_data(as_text=True)  # in the Admin menu
    page = client.get("/admin/connectors/stripe/events").get_data(as_text=True)
    assert "evt_failed" in page and "boom" in page and "Retry" in page
    event_id = db.session.scalar(select(WebhookEvent.id))
    client.post(f"/admin/connectors/stripe/events/{event_id}/retry")
    assert db.session.scalar(select(WebhookEvent.status)) == "received"


def test_operators_cannot_see_or_retry_events(client_as, org):
    operator = client_as("operator")
    assert operator.get("/admin/connectors/stripe/events").status_code == 403
    assert "/admin/connectors/stripe" not in operator.get("/").get_data(as_text=True)
