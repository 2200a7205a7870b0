"""Approvals (/work/approvals): the requests waiting for a decision, as cards that explain themselves, and deciding
them. The queue page's sidebar shows the same cards (templates/macros/approvals.html); a decision from either page
answers with the `approvals` block, which both pages render the same way."""

from __future__ import annotations

from flask import Blueprint, abort, g, make_response, request
from flask_login import current_user

from plixo.actions import ActionError
from plixo.approvals import service as approvals
from plixo.approvals.cards import pending_cards, waiting_count, waiting_for
from plixo.approvals.models import Approval
from plixo.extensions import db
from plixo.htmx import change, hx_trigger, render_fragment, render_page_or_block, retarget, toast
from plixo.ledger.aging import local_today
from plixo.ledger.eligibility import stopping_reasons
from plixo.model import utcnow
from plixo.queue.queries import queue_changed
from plixo.security import can, requires
from plixo.tenancy import get_or_404

bp = Blueprint("approvals", __name__, url_prefix="/work")
PAGE = "approvals/index.html"


@bp.app_context_processor
def navigation_count() -> dict:
    """`approvals_waiting()` for the navigation's "Approvals (N pending)"; counted only when a page asks."""
    def approvals_waiting() -> int | None:
        if not can("approvals.decide"):
            return None
        return waiting_count(db.session, g.org.id, g.membership.role)

    return {"approvals_waiting": approvals_waiting}


def cards_context() -> dict:
    """What the `approvals` block needs, on this page and in the queue's sidebar."""
    cards = pending_cards(db.session, g.org.id, g.membership.role, current_user.id)
    return {"approval_cards": cards, "approvals_waiting_now": waiting_for(cards), "now": utcnow()}


@bp.route("/approvals")
@requires("approvals.decide")
def index():
    return render_page_or_block(PAGE, "approvals", **cards_context())


@bp.post("/approvals/<int:approval_id>/decide")
@requires("approvals.decide")
def decide(approval_id: int):
    approval = get_or_404(db.session, Approval, approval_id)
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        abort(400)
    return change(
        lambda: approvals.decide_approval(db.session, g.org, approval, current_user,
                                          g.membership.role, decision == "approve", request.form.get("comment", ""),
                                          utcnow()),
        lambda decided: _decided(f"Request {decided.status}.", decided),
        lambda error: _refused(approval_id, error))


def _decided(message: str, decided: Approval):
    queue_changed(g.org.id)  # an accepted plan or a write-off takes invoices out of the queue
    context = cards_context()
    response = make_response(render_fragment(PAGE, "approvals", **context))
    hx_trigger(response, "approvals:changed", waiting=context["approvals_waiting_now"])
    invoice_id, change_kind = _queue_row_change(decided)
    hx_trigger(response, "queue:changed", invoice_id=invoice_id, change=change_kind)
    return toast(response, message)


def _queue_row_change(decided: Approval) -> tuple[int | None, str]:
    """The invoice a decision is about, and whether it left the queue (an approved write-off closes it), so an
    open queue page updates its rows and totals."""
    if decided.subject_type != "Invoice":
        return None, "changed"
    left = bool(stopping_reasons(db.session, decided.subject_id, local_today(g.org.time_zone)))
    return decided.subject_id, "removed" if left else "changed"


def _refused(approval_id: int, error: ActionError):
    """422 with the message under the card; the rest of the list is left as it was."""
    response = make_response(render_fragment(PAGE, "approval_message", approval_id=approval_id, error=error), 422)
    return toast(retarget(response, f"#approval-{approval_id}-message"), error.message, "error")
