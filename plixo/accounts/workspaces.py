"""Running one piece of work for every workspace, each in its own scope and transaction (cron jobs, CLI tasks)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo.accounts.models import Organization
from plixo.extensions import db
from plixo.tenancy import tenant_scope, unscoped

log = logging.getLogger(__name__)
T = TypeVar("T")


def workspace_ids(session: Session | None = None) -> list[int]:
    """Every workspace's id, oldest first."""
    with unscoped():
        return list((session or db.session).scalars(select(Organization.id).order_by(Organization.id)))


def for_each_workspace(what: str, work: Callable[[Organization], T]) -> dict[int, T]:
    """Call `work(org)` in each workspace's scope and commit it; one workspace's failure is logged and does not
    stop the others, and the job fails at the end so RQ retries it. Returns each workspace's result."""
    org_ids = workspace_ids()
    results: dict[int, T] = {}
    failed = []
    for org_id in org_ids:
        try:
            with tenant_scope(org_id):
                results[org_id] = work(db.session.get(Organization, org_id))
                db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("%s failed for workspace %s", what, org_id)
            failed.append(org_id)
    if failed:
        raise RuntimeError(f"{what} failed for workspaces {failed}")
    return results
