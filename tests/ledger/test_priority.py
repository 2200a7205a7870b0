"""queue_priority: pure scoring, explainable components."""

import datetime as dt

from plixo.ledger.priority import FLAG_POINTS, PriorityFacts, amount_points, queue_priority, ranking_amount

TODAY = dt.date(2026, 11, 22)


def facts(**overrides) -> PriorityFacts:
    values = {"due_date": TODAY - dt.timedelta(days=10), "balance_minor": 100_000, "currency": "USD",
              "workspace_currency": "USD", "risk_tier": "medium"}
    return PriorityFacts(**{**values, **overrides})


def score(**overrides) -> int:
    return queue_priority(facts(**overrides), TODAY).score


def test_older_debt_scores_higher_than_newer_debt_of_the_same_amount():
    assert score(due_date=TODAY - dt.timedelta(days=95)) > score(due_date=TODAY - dt.timedelta(days=45)) \
        > score(due_date=TODAY - dt.timedelta(days=5)) > score(due_date=TODAY + dt.timedelta(days=5))


def test_larger_balances_score_higher_within_a_bucket():
    assert score(balance_minor=5_000_000) > score(balance_minor=50_000) > score(balance_minor=500)


def test_amount_points_are_capped_below_any_flag():
    assert amount_points(10**12) < min(FLAG_POINTS.values())


def test_small_invoice_with_a_broken_promise_outranks_a_large_quiet_old_one():
    broken = score(balance_minor=5_000, due_date=TODAY - dt.timedelta(days=3),
                   promise_broken_on=TODAY - dt.timedelta(days=1))
    assert broken > score(balance_minor=900_000_000, due_date=TODAY - dt.timedelta(days=200), risk_tier="high")


def test_small_disputing_customer_and_bouncing_contact_also_rise_to_the_top():
    quiet_big = score(balance_minor=900_000_000, due_date=TODAY - dt.timedelta(days=200))
    assert score(balance_minor=5_000, customer_disputing=True) > quiet_big
    assert score(balance_minor=5_000, bounce_prone=True) > quiet_big


def test_promise_due_within_three_days_is_flagged_but_a_later_one_is_not():
    assert "promise_due" in queue_priority(facts(promise_date=TODAY + dt.timedelta(days=2)), TODAY).flags
    assert queue_priority(facts(promise_date=TODAY + dt.timedelta(days=9)), TODAY).flags == ()


def test_high_risk_scores_higher_than_low_risk():
    assert score(risk_tier="high") > score(risk_tier="medium") > score(risk_tier="low")


def test_why_reads_like_a_sentence_most_important_first():
    priority = queue_priority(facts(due_date=TODAY - dt.timedelta(days=120), balance_minor=4_800_000,
                                    promise_broken_on=TODAY - dt.timedelta(days=1)), TODAY)
    assert priority.why == "promise broken yesterday · 120 days past due · $48k"


def test_score_is_the_sum_of_its_components():
    priority = queue_priority(facts(customer_disputing=True, risk_tier="high"), TODAY)
    assert priority.score == sum(c.points for c in priority.components)


def test_other_currencies_are_ranked_in_the_workspace_currency():
    assert ranking_amount(100_000, "USD", "USD") == 1000
    assert ranking_amount(100_000, "EUR", "USD") > 1000
    assert ranking_amount(100_000, "JPY", "USD") < 1000  # JPY has no minor unit: ¥100,000 ≈ $670
