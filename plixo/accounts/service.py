"""Workspaces, sign-in, invitations and roles."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import unicodedata
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.free_mail import is_free_mail
from plixo.accounts.models import Invite, Membership, Organization, Policy, User
from plixo.actions import ActionError
from plixo.model import utcnow
from plixo.security import ROLES, role_can
from plixo.tenancy import tenant_scope, unscoped
from plixo.values import typed_name

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
MIN_PASSWORD_LENGTH = 12


class AccountError(ActionError):
    """A request that breaks an account rule; the message is shown to the user."""


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_work_email(email: str) -> None:
    """Refuse consumer mailbox domains (work-domain addresses only)."""
    if is_free_mail(email):
        domain = email.rsplit("@", 1)[-1]
        raise AccountError(f"Use a work address: {domain} is a personal mail provider.")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use at least {MIN_PASSWORD_LENGTH} characters.")


def find_user(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(User.email == normalise_email(email))).scalar_one_or_none()


@cache
def _dummy_hash() -> str:
    # Verified against when the e-mail is unknown, so a miss costs as much as a wrong password. Made on first use:
    # every process importing this module (each job worker) would otherwise pay for a hash it never needs.
    return _hasher.hash("not-a-real-password")


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user with this e-mail and password who still belongs to an active workspace, else None."""
    user = find_user(session, email)
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        if user is not None:
            _record_failed_sign_in(session, user)
        return None
    if user is None or default_membership(session, user) is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _record_failed_sign_in(session: Session, user: User) -> None:
    membership = default_membership(session, user)
    if membership is not None:
        with tenant_scope(membership.org_id):
            audit.record(session, org_id=membership.org_id, actor="sign-in form", action="accounts.sign_in_failed",
                         subject=user, reason="wrong password")
            session.flush()


def record_logout(session: Session, user: User, org_id: int) -> None:
    """Audit a sign-out in the workspace it closed."""
    audit.record(session, org_id=org_id, actor=user, action="accounts.signed_out", subject=user)


def record_switch(session: Session, user: User, membership: Membership) -> None:
    """Audit entering another workspace (recorded in the workspace entered)."""
    with tenant_scope(membership.org_id):
        audit.record(session, org_id=membership.org_id, actor=user, action="accounts.workspace_switched",
                     subject=membership)
        session.flush()


def default_membership(session: Session, user: User) -> Membership | None:
    """The active membership a sign-in lands in (the most recently joined workspace)."""
    with unscoped():
        return session.execute(
            select(Membership)
            .where(Membership.user_id == user.id, Membership.is_active.is_(True))
            .order_by(Membership.created_at.desc(), Membership.id.desc())
            .limit(1)
        ).scalar_one_or_none()


def record_login(session: Session, user: User, membership: Membership) -> None:
    """Stamp the sign-in and audit it in the workspace it opened."""
    user.last_login_at = utcnow()
    with tenant_scope(membership.org_id):
        audit.record(session, org_id=membership.org_id, actor=user, action="accounts.signed_in", subject=user)
        session.flush()  # inside the scope: the flush guard checks the workspace of what it writes


def create_workspace(
    session: Session,
    *,
    email: str,
    name: str,
    password_hash: str,
    workspace_name: str,
    time_zone: str,
    base_currency: str,
    referral_code: str = "",
) -> tuple[Organization, User, Membership]:
    """Create a workspace, its first user as controller, and default guardrails (the address is proven)."""
    if find_user(session, email):
        raise AccountError("This address already has a Plixo account. Sign in instead.")
    org = Organization(
        name=workspace_name,
        slug=unique_slug(session, workspace_name),
        legal_name=workspace_name,
        time_zone=time_zone,
        base_currency=base_currency,
        referral_code=referral_code.strip().upper() or None,
    )
    user = User(email=normalise_email(email), name=name, password_hash=password_hash)
    session.add_all([org, user])
    session.flush()
    with tenant_scope(org.id):
        membership = Membership(org_id=org.id, user_id=user.id, role="controller")
        session.add_all([membership, Policy(org_id=org.id)])
        session.flush()
        audit.record(
            session, org_id=org.id, actor=user, action="accounts.workspace_created", subject=org,
            after={"name": org.name, "time_zone": time_zone, "base_currency": base_currency,
                   "referral_code": org.referral_code},
        )
        session.flush()
    return org, user, membership


