"""Daily snapshots of every workspace (KPI trends and Data-Ready history)."""

from __future__ import annotations

from plixo.insights.snapshots import snapshot_every_workspace


def take_daily_snapshots() -> int:
    """Refresh today's snapshot of each workspace (idempotent: one row per workspace-local day)."""
    return snapshot_every_workspace()
