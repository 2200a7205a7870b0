"""Admin → Exchange rates over HTTP: adding, replacing, listing and deleting rates, importing a CSV; bad input
changes nothing and says what to fix; only roles with workspace.settings reach the page, and only their own
workspace's rates."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.insights.models import ExchangeRate
from plixo.insights.rates import MAX_CSV_BYTES, MAX_CSV_ROWS, converter_on, set_rate
from plixo.tenancy import tenant_scope
from tests.factories import make_invoice, make_org, make_user, workspace_today

PAGE = "/admin/exchange-rates"
HX = {"HX-Request": "true", "HX-Target": "exchange-rates"}
DAY = dt.timedelta(days=1)


def rates_of(org) -> list[tuple[str, dt.date, str, str, str]]:
    with tenant_scope(org.id):
        return [tuple(row) for row in db.session.execute(
            select(ExchangeRate.currency, ExchangeRate.day, ExchangeRate.rate, ExchangeRate.base_currency,
                   ExchangeRate.source).order_by(ExchangeRate.currency, ExchangeRate.day))]


def audits(org, action: str) -> list[AuditEvent]:
    with tenant_scope(org.id):
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.id)).all()


def add(client, currency="EUR", day=None, rate="1.0842", headers=HX):
    day = (day or workspace_today()).isoformat() if not isinstance(day, str) else day
    return client.post(PAGE, data={"currency": currency, "day": day, "rate": rate}, headers=headers)


def upload(client, raw: bytes, name: str = "rates.csv"):
    return client.post(f"{PAGE}/upload", data={"file": (io.BytesIO(raw), name)}, headers=HX,
                       content_type="multipart/form-data")


def toast_of(response) -> dict:
    return json.loads(response.headers["HX-Trigger"])["shell:toast"]


def seed(org, user, *rates) -> list[int]:
    with tenant_scope(org.id):
        ids = [set_rate(db.session, org, user, currency, day, Decimal(rate)).id for currency, day, rate in rates]
        db.session.commit()
    return ids


def row_of(page: str, rate_id: int) -> str:
    match = re.search(rf'<tr id="rate-{rate_id}".*?</tr>', page, re.S)
    assert match, f"rate {rate_id} is not listed"
    return match.group(0)


# --- Adding and replacing ---------------------------------------------------------------------------------------

def test_the_empty_page_explains_what_rates_are_for(client):
    page = client.get(PAGE).get_data(as_text=True)
    assert "No exchange rates yet" in page
    assert "Amounts in EUR, GBP… are converted into USD at the latest rate on or before each day" in page
    assert "an amount with no rate is shown apart, never guessed" in page


def test_a_rate_is_saved_exactly_as_typed_and_audited(client, org, controller):
    response = add(client, " eur ", rate="1.0842")
    assert response.status_code == 200 and toast_of(response)["level"] == "success"
    assert "rates:changed" in json.loads(response.headers["HX-Trigger"])
    assert rates_of(org) == [("EUR", workspace_today(), "1.0842", "USD", "manual")]
    (event,) = audits(org, "insights.rate_set")
    assert event.actor_id == controller.id and event.before is None and event.after["rate"] == "1.0842"


def test_the_answer_is_the_rates_section_with_the_new_rate(client):
    response = add(client, rate="1.0842")
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="exchange-rates"') and "<html" not in body
    assert "Applies today" in body and "1 EUR = <span class=\"mono\">1.0842</span> USD" in body


def test_a_rate_for_a_day_that_has_one_replaces_it(client, org):
    add(client, rate="1.0800")
    response = add(client, rate="1.0842")
    assert "Replaced the rate of that day" in toast_of(response)["message"]
    assert rates_of(org) == [("EUR", workspace_today(), "1.0842", "USD", "manual")]
    replaced = audits(org, "insights.rate_set")[-1]
    assert replaced.before["rate"] == "1.0800" and replaced.after["rate"] == "1.0842"


def test_saving_a_rate_already_saved_changes_and_audits_nothing(client, org):
    add(client, rate="1.0842")
    response = add(client, rate="1.08420")
    assert toast_of(response)["level"] == "info" and "nothing changed" in toast_of(response)["message"]
    assert len(audits(org, "insights.rate_set")) == 1


def test_without_htmx_a_saved_rate_redirects_back_to_the_page(client, org):
    response = add(client, headers={})
    assert response.status_code == 303 and response.location.endswith(PAGE)
    assert len(rates_of(org)) == 1


@pytest.mark.parametrize(("field", "typed", "message"), [
    ("rate", "1,08", "Use a decimal point, not a comma: 1.08."),
    ("rate", "-1", "A rate must be above 0"),
    ("rate", "0", "A rate must be above 0"),
    ("rate", "1e3", "without an exponent"),
    ("rate", "1,234.5", "Leave out the thousands separators"),
    ("rate", "sNaN", "is not a rate"),
    ("rate", "\u0661\u0662", "is not a rate"),
    ("rate", "1.0000000000001", "at most 12 decimal places"),
    ("rate", "1000000000", "below 1,000,000,000"),
    ("rate", "", "Enter the rate"),
    ("currency", "ZZZ", "is not a currency"),
    ("currency", "usd", "USD is the base currency"),
    ("day", "31/01/2025", "write it as YYYY-MM-DD"),
    ("day", "2025-02-30", "write it as YYYY-MM-DD"),
    ("day", "1989-12-31", "between 1990 and a year from now"),
])
def test_bad_input_is_named_at_its_field_and_nothing_is_saved(client, org, field, typed, message):
    values = {"currency": "EUR", "day": workspace_today().isoformat(), "rate": "1.08", field: typed}
    response = add(client, **values)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and toast_of(response)["level"] == "error"
    error = re.search(rf'<p class="field-error" id="rate-{field}-error">(.*?)</p>', body, re.S)
    assert error and message in error.group(1).replace("&#39;", "'")
    assert rates_of(org) == [] and audits(org, "insights.rate_set") == []


def test_every_bad_field_is_named_at_once_and_what_was_typed_stays(client):
    body = add(client, currency="ZZZ", day="tomorrow", rate="1,08").get_data(as_text=True)
    assert all(f'id="rate-{field}-error"' in body for field in ("currency", "day", "rate"))
    assert 'value="1,08"' in body and 'value="ZZZ"' in body


# --- The list ----------------------------------------------------------------------------------------------------

def test_rates_are_grouped_by_currency_latest_first_with_today_s_marked(client, org, controller):
    today = workspace_today()
    old, current, later, pound = seed(org, controller, ("EUR", today - 40 * DAY, "1.05"),
                                      ("EUR", today - 10 * DAY, "1.08"), ("EUR", today + 5 * DAY, "1.10"),
                                      ("GBP", today - 3 * DAY, "1.27"))
    page = client.get(PAGE).get_data(as_text=True)
    assert page.index('id="rates-EUR"') < page.index('id="rates-GBP"')
    assert page.index(f'id="rate-{later}"') < page.index(f'id="rate-{current}"') < page.index(f'id="rate-{old}"')
    assert "Applies today" in row_of(page, current) and "Applies today" in row_of(page, pound)
    assert f"From {(today + 5 * DAY).isoformat()}" in row_of(page, later) and "Earlier" in row_of(page, old)


def test_each_rate_shows_who_entered_it_when_and_how(client, org, controller):
    (rate_id,) = seed(org, controller, ("EUR", workspace_today(), "1.08"))
    row = row_of(client.get(PAGE).get_data(as_text=True), rate_id)
    assert "Cora Controller" in row and "By hand" in row and str(workspace_today().year) in row


def test_rates_entered_for_another_base_currency_are_shown_as_not_in_use(client, org, controller):
    euro, pound = seed(org, controller, ("EUR", workspace_today(), "1.08"), ("GBP", workspace_today(), "1.27"))
    with tenant_scope(org.id):
        org.base_currency = "EUR"
        db.session.commit()
        assert converter_on(db.session, org, workspace_today()).rates == {}
    page = client.get(PAGE).get_data(as_text=True)
    assert "Not in use: into USD" in row_of(page, euro) and "Not in use: into USD" in row_of(page, pound)
    assert "Applies today" not in page and "no longer the base currency (EUR now)" in page


def test_open_invoices_in_a_currency_without_a_rate_are_pointed_out(client, org):
    with tenant_scope(org.id):
        make_invoice(org, currency="EUR", amount_minor=10_000, balance_minor=10_000)
        db.session.commit()
    page = client.get(PAGE).get_data(as_text=True)
    assert "Open invoices in EUR have no rate for today" in page
    add(client, "EUR")
    assert "have no rate for today" not in client.get(PAGE).get_data(as_text=True)


def test_a_long_history_shows_the_latest_rates_until_all_are_asked_for(client, org, controller):
    today = workspace_today()
    ids = seed(org, controller, *[("EUR", today - n * DAY, "1.08") for n in range(15)])
    page = client.get(PAGE).get_data(as_text=True)
    assert f'id="rate-{ids[11]}"' in page and f'id="rate-{ids[12]}"' not in page and "Show all 15 EUR rates" in page
    assert f'id="rate-{ids[14]}"' in client.get(PAGE, query_string={"show_all": "EUR"}).get_data(as_text=True)


def test_admin_navigation_and_workspace_settings_link_to_the_page(client):
    assert 'href="/admin/exchange-rates"' in client.get("/").get_data(as_text=True)
    settings = client.get("/admin/workspace").get_data(as_text=True)
    assert re.search(r'id="exchange-rates-link".*?href="/admin/exchange-rates"', settings, re.S)


# --- Deleting ----------------------------------------------------------------------------------------------------

def test_deleting_asks_for_a_confirmation_first(client, org, controller):
    (rate_id,) = seed(org, controller, ("EUR", workspace_today(), "1.0842"))
    row = row_of(client.get(PAGE).get_data(as_text=True), rate_id)
    assert f'hx-post="/admin/exchange-rates/{rate_id}/delete"' in row
    assert f'hx-confirm="Delete the EUR rate of {workspace_today().isoformat()} (1 EUR = 1.0842 USD)?' in row


def test_deleting_a_rate_removes_it_and_audits_it(client, org, controller):
    (rate_id,) = seed(org, controller, ("EUR", workspace_today(), "1.0842"))
    response = client.post(f"{PAGE}/{rate_id}/delete", headers=HX)
    assert response.status_code == 200 and "Deleted the EUR rate" in toast_of(response)["message"]
    assert rates_of(org) == []
    (event,) = audits(org, "insights.rate_deleted")
    assert event.before["rate"] == "1.0842" and event.actor_id == controller.id


def test_another_workspace_s_rate_cannot_be_deleted(client, org):
    other = make_org(name="Other Co")
    (rate_id,) = seed(other, make_user(other), ("EUR", workspace_today(), "1.08"))
    assert client.post(f"{PAGE}/{rate_id}/delete", headers=HX).status_code == 404
    assert len(rates_of(other)) == 1


@pytest.mark.parametrize("role", ["operator", "ar_manager", "cfo"])
def test_roles_without_workspace_settings_get_403(client_as, org, role):
    member = client_as(role)
    (rate_id,) = seed(org, make_user(org), ("EUR", workspace_today(), "1.08"))
    answers = [member.get(PAGE), member.get(f"{PAGE}/template.csv"), add(member, "GBP"),
               upload(member, b"currency,date,rate\nGBP,2025-01-02,1.27\n"),
               member.post(f"{PAGE}/{rate_id}/delete", headers=HX)]
    assert [answer.status_code for answer in answers] == [403] * 5
    assert len(rates_of(org)) == 1


def test_signed_out_visitors_are_sent_to_sign_in(anon):
    assert anon.get(PAGE).status_code == 302


# --- CSV ---------------------------------------------------------------------------------------------------------

def test_a_good_csv_is_imported_whole_and_each_rate_audited(client, org):
    raw = ("\ufeffCurrency,Date,Rate\r\neur,2025-01-02,1.0842\r\n\r\nGBP,2025-01-02,1.2710,\r\n"
           "JPY,2025-01-03,0.006712\r\n").encode()
    response = upload(client, raw)
    assert response.status_code == 200 and toast_of(response)["message"].startswith("Imported 3 rates: 3 new")
    assert rates_of(org) == [("EUR", dt.date(2025, 1, 2), "1.0842", "USD", "csv"),
                             ("GBP", dt.date(2025, 1, 2), "1.2710", "USD", "csv"),
                             ("JPY", dt.date(2025, 1, 3), "0.006712", "USD", "csv")]
    assert len(audits(org, "insights.rate_set")) == 3


def test_a_csv_replaces_rates_of_the_same_day_and_counts_them(client, org, controller):
    seed(org, controller, ("EUR", dt.date(2025, 1, 2), "1.05"), ("GBP", dt.date(2025, 1, 2), "1.27"))
    response = upload(client, b"currency,date,rate\nEUR,2025-01-02,1.0842\nGBP,2025-01-02,1.27\n"
                              b"EUR,2025-01-03,1.09\n")
    assert toast_of(response)["message"] == ("Imported 3 rates: 1 new, 1 replacing the rate of the same day, "
                                             "1 already saved.")
    assert ("EUR", dt.date(2025, 1, 2), "1.0842", "USD", "csv") in rates_of(org)


def test_a_csv_of_rates_already_saved_changes_nothing(client, org, controller):
    seed(org, controller, ("EUR", dt.date(2025, 1, 2), "1.08"))
    response = upload(client, b"currency,date,rate\nEUR,2025-01-02,1.080\n")
    assert toast_of(response) == {"message": "Nothing changed: the file's 1 rate was already saved as given.",
                                  "level": "info"}
    assert len(audits(org, "insights.rate_set")) == 1


TOO_MANY = ("currency,date,rate\n" + "EUR,2025-01-02,1.08\n" * (MAX_CSV_ROWS + 1)).encode()


@pytest.mark.parametrize(("raw", "message"), [
    ("currency,date,rate\nEUR,2025-01-02,1.08\nGBP,2025-01-02,1.27 £\n".encode("latin-1"), "not UTF-8"),
    (b"code,day,value\nEUR,2025-01-02,1.08\n", "The first row must be the header currency,date,rate"),
    (b"currency;date;rate\nEUR;2025-01-02;1.08\n", "not semicolons"),
    (b"currency,date,rate\nEUR,2025-01-02,1.08\nEURO,2025-01-02,1.08\n", "Line 3: \u201cEURO\u201d is not a currency"),
    (b'currency,date,rate\nEUR,2025-01-02,1.08\nGBP,2025-01-02,"1,27"\n', "Line 3: Use a decimal point, not a comma"),
    (b"currency,date,rate\nEUR,2025-01-02,-1\n", "Line 2: A rate must be above 0"),
    (b"currency,date,rate\nEUR,2025-01-02,1e3\n", "Line 2: Write"),
    (b"currency,date,rate\nEUR,2025-01-02,1.08\nUSD,2025-01-02,1\n", "Line 3: USD is the base currency"),
    (b"currency,date,rate\nEUR,02/01/2025,1.08\n", "Line 2: \u201c02/01/2025\u201d is not a date"),
    (b"currency,date,rate\nEUR,2025-01-02\n", "Line 2: expected 3 values"),
    (b"currency,date,rate\nEUR,2025-01-02,1.08\nEUR,2025-01-02,1.09\n", "Line 3: EUR on 2025-01-02 is also on line 2"),
    (b"currency,date,rate\n", "the header but no rates"),
    (b"", "The file is empty"),
    (TOO_MANY, f"at most {MAX_CSV_ROWS:,} are read from one file"),
    (b"currency,date,rate\n" + b"EUR,2025-01-02,1.08\n" * (MAX_CSV_BYTES // 20 + 1), "larger than 1 MB"),
    (b"PK\x03\x04" + b"\x00" * 64, "an Excel workbook"),
    (b"%PDF-1.7\n", "a PDF"),
])
def test_a_bad_file_is_refused_with_a_clear_message_and_nothing_is_kept(client, org, raw, message):
    response = upload(client, raw)
    body = response.get_data(as_text=True).replace("&#34;", '"').replace("&#39;", "'")
    assert response.status_code == 422 and message in body and 'id="rates-file-error"' in body
    assert rates_of(org) == [] and audits(org, "insights.rate_set") == []


def test_every_bad_line_of_a_file_is_named(client):
    raw = b"currency,date,rate\nEUR,2025-01-02,1.08\nXXX,2025-01-02,1.08\nGBP,2025-13-01,1.27\nJPY,2025-01-02,abc\n"
    body = upload(client, raw).get_data(as_text=True)
    assert "Nothing was imported: 3 lines need fixing." in body
    assert all(f"<li>Line {line}:" in body for line in (3, 4, 5))


def test_uploading_without_a_file_asks_for_one(client, org):
    response = client.post(f"{PAGE}/upload", data={}, headers=HX, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file" in response.get_data(as_text=True)


def test_the_template_lists_the_open_invoice_currencies_dated_today_with_the_rate_to_fill(client, org):
    with tenant_scope(org.id):
        make_invoice(org, currency="EUR")
        make_invoice(org, currency="GBP")
        db.session.commit()
    response = client.get(f"{PAGE}/template.csv")
    today = workspace_today().isoformat()
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True) == f"currency,date,rate\r\nEUR,{today},\r\nGBP,{today},\r\n"


def test_the_template_uploaded_unfilled_imports_nothing(client, org):
    template = client.get(f"{PAGE}/template.csv").get_data()
    body = upload(client, template).get_data(as_text=True)
    assert "Line 2: Enter the rate" in body and rates_of(org) == []


def test_the_page_offers_the_template_and_an_example(client):
    page = client.get(PAGE).get_data(as_text=True)
    assert 'href="/admin/exchange-rates/template.csv"' in page and "EUR,2025-01-31,1.0842" in page

