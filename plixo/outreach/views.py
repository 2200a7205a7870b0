"""Admin → Policies (the guardrails every cadence and send obeys) and Admin → Segments."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from plixo.accounts.models import Membership, User
from plixo.devmail import received_messages
from plixo.extensions import db
from plixo.ledger.aging import BUCKET_NAMES, local_today
from plixo.ledger.models import RISK_TIERS
from plixo.model import utcnow
from plixo.money import Money, MoneyError
from plixo.outreach.forms import PolicyForm
from plixo.outreach.models import Segment
from plixo.outreach.segments import (
    SegmentError,
    SegmentRules,
    autopilot_blockers,
    preview_segment,
    save_segment,
    set_mode,
)
from plixo.outreach.service import PolicyError, form_values, policy_of, update_policy
from plixo.params import parse_id
from plixo.security import can, requires
from plixo.tenancy import get_or_404

bp = Blueprint("outreach", __name__, url_prefix="/admin")


@bp.route("/policies", methods=["GET", "POST"])
@requires("policies.manage")
def policies():
    policy = policy_of(db.session, g.org.id)
    form = PolicyForm(data=form_values(policy, g.org.base_currency))
    if form.validate_on_submit():
        try:
            changes = update_policy(db.session, g.org, current_user, form.data)
        except PolicyError as error:
            db.session.rollback()
            getattr(form, error.field).errors = [*getattr(form, error.field).errors, error.message]
        else:
            db.session.commit()
            flash(f"Guardrails saved ({len(changes)} change{'' if len(changes) == 1 else 's'})." if changes
                  else "Nothing changed.", "success")
            return redirect(url_for("outreach.policies"))
    status = 422 if form.errors else 200
    return render_template("outreach/policies.html", form=form, policy=policy), status


# --- Segments ------------------------------------------------------------------------------------------

def _today() -> dt.date:
    return local_today(g.org.time_zone)


def _minor(raw: str, field: str) -> int | None:
    raw = raw.replace(",", "").strip()
    if not raw:
        return None
    try:
        return Money.parse(raw, g.org.base_currency).minor
    except MoneyError as error:
        raise SegmentError(f"Enter an amount in {g.org.base_currency}, such as 5000.00.", field) from error


def _words(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w.strip() for w in raw.replace(";", ",").split(",") if w.strip()))


def _rules_from_form() -> SegmentRules:
    """The rule builder's fields as SegmentRules (SegmentError names the field that is wrong)."""
    form = request.form
    owner = form.get("owner_id", "")
    owner_id = parse_id(owner)
    if owner and owner_id is None:
        raise SegmentError("Choose an owner from the list.", "owner_id")
    return SegmentRules(
        buckets=tuple(form.getlist("buckets")), risk_tiers=tuple(form.getlist("risk_tiers")),
        min_balance_minor=_minor(form.get("min_balance", ""), "min_balance"),
        max_balance_minor=_minor(form.get("max_balance", ""), "max_balance"),
        currencies=tuple(c.upper() for c in _words(form.get("currencies", ""))),
        tags=_words(form.get("tags", "")), owner_id=owner_id)


def _owners() -> list:
    return db.session.execute(select(User.id, User.name).join(Membership, Membership.user_id == User.id)
                              .where(Membership.org_id == g.org.id, Membership.is_active.is_(True))
                              .order_by(User.name)).all()


def _values_of(segment: Segment | None) -> dict:
    """What the rule builder's fields show for a stored segment."""
    rules = SegmentRules.from_json(segment.rules) if segment else SegmentRules()

    def amount(minor: int | None) -> str:
        return "" if minor is None else f"{Money(minor, g.org.base_currency).to_decimal():f}"

    return {"name": segment.name if segment else "", "buckets": list(rules.buckets),
            "risk_tiers": list(rules.risk_tiers), "min_balance": amount(rules.min_balance_minor),
            "max_balance": amount(rules.max_balance_minor), "currencies": ", ".join(rules.currencies),
            "tags": ", ".join(rules.tags), "owner_id": str(rules.owner_id or "")}


def _submitted_values() -> dict:
    form = request.form
    return {"name": form.get("name", ""), "buckets": form.getlist("buckets"), "risk_tiers": form.getlist("risk_tiers"),
            **{key: form.get(key, "") for key in ("min_balance", "max_balance", "currencies", "tags", "owner_id")}}


def _form_page(segment: Segment | None, values: dict, preview, error: SegmentError | None = None,
               status: int = 200):
    return render_template("outreach/segment_form.html", segment=segment, values=values, error=error,
                           preview=preview, buckets=BUCKET_NAMES, tiers=RISK_TIERS, owners=_owners()), status


@bp.route("/segments")
@requires("segments.manage")
def segments():
    today = _today()
    rows = []
    for segment in db.session.scalars(select(Segment).where(Segment.org_id == g.org.id).order_by(Segment.name)):
        rules = SegmentRules.from_json(segment.rules)
        rows.append((segment, rules, preview_segment(db.session, g.org.id, rules, today)))
    blockers = autopilot_blockers(db.session, g.org.id, utcnow())
    return render_template("outreach/segments.html", rows=rows, blockers=blockers)


@bp.route("/segments/new", methods=["GET", "POST"])
@bp.route("/segments/<int:segment_id>", methods=["GET", "POST"])
@requires("segments.manage")
def edit_segment(segment_id: int | None = None):
    segment = get_or_404(db.session, Segment, segment_id) if segment_id else None
    if request.method == "GET":
        rules = SegmentRules.from_json(segment.rules) if segment else SegmentRules()
        return _form_page(segment, _values_of(segment), preview_segment(db.session, g.org.id, rules, _today()))
    try:
        rules = _rules_from_form()
        saved = save_segment(db.session, g.org, current_user, request.form.get("name", ""), rules, segment)
    except SegmentError as error:
        db.session.rollback()
        return _form_page(segment, _submitted_values(), None, error, 422)
    db.session.commit()
    flash(f"Segment “{saved.name}” saved.", "success")
    return redirect(url_for("outreach.segments"))


@bp.post("/segments/preview")
@requires("segments.manage")
def preview_rules():
    try:
        rules = _rules_from_form()
    except SegmentError as error:
        return render_template("outreach/_segment_preview.html", preview=None, error=error)
    preview = preview_segment(db.session, g.org.id, rules, _today())
    return render_template("outreach/_segment_preview.html", preview=preview, error=None)


@bp.post("/segments/<int:segment_id>/mode")
@requires("segments.manage")
def set_segment_mode(segment_id: int):
    segment = get_or_404(db.session, Segment, segment_id)
    mode = request.form.get("mode", "")
    if mode == "autopilot" and not can("autopilot.manage"):
        abort(403)
    try:
        set_mode(db.session, g.org, current_user, segment, mode, utcnow())
    except SegmentError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("outreach.segments"), 303)
    db.session.commit()
    flash(f"“{segment.name}” is now in {'Autopilot' if segment.mode == 'autopilot' else 'Shadow Mode'}.",
          "success")
    return redirect(url_for("outreach.segments"), 303)


@bp.route("/dev-outbox")
@requires("messages.send")
def dev_outbox():
    """What the development mail sink received (only when `make run` started one)."""
    directory = current_app.config.get("DEV_OUTBOX_DIR")
    if not directory:
        abort(404)
    return render_template("outreach/dev_outbox.html", messages=received_messages(directory))
