"""Admin → CSV Import over HTTP, with the real RQ worker doing validation and commit."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from plixo.extensions import db
from plixo.imports.models import ImportRun
from plixo.ledger.models import Invoice
from plixo.tenancy import tenant_scope
from tests.conftest import run_jobs

CORPUS = Path(__file__).resolve().parent.parent / "data" / "imports"
HTMX = {"HX-Request": "true", "HX-Target": "import-run"}


def _upload(client, name="invoices_utf8.csv", kind="invoices"):
    with open(CORPUS / name, "rb") as stream:
        return client.post("/admin/imports/", data={"kind": kind, "file": (stream, name)},
                           content_type="multipart/form-data")


def _run(org) -> ImportRun:
    with tenant_scope(org.id):
        return db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()


def _work() -> None:
    run_jobs()


def _invoices(org) -> int:
    with tenant_scope(org.id):
        return db.session.scalar(select(func.count()).select_from(Invoice))


def test_the_import_page_offers_templates_and_history(client):
    page = client.get("/admin/imports/").data
    assert b"Download CSV" in page and b"No imports yet" in page


@pytest.mark.parametrize("role", ["operator", "cfo", "sales", "legal"])
def test_roles_without_the_import_permission_are_refused(client_as, role):
    assert client_as(role).get("/admin/imports/").status_code == 403


@pytest.mark.parametrize("role", ["ar_manager", "billing_admin"])
def test_ar_managers_and_billing_admins_can_import(client_as, role):
    assert client_as(role).get("/admin/imports/").status_code == 200


def test_template_download(client):
    response = client.get("/admin/imports/templates/invoices.csv")
    assert response.mimetype == "text/csv" and b"Invoice number" in response.data


def test_upload_shows_the_mapping_with_a_preview(client, org):
    response = _upload(client)
    page = client.get(response.location).data
    assert response.status_code == 302 and b"Map columns" in page and b"INV-000001" in page


def test_an_upload_without_a_file_is_explained(client):
    response = client.post("/admin/imports/", data={"kind": "invoices"}, follow_redirects=True)
    assert b"Choose a CSV file" in response.data


def test_an_upload_above_the_size_limit_is_refused_clearly(app, client, org):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    try:
        response = _upload(client)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 200 * 1024 * 1024
    assert response.status_code == 413 and b"larger than this workspace accepts" in response.data
    assert _run(org) is None


def test_an_unreadable_upload_shows_why(client, org):
    response = _upload(client, "broken_xlsx_renamed.csv")
    assert b"Excel" in client.get(response.location).data and _run(org).status == "failed"


def test_unmapping_a_required_column_blocks_validation(client, org):
    _upload(client)
    run = _run(org)
    form = {f"map_{k}": str(v) for k, v in run.mapping.items() if k != "due_date"}
    form.update({f"date_{k}": v for k, v in run.settings["date_formats"].items()})
    response = client.post(f"/admin/imports/{run.id}/mapping", data=form, headers=HTMX)
    assert b"Map a column to \xe2\x80\x9cDue date\xe2\x80\x9d" in response.data
    assert client.post(f"/admin/imports/{run.id}/validate", headers=HTMX).status_code == 409


def test_mapping_one_column_twice_is_refused(client, org):
    _upload(client)
    run = _run(org)
    form = {f"map_{k}": "0" for k in run.mapping}
    response = client.post(f"/admin/imports/{run.id}/mapping", data=form, headers=HTMX)
    assert response.status_code == 422 and "one field only" in json.loads(response.headers["HX-Trigger"])[
        "shell:toast"]["message"]


def test_validate_then_commit_with_the_worker(client, org):
    _upload(client)
    run_id = _run(org).id
    client.post(f"/admin/imports/{run_id}/validate", headers=HTMX)
    _work()
    validated = client.get(f"/admin/imports/{run_id}").data
    client.post(f"/admin/imports/{run_id}/commit", headers=HTMX)
    _work()
    committed = client.get(f"/admin/imports/{run_id}").data
    assert b"Import 1,000 valid rows" in validated and b"Receivables now" in committed
    assert _invoices(org) == 1000 and _run(org).rows_written == 1000


def test_progress_polling_swaps_in_the_result_when_done(client, org):
    _upload(client)
    run_id = _run(org).id
    client.post(f"/admin/imports/{run_id}/validate", headers=HTMX)
    polling = client.get(f"/admin/imports/{run_id}/progress", headers={"HX-Request": "true"})
    _work()
    done = client.get(f"/admin/imports/{run_id}/progress", headers={"HX-Request": "true"})
    assert b'hx-trigger="every 1s"' in polling.data
    assert done.headers["HX-Retarget"] == "#import-run" and b"every 1s" not in done.data


def test_rejected_rows_can_be_downloaded(client, org):
    _upload(client, "broken_bad_values.csv")
    run_id = _run(org).id
    client.post(f"/admin/imports/{run_id}/validate", headers=HTMX)
    _work()
    response = client.get(f"/admin/imports/{run_id}/rejected.csv")
    rows = list(csv.reader(io.StringIO(response.data.decode())))
    assert response.mimetype == "text/csv" and len(rows) == 11 and rows[0][-1] == "error"  # header + 10 rows


def test_a_file_that_breaks_during_validation_fails_without_retrying(client, org):
    _upload(client, "broken_unclosed_quote.csv")
    assert _run(org).status == "failed" and "never closed" in _run(org).last_error


def test_commit_is_refused_before_validation(client, org):
    _upload(client)
    run_id = _run(org).id
    assert client.post(f"/admin/imports/{run_id}/commit", headers=HTMX).status_code == 409


def test_history_lists_the_run_with_who_and_counts(client, org, controller):
    _upload(client)
    run_id = _run(org).id
    client.post(f"/admin/imports/{run_id}/validate", headers=HTMX)
    _work()
    page = client.get("/admin/imports/").data
    assert controller.name.encode() in page and b"invoices_utf8.csv" in page and b"1,000" in page


def test_each_step_is_audited(client, org):
    from plixo.audit import AuditEvent

    _upload(client)
    run_id = _run(org).id
    client.post(f"/admin/imports/{run_id}/validate", headers=HTMX)
    _work()
    client.post(f"/admin/imports/{run_id}/commit", headers=HTMX)
    _work()
    with tenant_scope(org.id):
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"imports.file_uploaded", "imports.validation_requested", "imports.commit_requested",
            "imports.committed"} <= actions
