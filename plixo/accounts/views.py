"""Sign-in, sign-up, invitations and Admin → Users & Roles."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import getaddresses
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from plixo.accounts import service, settings
from plixo.accounts import session as session_hooks
from plixo.accounts import signup as signup_flow
from plixo.accounts.forms import AcceptInviteForm, InviteForm, LoginForm, RoleForm, SignupForm
from plixo.accounts.models import Invite, Membership, Organization
from plixo.accounts.session import end_session, start_session
from plixo.background import DEFAULT, enqueue
from plixo.devmail import received_messages
from plixo.extensions import db, htmx, limiter
from plixo.htmx import change, render_page_or_block, toast
from plixo.money import ISO_CURRENCIES
from plixo.params import parse_id
from plixo.payments.connector import active_connection
from plixo.security import ROLES, public, requires
from plixo.tenancy import get_or_404

bp = Blueprint("accounts", __name__)


def _login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None, landing: str | None = None) -> str:
    # Only same-site paths: an absolute or protocol-relative URL would be an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return landing or url_for("insights.home")


def _landing(role: str | None) -> str:
    """Where a member starts: the CFO on the console, everyone else on Home."""
    return url_for("overview.overview") if role == "cfo" else url_for("insights.home")


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_rate_limit, methods=["POST"])
def login():
    if current_user.is_authenticated and g.membership is not None:
        return redirect(_landing(g.membership.role))
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(db.session, form.email.data, form.password.data)
        if user is None:
            db.session.commit()  # keeps the audit of a failed attempt on a known account
            form.password.errors.append("That e-mail and password do not match an active account.")
        else:
            membership = service.default_membership(db.session, user)
            service.record_login(db.session, user, membership)
            db.session.commit()
            start_session(user, membership)
            return redirect(_safe_next(request.args.get("next"), _landing(membership.role if membership else None)))
    return render_template("accounts/login.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/logout", methods=["POST"])
@requires("workspace.view")
def logout():
    service.record_logout(db.session, current_user, g.org.id)
    db.session.commit()
    end_session()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/signup", methods=["GET", "POST"])
@public
@limiter.limit(_login_rate_limit, methods=["POST"])
def signup():
    form = SignupForm()
    if not form.validate_on_submit():
        return render_template("accounts/signup.html", form=form), 200 if request.method == "GET" else 422

    def asked(made):
        enqueue(DEFAULT, "jobs.accounts.send_sign_up_mail", made.id)
        session["signup_email"] = made.email
        return redirect(url_for("accounts.signup_sent"), 303)

    def refused(error):
        form.email.errors.append(error.message)
        return render_template("accounts/signup.html", form=form), 422

    return change(lambda: signup_flow.request_sign_up(
        db.session, workspace_name=form.workspace_name.data, name=form.name.data, email=form.email.data,
        password=form.password.data, time_zone=form.time_zone.data, base_currency=form.base_currency.data,
        referral_code=form.referral_code.data or ""), asked, refused)


@bp.route("/signup/sent")
@public
def signup_sent():
    """The same answer for every address: whether it was new or known is told only to its mailbox."""
    email = session.get("signup_email")
    if not email:
        return redirect(url_for("accounts.signup"))
    return render_template("accounts/signup_sent.html", email=email,
                           dev_mail=bool(current_app.config.get("DEV_OUTBOX_DIR")),
                           hours=int(signup_flow.LINK_VALID.total_seconds() // 3600))


@bp.route("/signup/finish/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_login_rate_limit, methods=["POST"])
def finish_signup(token: str):
    # Opening the link only shows what will be created; the button creates it, so a mail scanner that follows
    # links cannot use it up.
    pending = signup_flow.find_pending(db.session, token)
    if pending is None:
        return render_template("accounts/signup_link_invalid.html"), 404
    if request.method == "GET":
        return render_template("accounts/signup_finish.html", pending=pending)

    def welcome(made):
        _org, user, membership = made
        start_session(user, membership)
        flash(f"Welcome to Plixo. {made[0].name} is ready.", "success")
        return redirect(url_for("insights.home"), 303)

    def refused(error):
        flash(error.message, "error")
        return redirect(url_for("accounts.login"), 303)

    return change(lambda: signup_flow.finish_sign_up(db.session, pending), welcome, refused)


@bp.route("/dev/mail")
@public
def dev_mail():
    """Development only: the sink's e-mails to the address just used to sign up, so a local sign-up can finish."""
    directory = current_app.config.get("DEV_OUTBOX_DIR")
    email = session.get("signup_email")
    if not directory or not email:
        abort(404)
    messages = [m for m in received_messages(directory)
                if email in {address.lower() for _name, address in getaddresses([m["to"] or ""])}]
    return render_template("accounts/dev_mail.html", messages=messages, email=email)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_login_rate_limit, methods=["POST"])
