"""The Autopilot tick: every few minutes, each workspace's running cadences become drafts and scheduled sends."""

from __future__ import annotations

import logging

from plixo.accounts.workspaces import for_each_workspace
from plixo.extensions import db
from plixo.model import utcnow
from plixo.outreach.cadences import tick
from plixo.queue.queries import queue_changed

log = logging.getLogger(__name__)


def autopilot_tick() -> dict[str, int]:
    """Run every workspace's cadences once."""
    results = for_each_workspace("autopilot tick", lambda org: tick(db.session, org, utcnow()))
    totals = {"evaluated": 0, "drafts": 0, "scheduled": 0}
    for org_id, result in results.items():
        if result.autopilot_held:
            log.warning("Workspace %s: Autopilot wrote drafts instead of sends: %s", org_id,
                        " ".join(result.autopilot_held))
        if result.drafts or result.scheduled:
            queue_changed(org_id)
        for name in totals:
            totals[name] += getattr(result, name)
    return totals
