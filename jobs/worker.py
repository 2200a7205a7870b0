"""The RQ worker: builds the app once, then runs jobs inside its app context.

    python -m jobs.worker [--queues webhooks,sends] [--burst]
"""

from __future__ import annotations

import argparse

from rq import SimpleWorker

from plixo.background import ALL_QUEUES
from plixo.extensions import db
from plixo.tenancy import strict


class PlixoWorker(SimpleWorker):
    """Runs each job in this process (the app is already built) with a fresh session and no scope."""

    def perform_job(self, job, queue) -> bool:
        try:
            with strict():  # a job must pick its workspace itself
                return super().perform_job(job, queue)
        finally:
            db.session.remove()


def build_worker(queue_names=ALL_QUEUES, connection=None) -> PlixoWorker:
    from plixo.redis_conn import get_redis

    return PlixoWorker(list(queue_names), connection=connection or get_redis())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Plixo job worker.")
    parser.add_argument("--queues", default=",".join(ALL_QUEUES), help="comma-separated queue names, by priority")
    parser.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    args = parser.parse_args(argv)

    from plixo import create_app

    app = create_app()
    with app.app_context():
        worker = build_worker(args.queues.split(","))
        worker.work(with_scheduler=True, burst=args.burst)


if __name__ == "__main__":
    main()
