"""Keeping the collections queue current: promises settled or broken, priority scores refreshed."""

from __future__ import annotations

from plixo.accounts.models import Organization
from plixo.accounts.workspaces import for_each_workspace
from plixo.extensions import db
from plixo.model import utcnow
from plixo.promises.service import refresh_queue
from plixo.queue.queries import queue_changed
from plixo.tenancy import tenant_scope


def refresh_workspace_queue(org_id: int) -> dict[str, int]:
    """Settle the workspace's promises and recompute its queue scores (idempotent)."""
    with tenant_scope(org_id):
        org = db.session.get(Organization, org_id)
        if org is None:
            return {}
        outcome = refresh_queue(db.session, org, utcnow())
        db.session.commit()
        queue_changed(org_id)
        return outcome


def refresh_all_queues() -> int:
    """Every workspace's queue, one at a time."""
    return len(for_each_workspace("queue refresh", lambda org: refresh_workspace_queue(org.id)))
