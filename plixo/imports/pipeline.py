"""The import pipeline without the web: analyse a file, validate it into a normalised file, and report.

Validation streams: one pass over the file, rows written as they are checked, so memory stays flat
whatever the file's size (only the invoice numbers seen are kept, to report in-file duplicates).
Its outputs are files next to the upload: `<name>.normalised.csv` (valid rows in Plixo's own format,
what the commit step loads) and `<name>.rejected.csv` (the original cells plus the reason).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import available_timezones

from plixo.amounts import AmountError, NumberStyle, detect_number_style, parse_amount
from plixo.csv_safe import csv_safe, starts_like_formula
from plixo.imports.currencies import normalize_currency
from plixo.imports.dates import DateColumnGuess, detect_date_format, parse_date
from plixo.imports.emails import normalize_email
from plixo.imports.fields import FIELDS, Field, fields_of
from plixo.imports.issues import FieldIssue
from plixo.imports.reader import FileFormat, iter_records, read_header_and_sample
from plixo.values import Fix, without_invisible

ANALYSIS_ROWS = 2000  # enough rows to detect date formats and number style reliably
MAX_STORED_ISSUES = 5000  # errors kept for the page; the counts are always complete
MAX_FIX_EXAMPLES = 20  # examples kept per kind of automatic fix
PROGRESS_EVERY = 5000
MEMO_ENTRIES = 100_000  # distinct values remembered per column before the memo starts over
RISK_TIERS = ("low", "medium", "high")
_TIME_ZONES = frozenset(available_timezones())

NORMALISED_COLUMNS = {
    "invoices": ("line", "invoice_number", "customer_external_id", "customer_name", "issue_date", "due_date",
                 "currency", "amount_minor", "balance_minor", "contact_email", "contact_name"),
    "customers": ("line", "customer_external_id", "customer_name", "risk_tier", "time_zone", "contact_email",
                  "contact_name"),
}


@dataclass(frozen=True, slots=True)
class RowIssue:
    line: int
    column: str
    value: str
    code: str
    message: str
    suggestion: str = ""


@dataclass
class Analysis:
    """What the mapping step shows: the layout, a preview and what was detected per column."""

    headers: list[str]
    preview: list[list[str]]
    date_guesses: dict[str, DateColumnGuess]
    number_style: NumberStyle


@dataclass
class ValidationReport:
    rows: int = 0
    valid: int = 0
    fixed: int = 0
    rejected: int = 0
    errors: list[RowIssue] = field(default_factory=list)
    error_count: int = 0
    fix_counts: dict[str, int] = field(default_factory=dict)
    fix_examples: list[RowIssue] = field(default_factory=list)
    duplicate_numbers: set[str] = field(default_factory=set)  # keys on rows that disagree: all rejected
    duplicate_lines: dict[str, int] = field(default_factory=dict)  # key -> its second line
    totals: dict[str, dict[str, int]] = field(default_factory=dict)  # currency -> amount/balance of valid rows
    numbers: set[str] = field(default_factory=set)  # invoice numbers in the file (full sync, duplicates)

    def add_error(self, issue: RowIssue) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ISSUES:
            self.errors.append(issue)

    def add_fix(self, code: str, example: Callable[[], RowIssue]) -> None:
        """Count a fix; only the first few of each kind are described (most files fix most rows)."""
        count = self.fix_counts.get(code, 0)
        self.fix_counts[code] = count + 1
        if count < MAX_FIX_EXAMPLES:
            self.fix_examples.append(example())


@dataclass(frozen=True)
class Settings:
    """How to read values: chosen or confirmed by the user on the mapping step."""

    workspace_currency: str
    date_formats: dict[str, str]  # field key -> strptime format
    decimal_comma: bool = False


def normalised_path(upload: Path) -> Path:
    return upload.with_name(upload.name + ".normalised.csv")


def rejected_path(upload: Path) -> Path:
    return upload.with_name(upload.name + ".rejected.csv")


def analyse(path: Path, fmt: FileFormat, kind: str, mapping: dict[str, int]) -> Analysis:
    """Headers, a 20-row preview, and per-column date formats and number style from the first rows."""
    headers, preview = read_header_and_sample(path, fmt, rows=20)
    sample = [cells for _line, cells in itertools.islice(iter_records(path, fmt), ANALYSIS_ROWS)]
    fields = fields_of(kind)

    def column(key: str) -> list[str]:
        index = mapping.get(key)
        return [] if index is None else [c[index] for c in sample if index < len(c) and c[index].strip()]

    date_guesses = {key: detect_date_format(column(key)) for key in mapping if fields[key].kind == "date"}
    amounts = [v for key in mapping if fields[key].kind == "amount" for v in column(key)]
    return Analysis(headers, preview, date_guesses, detect_number_style(amounts))


def blocking_problems(kind: str, mapping: dict[str, int], settings: Settings) -> list[str]:
    """What must be settled before validation can run (unmapped required fields, unconfirmed date formats)."""
    fields = fields_of(kind)
    problems = [f"Map a column to “{f.label}” (required)." for f in FIELDS[kind] if f.required and f.key not in mapping]
    problems += [f"Confirm the date format of “{fields[key].label}”."
                 for key in mapping if fields[key].kind == "date" and key not in settings.date_formats]
    return problems


class _RowChecker:
    """Turns one record's cells into normalised values, collecting fixes and problems.

    Each mapped column gets its parser once, up front. Dates, currencies, e-mails, tiers and zones repeat
    thousands of times in a file, so their outcomes are memoised per raw value: the hot loop then costs a
    dictionary lookup per cell instead of a parse.
    """

    def __init__(self, kind: str, headers: list[str], mapping: dict[str, int], settings: Settings):
        self.kind = kind
        self.headers = headers
        self.width = len(headers)
        self.fields = fields_of(kind)
        self.mapping = mapping
        self.settings = settings
        self.style = NumberStyle(decimal_comma=settings.decimal_comma)
        self.currency_index = mapping.get("currency")
        self.read_currency = _memoised(lambda raw: normalize_currency(raw, settings.workspace_currency))
        self.columns = [(key, index, self.fields[key], self._parser(self.fields[key]))
                        for key, index in mapping.items() if key != "currency"]

    def _parser(self, field_: Field) -> Callable[[str, str], tuple[object, Fix | None]]:
        kind = field_.kind
        if kind == "amount":
            style = self.style
            return lambda raw, currency: parse_amount(raw, currency, style)
        if kind == "date":
            fmt = self.settings.date_formats[field_.key]
            read = _memoised(lambda raw: (parse_date(raw, fmt), None))
        elif kind == "email":
            read = _memoised(normalize_email)
        elif kind == "risk_tier":
            read = _memoised(_risk_tier)
        elif kind == "time_zone":
            read = _memoised(lambda raw: (_time_zone(raw), None))
        else:
            return lambda raw, _currency: _text(raw)
        return lambda raw, _currency: read(raw)

    def check(self, line: int, cells: list[str]) -> tuple[dict[str, object] | None, list[RowIssue], list[tuple]]:
        """(values or None, errors, fixes as (column index, Fix)): fixes become messages only when shown."""
        if len(cells) != self.width:
            issue = RowIssue(line, "(row)", "", "ragged_row",
                             f"This row has {len(cells)} cells but the header has {self.width}.",
                             "Check for a missing or extra delimiter on this line.")
            return None, [issue], []
        values: dict[str, object] = {}
        errors: list[RowIssue] = []
        fixes: list[tuple] = []
        currency = self._currency(line, cells, errors, fixes)
        for key, index, field_, parse in self.columns:
            raw = cells[index].strip()
            if not raw:
                value = None
            else:
                try:
                    value, fix = parse(raw, currency)
                except (FieldIssue, AmountError) as issue:  # the amount parser is core's, with its own error
                    errors.append(RowIssue(line, self.headers[index], raw, issue.code, issue.message,
                                           issue.suggestion))
                    continue
                if fix is not None:
                    fixes.append((index, fix))
            if value is None and field_.required:
                errors.append(RowIssue(line, self.headers[index], raw, "missing_value",
                                       f"{field_.label} is required.", f"Fill in {field_.label.lower()}."))
                continue
            values[key] = value
        values["currency"] = currency
        if not errors:
            errors += self._row_rules(line, values)
        return (None if errors else values), errors, fixes

    def _currency(self, line, cells, errors, fixes) -> str:
        index = self.currency_index
        raw = cells[index].strip() if index is not None else ""
        try:
            code, fix = self.read_currency(raw)
        except FieldIssue as issue:
            errors.append(RowIssue(line, self.headers[index], raw, issue.code, issue.message, issue.suggestion))
            return self.settings.workspace_currency
        if fix is not None and index is not None:
            fixes.append((index, fix))
        return code

    def fix_issue(self, line: int, index: int, fix: Fix) -> RowIssue:
        return RowIssue(line, self.headers[index], fix.original, fix.code, f"{fix.original!r} read as {fix.fixed!r}")

    def _row_rules(self, line: int, values: dict[str, object]) -> list[RowIssue]:
        if self.kind != "invoices":
            return []
        problems = []
        amount, balance = values["amount"], values["balance"]
        if balance < 0 or (amount >= 0 and balance > amount):
            problems.append(RowIssue(line, self.headers[self.mapping["balance"]], str(balance), "balance_out_of_range",
                                     "The open balance must be between 0 and the invoice amount.",
                                     "Check the amount and balance columns are not swapped."))
        if values["due_date"] < values["issue_date"]:
            problems.append(RowIssue(line, self.headers[self.mapping["due_date"]], values["due_date"].isoformat(),
                                     "due_before_issue", "The due date is before the invoice date.",
                                     "Check the day/month order of both date columns."))
        return problems


def _memoised(parse: Callable[[str], object]) -> Callable[[str], object]:
    """Remember parse's outcome, value or problem, per raw value; bounded so memory stays flat."""
    outcomes: dict[str, tuple] = {}

    def read(raw: str):
        outcome = outcomes.get(raw)
        if outcome is None:
            try:
                outcome = (parse(raw), None)
            except FieldIssue as issue:
                outcome = (None, issue.args)
            if len(outcomes) >= MEMO_ENTRIES:
                outcomes.clear()
            outcomes[raw] = outcome
        value, problem = outcome
        if problem is not None:
            raise FieldIssue(*problem)  # a fresh exception each time: a re-raised one keeps growing its traceback
        return value

    return read


