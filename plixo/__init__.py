"""Plixo: the accounts-receivable co-pilot."""

from __future__ import annotations

import sqlite3

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from plixo.config import ROOT, load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, request hooks, error pages and CLI."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_relative_config=False,
    )
    app.config.update(load_config(config))
    if app.config["PROXY_FIX_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind N trusted proxies: client IPs (rate limits, audit) and https come from their headers.
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    from plixo.params import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any route is added: every <int:…> is a bounded id
    _init_extensions(app)
    _register_blueprints(app)
    _register_hooks(app)
    _register_templates(app)

    from plixo.cli import register_cli
    from plixo.errors import register_error_pages

    register_error_pages(app)
    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    from plixo import (
        accounts,  # noqa: F401 - registers the login loader
        generations,  # noqa: F401 - raises cached figures' generations after commit
        models,  # noqa: F401 - every table known to Alembic and the tenancy guard
    )
    from plixo.accounts import session  # noqa: F401
    from plixo.extensions import csrf, db, htmx, limiter, login_manager, migrate
    from plixo.insights import freshness  # noqa: F401 - notices writes that move the console's figures
    from plixo.ledger import balances  # noqa: F401 - records every open-balance change at flush
    from plixo.redis_conn import init_redis

    init_redis(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from plixo.accounts.views import bp as accounts_bp
    from plixo.approvals.views import bp as approvals_bp
    from plixo.customers.views import bp as customers_bp
    from plixo.disputes.chargeback_views import bp as chargebacks_bp
    from plixo.disputes.reason_views import bp as dispute_reasons_bp
    from plixo.disputes.report_views import bp as dispute_reports_bp
    from plixo.disputes.views import bp as disputes_bp
    from plixo.imports.views import bp as imports_bp
    from plixo.insights.digest_views import bp as digest_bp
    from plixo.insights.overview_views import bp as overview_bp
    from plixo.insights.rate_views import bp as rates_bp
    from plixo.insights.views import bp as insights_bp
    from plixo.mail.inbox_views import bp as inbox_bp
    from plixo.mail.views import bp as mail_bp
    from plixo.ops.views import bp as ops_bp
    from plixo.outreach.views import bp as outreach_bp
    from plixo.payments.views import bp as payments_bp
    from plixo.portal.views import bp as portal_bp
    from plixo.queue.triage_views import bp as triage_bp
    from plixo.queue.views import bp as queue_bp

    for bp in (accounts_bp, approvals_bp, chargebacks_bp, customers_bp, digest_bp, dispute_reasons_bp,
               dispute_reports_bp, disputes_bp, imports_bp, inbox_bp, insights_bp, mail_bp, ops_bp, overview_bp,
               outreach_bp, payments_bp, portal_bp, queue_bp, rates_bp, triage_bp):
        app.register_blueprint(bp)


def _register_hooks(app: Flask) -> None:
    from plixo.accounts.session import close_workspace_scope, open_workspace_scope
    from plixo.htmx import add_server_timing, add_vary, start_timer
    from plixo.security import add_security_headers

    app.before_request(start_timer)
    app.before_request(open_workspace_scope)
    app.teardown_request(close_workspace_scope)
    app.after_request(add_security_headers)
    app.after_request(add_vary)
    app.after_request(add_server_timing)


def _register_templates(app: Flask) -> None:
    from plixo.templating import register_template_helpers

    register_template_helpers(app)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINTs and defers BEGIN; take control of both,
    # enforce foreign keys, and let the web process and the worker share the file.
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")
