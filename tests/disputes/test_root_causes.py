"""The Root Causes report: figures against a hand-built set of disputes, the CSV, the filters and who may read it."""

import csv
import datetime as dt
import io

import pytest

from plixo.disputes.models import Dispute
from plixo.disputes.reasons import reason_labels
from plixo.disputes.root_causes import RootCauseFilters, root_causes, root_causes_csv
from plixo.extensions import db
from plixo.model import utcnow
from plixo.tenancy import tenant_scope
from tests.factories import make_customer, make_invoice, make_org, make_user

PAGE = "/work/disputes/root-causes"
CSV = "/work/disputes/root-causes.csv"
BLOCK = {"HX-Request": "true", "HX-Target": "root-cause-results"}


def add_dispute(org, customer, amount, currency, reason, opened_days_ago, status="investigating", verdict=None,
                took_days=None, owner=None, now=None):
    """A dispute opened `opened_days_ago` days before `now`, ended `took_days` after opening when given."""
    now = now or utcnow()
    opened_at = now - dt.timedelta(days=opened_days_ago)
    invoice = make_invoice(org, customer, amount_minor=amount, balance_minor=amount, currency=currency,
                           status="disputed")
    dispute = Dispute(org_id=org.id, invoice_id=invoice.id, customer_id=customer.id, reason=reason, status=status,
                      verdict=verdict, opened_at=opened_at, assigned_to_id=owner.id if owner else None,
                      resolved_at=opened_at + dt.timedelta(days=took_days) if took_days is not None else None)
    db.session.add(dispute)
    db.session.flush()
    return dispute


@pytest.fixture
def disputes(org):
    """Seven disputes: five opened in the last 90 days, one 120 days ago, one 400 days ago.

    #  reason     customer  owner  amount          opened  status                  took
    1  pricing    Globex    Olga   100,000 USD     10d     resolved valid           4d
    2  pricing    Globex    Olga    50,000 EUR     20d     resolved invalid         2d
    3  pricing    Initech   -       30,000 USD      5d     investigating
    4  quality    Initech   Lee     20,000 USD     40d     withdrawn                6d
    5  quality    Globex    Lee      5,000 JPY     60d     resolved valid          10d
    6  pricing    Globex    Olga   999,999 USD    120d     resolved invalid         1d
    7  duplicate  Initech   Olga     7,000 USD    400d     investigating
    """
    now = utcnow()
    with tenant_scope(org.id):
        olga = make_user(org, "ar_manager", name="Olga Owner")
        lee = make_user(org, "legal", name="Lee Legal")
        globex, initech = make_customer(org, name="Globex"), make_customer(org, name="Initech")
        add_dispute(org, globex, 100_000, "USD", "pricing", 10, "resolved", "valid", 4, olga, now)
        add_dispute(org, globex, 50_000, "EUR", "pricing", 20, "resolved", "invalid", 2, olga, now)
        add_dispute(org, initech, 30_000, "USD", "pricing", 5, now=now)
        add_dispute(org, initech, 20_000, "USD", "quality", 40, "withdrawn", None, 6, lee, now)
        add_dispute(org, globex, 5_000, "JPY", "quality", 60, "resolved", "valid", 10, lee, now)
        add_dispute(org, globex, 999_999, "USD", "pricing", 120, "resolved", "invalid", 1, olga, now)
        add_dispute(org, initech, 7_000, "USD", "duplicate", 400, owner=olga, now=now)
        db.session.commit()
    return now


def report_of(org, now, **filters):
    with tenant_scope(org.id):
        return root_causes(db.session, org.id, RootCauseFilters(**filters), reason_labels(db.session, org.id), now)


def figures(row):
    return (row.labels, row.opened, row.still_open, row.resolved_valid, row.resolved_invalid, row.withdrawn,
            row.share_valid, row.median_days_to_resolve, row.amounts)


def test_by_reason_over_90_days_counts_each_status_and_keeps_currencies_apart(org, disputes):
    rows = report_of(org, disputes).rows
    assert [figures(row) for row in rows] == [
        (("Pricing or rate",), 3, 1, 1, 1, 0, 0.5, 3.0, {"EUR": 50_000, "USD": 130_000}),
        (("Damaged or defective goods",), 2, 0, 1, 0, 1, 1.0, 8.0, {"JPY": 5_000, "USD": 20_000}),
    ]


def test_by_owner_names_the_unassigned_and_has_no_share_without_a_resolution(org, disputes):
    rows = report_of(org, disputes, grouping="owner").rows
    assert [figures(row) for row in rows] == [
        (("Lee Legal",), 2, 0, 1, 0, 1, 1.0, 8.0, {"JPY": 5_000, "USD": 20_000}),
        (("Olga Owner",), 2, 0, 1, 1, 0, 0.5, 3.0, {"EUR": 50_000, "USD": 100_000}),
        (("Unassigned",), 1, 1, 0, 0, 0, None, None, {"USD": 30_000}),
    ]


def test_by_reason_and_customer_splits_each_reason_per_customer(org, disputes):
    rows = report_of(org, disputes, grouping="reason_customer").rows
    assert [(row.labels, row.opened, row.amounts) for row in rows] == [
        (("Pricing or rate", "Globex"), 2, {"EUR": 50_000, "USD": 100_000}),
        (("Damaged or defective goods", "Globex"), 1, {"JPY": 5_000}),
        (("Damaged or defective goods", "Initech"), 1, {"USD": 20_000}),
        (("Pricing or rate", "Initech"), 1, {"USD": 30_000}),
    ]


