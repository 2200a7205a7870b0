"""Segments: rules, live preview, saving with audit, and the Autopilot readiness gate."""

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.model import utcnow
from plixo.outreach.models import Message, Segment
from plixo.outreach.segments import SegmentError, SegmentRules, autopilot_blockers, bounce_rate, preview_segment
from plixo.tenancy import tenant_scope
from tests.factories import make_contact, make_customer, make_invoice, make_ready_sender, workspace_today

TODAY = workspace_today()
HX = {"HX-Request": "true"}


@pytest.fixture
def ledger(org):
    """Low-risk small 1-30 invoice, high-risk large 90+ one, and a tagged EUR customer; all reachable."""
    with tenant_scope(org.id):
        low = make_customer(org, risk_tier="low", tags=["smb"])
        make_contact(low)
        high = make_customer(org, risk_tier="high", tags=["enterprise", "net-60"])
        make_contact(high)
        invoices = {
            "small": make_invoice(org, low, due_date=TODAY - dt.timedelta(days=10), balance_minor=300_000,
                                  amount_minor=300_000),
            "large": make_invoice(org, high, due_date=TODAY - dt.timedelta(days=120), balance_minor=9_000_000,
                                  amount_minor=9_000_000),
            "euro": make_invoice(org, high, due_date=TODAY - dt.timedelta(days=20), currency="EUR"),
        }
        db.session.commit()
    return invoices


def preview(org, **rules):
    with tenant_scope(org.id):
        return preview_segment(db.session, org.id, SegmentRules(**rules), TODAY)


def test_low_risk_under_5k_in_1_30_selects_only_the_small_invoice(org, ledger):
    found = preview(org, buckets=("1-30",), risk_tiers=("low",), max_balance_minor=500_000)
    assert found.count == 1 and found.balances == {"USD": 300_000}


def test_currency_and_tag_rules(org, ledger):
    assert preview(org, currencies=("EUR",)).count == 1
    assert preview(org, tags=("enterprise",)).count == 2
    assert preview(org, tags=("enter",)).count == 0  # whole tags only


@pytest.mark.parametrize(("rules", "field"), [
    ({"buckets": ("1-31",)}, "buckets"), ({"risk_tiers": ("extreme",)}, "risk_tiers"),
    ({"currencies": ("XYZ",)}, "currencies"), ({"min_balance_minor": 10, "max_balance_minor": 5}, "max_balance"),
])
def test_malformed_rules_are_refused(rules, field):
    with pytest.raises(SegmentError) as refused:
        SegmentRules(**rules)
    assert refused.value.field == field


def test_rules_round_trip_through_json():
    rules = SegmentRules(buckets=("1-30",), max_balance_minor=500_000, tags=("smb",))
    assert SegmentRules.from_json(rules.to_json()) == rules


def test_live_preview_answers_the_rule_builder(client, ledger):
    html = client.post("/admin/segments/preview", headers=HX,
                       data={"buckets": ["90+"], "risk_tiers": ["high"]}).get_data(as_text=True)
    assert 'id="segment-preview"' in html and ">1<" in html and "$90,000.00" in html


def test_preview_explains_bad_input(client, ledger):
    html = client.post("/admin/segments/preview", headers=HX, data={"min_balance": "lots"}).get_data(as_text=True)
    assert "Enter an amount in USD" in html


def test_saving_a_segment_audits_it_and_lists_it_with_its_count(client, org, ledger):
    response = client.post("/admin/segments/new", data={"name": "Low risk: under $5k in 1-30", "buckets": ["1-30"],
                                                        "risk_tiers": ["low"], "max_balance": "5,000"})
    assert response.status_code == 302
    with tenant_scope(org.id):
        segment = db.session.scalar(select(Segment))
        assert segment.mode == "shadow" and segment.rules["max_balance_minor"] == 500_000
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "segments.saved")) is not None
    page = client.get("/admin/segments").get_data(as_text=True)
    assert "Low risk: under $5k in 1-30" in page and "$3,000.00" in page


