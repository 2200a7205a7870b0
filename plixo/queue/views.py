"""The collections queue (/work/queue): Today's Focus, the queue table, the inspector and its actions."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, g, make_response, render_template, request, send_file
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from plixo.accounts.models import Membership, Notification, User
from plixo.accounts.notifications import unread_notifications
from plixo.actions import ActionError
from plixo.approvals import service as approvals
from plixo.approvals.cards import pending_cards, waiting_for
from plixo.background import SENDS, enqueue
from plixo.disputes import service as disputes
from plixo.disputes.evidence import MAX_EVIDENCE_BYTES, evidence_dir
from plixo.disputes.models import DisputeEvidence
from plixo.disputes.reasons import reason_labels, reasons_of
from plixo.extensions import db
from plixo.holds import service as holds
from plixo.htmx import change, hx_trigger, render_fragment, render_page_or_block, retarget, targeted_block, toast
from plixo.ledger import assignment
from plixo.ledger.aging import BUCKET_NAMES, local_today
from plixo.ledger.models import Customer, Invoice
from plixo.model import utcnow
from plixo.notes import service as notes
from plixo.outreach import sends
from plixo.outreach.drafting import TEMPLATE_LABELS
from plixo.outreach.merge_fields import MERGE_FIELDS, preview
from plixo.outreach.models import Segment
from plixo.params import optional_id, parse_amount_input, parse_date, parse_id
from plixo.promises import plans
from plixo.promises import service as promises
from plixo.queue.chips import why_chips
from plixo.queue.focus import FOCUS_RULE, cached_focus_cards
from plixo.queue.inspector import inspect
from plixo.queue.queries import STATUS_FILTERS, Cursor, QueueFilters, cached_queue_totals, queue_changed, queue_page
from plixo.security import can, requires
from plixo.tenancy import get_or_404

bp = Blueprint("queue", __name__, url_prefix="/work")
CHOOSE_CONTACT = "Choose one of this customer's contacts."
MAX_INSTALLMENTS = 24


def _today() -> dt.date:
    return local_today(g.org.time_zone)


def _filters() -> QueueFilters:
    bucket = request.args.get("bucket", "")
    status = request.args.get("status", "")
    return QueueFilters(
        # Operators work their own queue; managers choose.
        mine=request.args.get("mine") == "1" or not can("queue.view_all"),
        bucket=bucket if bucket in BUCKET_NAMES else "",
        segment_id=parse_id(request.args.get("segment")),
        status=status if status in STATUS_FILTERS else "",
        search=request.args.get("q", "").strip()[:100],
    )


def _queue_context(filters: QueueFilters) -> dict:
    page = queue_page(db.session, g.org.id, current_user.id, filters, _today(),
                      after=Cursor.decode(request.args.get("after")))
    return {"filters": filters, "page": page, "why_chips": why_chips, "today": _today()}


def _focus(filters: QueueFilters) -> list:
    """Today's Focus of the person's queue (their own for operators): see queue/focus.py for the rule."""
    return cached_focus_cards(db.session, g.org.id, current_user.id, filters, _today(), utcnow())


def _page_context(filters: QueueFilters) -> dict:
    segments = db.session.scalars(select(Segment).where(Segment.org_id == g.org.id).order_by(Segment.name)).all()
    context = _queue_context(filters)
    return {**context, "focus": _focus(filters), "focus_rule": FOCUS_RULE,
            "segments": segments, "buckets": BUCKET_NAMES, "statuses": STATUS_FILTERS,
            **_approval_cards(),
            "notifications": _unread_notifications()}


PAGE = "queue/index.html"
# The one client event after anything that changes the queue: the totals reload on it, and the row leaves (the
# next one opening) when its change is one of ROW_LEAVES. Its detail: {"invoice_id": …, "change": …}.
QUEUE_CHANGED = "queue:changed"
ROW_LEAVES = ("sent", "removed")


@bp.route("/queue")
@requires("queue.work")
def index():
    filters = _filters()
    if targeted_block("queue_more", "queue_results"):
        return render_page_or_block(PAGE, "queue_more", "queue_results", **_queue_context(filters))
    return render_template(PAGE, inspection=None, **_page_context(filters))


@bp.route("/queue/totals")
@requires("queue.work")
def totals():
    # Loaded after the page: counting a large queue is the slowest part, so the rows do not wait for it.
    filters = _filters()
    count, balances = cached_queue_totals(db.session, g.org.id, current_user.id, filters, _today())
    return render_fragment(PAGE, "queue_totals", count=count, balances=balances, filters=filters)


def _inspection(invoice: Invoice, template: str | None = None, rewrite: bool = False):
    return inspect(db.session, g.org, invoice, current_user, utcnow(), template=template,
                   sender_role=g.membership.role, rewrite=rewrite)


@cache
def _assignable_members_query():
    return (select(User.id, User.name, Membership.role).join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == bindparam("org_id"), Membership.is_active.is_(True)).order_by(User.name))


def _assignable_members() -> list:
    return db.session.execute(_assignable_members_query(), {"org_id": g.org.id}).all()


def _inspector_context(invoice: Invoice, template: str | None = None) -> dict:
    members = _assignable_members() if can("queue.view_all") else []  # only they see the Assign form
    reasons = reasons_of(db.session, g.org.id)
    # The compose box shows the draft a person reviews: the one place the writing assistant may rework it.
    return {"inspection": _inspection(invoice, template, rewrite=True), "templates": TEMPLATE_LABELS,
            "merge_fields": MERGE_FIELDS, "dispute_reasons": reason_labels(db.session, g.org.id, reasons),
            "dispute_choices": {rule.key: rule.label for rule in reasons}, "members": members, "today": _today(),
            "read_only": assignment.work_refusal(invoice, current_user.id, can("queue.view_all"))}


def _invoice_with_people(invoice_id: int) -> Invoice:
    # The inspector shows the customer, its owner and the assignee: one query instead of three lazy loads.
    return get_or_404(db.session, Invoice, invoice_id,
                      joinedload(Invoice.customer).joinedload(Customer.owner), joinedload(Invoice.assignee))


def _invoice_to_act_on(invoice_id: int) -> Invoice:
    """The invoice, if this person may act on it; else the refusal (422, above the inspector) ends the request."""
    invoice = _invoice_with_people(invoice_id)
    refusal = assignment.work_refusal(invoice, current_user.id, can("queue.view_all"))
    if refusal is not None:
        abort(_refused(ActionError(refusal)))
    return invoice


@bp.route("/queue/<int:invoice_id>")
@requires("queue.work")
def inspect_invoice(invoice_id: int):
    invoice = _invoice_with_people(invoice_id)
    context = _inspector_context(invoice, request.args.get("template"))
    if not targeted_block("inspector", "compose"):
        context |= _page_context(_filters())
    return render_page_or_block(PAGE, "inspector", "compose", **context)


def _refresh_inspector(invoice: Invoice, message: str, event: str | None = None):
    """The inspector again; `event` ("queue:sent", "queue:removed", "queue:changed") says what the action did to
    the queue, announced as the one QUEUE_CHANGED event."""
    queue_changed(g.org.id)
    response = make_response(render_fragment(PAGE, "inspector", **_inspector_context(invoice)))
    if event:
        _announce_change(response, invoice.id, event.removeprefix("queue:"))
    return toast(response, message)


def _announce_change(response, invoice_id: int | None, change_kind: str = "changed"):
    return hx_trigger(response, QUEUE_CHANGED, invoice_id=invoice_id, change=change_kind)


def _refused(error: ActionError, block: str = "inspector_message", selector: str = "#inspector-message", **context):
    """422 with the message in `block` (and a toast); the rest of the panel is left as it was."""
    response = make_response(render_fragment(PAGE, block, error=error, **context), 422)
    return toast(retarget(response, selector), error.message, "error")


def _act(invoice: Invoice, call, message: str, event: str | None = None):
    """An inspector action: one change, then the inspector again, or the refusal above it."""
    return change(call, lambda _result: _refresh_inspector(invoice, message, event), _refused)


@bp.post("/queue/<int:invoice_id>/preview")
@requires("queue.work")
def preview_email(invoice_id: int):
    invoice = _invoice_with_people(invoice_id)
    values = _inspection(invoice).merge_values
    shown = preview(request.form.get("subject", ""), request.form.get("body", ""), values)
    return render_fragment(PAGE, "compose_preview", preview=shown)


@bp.post("/queue/<int:invoice_id>/draft")
@requires("messages.send")
def save_draft(invoice_id: int):
    invoice = _invoice_to_act_on(invoice_id)
    return _act(invoice, lambda: sends.save_draft(db.session, g.org, invoice, current_user,
                                                  request.form.get("subject", ""), request.form.get("body", "")),
                "Draft saved.", "queue:changed")


@bp.post("/queue/<int:invoice_id>/send")
@requires("messages.send")
def send_email(invoice_id: int):
    invoice = _invoice_to_act_on(invoice_id)
    inspection = _inspection(invoice)
    subject = request.form.get("subject", inspection.subject)
    body = request.form.get("body", inspection.body)
    schedule_for = None
    if request.form.get("schedule") and not request.form.get("send_at"):
        return _refused(ActionError("Choose when to send it.", "send_at"))
    if request.form.get("send_at"):
        schedule_for = _parse_local_datetime(request.form["send_at"])
        if schedule_for is None:
            return _refused(ActionError("Enter the send time as a date and time.", "send_at"))

    def send():
        override = (sends.Override.asked(request.form.get("override_reason", ""), can("sends.override"))
                    if request.form.get("override") else None)
        return sends.send_email(db.session, g.org, invoice, current_user, subject, body, inspection.merge_values,
                                inspection.recipient, utcnow(), schedule_for, override,
                                reply_read=bool(request.form.get("reply_read")))
    return change(send, lambda message: _sent(invoice, message, scheduled=schedule_for is not None), _refused)


def _sent(invoice: Invoice, message, scheduled: bool):
    if message.wait_reason is None and not scheduled:
        enqueue(SENDS, "jobs.outbox.send_due_messages")  # the outbox sender, without waiting for its next minute
        return _refresh_inspector(invoice, f"E-mail to {message.to_email} is on its way.", "queue:sent")
    return _refresh_inspector(invoice, f"E-mail to {message.to_email} scheduled. "
                                       f"{message.wait_reason or 'It goes at the chosen time.'}", "queue:sent")


@bp.post("/queue/<int:invoice_id>/messages/<int:message_id>/cancel")
@requires("messages.send")
def cancel_scheduled(invoice_id: int, message_id: int):
    invoice = _invoice_to_act_on(invoice_id)
    return _act(invoice, lambda: sends.cancel_scheduled(db.session, g.org, invoice, message_id, current_user),
                "Scheduled e-mail cancelled.", "queue:changed")


def _parse_local_datetime(raw: str) -> dt.datetime | None:
    """A date and time typed in the workspace's time zone, as UTC (None when it is not one)."""
    try:
        naive = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    if naive.tzinfo is not None or not 1900 <= naive.year <= 2999:
        return None
    return naive.replace(tzinfo=ZoneInfo(g.org.time_zone)).astimezone(dt.UTC)


