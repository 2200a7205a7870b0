"""Cadence cash impact over 30 days, from real message, payment and promise rows, in a few set-based queries."""

import datetime as dt
import itertools

import pytest
from sqlalchemy import event

from plixo.extensions import db
from plixo.ledger.models import Payment, PaymentApplication
from plixo.outreach.cadences import StepInput, create_cadence
from plixo.outreach.impact import cadence_impacts, segment_exposures
from plixo.outreach.models import Message, MessageInvoice, Segment
from plixo.outreach.segments import SegmentRules, preview_segment
from plixo.promises.models import Promise
from tests.factories import make_customer, make_invoice

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
STEPS = [StepInput(3, "due_date", "Invoice {invoice_number}", "Hello {customer_name}."),
         StepInput(7, "previous_touch", "Again: {invoice_number}", "Hello again {customer_name}.")]
_keys = itertools.count(1)


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def segment(org, name="All", **rules) -> Segment:
    found = Segment(org_id=org.id, name=name, rules=SegmentRules(**rules).to_json())
    db.session.add(found)
    db.session.flush()
    return found


def cadence(org, user, name="Gentle", on: Segment | None = None):
    return create_cadence(db.session, org, user, name, (on or segment(org, f"Segment for {name}")).id, STEPS,
                          "shadow", days_ago(20))


def invoice(org, **overrides):
    return make_invoice(org, due_date=TODAY - dt.timedelta(days=10), **overrides)


def message(step, invoices, sent_days_ago: float | None = 5, replied: bool = False, status: str = "sent"):
    """A cadence message listing `invoices`, sent `sent_days_ago` days before NOW."""
    sent_at = None if sent_days_ago is None else days_ago(sent_days_ago)
    found = Message(org_id=step.org_id, idempotency_key=f"k{next(_keys)}", customer_id=invoices[0].customer_id,
                    invoice_id=invoices[0].id, cadence_step_id=step.id, status=status, sent_at=sent_at,
                    replied_at=sent_at + dt.timedelta(hours=3) if replied else None)
    db.session.add(found)
    db.session.flush()
    db.session.add_all(MessageInvoice(org_id=step.org_id, message_id=found.id, invoice_id=i.id,
                                      cadence_step_id=step.id) for i in invoices)
    db.session.flush()
    return found


def payment(inv, amount: int, received_days_ago: float, status: str = "succeeded"):
    paid = Payment(org_id=inv.org_id, customer_id=inv.customer_id, currency=inv.currency, amount_minor=amount,
                   received_at=days_ago(received_days_ago), status=status)
    db.session.add(paid)
    db.session.flush()
    db.session.add(PaymentApplication(org_id=inv.org_id, payment_id=paid.id, invoice_id=inv.id, amount_minor=amount))
    db.session.flush()


def promise(inv, created_days_ago: float):
    db.session.add(Promise(org_id=inv.org_id, invoice_id=inv.id, customer_id=inv.customer_id, currency=inv.currency,
                           amount_minor=inv.balance_minor, promised_date=TODAY + dt.timedelta(days=5),
                           created_at=days_ago(created_days_ago)))
    db.session.flush()


def impact_of(org, found):
    return cadence_impacts(db.session, org.id, [found], NOW, TODAY)[found.id]


def test_collected_sums_recent_payments_on_touched_invoices_by_currency(scoped, controller):
    gentle = cadence(scoped, controller)
    usd, eur = invoice(scoped), invoice(scoped, currency="EUR")
    message(gentle.steps[0], [usd, eur])
    payment(usd, 40_000, received_days_ago=2)
    payment(usd, 10_000, received_days_ago=1)
    payment(eur, 7_500, received_days_ago=3)
    assert impact_of(scoped, gentle).collected == {"USD": 50_000, "EUR": 7_500}


def test_collected_leaves_out_old_failed_and_untouched_payments(scoped, controller):
    gentle = cadence(scoped, controller)
    touched, untouched = invoice(scoped), invoice(scoped)
    message(gentle.steps[0], [touched])
    payment(touched, 1_000, received_days_ago=31)  # before the window
    payment(touched, 2_000, received_days_ago=1, status="failed")
    payment(untouched, 3_000, received_days_ago=1)
    payment(touched, 4_000, received_days_ago=6)  # in the window, but before the e-mail (5 days ago)
    assert impact_of(scoped, gentle).collected == {}


