"""The payer mini-portal: /portal/<token> opens it; /portal shows what is owed and takes the payer's requests.

The link in the e-mail is exchanged at once for a short-lived portal session (its own signed cookie, apart
from the team's session and sent only to /portal) and the browser goes on to the plain /portal address, so
the token leaves the address bar and the history. Every request re-reads the customer's portal_version:
revoking the links ends open sessions as well. Portal responses are never cached and never send a referrer.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from plixo import tenancy
from plixo.actions import ActionError
from plixo.disputes.evidence import MAX_EVIDENCE_BYTES, evidence_dir
from plixo.disputes.reasons import reason_labels, reasons_of
from plixo.extensions import db, limiter
from plixo.htmx import change
from plixo.ledger.aging import local_today
from plixo.ledger.models import Invoice
from plixo.ledger.payer_links import ExpiredLinkError, LinkError, PortalClaim, public_url, read_portal_token
from plixo.model import utcnow
from plixo.params import parse_amount_input, parse_date, parse_id
from plixo.payments.checkout import CheckoutError, start_checkout
from plixo.portal import service
from plixo.promises import plans
from plixo.redis_conn import get_redis
from plixo.security import public

bp = Blueprint("portal", __name__, url_prefix="/portal")

COOKIE = "plixo_portal"
SESSION_SALT = "plixo.portal-session"
MAX_SESSION_HOURS = 8  # however active the payer is, a session ends this long after the link was opened
PLAN_ROWS = 6  # installment rows the form shows; app.js adds more up to the maximum
MAX_PLAN_INSTALLMENTS = 12
MAX_PAY_SELECTION = 100
NOTICES = {
    "plan_accepted": "Your payment plan is accepted. We will not send reminders for this invoice while the plan runs.",
    "plan_pending": "Your payment plan was sent for approval. This page shows the answer as soon as it is decided.",
    "dispute": "Your dispute was received. Reminders for this invoice have stopped while the team looks into it.",
    "promise": "Thank you. Your promise to pay is recorded.",
    "opted_out": "Done. You will not receive any more payment reminders by e-mail.",
}
CHECKOUT_NOTICES = {
    "paid": "Thank you. Your payment was received by Stripe; it can take a minute to show here.",
    "cancelled": "Payment cancelled. Nothing was charged.",
}
ERROR_PAGES = {
    400: ("Something went wrong", "The request could not be understood. Go back, reload the page and try again."),
    404: ("Not found", "There is nothing here. Open the link in the e-mail again."),
    413: ("File too large", f"Files can be at most {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB."),
    429: ("Too many attempts", "Please wait a minute before trying again."),
}


# --- Rate limits: per payer (their customer) and per address ------------------------------------------------

def _action_limit() -> str:
    return current_app.config["PORTAL_RATE_LIMIT"]


def _page_limit() -> str:
    return current_app.config["PORTAL_PAGE_RATE_LIMIT"]


def _payer_key() -> str:
    """The payer's customer when the link being opened (or else the portal session) names one, else the address."""
    claim = None
    token = (request.view_args or {}).get("token")
    if token:
        try:
            claim = read_portal_token(token)
        except LinkError:
            claim = None
    found = _session() if claim is None else None
    claim = claim or (found[0] if found else None)
    return f"portal:{claim.org_id}:{claim.customer_id}" if claim else f"portal-ip:{get_remote_address()}"


# --- The portal session cookie ---------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SESSION_SALT)


def _session_seconds() -> int:
    return current_app.config["PORTAL_SESSION_MINUTES"] * 60


def _session() -> tuple[PortalClaim, int, int] | None:
    """The claim in this request's portal cookie, when the link was opened and the session's id; None when absent,
    forged, old or ended (Leave)."""
    if "portal_session" not in g:
        g.portal_session = _read_cookie(request.cookies.get(COOKIE, ""))
    return g.portal_session


