"""The weekly digest: turned on by CFOs and controllers only, sent once per member and ISO week through the server's
SMTP relay (a real sink on loopback) by the real job worker, never in quiet hours or on a day that is not a sending
day, retried when the relay took nothing, and never carrying one workspace's figures to another's members."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from jobs.digests import send_weekly_digests
from plixo.accounts import service
from plixo.accounts.models import Membership, Organization, Policy
from plixo.background import DEFAULT, enqueue
from plixo.extensions import db
from plixo.insights.digest import send_digests
from plixo.insights.models import DailySnapshot, WeeklyDigest
from plixo.ledger.balances import Reason, balance_reason
from plixo.tenancy import tenant_scope
from tests.conftest import run_jobs, sign_in
from tests.factories import audited, make_customer, make_invoice, make_org, make_user, membership_of
from tests.smtp_sink import start_sink

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = dt.date(2026, 12, 14)  # ISO week 2026-W51
TUESDAY = MONDAY + dt.timedelta(days=1)
DAY = dt.timedelta(days=1)
LAST_WEEK = {"currency": "USD", "open_ar_minor": 1_000_000, "dso_countback_days": 45.0, "bpdso_days": 0.0,
             "cei_percent": 50.0, "disputed_minor": 0, "promises": {"kept_rate_count": 0.5}}


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), BERLIN)


@pytest.fixture
def mailed(app, monkeypatch):
    """The server's mail relay pointed at a real SMTP sink; yields the list of what it accepted."""
    controller, sink = start_sink()
    monkeypatch.setitem(app.config, "SMTP_HOST", controller.hostname)
    monkeypatch.setitem(app.config, "SMTP_PORT", controller.port)
    yield sink.messages
    controller.stop()


def _opt_in(user, on: bool = True) -> None:
    membership_of(user).weekly_digest = on
    db.session.commit()


@pytest.fixture
def workspace(app):
    """A Berlin workspace ($12,000.00 open, $500.00 of it paid on Saturday, £7,000.00 with no rate, last Monday's
    snapshot) whose CFO has turned the digest on."""
    org = make_org(name="Acme & Söhne", time_zone="Europe/Berlin", base_currency="USD")
    cfo = make_user(org, "cfo", name="Carla CFO", email="carla@acme.example")
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex Secret Customer")
        invoice = make_invoice(org, customer, number="SECRET-1", issue_date=MONDAY - 40 * DAY,
                               due_date=MONDAY - 10 * DAY, amount_minor=1_250_000, balance_minor=1_250_000)
        make_invoice(org, customer, issue_date=MONDAY - 5 * DAY, due_date=MONDAY + 25 * DAY, currency="GBP",
                     amount_minor=700_000, balance_minor=700_000)
        with balance_reason(db.session, Reason("collected", "refunded", "stripe", MONDAY - 2 * DAY)):
            invoice.balance_minor -= 50_000
            db.session.flush()
        db.session.add(DailySnapshot(org_id=org.id, day=MONDAY - 7 * DAY, currency="USD",
                                     metrics={"kpis": LAST_WEEK}))
        db.session.commit()
    _opt_in(cfo)
    return org, cfo


def _run(now: dt.datetime) -> None:
    """The hourly job, as cron starts it, at `now`."""
    enqueue(DEFAULT, send_weekly_digests, now.isoformat())
    run_jobs()


def _rows(org) -> list[WeeklyDigest]:
    with tenant_scope(org.id):
        return list(db.session.scalars(select(WeeklyDigest).order_by(WeeklyDigest.id)))


def _policy(org, **values) -> None:
    with tenant_scope(org.id):
        db.session.execute(update(Policy).values(**values))
        db.session.commit()


def _parsed(message):
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)  # the sink keeps compat32


def _part(message, subtype: str) -> str:
    return _parsed(message).get_body((subtype,)).get_content()


def _text(message) -> str:
    return _part(message, "plain")


def _html(message) -> str:
    return _part(message, "html")


# --- Opting in ------------------------------------------------------------------------------------------------


