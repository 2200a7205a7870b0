"""Write the import test corpus: one logical invoice ledger in many CSV dialects, plus deliberately broken files.

Run `python tests/data/imports/generate.py` to rewrite the files next to this script. The output is byte-for-byte
deterministic (random.Random(2026), fixed dates), so the committed files can be checked against build().
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import random
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 2026
INVOICE_COUNT = 1000
CUSTOMER_COUNT = 120
HEADER = ("Invoice Number", "Customer ID", "Customer Name", "Invoice Date", "Due Date", "Currency", "Amount",
          "Open Balance", "Contact Email")
FIRST_INVOICE_DATE = dt.date(2025, 7, 1)
LAST_INVOICE_DATE = dt.date(2026, 3, 31)
CURRENCIES = {"USD": 70, "EUR": 12, "GBP": 8, "CAD": 6, "JPY": 4}
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "JPY": "¥"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Names with the characters importers trip over. Everything stays inside Latin-1 so that the Windows-1252 and
# Latin-1 variants carry exactly the same text as the UTF-8 ones.
SPECIAL_NAMES = (
    "Société Générale", "Müller & Söhne GmbH", "Acme Widgets, Inc.", 'The "Blue Door" Bakery', "Café Olé, S.L.",
    "Ørsted Nordic A/S", "Åkerlund & Rausing AB", "Björk, Ståhl & Partners", "Crédit Agricole Leasing",
    "Zürich Präzision AG", "O'Neill Brothers Ltd", "Peña Hermanos S.A.", "Dupont & Fils, SARL",
    "Smith, Jones & Partners LLP", "Tanaka Seiki Co., Ltd.", "Nakamura Trading K.K.", "Kraków Foods Sp. z o.o.",
    "Northwind Traders\nEMEA Division", "Fabrikam, Inc.\nAttn: Accounts Payable",
    'Contoso Ltd\n(formerly "Contoso Pharma")',
)
NAME_STEMS = (
    "Alder", "Beacon", "Birch", "Blue Ridge", "Cascade", "Cedar", "Summit", "Harbor", "Ironwood", "Juniper",
    "Keystone", "Lakeside", "Maple", "Meridian", "Northgate", "Oakmont", "Pinnacle", "Quarry", "Redwood",
    "Riverbend", "Sterling", "Tidewater", "Union", "Vantage", "Westfield", "Yellowstone", "Granite", "Copper",
    "Falcon", "Evergreen",
)
NAME_TRADES = ("Logistics", "Foods", "Hardware", "Medical", "Software", "Construction", "Textiles", "Energy",
               "Packaging", "Dental", "Freight", "Analytics", "Print", "Supply")
NAME_FORMS = ("Inc.", "LLC", "Ltd", "Corp.", "Co.", "Group", "Partners", "Holdings")


@dataclass(frozen=True)
class Customer:
    external_id: str
    name: str
    currency: str
    email: str


@dataclass(frozen=True)
class Invoice:
    number: str
    customer: Customer
    invoice_date: dt.date
    due_date: dt.date
    amount: int  # minor units of the currency
    balance: int
    email: str


# --- the logical ledger ---------------------------------------------------------------------------------------


def make_customers(rng: random.Random) -> list[Customer]:
    """The customers: the special names first, then generated company names, each with one currency."""
    names = list(SPECIAL_NAMES)
    while len(names) < CUSTOMER_COUNT:
        name = f"{rng.choice(NAME_STEMS)} {rng.choice(NAME_TRADES)} {rng.choice(NAME_FORMS)}"
        if name not in names:
            names.append(name)
    rng.shuffle(names)
    currencies = rng.choices(list(CURRENCIES), weights=list(CURRENCIES.values()), k=CUSTOMER_COUNT)
    return [Customer(f"CUST-{i:04d}", name, currency, f"{rng.choice(['ap', 'billing', 'accounts'])}@{_domain(name)}")
            for i, (name, currency) in enumerate(zip(names, currencies, strict=True), start=1)]


def _domain(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = "".join(c if c.isalnum() else " " for c in ascii_name.split("\n")[0]).split()
    return "-".join(words[:2]) + ".example"


def make_invoices(rng: random.Random, customers: Sequence[Customer]) -> list[Invoice]:
    """The ledger itself: invoice numbers in order, random customer, dates, amounts and balances."""
    span = (LAST_INVOICE_DATE - FIRST_INVOICE_DATE).days + 1
    invoices = []
    for number in range(1, INVOICE_COUNT + 1):
        customer = rng.choice(customers)
        issued = FIRST_INVOICE_DATE + dt.timedelta(days=rng.randrange(span))
        due = issued + dt.timedelta(days=rng.choice((15, 30, 30, 30, 45, 60)))
        amount = _random_amount(rng, customer.currency)
        balance = _random_balance(rng, amount)
        email = "" if rng.random() < 0.1 else customer.email
        invoices.append(Invoice(f"INV-{number:06d}", customer, issued, due, amount, balance, email))
    return invoices


def _random_amount(rng: random.Random, currency: str) -> int:
    # Log-uniform between 50.00 and 250,000.00: many small invoices, a few large ones. JPY has no minor unit.
    major = math.exp(rng.uniform(math.log(50), math.log(250_000)))
    return round(major) if currency == "JPY" else round(major * 100)


def _random_balance(rng: random.Random, amount: int) -> int:
    roll = rng.random()
    if roll < 0.35:
        return 0
    if roll < 0.7:
        return amount
    return rng.randrange(1, amount)


def totals(invoices: Sequence[Invoice]) -> dict:
    """What importing these invoices must produce."""
    by_currency = sorted({inv.customer.currency for inv in invoices})
    return {
        "invoices": len(invoices),
        "customers": len({inv.customer.external_id for inv in invoices}),
        "invoices_by_currency": {c: sum(inv.customer.currency == c for inv in invoices) for c in by_currency},
        "amount_minor": {c: sum(inv.amount for inv in invoices if inv.customer.currency == c) for c in by_currency},
        "open_balance_minor": {c: sum(inv.balance for inv in invoices if inv.customer.currency == c)
                               for c in by_currency},
    }


# --- value formats --------------------------------------------------------------------------------------------


def plain_amount(minor: int, currency: str) -> str:
    """1234.50 (JPY: 1234)."""
    return str(minor) if currency == "JPY" else f"{minor // 100}.{minor % 100:02d}"


def grouped_amount(minor: int, currency: str, thousands: str = ",", decimal: str = ".") -> str:
    """1,234.50 or, with European separators, 1.234,50 (JPY: 1,234 / 1.234)."""
    whole, cents = (minor, None) if currency == "JPY" else divmod(minor, 100)
    text = f"{whole:,}".replace(",", thousands)
    return text if cents is None else f"{text}{decimal}{cents:02d}"


def iso_date(day: dt.date) -> str:
    return day.isoformat()


def dotted_date(day: dt.date) -> str:
    return f"{day.day:02d}.{day.month:02d}.{day.year}"


def us_date(day: dt.date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def named_month_date(day: dt.date) -> str:
    # Not strftime("%b"): that follows the machine's locale.
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year}"


def ambiguous_date(day: dt.date) -> str:
    # DD/MM/YYYY with the day clamped to 12, so every value also reads as a valid MM/DD date.
    return f"{min(day.day, 12):02d}/{day.month:02d}/{day.year}"


Row = list[str]
RowFormat = Callable[[Invoice, random.Random], Row]


def standard_row(inv: Invoice, _rng: random.Random) -> Row:
    cur = inv.customer.currency
    return [inv.number, inv.customer.external_id, inv.customer.name, iso_date(inv.invoice_date),
            iso_date(inv.due_date), cur, plain_amount(inv.amount, cur), plain_amount(inv.balance, cur), inv.email]


def european_row(inv: Invoice, _rng: random.Random) -> Row:
    cur = inv.customer.currency
    return [inv.number, inv.customer.external_id, inv.customer.name, dotted_date(inv.invoice_date),
            dotted_date(inv.due_date), cur, grouped_amount(inv.amount, cur, ".", ","),
            grouped_amount(inv.balance, cur, ".", ","), inv.email]


def symbol_row(inv: Invoice, _rng: random.Random) -> Row:
    cur = inv.customer.currency
    return [inv.number, inv.customer.external_id, inv.customer.name, us_date(inv.invoice_date),
            us_date(inv.due_date), cur, SYMBOLS[cur] + grouped_amount(inv.amount, cur),
            SYMBOLS[cur] + grouped_amount(inv.balance, cur), inv.email]


def pipe_row(inv: Invoice, _rng: random.Random) -> Row:
    cur = inv.customer.currency
    return [inv.number, inv.customer.external_id, inv.customer.name, named_month_date(inv.invoice_date),
            named_month_date(inv.due_date), cur.lower(), plain_amount(inv.amount, cur),
            plain_amount(inv.balance, cur), inv.email]


def ambiguous_row(inv: Invoice, rng: random.Random) -> Row:
    row = standard_row(inv, rng)
    row[3], row[4] = ambiguous_date(inv.invoice_date), ambiguous_date(inv.due_date)
    return row


def messy_row(inv: Invoice, rng: random.Random) -> Row:
    """What a hand-edited spreadsheet looks like: padding, case, symbols, separators, datetimes."""
    cur = inv.customer.currency

    def pad(text: str) -> str:
        return rng.choice((text, text, f" {text}", f"{text} ", f"  {text}  "))

    def money(minor: int) -> str:
        text = grouped_amount(minor, cur)
        return pad(rng.choice(("US$", "US$ ")) + text) if cur == "USD" else pad(text)

    currency = rng.choice((cur, cur.lower(), f" {cur} "))
    email = inv.email
    if email and rng.random() < 0.5:
        email = f"  {email.upper()} "
    return [pad(inv.number), pad(inv.customer.external_id), pad(inv.customer.name),
            f"{iso_date(inv.invoice_date)}T00:00:00", f"{iso_date(inv.due_date)}T00:00:00", currency,
            money(inv.amount), money(inv.balance), email]


# --- files ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    filename: str
    row_format: RowFormat
    encoding: str = "utf-8"  # what the bytes are written in
    delimiter: str = ","
    terminator: str = "\r\n"
    detected_label: str = "UTF-8"  # what plixo.imports.reader must report
    date_format: str = "YYYY-MM-DD"
    decimal_separator: str = "."
    note: str = ""


VARIANTS = (
    Variant("invoices_utf8.csv", standard_row, terminator="\n"),
    Variant("invoices_utf8_bom.csv", standard_row, encoding="utf-8-sig", detected_label="UTF-8 (with BOM)"),
    Variant("invoices_utf16le.csv", standard_row, encoding="utf-16-le+bom", detected_label="UTF-16 LE"),
    Variant("invoices_utf16be.csv", standard_row, encoding="utf-16-be+bom", detected_label="UTF-16 BE"),
    Variant("invoices_cp1252.csv", standard_row, encoding="cp1252", detected_label="Windows-1252"),
    Variant("invoices_latin1.csv", standard_row, encoding="latin-1", terminator="\n", detected_label="Windows-1252",
            note="Latin-1 text without C1 control bytes is also valid Windows-1252 with the same meaning, so "
                 "detection reports Windows-1252."),
    Variant("invoices_semicolon_decimal_comma.csv", european_row, delimiter=";", date_format="DD.MM.YYYY",
            decimal_separator=","),
    Variant("invoices_tab.tsv", symbol_row, delimiter="\t", terminator="\n", date_format="MM/DD/YYYY"),
    Variant("invoices_pipe.csv", pipe_row, delimiter="|", terminator="\n", date_format="DD-Mon-YYYY"),
    Variant("invoices_messy.csv", messy_row, date_format="YYYY-MM-DDT00:00:00"),
    Variant("invoices_ambiguous_dates.csv", ambiguous_row, date_format="DD/MM/YYYY",
            note="Days are clamped to 12 so DD/MM and MM/DD both parse; the dates differ from the other variants, "
                 "the totals do not."),
)


def render(rows: Sequence[Sequence[str]], delimiter: str, terminator: str) -> list[str]:
    """Each record as CSV text, so callers can count the physical lines before any record."""
    out = []
    for row in rows:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator=terminator).writerow(row)
        out.append(buffer.getvalue())
    return out


def start_lines(records: Sequence[str]) -> list[int]:
    """The physical line each rendered record starts on (the header is line 1)."""
    lines, line = [], 1
    for text in records:
        lines.append(line)
        line += text.count("\n")
    return lines


def encode(text: str, encoding: str) -> bytes:
    if encoding.endswith("+bom"):
        codec = encoding.removesuffix("+bom")
        bom = "\ufeff".encode(codec)
        return bom + text.encode(codec)
    return text.encode(encoding)


def variant_file(variant: Variant, invoices: Sequence[Invoice]) -> bytes:
    rng = random.Random(f"{SEED}:{variant.filename}")
    rows = [list(HEADER)] + [variant.row_format(inv, rng) for inv in invoices]
    return encode("".join(render(rows, variant.delimiter, variant.terminator)), variant.encoding)


def standard_records(invoices: Sequence[Invoice]) -> list[Row]:
    return [list(HEADER)] + [standard_row(inv, random.Random(SEED)) for inv in invoices]


def csv_bytes(rows: Sequence[Sequence[str]]) -> tuple[bytes, list[int]]:
    """UTF-8 comma CSV with LF endings, and each record's start line."""
    records = render(rows, ",", "\n")
    return "".join(records).encode(), start_lines(records)


