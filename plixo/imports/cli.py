"""`flask --app wsgi import-csv PATH --org SLUG --kind invoices|customers [...]`: scripted imports.

Runs the same pipeline as the web pages. Exit code 0 when the run completed (even with rejected rows),
2 when the input cannot be used (unreadable file, unknown workspace, unsettled mapping).
"""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from sqlalchemy import select

from plixo.accounts.models import Organization
from plixo.extensions import db
from plixo.imports import service
from plixo.imports.fields import FIELDS
from plixo.imports.models import ImportRun
from plixo.imports.reader import ImportFileError
from plixo.model import utcnow
from plixo.promises.service import refresh_queue
from plixo.queue.queries import queue_changed
from plixo.tenancy import tenant_scope, unscoped

ACTOR = "import-csv command"


class UnusableInput(click.ClickException):
    exit_code = 2


@click.command("import-csv")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--org", "org_slug", required=True, help="Workspace slug.")
@click.option("--kind", type=click.Choice(sorted(FIELDS)), required=True, help="What the file contains.")
@click.option("--mapping", "mapping_json", help='JSON {"field": "Column title" or index, "_date_formats": {...}}.')
@click.option("--dry-run", is_flag=True, help="Validate only; write nothing.")
@click.option("--full-sync", is_flag=True, help="Close open invoices the file does not list.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line.")
def import_csv_command(path, org_slug, kind, mapping_json, dry_run, full_sync, as_json) -> None:
    """Import customers or invoices from a CSV file into a workspace."""
    with unscoped():
        org = db.session.scalar(select(Organization).where(Organization.slug == org_slug))
    if org is None:
        raise UnusableInput(f"No workspace with slug {org_slug!r}.")
    with tenant_scope(org.id):
        try:
            run = _prepare(org, kind, path, mapping_json, full_sync)
            report = service.validate_run(db.session, run, org)
            db.session.commit()
            if not dry_run and report.valid:
                service.commit_run(db.session, run, org, actor=ACTOR)
                db.session.commit()
                refresh_queue(db.session, org, utcnow())
                db.session.commit()
                queue_changed(org.id)
        except (service.ImportStepError, ImportFileError) as exc:
            db.session.rollback()
            raise UnusableInput(str(exc.args[-1] if exc.args else exc)) from exc
        _print_outcome(run, report, as_json, dry_run)


def _prepare(org: Organization, kind: str, path: str, mapping_json: str | None, full_sync: bool) -> ImportRun:
    with open(path, "rb") as stream:
        run = service.create_run(db.session, org=org, actor=ACTOR, kind=kind, filename=path, stream=stream,
                                 max_bytes=current_app.config["MAX_CONTENT_LENGTH"])
    db.session.commit()
    if run.status == "failed":
        raise service.ImportStepError(run.last_error)
    mapping, date_formats, decimal_comma = _requested_mapping(run, mapping_json)
    service.set_mapping(db.session, run, actor=ACTOR, mapping=mapping, date_formats=date_formats,
                        decimal_comma=decimal_comma, full_sync=full_sync)
    return run


def _requested_mapping(run: ImportRun, mapping_json: str | None) -> tuple[dict, dict, bool]:
    mapping = dict(run.mapping)
    date_formats = dict(run.settings.get("date_formats", {}))
    decimal_comma = run.settings.get("decimal_comma", False)
    if not mapping_json:
        return mapping, date_formats, decimal_comma
    try:
        requested = json.loads(mapping_json)
    except json.JSONDecodeError as exc:
        raise service.ImportStepError(f"--mapping is not valid JSON: {exc.msg}") from exc
    if not isinstance(requested, dict):
        raise service.ImportStepError("--mapping must be a JSON object.")
    date_formats.update(requested.pop("_date_formats", {}))
    decimal_comma = bool(requested.pop("_decimal_comma", decimal_comma))
    headers = run.settings["headers"]
    for key, column in requested.items():
        mapping[key] = _column_index(headers, column)
    return mapping, date_formats, decimal_comma


def _column_index(headers: list[str], column) -> int | None:
    if column is None or isinstance(column, int):
        return column
    if column in headers:
        return headers.index(column)
    raise service.ImportStepError(f"The file has no column titled {column!r}.")


def _print_outcome(run: ImportRun, report, as_json: bool, dry_run: bool) -> None:
    summary = run.summary
    outcome = {
        "rows": report.rows, "valid": report.valid, "fixed": report.fixed, "rejected": report.rejected,
        "inserted": summary.get("inserted", 0), "updated": summary.get("updated", 0),
        "unchanged": summary.get("unchanged", 0), "open_balance_minor": summary.get("open_balance_minor", {}),
        "errors": [{"row": e.line, "column": e.column, "code": e.code} for e in report.errors],
    }
    if not as_json:
        verb = "Validated (dry run)" if dry_run else "Imported"
        click.echo(f"{verb} {run.filename}: {report.rows} rows, {report.valid} valid ({report.fixed} with fixes), "
                   f"{report.rejected} rejected; {outcome['inserted']} inserted, {outcome['updated']} updated, "
                   f"{outcome['unchanged']} unchanged.")
        for error in report.errors[:20]:
            click.echo(f"  line {error.line}, {error.column}: {error.message}", err=True)
        return
    sys.stdout.write(json.dumps(outcome) + "\n")
