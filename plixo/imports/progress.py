"""An import step's liveness and progress in Redis: written by the job, read by the run's page.

The job beats a key while it runs; a run whose step has no heartbeat lost its worker. Progress is a small hash
(phase, rows done, rows expected, seconds so far) from which the page works out the rate and the time left.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import current_app

from plixo.redis_conn import get_redis

PROGRESS_KEPT_SECONDS = 86_400  # long enough to read after the step ends, then Redis forgets it


def progress_key(run_id: int) -> str:
    """The Redis hash holding the run's current step progress."""
    return f"plixo:import:{run_id}:progress"


def beat_key(run_id: int) -> str:
    """The Redis key a running step keeps alive."""
    return f"plixo:import:{run_id}:beat"


class Heartbeat:
    """Keeps a Redis key alive while the job runs; a killed worker stops beating and the key expires."""

    def __init__(self, run_id: int):
        self.key = beat_key(run_id)
        self.ttl = current_app.config["IMPORT_HEARTBEAT_SECONDS"]
        self.redis = get_redis()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stop.is_set():
            self.redis.set(self.key, 1, ex=self.ttl)
            self.stop.wait(max(1, self.ttl // 3))

    def __enter__(self):
        self.redis.set(self.key, 1, ex=self.ttl)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.redis.delete(self.key)


def is_beating(run_id: int) -> bool:
    """Whether a worker is running one of the run's steps right now."""
    return bool(get_redis().exists(beat_key(run_id)))


def progress_reporter(run_id: int, phase: str, total: int) -> Callable[[int], None]:
    """A callback recording rows done of `total` and the time taken so far, for the page to poll."""
    redis, started = get_redis(), time.monotonic()

    def report(done: int) -> None:
        redis.hset(progress_key(run_id), mapping={"phase": phase, "done": done, "total": total,
                                                  "seconds": round(time.monotonic() - started, 2)})
        redis.expire(progress_key(run_id), PROGRESS_KEPT_SECONDS)

    return report


def current_progress(run_id: int) -> dict:
    """What the page shows of a running step: rows done and expected, rate, seconds left and percentage."""
    raw = {k.decode(): v.decode() for k, v in get_redis().hgetall(progress_key(run_id)).items()}
    return progress_figures(int(raw.get("done", 0)), int(raw.get("total", 0)), float(raw.get("seconds", 0)))


def progress_figures(done: int, total: int, seconds: float) -> dict:
    """The rate so far and what it predicts: seconds left (None until there is a rate) and percentage done."""
    rate = done / seconds if seconds else 0
    left = (total - done) / rate if rate and total > done else None
    return {"done": done, "total": total, "rate": round(rate), "seconds_left": round(left) if left else None,
            "percent": min(100, round(100 * done / total)) if total else 0}
