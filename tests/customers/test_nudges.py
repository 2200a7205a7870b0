"""Suggested reminders: saved as a draft for a collector, never sent by the one who suggests, refused when
outreach is stopped or the text is not ready, and shown to the collector in the inspector."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from plixo.accounts.models import Membership, Notification
from plixo.actions import ActionError
from plixo.extensions import db
from plixo.holds import service as holds
from plixo.model import utcnow
from plixo.outreach import nudges, sends
from plixo.outreach.models import Message, MessageInvoice
from plixo.queue.inspector import inspect
from plixo.tenancy import tenant_scope
from tests.factories import across_workspaces, audited, make_user


@pytest.fixture
def sales(org):
    user = make_user(org, "sales", name="Jake Morrison", email="jake@acmetest.example")
    db.session.commit()
    return user


def _suggest(org, invoice, user, subject=None, body=None):
    with tenant_scope(org.id):
        if subject is None:
            subject, body = nudges.nudge_draft(db.session, org, invoice, utcnow())
        draft = nudges.suggest_nudge(db.session, org, invoice, user, "sales", subject, body, utcnow())
        db.session.commit()
    return draft


def _notified(user):
    return across_workspaces(select(Notification).where(Notification.user_id == user.id))


def test_a_suggestion_is_a_draft_for_the_owner_to_review_and_never_sends(org, controller, collector, sales, globex):
    invoice = globex["overdue"]
    draft = _suggest(org, invoice, sales)
    assert (draft.status, draft.suggested_by_id, draft.invoice_id) == ("draft", sales.id, invoice.id)
    assert "{amount_due}" in draft.body  # figures stay merge fields until a collector sends it
    assert across_workspaces(select(Message).where(Message.status != "draft")) == []
    assert across_workspaces(select(MessageInvoice)) == []
    [notice] = _notified(collector)  # the customer's owner collects: nobody else is bothered
    assert notice.link == f"/work/queue/{invoice.id}" and "Jake Morrison (Sales)" in notice.text
    assert _notified(controller) == []
    with tenant_scope(org.id):
        assert audited("outreach.nudge_suggested")


def test_the_invoice_assignee_reviews_first(org, collector, sales, globex):
    other = make_user(org, "operator", name="Olive Operator")
    with tenant_scope(org.id):
        globex["overdue"].assignee_id = other.id
        db.session.commit()
    _suggest(org, globex["overdue"], sales)
    assert len(_notified(other)) == 1 and _notified(collector) == []


def test_without_a_collecting_owner_the_controllers_and_managers_review(org, controller, collector, sales, globex):
    manager = make_user(org, "ar_manager", name="Marcus Chen")
    with tenant_scope(org.id):
        globex["customer"].owner_id = sales.id  # Sales owns the account, but does not collect
        db.session.commit()
    _suggest(org, globex["overdue"], sales)
    assert len(_notified(controller)) == 1 and len(_notified(manager)) == 1
    assert _notified(collector) == [] and _notified(sales) == []


def test_an_inactive_owner_is_passed_over(org, controller, collector, sales, globex):
    with tenant_scope(org.id):
        db.session.scalar(select(Membership).where(Membership.user_id == collector.id)).is_active = False
        db.session.commit()
    _suggest(org, globex["overdue"], sales)
    assert _notified(collector) == [] and len(_notified(controller)) == 1


def test_no_suggestion_where_outreach_is_stopped(org, sales, globex):
    with pytest.raises(ActionError, match="Not open"):
        _suggest(org, globex["euro"], sales)  # disputed
    with pytest.raises(ActionError, match="Paid in full"):
        _suggest(org, globex["paid"], sales)
    with tenant_scope(org.id):
        holds.place_hold(db.session, org, globex["current"], sales, "Customer asked for a pause", None, utcnow())
        db.session.commit()
    with pytest.raises(ActionError, match="On hold"):
        _suggest(org, globex["current"], sales)
    assert across_workspaces(select(Message)) == []


def test_unknown_or_empty_merge_fields_are_refused(org, sales, globex):
    with pytest.raises(ActionError, match=r"Unknown merge field \{customer\}"):
        _suggest(org, globex["overdue"], sales, "Invoice {invoice_number}", "Dear {customer}, please pay.")
    with pytest.raises(ActionError, match="no value for this invoice"):
        _suggest(org, globex["overdue"], sales, "Invoice {invoice_number}", "Pay here: {pay_link}")
    with pytest.raises(ActionError, match="Write the e-mail"):
        _suggest(org, globex["overdue"], sales, "Invoice {invoice_number}", "  ")
    assert across_workspaces(select(Message)) == []


def test_one_suggestion_at_a_time_per_invoice(org, sales, globex):
    _suggest(org, globex["overdue"], sales)
    with pytest.raises(ActionError, match="already waits"):
        _suggest(org, globex["overdue"], sales)


def test_the_collector_sees_who_suggested_it_and_sends_it(org, collector, sales, globex):
    invoice = globex["overdue"]
    draft = _suggest(org, invoice, sales, "Invoice {invoice_number}", "Hello,\n\n{amount_due} is due.\n\n{sender_name}")
    with tenant_scope(org.id):
        seen = inspect(db.session, org, invoice, collector, utcnow(), sender_role="operator")
        assert seen.suggested_by == "Jake Morrison (Sales)" and seen.body == draft.body
        sent = sends.send_email(db.session, org, invoice, collector, seen.subject, seen.body, seen.merge_values,
                                seen.recipient, utcnow())
    assert sent.id == draft.id and sent.status == "scheduled" and "$2,500.00 is due" in sent.body
    assert sent.body.endswith("Priya Raman") and sent.approved_by_id == collector.id