def pending_invites(session: Session, email: str | None = None) -> list[Invite]:
    """The workspace's invites that can still be accepted, newest first."""
    query = (select(Invite)
             .where(Invite.accepted_at.is_(None), Invite.revoked_at.is_(None), Invite.expires_at > utcnow())
             .order_by(Invite.created_at.desc()))
    if email is not None:
        query = query.where(Invite.email == email)
    return list(session.scalars(query))


def slugify(text: str) -> str:
    """A URL- and shell-safe handle from a name: "Acme Robotics, Inc." -> "acme-robotics-inc"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "workspace"


def unique_slug(session: Session, name: str) -> str:
    """A workspace slug from its name, numbered when already taken."""
    base = slugify(name)
    taken = set(session.scalars(select(Organization.slug).where(Organization.slug.like(f"{base}%"))))
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_member(
    session: Session, *, org_id: int, actor: User, email: str, role: str, valid_days: int = 7
) -> tuple[Invite, str]:
    """Invite an e-mail address to the workspace with a role; returns the invite and its secret token."""
    email = normalise_email(email)
    check_work_email(email)
    if role not in ROLES:
        raise AccountError("Choose a role.")
    existing = find_user(session, email)
    if existing and session.execute(
        select(Membership).where(Membership.user_id == existing.id)
    ).scalar_one_or_none():
        raise AccountError(f"{email} is already a member of this workspace.")
    for pending in pending_invites(session, email=email):
        pending.revoked_at = utcnow()  # a new invite replaces any older link
        audit.record(session, org_id=org_id, actor=actor, action="accounts.invite_revoked", subject=pending,
                     before={"email": pending.email, "role": pending.role}, reason="replaced by a new invite")
    token = secrets.token_urlsafe(32)
    invite = Invite(
        org_id=org_id, email=email, role=role, token_hash=_token_hash(token), invited_by_id=actor.id,
        expires_at=utcnow() + dt.timedelta(days=valid_days),
    )
    session.add(invite)
    session.flush()
    audit.record(session, org_id=org_id, actor=actor, action="accounts.invite_sent", subject=invite,
                 after={"email": email, "role": role})
    return invite, token


def find_invite(session: Session, token: str) -> Invite | None:
    """The pending invite for a token (any workspace), or None if unknown, used, revoked or expired."""
    with unscoped():
        invite = session.execute(select(Invite).where(Invite.token_hash == _token_hash(token))).scalar_one_or_none()
    return invite if invite is not None and invite.state == "pending" else None


def accept_invite(session: Session, invite: Invite, *, name: str, password: str) -> tuple[User, Membership]:
    """Join the invite's workspace, creating the account or checking the existing one's password."""
    with tenant_scope(invite.org_id):
        user = find_user(session, invite.email)
        if user is None:
            check_password(password)
            user = User(email=invite.email, name=typed_name(name), password_hash=hash_password(password))
            session.add(user)
            session.flush()
        else:
            try:
                _hasher.verify(user.password_hash, password)
            except (VerificationError, InvalidHashError) as exc:
                raise AccountError("That is not the password of your existing Plixo account.") from exc
        membership = Membership(org_id=invite.org_id, user_id=user.id, role=invite.role)
        invite.accepted_at = utcnow()
        session.add(membership)
        session.flush()
        audit.record(session, org_id=invite.org_id, actor=user, action="accounts.invite_accepted",
                     subject=membership, after={"email": user.email, "role": invite.role})
        session.flush()
    return user, membership


def revoke_invite(session: Session, *, invite: Invite, actor: User) -> None:
    """Make a pending invite link unusable."""
    if invite.state != "pending":
        raise AccountError(f"This invite is already {invite.state}.")
    invite.revoked_at = utcnow()
    audit.record(session, org_id=invite.org_id, actor=actor, action="accounts.invite_revoked", subject=invite,
                 before={"email": invite.email, "role": invite.role})


def _active_controllers(session: Session) -> int:
    # Locked, so two controllers demoting each other at once cannot both pass the check.
    return len(session.scalars(
        select(Membership.id).where(Membership.role == "controller", Membership.is_active.is_(True))
        .with_for_update()
    ).all())


def _ensure_controller_remains(session: Session, membership: Membership) -> None:
    if membership.role == "controller" and membership.is_active and _active_controllers(session) <= 1:
        raise AccountError("A workspace needs at least one active Controller. Make someone else Controller first.")


def change_role(session: Session, *, membership: Membership, role: str, actor: User, reason: str = "") -> None:
    """Give a member another role."""
    if role not in ROLES:
        raise AccountError("Choose a role.")
    if role == membership.role:
        return
    if role != "controller":
        _ensure_controller_remains(session, membership)
    before = {"role": membership.role, "weekly_digest": membership.weekly_digest}
    membership.role = role
    if not role_can(role, "digest.receive"):
        membership.weekly_digest = False  # a role without the console's figures stops receiving them at once
    audit.record(session, org_id=membership.org_id, actor=actor, action="accounts.role_changed",
                 subject=membership, before=before, after={"role": role, "weekly_digest": membership.weekly_digest},
                 reason=reason)


def deactivate_member(session: Session, *, membership: Membership, actor: User, reason: str = "") -> None:
    """Remove a member's access to this workspace; their history stays."""
    if membership.user_id == actor.id:
        raise AccountError("You cannot deactivate yourself.")
    if not membership.is_active:
        raise AccountError("This member is already deactivated.")
    _ensure_controller_remains(session, membership)
    membership.is_active = False
    membership.deactivated_at = utcnow()  # their next request in this workspace finds no active membership
    audit.record(session, org_id=membership.org_id, actor=actor, action="accounts.member_deactivated",
                 subject=membership, before={"active": True}, after={"active": False}, reason=reason)