@bp.post("/queue/<int:invoice_id>/promise")
@requires("promises.manage")
def log_promise(invoice_id: int):
    invoice = _invoice_to_act_on(invoice_id)
    raw_amount = request.form.get("amount", "").strip()
    amount = parse_amount_input(raw_amount, invoice.currency)
    if raw_amount and amount is None:
        return _refused(ActionError("Enter the amount as a number, such as 1250.00.", "amount"))
    return _act(invoice, lambda: promises.log_promise(
        db.session, g.org, invoice, current_user, amount, parse_date(request.form.get("promised_date")),
        optional_id(request.form.get("contact_id"), "contact_id", CHOOSE_CONTACT), utcnow()),
        "Promise logged.", "queue:changed")


@bp.post("/queue/<int:invoice_id>/plan")
@requires("plans.propose")
def propose_plan(invoice_id: int):
    invoice = _invoice_to_act_on(invoice_id)
    return _act(invoice, lambda: plans.propose_plan(
        db.session, g.org, invoice, current_user,
        plans.installments_from_form(request.form.getlist("installment_date"),
                                     request.form.getlist("installment_amount"), invoice.currency, MAX_INSTALLMENTS),
        utcnow()), "Payment plan recorded.", "queue:changed")


@bp.post("/queue/<int:invoice_id>/dispute")
@requires("disputes.intake")
def open_dispute(invoice_id: int):
    invoice = _invoice_to_act_on(invoice_id)
    upload = request.files.get("evidence")
    evidence = (upload.filename or "evidence", upload.read(MAX_EVIDENCE_BYTES + 1)) \
        if upload and upload.filename else None
    raw_amount = request.form.get("amount", "").strip()

    also_numbers = request.form.get("also", "")

    def call():
        amount = parse_amount_input(raw_amount, invoice.currency) if raw_amount else None
        if raw_amount and amount is None:
            raise ActionError(f"Enter the disputed amount in {invoice.currency}, e.g. 800.00.", "amount")
        also = [(other, None) for other in disputes.invoices_named(db.session, invoice, also_numbers)]
        return disputes.open_dispute(db.session, g.org, invoice, current_user, request.form.get("reason", ""),
                                     request.form.get("note", ""), evidence, evidence_dir(), utcnow(),
                                     amount_minor=amount, also=also)

    def done(dispute):
        if dispute.disputed_minor is None:
            return _refresh_inspector(invoice, "Invoice marked disputed; it has left the queue.", "queue:removed")
        return _refresh_inspector(invoice, "Part of the invoice is disputed; the undisputed rest stays in the queue.",
                                  "queue:changed")
    return change(call, done, _refused)


