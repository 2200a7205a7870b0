"""Admin → Connectors → Email: connect the finance inbox, see its state, read replies now, disconnect."""

from __future__ import annotations

import hmac

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user

from plixo.extensions import db
from plixo.htmx import change
from plixo.integrations.mail import gmail
from plixo.integrations.mail.microsoft import MicrosoftError, finish_sign_in, start_sign_in
from plixo.integrations.mail.outcomes import ProviderError
from plixo.mail import inbox
from plixo.mail.inbox import InboxError
from plixo.model import utcnow
from plixo.replies.intake import fetch_replies
from plixo.security import requires

bp = Blueprint("inbox", __name__, url_prefix="/admin/connectors/email")
MICROSOFT_FLOW_KEY = "microsoft_sign_in"
GMAIL_FLOW_KEY = "gmail_sign_in"


@bp.route("")
@requires("connectors.manage")
def connector():
    connection = inbox.last_email_connection(db.session, g.org.id)
    return _page(connection, _form_values(connection), {},
                 confirm_disconnect=request.args.get("confirm") == "disconnect",
                 reauthorise=request.args.get("reauthorise") == "1")


def _page(connection, form: dict, errors: dict, confirm_disconnect: bool = False, reauthorise: bool = False):
    return render_template("mail/inbox.html", connection=connection, providers=inbox.PROVIDERS, form=form,
                           errors=errors, confirm_disconnect=confirm_disconnect, reauthorise=reauthorise,
                           microsoft_available=inbox.microsoft_app() is not None,
                           gmail_available=inbox.google_app() is not None)


def _form_values(connection) -> dict:
    if connection is not None and connection.provider == "smtp":
        return dict(connection.settings or {})
    return {"smtp_port": 587, "imap_port": 993}


@bp.route("/smtp", methods=["POST"])
@requires("connectors.manage")
def connect_mail_servers():
    connection = inbox.last_email_connection(db.session, g.org.id)
    kept = connection.settings if connection is not None and connection.provider == "smtp" else {}
    kept_password = inbox.secrets_of(connection).get("password", "") if kept else ""

    def refused(error: InboxError):
        typed = {name: request.form.get(name, "")[:320] for name in
                 ("address", "display_name", "smtp_host", "smtp_port", "imap_host", "imap_port", "username")}
        return _page(inbox.last_email_connection(db.session, g.org.id), typed,
                     {error.field or "form": str(error)}, reauthorise=True), 422

    return change(lambda: inbox.connect_mail_servers(db.session, g.org, current_user,
                                                     inbox.mail_server_settings(request.form, kept, kept_password),
                                                     utcnow()), _connected, refused)


@bp.route("/microsoft", methods=["POST"])
@requires("connectors.manage")
def start_microsoft():
    app = inbox.microsoft_app()
    if app is None:
        flash("Microsoft 365 is not set up on this server (MS_CLIENT_ID and MS_CLIENT_SECRET).", "warning")
        return _back_to_connector()
    try:
        flow = start_sign_in(app, url_for("inbox.finish_microsoft", _external=True))
    except MicrosoftError as failed:
        flash(str(failed), "error")
        return _back_to_connector()
    session[MICROSOFT_FLOW_KEY] = {"flow": {k: v for k, v in flow.items() if k != "auth_uri"}, "org_id": g.org.id}
    return redirect(flow["auth_uri"])


@bp.route("/microsoft/callback")
@requires("connectors.manage")
def finish_microsoft():
    return _finish_sign_in(MICROSOFT_FLOW_KEY, "Microsoft", "Microsoft 365", lambda flow: inbox.connect_microsoft(
        db.session, g.org, current_user, finish_sign_in(inbox.microsoft_app(), flow, request.args.to_dict()),
        utcnow()))


@bp.route("/gmail", methods=["POST"])
@requires("connectors.manage")
def start_gmail():
    app = inbox.google_app()
    if app is None:
        flash("Gmail is not set up on this server (GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET).", "warning")
        return _back_to_connector()
    url, saved = gmail.start_sign_in(app, url_for("inbox.finish_gmail", _external=True))
    session[GMAIL_FLOW_KEY] = {"flow": saved, "org_id": g.org.id}
    return redirect(url)


@bp.route("/gmail/callback")
@requires("connectors.manage")
def finish_gmail():
    return _finish_sign_in(GMAIL_FLOW_KEY, "Google", "Gmail", lambda flow: inbox.connect_gmail(
        db.session, g.org, current_user, gmail.finish_sign_in(inbox.google_app(), flow, request.args.to_dict()),
        utcnow()))


def _finish_sign_in(flow_key: str, signer: str, product: str, connect):
    """The provider sends the person back here: only to the sign-in this browser started from this workspace, and
    only with an answer that is not a refusal, is the mailbox connected."""
    started = session.pop(flow_key, None) or {}
    flow = started.get("flow") or {}
    same = bool(flow.get("state")) and hmac.compare_digest(str(flow["state"]), request.args.get("state", ""))
    if not same or started.get("org_id") != g.org.id:
        flash(f"That {signer} sign-in was not started from this workspace, or took too long. Please start again.",
              "error")
    elif request.args.get("error"):
        flash(f"{product} was not connected: "
              f"{request.args.get('error_description') or request.args['error']}"[:500], "warning")
    else:
        return change(lambda: connect(flow), _connected, _flash_refusal, refusals=(InboxError, ProviderError))
    return _back_to_connector()


def _back_to_connector():
    return redirect(url_for("inbox.connector"))


def _flash_refusal(error: Exception):
    flash(str(error), "error")
    return _back_to_connector()


def _connected(connection):
    flash(f"{connection.display_name} connected: reminders are sent from it and its replies are read every two "
          "minutes.", "success")
    return _back_to_connector()


@bp.route("/sync", methods=["POST"])
@requires("connectors.manage")
def read_replies_now():
    connection = inbox.email_connection(db.session, g.org.id)
    if connection is None:
        flash("No inbox is connected.", "error")
        return _back_to_connector()
    count = fetch_replies(db.session, g.org, connection, utcnow())
    db.session.commit()
    if connection.status == "error":
        flash(connection.last_error, "error")
    else:
        flash(f"{count} new e-mail{'' if count == 1 else 's'} read." if count else "No new e-mails.", "success")
    return _back_to_connector()


@bp.route("/disconnect", methods=["POST"])
@requires("connectors.manage")
def disconnect():
    if request.form.get("confirm") != "yes":
        return redirect(url_for("inbox.connector", confirm="disconnect"))

    def disconnected(connection):
        flash(connection.last_error or f"{connection.display_name} disconnected. Scheduled e-mails wait until an "
              "inbox is connected again.", "warning" if connection.last_error else "success")
        return _back_to_connector()

    return change(lambda: inbox.disconnect_inbox(db.session, g.org, current_user, request.form.get("reason", "")),
                  disconnected, _flash_refusal)
