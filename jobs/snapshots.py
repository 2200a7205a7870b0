"""Daily snapshots of every workspace (KPI trends and Data-Ready history)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from plixo.accounts.models import Organization
from plixo.extensions import db
from plixo.insights.service import take_snapshot
from plixo.tenancy import tenant_scope

log = logging.getLogger(__name__)


def take_daily_snapshots() -> int:
    """Refresh today's snapshot of each workspace (idempotent: one row per workspace-local day).

    One workspace's failure is logged and does not stop the others; the job fails at the end so RQ retries.
    """
    org_ids = db.session.scalars(select(Organization.id).order_by(Organization.id)).all()
    failed = []
    for org_id in org_ids:
        try:
            with tenant_scope(org_id):
                take_snapshot(db.session, db.session.get(Organization, org_id))
                db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("snapshot failed for workspace %s", org_id)
            failed.append(org_id)
    if failed:
        raise RuntimeError(f"snapshots failed for workspaces {failed}")
    return len(org_ids)