@bp.route("/evidence/<int:dispute_evidence_id>")
@requires("customers.view")
def download_evidence(dispute_evidence_id: int):
    evidence = get_or_404(db.session, DisputeEvidence, dispute_evidence_id)
    path = Path(evidence.storage_path).resolve()
    # Only files the dispute actions stored: a path pointing anywhere else is not served.
    if not path.is_relative_to(evidence_dir().resolve()) or not path.is_file():
        abort(404)
    # Always a download, with the type checked at upload: a payer's file never renders inside Plixo's origin.
    response = send_file(path, mimetype=evidence.content_type, as_attachment=True, download_name=evidence.filename,
                         max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.post("/queue/<int:invoice_id>/hold")
@requires("holds.manage")
def place_hold(invoice_id: int):
    invoice = _invoice_to_act_on(invoice_id)
    return _act(invoice, lambda: holds.place_hold(
        db.session, g.org, invoice, current_user, request.form.get("reason", ""),
        parse_date(request.form.get("until")), utcnow()), "Invoice on hold; it has left the queue.", "queue:removed")


@bp.post("/queue/<int:invoice_id>/suppress")
@requires("holds.manage")
def suppress_contact(invoice_id: int):
    invoice = _invoice_to_act_on(invoice_id)
    return _act(invoice, lambda: holds.suppress_contact(
        db.session, g.org, invoice, current_user,
        optional_id(request.form.get("contact_id"), "contact_id", CHOOSE_CONTACT),
        parse_date(request.form.get("until")), request.form.get("reason", ""), utcnow()),
        "Contact suppressed until the reactivation date.", "queue:removed")


@bp.post("/queue/<int:invoice_id>/shadow")
@requires("holds.manage")
def escalate_to_shadow(invoice_id: int):
    invoice = _invoice_to_act_on(invoice_id)
    return _act(invoice, lambda: holds.escalate_to_shadow(db.session, g.org, invoice, current_user,
                                                          request.form.get("reason", "")),
                "Invoice back in Shadow Mode: its e-mails need review.", "queue:changed")


@bp.post("/queue/<int:invoice_id>/revoke-links")
@requires("holds.manage")
def revoke_payer_links(invoice_id: int):
    invoice = _invoice_to_act_on(invoice_id)
    return _act(invoice, lambda: holds.revoke_payer_links(db.session, g.org, invoice, current_user,
                                                          request.form.get("reason", "")),
                f"Earlier pay and portal links of {invoice.customer.name} no longer work.", "queue:changed")


@bp.post("/queue/<int:invoice_id>/write-off")
@requires("queue.work")
def request_write_off(invoice_id: int):
    invoice = _invoice_to_act_on(invoice_id)
    return _act(invoice, lambda: approvals.request_write_off(db.session, g.org, invoice, current_user,
                                                             request.form.get("reason", ""), utcnow()),
                "Write-off requested; it waits for approval.", "queue:changed")


@bp.post("/queue/<int:invoice_id>/note")
@requires("notes.write")
def add_note(invoice_id: int):
    invoice = _invoice_with_people(invoice_id)
    return _act(invoice, lambda: notes.add_note(db.session, g.org, invoice, current_user,
                                                request.form.get("body", "")), "Note added.")


@bp.post("/queue/<int:invoice_id>/assign")
@requires("queue.view_all")
def assign(invoice_id: int):
    invoice = _invoice_with_people(invoice_id)
    raw = request.form.get("assignee_id", "")
    assignee_id = parse_id(raw)
    if raw and assignee_id is None:
        return _refused(ActionError("Choose a teammate.", "assignee_id"))
    return _act(invoice, lambda: assignment.assign(db.session, g.org, invoice, current_user, assignee_id,
                                                   request.form.get("scope") == "customer"), "Assignment saved.",
                "queue:changed")


# --- Approvals sidebar and notifications ---------------------------------------------------------------

def _approval_cards() -> dict:
    """The sidebar's approval cards (decided through approvals.decide, which answers with the same block)."""
    if not can("approvals.decide"):
        return {}
    cards = pending_cards(db.session, g.org.id, g.membership.role, current_user.id)
    return {"approval_cards": cards, "approvals_waiting_now": waiting_for(cards), "now": utcnow()}


def _unread_notifications() -> list[Notification]:
    return unread_notifications(db.session, g.org.id, current_user.id)


@bp.post("/notifications/read")
@requires("workspace.view")
def mark_notifications_read():
    for notification in _unread_notifications():
        notification.read_at = utcnow()
    db.session.commit()
    return render_fragment(PAGE, "notifications", notifications=[])
