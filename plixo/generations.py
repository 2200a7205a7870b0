"""Per-workspace generation numbers: raised after every commit that changed something a cached answer depends on.

Code that caches a workspace's figures keys them by the generations it read before computing; anything that
commits later raises a number, so the cache is exact. A number is raised only after the commit, so a reader never
caches data older than its number. Writers either name the workspace with `mark_changed` (bulk statements), or a
flush hook does it for them (plixo.insights.freshness, for the rows the console reads).

Each workspace has one number per topic. ANY moves with every change; RESET with every change nobody described
(bulk statements, deleted rows); the others only with the changes their name says, so an answer that depends on
the past alone survives today's payments.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from plixo.redis_conn import get_redis

_CHANGED = "plixo.generations_changed"
logger = logging.getLogger(__name__)


ANY, RESET = "any", "reset"


def generation_key(org_id: int, topic: str = ANY) -> str:
    return f"plixo:figures-generation:{org_id}:{topic}"


def generation(org_id: int) -> int:
    """The workspace's ANY generation (0 before its first change was noticed)."""
    return generations(org_id, ())[0]


def generations(org_id: int, topics: tuple[str, ...]) -> tuple[int, ...]:
    """The ANY generation, then each topic's, read at once."""
    values = get_redis().mget([generation_key(org_id, topic) for topic in (ANY, *topics)])
    return tuple(int(value or 0) for value in values)


def mark_changed(session: Session, org_id: int, topics: tuple[str, ...] = (RESET,)) -> None:
    """Raise the workspace's ANY generation and those of `topics` once the session commits."""
    session.info.setdefault(_CHANGED, {}).setdefault(org_id, set()).update((ANY, *topics))


@event.listens_for(Session, "after_commit")
def _raise_generations(session: Session) -> None:
    # Kept through a rollback on purpose: a savepoint rolled back inside a committed transaction must not lose
    # the outer changes, and a needless raise only costs one recomputation.
    changed = session.info.pop(_CHANGED, None)
    if changed:
        try:
            pipeline = get_redis().pipeline(transaction=False)
            for org_id, topics in changed.items():
                for topic in topics:
                    pipeline.incr(generation_key(org_id, topic))
            pipeline.execute()
        except RedisError:
            # Cached answers then expire by their own time limit (plixo.insights.console.BACKSTOP_SECONDS).
            logger.warning("could not raise the figures generation of workspaces %s", sorted(changed))