def test_the_period_counts_disputes_by_when_they_were_opened(org, disputes):
    last_30 = report_of(org, disputes, period_days=30, grouping="customer").rows
    assert [(row.labels, row.opened) for row in last_30] == [(("Globex",), 2), (("Initech",), 1)]
    last_365 = {row.labels[0]: row for row in report_of(org, disputes, period_days=365).rows}
    pricing = last_365["Pricing or rate"]
    assert (pricing.opened, pricing.resolved_invalid, pricing.median_days_to_resolve) == (4, 2, 2.0)
    assert pricing.share_valid == pytest.approx(1 / 3)
    assert pricing.amounts == {"EUR": 50_000, "USD": 1_129_999}
    assert "Duplicate billing" not in last_365  # opened 400 days ago


def test_the_csv_has_a_header_and_the_same_rows_as_the_page(client, org, disputes):
    response = client.get(f"{CSV}?group=owner&period=90")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    header, *rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header == ["Owner", "Disputes opened", "Still open", "Resolved valid", "Resolved invalid", "Withdrawn",
                      "Share valid", "Median days to resolve", "Disputed amount EUR", "Disputed amount JPY",
                      "Disputed amount USD"]
    assert rows == [
        ["Lee Legal", "2", "0", "1", "0", "1", "1.0000", "8.0", "", "5000", "200.00"],
        ["Olga Owner", "2", "0", "1", "1", "0", "0.5000", "3.0", "500.00", "", "1000.00"],
        ["Unassigned", "1", "1", "0", "0", "0", "", "", "", "", "300.00"],
    ]


def test_the_csv_neutralises_names_a_spreadsheet_would_run(org):
    now = utcnow()
    with tenant_scope(org.id):
        for name in ('=HYPERLINK("x")', "+cmd"):
            add_dispute(org, make_customer(org, name=name), 1_000, "USD", "other", 1, now=now)
        db.session.commit()
    labels = {row[0] for row in csv.reader(io.StringIO(root_causes_csv(report_of(org, now, grouping="customer"))))}
    assert labels == {"Customer", "'=HYPERLINK(\"x\")", "'+cmd"}


def test_the_csv_download_neutralises_names_too(client, org):
    with tenant_scope(org.id):
        add_dispute(org, make_customer(org, name="@SUM(A1)"), 1_000, "USD", "other", 1)
        db.session.commit()
    body = client.get(f"{CSV}?group=customer").get_data(as_text=True)
    assert "'@SUM(A1)" in body


def test_the_page_shows_the_table_and_keeps_the_filters_in_the_download_link(client, org, disputes):
    page = client.get(f"{PAGE}?group=reason_customer&period=365").get_data(as_text=True)
    assert "Pricing or rate" in page and "<bdi>Globex</bdi>" in page and "$10,999.99" in page
    assert "root-causes.csv?period=365&amp;group=reason_customer" in page
    assert 'value="365" selected' in page and 'value="reason_customer" selected' in page


def test_an_htmx_filter_change_swaps_only_the_table(client, org, disputes):
    block = client.get(f"{PAGE}?group=owner", headers=BLOCK).get_data(as_text=True)
    assert block.lstrip().startswith('<section id="root-cause-results"')
    assert "Unassigned" in block and "root-cause-filters" not in block


def test_an_empty_period_shows_the_empty_state(client, org):
    page = client.get(PAGE).get_data(as_text=True)
    assert "No dispute in this period" in page and "root-cause-table" not in page


@pytest.mark.parametrize("query", ["period=sNaN", "period=1e309", "period=%D9%A3%D9%A0", "period=-90",
                                   "group=%3Cscript%3E", "group=reason_customer%00", "period=" + "9" * 40,
                                   "period=90&period=30&group=", "group[]=owner"])
def test_bad_filters_fall_back_to_the_defaults(client, org, disputes, query):
    for url in (PAGE, CSV):
        assert client.get(f"{url}?{query}").status_code == 200
    page = client.get(f"{PAGE}?{query}").get_data(as_text=True)
    assert 'value="90" selected' in page
    assert "Damaged or defective goods" in page and "<script>" not in page


def test_another_workspaces_disputes_never_appear(client, org, disputes):
    other = make_org(name="Other Co")
    with tenant_scope(other.id):
        add_dispute(other, make_customer(other, name="Hooli Secret"), 4_242_424, "USD", "pricing", 3)
        db.session.commit()
    page = client.get(f"{PAGE}?group=customer").get_data(as_text=True)
    body = client.get(f"{CSV}?group=customer").get_data(as_text=True)
    assert "Hooli Secret" not in page and "Hooli Secret" not in body and "42,424.24" not in page
    assert [row.opened for row in report_of(org, disputes).rows] == [3, 2]


@pytest.mark.parametrize("url", [PAGE, CSV])
def test_a_role_without_disputes_manage_is_refused(client_as, url):
    assert client_as("operator").get(url).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(anon):
    assert anon.get(PAGE).status_code in (302, 401)


def test_the_disputes_page_links_to_the_report(client):
    assert 'href="/work/disputes/root-causes"' in client.get("/work/disputes").get_data(as_text=True)
