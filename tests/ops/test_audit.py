"""Admin → Audit log: filters, paging and a spreadsheet-safe CSV export."""

import csv
import datetime as dt
import io

import pytest

from plixo import audit
from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.ops.service import PAGE_SIZE
from plixo.tenancy import tenant_scope
from tests.factories import make_customer

HTMX = {"HX-Request": "true", "HX-Target": "audit-results"}


def _record(org, actor, action="ledger.customer_renamed", reason="", when=None, subject=None):
    with tenant_scope(org.id):
        event = audit.record(db.session, org_id=org.id, actor=actor, action=action,
                             subject=subject or make_customer(org), reason=reason,
                             before={"name": "Old"}, after={"name": "New"})
        if when:
            event.created_at = when
        db.session.commit()
    return event


def test_the_log_lists_events_with_before_and_after(client, org, controller):
    _record(org, controller, reason="typo in the ERP")
    page = client.get("/admin/audit").data
    assert b"ledger.customer_renamed" in page and b"typo in the ERP" in page and b"name=New" in page


def test_filter_by_action_returns_only_the_results_fragment(client, org, controller):
    _record(org, controller, action="a.one")
    _record(org, controller, action="a.two")
    response = client.get("/admin/audit?action=a.two", headers=HTMX)
    assert b"a.two" in response.data and b"a.one" not in response.data and b"<html" not in response.data


def test_filter_by_actor(client, org, controller):
    _record(org, controller, action="by.controller")
    _record(org, "system", action="by.system")
    response = client.get(f"/admin/audit?actor_id={controller.id}", headers=HTMX)
    assert b"by.controller" in response.data and b"by.system" not in response.data


def test_filter_by_date_range_in_the_workspace_zone(client, org, controller):
    # 03:00 UTC on 2 March is still 1 March in New York (the workspace zone).
    _record(org, controller, action="late.evening", when=dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC))
    _record(org, controller, action="next.day", when=dt.datetime(2026, 3, 2, 18, 0, tzinfo=dt.UTC))
    response = client.get("/admin/audit?from=2026-03-01&to=2026-03-01", headers=HTMX)
    assert b"late.evening" in response.data and b"next.day" not in response.data


def test_bad_filter_input_is_explained(client):
    response = client.get("/admin/audit?from=yesterday&actor_id=abc", headers=HTMX)
    assert b"From must be a date" in response.data and b"Actor must be a valid id" in response.data


@pytest.mark.parametrize("query", [
    "actor_id=%C2%B2", "before=99999999999999999999", "to=9999-12-31", "_method=POST", "before=-1",
])
def test_odd_query_values_are_explained_not_crashed(client, query):
    assert client.get(f"/admin/audit?{query}").status_code == 200
    assert client.get(f"/admin/audit.csv?{query}").status_code in (200, 400)


def test_from_after_to_is_explained(client):
    response = client.get("/admin/audit?from=2026-03-05&to=2026-03-01", headers=HTMX)
    assert b"From must be on or before To" in response.data


def test_paging_loads_older_events(client, org, controller):
    customer = make_customer(org)
    for i in range(PAGE_SIZE + 3):
        _record(org, controller, action=f"bulk.{i:03d}", subject=customer)
    first = client.get("/admin/audit?action=", headers=HTMX).data
    cursor = first.split(b"before=")[1].split(b"&")[0].split(b'"')[0].decode()
    older = client.get(f"/admin/audit?before={cursor}", headers={"HX-Request": "true", "HX-Target": "audit-more"}).data
    assert b"bulk.000" in older and b"bulk.000" not in first and b"<table" not in older


def test_export_is_csv_with_formulas_neutralised(client, org, controller):
    _record(org, controller, reason="=HYPERLINK(\"http://evil\")")
    response = client.get("/admin/audit.csv")
    rows = list(csv.reader(io.StringIO(response.data.decode())))
    assert response.mimetype == "text/csv" and rows[1][7].startswith("'=")


def test_export_honours_the_filters(client, org, controller):
    _record(org, controller, action="keep.me")
    _record(org, controller, action="drop.me")
    body = client.get("/admin/audit.csv?action=keep.me").data
    assert b"keep.me" in body and b"drop.me" not in body


def test_export_refuses_bad_filters(client):
    assert client.get("/admin/audit.csv?to=31/12/2026").status_code == 400


def test_every_account_change_is_audited(client, org):
    client.post("/admin/users/invites", data={"email": "x@acmetest.example", "role": "cfo"},
                headers={"HX-Request": "true", "HX-Target": "team"})
    with tenant_scope(org.id):
        assert db.session.query(AuditEvent).filter_by(action="accounts.invite_sent").count() == 1
