"""Queue names and the one way to enqueue work: after the durable row exists, with its id."""

from __future__ import annotations

from rq import Queue, Retry

from plixo.redis_conn import get_redis

IMPORTS = "imports"
SENDS = "sends"
WEBHOOKS = "webhooks"
DEFAULT = "default"
ALL_QUEUES = (WEBHOOKS, SENDS, IMPORTS, DEFAULT)  # listening order = priority

# Retry policy per queue: how many more attempts, and the pause (seconds) before each.
RETRY_POLICIES: dict[str, Retry | None] = {
    IMPORTS: Retry(max=2, interval=[10, 60]),
    SENDS: Retry(max=3, interval=[30, 120, 600]),
    WEBHOOKS: Retry(max=5, interval=[5, 30, 120, 600, 1800]),
    DEFAULT: Retry(max=2, interval=[30, 300]),
}


# Longest a single attempt may run before RQ stops it (and the retry policy applies).
JOB_TIMEOUTS = {IMPORTS: 1800, SENDS: 120, WEBHOOKS: 120, DEFAULT: 600}


def queue(name: str) -> Queue:
    return Queue(name, connection=get_redis())


def enqueue(name: str, func, *args, retry: Retry | None = None, **kwargs):
    """Put `func(*args)` on queue `name` with that queue's retry policy (or the one given)."""
    kwargs.setdefault("job_timeout", JOB_TIMEOUTS[name])
    return queue(name).enqueue(func, *args, retry=retry or RETRY_POLICIES[name], **kwargs)
