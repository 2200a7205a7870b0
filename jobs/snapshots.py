"""Daily snapshots of every workspace (KPI trends and Data-Ready history)."""

from __future__ import annotations

from jobs.workspaces import for_each_workspace
from plixo.extensions import db
from plixo.insights.service import take_snapshot


def take_daily_snapshots() -> int:
    """Refresh today's snapshot of each workspace (idempotent: one row per workspace-local day)."""
    return len(for_each_workspace("snapshot", lambda org: take_snapshot(db.session, org)))