def test_a_cfo_turns_the_digest_on_for_themself(app, org):
    cfo = make_user(org, "cfo")
    db.session.commit()
    response = sign_in(app.test_client(), cfo).post("/settings/weekly-digest", data={"weekly_digest": "on"},
                                                    headers={"HX-Request": "true"})
    assert response.status_code == 200 and b"Turn the weekly digest off" in response.data
    assert json.loads(response.headers["HX-Trigger"])["shell:toast"]["message"] == "Weekly digest turned on."
    with tenant_scope(org.id):
        assert membership_of(cfo).weekly_digest and audited("insights.weekly_digest_on")


def test_a_controller_turns_it_off_again(client, controller, org):
    _opt_in(controller)
    assert client.post("/settings/weekly-digest", data={"weekly_digest": "off"}).status_code == 303
    with tenant_scope(org.id):
        assert not membership_of(controller).weekly_digest and audited("insights.weekly_digest_off")


@pytest.mark.parametrize("role", ["operator", "ar_manager", "billing_admin", "sales", "csm", "legal"])
def test_other_roles_cannot_turn_it_on(client_as, role):
    member = client_as(role)
    assert member.post("/settings/weekly-digest", data={"weekly_digest": "on"}).status_code == 403
    page = member.get("/settings/weekly-digest").get_data(as_text=True)
    assert "The weekly digest goes to CFOs and controllers" in page and "Turn the weekly digest on" not in page