# --- broken files ---------------------------------------------------------------------------------------------


def broken_ragged(invoices: Sequence[Invoice], rng: random.Random) -> tuple[bytes, dict]:
    rows = standard_records(invoices)
    picks = sorted(rng.sample(range(1, len(rows)), 3))
    for n, index in enumerate(picks):
        rows[index] = rows[index][:-1] if n < 2 else [*rows[index], "EXTRA"]
    data, lines = csv_bytes(rows)
    return data, {
        "reader": "records", "records": len(invoices),
        "ragged_rows": [{"line": lines[i], "invoice_number": rows[i][0], "cells": len(rows[i])} for i in picks],
        "totals_without_ragged_rows": totals([inv for i, inv in enumerate(invoices, 1) if i not in picks]),
    }


def broken_unclosed_quote(invoices: Sequence[Invoice], rng: random.Random) -> tuple[bytes, dict]:
    rows = standard_records(invoices)
    plain = [i for i in range(600, 800) if rows[i][2].replace(" ", "").isalnum()]
    index = rng.choice(plain)
    records = render(rows, ",", "\n")
    name = rows[index][2]
    # Opening quote, no closing one: the parser swallows the following lines until it meets another quote.
    records[index] = records[index].replace(f",{name},", f',"{name},', 1)
    return "".join(records).encode(), {
        "reader": "error", "error": "unclosed_quote", "raised_by": "iter_records",
        "line": start_lines(records)[index], "invoice_number": rows[index][0],
    }


