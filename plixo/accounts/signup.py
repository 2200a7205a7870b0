"""Sign-up in two steps: the form asks, a link e-mailed to the address finishes.

The form answers the same for every address, new or already registered, and takes as long either way; only the
mailbox's owner learns which it was. A new address gets a link that creates the workspace; a registered one gets a
notice that nothing was created and where to sign in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from email.message import EmailMessage

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plixo.accounts import service
from plixo.accounts.models import Membership, Organization, SignupRequest, User
from plixo.accounts.system_mail import account_message
from plixo.model import utcnow
from plixo.values import typed_name

LINK_VALID = dt.timedelta(hours=24)
# An address gets at most this many sign-up e-mails a day, however often someone types it into the form.
MAX_MAILS_PER_ADDRESS_PER_DAY = 5


def request_sign_up(session: Session, *, email: str, password: str, workspace_name: str, name: str,
                    time_zone: str, base_currency: str, referral_code: str = "") -> SignupRequest:
    """Record a sign-up to be proven by e-mail. Known and new addresses are recorded alike."""
    email = service.normalise_email(email)
    service.check_work_email(email)
    service.check_password(password)
    password_hash = service.hash_password(password)  # hashed for a known address too: both answers take as long
    known = service.find_user(session, email) is not None
    request = SignupRequest(
        email=email, known_account=known, password_hash=None if known else password_hash,
        details={"workspace_name": typed_name(workspace_name), "name": typed_name(name), "time_zone": time_zone,
                 "base_currency": base_currency, "referral_code": (referral_code or "").strip().upper()},
        expires_at=utcnow() + LINK_VALID,
    )
    session.add(request)
    session.flush()
    return request


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mails_today(session: Session, email: str) -> int:
    since = utcnow() - dt.timedelta(days=1)
    return session.scalar(select(func.count()).select_from(SignupRequest).where(
        SignupRequest.email == email, SignupRequest.mailed_at >= since))


def write_sign_up_mail(session: Session, request: SignupRequest, config) -> EmailMessage | None:
    """The e-mail answering a sign-up request (marking it mailed), or None when there is nothing to send:
    already mailed, expired, or the address has had its day's share."""
    if request.mailed_at is not None or request.expires_at <= utcnow():
        return None
    if _mails_today(session, request.email) >= MAX_MAILS_PER_ADDRESS_PER_DAY:
        return None
    base_url = config["PUBLIC_BASE_URL"]
    if request.known_account:
        message = _known_account_message(session, request, config, base_url)
    else:
        token = secrets.token_urlsafe(32)
        request.token_hash = _token_hash(token)
        message = _finish_message(request, config, f"{base_url}/signup/finish/{token}")
    request.mailed_at = utcnow()
    return message


def _finish_message(request: SignupRequest, config, link: str) -> EmailMessage:
    details = request.details
    body = (
        f"Hello {details['name']},\n\n"
        f"To finish creating the workspace \u201c{details['workspace_name']}\u201d on Plixo, open this link within "
        f"{int(LINK_VALID.total_seconds() // 3600)} hours:\n\n{link}\n\n"
        "Nothing is created until the link is opened. If you did not ask for this, ignore this e-mail.\n"
    )
    return account_message(config, to=request.email, subject="Finish creating your Plixo workspace", body=body)


def _known_account_message(session: Session, request: SignupRequest, config, base_url: str) -> EmailMessage:
    user = service.find_user(session, request.email)
    greeting = f"Hello {user.name}," if user is not None else "Hello,"
    # Nothing the form's author typed is repeated here: this reaches someone who did not necessarily fill it in.
    body = (
        f"{greeting}\n\n"
        "Someone, perhaps you, asked to create a new Plixo workspace with this e-mail address. It already has a "
        "Plixo account, so nothing was created and your account is unchanged.\n\n"
        f"To open your workspace, sign in at {base_url}/login\n\n"
        "If it was not you, you can ignore this e-mail.\n"
    )
    return account_message(config, to=request.email, subject="Your Plixo account: a sign-up attempt", body=body)


def find_pending(session: Session, token: str) -> SignupRequest | None:
    """The request a sign-up link names, while it can still finish; else None."""
    request = session.execute(
        select(SignupRequest).where(SignupRequest.token_hash == _token_hash(token))
    ).scalar_one_or_none()
    if request is None or request.known_account or request.completed_at or request.expires_at <= utcnow():
        return None
    return request


def finish_sign_up(session: Session, request: SignupRequest) -> tuple[Organization, User, Membership]:
    """Create the workspace the request describes; the link can be used once."""
    password_hash, details = request.password_hash, request.details  # read before the claim clears the hash
    claimed = session.execute(  # conditional, so two presses of the same link cannot both get through
        update(SignupRequest).where(SignupRequest.id == request.id, SignupRequest.completed_at.is_(None))
        .values(completed_at=utcnow(), password_hash=None).execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise service.AccountError("This link has already been used. Sign in instead.")
    made = service.create_workspace(
        session, email=request.email, name=details["name"], password_hash=password_hash,
        workspace_name=details["workspace_name"], time_zone=details["time_zone"],
        base_currency=details["base_currency"], referral_code=details.get("referral_code", ""))
    return made
