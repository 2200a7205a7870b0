"""Open-balance changes are recorded as they happen, whichever way the balance moves, and always add up."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from plixo.extensions import db
from plixo.imports import service
from plixo.ledger.aging import local_today
from plixo.ledger.balances import WRITTEN_OFF, Reason, balance_reason, unbalanced_invoices
from plixo.ledger.models import BalanceChange, Invoice
from plixo.tenancy import tenant_scope
from tests.factories import make_customer, make_invoice, make_org

HEADER = "Invoice Number,Customer ID,Customer Name,Invoice Date,Due Date,Currency,Amount,Open Balance\n"


@pytest.fixture
def workspace(app):
    org = make_org(slug="balances", base_currency="USD")
    db.session.commit()
    return org


def _changes(org, number: str | None = None) -> list[tuple[str, int, dt.date, str]]:
    with tenant_scope(org.id):
        query = select(BalanceChange.kind, BalanceChange.amount_minor, BalanceChange.day, BalanceChange.source
                       ).join(Invoice, Invoice.id == BalanceChange.invoice_id).order_by(BalanceChange.id)
        if number:
            query = query.where(Invoice.number == number)
        return [tuple(row) for row in db.session.execute(query)]


def _import(org, tmp_path, rows: list[str], full_sync: bool = False) -> None:
    path = tmp_path / f"file-{len(list(tmp_path.iterdir()))}.csv"
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    with tenant_scope(org.id):
        with open(path, "rb") as stream:
            run = service.create_run(db.session, org=org, actor="test", kind="invoices", filename=path.name,
                                     stream=stream, max_bytes=10**6)
        service.set_mapping(db.session, run, actor="test", mapping=run.mapping,
                            date_formats=run.settings["date_formats"], decimal_comma=False, full_sync=full_sync)
        service.validate_run(db.session, run, org)
        service.commit_run(db.session, run, org, actor="test")
        db.session.commit()


def test_a_new_invoice_starts_its_history_with_its_billing_on_the_issue_date(workspace):
    with tenant_scope(workspace.id):
        invoice = make_invoice(workspace, amount_minor=50_000, balance_minor=50_000)
        db.session.commit()
    assert _changes(workspace) == [("issued", 50_000, invoice.issue_date, "system")]


def test_an_invoice_that_arrives_part_paid_is_not_cash_collected_today(workspace):
    today = local_today(workspace.time_zone)
    with tenant_scope(workspace.id):
        make_invoice(workspace, amount_minor=50_000, balance_minor=20_000)
        db.session.commit()
    kinds = [(kind, amount, day) for kind, amount, day, _source in _changes(workspace)]
    assert kinds[1] == ("settled_before", -30_000, today)


def test_a_named_reason_names_the_change_and_its_day(workspace):
    paid_on = dt.date(2026, 11, 30)
    with tenant_scope(workspace.id):
        invoice = make_invoice(workspace, amount_minor=50_000, balance_minor=50_000)
        db.session.commit()
        with balance_reason(db.session, Reason("collected", "refunded", "stripe", paid_on)):
            invoice.balance_minor, invoice.status = 0, "paid"
            db.session.flush()
        invoice.balance_minor, invoice.status = 5_000, "open"  # no reason named: never cash
        db.session.commit()
        assert unbalanced_invoices(db.session, workspace.id) == []
    assert _changes(workspace)[1:] == [("collected", -50_000, paid_on, "stripe"),
                                       ("adjusted", 5_000, local_today(workspace.time_zone), "system")]


def test_a_write_off_takes_the_balance_out_of_open_ar_without_counting_cash(workspace):
    with tenant_scope(workspace.id):
        invoice = make_invoice(workspace, amount_minor=40_000, balance_minor=40_000)
        db.session.commit()
        with balance_reason(db.session, WRITTEN_OFF):
            invoice.status = "written_off"  # the balance stays on the invoice for the record
            db.session.flush()
        db.session.commit()
        assert unbalanced_invoices(db.session, workspace.id) == []
    assert _changes(workspace)[-1][:2] == ("written_off", -40_000)


def test_moving_an_invoice_to_another_customer_moves_its_balance_too(workspace):
    with tenant_scope(workspace.id):
        invoice = make_invoice(workspace, amount_minor=40_000, balance_minor=40_000)
        other = make_customer(workspace)
        db.session.commit()
        invoice.customer_id = other.id
        db.session.commit()
        rows = db.session.execute(select(BalanceChange.customer_id, BalanceChange.amount_minor)
                                  .order_by(BalanceChange.id)).all()
    assert [tuple(row) for row in rows[1:]] == [(rows[0][0], -40_000), (other.id, 40_000)]


def test_imports_record_billing_collections_rises_and_full_sync_closings(workspace, tmp_path):
    today = local_today(workspace.time_zone)
    _import(workspace, tmp_path, ["A-1,C1,Acme,2026-10-01,2026-10-31,USD,1000.00,1000.00",
                                  "A-2,C1,Acme,2026-10-05,2026-11-04,USD,500.00,200.00",
                                  "A-3,C2,Beta,2026-10-07,2026-11-06,USD,300.00,300.00"])
    assert _changes(workspace, "A-1") == [("issued", 100_000, dt.date(2026, 10, 1), "import")]
    assert _changes(workspace, "A-2")[1] == ("settled_before", -30_000, today, "import")
    # The file now says A-1 was paid down and A-2 grew (a re-bill); A-3 is gone from a full sync.
    _import(workspace, tmp_path, ["A-1,C1,Acme,2026-10-01,2026-10-31,USD,1000.00,400.00",
                                  "A-2,C1,Acme,2026-10-05,2026-11-04,USD,500.00,250.00"], full_sync=True)
    assert _changes(workspace, "A-1")[1:] == [("collected", -60_000, today, "import")]
    assert _changes(workspace, "A-2")[2:] == [("adjusted", 5_000, today, "import")]
    assert _changes(workspace, "A-3")[1:] == [("collected", -30_000, today, "import")]
    # The same file again changes nothing.
    before = len(_changes(workspace))
    _import(workspace, tmp_path, ["A-1,C1,Acme,2026-10-01,2026-10-31,USD,1000.00,400.00",
                                  "A-2,C1,Acme,2026-10-05,2026-11-04,USD,500.00,250.00"])
    assert len(_changes(workspace)) == before
    with tenant_scope(workspace.id):
        assert unbalanced_invoices(db.session, workspace.id) == []


def test_an_import_moving_an_invoice_to_another_customer_moves_its_balance(workspace, tmp_path):
    _import(workspace, tmp_path, ["A-1,C1,Acme,2026-10-01,2026-10-31,USD,1000.00,1000.00"])
    _import(workspace, tmp_path, ["A-1,C2,Beta,2026-10-01,2026-10-31,USD,1000.00,900.00"])
    assert [kind_amount[:2] for kind_amount in _changes(workspace, "A-1")[1:]] == [("adjusted", -100_000),
                                                                                  ("adjusted", 90_000)]
    with tenant_scope(workspace.id):
        assert unbalanced_invoices(db.session, workspace.id) == []


def test_cash_paid_through_stripe_and_then_reported_by_an_import_counts_once(workspace, tmp_path):
    today = local_today(workspace.time_zone)
    _import(workspace, tmp_path, ["S-1,C1,Acme,2026-10-01,2026-10-31,USD,1000.00,1000.00"])
    with tenant_scope(workspace.id):
        invoice = db.session.scalar(select(Invoice).where(Invoice.number == "S-1"))
        with balance_reason(db.session, Reason("collected", "refunded", "stripe", today)):
            invoice.balance_minor, invoice.status = 0, "paid"
            db.session.commit()
    # The ERP export the next morning shows the same payment: the balance it reports is already Plixo's.
    _import(workspace, tmp_path, ["S-1,C1,Acme,2026-10-01,2026-10-31,USD,1000.00,0.00"])
    cash = [row for row in _changes(workspace, "S-1") if row[0] == "collected"]
    assert cash == [("collected", -100_000, today, "stripe")]
