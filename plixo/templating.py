"""Template filters and globals: money, local time, permissions and the role-aware navigation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask, g

from plixo.money import format_money
from plixo.security import ROLES, can

# (label, endpoint, permission): only areas that exist appear; each is shown to roles that may open it.
NAVIGATION: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    ("Workspace", (("Home", "insights.home", "workspace.view"),)),
    ("Admin", (
        ("CSV Import", "imports.index", "imports.manage"),
        ("Users & Roles", "accounts.users", "users.manage"),
        ("Audit log", "ops.audit_log", "audit.view"),
    )),
)


def visible_navigation() -> list[tuple[str, list[tuple[str, str]]]]:
    """The navigation sections and links the current member may open."""
    sections = []
    for title, links in NAVIGATION:
        allowed = [(label, endpoint) for label, endpoint, permission in links if can(permission)]
        if allowed:
            sections.append((title, allowed))
    return sections


def my_workspaces() -> list[tuple[int, str, str]]:
    """The signed-in user's workspaces, for the switcher (computed only when a page asks)."""
    from flask_login import current_user

    from plixo.accounts.service import workspaces_of
    from plixo.extensions import db

    return workspaces_of(db.session, current_user) if current_user.is_authenticated else []


def local_time(value: dt.datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    """An instant shown in the workspace's time zone."""
    if value is None:
        return ""
    org = g.get("org")
    zone = ZoneInfo(org.time_zone if org else "UTC")
    return value.astimezone(zone).strftime(fmt)


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["money"] = lambda minor, currency, compact=False: format_money(int(minor), currency, compact)
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["percent"] = lambda value: "—" if value is None else f"{value * 100:.1f}%"
    app.jinja_env.globals.update(can=can, ROLES=ROLES, visible_navigation=visible_navigation,
                               my_workspaces=my_workspaces)
