"""The CFO console page: who may open it, its figures, the rows behind them, filters, the CSV, and a cache that
never shows a figure a commit has moved."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from plixo.extensions import db
from plixo.ledger.balances import Reason, balance_reason
from plixo.ledger.models import Invoice
from plixo.tenancy import tenant_scope
from tests.conftest import sign_in
from tests.factories import PASSWORD, make_org, make_user


@pytest.fixture
def console(app, ledger):
    org, controller, today = ledger
    return sign_in(app.test_client(), controller), org, today


@pytest.mark.parametrize("role", ["controller", "ar_manager", "cfo"])
def test_the_finance_roles_open_the_console(app, ledger, role):
    org, _controller, _today = ledger
    member = make_user(org, role)
    db.session.commit()
    page = sign_in(app.test_client(), member).get("/admin/overview")
    assert page.status_code == 200 and b"Countback DSO" in page.data


@pytest.mark.parametrize("role", ["operator", "sales", "legal", "billing_admin"])
def test_other_roles_may_not(app, ledger, role):
    org, _controller, _today = ledger
    member = make_user(org, role)
    db.session.commit()
    assert sign_in(app.test_client(), member).get("/admin/overview").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(anon):
    assert anon.get("/admin/overview").status_code in (302, 401)


def test_the_tiles_show_the_hand_computed_figures_and_say_what_has_no_rate(console):
    client, _org, _today = console
    html = client.get("/admin/overview").get_data(as_text=True)
    assert "$2,210.00" in html  # open A/R: 2,100.00 USD + 110.00 for 100.00 EUR
    assert "78.0" in html  # countback DSO
    assert 'id="not-converted"' in html and "GBP" in html
    assert html.count("data-console-chart='{") == 6


def test_every_tile_link_opens_the_rows_behind_it(console):
    client, _org, _today = console
    cash = client.get("/admin/overview/behind/cash").get_data(as_text=True)
    assert "$200.00" in cash and "collected · stripe" in cash
    late = client.get("/admin/overview/behind/open?which=1-30").get_data(as_text=True)
    assert "$800.00" in late and "<strong>1</strong> row " in late
    risk = client.get("/admin/overview/behind/promises?which=at_risk").get_data(as_text=True)
    assert "$50.00" in risk and "$30.00" in risk


@pytest.mark.parametrize("path", ["/admin/overview/behind/nothing", "/admin/overview/behind/promises?which=all",
                                  "/admin/overview/behind/promises"])
def test_an_unknown_figure_is_not_found(console, path):
    client, _org, _today = console
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("query", ["period=abc", "period=-7", "period=31", "owner=999999", "segment=0",
                                   "owner=%00", "segment=1e3", "period=" + "9" * 40])
def test_odd_filter_values_fall_back_to_the_defaults(console, query):
    client, _org, _today = console
    page = client.get(f"/admin/overview?{query}")
    assert page.status_code == 200 and "$2,210.00" in page.get_data(as_text=True)


def test_another_workspaces_owner_filters_nothing(console):
    client, _org, _today = console
    stranger = make_user(make_org(), "controller")
    db.session.commit()
    assert "$2,210.00" in client.get(f"/admin/overview?owner={stranger.id}").get_data(as_text=True)


def test_an_owner_filter_narrows_the_figures(console, ledger):
    client, _org, _today = console
    _org, controller, _today = ledger
    assert "$1,800.00" in client.get(f"/admin/overview?owner={controller.id}").get_data(as_text=True)


def test_the_csv_has_every_headline_figure_with_its_formula(console):
    client, _org, _today = console
    response = client.get("/admin/overview.csv?period=90")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    by_name = {row[1]: row for row in rows[1:]}
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert by_name["open_ar_minor"][2] == "221000" and "Open A/R" in by_name["open_ar_minor"][4]
    assert by_name["dso_countback_days"][2] == "78.0"
    assert all(not cell.startswith(("=", "+", "-", "@")) or cell.lstrip("-").replace(".", "").isdigit()
               for row in rows for cell in row)


def test_a_payment_shows_on_the_next_page_although_the_figures_are_cached(console):
    client, org, today = console
    assert "$2,210.00" in client.get("/admin/overview").get_data(as_text=True)
    with tenant_scope(org.id):
        invoice = db.session.query(Invoice).filter(Invoice.amount_minor == 80_000).one()
        with balance_reason(db.session, Reason("collected", "refunded", "stripe", today)):
            invoice.balance_minor -= 10_000
            db.session.commit()
    html = client.get("/admin/overview").get_data(as_text=True)
    assert "$2,110.00" in html and "$300.00" in html  # open A/R down, cash collected up


def test_an_empty_workspace_gets_a_way_forward(client):
    html = client.get("/admin/overview").get_data(as_text=True)
    assert "No receivables yet" in html and "Import invoices" in html


def test_the_cfo_lands_on_the_console_after_signing_in(app, ledger):
    org, _controller, _today = ledger
    cfo = make_user(org, "cfo", email="cfo@ledger.example")
    db.session.commit()
    response = app.test_client().post("/login", data={"email": cfo.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/overview")


def test_a_past_month_end_drills_down_to_what_was_open_then(console):
    client, _org, today = console
    day = (today - dt.timedelta(days=30)).isoformat()
    page = client.get(f"/admin/overview/behind/open?on={day}&which=1-30").get_data(as_text=True)
    assert "$500.00" in page and "<strong>1</strong> row " in page  # C, then 10 days late, before its payment
    month = client.get(f"/admin/overview/behind/cash?on={today.isoformat()}").get_data(as_text=True)
    assert "Cash collected · " + today.strftime("%B %Y") in month


@pytest.mark.parametrize("on", ["2999-01-01", "yesterday", "2001-01-01"])
def test_a_day_out_of_reach_shows_today(console, on):
    client, _org, _today = console
    assert "<strong>5</strong> rows · €100.00 · £70.00 · $2,100.00" in client.get(
        f"/admin/overview/behind/open?on={on}").get_data(as_text=True)


def test_a_forecast_week_drills_down_to_what_is_expected_in_it(console):
    client, _org, today = console
    monday = today - dt.timedelta(days=today.weekday())
    html = client.get(f"/admin/overview/behind/forecast?on={monday.isoformat()}").get_data(as_text=True)
    assert "Expected cash" in html and "promised for" in html
    assert f"/admin/overview/behind/forecast?on={monday.isoformat()}" in client.get("/admin/overview").get_data(
        as_text=True)


@pytest.mark.parametrize("on", ["", "not-a-day", "monday", "2020-01-06"])
def test_a_day_that_starts_no_forecast_week_is_not_found(console, on):
    client, _org, today = console
    tuesday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=1)
    assert client.get(f"/admin/overview/behind/forecast?on={on or tuesday.isoformat()}").status_code == 404
