"""Daily snapshots of every workspace (KPI trends and Data-Ready history)."""

from __future__ import annotations

from sqlalchemy import select

from plixo.accounts.models import Organization
from plixo.extensions import db
from plixo.insights.service import take_snapshot
from plixo.tenancy import tenant_scope


def take_daily_snapshots() -> int:
    """Refresh today's snapshot of each workspace (idempotent: one row per workspace-local day)."""
    org_ids = db.session.scalars(select(Organization.id).order_by(Organization.id)).all()
    for org_id in org_ids:
        with tenant_scope(org_id):
            take_snapshot(db.session, db.session.get(Organization, org_id))
            db.session.commit()
    return len(org_ids)
