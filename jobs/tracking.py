"""Durable-row jobs: the row records every attempt and failure; Redis only carries the row's id."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from rq import get_current_job

from plixo.extensions import db
from plixo.model import utcnow
from plixo.tenancy import strict, tenant_scope, unscoped


def _is_last_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def _load(model, row_id: int):
    with unscoped():
        row = db.session.get(model, row_id)
    if row is None:
        raise LookupError(f"{model.__name__} {row_id} no longer exists")
    return row


def tracked(model: type) -> Callable:
    """Make `work(row)` a job taking the row id: it runs in the row's workspace, counts attempts on the
    row, commits on success, and on failure records the error on the row (status `failed` once the
    retry policy is used up) before re-raising so RQ retries it."""

    def decorate(work: Callable) -> Callable:
        @wraps(work)
        def job(row_id: int) -> None:
            org_id = _load(model, row_id).org_id
            # A row whose workspace is not known yet (a webhook before its account is matched) runs strict.
            scope = tenant_scope(org_id) if org_id is not None else strict()
            with scope:
                row = db.session.get(model, row_id)
                row.attempts += 1
                db.session.commit()
                try:
                    work(row)
                    row.last_error = None
                    db.session.commit()
                except Exception as exc:
                    db.session.rollback()
                    _record_failure(db.session.get(model, row_id), exc)
                    raise

        return job

    return decorate


def _record_failure(row, exc: Exception) -> None:
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if _is_last_attempt():
        row.status = "failed"
        if hasattr(row, "finished_at"):
            row.finished_at = utcnow()
    db.session.commit()
