"""Admin → Dispute reasons: the workspace's reasons, each with its SLA in working days and who owns new disputes."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from plixo.disputes.inspector import members_of
from plixo.disputes.reasons import MAX_SLA_DAYS, ReasonInput, all_reasons_for_editing, save_reasons
from plixo.extensions import db
from plixo.htmx import change
from plixo.security import ROLES, requires

bp = Blueprint("dispute_reasons", __name__, url_prefix="/admin")
PAGE = "disputes/reasons.html"
MAX_ROWS = 40


def _page(typed: list[ReasonInput] | None = None, errors: dict[int, str] | None = None, status: int = 200):
    rows = typed or [ReasonInput(rule.key, rule.label, str(rule.sla_days), rule.owner_role or "",
                                 str(rule.owner_id or ""), archived)
                     for rule, archived in all_reasons_for_editing(db.session, g.org.id)]
    return render_template(PAGE, rows=rows, errors=errors or {}, roles=ROLES, members=members_of(db.session, g.org.id),
                           max_sla=MAX_SLA_DAYS), status


def _typed() -> list[ReasonInput]:
    form = request.form
    keys, labels = form.getlist("key")[:MAX_ROWS], form.getlist("label")[:MAX_ROWS]
    slas, roles, owners = form.getlist("sla_days"), form.getlist("owner_role"), form.getlist("owner_id")
    archived = set(form.getlist("archived"))

    def at(values: list[str], index: int) -> str:
        return values[index] if index < len(values) else ""
    return [ReasonInput(at(keys, i), at(labels, i), at(slas, i).strip(), at(roles, i), at(owners, i),
                        bool(at(keys, i)) and at(keys, i) in archived) for i in range(len(labels))]


@bp.route("/dispute-reasons", methods=["GET", "POST"])
@requires("policies.manage")
def edit():
    if request.method == "GET":
        return _page()
    typed = _typed()

    def saved(changed: list[str]):
        flash(f"Reasons saved{': ' + ', '.join(changed) if changed else ''}. New disputes follow them; open ones "
              "keep their deadline.", "success")
        return redirect(url_for("dispute_reasons.edit"), 303)

    def refused(error):
        flash(error.message, "error")
        return _page(typed, getattr(error, "errors", {}), 422)

    return change(lambda: save_reasons(db.session, g.org.id, current_user, typed), saved, refused)