# A lone "-" is how many exports write "none" in an optional column, and a signed plain number ("-5", "-1,250.50")
# is how they write a negative amount: only those start like a formula and are taken as they are. "-2+3+cmd|…" is not.
_PLAIN_SIGNED = re.compile(r"^-(?:[0-9][0-9,]*(?:\.[0-9]+)?)?$")


def _text(raw: str) -> tuple[str, Fix | None]:
    """A text cell as it may be stored: invisible characters removed (reported), formulas refused."""
    clean = without_invisible(raw)
    if starts_like_formula(clean) and not _PLAIN_SIGNED.match(clean):
        raise FieldIssue("formula_cell", "This looks like a spreadsheet formula, not a value: a cell starting with "
                         "=, +, -, @, a tab or a carriage return is run by spreadsheets unless it is a plain number.",
                         "Remove the leading character or export values instead of formulas.")
    return clean, (Fix("invisible_characters_removed", raw, clean) if clean != raw else None)


def _risk_tier(raw: str) -> tuple[str, Fix | None]:
    tier = raw.strip().lower()
    if tier not in RISK_TIERS:
        raise FieldIssue("invalid_risk_tier", f"{raw!r} is not a risk tier.", "Use low, medium or high.")
    return tier, (Fix("risk_tier_lowercased", raw, tier) if tier != raw else None)


