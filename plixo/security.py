"""Roles and permissions (one table), the view decorators that enforce them, and security headers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, current_app, g
from flask_login import current_user

ROLES: dict[str, str] = {
    "controller": "Controller",
    "ar_manager": "A/R Manager",
    "operator": "A/R Operator",
    "billing_admin": "Billing Admin",
    "cfo": "CFO",
    "sales": "Sales",
    "csm": "Customer Success",
    "legal": "Legal",
}
ALL = frozenset(ROLES)
_COLLECTORS = {"controller", "ar_manager", "operator"}

# permission -> (what it allows, roles that have it). Every view declares one of these.
PERMISSIONS: dict[str, tuple[str, frozenset[str]]] = {
    "workspace.view": ("See the workspace home and shell", ALL),
    "users.manage": ("Invite teammates, change roles, deactivate users", frozenset({"controller"})),
    "audit.view": ("Read and export the audit log", frozenset({"controller"})),
    "workspace.settings": ("Edit workspace name, time zone, currency, branding", frozenset({"controller"})),
    "connectors.manage": ("Connect Stripe, e-mail and the ERP", frozenset({"controller"})),
    "policies.manage": ("Edit guardrails", frozenset({"controller"})),
    "autopilot.manage": ("Switch segments to Autopilot", frozenset({"controller"})),
    "approvals.decide": ("Approve or reject requests routed to one's role", frozenset({"controller", "legal"})),
    "imports.manage": ("Upload and commit CSV imports", frozenset({"controller", "ar_manager", "billing_admin"})),
    "invoices.correct": ("Correct invoice data", frozenset({"controller", "billing_admin"})),
    "segments.manage": ("Create and edit segments", frozenset({"controller", "ar_manager"})),
    "cadences.manage": ("Create and edit cadences (Shadow)", frozenset({"controller", "ar_manager"})),
    "queue.view_all": ("See the whole collections queue", frozenset({"controller", "ar_manager"})),
    "queue.work": ("Work the own/assigned queue", frozenset(_COLLECTORS)),
    "messages.send": ("Edit and send drafts within guardrails", frozenset(_COLLECTORS)),
    "sends.override": ("Send inside a customer's contact limits, with a reason (audited)",
                       frozenset({"controller", "ar_manager"})),
    "promises.manage": ("Log promises to pay", frozenset(_COLLECTORS)),
    "plans.propose": ("Propose payment plans", frozenset(_COLLECTORS | {"sales", "csm"})),
    "disputes.intake": ("Mark invoices disputed", frozenset(_COLLECTORS)),
    # Disputes are routed to Legal, Sales and Customer Success by reason: they work them alongside the A/R team.
    "disputes.manage": ("Work the disputes workspace",
                        frozenset({"controller", "ar_manager", "legal", "sales", "csm"})),
    "holds.manage": ("Hold and suppress outreach", frozenset(_COLLECTORS)),
    "notes.write": ("Write notes and @mention teammates", frozenset(_COLLECTORS | {"sales", "csm", "legal"})),
    "customers.view": ("Read customer context", ALL),
    "drafts.suggest": ("Suggest 'safe nudge' drafts that go to review", frozenset({"sales", "csm"})),
    "dashboards.view": ("Read dashboards and reports", frozenset({"controller", "ar_manager", "cfo"})),
    "digest.receive": ("Receive the weekly digest e-mail of the workspace's figures", frozenset({"controller", "cfo"})),
    "billing.manage": ("Manage the Plixo subscription", frozenset({"controller", "billing_admin"})),
    "templates.manage": ("Edit e-mail templates", frozenset({"controller", "ar_manager", "legal"})),
    "ops.manage": ("Maintenance mode and cron pause", frozenset({"controller"})),
}

PUBLIC = "public"


def role_can(role: str | None, permission: str) -> bool:
    """Whether `role` holds `permission` (unknown permissions are an error, not a silent no)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return role in PERMISSIONS[permission][1]


def can(permission: str) -> bool:
    """Whether the signed-in member holds `permission` in the current workspace."""
    membership = g.get("membership")
    return membership is not None and role_can(membership.role, permission)


def requires(permission: str) -> Callable:
    """Guard a view: sign-in required, then the permission; records it for the coverage test."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated or g.get("membership") is None:
                return current_app.login_manager.unauthorized()
            if not can(permission):
                abort(403)
            return view(*args, **kwargs)

        guarded.permission = permission
        return guarded

    return decorate


def public(view: Callable) -> Callable:
    """Mark a view as reachable without signing in (sign-in, sign-up, health, payer pages)."""
    view.permission = PUBLIC
    return view


CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def add_security_headers(response):
    """Headers every response carries: strict CSP (self-hosted scripts, no inline), no sniffing, no framing."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config["PLIXO_ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if g.get("membership") is not None:
        # Workspace pages must not be kept by the browser: Back after sign-out shows nothing.
        headers["Cache-Control"] = "no-store"
    return response