def test_bad_input_keeps_what_was_typed_and_saves_nothing(client, org, ledger):
    response = client.post("/admin/segments/new", data={"name": "X", "buckets": ["1-30"], "currencies": "usd, ABC"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "ABC is not an ISO 4217" in html and 'value="usd, ABC"' in html
    with tenant_scope(org.id):
        assert db.session.scalars(select(Segment)).all() == []


def test_an_owner_from_another_workspace_is_refused(client, org, controller, ledger):
    from tests.factories import make_org, make_user

    stranger = make_user(make_org(name="Other Co"), "operator")
    db.session.commit()
    response = client.post("/admin/segments/new", data={"name": "Theirs", "owner_id": str(stranger.id)})
    assert response.status_code == 422 and "not in this workspace" in response.get_data(as_text=True)
    mine = client.post("/admin/segments/new", data={"name": "Mine", "owner_id": str(controller.id)})
    assert mine.status_code == 302
    with tenant_scope(org.id):
        assert [s.name for s in db.session.scalars(select(Segment))] == ["Mine"]


def test_duplicate_names_are_refused(client, org, ledger):
    client.post("/admin/segments/new", data={"name": "Enterprise"})
    response = client.post("/admin/segments/new", data={"name": "Enterprise"})
    assert response.status_code == 422 and "already exists" in response.get_data(as_text=True)


def shadow_segment(org) -> int:
    with tenant_scope(org.id):
        segment = Segment(org_id=org.id, name="All")
        db.session.add(segment)
        db.session.commit()
        return segment.id


def test_autopilot_is_refused_while_coverage_is_low_and_says_why(client, org, ledger):
    with tenant_scope(org.id):
        make_invoice(org, make_customer(org))  # a customer with no contact at all: 3 of 4 covered
        db.session.commit()
    segment_id = shadow_segment(org)
    response = client.post(f"/admin/segments/{segment_id}/mode", data={"mode": "autopilot"}, follow_redirects=True)
    assert "Contact coverage is 75.0%" in response.get_data(as_text=True)
    with tenant_scope(org.id):
        assert db.session.get(Segment, segment_id).mode == "shadow"


def test_autopilot_switches_on_when_the_gate_holds(client, org, ledger):
    make_ready_sender(org)
    db.session.commit()
    segment_id = shadow_segment(org)
    client.post(f"/admin/segments/{segment_id}/mode", data={"mode": "autopilot"})
    with tenant_scope(org.id):
        assert db.session.get(Segment, segment_id).mode == "autopilot"


def test_autopilot_needs_a_connected_inbox_and_a_verified_sending_domain(client, org, ledger):
    segment_id = shadow_segment(org)
    page = client.post(f"/admin/segments/{segment_id}/mode", data={"mode": "autopilot"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Connect the finance inbox first" in page
    with tenant_scope(org.id):
        sending = make_ready_sender(org)
        sending.checks = sending.checks | {"dmarc": {"state": "missing", "found": "", "expected": ""}}
        db.session.commit()
    page = client.post(f"/admin/segments/{segment_id}/mode", data={"mode": "autopilot"},
                       follow_redirects=True).get_data(as_text=True)
    assert "acme.example is not ready for Autopilot" in page
    with tenant_scope(org.id):
        assert db.session.get(Segment, segment_id).mode == "shadow"


def test_a_sending_domain_bouncing_too_much_blocks_autopilot(org, ledger):
    now = utcnow()
    make_ready_sender(org)
    with tenant_scope(org.id):
        contact = make_contact(make_customer(org))
        for n in range(100):
            db.session.add(Message(org_id=org.id, idempotency_key=f"d{n}", customer_id=contact.customer_id,
                                   contact_id=contact.id, status="sent", sender_domain="acme.example",
                                   sent_at=now - dt.timedelta(days=3),
                                   bounced_at=now - dt.timedelta(days=2) if n < 4 else None))
        db.session.flush()
        assert any("acme.example bounced 4.0%" in b for b in autopilot_blockers(db.session, org.id, now))
        assert not any("acme.example" in b for b in autopilot_blockers(db.session, org.id, now + dt.timedelta(days=40)))


def test_ar_manager_cannot_switch_on_autopilot(client_as, org, ledger):
    segment_id = shadow_segment(org)
    assert client_as("ar_manager").post(f"/admin/segments/{segment_id}/mode",
                                        data={"mode": "autopilot"}).status_code == 403


def test_bounce_rate_counts_sends_whose_recipient_bounced_afterwards(org, ledger):
    now = utcnow()
    with tenant_scope(org.id):
        contacts = [make_contact(make_customer(org)) for _ in range(4)]
        for n, contact in enumerate(contacts):
            db.session.add(Message(org_id=org.id, idempotency_key=f"k{n}", customer_id=contact.customer_id,
                                   contact_id=contact.id, status="sent", sent_at=now - dt.timedelta(days=2)))
        contacts[0].bounced_at, contacts[0].bounce_kind = now - dt.timedelta(days=1), "hard"
        db.session.flush()
        assert bounce_rate(db.session, org.id, now) == 0.25
        assert any("bounce rate" in b for b in autopilot_blockers(db.session, org.id, now))


def test_a_typed_name_loses_invisible_characters(client, org, ledger):
    assert client.post("/admin/segments/new", data={"name": "Enter\u200bprise \u202eEXE"}).status_code == 302
    with tenant_scope(org.id):
        assert db.session.scalar(select(Segment.name)) == "Enterprise EXE"