def broken_binary(rng: random.Random) -> tuple[bytes, dict]:
    data = bytearray(rng.randbytes(8192))
    data[0:4] = b"\x89\x00\x13\x07"  # never a BOM or a known signature, whatever the random bytes are
    data[100:4000:97] = bytes(len(range(100, 4000, 97)))  # plenty of NULs
    return bytes(data), {"reader": "error", "error": "binary_file", "raised_by": "detect_format"}


def broken_xlsx() -> tuple[bytes, dict]:
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
                               '.org/package/2006/content-types"><Default Extension="xml" ContentType="applicatio'
                               'n/xml"/></Types>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.o'
                           'rg/spreadsheetml/2006/main"><sheets><sheet name="Invoices" sheetId="1"/></sheets>'
                           '</workbook>',
        "xl/worksheets/sheet1.xml": '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.open'
                                    'xmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inl'
                                    'ineStr"><is><t>Invoice Number</t></is></c></row></sheetData></worksheet>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in parts.items():
            # Fixed timestamp and creator system: zipfile otherwise stamps the current time and OS.
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.create_system, info.external_attr = 3, 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue(), {"reader": "error", "error": "binary_file", "raised_by": "detect_format",
                               "message_contains": "Excel workbook"}


def broken_header_only() -> tuple[bytes, dict]:
    return ",".join(HEADER).encode() + b"\r\n", {"reader": "error", "error": "header_only",
                                                  "raised_by": "read_header_and_sample", "records": 0}


