"""Account e-mails: the answer to a sign-up request."""

from __future__ import annotations

from flask import current_app

from plixo.accounts.models import SignupRequest
from plixo.accounts.signup import write_sign_up_mail
from plixo.accounts.system_mail import send_account_message
from plixo.extensions import db
from plixo.tenancy import unscoped


def send_sign_up_mail(request_id: int) -> None:
    """E-mail the link (or, for a registered address, the notice). Marked mailed only once the relay took it,
    so a failed attempt is retried with a fresh link and a retry after success sends nothing."""
    with unscoped():  # a sign-up belongs to no workspace yet
        request = db.session.get(SignupRequest, request_id)
        message = write_sign_up_mail(db.session, request, current_app.config) if request is not None else None
        if message is None:
            db.session.rollback()
            return
        try:
            send_account_message(current_app.config, message)
        except Exception:
            db.session.rollback()
            raise
        db.session.commit()
