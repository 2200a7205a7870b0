"""The customer list's figures, filters, sorting and pages; one customer's profile and timeline."""

from __future__ import annotations

import datetime as dt

from plixo.approvals import service as approvals
from plixo.customers.profile import customer_profile
from plixo.customers.queries import CurrencyFigures, CustomerFilters, customer_list
from plixo.customers.timeline import customer_timeline
from plixo.extensions import db
from plixo.model import utcnow
from plixo.notes.models import Note
from plixo.promises import plans
from plixo.promises.plans import Installment
from plixo.tenancy import tenant_scope
from tests.factories import TODAY, make_contact, make_customer, make_invoice, make_org, make_user


def _rows(org, user_id, **filters):
    with tenant_scope(org.id):
        return customer_list(db.session, org, user_id, CustomerFilters(**filters), TODAY)


def _others(org):
    """Initech: USD 5,000.00 not yet due, nobody owns it. Umbrella: JPY only. Hooli: nothing open."""
    with tenant_scope(org.id):
        initech = make_customer(org, name="Initech", external_id="INI-9", risk_tier="low")
        make_contact(initech, email="payables@initech.example")
        make_invoice(org, initech, due_date=TODAY + dt.timedelta(days=5), amount_minor=500_000, balance_minor=500_000)
        umbrella = make_customer(org, name="Umbrella KK", risk_tier="medium")
        make_invoice(org, umbrella, currency="JPY", due_date=TODAY - dt.timedelta(days=3), amount_minor=9_000_000,
                     balance_minor=9_000_000)
        make_customer(org, name="Hooli", risk_tier="high")
    db.session.commit()


def test_a_row_shows_exposure_and_overdue_per_currency_never_summed(org, controller, globex):
    _others(org)
    row = next(r for r in _rows(org, controller.id).rows if r.name == "Globex Corporation")
    # USD: 1,000.00 not due + 2,500.00 overdue; EUR: 700.00 disputed and 100 days overdue. The paid one is gone.
    assert row.figures == {"USD": CurrencyFigures(350_000, 250_000), "EUR": CurrencyFigures(70_000, 70_000)}
    assert row.days_past_due == 100 and row.risk_tier == "high" and row.owner_name == "Priya Raman"
    assert row.open_disputes == 1
    assert row.pending_promise is not None and row.pending_promise.promised_date == TODAY


def test_customers_sort_by_exposure_in_the_workspace_currency_then_others(org, controller, globex):
    _others(org)
    names = [r.name for r in _rows(org, controller.id).rows]
    assert names == ["Initech", "Globex Corporation", "Umbrella KK", "Hooli"]


def test_customers_sort_by_risk_then_overdue(org, controller, globex):
    _others(org)
    names = [r.name for r in _rows(org, controller.id, sort="risk").rows]
    assert names == ["Globex Corporation", "Hooli", "Umbrella KK", "Initech"]


def test_customers_sort_by_oldest_overdue_with_nothing_overdue_last(org, controller, globex):
    _others(org)
    names = [r.name for r in _rows(org, controller.id, sort="overdue").rows]
    assert names[:2] == ["Globex Corporation", "Umbrella KK"] and set(names[2:]) == {"Initech", "Hooli"}


def test_search_finds_name_external_id_and_contact_email(org, controller, globex):
    _others(org)
    assert [r.name for r in _rows(org, controller.id, search="payables@initech").rows] == ["Initech"]
    assert [r.name for r in _rows(org, controller.id, search="glx-1").rows] == ["Globex Corporation"]
    assert [r.name for r in _rows(org, controller.id, search="umbrel").rows] == ["Umbrella KK"]
    assert _rows(org, controller.id, search="%").rows == []  # wildcards are literal


def test_owner_filter_mine_nobody_and_a_teammate(org, controller, collector, globex):
    _others(org)
    assert [r.name for r in _rows(org, collector.id, owner="mine").rows] == ["Globex Corporation"]
    assert _rows(org, controller.id, owner="mine").rows == []
    assert "Globex Corporation" not in [r.name for r in _rows(org, controller.id, owner="none").rows]
    assert [r.name for r in _rows(org, controller.id, owner=str(collector.id)).rows] == ["Globex Corporation"]