def test_only_sent_messages_in_the_window_touch_an_invoice(scoped, controller):
    gentle = cadence(scoped, controller)
    drafted, sent_long_ago = invoice(scoped), invoice(scoped)
    message(gentle.steps[0], [drafted], sent_days_ago=None, status="draft")
    message(gentle.steps[0], [sent_long_ago], sent_days_ago=40)
    payment(drafted, 1_000, received_days_ago=1)
    payment(sent_long_ago, 1_000, received_days_ago=1)
    impact = impact_of(scoped, gentle)
    assert (impact.collected, impact.sent, impact.touched) == ({}, 0, 0)


def test_an_invoice_touched_by_two_steps_is_counted_once(scoped, controller):
    gentle = cadence(scoped, controller)
    inv = invoice(scoped)
    message(gentle.steps[0], [inv], sent_days_ago=12)
    message(gentle.steps[1], [inv], sent_days_ago=4)
    payment(inv, 5_000, received_days_ago=1)
    impact = impact_of(scoped, gentle)
    assert (impact.collected, impact.sent, impact.touched) == ({"USD": 5_000}, 2, 1)


def test_reply_rate_is_replied_over_sent_messages(scoped, controller):
    gentle = cadence(scoped, controller)
    for replied in (True, False, False, False):
        message(gentle.steps[0], [invoice(scoped)], replied=replied)
    assert impact_of(scoped, gentle).reply_rate == 0.25


def test_rates_are_none_when_nothing_was_sent(scoped, controller):
    impact = impact_of(scoped, cadence(scoped, controller))
    assert (impact.reply_rate, impact.promise_rate) == (None, None)


def test_promise_rate_credits_only_promises_made_after_the_touch(scoped, controller):
    gentle = cadence(scoped, controller)
    after, before, none = invoice(scoped), invoice(scoped), invoice(scoped)
    for inv in (after, before, none):
        message(gentle.steps[0], [inv], sent_days_ago=5)
    promise(after, created_days_ago=2)
    promise(before, created_days_ago=8)
    impact = impact_of(scoped, gentle)
    assert (impact.promised, impact.touched) == (1, 3) and impact.promise_rate == pytest.approx(1 / 3)


def test_cadences_are_measured_separately(scoped, controller):
    gentle, firm = cadence(scoped, controller, "Gentle"), cadence(scoped, controller, "Firm")
    mine, theirs = invoice(scoped), invoice(scoped)
    message(gentle.steps[0], [mine], replied=True)
    message(firm.steps[0], [theirs])
    payment(mine, 1_000, received_days_ago=1)
    impacts = cadence_impacts(db.session, scoped.id, [gentle, firm], NOW, TODAY)
    assert impacts[gentle.id].collected == {"USD": 1_000} and impacts[firm.id].collected == {}
    assert (impacts[gentle.id].reply_rate, impacts[firm.id].reply_rate) == (1.0, 0.0)


def test_exposure_is_what_the_segment_preview_shows(scoped, controller):
    low, high = make_customer(scoped, risk_tier="low"), make_customer(scoped, risk_tier="high")
    invoice(scoped, customer=low, balance_minor=300_000, amount_minor=300_000)
    invoice(scoped, customer=high, balance_minor=9_000_000, amount_minor=9_000_000)
    invoice(scoped, customer=high, currency="EUR")
    invoice(scoped, customer=low, status="paid", balance_minor=0)
    segments = [segment(scoped, "All"), segment(scoped, "High", risk_tiers=("high",)),
                segment(scoped, "Nothing", currencies=("JPY",))]
    exposures = segment_exposures(db.session, scoped.id, segments, TODAY)
    for found in segments:
        expected = preview_segment(db.session, scoped.id, SegmentRules.from_json(found.rules), TODAY)
        assert (exposures[found.id].count, exposures[found.id].balances) == (expected.count, expected.balances)


def test_the_cost_does_not_grow_with_the_number_of_cadences(scoped, controller):
    def statements(cadences) -> int:
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            cadence_impacts(db.session, scoped.id, cadences, NOW, TODAY)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    cadences = [cadence(scoped, controller, f"C{n}") for n in range(6)]
    for found in cadences:
        message(found.steps[0], [invoice(scoped)])
    assert statements(cadences[:1]) == statements(cadences) <= 6
