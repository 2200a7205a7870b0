"""The Why column's chips: a short label per priority reason, the full reason kept for the title."""

import datetime as dt

from plixo.queue.chips import Chip, why_chips
from tests.queue.test_views import ledger  # noqa: F401 (the fixture)

TODAY = dt.date(2026, 12, 7)


def chips(why: str, days_overdue: int) -> list[Chip]:
    return why_chips({"why": why}, TODAY - dt.timedelta(days=days_overdue), TODAY)


def test_each_reason_becomes_a_short_chip_in_the_same_order():
    found = chips("promise broken 2 days ago · contact e-mail bouncing · customer has an open dispute · 61-90 days"
                  " · $28k · high risk", 62)
    assert [c.label for c in found] == ["Broken promise", "Bounced", "Dispute", "62 d overdue", "$28k", "High risk"]
    assert [c.kind for c in found] == ["promise_broken", "bounce", "dispute", "aging", "amount", "risk"]
    assert found[0].reason == "promise broken 2 days ago" and found[3].reason == "61-90 days"


def test_the_age_chip_counts_the_days_whatever_the_bucket_said():
    assert chips("294 days past due · €1.2k", 294)[0] == Chip("294 d overdue", "294 days past due", "aging")
    assert chips("not yet due", -4)[0].label == "Due in 4 d"
    assert chips("not yet due", 0)[0].label == "Due today"


def test_a_promise_falling_due_and_a_strained_domain_read_short():
    found = chips("promise due tomorrow · contact e-mail bouncing, sending domain at 6.2%", 10)
    assert [c.label for c in found] == ["Promise due", "Bounced"]
    assert found[1].reason == "contact e-mail bouncing, sending domain at 6.2%"


def test_a_row_without_a_stored_reason_has_no_chips():
    assert why_chips(None, TODAY, TODAY) == [] and why_chips({}, TODAY, TODAY) == []


def test_the_queue_page_shows_chips_with_the_full_reason_on_hover(client, ledger):  # noqa: F811
    html = client.get("/work/queue").get_data(as_text=True)
    assert '<span class="chip chip-aging" title="120 days past due">120 d overdue</span>' in html
    assert '<span class="chip chip-amount" title="$48k">$48k</span>' in html
    assert 'title="120 days past due · $48k"' in html  # the cell, and its screen-reader text:
    assert '<span class="sr-only">120 days past due · $48k</span>' in html


def test_the_recommended_step_names_the_template_of_the_draft(client, ledger):  # noqa: F811
    html = client.get(f"/work/queue/{ledger['old'].id}", headers={"HX-Request": "true", "HX-Target": "inspector"})
    text = html.get_data(as_text=True)
    assert "Offer a payment plan" in text and "E-mail drafted below: Payment plan offer." in text
    assert '<option value="payment_plan" selected>' in text
