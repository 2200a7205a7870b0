"""Background work: the queue names, each queue's retry policy and time limit, and the one way to enqueue.

Work is enqueued after its durable row exists, with the row's id. Code in plixo/ names a job by its dotted path
("jobs.outbox.send_due_messages"), which RQ imports when the job runs, so nothing here imports jobs/ (jobs/ sits
above plixo/ and imports from it). tests/test_background.py checks that every such path names a job.
"""

from __future__ import annotations

from collections.abc import Callable

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
    """The RQ queue of that name on the app's Redis."""
    return Queue(name, connection=get_redis())


def enqueue(queue_name: str, job: str | Callable, *args, retry: Retry | None = None, **kwargs):
    """Put `job(*args)` on queue `queue_name` with that queue's retry policy (or the one given) and time limit.

    `job` is a job's dotted path ("jobs.webhooks.apply_webhook_event") or, inside jobs/ and tests, the function.
    """
    kwargs.setdefault("job_timeout", JOB_TIMEOUTS[queue_name])
    return queue(queue_name).enqueue(job, *args, retry=retry or RETRY_POLICIES[queue_name], **kwargs)
