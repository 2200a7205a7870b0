"""Template filters and globals: money, local time, permissions and the role-aware navigation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g

from plixo.money import Money, format_money
from plixo.security import ROLES, can

# (label, endpoint, permission): only areas that exist appear; each is shown to roles that may open it.
NAVIGATION: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    ("Workspace", (("Home", "insights.home", "workspace.view"), ("CFO console", "overview.overview", "dashboards.view"),
                   ("Customers", "customers.index", "customers.view"),
                   ("Weekly digest", "digest.settings", "digest.receive"))),
    ("Collections", (
        ("Queue", "queue.index", "queue.work"),
        ("Replies", "triage.replies", "queue.work"),
        ("Disputes", "disputes.index", "disputes.manage"),
        ("Approvals", "approvals.index", "approvals.decide"),
        ("Dev outbox", "outreach.dev_outbox", "messages.send"),
    )),
    ("Admin", (
        ("Policies", "outreach.policies", "policies.manage"),
        ("Segments", "outreach.segments", "segments.manage"),
        ("Cadences", "outreach.cadences", "cadences.manage"),
        ("Dispute reasons", "dispute_reasons.edit", "policies.manage"),
        ("CSV Import", "imports.index", "imports.manage"),
        ("Stripe", "payments.stripe_connector", "connectors.manage"),
        ("Email", "inbox.connector", "connectors.manage"),
        ("Deliverability", "mail.deliverability", "connectors.manage"),
        ("Workspace", "accounts.workspace_settings", "workspace.settings"),
        ("Exchange rates", "rates.exchange_rates", "workspace.settings"),
        ("Users & Roles", "accounts.users", "users.manage"),
        ("Audit log", "ops.audit_log", "audit.view"),
    )),
)


def visible_navigation() -> list[tuple[str, list[tuple[str, str]]]]:
    """The navigation sections and links the current member may open."""
    sections = []
    for title, links in NAVIGATION:
        allowed = [(label, endpoint) for label, endpoint, permission in links
                   if can(permission) and (endpoint != "outreach.dev_outbox" or current_app.config["DEV_OUTBOX_DIR"])]
        if allowed:
            sections.append((title, allowed))
    return sections


def my_workspaces() -> list[tuple[int, str, str]]:
    """The signed-in user's workspaces, for the switcher (loaded with the membership at request start)."""
    return g.get("workspaces") or []


def local_time(value: dt.datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    """An instant shown in the workspace's time zone."""
    if value is None:
        return ""
    org = g.get("org")
    zone = ZoneInfo(org.time_zone if org else "UTC")
    return value.astimezone(zone).strftime(fmt)


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["money"] = lambda minor, currency, compact=False: format_money(int(minor), currency, compact)
    # The plain decimal an amount field starts with ("1250.00"): what Money.parse reads back.
    app.jinja_env.filters["amount_input"] = lambda minor, currency: f"{Money(int(minor), currency).to_decimal():f}"
    app.jinja_env.filters["local_time"] = local_time
    # An SLA ends at midnight after its last working day: that day is the one to show.
    app.jinja_env.filters["sla_day"] = lambda value: local_time(value - dt.timedelta(seconds=1), "%a %-d %b")
    app.jinja_env.filters["percent"] = lambda value: "—" if value is None else f"{value * 100:.1f}%"
    app.jinja_env.globals.update(can=can, ROLES=ROLES, visible_navigation=visible_navigation,
                               my_workspaces=my_workspaces)
