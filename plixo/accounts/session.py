"""Who is signed in, in which workspace, for how long: hooks run around every request."""

from __future__ import annotations

import secrets
import time

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_htmx import make_response as htmx_response
from flask_login import current_user, login_user, logout_user

from plixo import tenancy
from plixo.accounts.models import Membership, User
from plixo.accounts.service import active_memberships
from plixo.extensions import db, htmx, login_manager
from plixo.redis_conn import get_redis


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.session_version == int(version) else None


@login_manager.unauthorized_handler
def unauthorized():
    target = url_for("accounts.login", next=request.full_path if request.method == "GET" else None)
    if htmx:
        return htmx_response("", 401, redirect=target)
    flash("Please sign in to continue.", "info")
    return redirect(target)


def switch_workspace(membership: Membership) -> None:
    """Make another of the user's workspaces the current one."""
    session["org_id"] = membership.org_id


def _session_key(sid: str) -> str:
    return f"plixo:session:{sid}"


def start_session(user: User, membership: Membership) -> None:
    """Sign the user in with a fresh session (no fixation), in the membership's workspace.

    The cookie carries a random session id that must also exist in Redis: signing out deletes it, so a
    copied cookie dies with the session, and its expiry is the absolute session lifetime.
    """
    session.clear()
    sid = secrets.token_urlsafe(24)
    get_redis().set(_session_key(sid), user.id, ex=int(current_app.permanent_session_lifetime.total_seconds()))
    login_user(user)
    session.permanent = True
    session["sid"] = sid
    session["org_id"] = membership.org_id
    session["last_seen"] = int(time.time())


def end_session() -> None:
    sid = session.get("sid")
    if sid:
        get_redis().delete(_session_key(sid))
    logout_user()
    session.clear()


def _session_alive() -> bool:
    sid = session.get("sid")
    stored = get_redis().get(_session_key(sid)) if sid else None
    return stored is not None and int(stored) == current_user.id


def _idle_expired() -> bool:
    last_seen = session.get("last_seen", 0)
    return time.time() - last_seen > current_app.config["IDLE_TIMEOUT_MINUTES"] * 60


def open_workspace_scope() -> None:
    """Before each request: strict scope, then the signed-in member's workspace if the session is valid."""
    g.tenant_token = tenancy.enter(None)
    g.membership = None
    g.org = None
    if request.endpoint == "static" or not current_user.is_authenticated:
        return
    if _idle_expired():
        end_session()
        flash(f"You were signed out after {current_app.config['IDLE_TIMEOUT_MINUTES']} minutes without activity.",
              "info")
        return
    if not _session_alive():
        end_session()
        flash("Your session has ended. Please sign in again.", "info")
        return
    org_id = session.get("org_id")
    # One query gives both this workspace's membership and the switcher's list.
    memberships = active_memberships(db.session, current_user)
    current = next(((m, org) for m, org in memberships if org.id == org_id), None)
    if current is None:
        end_session()
        flash("Your access to this workspace has ended.", "warning")
        return
    g.membership, g.org = current
    g.workspaces = [(org.id, org.name, m.role) for m, org in memberships]
    tenancy.leave(g.tenant_token)
    g.tenant_token = tenancy.enter(org_id)
    session["last_seen"] = int(time.time())


def close_workspace_scope(exc=None) -> None:
    token = g.pop("tenant_token", None)
    if token is not None:
        tenancy.leave(token)
