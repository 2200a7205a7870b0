"""What each pytest-xdist worker gets to itself, so that workers never share state.

Under `pytest -n N` worker gwK (K = 0 … N-1) uses:
- PostgreSQL: the database `<configured name>_gwK`, created (and dropped afterwards) by the session fixtures
  through a connection to the configured database; its role needs CREATEDB, which does not bypass row-level
  security. The configured database itself is only used to connect.
- Redis: database index `<configured index> - K`, so a run counts down from its own index. Two runs sharing
  a Redis server stay apart as long as their configured indexes are at least the worker count apart
  (CI uses 15; pick e.g. 12 or 3 for a run beside it). The embedded Redis needs nothing: each worker
  starts its own in its own temporary directory, as it does for the SQLite file.
Run serially (no `-n`, or `-n 0`), nothing is derived: the configured database and index are used as they are.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def worker_id() -> str | None:
    """This pytest-xdist worker's id ("gw0", "gw1"…); None in a serial run."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def worker_number() -> int:
    worker = worker_id()
    return int(worker.removeprefix("gw")) if worker else 0


def check_redis_index(config, url: str | None) -> None:
    """Refuse, before any worker starts, a configured index that leaves the last worker none."""
    workers = getattr(config.option, "numprocesses", None) or 0
    if url and not hasattr(config, "workerinput") and workers > _redis_index(url)[0] + 1:
        raise pytest.UsageError(f"Redis database index {_redis_index(url)[0]} leaves no index for {workers} test "
                                "workers (worker K uses the index minus K): configure a higher one, e.g. "
                                "redis://127.0.0.1:6379/15, or run fewer workers")


def _redis_index(url: str) -> tuple[int, bool]:
    """The URL's database index, and whether it is given as ?db= (always so for a Unix socket)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if parts.scheme == "unix" or "db" in query:
        return int(query.get("db", 0)), True
    return int(parts.path.strip("/") or 0), False


def worker_redis_url(url: str) -> str:
    """The configured Redis URL with this worker's database index (see the module's docstring)."""
    if worker_id() is None:
        return url
    base, in_query = _redis_index(url)
    index = base - worker_number()
    if index < 0:
        pytest.fail(f"Redis database index {base} leaves no index for worker {worker_id()}", pytrace=False)
    parts = urlsplit(url)
    if in_query:
        return urlunsplit(parts._replace(query=urlencode({**dict(parse_qsl(parts.query)), "db": index})))
    return urlunsplit(parts._replace(path=f"/{index}"))


def worker_database_url(url: str) -> str:
    """The configured PostgreSQL URL naming this worker's own database."""
    if worker_id() is None:
        return url
    configured = make_url(url)
    return configured.set(database=f"{configured.database}_{worker_id()}").render_as_string(hide_password=False)


def _on_configured_database(configured_url: str, statement: str) -> None:
    engine = create_engine(configured_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def create_worker_database(configured_url: str, url: str) -> None:
    """Create this worker's database afresh (a run that was killed may have left it behind)."""
    name = make_url(url).database
    _on_configured_database(configured_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        _on_configured_database(configured_url, f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - any failure here is reported the same way
        pytest.fail(f"cannot create the worker database {name} ({exc.__class__.__name__}: {exc}); the role of "
                    "TEST_DATABASE_URL needs CREATEDB for parallel runs (ALTER ROLE … CREATEDB), or run serially "
                    "with -n 0", pytrace=False)


def drop_worker_database(configured_url: str, url: str) -> None:
    _on_configured_database(configured_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
