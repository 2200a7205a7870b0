"""Disputes (/work/disputes): the SLA snapshot, Today's Focus, metrics, the table and the inspector; every status
action answers with the inspector again (or the refusal above it) and tells the table (`disputes:changed`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, g, make_response, render_template, request
from flask_login import current_user

from plixo.approvals import service as approvals
from plixo.disputes import correspondence, lifecycle
from plixo.disputes.desk import (
    SOURCES,
    STATUS_FILTERS,
    DisputeCursor,
    DisputeFilters,
    dispute_page,
    focus,
    metrics,
    open_figures,
    snapshot,
)
from plixo.disputes.evidence import MAX_EVIDENCE_BYTES, SLOTS, add_evidence, evidence_dir
from plixo.disputes.inspector import inspect_dispute, members_of
from plixo.disputes.models import Dispute
from plixo.disputes.reasons import reason_labels, reasons_of
from plixo.extensions import db
from plixo.htmx import change, hx_trigger, render_page_or_block, targeted_block, toast
from plixo.ledger.models import Invoice
from plixo.model import utcnow
from plixo.notes import service as notes
from plixo.params import optional_id, parse_amount_input, parse_id
from plixo.queue.queries import queue_changed
from plixo.security import requires
from plixo.tenancy import get_or_404

bp = Blueprint("disputes", __name__, url_prefix="/work")
PAGE = "disputes/index.html"


def _filters() -> DisputeFilters:
    args = request.args
    status = args.get("status", "open")
    return DisputeFilters(status=status if status in STATUS_FILTERS else "open", reason=args.get("reason", "")[:40],
                          owner_id=parse_id(args.get("owner")), source=args.get("source", "")[:20])


def _common() -> dict:
    rules = reasons_of(db.session, g.org.id)
    return {"labels": reason_labels(db.session, g.org.id, rules), "status_labels": lifecycle.STATUS_LABELS,
            "reason_choices": {rule.key: rule.label for rule in rules},
            "resolutions": lifecycle.RESOLUTIONS, "sources": SOURCES, "status_filters": STATUS_FILTERS,
            "slot_labels": SLOTS, "now": utcnow()}


def _page_context(filters: DisputeFilters, view=None) -> dict:
    now = utcnow()
    rows, next_cursor = dispute_page(db.session, g.org.id, filters, now)
    figures = open_figures(db.session, g.org.id, now)
    return {"filters": filters, "rows": rows, "next_cursor": next_cursor, "view": view,
            "snapshot": snapshot(db.session, g.org.id, ZoneInfo(g.org.time_zone), now, figures),
            "focus": focus(db.session, g.org.id, now, figures), "metrics": metrics(db.session, g.org.id, now, figures),
            "members": members_of(db.session, g.org.id), **_common()}


@bp.route("/disputes")
@requires("disputes.manage")
def index():
    filters = _filters()
    if targeted_block("dispute_more", "dispute_results"):
        cursor = DisputeCursor.decode(request.args.get("after"))
        rows, next_cursor = dispute_page(db.session, g.org.id, filters, utcnow(), cursor)
        return render_page_or_block(PAGE, "dispute_more", "dispute_results", filters=filters, rows=rows,
                                    next_cursor=next_cursor, view=None, **_common())
    return render_template(PAGE, **_page_context(filters))


@bp.route("/disputes/<int:dispute_id>")
@requires("disputes.manage")
def show(dispute_id: int):
    dispute = get_or_404(db.session, Dispute, dispute_id)
    view = inspect_dispute(db.session, g.org, dispute, utcnow())
    response = _response(dispute, request.args.get("response", ""))
    if targeted_block("inspector"):
        return render_page_or_block(PAGE, "inspector", view=view, response=response, **_common())
    return render_template(PAGE, response=response, **_page_context(_filters(), view))


def _response(dispute: Dispute, template: str = "") -> dict:
    """The response e-mail the inspector drafts: the chosen template, else the one that fits the dispute."""
    template = template if template in correspondence.RESPONSES else correspondence.suggested_response(dispute)
    subject, body = correspondence.draft_response(db.session, g.org, dispute, template)
    return {"template": template, "subject": subject, "body": body, "labels": correspondence.RESPONSE_LABELS}


def _inspector(dispute: Dispute, message: str, level: str = "success", status: int = 200, error=None,
               leaves_queue: bool = False):
    db.session.refresh(dispute)
    view = inspect_dispute(db.session, g.org, dispute, utcnow())
    response = make_response(render_page_or_block(PAGE, "inspector", view=view, error=error,
                                                  response=_response(dispute), **_common()), status)
    toast(response, message, level)
    if level == "success":
        hx_trigger(response, "disputes:changed", dispute_id=dispute.id)
        if leaves_queue:
            queue_changed(g.org.id)
    return response


# The answer every inspector action gives, for the area's other pages (chargeback_views) to give the same.
inspector_answer = _inspector


def _act(dispute: Dispute, call, message: str, leaves_queue: bool = False):
    return change(call, lambda _done: _inspector(dispute, message, leaves_queue=leaves_queue),
                  lambda error: _inspector(dispute, error.message, "error", 422, error=error))


@bp.post("/disputes/<int:dispute_id>/status")
@requires("disputes.manage")
def move(dispute_id: int):
    dispute = get_or_404(db.session, Dispute, dispute_id)
    status = request.form.get("status", "")
    note = request.form.get("note", "")
    return _act(dispute, lambda: lifecycle.move(db.session, dispute, current_user, status, note),
                f"Now {lifecycle.STATUS_LABELS.get(status, status).lower()}.")


@bp.post("/disputes/<int:dispute_id>/resolve")
@requires("disputes.manage")
def resolve(dispute_id: int):
    dispute = get_or_404(db.session, Dispute, dispute_id)
    verdict, resolution = request.form.get("verdict", ""), request.form.get("resolution", "")
    note, credit = request.form.get("note", ""), request.form.get("credit", "")

    def call() -> str:
        lifecycle.resolve(db.session, g.org, dispute, current_user, verdict, resolution, note, utcnow())
        return _route_for_approval(dispute, resolution, credit, note)

    def done(routed: str):
        message = ("Resolved invalid: the invoice is back in the collections queue." if verdict == "invalid" else
                   "Resolved valid: the invoice stays out of the queue until the change is in your ERP.")
        return _inspector(dispute, f"{message} {routed}".strip(), leaves_queue=verdict == "invalid")
    return change(call, done, lambda error: _inspector(dispute, error.message, "error", 422, error=error))


def _route_for_approval(dispute: Dispute, resolution: str, credit: str, note: str) -> str:
    """A write-off always, and a credit or adjustment above the policy's limit, wait for the approver."""
    invoice = db.session.get(Invoice, dispute.invoice_id)
    reason = f"Dispute resolved valid: {note.strip()}"
    if resolution == "write_off":
        approval = approvals.request_write_off(db.session, g.org, invoice, current_user, reason, utcnow())
    elif resolution in ("credit_note", "adjustment"):
        amount = parse_amount_input(credit, invoice.currency) if credit.strip() else invoice.balance_minor
        approval = approvals.request_credit(db.session, g.org, invoice, current_user, amount, reason)
    else:
        return ""
    return f"Sent for approval ({approval.approver_role.replace('_', ' ')})." if approval else ""


