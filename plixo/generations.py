"""Per-workspace generation numbers: raised after every commit that changed something a cached answer depends on.

Code that caches a workspace's figures keys them by the generation it read before computing; anything that
commits later raises the number, so the cache is exact. The number is raised only after the commit, so a reader
never caches data older than its number. Writers either name the workspace with `mark_changed` (bulk statements),
or a flush hook does it for them (plixo.insights.freshness, for the rows the console reads).
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from plixo.redis_conn import get_redis

_CHANGED = "plixo.generations_changed"
logger = logging.getLogger(__name__)


def generation_key(org_id: int) -> str:
    return f"plixo:figures-generation:{org_id}"


def generation(org_id: int) -> int:
    """The workspace's current generation (0 before its first change was noticed)."""
    return int(get_redis().get(generation_key(org_id)) or 0)


def mark_changed(session: Session, org_id: int) -> None:
    """Raise the workspace's generation once the session commits."""
    session.info.setdefault(_CHANGED, set()).add(org_id)


@event.listens_for(Session, "after_commit")
def _raise_generations(session: Session) -> None:
    # Kept through a rollback on purpose: a savepoint rolled back inside a committed transaction must not lose
    # the outer changes, and a needless raise only costs one recomputation.
    changed = session.info.pop(_CHANGED, None)
    if changed:
        try:
            redis = get_redis()
            for org_id in changed:
                redis.incr(generation_key(org_id))
        except RedisError:
            # Cached answers then expire by their own time limit (plixo.insights.console.BACKSTOP_SECONDS).
            logger.warning("could not raise the figures generation of workspaces %s", sorted(changed))