def _read_cookie(raw: str) -> tuple[PortalClaim, int, int] | None:
    if not raw:
        return None
    try:
        value = _serializer().loads(raw, max_age=_session_seconds())  # idle timeout: renewed by each request
    except BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 5 and all(type(part) is int for part in value)):
        return None
    if time.time() - value[3] > MAX_SESSION_HOURS * 3600 or _ended_session(value[4]):
        return None
    return PortalClaim(*value[:3]), value[3], value[4]


def _ended_key(session_id: int) -> str:
    return f"plixo:portal-ended:{session_id}"


def _ended_session(session_id: int) -> bool:
    """Whether Leave ended this session: a copy of the cookie kept elsewhere then opens nothing either."""
    return bool(get_redis().exists(_ended_key(session_id)))


def _end_session(session_id: int) -> None:
    get_redis().set(_ended_key(session_id), 1, ex=MAX_SESSION_HOURS * 3600)  # a cookie is dead by then anyway


def _set_cookie(response, claim: PortalClaim, opened_at: int, session_id: int) -> None:
    value = _serializer().dumps([claim.org_id, claim.customer_id, claim.version, opened_at, session_id])
    response.set_cookie(COOKIE, value, max_age=_session_seconds(), path=bp.url_prefix, httponly=True,
                        samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])


def _clear_cookie(response) -> None:
    response.delete_cookie(COOKIE, path=bp.url_prefix, httponly=True, samesite="Lax",
                           secure=current_app.config["SESSION_COOKIE_SECURE"])


def _enter_workspace(org_id: int) -> None:
    # Called only once a signature has checked out: from here on, queries see this workspace's rows and no other's.
    tenancy.leave(g.tenant_token)
    g.tenant_token = tenancy.enter(org_id)
    g.membership = g.org = None  # a teammate signed in in the same browser is only a payer here


@bp.before_request
def load_payer():
    """Every portal request except opening a link needs a live portal session for a customer whose links stand."""
    g.payer = None
    if request.endpoint == "portal.open_link":
        return None
    found = _session()
    if found is None:
        g.portal_cookie = "clear" if request.cookies.get(COOKIE) else None
        return _ended()
    _enter_workspace(found[0].org_id)
    try:
        g.payer = service.find_payer(db.session, found[0])
    except LinkError as refused:  # revoked since the session began, or the customer is gone
        g.portal_cookie = "clear"
        return _message_page("Link no longer valid", str(refused), 410)
    g.portal_cookie = "renew"
    return None


@bp.after_request
def protect_response(response):
    # The address and the page are the payer's business only: no referrer to Stripe or anyone, no cached copy.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    action = g.get("portal_cookie")
    if action == "clear":
        _clear_cookie(response)
    elif action == "renew":
        _set_cookie(response, *_session())
    return response


@bp.errorhandler(CSRFError)
def csrf_refused(_error):
    return _message_page("Page expired", "This page was open too long. Go back, reload the page and try again.", 400)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    if error.code is None or error.code < 400:
        return error
    title, message = ERROR_PAGES.get(error.code, ERROR_PAGES[400])
    response = _message_page(title, message, error.code)
    response.headers.update({k: v for k, v in error.get_headers() if k == "Retry-After"})
    return response


@bp.errorhandler(Exception)
def unexpected(_error: Exception):
    current_app.logger.exception("unhandled error in the payer portal")
    db.session.rollback()
    g.payer = None  # the page must not need the database that may have just failed
    return _message_page("Something went wrong", "The error has been logged and nothing was half-saved. "
                                                 "Please try again in a moment.", 500)


# --- Rendering -------------------------------------------------------------------------------------------------

def _render(template: str, status: int = 200, **context):
    payer = g.get("payer")
    org = payer.org if payer else None
    branding = {"org": org, "payer": payer,
                "brand_color": service.brand_color(org) if org else None,
                "has_logo": bool(org and service.logo_file(org, Path(current_app.config["UPLOAD_DIR"])))}
    return make_response(render_template(template, **branding, **context), status)