def _time_zone(raw: str) -> str:
    if raw not in _TIME_ZONES:
        raise FieldIssue("unknown_time_zone", f"{raw!r} is not an IANA time zone.",
                         "Use a name such as America/Chicago or Europe/Berlin.")
    return raw


def _normalised_row(kind: str, line: int, values: dict[str, object]) -> list[object]:
    def iso(value) -> str:
        return value.isoformat() if isinstance(value, dt.date) else ""

    if kind == "invoices":
        return [line, values["invoice_number"], values["customer_external_id"], values.get("customer_name") or "",
                iso(values["issue_date"]), iso(values["due_date"]), values["currency"], values["amount"],
                values["balance"], values.get("contact_email") or "", values.get("contact_name") or ""]
    return [line, values["customer_external_id"], values["customer_name"], values.get("risk_tier") or "",
            values.get("time_zone") or "", values.get("contact_email") or "", values.get("contact_name") or ""]


def validate(
    path: Path,
    fmt: FileFormat,
    kind: str,
    headers: list[str],
    mapping: dict[str, int],
    settings: Settings,
    on_progress: Callable[[int], None] | None = None,
) -> ValidationReport:
    """Check every row; write valid rows normalised and rejected rows with their reasons; report."""
    report = ValidationReport()
    checker = _RowChecker(kind, headers, mapping, settings)
    key_field = "invoice_number" if kind == "invoices" else "customer_external_id"
    first_line: dict[str, tuple[int, int]] = {}  # key -> (first line, fingerprint of its values)
    with (open(normalised_path(path), "w", newline="", encoding="utf-8") as normalised,
          open(rejected_path(path), "w", newline="", encoding="utf-8") as rejected):
        good, bad = csv.writer(normalised), csv.writer(rejected)
        good.writerow(NORMALISED_COLUMNS[kind])
        bad.writerow(["line", *headers, "error"])
        for line, cells in iter_records(path, fmt):
            report.rows += 1
            values, errors, fixes = checker.check(line, cells)
            row = None
            if values is not None:
                row = _normalised_row(kind, line, values)
                key, fingerprint = values[key_field], hash(tuple(row[1:]))
                seen = first_line.get(key)
                if seen is None:
                    first_line[key] = (line, fingerprint)
                else:
                    values, errors = None, [_duplicate(line, headers[mapping[key_field]], key, seen[0],
                                                       exact=seen[1] == fingerprint)]
                    if seen[1] != fingerprint:
                        report.duplicate_numbers.add(key)
                        report.duplicate_lines.setdefault(key, line)
            if values is None:
                report.rejected += 1
                for issue in errors:
                    report.add_error(issue)
                bad.writerow([line, *(csv_safe(c) for c in cells), "; ".join(i.message for i in errors)])
            else:
                good.writerow(row)
                report.valid += 1
                report.fixed += bool(fixes)
                for index, fix in fixes:
                    report.add_fix(fix.code, lambda: checker.fix_issue(line, index, fix))  # noqa: B023 - called at once
                if kind == "invoices":
                    _add_totals(report.totals, values)
            if on_progress and report.rows % PROGRESS_EVERY == 0:
                on_progress(report.rows)
    report.numbers = set(first_line)
    if report.duplicate_numbers:
        _reject_first_occurrences(path, fmt, kind, headers, mapping, checker, report, first_line)
    return report


