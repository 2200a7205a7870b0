"""The month-long simulation: the real engine and sender under payments, disputes, opt-outs, bounces and
crashes, judged e-mail by e-mail. The referee is shown to catch a sender that ignores a rule."""

import json

import pytest

from plixo.demo.simulation import simulate
from plixo.extensions import db


def test_a_simulated_month_breaks_no_rule_sends_nothing_twice_and_loses_nothing(app):
    report = simulate(db.session, days=30, invoices=120, seed=11)
    assert report.sent > 50 and report.crashes > 0 and report.events["payment"] > 0
    assert (report.violations, report.duplicates, report.lost) == (0, 0, 0), report.as_json()
    assert report.on_time >= 0.99 * report.eligible_touches


def test_the_generated_workspace_is_removed_afterwards(app):
    from sqlalchemy import func, select

    from plixo.accounts.models import Organization

    before = db.session.scalar(select(func.count()).select_from(Organization))
    simulate(db.session, days=2, invoices=20, seed=3)
    assert db.session.scalar(select(func.count()).select_from(Organization)) == before


BLIND_TO_WINDOWS = {"plixo.outreach.planner.next_allowed_moment": lambda moment, *args, **kwargs: moment,
                    "plixo.outreach.send_guard.next_allowed_moment": lambda moment, *args, **kwargs: moment}
BLIND_TO_PAYMENTS = {"plixo.outreach.outbox.stopping_reasons_by_invoice":
                     lambda session, ids, today: {i: [] for i in ids}}


@pytest.mark.parametrize(("blindness", "rule"), [(BLIND_TO_WINDOWS, "quiet_hours"), (BLIND_TO_PAYMENTS, "paid")])
def test_the_referee_catches_a_pipeline_that_ignores_a_rule(app, monkeypatch, blindness, rule):
    for target, replacement in blindness.items():
        monkeypatch.setattr(target, replacement)
    report = simulate(db.session, days=7, invoices=80, seed=5)
    assert report.violations_by_rule[rule] > 0


def test_the_command_prints_one_json_line_last(app):
    result = app.test_cli_runner().invoke(args=["simulate", "--days", "2", "--invoices", "20", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert {"invoices", "sent", "eligible_touches", "on_time", "violations", "duplicates", "lost",
            "violations_by_rule"} <= report.keys()