def broken_duplicates(invoices: Sequence[Invoice], rng: random.Random) -> tuple[bytes, dict]:
    originals = sorted(rng.sample(range(len(invoices)), 50))
    ordered: list[tuple[Invoice, int | None]] = [(inv, None) for inv in invoices]
    for n, index in enumerate(originals):
        copy = invoices[index]
        if n % 2:  # half are amended re-sends of the same invoice number with a different balance
            copy = replace(copy, balance=copy.amount - copy.balance)
        ordered.insert(rng.randrange(ordered.index((invoices[index], None)) + 1, len(ordered) + 1), (copy, index))
    rows = [list(HEADER)] + [standard_row(inv, rng) for inv, _ in ordered]
    data, lines = csv_bytes(rows)
    first_line = {inv.number: lines[i] for i, (inv, source) in enumerate(ordered, 1) if source is None}
    duplicates = [{"line": lines[i], "invoice_number": inv.number, "first_line": first_line[inv.number],
                   "identical": inv == invoices[source]}
                  for i, (inv, source) in enumerate(ordered, 1) if source is not None]
    return data, {"reader": "records", "records": len(ordered), "duplicate_rows": duplicates,
                  "totals_of_first_occurrences": totals(invoices)}


FORMULAS = (
    (2, "=cmd|' /C calc'!A0"), (6, "+1+1"), (8, "@SUM(A1)"), (6, "-2+3"),
    (2, '=HYPERLINK("http://evil.example/","Click me")'), (8, "=2+5"), (2, "@SUM(1+9)*cmd|' /C calc'!A0"),
    (7, "=SUM(A1:A9)"),
)
BAD_VALUES = (
    (5, "XYZ", "unknown currency"), (5, "XYZ", "unknown currency"), (8, "not-an-email", "invalid email"),
    (8, "ap@@acme.example", "invalid email"), (8, "jane.doe@", "invalid email"),
    (6, "12.345.678,9x", "invalid amount"), (7, "1O0.00", "invalid amount"), (3, "2026-02-30", "invalid date"),
    (4, "2026-13-01", "invalid date"), (3, "31/31/2026", "invalid date"),
)