def _message_page(title: str, message: str, status: int, **context):
    return _render("portal/message.html", status, title=title, message=message, **context)


def _ended():
    return _message_page("Your session has ended",
                         f"For your security this page closes after {_session_seconds() // 60} minutes without "
                         "activity. To continue, open the link in the e-mail from us again.", 403,
                         thanks=CHECKOUT_NOTICES["paid"] if request.args.get("checkout") == "paid" else None)


def _home(status: int = 200, failed: str | None = None, error: ActionError | None = None):
    payer = g.payer
    return _render("portal/home.html", status, overview=service.overview(db.session, payer),
                   pays_online=service.pays_online(db.session, payer),
                   today=local_today(payer.org.time_zone),
                   reasons={rule.key: rule.label for rule in reasons_of(db.session, payer.org.id)},
                   reason_names=reason_labels(db.session, payer.org.id),
                   plan_labels=service.PLAN_STATUS_LABELS, dispute_labels=service.DISPUTE_STATUS_LABELS,
                   plan_rows=PLAN_ROWS, max_installments=MAX_PLAN_INSTALLMENTS,
                   notice=NOTICES.get(request.args.get("done", "")),
                   checkout=CHECKOUT_NOTICES.get(request.args.get("checkout", "")),
                   failed=failed, error=error, values=request.form if failed else MultiDict())


def _refused(failed: str, error: ActionError, status: int = 422):
    """The page again with the message at the form that failed; nothing was changed."""
    return _home(status, failed, error)


def _act(form_name: str, action: Callable[[], object], done: Callable[[object], str]):
    """Run one payer action: committed and redirected to the page with its notice, or refused with a message."""
    return change(action, lambda result: redirect(url_for("portal.home", done=done(result)), 303),
                  lambda error: _refused(form_name, error))


# --- Input -------------------------------------------------------------------------------------------------------

def _own_invoice(raw: str) -> Invoice:
    invoice = service.payer_invoice(db.session, g.payer, parse_id(raw))
    if invoice is None:
        abort(404)  # another customer's or workspace's invoice: as if it did not exist
    return invoice


def _chosen_invoice() -> Invoice:
    raw = request.form.get("invoice_id", "").strip()
    if not raw:
        raise ActionError("Choose the invoice.", "invoice_id")
    return _own_invoice(raw)


def _evidence() -> tuple[str, bytes] | None:
    upload = request.files.get("evidence")
    if upload is None or not upload.filename:
        return None
    return upload.filename, upload.read(MAX_EVIDENCE_BYTES + 1)  # one byte over is enough to refuse it


# --- Pages -------------------------------------------------------------------------------------------------------

@bp.route("/<token>")
@public
@limiter.limit(_page_limit)
@limiter.limit(_page_limit, key_func=_payer_key)
def open_link(token: str):
    try:
        claim = read_portal_token(token)
    except LinkError as refused:
        return _message_page("Link not valid", str(refused), 410 if isinstance(refused, ExpiredLinkError) else 404)
    _enter_workspace(claim.org_id)
    try:
        service.find_payer(db.session, claim)
    except LinkError as refused:
        return _message_page("Link no longer valid", str(refused), 410)
    response = redirect(url_for("portal.home"), 303)
    _set_cookie(response, claim, int(time.time()), secrets.randbits(62))
    return response


@bp.route("")
@public
@limiter.limit(_page_limit)
def home():
    return _home()


@bp.route("/opt-out")
@public
@limiter.limit(_page_limit)
def confirm_opt_out():
    return _render("portal/opt_out.html", opted_out=service.opted_out(db.session, g.payer))