def _duplicate(line: int, column: str, key: str, other: int, exact: bool = False) -> RowIssue:
    if exact:
        return RowIssue(line, column, key, "repeated_row", f"This row repeats line {other} exactly.",
                        "Nothing to do: the row is imported once.")
    return RowIssue(line, column, key, "duplicate_in_file", f"{key} appears more than once in this file with "
                    f"different values (also on line {other}).",
                    "Keep one row per key; rows sharing a key with different values are not imported.")


def _reject_first_occurrences(path, fmt, kind, headers, mapping, checker, report, first_line) -> None:
    """Duplicates found late: their first rows were written as valid, so take them back out (rare)."""
    wanted = {first_line[key][0]: key for key in report.duplicate_numbers}
    second_line = report.duplicate_lines
    column = headers[mapping["invoice_number" if kind == "invoices" else "customer_external_id"]]
    with open(rejected_path(path), "a", newline="", encoding="utf-8") as rejected:
        bad = csv.writer(rejected)
        for line, cells in iter_records(path, fmt):
            if line in wanted:
                values, _errors, fixes = checker.check(line, cells)
                report.fixed -= bool(fixes)
                issue = _duplicate(line, column, wanted[line], second_line[wanted[line]])
                report.add_error(issue)
                bad.writerow([line, *(csv_safe(c) for c in cells), issue.message])
                report.valid -= 1
                report.rejected += 1
                if kind == "invoices" and values is not None:
                    _add_totals(report.totals, values, sign=-1)
    report.numbers -= report.duplicate_numbers


def _add_totals(totals: dict[str, dict[str, int]], values: dict[str, object], sign: int = 1) -> None:
    entry = totals.setdefault(values["currency"], {"amount": 0, "balance": 0, "invoices": 0})
    entry["amount"] += sign * values["amount"]
    entry["balance"] += sign * values["balance"]
    entry["invoices"] += sign
