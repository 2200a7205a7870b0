"""Settings → Weekly digest: each member turns their own weekly digest e-mail on or off (CFOs and controllers)."""

from __future__ import annotations

from flask import Blueprint, g, make_response, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from plixo.accounts.models import Policy
from plixo.actions import ActionError
from plixo.extensions import db
from plixo.htmx import change, render_fragment, render_page_or_block, toast
from plixo.insights.digest import SEND_FROM, last_sent, may_receive, set_weekly_digest
from plixo.insights.digest_mail import SETTINGS_PATH
from plixo.security import requires

bp = Blueprint("digest", __name__)
PAGE = "insights/weekly_digest.html"
CHOICES = {"on": True, "off": False}


def _context(error: str | None = None) -> dict:
    membership = g.membership
    return {
        "membership": membership, "eligible": may_receive(membership.role), "error": error,
        "last_sent": last_sent(db.session, current_user.id), "policy": db.session.scalar(select(Policy)),
        "send_from": SEND_FROM,
    }


@bp.route(SETTINGS_PATH)
@requires("workspace.view")
def settings():
    return render_page_or_block(PAGE, "weekly_digest", **_context())


@bp.route(SETTINGS_PATH, methods=["POST"])
@requires("digest.receive")
def save_settings():
    wanted = CHOICES.get(request.form.get("weekly_digest", ""))

    def done(changed: bool):
        if not request.headers.get("HX-Request"):
            return redirect(url_for("digest.settings"), 303)
        response = make_response(render_fragment(PAGE, "weekly_digest", **_context()))
        if changed:
            toast(response, "Weekly digest turned on." if wanted else "Weekly digest turned off.")
        return response

    def refused(error: ActionError):
        return render_fragment(PAGE, "weekly_digest", **_context(error.message)), 422

    def call() -> bool:
        if wanted is None:
            raise ActionError("Choose on or off.", "weekly_digest")
        return set_weekly_digest(db.session, g.membership, wanted, current_user)

    return change(call, done, refused)