@bp.route("/brand.css")
@public
def brand_stylesheet():
    color = service.brand_color(g.payer.org)
    ink = service.readable_ink(color) if color else ""
    response = make_response(f":root {{ --portal-accent: {color}; --portal-accent-ink: {ink}; }}\n" if color else "")
    response.mimetype = "text/css"
    return response


@bp.route("/logo")
@public
def logo():
    found = service.logo_file(g.payer.org, Path(current_app.config["UPLOAD_DIR"]))
    if found is None:
        abort(404)
    path, mimetype = found
    return send_file(path, mimetype=mimetype, max_age=0)


# --- Actions -----------------------------------------------------------------------------------------------------

@bp.post("/pay")
@public
@limiter.limit(_action_limit)
@limiter.limit(_action_limit, key_func=_payer_key)
def pay():
    chosen = list(dict.fromkeys(request.form.getlist("invoice_id")))[:MAX_PAY_SELECTION]
    if not chosen:
        return _refused("pay", ActionError("Choose the invoices you want to pay.", "invoice_id"))
    invoices = [_own_invoice(raw) for raw in chosen]
    if not service.pays_online(db.session, g.payer):  # the page offers no Pay button then: a forged request
        return _refused("pay", ActionError(service.no_online_payment(g.payer), "invoice_id"), status=409)
    try:
        url = start_checkout(db.session, g.payer.org, g.payer.customer, invoices, public_url("portal.home"))
    except CheckoutError as refused:
        db.session.commit()  # what was learnt on the way (a page expired, Stripe's refusal) stays recorded
        return _refused("pay", ActionError(str(refused), "invoice_id"), status=409)
    db.session.commit()
    return redirect(url, 303)


@bp.post("/plan")
@public
@limiter.limit(_action_limit)
@limiter.limit(_action_limit, key_func=_payer_key)
def propose_plan():
    def act():
        invoice = _chosen_invoice()
        installments = plans.installments_from_form(request.form.getlist("installment_date"),
                                                    request.form.getlist("installment_amount"), invoice.currency,
                                                    MAX_PLAN_INSTALLMENTS)
        return service.propose_plan(db.session, g.payer, invoice, installments, utcnow())

    return _act("plan", act, lambda plan: "plan_accepted" if plan.status == "accepted" else "plan_pending")


@bp.post("/dispute")
@public
@limiter.limit(_action_limit)
@limiter.limit(_action_limit, key_func=_payer_key)
def open_dispute():
    def act():
        invoice = _chosen_invoice()
        return service.open_dispute(db.session, g.payer, invoice, request.form.get("reason", ""),
                                    request.form.get("message", ""), _evidence(), evidence_dir(), utcnow())

    return _act("dispute", act, lambda _dispute: "dispute")


@bp.post("/promise")
@public
@limiter.limit(_action_limit)
@limiter.limit(_action_limit, key_func=_payer_key)
def log_promise():
    def act():
        invoice = _chosen_invoice()
        raw = request.form.get("amount", "").strip()
        amount = parse_amount_input(raw, invoice.currency)
        if raw and amount is None:
            raise ActionError("Enter the amount as a number, such as 1250.00.", "amount")
        return service.log_promise(db.session, g.payer, invoice, amount, parse_date(request.form.get("promised_date")),
                                   utcnow())

    return _act("promise", act, lambda _promise: "promise")


@bp.post("/opt-out")
@public
@limiter.limit(_action_limit)
@limiter.limit(_action_limit, key_func=_payer_key)
def opt_out():
    if request.form.get("confirm") != "yes":
        return _render("portal/opt_out.html", 422, opted_out=False,
                       error="Confirm that you want to stop payment reminders.")
    return _act("opt_out", lambda: service.opt_out(db.session, g.payer, utcnow()), lambda _hold: "opted_out")


@bp.post("/leave")
@public
def leave():
    found = _session()
    if found is not None:
        _end_session(found[2])
    g.portal_cookie = "clear"
    return _message_page("You have left the page", "To come back, open the link in the e-mail again.", 200)
