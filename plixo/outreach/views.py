"""Admin → Policies (the guardrails every cadence and send obeys), Admin → Segments and Admin → Cadences."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from plixo.accounts.models import Membership, User
from plixo.accounts.service import policy_of
from plixo.devmail import received_messages
from plixo.extensions import db, htmx
from plixo.htmx import change, render_fragment, render_page_or_block, toast
from plixo.ledger.aging import BUCKET_NAMES, local_today
from plixo.ledger.models import RISK_TIERS
from plixo.ledger.payer_links import link_maker
from plixo.model import utcnow
from plixo.money import Money
from plixo.outreach import cadence_forms
from plixo.outreach.cadence_forms import ANCHOR_LABELS, StepFields
from plixo.outreach.cadences import (
    MAX_STEPS,
    STATUS_LABELS,
    TRANSITIONS,
    CadenceError,
    change_status,
    check_steps,
    create_cadence,
    end_shadow_early,
    may_activate,
    shadow_days_left,
    shadow_ends_at,
    shadow_messages,
    trial_complete,
)
from plixo.outreach.forms import PolicyForm
from plixo.outreach.impact import cadence_impacts
from plixo.outreach.merge_fields import MERGE_FIELDS, merge_values
from plixo.outreach.models import TONES, Cadence, Segment
from plixo.outreach.segments import (
    SegmentError,
    SegmentRules,
    autopilot_blockers,
    preview_segment,
    save_segment,
    set_mode,
)
from plixo.outreach.service import PolicyError, form_values, update_policy
from plixo.params import parse_amount_input, parse_id
from plixo.security import can, requires
from plixo.tenancy import get_or_404

bp = Blueprint("outreach", __name__, url_prefix="/admin")


@bp.route("/policies", methods=["GET", "POST"])
@requires("policies.manage")
def policies():
    policy = policy_of(db.session, g.org.id)
    form = PolicyForm(data=form_values(policy, g.org.base_currency))

    def page():
        return render_template("outreach/policies.html", form=form, policy=policy), 422 if form.errors else 200

    def saved(changes: dict):
        flash(f"Guardrails saved ({len(changes)} change{'' if len(changes) == 1 else 's'})." if changes
              else "Nothing changed.", "success")
        return redirect(url_for("outreach.policies"))

    def refused(error: PolicyError):
        getattr(form, error.field).errors = [*getattr(form, error.field).errors, error.message]
        return page()

    if not form.validate_on_submit():
        return page()
    return change(lambda: update_policy(db.session, g.org, current_user, form.data), saved, refused)


# --- Segments ------------------------------------------------------------------------------------------

def _today() -> dt.date:
    return local_today(g.org.time_zone)


def _minor(raw: str, field: str) -> int | None:
    if not raw.strip():
        return None
    minor = parse_amount_input(raw, g.org.base_currency)
    if minor is None:
        raise SegmentError(f"Enter an amount in {g.org.base_currency}, such as 5000.00.", field)
    return minor


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

    def saved(kept: Segment):
        flash(f"Segment “{kept.name}” saved.", "success")
        return redirect(url_for("outreach.segments"))

    return change(lambda: save_segment(db.session, g.org, current_user, request.form.get("name", ""),
                                       _rules_from_form(), segment),
                  saved, lambda error: _form_page(segment, _submitted_values(), None, error, 422))


@bp.post("/segments/preview")
@requires("segments.manage")
def preview_rules():
    try:
        rules = _rules_from_form()
    except SegmentError as error:
        return render_fragment("outreach/segment_form.html", "segment_preview", preview=None, preview_error=error)
    preview = preview_segment(db.session, g.org.id, rules, _today())
    return render_fragment("outreach/segment_form.html", "segment_preview", preview=preview, preview_error=None)


@bp.post("/segments/<int:segment_id>/mode")
@requires("segments.manage")
def set_segment_mode(segment_id: int):
    segment = get_or_404(db.session, Segment, segment_id)
    mode = request.form.get("mode", "")
    if mode == "autopilot" and not can("autopilot.manage"):
        abort(403)

    def done(message: str, level: str):
        flash(message, level)
        return redirect(url_for("outreach.segments"), 303)

    return change(lambda: set_mode(db.session, g.org, current_user, segment, mode, utcnow()),
                  lambda _result: done(f"“{segment.name}” is now in "
                                       f"{'Autopilot' if segment.mode == 'autopilot' else 'Shadow Mode'}.", "success"),
                  lambda error: done(error.message, "error"))


@bp.route("/dev-outbox")
@requires("messages.send")
def dev_outbox():
    """What the development mail sink received (only when `make run` started one)."""
    directory = current_app.config.get("DEV_OUTBOX_DIR")
    if not directory:
        abort(404)
    return render_template("outreach/dev_outbox.html", messages=received_messages(directory))


# --- Cadences --------------------------------------------------------------------------------------------

ACTION_LABELS = {"active": "Activate", "paused": "Pause", "shadow": "Resume in Shadow", "archived": "Archive"}
STATUS_DONE = {"active": "“{}” is Active.", "paused": "“{}” is paused. Drafts already made stay for review.",
               "shadow": "“{}” is back in Shadow: drafts for review, 14 days side by side.",
               "archived": "“{}” archived."}


def _list_context() -> dict:
    now = utcnow()
    cadences = db.session.scalars(
        select(Cadence).where(Cadence.org_id == g.org.id, Cadence.status != "archived")
        .options(joinedload(Cadence.segment), selectinload(Cadence.steps)).order_by(Cadence.name)).all()
    impacts = cadence_impacts(db.session, g.org.id, cadences, now, _today())
    has_segments = db.session.scalar(select(Segment.id).where(Segment.org_id == g.org.id).limit(1)) is not None
    return {"rows": [(cadence, impacts[cadence.id]) for cadence in cadences], "has_segments": has_segments,
            "ready": [cadence for cadence in cadences if trial_complete(cadence, now)],
            "activatable": {cadence.id for cadence in cadences if may_activate(cadence, now)},
            "days_left": {cadence.id: shadow_days_left(cadence, now) for cadence in cadences},
            "transitions": TRANSITIONS, "status_labels": STATUS_LABELS, "action_labels": ACTION_LABELS}


@bp.route("/cadences")
@requires("cadences.manage")
def cadences():
    return render_page_or_block("outreach/cadences.html", "cadences", **_list_context())


def _status_response(message: str, level: str = "success", status: int = 200):
    """The refreshed list with a toast for HTMX; a flash and a redirect for a plain form post."""
    if htmx:
        response = make_response(render_fragment("outreach/cadences.html", "cadences", **_list_context()), status)
        return toast(response, message, level)
    flash(message, level)
    return redirect(url_for("outreach.cadences"), 303)


@bp.post("/cadences/<int:cadence_id>/status")
@requires("cadences.manage")
def set_cadence_status(cadence_id: int):
    cadence = get_or_404(db.session, Cadence, cadence_id)
    status = request.form.get("status", "")
    if status == "active" and not can("autopilot.manage"):
        abort(403)
    return change(lambda: change_status(db.session, g.org, current_user, cadence, status, utcnow()),
                  lambda _result: _status_response(STATUS_DONE[status].format(cadence.name)),
                  lambda error: _status_response(error.message, "error", 409))


def _cadence_page(cadence: Cadence, status: int = 200, error: CadenceError | None = None, reason: str = ""):
    now = utcnow()
    shown, total = shadow_messages(db.session, g.org.id, cadence)
    return render_template(
        "outreach/cadence.html", cadence=cadence, status_labels=STATUS_LABELS, action_labels=ACTION_LABELS,
        transitions=TRANSITIONS, days_left=shadow_days_left(cadence, now), ends_at=shadow_ends_at(cadence),
        activatable=may_activate(cadence, now), shadow=shown, shadow_total=total, error=error,
        reason=reason), status


@bp.route("/cadences/<int:cadence_id>")
@requires("cadences.manage")
def cadence_detail(cadence_id: int):
    return _cadence_page(get_or_404(db.session, Cadence, cadence_id))


@bp.post("/cadences/<int:cadence_id>/end-shadow")
@requires("autopilot.manage")
def end_cadence_shadow(cadence_id: int):
    cadence = get_or_404(db.session, Cadence, cadence_id)
    reason = request.form.get("reason", "")

    def ended(_result):
        flash(f"Shadow ended early: “{cadence.name}” is Active. The reason is in the audit log.", "success")
        return redirect(url_for("outreach.cadence_detail", cadence_id=cadence.id), 303)

    return change(lambda: end_shadow_early(db.session, g.org, current_user, cadence, reason, utcnow()), ended,
                  lambda error: _cadence_page(cadence, 422, error, reason))


# The wizard keeps no state on the server: every post carries all three steps' fields.
WIZARD_STEPS = ("Name & segment", "Sequence", "Review & launch")
FIELD_STEPS = {"name": 1, "segment_id": 1, "steps": 2, "launch": 3}  # the step showing each field
SEQUENCE_ACTIONS = ("add", "remove", "up", "down", "preview")


@dataclass
class Wizard:
    name: str = ""
    segment_id: str = ""
    steps: list[StepFields] = field(default_factory=list)
    launch: str = "shadow"
    at: int = 1  # the wizard step on screen
    previewing: int = 1  # the sequence step the preview shows (1-based)


def _number(raw: str | None, low: int, high: int, default: int) -> int:
    value = parse_id(raw)
    return value if value is not None and low <= value <= high else default


def _wizard_from_form() -> Wizard:
    form = request.form
    steps = cadence_forms.steps_from_form(form)
    return Wizard(name=form.get("name", ""), segment_id=form.get("segment_id", ""), steps=steps,
                  launch=form.get("launch", "shadow"), at=_number(form.get("at"), 1, 3, 1),
                  previewing=_number(form.get("previewing"), 1, max(len(steps), 1), 1))


def _sample_values(wizard: Wizard) -> dict[str, str]:
    segment = cadence_forms.workspace_segment(db.session, g.org.id, wizard.segment_id)
    invoice = cadence_forms.sample_invoice(db.session, g.org.id, segment, _today())
    return merge_values(invoice, _today(), g.org.name, link_maker(db.session, g.org.id)) if invoice else {}


def _edit_sequence(wizard: Wizard, action: str, raw_index: str) -> None:
    """Add, remove, move or preview a step (1-based index); out-of-range indexes change nothing."""
    steps = wizard.steps
    wizard.at = 2
    if action == "add":
        if len(steps) < MAX_STEPS:
            steps.append(cadence_forms.default_step(len(steps) + 1, _sample_values(wizard)))
            wizard.previewing = len(steps)
        return
    index = _number(raw_index, 1, len(steps), 0) - 1
    if index < 0:
        return
    target = {"up": index - 1, "down": index + 1}.get(action, index)
    if action == "remove":
        steps.pop(index)
        shifted = wizard.previewing - 1 if wizard.previewing > index + 1 else wizard.previewing
        wizard.previewing = max(min(shifted, len(steps)), 1)
    elif 0 <= target < len(steps):
        steps[index], steps[target] = steps[target], steps[index]
        wizard.previewing = target + 1


def _check_through(wizard: Wizard, target: int) -> None:
    """Check every wizard step before `target`, so moving on never leaves a mistake behind."""
    if target >= 2:
        cadence_forms.check_identity(db.session, g.org.id, wizard.name, wizard.segment_id)
    if target >= 3:
        check_steps(cadence_forms.parse_steps(wizard.steps))


def _sequence_context(wizard: Wizard, segment: Segment | None) -> dict:
    invoice = cadence_forms.sample_invoice(db.session, g.org.id, segment, _today())
    shown = wizard.steps[wizard.previewing - 1] if wizard.steps else None
    preview = (cadence_forms.step_preview(shown, invoice, _today(), g.org.name, link_maker(db.session, g.org.id))
               if shown else None)
    return {"sample": invoice, "preview": preview, "merge_fields": MERGE_FIELDS, "anchors": ANCHOR_LABELS,
            "tones": TONES, "max_steps": MAX_STEPS}


def _schedule(wizard: Wizard) -> list[str]:
    try:
        return [cadence_forms.schedule_in_words(step) for step in cadence_forms.parse_steps(wizard.steps)]
    except CadenceError:
        return []  # only reached through the checks of step 2, which already refused unreadable steps


def _wizard_page(wizard: Wizard, error: CadenceError | None = None, status: int = 200):
    if error is not None:
        wizard.at = FIELD_STEPS.get(error.field, wizard.at)
    segment = cadence_forms.workspace_segment(db.session, g.org.id, wizard.segment_id)
    context = {"wizard": wizard, "error": error, "error_step": cadence_forms.error_step(error),
               "wizard_steps": WIZARD_STEPS, "segment": segment}
    if wizard.at == 1:
        context["segments"] = db.session.scalars(select(Segment).where(Segment.org_id == g.org.id)
                                                 .order_by(Segment.name)).all()
    elif wizard.at == 2:
        context.update(_sequence_context(wizard, segment))
    else:
        context["schedule"] = _schedule(wizard)
    return render_page_or_block("outreach/cadence_form.html", "cadence_wizard", **context), status


def _launch(wizard: Wizard):
    # The form only offers Active to those allowed; a forged post is refused outright.
    if wizard.launch == "active" and not can("autopilot.manage"):
        abort(403)

    def create():
        cadence_forms.check_identity(db.session, g.org.id, wizard.name, wizard.segment_id)
        return create_cadence(db.session, g.org, current_user, wizard.name, parse_id(wizard.segment_id),
                              cadence_forms.parse_steps(wizard.steps), wizard.launch, utcnow())

    def launched(cadence: Cadence):
        flash(f"“{cadence.name}” launched in Shadow: drafts for review for 14 days, then Plixo asks to activate it."
              if cadence.status == "shadow" else f"“{cadence.name}” launched as Active.", "success")
        url = url_for("outreach.cadences")
        return Response(status=200, headers={"HX-Redirect": url}) if htmx else redirect(url, 303)

    return change(create, launched, lambda error: _wizard_page(wizard, error, 422))


@bp.route("/cadences/new", methods=["GET", "POST"])
@requires("cadences.manage")
def new_cadence():
    if request.method == "GET":
        return _wizard_page(Wizard(steps=[cadence_forms.default_step(1, {})]))
    wizard = _wizard_from_form()
    action, _, argument = request.form.get("action", "").partition(":")
    if action == "launch":
        return _launch(wizard)
    if action in SEQUENCE_ACTIONS:
        _edit_sequence(wizard, action, argument)
        return _wizard_page(wizard)
    target = _number(argument, 1, 3, wizard.at)
    try:
        _check_through(wizard, target)
    except CadenceError as error:
        return _wizard_page(wizard, error, 422)
    wizard.at = target
    return _wizard_page(wizard)
