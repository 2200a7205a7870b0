"""Customer pages for the whole team (/work/customers): the list, one customer's account, and the actions Sales,
CSM and Legal take there (a note, a payment plan, a suggested reminder for a collector's review)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, g, make_response, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from plixo.actions import ActionError
from plixo.customers.profile import customer_profile
from plixo.customers.queries import SORTS, CustomerFilters, customer_list, owner_choices
from plixo.customers.timeline import customer_timeline
from plixo.disputes.reasons import reason_labels
from plixo.extensions import db
from plixo.htmx import change, render_fragment, render_page_or_block, retarget, toast
from plixo.ledger.aging import local_today
from plixo.ledger.models import Customer, Invoice
from plixo.model import utcnow
from plixo.notes import service as notes
from plixo.notes.models import Note
from plixo.outreach import nudges
from plixo.params import parse_id
from plixo.promises import plans
from plixo.security import requires
from plixo.tenancy import get_or_404

bp = Blueprint("customers", __name__, url_prefix="/work/customers")
LIST_PAGE, CUSTOMER_PAGE = "customers/index.html", "customers/show.html"
MAX_INSTALLMENTS = 24


def _today() -> dt.date:
    return local_today(g.org.time_zone)


def _filters() -> CustomerFilters:
    sort, owner = request.args.get("sort", ""), request.args.get("owner", "")
    return CustomerFilters(search=request.args.get("q", "").strip()[:100],
                           owner=owner if owner in ("mine", "none") else str(parse_id(owner) or ""),
                           sort=sort if sort in SORTS else "exposure",
                           page=parse_id(request.args.get("page")) or 1)


@bp.route("")
@requires("customers.view")
def index():
    filters = _filters()
    listing = customer_list(db.session, g.org, current_user.id, filters, _today())
    return render_page_or_block(LIST_PAGE, "customer_results", filters=filters, listing=listing, sorts=SORTS,
                                owners=owner_choices(db.session, g.org.id))


def _customer(customer_id: int) -> Customer:
    return get_or_404(db.session, Customer, customer_id, joinedload(Customer.owner))


def _linked_note_time(customer: Customer) -> dt.datetime | None:
    """When the note a notification links to (?note=12) was written, if it is one of this customer's."""
    note_id = parse_id(request.args.get("note"))
    if note_id is None:
        return None
    return db.session.scalar(select(Note.created_at).where(Note.org_id == g.org.id, Note.id == note_id,
                                                           Note.customer_id == customer.id))


def _page_context(customer: Customer, nudge_invoice: Invoice | None = None) -> dict:
    profile = customer_profile(db.session, g.org, customer, _today())
    timeline = customer_timeline(db.session, g.org.id, customer.id, since=_linked_note_time(customer))
    nudge_invoice = nudge_invoice or next((row.invoice for row in profile.nudgeable), None)
    return {"profile": profile, "customer": customer, "timeline": timeline, "today": _today(),
            "dispute_reasons": reason_labels(db.session, g.org.id),
            "linked_note": parse_id(request.args.get("note")), **_nudge_context(nudge_invoice)}


def _nudge_context(invoice: Invoice | None, subject: str | None = None, body: str | None = None) -> dict:
    """The suggestion form for `invoice`: the courtesy reminder (or what was typed), its preview and reviewers."""
    if invoice is None:
        return {"nudge_invoice": None}
    if subject is None or body is None:
        subject, body = nudges.nudge_draft(db.session, g.org, invoice, utcnow())
    return {"nudge_invoice": invoice, "nudge_subject": subject, "nudge_body": body,
            "nudge_preview": nudges.check_nudge(db.session, g.org, invoice, current_user, subject, body, utcnow()),
            "reviewers": nudges.reviewers_of(db.session, g.org, invoice)}


@bp.route("/<int:customer_id>")
@requires("customers.view")
def show(customer_id: int):
    customer = _customer(customer_id)
    offset = parse_id(request.args.get("offset"))
    if offset:  # "Show more" in the timeline
        timeline = customer_timeline(db.session, g.org.id, customer.id, offset=offset)
        return render_fragment(CUSTOMER_PAGE, "timeline_more", timeline=timeline, customer=customer)
    return render_page_or_block(CUSTOMER_PAGE, "customer_detail", **_page_context(customer))