def reactivate_member(session: Session, *, membership: Membership, actor: User) -> None:
    """Give a deactivated member their access back, with the same role."""
    if membership.is_active:
        raise AccountError("This member is already active.")
    membership.is_active = True
    membership.deactivated_at = None
    audit.record(session, org_id=membership.org_id, actor=actor, action="accounts.member_reactivated",
                 subject=membership, before={"active": False}, after={"active": True})


@cache
def _active_memberships_query():
    # Built once: every signed-in request runs it.
    return (select(Membership, Organization).join(Organization, Membership.org_id == Organization.id)
            .where(Membership.user_id == bindparam("user_id"), Membership.is_active.is_(True))
            .order_by(Organization.name))


def active_memberships(session: Session, user: User) -> list[tuple[Membership, Organization]]:
    """The user's active memberships with their workspaces, by workspace name (one query)."""
    with unscoped():
        return [tuple(row) for row in session.execute(_active_memberships_query(), {"user_id": user.id})]


def active_membership_in(session: Session, user: User, org_id: int) -> Membership | None:
    """The user's active membership in workspace `org_id`, or None (never another user's)."""
    with tenant_scope(org_id):
        return session.execute(
            select(Membership).where(Membership.user_id == user.id, Membership.is_active.is_(True))
        ).scalar_one_or_none()


def policy_of(session: Session, org_id: int) -> Policy:
    """The workspace's guardrails (every workspace has exactly one row)."""
    return session.scalar(select(Policy).where(Policy.org_id == org_id))
