"""Workspaces, people and their roles, the workspace's policy, and each teammate's notifications."""

from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plixo.model import Base, IdMixin, TenantMixin, TimestampMixin, utcnow


class Organization(IdMixin, TimestampMixin, Base):
    """A workspace: one company's receivables, team and settings."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)  # stable handle for scripts (import-csv --org)
    legal_name: Mapped[str | None] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    base_currency: Mapped[str] = mapped_column(String(3), default="USD")
    brand_color: Mapped[str | None] = mapped_column(String(7))
    logo_path: Mapped[str | None] = mapped_column(String(500))
    remittance_details: Mapped[str | None] = mapped_column(Text)  # how to pay by bank transfer (the payer portal)
    email_signature: Mapped[str | None] = mapped_column(Text)  # signs the e-mails people and Autopilot send
    referral_code: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="trial")  # trial, active, read_only, cancelled


class User(IdMixin, TimestampMixin, UserMixin, Base):
    """A person who signs in; belongs to workspaces through memberships."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    # Bumped on password change or deactivation so old session cookies stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    last_login_at: Mapped[dt.datetime | None]

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class Membership(IdMixin, TenantMixin, TimestampMixin, Base):
    """A user's role in one workspace."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id"),
        Index("ix_memberships_org_role", "org_id", "role"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    deactivated_at: Mapped[dt.datetime | None]
    # The member asked for the weekly digest e-mail (CFOs and controllers only; off when the role changes away).
    weekly_digest: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship(lazy="joined")


class Invite(IdMixin, TenantMixin, TimestampMixin, Base):
    """An invitation for an e-mail address to join a workspace with a role."""

    __tablename__ = "invites"
    __table_args__ = (
        Index("ix_invites_org_email", "org_id", "email"),
        UniqueConstraint("token_hash"),
    )

    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    invited_by: Mapped[User | None] = relationship()

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= utcnow() else "pending"


class Policy(IdMixin, TenantMixin, TimestampMixin, Base):
    """The workspace's guardrails: one row per workspace, applied to every cadence."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("org_id"),)

    tone: Mapped[str] = mapped_column(String(20), default="professional")
    business_hours_start: Mapped[dt.time] = mapped_column(default=dt.time(9, 0))
    business_hours_end: Mapped[dt.time] = mapped_column(default=dt.time(17, 0))
    quiet_hours_start: Mapped[dt.time] = mapped_column(default=dt.time(20, 0))
    quiet_hours_end: Mapped[dt.time] = mapped_column(default=dt.time(8, 0))
    sending_days: Mapped[list] = mapped_column(default=lambda: [0, 1, 2, 3, 4])  # Monday = 0
    daily_cap_per_mailbox: Mapped[int] = mapped_column(default=200)
    daily_cap_per_domain: Mapped[int] = mapped_column(default=500)
    max_touches_per_week: Mapped[int] = mapped_column(default=2)
    min_gap_hours: Mapped[int] = mapped_column(default=48)
    discount_cap_bp: Mapped[int] = mapped_column(default=0)  # basis points of the balance
    credit_approval_minor: Mapped[int] = mapped_column(default=100_000)
    plan_approval_minor: Mapped[int] = mapped_column(default=1_000_000)
    plan_approval_months: Mapped[int] = mapped_column(default=3)
    writeoff_approval_minor: Mapped[int] = mapped_column(default=50_000)
    approver_role: Mapped[str] = mapped_column(String(20), default="controller")


class Notification(IdMixin, TenantMixin, TimestampMixin, Base):
    """Something a teammate should see: an @mention, a decision on their request."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_org_user_read", "org_id", "user_id", "read_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # mention, approval_decided
    text: Mapped[str] = mapped_column(String(300))
    link: Mapped[str | None] = mapped_column(String(300))
    read_at: Mapped[dt.datetime | None]


class SignupRequest(IdMixin, TimestampMixin, Base):
    """A sign-up waiting for its address to be proven: the link e-mailed to it finishes the workspace.

    A request for an address that already has an account gets no link: its owner is told by e-mail instead,
    so the sign-up page never reveals which addresses have accounts.
    """

    __tablename__ = "signup_requests"
    __table_args__ = (UniqueConstraint("token_hash"), Index("ix_signup_requests_email", "email"))

    email: Mapped[str] = mapped_column(String(320))
    known_account: Mapped[bool] = mapped_column(default=False)
    details: Mapped[dict] = mapped_column(default=dict)  # workspace name, person's name, zone, currency, referral
    password_hash: Mapped[str | None] = mapped_column(String(200))
    token_hash: Mapped[str | None] = mapped_column(String(64))  # set when the e-mail with the link is written
    expires_at: Mapped[dt.datetime]
    mailed_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
