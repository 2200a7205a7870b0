"""Today's snapshot of every workspace, each committed on its own: the hourly job and `flask snapshots`."""

from __future__ import annotations

from plixo.accounts.workspaces import for_each_workspace
from plixo.extensions import db
from plixo.insights.service import take_snapshot


def snapshot_every_workspace() -> int:
    """Refresh today's snapshot of each workspace (idempotent: one row per workspace-local day); how many."""
    return len(for_each_workspace("snapshot", lambda org: take_snapshot(db.session, org)))
