"""The one send guard, rule by rule: what stops an e-mail, what moves it later, and what an override may waive."""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from plixo.outreach.send_guard import CustomerFacts, DailyLoad, WaitingReply, decide

BERLIN, UTC = ZoneInfo("Europe/Berlin"), ZoneInfo("UTC")
# Tuesday 8 Dec 2026, 10:00 in Berlin (09:00 UTC): inside every window.
NOW = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


@dataclass
class Policy:
    quiet_hours_start: dt.time = dt.time(20, 0)
    quiet_hours_end: dt.time = dt.time(8, 0)
    business_hours_start: dt.time = dt.time(9, 0)
    business_hours_end: dt.time = dt.time(17, 0)
    sending_days: list = field(default_factory=lambda: [0, 1, 2, 3, 4])
    min_gap_hours: int = 48
    max_touches_per_week: int = 2


def load(limit=200, **known_days) -> DailyLoad:
    return DailyLoad(limit, UTC, known=Counter(known_days.get("known", {})))


def ask(facts=None, automated=False, now=NOW, policy=None, daily=None, **options):
    return decide(policy or Policy(), daily or load(), facts or CustomerFacts(), BERLIN, now, automated=automated,
                  **options)


def state(verdict, label) -> str:
    return next(rule.state for rule in verdict.rules if rule.label == label)


def test_with_nothing_in_the_way_the_email_goes_now():
    verdict = ask()
    assert verdict.moment == NOW and not verdict.waits and verdict.reason is None
    assert {rule.state for rule in verdict.rules} == {"ok"}


def test_a_stopping_condition_stops_it_for_everyone():
    for automated in (False, True):
        verdict = ask(CustomerFacts(stops=["Paid in full"]), automated=automated)
        assert verdict.stopped and verdict.reason == "Paid in full"


def test_the_minimum_gap_moves_the_email_to_48_hours_after_the_last_one_and_says_so():
    verdict = ask(CustomerFacts(touches=[NOW - HOUR]))
    assert verdict.moment == NOW + 47 * HOUR
    assert verdict.reason == "Minimum gap of 48 h: goes Thu 10 Dec 09:00 in Europe/Berlin"
    assert state(verdict, "Minimum gap") == "wait" and verdict.waivable


def test_a_planned_email_counts_too_so_nothing_slips_in_before_it():
    planned = NOW + 24 * HOUR
    verdict = ask(CustomerFacts(touches=[planned]))
    assert verdict.moment == planned + 48 * HOUR


def test_the_weekly_cap_waits_for_the_oldest_touch_to_leave_the_week():
    touches = [NOW - 6 * DAY, NOW - 3 * DAY]
    verdict = ask(CustomerFacts(touches=touches))
    assert verdict.moment == NOW + DAY and verdict.reason.startswith("At most 2 touches a week")
    assert state(verdict, "Touches this week") == "wait"


def test_quiet_hours_are_the_payers_own():
    late = dt.datetime(2026, 12, 8, 19, 30, tzinfo=dt.UTC)  # 20:30 in Berlin: quiet there
    verdict = ask(now=late)
    assert verdict.moment == dt.datetime(2026, 12, 9, 7, 0, tzinfo=dt.UTC)  # 08:00 Berlin
    assert verdict.reason.startswith("Quiet hours: goes Wed 09 Dec 08:00")
    assert not verdict.waivable


def test_sending_days_skip_the_weekend():
    saturday = dt.datetime(2026, 12, 12, 10, 0, tzinfo=dt.UTC)
    assert ask(now=saturday).moment == dt.datetime(2026, 12, 14, 7, 0, tzinfo=dt.UTC)  # Monday 08:00 Berlin


def test_no_sending_day_at_all_stops_it():
    verdict = ask(policy=Policy(sending_days=[]))
    assert verdict.stopped and "no sending day" in verdict.reason


def test_a_full_day_moves_the_email_to_the_next_day_within_the_window():
    verdict = ask(daily=DailyLoad(5, UTC, known=Counter({NOW.date(): 5})))
    assert verdict.moment == dt.datetime(2026, 12, 9, 7, 0, tzinfo=dt.UTC)
    assert verdict.reason.startswith("Daily cap of 5 reached") and not verdict.waivable


def test_the_warmup_cap_names_itself():
    daily = DailyLoad(20, UTC, "Warmup cap", known=Counter({NOW.date(): 20}),
                      reached="Warmup cap of 20 for mail.acme.example reached")
    assert ask(daily=daily).reason.startswith("Warmup cap of 20 for mail.acme.example reached")


def test_an_override_waives_the_touch_rules_but_never_the_quiet_hours():
    facts = CustomerFacts(touches=[NOW - HOUR, NOW - 2 * DAY])
    waived = ask(facts, waive_touch_rules=True)
    assert waived.moment == NOW and state(waived, "Minimum gap") == "warn"
    late = dt.datetime(2026, 12, 8, 19, 30, tzinfo=dt.UTC)
    assert ask(CustomerFacts(touches=[late - HOUR]), now=late, waive_touch_rules=True).moment == \
        dt.datetime(2026, 12, 9, 7, 0, tzinfo=dt.UTC)


def test_an_open_dispute_warns_a_person_and_stops_autopilot():
    facts = CustomerFacts(open_disputes=["INV-7"])
    person = ask(facts)
    assert person.moment == NOW and state(person, "Open dispute") == "warn"
    robot = ask(facts, automated=True)
    assert robot.stopped and "INV-7 disputed" in robot.reason


def test_a_waiting_reply_warns_a_person_and_stops_autopilot():
    facts = CustomerFacts(waiting_reply=WaitingReply(NOW - DAY, "dana@globex.example"))
    assert state(ask(facts), "Reply") == "warn" and not ask(facts).stopped
    assert ask(facts, automated=True).stopped
    assert "Reply from dana@globex.example waiting since" in ask(facts, automated=True).reason


def test_a_sender_that_is_not_ready_stops_autopilot_only():
    blockers = ["SPF does not verify for mail.acme.example."]
    assert ask(automation_blockers=blockers, automated=True).stopped
    assert not ask(automation_blockers=blockers).stopped


def test_autopilot_keeps_to_business_hours_people_to_quiet_hours():
    early = dt.datetime(2026, 12, 8, 7, 15, tzinfo=dt.UTC)  # 08:15 Berlin: past quiet hours, before business
    assert ask(now=early).moment == early
    assert ask(now=early, automated=True).moment == dt.datetime(2026, 12, 8, 8, 0, tzinfo=dt.UTC)


def test_a_chosen_later_time_is_kept_when_every_rule_allows_it():
    chosen = NOW + 3 * DAY
    verdict = ask(at=chosen)
    assert verdict.moment == chosen and verdict.cause == "Chosen time"