def accept_invite(token: str):
    invite = service.find_invite(db.session, token)
    if invite is None:
        return render_template("accounts/invite_invalid.html"), 404
    form = AcceptInviteForm()

    def page(status: int):
        return render_template("accounts/accept_invite.html", form=form, invite=invite,
                               org_name=_invite_org_name(invite)), status

    if not form.validate_on_submit():
        return page(200 if request.method == "GET" else 422)

    def joined(made):
        start_session(*made)
        flash("You have joined the workspace.", "success")
        return redirect(url_for("insights.home"))

    def refused(error):
        form.password.errors.append(error.message)
        return page(422)

    return change(lambda: service.accept_invite(db.session, invite, name=form.name.data, password=form.password.data),
                  joined, refused)


def _invite_org_name(invite: Invite) -> str:
    return db.session.get(Organization, invite.org_id).name


@bp.route("/workspace/switch", methods=["POST"])
@requires("workspace.view")
def switch_workspace():
    org_id = parse_id(request.form.get("org_id"))
    membership = service.active_membership_in(db.session, current_user, org_id) if org_id else None
    if membership is None:
        abort(404)
    service.record_switch(db.session, current_user, membership)
    db.session.commit()
    session_hooks.switch_workspace(membership)
    flash(f"Switched to {db.session.get(Organization, membership.org_id).name}.", "success")
    return redirect(url_for("insights.home"))


# --- Admin → Users & Roles -------------------------------------------------------------------


def _team_context(invite_form: InviteForm | None = None, invite_link: str | None = None) -> dict:
    members = db.session.scalars(
        select(Membership).order_by(Membership.is_active.desc(), Membership.created_at)
    ).all()
    invites = service.pending_invites(db.session)
    return {
        "members": members, "invites": invites, "roles": ROLES,
        "invite_form": invite_form or InviteForm(formdata=None), "invite_link": invite_link,
    }


def _team_response(message: str | None = None, level: str = "success", status: int = 200, **context):
    response = make_response(render_page_or_block("accounts/users.html", "team", **_team_context(**context)), status)
    if message:
        toast(response, message, level)
    return response


@bp.route("/admin/users")
@requires("users.manage")
def users():
    return render_template("accounts/users.html", **_team_context())


@bp.route("/admin/users/invites", methods=["POST"])
@requires("users.manage")
def invite_user():
    form = InviteForm()
    if not form.validate_on_submit():
        return _team_response("Check the invite form.", "error", 422, invite_form=form)

    def refused(error):
        form.email.errors.append(error.message)
        return _team_response("Check the invite form.", "error", 422, invite_form=form)

    def created(made):
        invite, token = made
        link = url_for("accounts.accept_invite", token=token, _external=True)
        return _team_response(f"Invite created for {invite.email}.", invite_link=link)

    return change(lambda: service.invite_member(
        db.session, org_id=g.org.id, actor=current_user, email=form.email.data, role=form.role.data,
        valid_days=current_app.config["INVITE_VALID_DAYS"]), created, refused)


def _team_change(call: Callable[[], None], success: str):
    """Apply a team change: commit and confirm it, or roll back and explain why it was refused."""
    return change(call, lambda _done: _team_response(success),
                  lambda error: _team_response(error.message, "error", 409))


@bp.route("/admin/users/invites/<int:invite_id>/revoke", methods=["POST"])
@requires("users.manage")
def revoke_invite(invite_id: int):
    invite = get_or_404(db.session, Invite, invite_id)
    return _team_change(lambda: service.revoke_invite(db.session, invite=invite, actor=current_user),
                        f"Invite for {invite.email} revoked.")