def test_pages_of_the_list(org, controller, globex):
    _others(org)
    with tenant_scope(org.id):
        first = customer_list(db.session, org, controller.id, CustomerFilters(), TODAY, page_size=3)
        last = customer_list(db.session, org, controller.id, CustomerFilters(page=9), TODAY, page_size=3)
    assert (first.total, first.pages, len(first.rows)) == (4, 2, 3)
    assert last.page == 2 and [r.name for r in last.rows] == ["Hooli"]


def test_another_workspace_never_lists_these_customers(org, controller, globex):
    other = make_org(name="Other")
    boss = make_user(other, "controller")
    db.session.commit()
    assert _rows(other, boss.id).rows == []


def test_profile_aging_adherence_and_stops(org, globex):
    with tenant_scope(org.id):
        profile = customer_profile(db.session, org, globex["customer"], TODAY)
    assert profile.aging["USD"]["current"] == 100_000 and profile.aging["USD"]["31-60"] == 250_000
    assert profile.aging["EUR"]["90+"] == 70_000 and sum(profile.aging["EUR"].values()) == 70_000
    assert profile.overdue == {"USD": 250_000, "EUR": 70_000}
    assert (profile.kept, profile.broken, profile.adherence) == (3, 1, 0.75)
    assert [i.number for i in profile.paid_invoices] == ["GLX-099"]
    assert [row.invoice.number for row in profile.nudgeable] == ["GLX-101", "GLX-100"]
    disputed = next(row for row in profile.open_invoices if row.invoice.number == "GLX-102")
    assert disputed.stops and "Not open" in disputed.stops[0]
    assert profile.time_zone == "Europe/Berlin" and not profile.zone_is_workspace
    assert [c.contact.email for c in profile.contacts] == ["ap@globex.example", "old@globex.example"]


def test_timeline_lists_everything_newest_first(org, controller, globex):
    with tenant_scope(org.id):
        long_plan = [Installment(TODAY + dt.timedelta(days=30), 125_000),
                     Installment(TODAY + dt.timedelta(days=200), 125_000)]  # beyond the policy's 3 months
        plans.propose_plan(db.session, org, globex["overdue"], controller, long_plan, utcnow())
        page = customer_timeline(db.session, org.id, globex["customer"].id)
    kinds = [e.kind for e in page.events]
    assert {"note", "payment", "approval"} <= set(kinds)  # the plan above policy asked for an approval
    assert [e.at for e in page.events] == sorted((e.at for e in page.events), reverse=True)
    assert page.next_offset is None


def test_timeline_shows_approvals_requested_and_decided(org, controller, globex):
    with tenant_scope(org.id):
        approval = approvals.request_write_off(db.session, org, globex["overdue"], controller, "Insolvent", utcnow())
        approvals.decide_approval(db.session, org, approval, controller, "controller", True, "ok", utcnow())
        page = customer_timeline(db.session, org.id, globex["customer"].id)
    titles = [e.title for e in page.events if e.kind == "approval"]
    assert any(t.startswith("Approval approved: write off") for t in titles)
    assert any(t.startswith("Approval requested: write off") for t in titles)


def test_timeline_pages_and_a_linked_old_note_is_always_shown(org, collector, globex):
    customer = globex["customer"]
    with tenant_scope(org.id):
        old = Note(org_id=org.id, customer_id=customer.id, author_id=collector.id, body="Old call notes",
                   created_at=utcnow() - dt.timedelta(days=300))
        db.session.add(old)
        db.session.add_all(Note(org_id=org.id, customer_id=customer.id, body=f"Note {n}",
                                created_at=utcnow() - dt.timedelta(hours=n)) for n in range(5))
        db.session.flush()
        first = customer_timeline(db.session, org.id, customer.id, limit=3)
        second = customer_timeline(db.session, org.id, customer.id, offset=first.next_offset, limit=3)
        linked = customer_timeline(db.session, org.id, customer.id, limit=3, since=old.created_at)
    assert len(first.events) == 3 and first.next_offset == 3
    assert first.events[-1].at >= second.events[0].at
    assert old.id in [e.ref_id for e in linked.events if e.kind == "note"]
