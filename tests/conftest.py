"""Shared fixtures: the app on a real database and Redis, clean state per test, signed-in clients per role."""

from __future__ import annotations

import contextvars
import os
import secrets

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import text

from plixo import create_app
from plixo.extensions import db, limiter
from plixo.model import Base
from plixo.redis_conn import get_redis
from plixo.tenancy import tenant_scope, unscoped
from tests import factories, workers
from tests.cleanup import empty_database


def pytest_configure(config):
    workers.check_redis_index(config, os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL"))


def _sqlalchemy_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """TEST_REDIS_URL, else REDIS_URL, else an embedded Redis. The suite flushes that database (one per worker).

    It becomes REDIS_URL for the session too, so that an app a test builds without one uses it: the rate limiter
    follows the last app built, and in another Redis database it would reset another worker's counts."""
    configured = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    server = None
    if configured:
        url = workers.worker_redis_url(configured)
    else:
        from plixo.redis_conn import start_embedded_redis

        server = start_embedded_redis(str(tmp_path_factory.mktemp("redis")))
        url = f"unix://{server.socket_file}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REDIS_URL", url)
        yield url
    if server is not None:
        server.shutdown()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """TEST_DATABASE_URL (each parallel worker gets a database of its own beside it), else a SQLite file."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if not configured:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    configured = _sqlalchemy_url(configured)
    url = workers.worker_database_url(configured)
    if url == configured:
        yield url
        return
    workers.create_worker_database(configured, url)
    yield url
    workers.drop_worker_database(configured, url)


@pytest.fixture(scope="session", autouse=True)
def _instance_dir(tmp_path_factory):
    """Apps built without an INSTANCE_DIR (e.g. by a test) keep their files in a temporary folder of this worker
    rather than the repository's instance/, which `make run` uses and parallel workers would share."""
    import plixo.config

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plixo.config, "INSTANCE_DIR", tmp_path_factory.mktemp("default-instance"))
        yield


@pytest.fixture(scope="session")
def app(database_url, redis_url, tmp_path_factory):
    app = create_app({
        "TESTING": True,
        "PLIXO_ENV": "testing",
        "SECRET_KEY": "test-secret-key-" + secrets.token_hex(8),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")),
        "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
    })
    app.test_client_class = CSRFClient
    with app.app_context():
        _rebuild_schema()
    yield app
    with app.app_context():
        db.engine.dispose()  # before a worker's database is dropped


def _rebuild_schema() -> None:
    """Drop everything and build the schema with the real migrations (so they are tested every run)."""
    from flask_migrate import upgrade

    with db.engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade()


def _truncate_all() -> None:
    empty_database(db.engine, Base.metadata)


@pytest.fixture(autouse=True)
def app_ctx(app):
    """Each test runs in an app context, across workspaces (requests set their own scope), on clean data."""
    with app.app_context():
        get_redis().flushdb()
        limiter.reset()
        with unscoped():
            yield
        db.session.remove()
        _truncate_all()


def run_jobs() -> None:
    """Run every queued job with the real worker until the queues are empty, as a separate process would:
    in its own app context, so its per-job sessions never touch the test's."""
    from flask import current_app

    from jobs.worker import build_worker
    from plixo.background import ALL_QUEUES

    db.session.commit()  # the worker must see the test's data, and the test must not hold an old snapshot
    with current_app.app_context():
        build_worker(ALL_QUEUES).work(burst=True)
    db.session.commit()
    db.session.expire_all()


class CSRFClient(FlaskClient):
    """A test client that behaves like separate browser requests against a running server.

    Each request runs in a fresh context (its own app context, `g`, session and workspace scope,
    as in production) after the test's own changes are committed; afterwards the test's session
    sees what the request committed. Unsafe requests carry a valid CSRF token unless csrf=False.
    """

    def open(self, *args, csrf: bool = True, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        if not has_app_context():  # a redirect followed from inside a request's own context
            return super().open(*args, **kwargs)
        db.session.commit()
        response = contextvars.Context().run(super().open, *args, **kwargs)
        db.session.commit()  # ends the test session's transaction so it reads what the request wrote
        db.session.expire_all()
        return response

    def csrf_token(self) -> str:
        with self.session_transaction() as session:
            raw = session.setdefault("csrf_token", secrets.token_hex(20))
        serializer = URLSafeTimedSerializer(self.application.secret_key, salt="wtf-csrf-token")
        return serializer.dumps(raw)


def sign_in(client: FlaskClient, user) -> FlaskClient:
    """Put `user` in the client's session the way a successful sign-in does (without the argon2 cost)."""
    import time

    membership = factories.membership_of(user)
    sid = secrets.token_urlsafe(24)
    get_redis().set(f"plixo:session:{sid}", user.id, ex=3600)
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session["sid"] = sid
        session["org_id"] = membership.org_id
        session["last_seen"] = int(time.time())
    return client


@pytest.fixture
def make_app(app):
    """Build another app with config overrides (e.g. a broken Redis); the shared limiter is rebound after."""

    def build(**overrides):
        built = create_app(overrides)
        built.test_client_class = CSRFClient
        return built

    yield build
    limiter.init_app(app)  # Flask-Limiter keeps one storage per limiter object: give it back to the test app


@pytest.fixture
def two_workspaces():
    """Workspaces Alpha and Beta, each with one invoice (A-1, B-1)."""
    a, b = factories.make_org(name="Alpha"), factories.make_org(name="Beta")
    factories.make_invoice(a, number="A-1")
    factories.make_invoice(b, number="B-1")
    db.session.commit()
    return a, b


@pytest.fixture
def org():
    org = factories.make_org(name="Acme Test Co")
    db.session.commit()
    return org


@pytest.fixture
def scoped(org):
    """The workspace, with the test running in its tenant scope (as a request or a job of it would)."""
    with tenant_scope(org.id):
        yield org


@pytest.fixture
def invoice(scoped):
    """An open invoice of 1,000.00 USD of customer Globex (in UTC), whose contact is ap@globex.example."""
    customer = factories.make_customer(scoped, name="Globex", time_zone="UTC")
    factories.make_contact(customer, email="ap@globex.example")
    return factories.make_invoice(scoped, customer, balance_minor=100_000, amount_minor=100_000)


@pytest.fixture
def controller(org):
    user = factories.make_user(org, "controller", name="Cora Controller", email="cora@acmetest.example")
    db.session.commit()
    return user


@pytest.fixture
def client(app, controller):
    """A client signed in as the workspace's controller."""
    return sign_in(app.test_client(), controller)


@pytest.fixture
def client_as(app, org, controller):
    """client_as("operator") -> a client signed in as a new member with that role."""

    def make(role: str):
        user = factories.make_user(org, role)
        db.session.commit()
        return sign_in(app.test_client(), user)

    return make


@pytest.fixture
def anon(app):
    return app.test_client()