@bp.route("/admin/users/members/<int:membership_id>/role", methods=["POST"])
@requires("users.manage")
def change_role(membership_id: int):
    membership = get_or_404(db.session, Membership, membership_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _team_response("Choose one of the listed roles.", "error", 422)
    role = form.role.data
    return _team_change(
        lambda: service.change_role(db.session, membership=membership, role=role, actor=current_user),
        f"{membership.user.name} is now {ROLES[role]}.")


@bp.route("/admin/users/members/<int:membership_id>/deactivate", methods=["POST"])
@requires("users.manage")
def deactivate_member(membership_id: int):
    membership = get_or_404(db.session, Membership, membership_id)
    return _team_change(lambda: service.deactivate_member(db.session, membership=membership, actor=current_user),
                        f"{membership.user.name} no longer has access.")


@bp.route("/admin/users/members/<int:membership_id>/reactivate", methods=["POST"])
@requires("users.manage")
def reactivate_member(membership_id: int):
    membership = get_or_404(db.session, Membership, membership_id)
    return _team_change(lambda: service.reactivate_member(db.session, membership=membership, actor=current_user),
                        f"{membership.user.name} has access again.")


# --- Admin → Workspace settings --------------------------------------------------------------------------------


def _upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def _settings_page(typed: settings.SettingsInput | None = None, errors: dict[str, str] | None = None,
                   status: int = 200):
    org = g.org
    return render_template(
        "accounts/workspace.html", values=typed or settings.settings_of(org), errors=errors or {},
        effects=settings.EFFECTS, labels=settings.FIELD_LABELS, time_zones=settings.time_zones(),
        currencies=sorted(ISO_CURRENCIES), max_logo_kb=settings.MAX_LOGO_BYTES // 1024,
        has_logo=bool(org.logo_path and logo_kind_of(org)),
        stripe_connected=active_connection(db.session, org.id) is not None), status


def logo_kind_of(org: Organization) -> str | None:
    """The media type of the workspace's stored logo, when it is there and still a PNG or JPEG."""
    path = _logo_path(org)
    if path is None:
        return None
    with path.open("rb") as handle:
        kind = settings.logo_kind(handle.read(8))
    return kind[1] if kind else None


def _logo_path(org: Organization) -> Path | None:
    if not org.logo_path:
        return None
    root = _upload_dir().resolve()
    path = (root / org.logo_path).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


@bp.route("/admin/workspace", methods=["GET", "POST"])
@requires("workspace.settings")
def workspace_settings():
    if request.method == "GET":
        return _settings_page()
    typed = settings.SettingsInput(**{name: request.form.get(name, "") for name in settings.FIELD_LABELS})
    org = g.org

    def saved(changes: dict):
        if changes:
            names = ", ".join(settings.FIELD_LABELS[name].lower() for name in changes)
            flash(f"Workspace settings saved: {names}.", "success")
        else:
            flash("Nothing changed.", "info")
        return redirect(url_for("accounts.workspace_settings"), 303)

    def refused(error):
        errors = getattr(error, "errors", None) or {error.field or "name": error.message}
        flash("Nothing was saved: check the fields marked below.", "error")
        return _settings_page(typed, errors, 422)

    return change(lambda: settings.update_settings(db.session, org, current_user, typed), saved, refused)


@bp.post("/admin/workspace/logo")
@requires("workspace.settings")
def upload_logo():
    upload = request.files.get("logo")
    data = upload.read(settings.MAX_LOGO_BYTES + 1) if upload is not None and upload.filename else b""
    org = g.org

    def saved(replaced: str | None):
        settings.discard_logo_file(_upload_dir(), replaced)
        flash("Logo saved. The payer portal shows it from now on.", "success")
        return redirect(url_for("accounts.workspace_settings"), 303)

    def refused(error):
        return _settings_page(errors={"logo": error.message}, status=422)

    return change(lambda: settings.store_logo(db.session, org, current_user, data, _upload_dir()), saved, refused)


@bp.post("/admin/workspace/logo/remove")
@requires("workspace.settings")
def remove_logo():
    org = g.org

    def removed(removed_file: str):
        settings.discard_logo_file(_upload_dir(), removed_file)
        flash("Logo removed. The payer portal shows the workspace name alone.", "success")
        if htmx:  # confirmed in the browser (hx-confirm): the page reloads with the flash
            response = make_response("", 204)
            response.headers["HX-Redirect"] = url_for("accounts.workspace_settings")
            return response
        return redirect(url_for("accounts.workspace_settings"), 303)

    def refused(error):
        return _settings_page(errors={"logo": error.message}, status=409)

    return change(lambda: settings.remove_logo(db.session, org, current_user), removed, refused)


@bp.route("/admin/workspace/logo")
@requires("workspace.view")
def workspace_logo():
    path, kind = _logo_path(g.org), logo_kind_of(g.org)
    if path is None or kind is None:
        abort(404)
    return send_file(path, mimetype=kind, max_age=0)