def broken_cells(invoices: Sequence[Invoice], rng: random.Random,
                 changes: Sequence[tuple[int, str, str]]) -> tuple[bytes, list[dict], list[int]]:
    """The standard file with one cell replaced in each of len(changes) different rows."""
    rows = standard_records(invoices)
    picks = sorted(rng.sample(range(1, len(rows)), len(changes)))
    cells = []
    for index, (column, value, problem) in zip(picks, changes, strict=True):
        cells.append({"index": index, "column": HEADER[column], "value": value, "original": rows[index][column],
                      "problem": problem, "invoice_number": rows[index][0]})
        rows[index][column] = value
    data, lines = csv_bytes(rows)
    for cell in cells:
        cell["line"] = lines[cell.pop("index")]
    return data, cells, picks


def broken_formulas(invoices: Sequence[Invoice], rng: random.Random) -> tuple[bytes, dict]:
    data, cells, picks = broken_cells(invoices, rng, [(c, v, "formula") for c, v in FORMULAS])
    return data, {"reader": "records", "records": len(invoices), "formula_cells": cells,
                  "totals_without_formula_rows": totals([inv for i, inv in enumerate(invoices, 1)
                                                         if i not in picks])}


def broken_bad_values(invoices: Sequence[Invoice], rng: random.Random) -> tuple[bytes, dict]:
    data, cells, picks = broken_cells(invoices, rng, BAD_VALUES)
    return data, {"reader": "records", "records": len(invoices), "bad_cells": cells,
                  "totals_without_bad_rows": totals([inv for i, inv in enumerate(invoices, 1) if i not in picks])}


# --- assembling -----------------------------------------------------------------------------------------------


def variants_manifest(invoices: Sequence[Invoice]) -> dict:
    records = render(standard_records(invoices), ",", "\n")
    lines = start_lines(records)
    return {
        "files": {v.filename: {"written_encoding": v.encoding.removesuffix("+bom"), "encoding_label": v.detected_label,
                               "delimiter": v.delimiter, "date_format": v.date_format,
                               "decimal_separator": v.decimal_separator,
                               "line_terminator": "CRLF" if v.terminator == "\r\n" else "LF", "note": v.note}
                  for v in VARIANTS},
        # Identical in every variant: same record order, and names keep their embedded newlines.
        "header_line": 1,
        "last_record_line": lines[-1],
        "multiline_records": [{"line": lines[i], "next_line": lines[i + 1] if i + 1 < len(lines) else None,
                               "invoice_number": inv.number, "customer_name": inv.customer.name}
                              for i, inv in enumerate(invoices, 1) if "\n" in inv.customer.name],
    }


def build() -> dict[str, bytes]:
    """Every corpus file, by name."""
    rng = random.Random(SEED)
    invoices = make_invoices(rng, make_customers(rng))
    files = {v.filename: variant_file(v, invoices) for v in VARIANTS}
    expectations = {}
    broken = {
        "broken_ragged.csv": lambda r: broken_ragged(invoices, r),
        "broken_unclosed_quote.csv": lambda r: broken_unclosed_quote(invoices, r),
        "broken_binary.csv": broken_binary,
        "broken_xlsx_renamed.csv": lambda _r: broken_xlsx(),
        "broken_empty.csv": lambda _r: (b"", {"reader": "error", "error": "empty_file", "raised_by": "detect_format"}),
        "broken_header_only.csv": lambda _r: broken_header_only(),
        "broken_duplicates.csv": lambda r: broken_duplicates(invoices, r),
        "broken_formulas.csv": lambda r: broken_formulas(invoices, r),
        "broken_bad_values.csv": lambda r: broken_bad_values(invoices, r),
    }
    for name, make in broken.items():
        files[name], expectations[name] = make(random.Random(f"{SEED}:{name}"))
    files["expected_totals.json"] = _json(totals(invoices))
    files["variants.json"] = _json(variants_manifest(invoices))
    files["broken_expectations.json"] = _json(expectations)
    return files


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def main() -> None:
    for name, data in build().items():
        (HERE / name).write_bytes(data)
        print(f"{len(data):>9,}  {name}")


if __name__ == "__main__":
    main()
