import csv
import io

import pytest

from plixo.imports.fields import (
    FIELDS,
    auto_map,
    header_signature,
    missing_required,
    normalise_header,
    template_csv,
)


@pytest.mark.parametrize(("header", "field"), [
    ("Invoice #", "invoice_number"), ("Inv No", "invoice_number"), ("Document Number", "invoice_number"),
    ("Open Balance", "balance"), ("Amount Due", "balance"), ("Balance", "balance"),
    ("Due", "due_date"), ("Due Date", "due_date"), ("Payment Due", "due_date"),
    ("Email", "contact_email"), ("Contact Email", "contact_email"), ("AR Email", "contact_email"),
    ("CUSTOMER_ID", "customer_external_id"), ("  invoice   date ", "issue_date"), ("Curr.", "currency"),
])
def test_synonyms_map_to_fields(header, field):
    assert auto_map([header], "invoices") == {field: 0}


def test_each_column_serves_one_field():
    mapping = auto_map(["Amount", "Balance", "Amount"], "invoices")
    assert mapping == {"amount": 0, "balance": 1}


def test_a_typical_erp_export_maps_completely():
    headers = ["Document Number", "Customer #", "Bill To", "Posting Date", "Net Due Date", "Curr", "Total",
               "Amount Remaining", "Billing Email"]
    assert missing_required(auto_map(headers, "invoices"), "invoices") == []


def test_unmapped_required_fields_are_listed():
    missing = missing_required(auto_map(["Invoice #", "Amount"], "invoices"), "invoices")
    assert {f.key for f in missing} == {"customer_external_id", "issue_date", "due_date", "balance"}


def test_header_signature_ignores_case_and_spacing():
    assert header_signature(["Invoice #", "Due Date"]) == header_signature([" invoice # ", "DUE_DATE"])


def test_header_signature_depends_on_order():
    assert header_signature(["A", "B"]) != header_signature(["B", "A"])


def test_normalise_header():
    assert normalise_header(" Invoice_No. ") == "invoice no"


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_templates_map_to_themselves_with_an_example_row(kind):
    rows = list(csv.reader(io.StringIO(template_csv(kind))))
    assert len(rows) == 2 and missing_required(auto_map(rows[0], kind), kind) == []
    assert len(auto_map(rows[0], kind)) == len(FIELDS[kind])
