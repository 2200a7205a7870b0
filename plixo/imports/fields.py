"""What an import file can contain: Plixo's fields per file kind, their synonyms, and auto-mapping."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass

KINDS = {"invoices": "Invoices", "customers": "Customers and contacts"}


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    label: str
    kind: str  # text, date, amount, currency, email, risk_tier, time_zone
    required: bool
    description: str
    example: str
    synonyms: tuple[str, ...] = ()


INVOICE_FIELDS: tuple[Field, ...] = (
    Field("invoice_number", "Invoice number", "text", True, "Unique per workspace; re-imports update by it.",
          "INV-104233", ("invoice number", "invoice #", "invoice no", "inv no", "inv #", "invoice", "document number",
                         "doc number", "doc no", "reference", "invoice id", "bill number")),
    Field("customer_external_id", "Customer ID", "text", True, "Your ERP's customer number.", "CUST-0042",
          ("customer id", "customer #", "customer number", "customer no", "account", "account number", "account id",
           "cust id", "client id", "customer code")),
    Field("customer_name", "Customer name", "text", False, "Used for new customers; updates the name when given.",
          "Globex Corporation", ("customer name", "customer", "bill to", "client", "client name", "company",
                                 "account name")),
    Field("issue_date", "Invoice date", "date", True, "When the invoice was issued.", "2026-01-31",
          ("invoice date", "issue date", "date", "issued", "document date", "doc date", "posting date")),
    Field("due_date", "Due date", "date", True, "Aging is counted from this date.", "2026-03-02",
          ("due date", "due", "payment due", "due on", "net due date", "maturity date")),
    Field("currency", "Currency", "currency", False, "ISO 4217 code; blank means the workspace currency.", "USD",
          ("currency", "curr", "ccy", "currency code", "cur")),
    Field("amount", "Invoice amount", "amount", True, "The invoice total.", "12,500.00",
          ("amount", "total", "invoice amount", "original amount", "invoice total", "gross amount", "amount total")),
    Field("balance", "Open balance", "amount", True, "What is still to be paid; 0 marks the invoice paid.", "4,250.00",
          ("open balance", "amount due", "balance", "balance due", "outstanding", "open amount", "remaining",
           "amount remaining", "outstanding amount")),
    Field("contact_email", "Contact e-mail", "email", False, "Where reminders go; added to the customer's contacts.",
          "ap@globex.example", ("email", "contact email", "ar email", "billing email", "e-mail", "email address",
                                "invoice email", "ap email")),
    Field("contact_name", "Contact name", "text", False, "Name of that contact.", "Dana Payables",
          ("contact name", "contact", "attention", "attn")),
)

CUSTOMER_FIELDS: tuple[Field, ...] = (
    Field("customer_external_id", "Customer ID", "text", True, "Your ERP's customer number; re-imports update by it.",
          "CUST-0042", INVOICE_FIELDS[1].synonyms),
    Field("customer_name", "Customer name", "text", True, "The customer's name.", "Globex Corporation",
          INVOICE_FIELDS[2].synonyms),
    Field("risk_tier", "Risk tier", "risk_tier", False, "low, medium or high (blank: medium).", "medium",
          ("risk tier", "risk", "risk level", "tier", "credit risk")),
    Field("time_zone", "Time zone", "time_zone", False, "IANA zone for quiet hours (blank: the workspace's).",
          "America/Chicago", ("time zone", "timezone", "tz", "zone")),
    Field("contact_email", "Contact e-mail", "email", False, "Where reminders go.", "ap@globex.example",
          INVOICE_FIELDS[8].synonyms),
    Field("contact_name", "Contact name", "text", False, "Name of that contact.", "Dana Payables",
          INVOICE_FIELDS[9].synonyms),
)

FIELDS: dict[str, tuple[Field, ...]] = {"invoices": INVOICE_FIELDS, "customers": CUSTOMER_FIELDS}


def fields_of(kind: str) -> dict[str, Field]:
    """The fields of a file kind, by key."""
    return {f.key: f for f in FIELDS[kind]}


def normalise_header(header: str) -> str:
    """Comparable form of a column title: "Invoice #", "invoice_#" and " INVOICE  # " match."""
    text = header.strip().lower().replace("_", " ").replace("-", " ").replace(".", " ")
    text = text.replace("nº", "no").replace("n°", "no")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9# ]", " ", text)).strip()


def auto_map(headers: list[str], kind: str) -> dict[str, int]:
    """Match columns to fields by name and synonyms; each column serves one field, best match first."""
    normalised = [normalise_header(h) for h in headers]
    mapping: dict[str, int] = {}
    used: set[int] = set()
    for field in FIELDS[kind]:
        names = [normalise_header(field.label), *(normalise_header(s) for s in field.synonyms)]
        for name in names:  # earlier synonyms are the stronger matches
            index = next((i for i, h in enumerate(normalised) if h == name and i not in used), None)
            if index is not None:
                mapping[field.key] = index
                used.add(index)
                break
    return mapping


def missing_required(mapping: dict[str, int], kind: str) -> list[Field]:
    """Required fields no column is mapped to (they block validation)."""
    return [f for f in FIELDS[kind] if f.required and f.key not in mapping]


def header_signature(headers: list[str]) -> str:
    """Identifies a file layout, so a mapping chosen once is reused for the next file like it."""
    return hashlib.sha256("\x1f".join(normalise_header(h) for h in headers).encode()).hexdigest()


def template_csv(kind: str) -> str:
    """A CSV template: the column titles and one example row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([f.label for f in FIELDS[kind]])
    writer.writerow([f.example for f in FIELDS[kind]])
    return buffer.getvalue()
