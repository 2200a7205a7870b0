"""Import runs: upload → analyse and map → validate (a dry run stops here) → commit; each step audited."""

from __future__ import annotations

import hashlib
import shutil
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.actions import ActionError
from plixo.imports import merge, pipeline
from plixo.imports.fields import FIELDS, auto_map, fields_of, header_signature
from plixo.imports.models import ImportIssue, ImportRun
from plixo.imports.reader import FileFormat, ImportFileError, detect_format, read_header_and_sample
from plixo.model import utcnow

CHUNK = 1 << 20


class ImportStepError(ActionError):
    """A step that cannot run for this run; the message is shown to the user."""


def storage_path(org_id: int, run_key: str) -> Path:
    """Where an upload is kept: outside the web root, one folder per workspace."""
    folder = Path(current_app.config["UPLOAD_DIR"]) / "imports" / str(org_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{run_key}.csv"


def store_upload(stream: BinaryIO, destination: Path, max_bytes: int) -> tuple[int, str]:
    """Copy the upload to disk in chunks, hashing as it goes; refuse it past `max_bytes`."""
    digest = hashlib.sha256()
    size = 0
    with open(destination, "wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                out.close()
                destination.unlink(missing_ok=True)
                raise ImportStepError(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def create_run(session: Session, *, org: Organization, actor, kind: str, filename: str, stream: BinaryIO,
               max_bytes: int) -> ImportRun:
    """Store an uploaded file and analyse it: format, columns, a proposed mapping and detected formats.

    An unreadable file still gets a run (status failed, with the reason) so the history shows it.
    """
    if kind not in FIELDS:
        raise ImportStepError("Choose what the file contains: invoices or customers.")
    path = storage_path(org.id, uuid.uuid4().hex)
    size, sha256 = store_upload(stream, path, max_bytes)
    run = ImportRun(org_id=org.id, kind=kind, filename=Path(filename).name[:255] or "upload.csv",
                    storage_path=str(path), size_bytes=size, sha256=sha256, created_by_id=getattr(actor, "id", None))
    session.add(run)
    try:
        analyse_run(session, run)
    except ImportFileError as exc:
        run.status, run.last_error = "failed", exc.args[-1] if exc.args else str(exc)
    session.flush()
    audit.record(session, org_id=org.id, actor=actor, action="imports.file_uploaded", subject=run,
                 after={"file": run.filename, "kind": kind, "bytes": size, "sha256": sha256, "status": run.status})
    return run


def file_format(run: ImportRun) -> FileFormat:
    return FileFormat(**run.settings["format"])


def analyse_run(session: Session, run: ImportRun, encoding: str | None = None, delimiter: str | None = None) -> None:
    """Detect the file's format and propose a mapping (the one used last time for the same headers, if any)."""
    fmt = detect_format(run.storage_path, encoding=encoding, delimiter=delimiter)
    headers, _preview = read_header_and_sample(run.storage_path, fmt, rows=1)
    run.encoding, run.delimiter = fmt.encoding, fmt.delimiter
    run.header_signature = header_signature(headers)
    previous = _previous_mapping(session, run)
    mapping = previous or auto_map(headers, run.kind)
    analysis = pipeline.analyse(Path(run.storage_path), fmt, run.kind, mapping)
    date_formats = {key: guess.format for key, guess in analysis.date_guesses.items() if guess.format}
    run.mapping = mapping
    run.settings = {
        "format": asdict(fmt), "headers": headers, "mapping_reused": bool(previous),
        "date_formats": date_formats, "decimal_comma": analysis.number_style.decimal_comma,
        "full_sync": False,
    }
    run.status = "mapping"


def _previous_mapping(session: Session, run: ImportRun) -> dict[str, int] | None:
    previous = session.scalars(
        select(ImportRun.mapping).where(ImportRun.kind == run.kind, ImportRun.header_signature == run.header_signature,
                                        ImportRun.status.in_(("validated", "committed")))
        .order_by(ImportRun.id.desc()).limit(1)
    ).first()
    return dict(previous) if previous else None


MAPPABLE = ("mapping", "validated", "failed")
RUNNING = ("validation_queued", "validating", "commit_queued", "committing")


def set_mapping(session: Session, run: ImportRun, *, actor, mapping: dict[str, int | None],
                date_formats: dict[str, str], decimal_comma: bool, full_sync: bool) -> None:
    """Record the user's column choices and formats (validation needs them confirmed)."""
    _require_status(run, MAPPABLE)
    headers = run.settings["headers"]
    fields = fields_of(run.kind)
    chosen = {k: v for k, v in mapping.items() if v is not None}
    unknown = [k for k in chosen if k not in fields]
    out_of_range = [k for k, v in chosen.items() if not 0 <= v < len(headers)]
    if unknown or out_of_range:
        raise ImportStepError("The mapping names a field or column that does not exist.")
    if len(set(chosen.values())) != len(chosen):
        raise ImportStepError("Each column can be mapped to one field only.")
    before = dict(run.mapping)
    run.mapping = chosen
    formats = {k: v for k, v in date_formats.items() if k in chosen}
    run.settings = {**run.settings, "date_formats": {**_detected_date_formats(run, formats), **formats},
                    "decimal_comma": decimal_comma, "full_sync": full_sync}
    run.status = "mapping"
    audit.record(session, org_id=run.org_id, actor=actor, action="imports.mapping_set", subject=run,
                 before={"mapping": before}, after={"mapping": chosen, "full_sync": full_sync})


def _detected_date_formats(run: ImportRun, known: dict[str, str]) -> dict[str, str]:
    """Formats for newly mapped date columns that detection settles on its own (ambiguous ones stay open)."""
    fields = fields_of(run.kind)
    if all(fields[k].kind != "date" or k in known for k in run.mapping):
        return {}
    analysis = pipeline.analyse(Path(run.storage_path), file_format(run), run.kind, run.mapping)
    return {key: guess.format for key, guess in analysis.date_guesses.items() if guess.format and key not in known}


def settings_of(run: ImportRun, org: Organization) -> pipeline.Settings:
    return pipeline.Settings(workspace_currency=org.base_currency, date_formats=run.settings.get("date_formats", {}),
                             decimal_comma=run.settings.get("decimal_comma", False))


def problems_before_validation(run: ImportRun, org: Organization) -> list[str]:
    return pipeline.blocking_problems(run.kind, run.mapping, settings_of(run, org))


def validate_run(session: Session, run: ImportRun, org: Organization, on_progress=None) -> pipeline.ValidationReport:
    """Check every row; keep counts, totals, fixes and the first errors on the run (no data is written)."""
    problems = problems_before_validation(run, org)
    if problems:
        raise ImportStepError(" ".join(problems))
    if run.status not in (*MAPPABLE, "validation_queued", "validating"):
        raise ImportStepError(f"This import is {run.status}; it cannot be validated now.")
    started = time.monotonic()
    run.status, run.started_at = "validating", utcnow()
    earlier = _same_validation(session, run, org)
    if earlier is not None:
        return _reuse_validation(session, run, earlier, started)
    report = pipeline.validate(Path(run.storage_path), file_format(run), run.kind, run.settings["headers"],
                               run.mapping, settings_of(run, org), on_progress=on_progress)
    session.execute(delete(ImportIssue).where(ImportIssue.run_id == run.id))
    session.add_all(_issue_rows(run, report))
    run.rows_total = run.rows_done = report.rows
    run.rows_valid, run.rows_fixed, run.rows_rejected = report.valid, report.fixed, report.rejected
    would_close = (merge.count_absent_open_invoices(session, org.id, report.numbers)
                   if run.kind == "invoices" and run.settings.get("full_sync") else 0)
    run.summary = {
        "validation_seconds": round(time.monotonic() - started, 2), "errors": report.error_count,
        "fix_counts": report.fix_counts, "duplicates": sorted(report.duplicate_numbers)[:100],
        "duplicate_count": len(report.duplicate_numbers), "totals": report.totals, "would_close": would_close,
        "currency": org.base_currency,
    }
    run.settings = {**run.settings, "skip_keys": sorted(report.duplicate_numbers), "validated": True}
    run.status, run.finished_at = "validated", utcnow()
    return report


_VALIDATION_INPUTS = ("headers", "date_formats", "decimal_comma", "format")


def _same_validation(session: Session, run: ImportRun, org: Organization) -> ImportRun | None:
    """An earlier run that validated the same bytes with the same mapping and settings (the result is identical).

    Not with full sync: what it would close depends on the workspace's current invoices.
    """
    if run.settings.get("full_sync"):
        return None
    candidates = session.scalars(
        select(ImportRun).where(ImportRun.id != run.id, ImportRun.sha256 == run.sha256, ImportRun.kind == run.kind,
                                ImportRun.status.in_(("validated", "committed")))
        .order_by(ImportRun.id.desc()).limit(5))
    for earlier in candidates:
        same_inputs = all(earlier.settings.get(k) == run.settings.get(k) for k in _VALIDATION_INPUTS)
        outputs_kept = pipeline.normalised_path(Path(earlier.storage_path)).exists()
        if (earlier.mapping == run.mapping and same_inputs and outputs_kept
                and earlier.summary.get("currency") == org.base_currency):
            return earlier
    return None


def _reuse_validation(session: Session, run: ImportRun, earlier: ImportRun,
                      started: float) -> pipeline.ValidationReport:
    """Take over an identical earlier validation: its normalised file, counts and issues."""
    for derive in (pipeline.normalised_path, pipeline.rejected_path):
        shutil.copyfile(derive(Path(earlier.storage_path)), derive(Path(run.storage_path)))
    session.execute(delete(ImportIssue).where(ImportIssue.run_id == run.id))
    issues = session.scalars(select(ImportIssue).where(ImportIssue.run_id == earlier.id)).all()
    session.add_all([ImportIssue(org_id=run.org_id, run_id=run.id, severity=i.severity, line=i.line, column=i.column,
                                 value=i.value, code=i.code, message=i.message, suggestion=i.suggestion)
                     for i in issues])
    run.rows_total, run.rows_done = earlier.rows_total, earlier.rows_done
    run.rows_valid, run.rows_fixed, run.rows_rejected = earlier.rows_valid, earlier.rows_fixed, earlier.rows_rejected
    carried = ("errors", "fix_counts", "duplicates", "duplicate_count", "totals", "currency")
    run.summary = {**{k: earlier.summary[k] for k in carried if k in earlier.summary},
                   "validation_seconds": round(time.monotonic() - started, 2), "reused_validation_of": earlier.id,
                   "would_close": 0}
    run.settings = {**run.settings, "skip_keys": earlier.settings.get("skip_keys", []), "validated": True}
    run.status, run.finished_at = "validated", utcnow()
    report = pipeline.ValidationReport(rows=run.rows_total, valid=run.rows_valid, fixed=run.rows_fixed,
                                       rejected=run.rows_rejected, error_count=run.summary.get("errors", 0),
                                       fix_counts=run.summary.get("fix_counts", {}))
    report.errors = [pipeline.RowIssue(i.line, i.column, i.value, i.code, i.message, i.suggestion)
                     for i in issues if i.severity == "error"]
    return report


def _issue_rows(run: ImportRun, report: pipeline.ValidationReport) -> list[ImportIssue]:
    def row(issue: pipeline.RowIssue, severity: str) -> ImportIssue:
        return ImportIssue(org_id=run.org_id, run_id=run.id, severity=severity, line=issue.line,
                           column=issue.column[:200], value=issue.value[:1000], code=issue.code,
                           message=issue.message, suggestion=issue.suggestion)

    return [row(i, "error") for i in report.errors] + [row(i, "fix") for i in report.fix_examples]


def request_validation(session: Session, run: ImportRun, org: Organization, *, actor) -> None:
    """Queue validation once the mapping is complete."""
    _require_status(run, MAPPABLE)
    problems = problems_before_validation(run, org)
    if problems:
        raise ImportStepError(" ".join(problems))
    run.status, run.last_error = "validation_queued", None
    run.settings = {**run.settings, "validated": False}
    audit.record(session, org_id=run.org_id, actor=actor, action="imports.validation_requested", subject=run)


def can_commit(run: ImportRun) -> bool:
    """Validated (or a commit that failed after validation) with at least one valid row."""
    validated = run.status == "validated" or (run.status == "failed" and run.settings.get("validated"))
    return bool(validated and run.rows_valid)


def request_commit(session: Session, run: ImportRun, *, actor) -> None:
    """Queue the commit of a validated run; the user who asked is recorded as the actor."""
    if not can_commit(run):
        raise ImportStepError("Only a validated import with valid rows can be committed.")
    run.status, run.last_error = "commit_queued", None
    run.settings = {**run.settings, "commit_requested_by": getattr(actor, "id", None)}
    audit.record(session, org_id=run.org_id, actor=actor, action="imports.commit_requested", subject=run,
                 after={"rows_valid": run.rows_valid, "full_sync": run.settings.get("full_sync", False)})


def commit_actor(session: Session, run: ImportRun):
    """Who asked for the commit (the job runs it on their behalf)."""
    user_id = run.settings.get("commit_requested_by")
    return session.get(User, user_id) if user_id else "import job"


def mark_stalled(session: Session, run: ImportRun, worker_alive: bool) -> bool:
    """A run stuck in a step whose worker stopped beating has failed; say so, so it can be retried."""
    if run.status not in ("validating", "committing") or worker_alive:
        return False
    step = run.status
    run.status = "failed"
    run.last_error = (f"The worker stopped while {step} (it was restarted or ran out of memory). "
                      "Nothing was written. Retry when ready.")
    audit.record(session, org_id=run.org_id, actor="system", action="imports.worker_lost", subject=run,
                 after={"step": step})
    return True


def estimate_rows(run: ImportRun) -> int:
    """Rows in the file, counted from line breaks (a quoted multi-line cell makes it a slight overcount)."""
    lines = 0
    with open(run.storage_path, "rb") as source:
        while chunk := source.read(CHUNK):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)


def commit_run(session: Session, run: ImportRun, org: Organization, *, actor) -> merge.MergeResult:
    """Apply the validated rows in the caller's transaction (all or nothing), then audit the outcome."""
    if run.status not in ("commit_queued", "committing") and not can_commit(run):
        raise ImportStepError("Only a validated import with valid rows can be committed.")
    if _sha256(Path(run.storage_path)) != run.sha256:
        raise ImportStepError("The stored file changed since it was validated; upload it again.")
    started = time.monotonic()
    run.status = "committing"
    result = merge.commit_file(session, org.id, run.kind, pipeline.normalised_path(Path(run.storage_path)),
                               set(run.settings.get("skip_keys", [])), full_sync=run.settings.get("full_sync", False))
    run.rows_written = result.inserted + result.updated
    run.status, run.finished_at = "committed", utcnow()
    run.summary = {**run.summary, **result.as_dict(), "commit_seconds": round(time.monotonic() - started, 2),
                   "open_balance_minor": merge.open_balances(session, org.id)}
    audit.record(session, org_id=org.id, actor=actor, action="imports.committed", subject=run,
                 after={"file": run.filename, **result.as_dict()})
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _require_status(run: ImportRun, allowed: tuple[str, ...]) -> None:
    if run.status not in allowed:
        raise ImportStepError(f"This import is {run.status}; that step is not available now.")