@bp.post("/disputes/<int:dispute_id>/withdraw")
@requires("disputes.manage")
def withdraw(dispute_id: int):
    dispute = get_or_404(db.session, Dispute, dispute_id)
    return _act(dispute, lambda: lifecycle.withdraw(db.session, g.org, dispute, current_user,
                                                    request.form.get("note", ""), utcnow()),
                "Withdrawn: the invoice is back in the collections queue.", leaves_queue=True)


@bp.post("/disputes/<int:dispute_id>/assign")
@requires("disputes.manage")
def assign(dispute_id: int):
    dispute = get_or_404(db.session, Dispute, dispute_id)

    def call():
        owner_id = optional_id(request.form.get("owner_id"), "owner_id", "Choose a member of this workspace.")
        return lifecycle.assign(db.session, dispute, current_user, owner_id, request.form.get("note", ""))
    return _act(dispute, call, "Owner changed; they have been told.")


@bp.post("/disputes/<int:dispute_id>/evidence")
@requires("disputes.manage")
def upload_evidence(dispute_id: int):
    dispute = get_or_404(db.session, Dispute, dispute_id)
    upload = request.files.get("evidence")
    data = (upload.filename or "evidence", upload.read(MAX_EVIDENCE_BYTES + 1)) if upload and upload.filename else None
    return _act(dispute, lambda: add_evidence(db.session, g.org, dispute, current_user, request.form.get("slot", ""),
                                              data, evidence_dir(), utcnow()),
                "Evidence attached.")


@bp.post("/disputes/<int:dispute_id>/reason")
@requires("disputes.manage")
def change_reason(dispute_id: int):
    dispute = get_or_404(db.session, Dispute, dispute_id)
    reason = request.form.get("reason", "")
    return _act(dispute, lambda: lifecycle.change_reason(db.session, g.org, dispute, current_user, reason),
                "Reason changed; the SLA follows it.")


@bp.post("/disputes/<int:dispute_id>/email")
@requires("messages.send")
def send_response(dispute_id: int):
    dispute = get_or_404(db.session, Dispute, dispute_id)
    subject, body = request.form.get("subject", ""), request.form.get("body", "")
    reply_read = bool(request.form.get("reply_read"))

    def call():
        return correspondence.send_response(db.session, g.org, dispute, current_user, subject, body, utcnow(),
                                            reply_read=reply_read)
    return change(call, lambda message: _inspector(dispute, f"E-mail to {message.to_email} is in the outbox. "
                                                            f"{message.wait_reason or ''}".strip()),
                  lambda error: _inspector(dispute, error.message, "error", 422, error=error))


@bp.post("/disputes/<int:dispute_id>/note")
@requires("notes.write")
def add_note(dispute_id: int):
    dispute = get_or_404(db.session, Dispute, dispute_id)
    body = request.form.get("body", "")
    return _act(dispute, lambda: notes.add_note(db.session, g.org, db.session.get(Invoice, dispute.invoice_id),
                                                current_user, body),
                "Note added; anyone you @mentioned is told.")