def test_a_choice_that_is_neither_on_nor_off_changes_nothing(client, controller):
    response = client.post("/settings/weekly-digest", data={"weekly_digest": "sNaN"}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and b"Choose on or off" in response.data
    assert not membership_of(controller).weekly_digest


def test_the_page_says_when_it_goes_and_offers_it_only_to_cfos_and_controllers(client, client_as):
    page = client.get("/settings/weekly-digest").get_data(as_text=True)
    assert "Turn the weekly digest on" in page and "08:00" in page and "Mon, Tue, Wed, Thu, Fri" in page
    assert "Weekly digest" in client_as("cfo").get("/").get_data(as_text=True)  # in the navigation
    assert "/settings/weekly-digest" not in client_as("operator").get("/").get_data(as_text=True)


def test_a_role_change_away_from_cfo_turns_it_off(workspace, app):
    org, cfo = workspace
    controller = make_user(org, "controller")
    with tenant_scope(org.id):
        service.change_role(db.session, membership=membership_of(cfo), role="operator", actor=controller)
        db.session.commit()
    assert not membership_of(cfo).weekly_digest


# --- When it goes -----------------------------------------------------------------------------------------------


def test_cron_checks_for_due_digests_every_hour():
    from rq import cron

    import jobs.cron  # noqa: F401 - registering is what importing it does

    assert any(entry["func"] is send_weekly_digests and entry["interval"] == 3600
               for entry in cron._job_data_registry)


def test_it_goes_once_a_week_however_often_the_job_runs(workspace, mailed):
    org, _cfo = workspace
    for now in (at(MONDAY, 8, 5), at(MONDAY, 8, 5), at(MONDAY, 9), at(MONDAY + 3 * DAY, 11)):
        _run(now)
    assert [m["To"] for m in mailed] == ["carla@acme.example"]
    assert [(r.week, r.status, r.attempts) for r in _rows(org)] == [("2026-W51", "sent", 1)]
    _run(at(MONDAY + 7 * DAY, 8, 30))
    assert len(mailed) == 2 and _rows(org)[-1].week == "2026-W52"


def test_concurrent_runs_send_each_member_one_digest(app, workspace, mailed):
    org, _cfo = workspace
    for n in range(3):
        _opt_in(make_user(org, "controller", email=f"controller{n}@acme.example"))
    runs, org_id = 4, org.id  # read here: the test's objects belong to the test's session, not the runs'
    barrier = threading.Barrier(runs, timeout=30)

    def run(_n: int) -> None:
        with app.app_context(), tenant_scope(org_id):
            barrier.wait()
            send_digests(db.session, db.session.get(Organization, org_id), app.config, at(MONDAY, 9))
            db.session.remove()

    with ThreadPoolExecutor(max_workers=runs) as pool:
        list(pool.map(run, range(runs)))  # re-raises what any run raised
    db.session.commit()  # a fresh snapshot: what the runs committed
    assert sorted(m["To"] for m in mailed) == sorted(
        ["carla@acme.example"] + [f"controller{n}@acme.example" for n in range(3)])
    assert {r.status for r in _rows(org)} == {"sent"}


def test_nothing_goes_before_eight_on_monday(workspace, mailed):
    org, _cfo = workspace
    _run(at(MONDAY, 7, 45))
    assert mailed == [] and _rows(org) == []


def test_quiet_hours_that_run_past_eight_hold_it_until_they_end(workspace, mailed):
    org, _cfo = workspace
    _policy(org, quiet_hours_start=dt.time(20), quiet_hours_end=dt.time(10))
    _run(at(MONDAY, 9))
    assert mailed == []
    _run(at(MONDAY, 10, 5))
    assert len(mailed) == 1


def test_a_digest_due_in_quiet_hours_is_deferred_to_the_next_allowed_moment(workspace, mailed):
    org, _cfo = workspace
    _run(at(MONDAY, 21))  # the worker was down all day; quiet hours run from 20:00 to 08:00
    assert mailed == []
    assert [(r.status, r.scheduled_for) for r in _rows(org)] == [("scheduled", at(TUESDAY, 8))]
    _run(at(TUESDAY, 7, 30))
    assert mailed == []
    _run(at(TUESDAY, 8, 10))
    assert len(mailed) == 1 and _rows(org)[0].status == "sent"


def test_a_week_whose_monday_is_no_sending_day_starts_on_tuesday(workspace, mailed):
    org, _cfo = workspace
    _policy(org, sending_days=[1, 2, 3, 4])
    _run(at(MONDAY, 9))
    assert mailed == [] and _rows(org) == []
    _run(at(TUESDAY, 8, 30))
    assert len(mailed) == 1


def test_a_digest_its_week_could_not_send_is_not_sent_late(workspace, mailed, app, monkeypatch):
    org, _cfo = workspace
    monkeypatch.setitem(app.config, "SMTP_HOST", "")
    _run(at(MONDAY, 9))
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    _run(at(MONDAY + 7 * DAY, 7))  # next Monday, before the new week's digest is due
    assert mailed == [] and [r.status for r in _rows(org)] == ["expired"]


# --- The relay --------------------------------------------------------------------------------------------------


def test_a_relay_that_took_nothing_is_tried_again_without_a_duplicate(workspace, mailed, app, monkeypatch):
    org, _cfo = workspace
    relay = app.config["SMTP_HOST"]
    monkeypatch.setitem(app.config, "SMTP_HOST", "")  # no relay: nothing can leave
    _run(at(MONDAY, 9))
    row = _rows(org)[0]
    assert (row.status, row.attempts, row.scheduled_for) == ("scheduled", 1, at(MONDAY, 9, 15))
    assert "SMTP_HOST" in row.last_error
    monkeypatch.setitem(app.config, "SMTP_HOST", relay)
    _run(at(MONDAY, 9, 5))  # before the retry is due
    assert mailed == []
    _run(at(MONDAY, 9, 20))
    _run(at(MONDAY, 10))
    row = _rows(org)[0]
    assert len(mailed) == 1 and (row.status, row.attempts) == ("sent", 2)
    assert mailed[0]["Message-ID"] == row.message_id_header


def test_a_relay_refusing_for_now_is_retried_and_for_good_is_not(workspace, mailed):
    org, cfo = workspace
    busy = make_user(org, "controller", email="busy@busy.example")
    gone = make_user(org, "controller", email="gone@bounce.example")
    _opt_in(busy)
    _opt_in(gone)
    _run(at(MONDAY, 9))
    by_user = {r.user_id: r for r in _rows(org)}
    assert by_user[cfo.id].status == "sent"
    assert (by_user[busy.id].status, by_user[busy.id].attempts) == ("scheduled", 1)
    assert by_user[gone.id].status == "failed"
    assert [m["To"] for m in mailed] == ["carla@acme.example"]


def test_a_sender_that_died_mid_hand_over_never_sends_it_again(workspace, mailed):
    org, cfo = workspace
    with tenant_scope(org.id):
        db.session.add(WeeklyDigest(org_id=org.id, user_id=cfo.id, week="2026-W51", status="delivering",
                                    scheduled_for=at(MONDAY, 8), claimed_until=at(MONDAY, 8, 10), attempts=1))
        db.session.commit()
    _run(at(MONDAY, 9))
    assert mailed == [] and [r.status for r in _rows(org)] == ["unknown"]


def test_a_sender_that_died_before_the_hand_over_leaves_it_to_the_next_run(workspace, mailed):
    org, cfo = workspace
    with tenant_scope(org.id):
        db.session.add(WeeklyDigest(org_id=org.id, user_id=cfo.id, week="2026-W51", status="sending",
                                    scheduled_for=at(MONDAY, 8), claimed_until=at(MONDAY, 8, 10), attempts=1))
        db.session.commit()
    _run(at(MONDAY, 9))
    assert len(mailed) == 1 and [r.status for r in _rows(org)] == ["sent"]


# --- What it says and to whom -----------------------------------------------------------------------------------


def test_it_carries_the_headline_figures_their_change_and_the_console_link(workspace, mailed, app):
    _run(at(MONDAY, 9))
    text, html = _text(mailed[0]), _html(mailed[0])
    assert _parsed(mailed[0])["Subject"] == "Weekly A/R digest: Acme & Söhne, 14 Dec 2026"
    for line in ("Open A/R: $12,000.00  (\u25b2 $2,000.00)", "plus GBP 7,000.00 without a rate",
                 "Cash collected, last 7 days: $500.00  (\u25b2 $500.00)",
                 "Countback DSO: 58.8 days  (\u25b2 13.8 days)",  # 30 + 30 x 12,000 / 12,500
                 "Best-possible DSO: 0.0 days  (= no change)", "CEI: 4.0%  (\u25bc 46.0 pts)",
                 "Promise kept rate: \u2014", "Disputed: $0.00  (= no change)"):
        assert line in text
    console = app.config["PUBLIC_BASE_URL"] + "/admin/overview"
    assert f"Open the CFO console: {console}" in text and f'href="{console}"' in html
    assert "Acme &amp; Söhne" in html and "\u25b2 $2,000.00" in html


def test_without_last_weeks_snapshot_every_change_is_a_dash(workspace, mailed):
    org, _cfo = workspace
    with tenant_scope(org.id):
        db.session.execute(update(DailySnapshot).values(day=MONDAY - 8 * DAY))
        db.session.commit()
    _run(at(MONDAY, 9))
    text = _text(mailed[0])
    assert "Open A/R: $12,000.00  (\u2014 no figure from last week)" in text
    assert "There is no snapshot from a week ago yet" in text


def test_it_names_no_customer_invoice_or_person_but_its_reader(workspace, mailed):
    _run(at(MONDAY, 9))
    mail = mailed[0].as_string()
    assert "Globex" not in mail and "SECRET-1" not in mail and "Carla CFO" in _text(mailed[0])


def test_a_member_of_another_workspace_never_receives_it(workspace, mailed):
    org, _cfo = workspace
    other = make_org(name="Beta Corp", time_zone="Europe/Berlin", base_currency="USD")
    otto = make_user(other, "controller", email="otto@beta.example")
    with tenant_scope(other.id):
        make_invoice(other, issue_date=MONDAY - 40 * DAY, due_date=MONDAY - 10 * DAY, amount_minor=333_300,
                     balance_minor=333_300)
        db.session.commit()
    _opt_in(otto)
    db.session.add(Membership(org_id=org.id, user_id=otto.id, role="cfo"))  # also Acme's CFO, digest off there
    db.session.commit()
    _run(at(MONDAY, 9))
    by_recipient = {m["To"]: _text(m) for m in mailed}
    assert sorted(by_recipient) == ["carla@acme.example", "otto@beta.example"] and len(mailed) == 2
    assert "$12,000.00" in by_recipient["carla@acme.example"] and "$3,333.00" not in by_recipient["carla@acme.example"]
    assert "$3,333.00" in by_recipient["otto@beta.example"] and "Acme" not in by_recipient["otto@beta.example"]


def test_a_member_no_longer_eligible_when_it_is_due_gets_nothing(workspace, mailed):
    org, cfo = workspace
    operator = make_user(org, "operator", email="op@acme.example")
    _opt_in(operator)  # written behind the page's back: the sender checks the role again
    _run(at(MONDAY, 21))  # due, deferred past quiet hours
    membership_of(cfo).is_active = False
    db.session.commit()
    _run(at(TUESDAY, 8, 10))
    assert mailed == [] and [r.status for r in _rows(org)] == ["cancelled"]
