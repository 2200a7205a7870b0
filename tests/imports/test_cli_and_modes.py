"""import-csv for scripts, customer files, full sync, and mappings remembered per file layout."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from plixo.extensions import db
from plixo.imports import service
from plixo.imports.models import ImportRun
from plixo.ledger.models import Contact, Customer, Invoice
from plixo.tenancy import tenant_scope
from tests.factories import make_org

CORPUS = Path(__file__).resolve().parent.parent / "data" / "imports"
EXPECTED = json.loads((CORPUS / "expected_totals.json").read_text())


@pytest.fixture
def workspace():
    org = make_org(slug="globex", base_currency="USD")
    db.session.commit()
    return org


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["import-csv", *args])


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_cli_imports_and_prints_one_json_line(app, workspace):
    result = _cli(app, str(CORPUS / "invoices_utf8.csv"), "--org", "globex", "--kind", "invoices", "--json")
    outcome = _last_json(result.output)
    assert result.exit_code == 0 and (outcome["rows"], outcome["inserted"], outcome["rejected"]) == (1000, 1000, 0)
    assert outcome["open_balance_minor"] == EXPECTED["open_balance_minor"]


def test_cli_reimport_of_an_unchanged_file_changes_nothing(app, workspace):
    _cli(app, str(CORPUS / "invoices_utf8.csv"), "--org", "globex", "--kind", "invoices")
    outcome = _last_json(_cli(app, str(CORPUS / "invoices_pipe.csv"), "--org", "globex", "--kind", "invoices",
                              "--json").output)
    assert (outcome["inserted"], outcome["updated"], outcome["unchanged"]) == (0, 0, 1000)


def test_cli_reports_rejected_rows_and_still_exits_0(app, workspace):
    result = _cli(app, str(CORPUS / "broken_bad_values.csv"), "--org", "globex", "--kind", "invoices", "--json")
    outcome = _last_json(result.output)
    assert result.exit_code == 0 and outcome["rejected"] == 10
    assert {"row", "column", "code"} == set(outcome["errors"][0])


def test_cli_dry_run_writes_nothing(app, workspace):
    outcome = _last_json(_cli(app, str(CORPUS / "invoices_utf8.csv"), "--org", "globex", "--kind", "invoices",
                              "--dry-run", "--json").output)
    with tenant_scope(workspace.id):
        assert (outcome["valid"], db.session.scalar(select(func.count()).select_from(Invoice))) == (1000, 0)


@pytest.mark.parametrize(("args", "message"), [
    (["--org", "nobody"], "No workspace"),
    (["--mapping", "{not json"], "not valid JSON"),
    (["--mapping", '{"due_date": "No Such Column"}'], "no column titled"),
])
def test_cli_exits_2_on_unusable_input(app, workspace, args, message):
    base = {"--org": "globex"}
    argv = [str(CORPUS / "invoices_utf8.csv"), "--kind", "invoices"]
    extra = dict(zip(args[::2], args[1::2], strict=True))
    for flag, value in {**base, **extra}.items():
        argv += [flag, value]
    result = _cli(app, *argv)
    assert result.exit_code == 2 and message in result.output


def test_cli_exits_2_on_an_unreadable_file(app, workspace):
    result = _cli(app, str(CORPUS / "broken_binary.csv"), "--org", "globex", "--kind", "invoices")
    assert result.exit_code == 2


def test_cli_exits_2_when_dates_are_ambiguous_until_a_format_is_given(app, workspace):
    path = str(CORPUS / "invoices_ambiguous_dates.csv")
    refused = _cli(app, path, "--org", "globex", "--kind", "invoices")
    mapping = json.dumps({"_date_formats": {"issue_date": "%d/%m/%Y", "due_date": "%d/%m/%Y"}})
    accepted = _cli(app, path, "--org", "globex", "--kind", "invoices", "--mapping", mapping, "--json")
    assert refused.exit_code == 2 and "Confirm the date format" in refused.output
    assert accepted.exit_code == 0 and _last_json(accepted.output)["inserted"] == 1000


def test_full_sync_counts_then_closes_open_invoices_missing_from_the_file(app, workspace, tmp_path):
    _cli(app, str(CORPUS / "invoices_utf8.csv"), "--org", "globex", "--kind", "invoices")
    lines = (CORPUS / "invoices_utf8.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    partial = tmp_path / "partial.csv"
    partial.write_text("".join(lines[:501]), encoding="utf-8")  # header + the first 500 rows (no quoted newlines)
    with tenant_scope(workspace.id):
        open_before = db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.status == "open"))
        with open(partial, "rb") as stream:
            run = service.create_run(db.session, org=workspace, actor="test", kind="invoices", filename="p.csv",
                                     stream=stream, max_bytes=10**8)
        service.set_mapping(db.session, run, actor="test", mapping=run.mapping,
                            date_formats=run.settings["date_formats"], decimal_comma=False, full_sync=True)
        service.validate_run(db.session, run, workspace)
        in_file = [row[0] for row in csv.reader(io.StringIO("".join(lines[1:501])))]
        kept_open = db.session.scalar(select(func.count()).select_from(Invoice).where(
            Invoice.status == "open", Invoice.number.in_(in_file)))
        would_close = run.summary["would_close"]
        service.commit_run(db.session, run, workspace, actor="test")
        db.session.commit()
        closed = db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.status == "closed"))
    assert would_close == closed == run.summary["closed_by_sync"] > 0
    assert open_before - closed == kept_open


CUSTOMERS = """External ID,Name,Risk,Timezone,AR Email,Contact
CUST-1,Globex Corporation,High,America/Chicago, AP@Globex.example ,Dana
CUST-2,Initech,low,,billing@initech.example,
CUST-3,Umbrella,severe,Mars/Base,not-an-email,
"""


def test_a_customers_file_creates_customers_with_primary_contacts(app, workspace, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS, encoding="utf-8")
    mapping = json.dumps({"customer_external_id": "External ID", "customer_name": "Name", "risk_tier": "Risk",
                          "time_zone": "Timezone", "contact_email": "AR Email", "contact_name": "Contact"})
    outcome = _last_json(_cli(app, str(path), "--org", "globex", "--kind", "customers", "--mapping", mapping,
                              "--json").output)
    with tenant_scope(workspace.id):
        globex = db.session.scalar(select(Customer).where(Customer.external_id == "CUST-1"))
        contact = db.session.scalar(select(Contact).where(Contact.customer_id == globex.id))
    assert (outcome["inserted"], outcome["rejected"]) == (2, 1)
    assert {e["code"] for e in outcome["errors"]} >= {"invalid_risk_tier", "unknown_time_zone"}
    assert (globex.risk_tier, globex.time_zone, contact.email, contact.is_primary) == (
        "high", "America/Chicago", "ap@globex.example", True)


def test_a_mapping_is_reused_for_the_next_file_with_the_same_headers(app, workspace, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Ref,Acct,When,Pay by,Money,Left\nA-1,C-1,2026-01-05,2026-02-04,100.00,50.00\n",
                    encoding="utf-8")
    mapping = json.dumps({"invoice_number": "Ref", "customer_external_id": "Acct", "issue_date": "When",
                          "due_date": "Pay by", "amount": "Money", "balance": "Left"})
    _cli(app, str(path), "--org", "globex", "--kind", "invoices", "--mapping", mapping)
    _cli(app, str(path), "--org", "globex", "--kind", "invoices")  # no mapping given: the saved one applies
    with tenant_scope(workspace.id):
        runs = db.session.scalars(select(ImportRun).order_by(ImportRun.id)).all()
    assert runs[1].settings["mapping_reused"] and runs[1].status == "committed"


def test_reimporting_the_same_bytes_reuses_the_earlier_validation(app, workspace):
    first = _last_json(_cli(app, str(CORPUS / "broken_bad_values.csv"), "--org", "globex", "--kind", "invoices",
                            "--json").output)
    second = _last_json(_cli(app, str(CORPUS / "broken_bad_values.csv"), "--org", "globex", "--kind", "invoices",
                             "--json").output)
    with tenant_scope(workspace.id):
        runs = db.session.scalars(select(ImportRun).order_by(ImportRun.id)).all()
    assert runs[1].summary["reused_validation_of"] == runs[0].id
    assert (second["valid"], second["rejected"], second["unchanged"], second["errors"]) == (
        first["valid"], first["rejected"], first["valid"], first["errors"])
