"""The demo workspace: realistic, deterministic, internally consistent, and usable by every role."""

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import func, select

from plixo.accounts.models import Organization
from plixo.demo.seed import DEMO_PASSWORD, seed_demo
from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.ledger.models import BalanceChange, Contact, Customer, Invoice, PaymentApplication
from plixo.promises.models import Promise
from plixo.security import ROLES
from plixo.tenancy import tenant_scope

TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def demo():
    # The back-filled snapshots (seconds of work) are tested in test_history.py; these tests read today's workspace.
    result = seed_demo(db.session, invoices=600, seed=3, today=TODAY, with_snapshots=False)
    db.session.commit()
    with tenant_scope(result.org_id):
        yield result


def test_one_login_per_role(demo):
    assert sorted(role for role, _email, _name in demo.logins) == sorted(ROLES)


def test_balances_equal_amount_minus_applied_payments_and_credit_notes(demo):
    applied = dict(db.session.execute(
        select(PaymentApplication.invoice_id, func.sum(PaymentApplication.amount_minor))
        .group_by(PaymentApplication.invoice_id)).all())
    credited = dict(db.session.execute(
        select(BalanceChange.invoice_id, -func.sum(BalanceChange.amount_minor))
        .where(BalanceChange.kind == "credited").group_by(BalanceChange.invoice_id)).all())
    invoices = db.session.scalars(select(Invoice)).all()
    assert credited and all(
        i.balance_minor == i.amount_minor - applied.get(i.id, 0) - credited.get(i.id, 0) for i in invoices)


def test_paid_invoices_have_no_balance_and_open_ones_do(demo):
    rows = db.session.execute(select(Invoice.status, Invoice.balance_minor)).all()
    assert all((balance == 0) == (status == "paid") for status, balance in rows)


def test_several_currencies_and_time_zones(demo):
    currencies = set(db.session.scalars(select(Invoice.currency)))
    zones = set(db.session.scalars(select(Customer.time_zone).where(Customer.time_zone.is_not(None))))
    assert len(currencies) >= 3 and len(zones) >= 4


def test_every_promise_outcome_and_some_disputes(demo):
    outcomes = Counter(db.session.scalars(select(Promise.status)))
    assert {"kept", "broken", "pending"} <= set(outcomes) and db.session.scalar(
        select(func.count()).select_from(Dispute)) > 0


def test_bounced_and_missing_contacts(demo):
    bounced = db.session.scalar(select(func.count()).select_from(Contact).where(Contact.bounce_kind == "hard"))
    without = db.session.scalar(select(func.count()).select_from(Customer).where(
        ~Customer.contacts.any(Contact.email.is_not(None))))
    assert bounced > 0 and without > 0


def test_every_aging_bucket_has_open_invoices(demo):
    from plixo.ledger.aging import aging_bucket

    dues = db.session.scalars(select(Invoice.due_date).where(Invoice.status == "open")).all()
    assert {aging_bucket(d, TODAY) for d in dues} == {"current", "1-30", "31-60", "61-90", "90+"}


def _fingerprint(org_id: int):
    with tenant_scope(org_id):
        return db.session.execute(select(
            Invoice.number, Invoice.amount_minor, Invoice.balance_minor, Invoice.due_date).order_by(Invoice.number)
        ).all()


def test_same_seed_gives_the_same_data(app):
    from tests.conftest import _truncate_all

    first = _fingerprint(seed_demo(db.session, invoices=200, seed=11, today=TODAY, with_snapshots=False).org_id)
    db.session.commit()
    db.session.remove()
    _truncate_all()
    second = _fingerprint(seed_demo(db.session, invoices=200, seed=11, today=TODAY, with_snapshots=False).org_id)
    assert second == first


def test_seed_demo_command_is_idempotent_with_if_empty(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo", "--invoices", "120"])
    second = runner.invoke(args=["seed-demo", "--invoices", "120", "--if-empty"])
    assert "controller@acme-robotics.example" in first.output and "not added" in second.output
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 1


def test_demo_users_can_sign_in_with_the_printed_password(anon, demo):
    response = anon.post("/login", data={"email": "operator@acme-robotics.example", "password": DEMO_PASSWORD})
    assert response.status_code == 302 and b"Acme Robotics" in anon.get("/").data


def test_the_workspace_settings_are_filled(demo):
    org = db.session.get(Organization, demo.org_id)
    assert org.legal_name and org.brand_color and "Routing" in org.remittance_details
    assert "Accounts Receivable" in org.email_signature


def test_a_cadence_runs_in_shadow_with_days_left_and_what_it_would_have_sent(demo):
    from plixo.outreach.cadences import shadow_days_left, shadow_messages
    from plixo.outreach.models import Cadence

    cadence = db.session.scalars(select(Cadence)).one()
    assert cadence.status == "shadow" and cadence.shadow_started_at.date() <= TODAY
    assert shadow_days_left(cadence, cadence.shadow_started_at + dt.timedelta(days=5)) == 9
    shown, total = shadow_messages(db.session, demo.org_id, cadence)
    assert total >= 3 and all(item.message.status == "draft" for item in shown)
    assert all(cadence.shadow_started_at <= item.message.created_at <= cadence.shadow_started_at
               + dt.timedelta(days=5) for item in shown)  # dated when the engine made them
    assert all("Acme Robotics, Inc. · Accounts Receivable" in item.message.body for item in shown)


def test_the_team_finds_mentions_and_a_suggestion_to_review(demo):
    from plixo.accounts.models import Notification, User
    from plixo.outreach.models import Message

    by_role = {role: email for role, email, _name in demo.logins}
    users = {u.email: u.id for u in db.session.scalars(select(User))}
    notices = db.session.scalars(select(Notification)).all()
    for role in ("legal", "sales", "csm"):
        mine = [n for n in notices if n.user_id == users[by_role[role]] and n.kind == "mention"]
        assert mine and all(n.link.startswith("/work/customers/") for n in mine)
    [suggested] = db.session.scalars(select(Message).where(Message.suggested_by_id.is_not(None))).all()
    assert suggested.status == "draft" and suggested.suggested_by_id == users[by_role["sales"]]
    review = [n for n in notices if n.kind == "nudge_suggested"]
    assert review and all(n.link == f"/work/queue/{suggested.invoice_id}" for n in review)
