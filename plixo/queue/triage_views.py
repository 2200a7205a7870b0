"""Replies (/work/replies): the triage view. Every answer re-renders the `triage` block with a toast; an answer
that takes an invoice out of the queue (a dispute, a hold) also tells the queue (`queue:changed`)."""

from __future__ import annotations

from flask import Blueprint, g, make_response, request
from flask_login import current_user

from plixo.actions import ActionError
from plixo.disputes.reasons import reasons_of
from plixo.extensions import db
from plixo.htmx import change, hx_trigger, render_page_or_block, toast
from plixo.ledger.aging import local_today
from plixo.model import utcnow
from plixo.queue import triage
from plixo.queue.queries import queue_changed
from plixo.replies.classifier import LABELS
from plixo.replies.models import Reply
from plixo.security import can, requires
from plixo.tenancy import get_or_404

bp = Blueprint("triage", __name__, url_prefix="/work")
PAGE = "queue/replies.html"
# Accepting these takes the invoice out of the queue, or changes what the queue shows for it.
LEAVES_QUEUE = ("dispute", "already_paid", "promise", "out_of_office", "unsubscribe")
# What accepting needs beyond working the queue.
ACCEPT_PERMISSION = {"dispute": "disputes.intake", "promise": "promises.manage", "already_paid": "holds.manage",
                     "invoice_copy": "messages.send", "out_of_office": "holds.manage", "unsubscribe": "holds.manage"}


@bp.app_context_processor
def navigation_count() -> dict:
    """`replies_waiting()` for the navigation's "Replies (N waiting)"; counted only when a page asks."""
    def replies_waiting() -> int | None:
        return triage.waiting_count(db.session, g.org.id) if can("queue.work") else None

    return {"replies_waiting": replies_waiting}


def _context(**extra) -> dict:
    now = utcnow()
    return {"triage": triage.triage(db.session, g.org, now), "labels": triage.READING_LABELS, "label_order": LABELS,
            "dispute_reasons": {rule.key: rule.label for rule in reasons_of(db.session, g.org.id)},
            "accept_permission": ACCEPT_PERMISSION,
            "today": local_today(g.org.time_zone, now), **extra}


@bp.route("/replies")
@requires("queue.work")
def replies():
    return render_page_or_block(PAGE, "triage", **_context())


def _answer(message: str, level: str = "success", status: int = 200, reply: Reply | None = None,
            leaves_queue: bool = False, **extra):
    context = _context(**extra)
    response = make_response(render_page_or_block(PAGE, "triage", **context), status)
    toast(response, message, level)
    hx_trigger(response, "replies:changed", waiting=context["triage"].waiting_total)
    if level == "success":
        queue_changed(g.org.id)  # Focus lists customers whose reply waits
    if leaves_queue and reply is not None:
        hx_trigger(response, "queue:changed", invoice_id=reply.invoice_id, change="removed")
    return response


def _refused(reply: Reply):
    def answer(error):
        return _answer(error.message, "error", 422, errors={reply.id: error.message})
    return answer


@bp.post("/replies/<int:reply_id>/accept")
@requires("queue.work")
def accept(reply_id: int):
    reply = get_or_404(db.session, Reply, reply_id)
    permission = ACCEPT_PERMISSION.get(reply.reading)
    if permission and not can(permission):
        return _refused(reply)(ActionError("Your role cannot do this: ask an A/R manager."))
    typed = triage.AcceptInput(**{name: request.form.get(name, default)
                                  for name, default in (("invoice_id", ""), ("reason", "other"), ("amount", ""),
                                                        ("promised_date", ""))})
    return change(lambda: triage.accept(db.session, g.org, reply, current_user, can("queue.view_all"), typed,
                                        utcnow()),
                  lambda acted: _answer(acted.outcome, reply=reply, leaves_queue=reply.reading in LEAVES_QUEUE),
                  _refused(reply))


@bp.post("/replies/<int:reply_id>/class")
@requires("queue.work")
def change_class(reply_id: int):
    reply = get_or_404(db.session, Reply, reply_id)
    label = request.form.get("label", "")
    return change(lambda: triage.change_class(db.session, reply, current_user, label),
                  lambda _done: _answer(f"Now read as {triage.READING_LABELS[label].lower()}; kept as an example "
                                        "for this workspace."),
                  _refused(reply))


@bp.post("/replies/<int:reply_id>/handled")
@requires("queue.work")
def handled(reply_id: int):
    reply = get_or_404(db.session, Reply, reply_id)
    return change(lambda: triage.handle(db.session, reply, current_user, utcnow()),
                  lambda _done: _answer("Marked handled: the chase of this customer resumes."),
                  _refused(reply))