def _customer_invoice(customer: Customer, invoice_id: int | None) -> Invoice:
    """One of the customer's invoices (ActionError for any other id, another workspace's included)."""
    invoice = None
    if invoice_id is not None:
        invoice = db.session.scalar(select(Invoice).options(joinedload(Invoice.customer)).where(
            Invoice.org_id == g.org.id, Invoice.customer_id == customer.id, Invoice.id == invoice_id))
    if invoice is None:
        raise ActionError("Choose one of this customer's open invoices.", "invoice_id")
    return invoice


def _changed(customer: Customer, message: str):
    """After an action: the account again (everything under the header), with a toast."""
    response = make_response(render_fragment(CUSTOMER_PAGE, "customer_detail", **_page_context(customer)))
    return toast(response, message)


def _refused(block: str):
    """422 with the refusal in the form's message block, and a toast; the form keeps what was typed."""
    def answer(error: ActionError, **context):
        response = make_response(render_fragment(CUSTOMER_PAGE, block, error=error, **context), 422)
        return toast(retarget(response, "#" + block.replace("_", "-")), error.message, "error")
    return answer


@bp.post("/<int:customer_id>/notes")
@requires("notes.write")
def add_note(customer_id: int):
    customer = _customer(customer_id)
    return change(lambda: notes.add_customer_note(db.session, g.org, customer, current_user,
                                                  request.form.get("body", "")),
                  lambda _note: _changed(customer, "Note added."), _refused("note_message"))


def _propose(customer: Customer):
    ids = [parse_id(raw) for raw in request.form.getlist("invoice_id")]
    if not ids:
        raise ActionError("Choose the invoices the plan covers.", "invoice_id")
    invoices = [_customer_invoice(customer, invoice_id) for invoice_id in dict.fromkeys(ids)]
    installments = plans.installments_from_form(request.form.getlist("installment_date"),
                                                request.form.getlist("installment_amount"), invoices[0].currency,
                                                MAX_INSTALLMENTS)
    return plans.propose_plan_for(db.session, g.org, invoices, current_user, installments, utcnow())


@bp.post("/<int:customer_id>/plans")
@requires("plans.propose")
def propose_plan(customer_id: int):
    customer = _customer(customer_id)
    return change(lambda: _propose(customer),
                  lambda plan: _changed(customer, "Payment plan recorded." if plan.status == "accepted"
                                        else "Payment plan proposed; it waits for approval."),
                  _refused("plan_message"))


@bp.get("/<int:customer_id>/nudge")
@requires("drafts.suggest")
def nudge_form(customer_id: int):
    customer = _customer(customer_id)
    invoice = db.session.scalar(select(Invoice).where(
        Invoice.org_id == g.org.id, Invoice.customer_id == customer.id,
        Invoice.id == (parse_id(request.args.get("invoice_id")) or 0)))
    if invoice is None:
        return _refused("nudge_message")(ActionError("Choose one of this customer's open invoices.", "invoice_id"))
    return render_fragment(CUSTOMER_PAGE, "nudge_form", customer=customer, **_nudge_context(invoice),
                           profile=customer_profile(db.session, g.org, customer, _today()))


@bp.post("/<int:customer_id>/nudge/preview")
@requires("drafts.suggest")
def nudge_preview(customer_id: int):
    customer = _customer(customer_id)
    try:
        invoice = _customer_invoice(customer, parse_id(request.form.get("invoice_id")))
    except ActionError as error:
        return _refused("nudge_message")(error)
    shown = nudges.check_nudge(db.session, g.org, invoice, current_user, request.form.get("subject", ""),
                               request.form.get("body", ""), utcnow())
    return render_fragment(CUSTOMER_PAGE, "nudge_preview", nudge_preview=shown)


@bp.post("/<int:customer_id>/nudge")
@requires("drafts.suggest")
def suggest_nudge(customer_id: int):
    customer = _customer(customer_id)

    def suggest():
        invoice = _customer_invoice(customer, parse_id(request.form.get("invoice_id")))
        return nudges.suggest_nudge(db.session, g.org, invoice, current_user, g.membership.role,
                                    request.form.get("subject", ""), request.form.get("body", ""), utcnow())

    def done(_draft):
        names = ", ".join(r.name for r in nudges.reviewers_of(db.session, g.org, _draft_invoice(_draft.invoice_id)))
        return _changed(customer, f"Suggestion saved as a draft for {names or 'a collector'} to review; "
                                  "nothing was sent.")

    return change(suggest, done, _refused("nudge_message"))


def _draft_invoice(invoice_id: int) -> Invoice:
    return get_or_404(db.session, Invoice, invoice_id, joinedload(Invoice.customer))
