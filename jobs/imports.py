"""Import jobs: validate a run, commit a run. Progress and liveness go to Redis, outcomes to the row."""

from __future__ import annotations

from rq import get_current_job

from jobs.collections import refresh_workspace_queue
from jobs.tracking import tracked
from plixo.accounts.models import Organization
from plixo.background import DEFAULT, enqueue
from plixo.extensions import db
from plixo.failpoints import failpoint
from plixo.imports import service
from plixo.imports.models import ImportRun
from plixo.imports.progress import Heartbeat, progress_reporter
from plixo.imports.reader import ImportFileError
from plixo.insights.service import take_snapshot
from plixo.model import utcnow


def _mark_started(run: ImportRun, status: str) -> None:
    # Committed before the work, outside its transaction: the page shows the step, and a run that
    # stays in it without a heartbeat is known to have lost its worker.
    run.status, run.heartbeat_at, run.last_error = status, utcnow(), None
    db.session.commit()


@tracked(ImportRun)
def validate_import(run: ImportRun) -> None:
    """Validate every row of the run's file (writes counts and issues; no business data)."""
    if run.status not in ("validation_queued", "validating"):
        return  # a stale or repeated delivery: the run has moved on
    org = db.session.get(Organization, run.org_id)
    with Heartbeat(run.id):
        _mark_started(run, "validating")
        report = progress_reporter(run.id, "validating", service.estimate_rows(run))
        try:
            service.validate_run(db.session, run, org, on_progress=report)
        except (ImportFileError, service.ImportStepError) as exc:
            # The file itself is unusable: retrying cannot help, so fail now with the reason.
            db.session.rollback()
            run.status, run.last_error = "failed", exc.args[-1] if exc.args else str(exc)
            return
        report(run.rows_done)


@tracked(ImportRun)
def commit_import(run: ImportRun) -> None:
    """Apply the validated rows in one transaction; a crash before the commit leaves nothing behind."""
    if run.status == "committed":
        return  # already applied (a retry raced an earlier delivery): nothing to do twice
    org = db.session.get(Organization, run.org_id)
    with Heartbeat(run.id):
        _mark_started(run, "committing")
        service.commit_run(db.session, run, org, actor=service.commit_actor(db.session, run))
        take_snapshot(db.session, org)  # aging, coverage and totals recomputed with the new data
        failpoint("import_commit_before_transaction_end")
    # Queue scores for the new balances, once this job's transaction has landed (RQ enqueues a
    # dependent job only after its parent succeeded).
    enqueue(DEFAULT, refresh_workspace_queue, org.id, depends_on=get_current_job())
