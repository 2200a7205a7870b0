"""A dispute's life: every move allowed from each status, every other one refused with the reason; endings decide
whether the invoice is chased again; SLAs count the workspace's working days in its zone; new disputes are routed."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from plixo.accounts.models import Notification
from plixo.actions import ActionError
from plixo.audit import AuditEvent
from plixo.disputes import lifecycle
from plixo.disputes import service as disputes
from plixo.disputes.models import DISPUTE_STATUSES, Dispute, DisputeReason
from plixo.disputes.reasons import business_days_between, owner_for, reason_rule, sla_due
from plixo.extensions import db
from plixo.model import utcnow
from tests.factories import make_invoice, make_user

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = [0, 1, 2, 3, 4]


@pytest.fixture
def dispute(scoped, controller, invoice, tmp_path) -> Dispute:
    return disputes.open_dispute(db.session, scoped, invoice, controller, "pricing", "Wrong rate", None, tmp_path,
                                 utcnow())


def with_status(dispute: Dispute, status: str) -> Dispute:
    dispute.status = status
    return dispute


ALLOWED = {(start, end) for start, ends in lifecycle.MOVES.items() for end in ends}


@pytest.mark.parametrize("start", DISPUTE_STATUSES)
@pytest.mark.parametrize("end", DISPUTE_STATUSES)
def test_each_move_is_allowed_or_refused_with_the_reason(scoped, controller, dispute, start, end):
    with_status(dispute, start)

    def attempt():
        if end == "resolved":
            lifecycle.resolve(db.session, scoped, dispute, controller, "invalid", "no_action", "Rate is per contract",
                              utcnow())
        elif end == "withdrawn":
            lifecycle.withdraw(db.session, scoped, dispute, controller, "Payer withdrew it", utcnow())
        else:
            lifecycle.move(db.session, dispute, controller, end, "Looking at the contract")

    if (start, end) in ALLOWED:
        attempt()
        assert dispute.status == end
    else:
        with pytest.raises(ActionError) as refused:
            attempt()
        assert "cannot" in refused.value.message or "already" in refused.value.message or "Choose" in \
            refused.value.message
        assert dispute.status == start


def test_an_operator_opened_dispute_is_investigated_and_one_by_e_mail_needs_review(scoped, controller, invoice,
                                                                                    tmp_path):
    ours = disputes.open_dispute(db.session, scoped, invoice, controller, "pricing", "", None, tmp_path, utcnow())
    other = make_invoice(scoped, invoice.customer)
    theirs = disputes.open_dispute(db.session, scoped, other, "Reply from ap@globex.example", "quality", "", None,
                                   tmp_path, utcnow(), source="email")
    assert (ours.status, theirs.status) == ("investigating", "needs_review")


def test_resolved_invalid_sends_the_invoice_back_to_the_queue(scoped, controller, invoice, dispute):
    lifecycle.resolve(db.session, scoped, dispute, controller, "invalid", "no_action", "Contract rate applies",
                      utcnow())
    assert invoice.status == "open" and (dispute.verdict, dispute.outcome) == ("invalid", "no_action")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "disputes.status_changed")).one()
    assert event.after == {"status": "resolved", "verdict": "invalid", "resolution": "no_action"}


def test_resolved_valid_keeps_the_invoice_out_of_the_queue_until_the_erp_has_the_credit(scoped, controller,
                                                                                          invoice, dispute):
    lifecycle.resolve(db.session, scoped, dispute, controller, "valid", "credit_note", "Credit 10 % agreed",
                      utcnow())
    assert invoice.status == "disputed" and dispute.status == "resolved"


@pytest.mark.parametrize(("verdict", "resolution", "note", "field"), [
    ("maybe", "no_action", "ok ok", "verdict"), ("valid", "no_action", "ok ok", "resolution"),
    ("invalid", "credit_note", "ok ok", "resolution"), ("invalid", "no_action", " ", "note"),
])
def test_a_resolution_must_fit_its_verdict_and_say_how(scoped, controller, invoice, dispute, verdict, resolution,
                                                       note, field):
    with pytest.raises(ActionError) as refused:
        lifecycle.resolve(db.session, scoped, dispute, controller, verdict, resolution, note, utcnow())
    assert refused.value.field == field and dispute.status == "investigating" and invoice.status == "disputed"


def test_withdrawn_chases_the_invoice_again_unless_another_dispute_on_it_is_open(scoped, controller, invoice,
                                                                                 dispute):
    second = Dispute(org_id=scoped.id, invoice_id=invoice.id, customer_id=invoice.customer_id, reason="quality",
                     opened_at=utcnow(), status="investigating")
    db.session.add(second)
    lifecycle.withdraw(db.session, scoped, dispute, controller, "Payer withdrew", utcnow())
    assert invoice.status == "disputed"
    lifecycle.withdraw(db.session, scoped, second, controller, "Payer withdrew", utcnow())
    assert invoice.status == "open"


def test_sla_counts_working_days_in_the_workspace_zone():
    friday_evening = dt.datetime(2026, 12, 11, 22, 30, tzinfo=dt.UTC)  # Fri 23:30 in Berlin
    assert sla_due(friday_evening, 3, BERLIN, WEEKDAYS) == dt.datetime(2026, 12, 17, tzinfo=BERLIN)  # end of Wed
    saturday_in_berlin = dt.datetime(2026, 12, 11, 23, 30, tzinfo=dt.UTC)  # Sat 00:30 in Berlin
    assert sla_due(saturday_in_berlin, 1, BERLIN, WEEKDAYS) == dt.datetime(2026, 12, 15, tzinfo=BERLIN)  # Mon
    assert sla_due(friday_evening, 2, BERLIN, [0, 2, 4]) == dt.datetime(2026, 12, 17, tzinfo=BERLIN)  # Mon, Wed
    assert sla_due(friday_evening, 1, BERLIN, []) == dt.datetime(2026, 12, 15, tzinfo=BERLIN)  # none: weekdays
    monday = dt.datetime(2026, 12, 14, 9, tzinfo=BERLIN)
    assert business_days_between(friday_evening, monday, BERLIN, WEEKDAYS) == 1
    assert business_days_between(monday, friday_evening, BERLIN, WEEKDAYS) == -1


def test_a_new_dispute_goes_to_its_reason_s_owner_who_is_told(scoped, controller, invoice, tmp_path):
    seller = make_user(scoped, "sales", name="Sam Sales")
    dispute = disputes.open_dispute(db.session, scoped, invoice, controller, "pricing", "", None, tmp_path,
                                    utcnow())
    assert (dispute.assigned_to_id, dispute.routed_to) == (seller.id, "sales")
    note = db.session.scalars(select(Notification).where(Notification.user_id == seller.id)).one()
    assert note.link == f"/work/disputes/{dispute.id}" and invoice.number in note.text


def test_a_workspace_s_own_reasons_replace_the_defaults(scoped, controller):
    person = make_user(scoped, "operator", name="Olga Owner")
    db.session.add(DisputeReason(org_id=scoped.id, key="freight", label="Freight charges", sla_days=2,
                                 owner_id=person.id))
    db.session.flush()
    assert reason_rule(db.session, scoped.id, "pricing") is None
    assert owner_for(db.session, scoped.id, reason_rule(db.session, scoped.id, "freight")) == person


def test_reassigning_notifies_the_new_owner_and_refuses_outsiders(scoped, controller, dispute):
    lawyer = make_user(scoped, "legal", name="Lena Legal")
    lifecycle.assign(db.session, dispute, controller, lawyer.id, "Contract question")
    assert (dispute.assigned_to_id, dispute.routed_to) == (lawyer.id, "legal")
    assert "Contract question" in db.session.scalars(select(Notification.text).where(
        Notification.user_id == lawyer.id)).one()
    with pytest.raises(ActionError):
        lifecycle.assign(db.session, dispute, controller, 999_999)


def test_a_dispute_s_notification_opens_for_its_owner_and_only_dispute_workers_may_own_one(
        app, scoped, controller, dispute):
    from tests.conftest import sign_in

    seller = make_user(scoped, "sales", name="Sam Sales")
    collector = make_user(scoped, "operator", name="Olly Operator")
    lifecycle.assign(db.session, dispute, controller, seller.id, "Your customer")
    with pytest.raises(ActionError, match="cannot open the disputes workspace"):
        lifecycle.assign(db.session, dispute, controller, collector.id)
    db.session.commit()
    link = db.session.scalars(select(Notification.link).where(Notification.user_id == seller.id)).one()
    assert sign_in(app.test_client(), seller).get(link).status_code == 200
