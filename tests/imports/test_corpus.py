"""The same ~1,000 invoices in every supported encoding, delimiter, number and date style import to the same
totals to the cent; broken files give a clear error and write nothing they should not."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from plixo.extensions import db
from plixo.imports import service
from plixo.imports.reader import ImportFileError
from plixo.ledger.models import Customer, Invoice
from plixo.tenancy import tenant_scope
from tests.factories import make_org

CORPUS = Path(__file__).resolve().parent.parent / "data" / "imports"
EXPECTED = json.loads((CORPUS / "expected_totals.json").read_text())
BROKEN = json.loads((CORPUS / "broken_expectations.json").read_text())
VALID = sorted(p.name for p in CORPUS.iterdir() if p.name.startswith("invoices_"))
DAY_FIRST = {"invoices_ambiguous_dates.csv": "%d/%m/%Y"}  # what the user confirms on the mapping page


@pytest.fixture
def workspace():
    org = make_org(base_currency="USD")
    db.session.commit()
    return org


def _import(org, name: str, commit: bool = True):
    """Upload, map (confirming ambiguous dates), validate and commit one corpus file as the user would."""
    with tenant_scope(org.id):
        with open(CORPUS / name, "rb") as stream:
            run = service.create_run(db.session, org=org, actor="test", kind="invoices", filename=name,
                                     stream=stream, max_bytes=10**8)
        db.session.commit()
        if run.status == "failed":
            return run, None
        date_formats = dict(run.settings["date_formats"])
        for key in ("issue_date", "due_date"):
            if name in DAY_FIRST:
                date_formats[key] = DAY_FIRST[name]
        service.set_mapping(db.session, run, actor="test", mapping=run.mapping, date_formats=date_formats,
                            decimal_comma=run.settings["decimal_comma"], full_sync=False)
        report = service.validate_run(db.session, run, org)
        db.session.commit()
        if commit and report.valid:
            service.commit_run(db.session, run, org, actor="test")
            db.session.commit()
        return run, report


def _totals(org) -> dict:
    with tenant_scope(org.id):
        rows = db.session.execute(select(Invoice.currency, func.count(), func.sum(Invoice.amount_minor),
                                         func.sum(Invoice.balance_minor)).group_by(Invoice.currency)).all()
        customers = db.session.scalar(select(func.count()).select_from(Customer))
    return {
        "invoices": sum(r[1] for r in rows), "customers": customers,
        "invoices_by_currency": {r[0]: r[1] for r in rows},
        "amount_minor": {r[0]: int(r[2]) for r in rows},
        "open_balance_minor": {r[0]: int(r[3]) for r in rows},
    }


def _invoice_count(org) -> int:
    with tenant_scope(org.id):
        return db.session.scalar(select(func.count()).select_from(Invoice))


@pytest.mark.parametrize("name", VALID)
def test_every_valid_variant_imports_to_the_same_totals(workspace, name):
    run, report = _import(workspace, name)
    assert (report.rejected, run.status) == (0, "committed")
    assert _totals(workspace) == EXPECTED


@pytest.mark.parametrize("name", VALID)
def test_every_variant_is_detected_without_questions_except_ambiguous_dates(workspace, name):
    with tenant_scope(workspace.id), open(CORPUS / name, "rb") as stream:
        run = service.create_run(db.session, org=workspace, actor="test", kind="invoices", filename=name,
                                 stream=stream, max_bytes=10**8)
        problems = service.problems_before_validation(run, workspace)
    expected = 2 if name in DAY_FIRST else 0
    assert len(problems) == expected, problems


def test_reimporting_an_unchanged_file_writes_nothing(workspace):
    _import(workspace, "invoices_utf8.csv")
    run, _report = _import(workspace, "invoices_semicolon_decimal_comma.csv")
    assert (run.summary["inserted"], run.summary["updated"], run.summary["unchanged"]) == (0, 0, 1000)


def test_an_updated_file_updates_balances_without_duplicating(workspace, tmp_path):
    _import(workspace, "invoices_utf8.csv")
    rows = list(csv.reader(io.StringIO((CORPUS / "invoices_utf8.csv").read_text(encoding="utf-8"))))
    header, body = rows[0], rows[1:]
    balance = header.index("Open Balance")
    body[0][balance] = "0.00"
    changed = tmp_path / "invoices_utf8.csv"
    with open(changed, "w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([header, *body])
    with tenant_scope(workspace.id), open(changed, "rb") as stream:
        run = service.create_run(db.session, org=workspace, actor="test", kind="invoices", filename="changed.csv",
                                 stream=stream, max_bytes=10**8)
        service.validate_run(db.session, run, workspace)
        service.commit_run(db.session, run, workspace, actor="test")
        db.session.commit()
        paid = db.session.scalar(select(Invoice.status).where(Invoice.number == body[0][0]))
    assert (run.summary["inserted"], run.summary["updated"], _invoice_count(workspace), paid) == (0, 1, 1000, "paid")


@pytest.mark.parametrize("name", ["broken_binary.csv", "broken_xlsx_renamed.csv", "broken_empty.csv",
                                  "broken_header_only.csv"])
def test_unreadable_files_fail_with_a_clear_message_and_write_nothing(workspace, name):
    run, _report = _import(workspace, name)
    assert run.status == "failed" and run.last_error and _invoice_count(workspace) == 0


def test_xlsx_saved_as_csv_says_to_save_as_csv(workspace):
    run, _report = _import(workspace, "broken_xlsx_renamed.csv")
    assert "Excel" in run.last_error


def test_an_unclosed_quote_fails_with_its_line_and_writes_nothing(workspace):
    expected = BROKEN["broken_unclosed_quote.csv"]
    try:
        run, _report = _import(workspace, "broken_unclosed_quote.csv")
        message = run.last_error  # caught while analysing the upload
    except ImportFileError as failure:  # or, past the analysed rows, while validating
        message = failure.message
    assert f"Line {expected['line']} " in message and _invoice_count(workspace) == 0


def _rejected_lines(report, code: str | None = None) -> set[int]:
    return {e.line for e in report.errors if code is None or e.code == code}


def test_ragged_rows_are_rejected_with_their_line_numbers(workspace):
    expected = BROKEN["broken_ragged.csv"]
    _run, report = _import(workspace, "broken_ragged.csv")
    assert _rejected_lines(report, "ragged_row") == {r["line"] for r in expected["ragged_rows"]}
    assert _totals(workspace) == expected["totals_without_ragged_rows"]


def test_formula_cells_are_rejected_not_imported(workspace):
    expected = BROKEN["broken_formulas.csv"]
    _run, report = _import(workspace, "broken_formulas.csv")
    assert _rejected_lines(report) == {c["line"] for c in expected["formula_cells"]}
    assert _totals(workspace) == expected["totals_without_formula_rows"]


def test_bad_values_are_rejected_with_reasons(workspace):
    expected = BROKEN["broken_bad_values.csv"]
    _run, report = _import(workspace, "broken_bad_values.csv")
    assert _rejected_lines(report) == {c["line"] for c in expected["bad_cells"]}
    assert all(e.message and e.suggestion for e in report.errors)
    assert _totals(workspace) == expected["totals_without_bad_rows"]


def test_in_file_duplicates_are_reported_and_conflicting_ones_not_imported(workspace):
    expected = BROKEN["broken_duplicates.csv"]
    _run, report = _import(workspace, "broken_duplicates.csv")
    conflicting = {r["invoice_number"] for r in expected["duplicate_rows"] if not r["identical"]}
    assert report.duplicate_numbers == conflicting
    assert len(report.errors) == 50 + len(conflicting)  # every repeat, plus the first row of each conflict
    assert _invoice_count(workspace) == 1000 - len(conflicting)


def test_rejected_rows_download_neutralises_formulas(workspace):
    from plixo.imports.pipeline import rejected_path

    run, _report = _import(workspace, "broken_formulas.csv", commit=False)
    text = rejected_path(Path(run.storage_path)).read_text(encoding="utf-8")
    assert "'=cmd|" in text and "\n=cmd" not in text and ",=cmd" not in text


def test_a_dry_run_writes_no_invoices(workspace):
    run, report = _import(workspace, "invoices_utf8.csv", commit=False)
    assert (run.status, report.valid, _invoice_count(workspace)) == ("validated", 1000, 0)
